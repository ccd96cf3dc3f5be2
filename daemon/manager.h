/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "enforce/audits.h"
#include "model/config.h"
#include "enforce/enforcer.h"
#include "kernel/noise.h"
#include "kernel/originals.h"
#include "kernel/root.h"
#include "kernel/sampler.h"
#include "latency.h"
#include "model/topology.h"

/* inactive: the partition is invalid for this machine, nothing is applied;
 * active: applied, no required finding; degraded: applied, with required findings;
 * reverted: the originals are restored until the next Apply. */
typedef enum ManagerState {
        MANAGER_INACTIVE,
        MANAGER_ACTIVE,
        MANAGER_DEGRADED,
        MANAGER_REVERTED,
} ManagerState;

typedef struct ManagerOptions {
        const char *root;
        const char *config_path;
        bool config_must_exist;
        bool dry_run;
        const char *runtime_dir;    /* where originals are saved; NULL: manager_default_runtime_dir() */
} ManagerOptions;


/* The daemon's state, without any bus: what the bus adapter, the service and the tests
 * drive. Its changes answer as glib does, true, or false with a GError that names the
 * object. What others read of it is one snapshot (manager_status()); where its state
 * changes it tells one listener (manager_set_changed()). */
typedef struct Manager Manager;

/* A count that GetStatus and the metrics show as they are: adding one is a row in
 * manager.c's table and the line that counts. */
typedef struct ManagerCounter {
        const char *key;            /* GetStatus: "verify_count" */
        const char *metric;         /* Prometheus: "isolatord_verify_passes_total" */
        const char *help;
        uint64_t value;
} ManagerCounter;

typedef struct DriftCount {
        const char *kind;           /* a finding kind ("irq", "cpuset") */
        uint64_t count;
} DriftCount;

/* What the manager shows of itself, valid until it next changes (read it again after
 * any call that may change it). Nothing of it may be changed through it. */
typedef struct ManagerStatus {
        ManagerState state;
        const Config *config;       /* housekeeping, the groups and their CPUs */
        const Topology *topology;   /* the machine, its online CPUs */
        const Audits *audits;       /* boot parameters and kernel build, for this configuration */
        const GPtrArray *findings;  /* Finding*, of the last pass, partition diagnostics first */
        unsigned required_findings;
        uint64_t drift_corrections;
        const GArray *drift_by_kind; /* DriftCount, by kind */
        const ManagerCounter *counters;
        size_t n_counters;
        uint64_t last_verify_usec;  /* CLOCK_REALTIME of the last pass, 0 before one */
        int64_t last_pass_mono_usec; /* CLOCK_MONOTONIC */
        bool last_pass_repaired;
        const Root *root;           /* the machine's files (--root), for the watches of the sources */
        const char *root_dir;       /* the --root folder */
        const char *config_path;
        const char *runtime_dir;    /* the originals, and the requests for the helpers */
        bool dry_run;
        unsigned saved_originals;   /* values saved before isolatord's first writes */
        bool sampling;              /* the latency sampler runs; then: */
        const char *sampler_source; /* "thread" or "timerlat" */
        uint64_t latency_exceeded;  /* samples above the threshold, all CPUs */
        unsigned latency_threshold_us;
        const char *sampler_memory; /* "locked", or why its memory could not be locked */
        const char *starvation_guard; /* "on", or "off: " and why */
        AttributionStatus attribution; /* where the causes of spikes come from */
} ManagerStatus;

const ManagerStatus *manager_status(Manager *m);
/* A counter of the snapshot by its GetStatus key; 0 when there is none. */
uint64_t manager_counter(const ManagerStatus *st, const char *key);

/* What a change touched, for manager_set_changed()'s listener. */
typedef enum ManagerChange {
        MANAGER_CHANGED_STATE = 1u << 0,
        MANAGER_CHANGED_HOUSEKEEPING = 1u << 1,
        MANAGER_CHANGED_GROUPS = 1u << 2,
        MANAGER_CHANGED_FINDINGS = 1u << 3,   /* their count */
        MANAGER_CHANGED_DRIFT = 1u << 4,      /* drift corrections */
        MANAGER_CHANGED_PASS = 1u << 5,       /* a pass ran (its findings, counters) */
} ManagerChange;
typedef void (*ManagerChanged)(unsigned what, void *userdata);
/* The one listener told where the state changes (the service, which hands it on). */
void manager_set_changed(Manager *m, ManagerChanged changed, void *userdata);
/* The eventfd sampler threads poke when a sample exceeds the threshold. */
int manager_sampler_fd(const Manager *m);
/* An epoll readable when a trace ring is half full: manager_latency_drain then reads
 * them before the kernel drops records (a busy audio CPU fills one within a second). */
int manager_trace_fd(const Manager *m);
void manager_latency_drain(Manager *m);

/* The system bus says a well-known name is owned (or no longer is); the first call
 * makes the names known (the conflicting tools are found by them, tools.h). */
void manager_bus_name(Manager *m, const char *name, bool owned);

/* Loads the topology, the configuration and the saved originals; changes nothing. An
 * unreadable or malformed configuration is an error. */
