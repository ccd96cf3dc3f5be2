/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "kernel/cgroup.h"
#include "model/config.h"
#include "model/finding.h"
#include "kernel/originals.h"
#include "kernel/root.h"
#include "model/spike.h"
#include "model/topology.h"
#include "source/trigger.h"

/* What happened, as it happens: the one event type that goes from the enforcers (and
 * the sampler) through the manager, which logs and counts it, to whoever listens (the
 * bus sends each as a signal). Only the fields of its kind are set. */
typedef enum EventKind {
        EVENT_DRIFT_CORRECTED,   /* finding: a foreign change repaired (kind, object, expected, found) */
        EVENT_IRQ_PINNED,        /* irq, name, cpus: an IRQ that appeared or moved was pinned */
        EVENT_WORKLOAD_PLACED,   /* group, pid, comm: a process was placed */
        EVENT_LATENCY_EXCEEDED,  /* cpu, latency_us, threshold_us: at most one a second a CPU */
        EVENT_THREAD_BOOSTED,    /* pid (the thread), comm, cpu, name (how): a starving thread was boosted */
        EVENT_LATENCY_EXPLAINED, /* spike: what ran in a spike's window; at most one a second a CPU */
} EventKind;

typedef struct Event {
        EventKind kind;
        const Finding *finding;
        unsigned irq;
        const char *name;
        const CpuMask *cpus;
        const char *group;
        pid_t pid;
        const char *comm;
        unsigned cpu;
        uint64_t latency_us, threshold_us;
        const Spike *spike;
} Event;

typedef struct EventSink {
        void (*emit)(const Event *e, void *userdata);
        void *userdata;
} EventSink;

typedef struct Audits Audits;
typedef struct RunningTools RunningTools;

/* What a pass knows before any enforcer runs, computed by the manager and handed to
 * every enforcer and audit read-only: none reads what another wrote, so their order
 * does not matter. An event has no IRQ scan and no tools (NULL); the processes are read
 * the first time one asks (pass_inputs_tasks), once for everyone. */
typedef struct PassInputs {
        const Root *root;
        GArray *tasks;              /* Task (task.h) of the root, or NULL until asked */
        const GPtrArray *irqs;      /* Irq* (irq.h): every IRQ, scanned once a pass */
        const RunningTools *tools;  /* conflicting tools running (tools.h) */
        GHashTable *rewrites;       /* "kind object" -> corrections of it (GUINT), read only */
} PassInputs;

/* Every process of the root with its stat (Task, task.h), read once per pass or event. */
const GArray *pass_inputs_tasks(const PassInputs *in);
void pass_inputs_clear(PassInputs *in);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PassInputs, pass_inputs_clear)

/* What an enforcer sees: the machine, the desired partition, the store of originals,
 * what the pass knows, and its own state, which lives as long as the daemon. root is
 * the machine isolatord keeps (--root: a test's generated one), host the real one, where
 * processes are: the proc connector announces real processes whatever root describes. */
typedef struct EnforcerContext {
        const Root *root;
        const Root *host;
        Cgroups *cgroups;
        const Config *config;
        const Topology *topology;
        const Audits *audits;       /* boot parameters and kernel build, once per configuration */
        bool dry_run;
        Originals *originals;
        void *state;
        const EventSink *events;
        const PassInputs *inputs;
        GHashTable *refusals;       /* this enforcer's refusals already said: object -> errno + 1 */
} EnforcerContext;

/* What a refusal by the kernel or the sandbox means, with the fix, for a person:
 * EROFS, EACCES, EPERM, EIO, EINVAL, ENOSPC, EBUSY. NULL for any other errno (not a
 * refusal but a failure: ENOENT, the object went away, is not even that). */
const char *enforcer_refusal(int err);
/* object was refused with err: true the first time, when it is to be said (once, not at
 * every pass); a later success forgets it (enforcer_refusal_clear). */
bool enforcer_refusal_new(const EnforcerContext *ctx, const char *object, int err);
void enforcer_refusal_clear(const EnforcerContext *ctx, const char *object);

