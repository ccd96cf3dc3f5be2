/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "audits.h"
#include "config.h"
#include "enforcer.h"
#include "noise.h"
#include "originals.h"
#include "root.h"
#include "sampler.h"
#include "topology.h"

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


/* The daemon's state, without any bus: what the bus adapter and the tests drive. Its
 * changes answer as glib does, true, or false with a GError that names the object. */
typedef struct Manager {
        Root *root;
        Root *host;                 /* "/": real processes */
        Cgroups *cgroups;
        char *config_path;
        bool config_must_exist;
        bool dry_run;
        Config *config;
        Audits *audits;             /* of config: recomputed when it changes */
        Topology *topology;
        GPtrArray *diagnostics;     /* partition_validate() of config */
        GPtrArray *findings;        /* Finding*, of the last verify, partition diagnostics first */
        ManagerState state;
        uint64_t drift_corrections;
        GHashTable *drift_by_kind;  /* finding kind -> uint64_t*: drift_corrections by kind */
        uint64_t verify_count;
        uint64_t apply_count;       /* applies: Apply, reloads, resumes (not the periodic verify) */
        uint64_t resume_count;      /* resumes from suspend that applied the partition again */
        uint64_t cpu_event_count;   /* CPUs that went offline or came online (udev events) */
        uint64_t last_verify_usec;  /* CLOCK_REALTIME */
        int64_t last_pass_mono_usec; /* CLOCK_MONOTONIC, of the last verify or observe */
        bool last_pass_repaired;
        char *runtime_dir;
        Originals *originals;
        GPtrArray *originals_findings; /* Finding*: saved originals set aside or refused at start */
        void **enforcer_states;     /* parallel to enforcers[] */
        EventSink sink;             /* what enforcers emit to: logged, counted, passed on */
        EventSink listener;         /* who hears of events (the bus) */
        GHashTable *exceeded_sent;  /* cpu + 1 -> when LatencyExceeded was last reported */
        GHashTable *refusals;       /* what the kernel refused, said once (EnforcerContext) */
        GHashTable *bus_names;      /* well-known names on the system bus, NULL until the bus says */
        GHashTable *fighters;       /* finding kind -> tools rewriting it, as the last pass found */
        GHashTable *rewrites;       /* "kind object" -> drift corrections of it (at most REWRITES_MAX) */
        uint64_t event_count;       /* device and link events that asked for a rescan */
        uint64_t rescan_count;      /* rescans they cost (bursts coalesce) */
        Sampler *sampler;           /* NULL when stopped */
        CpuMask host_cpus;           /* the real CPUs this process may use, as it started */
        int sampler_event_fd;       /* poked by sampler threads; outlives restarts */
        NoiseReading *noise_before, *noise_after;
} Manager;

/* The system bus says a well-known name is owned (or no longer is); the first call
 * makes the names known (EnforcerContext.bus_names). */
void manager_bus_name(Manager *m, const char *name, bool owned);

/* Loads the topology and the configuration. An unreadable or malformed configuration
 * is an error; a partition that does not fit the machine is not: the manager starts
 * inactive and its findings say why, so that a client can show them. */
bool manager_new(const ManagerOptions *o, Manager **out, GError **error);
void manager_free(Manager *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Manager, manager_free)

/* While the partition is applied, repairs every domain (a foreign change is corrected,
 * counted and reported as drift); then observes every domain and recomputes findings
 * and state. Reverted or inactive: observes only. */
int manager_verify(Manager *m);
/* The same pass without the repair: observes and reports, changes nothing. */
int manager_observe(Manager *m);
/* A pass (one that repaired, with repaired) ended less than a second ago: callers may
 * wait for the next one instead of starting another now. */
bool manager_pass_fresh(const Manager *m, bool repaired);
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
/* What an enforcer lists for the bus (its report: GetIrqs, GetWorkloads). */
GPtrArray *manager_report(Manager *m, const EnforcerOps *ops);
/* The folders (relative to the root) whose changes are a TRIGGER_CGROUP. */
GPtrArray *manager_watch_dirs(Manager *m);
/* Whether an inotify entry name in one of them concerns an enforcer. */
bool manager_watch_relevant(const Manager *m, const char *name);
/* The sampler on the configured CPUs (every group CPU by default). */
int manager_sampler_start(Manager *m);
void manager_sampler_stop(Manager *m);
/* What the sampler tells, for GetStatus: false when it is stopped. memory: "locked", or
 * why its memory could not be locked. */
typedef struct SamplerSummary {
        uint64_t exceeded;      /* samples above the threshold, all CPUs */
        unsigned threshold_us;
        const char *memory;
} SamplerSummary;
bool manager_sampler_summary(const Manager *m, SamplerSummary *out);
/* Each CPU's statistics (LatencyStats*, sampler.h); NULL when the sampler is stopped. */
GPtrArray *manager_latency(Manager *m);
/* Statistics and histograms start again (ResetLatency). */
void manager_latency_reset(Manager *m);
/* A new noise reading (the loop takes one a second); rates need two. */
void manager_noise_tick(Manager *m, uint64_t now_ns);
/* Rates of the last two readings, for every online CPU (NoiseCpu*); NULL before two. */
GPtrArray *manager_noise(Manager *m);

/* [Daemon] RestoreOnExit: reverts when the daemon stops. */
void manager_stop(Manager *m);

/* $RUNTIME_DIRECTORY (its first entry) or /run/isolatord. */
const char *manager_default_runtime_dir(void);

const char *manager_state_to_string(ManagerState s);
/* FILE.d/99-isolatord-set.conf: where SetGroupCpus persists the groups' CPUs. */
char *manager_state_dropin(const Manager *m);