bool manager_new(const ManagerOptions *o, Manager **out, GError **error);
/* Applies the partition (the daemon calls it once it owns its bus name, so that nothing
 * is changed by a daemon nobody can reach). A partition that does not fit the machine is
 * not an error: the manager stays inactive and its findings say why. */
bool manager_start(Manager *m, GError **error);
/* The loop the manager's own connections join (systemd's private bus: moves into
 * slices then end asynchronously, as TRIGGER_MOVED); without one they are waited for. */
void manager_set_event(Manager *m, sd_event *event);
void manager_free(Manager *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Manager, manager_free)

/* While the partition is applied, repairs every domain (a foreign change is corrected,
 * counted and reported as drift); then observes every domain and recomputes findings
 * and state. Reverted or inactive: observes only. */
int manager_verify(Manager *m);
/* The periodic timer's verify: as manager_verify, but it may take the IRQ handler names
 * kept from the last pass (manager.c says when). */
int manager_verify_periodic(Manager *m);
/* The same pass without the repair: observes and reports, changes nothing. */
int manager_observe(Manager *m);
/* Applies every domain, then verifies. ISO_ERROR_INVALID_PARTITION when the partition
 * is invalid for this machine. */
bool manager_apply(Manager *m, GError **error);
/* Re-reads the configuration; when it does not load or its partition is invalid, the
 * old one stays and the error says why. */
bool manager_reload(Manager *m, GError **error);
/* Validated exactly as the configuration is (ISO_ERROR_UNKNOWN_GROUP,
 * ISO_ERROR_INVALID_CPU_LIST, ISO_ERROR_OVERLAP, ISO_ERROR_INVALID_PARTITION), written
 * to the drop-in manager_state_dropin() so that it survives a restart, then applied.
 * Nothing changes when it fails. */
bool manager_set_group_cpus(Manager *m, const char *group, const char *cpus, GError **error);
/* Restores every original value saved before isolatord's first write to each file, and
 * forgets them; the state is "reverted" until the next Apply. */
bool manager_revert(Manager *m, GError **error);

/* The machine woke from suspend (logind's PrepareForSleep(false)): firmware and drivers
 * may have reset IRQ affinities, governors, PM QoS; a partition that was applied is
 * applied again, whole. false when there was none to apply (inactive, reverted). */
bool manager_resume(Manager *m);

/* Who hears of every event (Event, enforcer.h); NULL: nobody. */
void manager_set_listener(Manager *m, const EventSink *listener);
/* A sampler thread saw a sample above the threshold: LatencyExceeded events, at most one
 * a second for each CPU. */
void manager_latency_check(Manager *m);
/* An event source saw something (Trigger, enforcer.h): every enforcer that declared
 * the trigger observes what it names, and repairs it while the partition is applied. */
void manager_event(Manager *m, const Trigger *t);
/* Whether an enforcer has work on a clock now (the starvation guard): the loop then
 * calls manager_tick() every second. Asked again after every pass (MANAGER_CHANGED_PASS)
 * and after every tick. */
bool manager_ticking(Manager *m);
void manager_tick(Manager *m);
/* What GetIrqs and GetWorkloads list (IrqReport*, Workload*), shared by every caller:
 * IRQs for at most a second and until a pass or a repair changes them (a scan of every
 * IRQ costs a tenth of a second on a 256-CPU machine, and callers ask in loops), the
 * workloads until they change. A new reference (g_ptr_array_unref). */
GPtrArray *manager_irqs(Manager *m);
GPtrArray *manager_workloads(Manager *m);
/* The folders (relative to the root) whose changes are a TRIGGER_CGROUP. */
GPtrArray *manager_watch_dirs(Manager *m);
/* Whether an inotify entry name in one of them concerns an enforcer. */
bool manager_watch_relevant(const Manager *m, const char *name);
/* The sampler on the configured CPUs (every group CPU by default). */
int manager_sampler_start(Manager *m);
void manager_sampler_stop(Manager *m);
/* Each CPU's statistics (LatencyStats*, sampler.h); NULL when the sampler is stopped. */
GPtrArray *manager_latency(Manager *m);
/* Statistics and histograms start again (ResetLatency). */
void manager_latency_reset(Manager *m);
/* A new noise reading (the loop takes one a second); rates need two. */
void manager_noise_tick(Manager *m, uint64_t now_ns);
/* Rates over the last second, for every audio CPU (NoiseCpu*): from the tracepoints,
 * or counters; NULL before there are two looks. A new reference. */
GPtrArray *manager_noise(Manager *m);
/* The last n spikes explained (Spike*, 0: every one kept), oldest first; borrowed until
 * the next tick or check. */
GPtrArray *manager_spikes(Manager *m, unsigned n);
/* Spikes kept since the start by the kind of their first cause ("none": nothing found). */
uint64_t manager_spikes_by_kind(Manager *m, const char *kind);

/* [Daemon] RestoreOnExit: reverts when the daemon stops. */
void manager_stop(Manager *m);

/* $RUNTIME_DIRECTORY (its first entry) or /run/isolatord. */
const char *manager_default_runtime_dir(void);

const char *manager_state_to_string(ManagerState s);
/* FILE.d/99-isolatord-set.conf: where SetGroupCpus persists the groups' CPUs. */
char *manager_state_dropin(Manager *m);