/* One difference between the live state and the desired one: what verify reports (the
 * finding), whether apply can act on it, and what apply needs (object: owned by the
 * observation, or NULL). apply marks what it repaired; what stays is reported. */
typedef struct Difference {
        Finding *finding;
        bool repairable;
        bool repaired;
        const void *object;
        int action;          /* the enforcer's own word for what apply must do, when it has several */
} Difference;

/* Appends a Difference taking f; returns it. */
Difference *difference_add(GPtrArray *diffs, Finding *f, bool repairable, const void *object);
GPtrArray *differences_new(void);
/* Each finding (taken; the array keeps NULLs) as a difference apply cannot repair. */
void differences_add_findings(GPtrArray *diffs, GPtrArray *findings);

/* Where an enforcer's "@NAME what" originals come from (a folder it created, a task's
 * affinity, a systemd property): what is not a file's value. */
typedef struct EnforcerOriginals {
        /* Puts one back, saved by enforcer_save_original(). 0, or a negative errno
         * (-ENOENT: gone, nothing to restore). */
        int (*restore)(const EnforcerContext *ctx, const char *what, const char *value);
        /* NULL when "@NAME what" = value is an entry restore could have saved; else why
         * not (g_free). The saved file is root's but is read back after a crash: an entry
         * naming a path outside what the enforcer writes is never restored. */
        char *(*check)(const char *what, const char *value);
} EnforcerOriginals;

/* Folders (relative to the root) whose changes are an enforcer's TRIGGER_CGROUP. */
typedef struct EnforcerWatch {
        GPtrArray *(*dirs)(const EnforcerContext *ctx);
        /* Whether an inotify entry name in one of them concerns it (NULL: every one). */
        bool (*relevant)(const char *name);
} EnforcerWatch;

/* One domain of the live system (IRQs, cpusets, kernel threads...), all with the same
 * shape, so that a pass and an event are the same three steps:
 * - observe: one scan of the live state, of everything (scope NULL: a pass) or of what
 *   the trigger names; what an event reports is observed too (an exit forgets a
 *   process). NULL when the enforcer reads nothing (its diff works from its state).
 * - diff: the differences of that observation from the desired state (Difference*).
 *   A pass that only observes (Verify by a user) reports them all.
 * - apply: repairs the repairable ones, saving each original before its first write,
 *   and marks each repaired, or replaces its finding by what the kernel said.
 * Originals are restored by the manager from the store; revert forgets what the
 * enforcer knew of its own writes, and may move its originals to the objects they
 * belong to now (NULL when it keeps nothing). apply returns 0 or a negative errno for a
 * failure of the enforcer itself (a kernel file that refuses a value is a finding, not
 * a failure).
 * Adding an enforcer is adding a file and a row in enforcer.c's table, its events
 * included: triggers says which concern it, watch what they need watched. */
typedef struct EnforcerOps {
        const char *name;
        unsigned triggers;                /* TRIGGER_BIT()s of the events that concern it */
        void *(*state_new)(void);
        void (*state_free)(void *state);
        void *(*observe)(const EnforcerContext *ctx, const Trigger *scope);
        void (*observation_free)(void *observation);
        void (*diff)(const EnforcerContext *ctx, const void *observation, GPtrArray *diffs);
        int (*apply)(const EnforcerContext *ctx, const void *observation, GPtrArray *diffs);
        int (*revert)(const EnforcerContext *ctx);
        const EnforcerOriginals *originals; /* NULL: it saves file values only */
        const EnforcerWatch *watch;       /* NULL: it watches no folder */
        /* Work on a clock, for what neither an event announces nor a pass sees in time (a
         * thread starving behind a real-time one): while the partition is applied, tick is
         * called every second as long as ticking says so. stop ends what is temporary
         * when the partition is no longer held (inactive, reverted) or the daemon stops.
         * NULL: none. */
        bool (*ticking)(const EnforcerContext *ctx);
        void (*tick)(const EnforcerContext *ctx, int64_t now_usec);
        void (*stop)(const EnforcerContext *ctx);
} EnforcerOps;

/* An audit reads what the kernel and the machine say and reports it; it never writes.
 * The boot parameters, the kernel build, the audio checklist. */
typedef struct AuditOps {
        const char *name;
        void *(*state_new)(void);
        void (*state_free)(void *state);
        void (*audit)(const EnforcerContext *ctx, GPtrArray *findings);
} AuditOps;

/* One observe, diff and (with repair) apply of an enforcer, scoped to a trigger or
 * not; the differences not repaired are appended to findings when it is not NULL.
 * Returns how many differences were repaired. */
unsigned enforcer_reconcile(const EnforcerContext *ctx, const EnforcerOps *ops, const Trigger *scope, bool repair,
                            GPtrArray *findings);

/* Tells the manager what happened (a no-op without one). */
void enforcer_emit(const EnforcerContext *ctx, const Event *e);

/* NULL-terminated; their order does not matter (PassInputs). */
extern const EnforcerOps *const enforcers[];
extern const AuditOps *const audit_checks[];

extern const AuditOps audit_boot_params;
extern const AuditOps audit_kernel_config;
extern const AuditOps audit_checklist;
extern const EnforcerOps enforcer_irq;
extern const EnforcerOps enforcer_netdev;
extern const EnforcerOps enforcer_cpuset;
extern const EnforcerOps enforcer_workload;
extern const EnforcerOps enforcer_kthread;
extern const EnforcerOps enforcer_cpufreq;
extern const EnforcerOps enforcer_pm_qos;
extern const EnforcerOps enforcer_tunables;
extern const EnforcerOps enforcer_conflicts;
extern const EnforcerOps enforcer_starvation;

/* Saves an original that is not a file's value, once, under "@OPS->NAME what", and
 * flushes the store: call it before the change. -EIO when it could not be saved, and
 * then the change must not be made. */
int enforcer_save_original(const EnforcerContext *ctx, const EnforcerOps *ops, const char *what, const char *value);
/* The same for n entries, with one write of the store. */
int enforcer_save_originals(const EnforcerContext *ctx, const EnforcerOps *ops, size_t n, const char *const *whats,
                            const char *const *values);
/* Moves saved originals (full keys: "proc/irq/25/smp_affinity_list", "@irq name 25") to
 * new keys, or drops them (moves maps a key to NULL): what was saved of a device whose
 * number or name the kernel changed since (a resume renumbers IRQs, udev renames a
 * link) goes with the device, and is never written to another. One flush. */
int enforcer_move_originals(const EnforcerContext *ctx, GHashTable *moves);
/* NULL when a saved original (a file's value, or an "@" entry) is one isolatord could
 * have saved; else why not (g_free). An OriginalsCheck. */
char *enforcer_check_original(const char *key, const char *value, void *unused);
/* "KIND PID START COMM", the shape of a task's saved entry: a task is its pid and its
 * start time together (task.h), so an entry never reaches a process that took the pid
 * later. false when what is not one. */
bool enforcer_parse_task_entry(const char *what, char **kind, pid_t *pid, uint64_t *start_time, char **comm);
char *enforcer_task_entry(const char *kind, pid_t pid, uint64_t start_time, const char *comm);
/* A relative path, without "..", under the folders isolatord writes. */
bool enforcer_path_writable(const char *rel);
/* Restores one saved original (a file's value, or an "@" entry through its enforcer). */
int enforcer_restore(const EnforcerContext *ctx, const char *key, const char *value);

/* Writes a batch of kernel files: remembers each original first (one flush to disk for
 * the batch), then writes; the original of a write that did not take is forgotten again
 * (nothing changed, nothing to restore). In a dry run it only logs. results[i] is 0 or
 * the negative errno of writes[i]; returns a negative errno only when the originals
 * could not be saved, and then nothing is written. */
typedef struct EnforcerWrite {
        char *rel;
        char *value;
} EnforcerWrite;
int enforcer_write_batch(const EnforcerContext *ctx, const EnforcerWrite *writes, size_t n, int *results);
