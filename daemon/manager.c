/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "enforce/audits.h"
#include "enforce/enforcer.h"
#include "enforce/enforcer-irq.h"
#include "enforce/enforcer-starvation.h"
#include "enforce/enforcer-workload.h"
#include "enforce/tools.h"
#include "base/error.h"
#include "model/finding.h"
#include "base/log.h"
#include "manager.h"
#include "model/partition.h"

/* What is counted, as GetStatus and the metrics show it (ManagerCounter). */
typedef enum CounterId {
        COUNTER_VERIFY,
        COUNTER_APPLY,
        COUNTER_RESUME,
        COUNTER_CPU_EVENT,
        COUNTER_DEVICE_EVENT,
        COUNTER_RESCAN,
        COUNTER_PLACED,
        COUNTER_BOOST,
        _COUNTER_MAX,
} CounterId;

static const struct {
        const char *key, *metric, *help;
} counter_names[_COUNTER_MAX] = {
        [COUNTER_VERIFY] = { "verify_count", "isolatord_verify_passes_total",
                             "Verify passes run (timer, bus and apply)." },
        [COUNTER_APPLY] = { "apply_count", "isolatord_applies_total", "Applies of the partition (Apply, reload, resume)." },
        [COUNTER_RESUME] = { "resume_count", "isolatord_resumes_total",
                             "Resumes from suspend after which the partition was applied again." },
        [COUNTER_CPU_EVENT] = { "cpu_event_count", "isolatord_cpu_events_total",
                                "CPUs that went offline or came online." },
        [COUNTER_DEVICE_EVENT] = { "event_count", "isolatord_device_events_total",
                                   "Device and link events that asked for a rescan." },
        [COUNTER_RESCAN] = { "rescan_count", "isolatord_rescans_total", "Rescans those events cost (bursts coalesce)." },
        [COUNTER_PLACED] = { "placed_count", "isolatord_placements_total",
                             "Processes placed in a group (its slice, CPUs and scheduling)." },
        [COUNTER_BOOST] = { "boost_count", "isolatord_starvation_boosts_total",
                            "Threads starving on an audio CPU that the starvation guard boosted." },
};

/* A periodic pass takes the IRQ handler names kept from the last pass for the IRQs whose
 * affinity reads as it did then, without looking at their folders (one fstat each: a
 * fifth of a steady pass's system calls on a server). Handlers come with a device
 * (a uevent forgets the names), a link going up (the next pass looks) or a resume (an
 * apply looks); every Nth periodic pass looks at every folder all the same, for a
 * driver that asks for its IRQ when a program opens it. Verify calls always look. */
#define IRQ_NAMES_LOOK_EVERY 10

struct Manager {
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
        ManagerCounter counters[_COUNTER_MAX];
        uint64_t last_verify_usec;  /* CLOCK_REALTIME */
        int64_t last_pass_mono_usec; /* CLOCK_MONOTONIC, of the last verify or observe */
        bool last_pass_repaired;
        char *runtime_dir;
        int lock_fd;                /* runtime_dir/lock, held while this manager lives */
        Originals *originals;
        GPtrArray *originals_findings; /* Finding*: saved originals set aside or refused at start */
        void **enforcer_states;     /* parallel to enforcers[] */
        GHashTable **refusals;      /* parallel to enforcers[]: what the kernel refused, said once */
        void **check_states;        /* parallel to audit_checks[] */
        IrqNames *irq_names;        /* handler names between the passes' IRQ scans */
        unsigned names_trusted;     /* periodic passes since one looked at every IRQ's folder */
        RunningTools *tools;        /* conflicting tools, as the last pass found them */
        EventSink sink;             /* what enforcers emit to: logged, counted, passed on */
        EventSink listener;         /* who hears of events (the bus) */
        ManagerChanged changed;     /* who hears where the state changed */
        void *changed_userdata;
        ManagerStatus status;       /* what manager_status() last gave */
        GArray *drift_list;         /* DriftCount, for status */
        GHashTable *bus_names;      /* well-known names on the system bus, NULL until the bus says */
        GHashTable *rewrites;       /* "kind object" -> drift corrections of it (at most REWRITES_MAX) */
        Latency *latency;           /* the sampler, the attribution, the noise and the spikes */
        CpuMask host_online;         /* the real CPUs online, as it started */
        int sampler_event_fd;       /* poked by sampler threads; outlives restarts */
        int trace_poll_fd;          /* epoll of the trace rings, readable when one fills; outlives them */
        GPtrArray *irq_report;      /* IrqReport*: what GetIrqs and the metrics read, at most a second old */
        int64_t irq_report_at;
        GPtrArray *workload_report; /* Workload*: GetWorkloads */
};

static void count(Manager *m, CounterId id, uint64_t n) {
        m->counters[id].value += n;
}

/* The listener hears of a change where it happens. */
static void changed(Manager *m, unsigned what) {
        if (what && m->changed)
                m->changed(what, m->changed_userdata);
}

static void stop_enforcers(Manager *m);

static void set_state(Manager *m, ManagerState state) {
        bool held = m->state == MANAGER_ACTIVE || m->state == MANAGER_DEGRADED;
        if (m->state == state)
                return;
        m->state = state;
        /* What is temporary (a boost) ends with the partition. */
        if (held && state != MANAGER_ACTIVE && state != MANAGER_DEGRADED)
                stop_enforcers(m);
        changed(m, MANAGER_CHANGED_STATE);
}

void manager_set_changed(Manager *m, ManagerChanged fn, void *userdata) {
        m->changed = fn;
        m->changed_userdata = userdata;
}

int manager_sampler_fd(const Manager *m) {
        return m->sampler_event_fd;
}

int manager_trace_fd(const Manager *m) {
        return m->trace_poll_fd;
}

static int compare_drift(gconstpointer a, gconstpointer b) {
        return strcmp(((const DriftCount *) a)->kind, ((const DriftCount *) b)->kind);
}

uint64_t manager_counter(const ManagerStatus *st, const char *key) {
        for (size_t i = 0; i < st->n_counters; i++)
                if (g_str_equal(st->counters[i].key, key))
                        return st->counters[i].value;
        return 0;
}

static PassInputs event_inputs(const Manager *m);
static EnforcerContext context_of(const Manager *m, const EnforcerOps *ops, const PassInputs *inputs);
static bool applied(const Manager *m);

/* The guard as the last pass decided, and whether the partition is held at all. */
static const char *starvation_text(const Manager *m) {
        g_auto(PassInputs) inputs = event_inputs(m);
        EnforcerContext ctx = context_of(m, &enforcer_starvation, &inputs);
        return applied(m) ? starvation_guard_state(&ctx) : "off: the partition is not applied";
}

const ManagerStatus *manager_status(Manager *m) {
        ManagerStatus *st = &m->status;
        GHashTableIter it;
        gpointer key, value;

        g_array_set_size(m->drift_list, 0);
        g_hash_table_iter_init(&it, m->drift_by_kind);
        while (g_hash_table_iter_next(&it, &key, &value))
                g_array_append_val(m->drift_list, ((DriftCount) { key, *(uint64_t *) value }));
        g_array_sort(m->drift_list, compare_drift);
        *st = (ManagerStatus) {
                .state = m->state,
                .config = m->config,
                .topology = m->topology,
                .audits = m->audits,
                .findings = m->findings,
                .required_findings = findings_count_required(m->findings),
                .drift_corrections = m->drift_corrections,
                .drift_by_kind = m->drift_list,
                .counters = m->counters,
                .n_counters = _COUNTER_MAX,
                .last_verify_usec = m->last_verify_usec,
                .last_pass_mono_usec = m->last_pass_mono_usec,
                .last_pass_repaired = m->last_pass_repaired,
                .root = m->root,
                .root_dir = root_dir(m->root),
                .config_path = m->config_path,
                .runtime_dir = m->runtime_dir,
                .dry_run = m->dry_run,
                .saved_originals = originals_count(m->originals),
                .sampling = latency_sampler(m->latency) != NULL,
                .starvation_guard = starvation_text(m),
                .attribution = latency_attribution(m->latency),
        };
        Sampler *sampler = latency_sampler(m->latency);
        if (sampler) {
                const char *why = sampler_memory_not_locked(sampler);
                st->latency_exceeded = sampler_exceeded_total(sampler);
                st->latency_threshold_us = sampler_options(sampler)->threshold_us;
                st->sampler_source = sampler_source(sampler);
                st->sampler_memory = why ? why : "locked";
        }
        return st;
}

const char *manager_state_to_string(ManagerState s) {
        switch (s) {
        case MANAGER_INACTIVE: return "inactive";
        case MANAGER_ACTIVE: return "active";
        case MANAGER_DEGRADED: return "degraded";
        case MANAGER_REVERTED: return "reverted";
        }
        return "unknown";
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static EnforcerContext manager_context(const Manager *m, void *state, GHashTable *refusals, const PassInputs *inputs) {
        return (EnforcerContext) {
                .root = m->root,
                .host = m->host,
                .cgroups = m->cgroups,
                .config = m->config,
                .topology = m->topology,
                .audits = m->audits,
                .dry_run = m->dry_run,
                .originals = m->originals,
                .state = state,
                .events = &m->sink,
                .inputs = inputs,
                .refusals = refusals,
        };
}

/* Enforcer i's view. */
static EnforcerContext enforcer_context(const Manager *m, size_t i, const PassInputs *inputs) {
        return manager_context(m, m->enforcer_states[i], m->refusals[i], inputs);
}

/* What an event knows: the processes, read when first asked. */
static PassInputs event_inputs(const Manager *m) {
        return (PassInputs) { .root = m->root, .rewrites = m->rewrites };
}

/* Objects whose corrections are counted; past it the count starts over (a long-running
 * daemon with churning IRQ numbers). */
#define REWRITES_MAX 4096
#define BUS_NAMES_MAX 4096

void manager_bus_name(Manager *m, const char *name, bool owned) {
        if (!m->bus_names)
                m->bus_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (!name || name[0] == ':')
                return; /* unique names say nothing of who runs */
        if (!owned)
                g_hash_table_remove(m->bus_names, name);
        else if (g_hash_table_size(m->bus_names) < BUS_NAMES_MAX)
                g_hash_table_add(m->bus_names, g_strdup(name));
}

/* A correction of the same object again, while a tool that rewrites its kind runs: the
 * event and the log say whose fight it is. NULL when it is not one. */
static Finding *fight_of(Manager *m, const Finding *f) {
        g_autofree char *key = g_strdup_printf("%s %s", f->kind, f->object);
        unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(m->rewrites, key)) + 1;
        const char *who;

        if (g_hash_table_size(m->rewrites) >= REWRITES_MAX && n == 1)
                g_hash_table_remove_all(m->rewrites);
        g_hash_table_replace(m->rewrites, g_steal_pointer(&key), GUINT_TO_POINTER(n));
        who = tools_fighting(m->tools, f->kind);
        if (n < 2 || !who)
                return NULL;
        g_autofree char *msg = g_strdup_printf("%s; re-written %u times: %s is running and rewrites it "
                                               "(isoctl verify: its finding and fix)", f->message, n, who);
        return finding_new(f->kind, f->object, f->expected, f->actual, f->required, msg);
}

/* Every event the enforcers and the sampler report: logged and counted here, then
 * handed to the listener (the bus). */
static void on_event(const Event *e, void *userdata) {
        Manager *m = userdata;
        g_autoptr(Finding) fight = NULL;
        Event named;

        switch (e->kind) {
        case EVENT_DRIFT_CORRECTED: {
                uint64_t *n = g_hash_table_lookup(m->drift_by_kind, e->finding->kind);
                if (!n) {
                        n = g_new0(uint64_t, 1);
                        g_hash_table_insert(m->drift_by_kind, g_strdup(e->finding->kind), n);
                }
                (*n)++;
                m->drift_corrections++;
                changed(m, MANAGER_CHANGED_DRIFT);
                fight = fight_of(m, e->finding);
                if (fight) {
                        named = *e;
                        named.finding = fight;
                        e = &named;
                }
                log_notice("drift repaired: %s %s was %s, is %s again%s%s", e->finding->kind, e->finding->object,
                           e->finding->actual, e->finding->expected, fight ? " — " : "", fight ? fight->message : "");
                break;
        }
        case EVENT_IRQ_PINNED: {
                g_autofree char *list = cpumask_format_list(e->cpus);
                log_info("IRQ %u %s pinned to CPUs %s", e->irq, e->name, list);
                break;
        }
        case EVENT_WORKLOAD_PLACED:
                count(m, COUNTER_PLACED, 1);
                break;
        case EVENT_LATENCY_EXCEEDED:
        case EVENT_LATENCY_EXPLAINED:
                break;
        case EVENT_THREAD_BOOSTED:
                count(m, COUNTER_BOOST, 1); /* the guard logs it, once a minute a thread */
                break;
        }
        if (m->listener.emit)
                m->listener.emit(e, m->listener.userdata);
}

void manager_set_listener(Manager *m, const EventSink *listener) {
        m->listener = listener ? *listener : (EventSink) {};
}

static GPtrArray *workloads_of(void *userdata) {
        return manager_workloads(userdata);
}

/* An IRQ fired on an audio CPU: the IRQ enforcer looks at it now (a drifted one is put
 * back at once rather than at the next pass). */
static void irq_seen(unsigned irq, void *userdata) {
        manager_event(userdata, &(Trigger) { .kind = TRIGGER_IRQ, .irq = irq });
}

/* What the latency side needs of the manager, as it is now. */
/* The timerlat tracer's global settings, written as every enforcer writes: the original
 * saved (and on disk) first, so that a revert after a crash puts it back too. */
static int write_saved(const char *rel, const char *value, void *userdata) {
        Manager *m = userdata;
        g_auto(PassInputs) inputs = event_inputs(m);
        EnforcerContext ctx = enforcer_context(m, 0, &inputs);
        EnforcerWrite w = { .rel = (char *) rel, .value = (char *) value };
        int result = 0;
        int r = enforcer_write_batch(&ctx, &w, 1, &result);
        return r < 0 ? r : result;
}

/* ... and put back when the tracer stops, the original then forgotten. */
static void restore_saved(const char *rel, void *userdata) {
        Manager *m = userdata;
        g_autoptr(GError) e = NULL;
        const char *value = originals_get(m->originals, rel);
        if (!value)
                return; /* never taken, or a revert put it back already */
        g_auto(PassInputs) inputs = event_inputs(m);
        EnforcerContext ctx = enforcer_context(m, 0, &inputs);
        int r = enforcer_restore(&ctx, rel, value);
        if (r < 0 && r != -ENOENT) {
                log_warning_errno(r, "cannot restore %s to \"%s\" (kept for a revert): %m", rel, value);
                return;
        }
        g_autoptr(GHashTable) restored = g_hash_table_new(g_str_hash, g_str_equal);
        g_hash_table_add(restored, (char *) rel);
        if (originals_forget(m->originals, restored, &e) < 0)
                log_warning("%s", e->message);
}

static LatencyEnv latency_env(Manager *m) {
        return (LatencyEnv) {
                .config = m->config, .root = m->root, .host = m->host, .host_online = m->host_online,
                .event_fd = m->sampler_event_fd, .trace_poll_fd = m->trace_poll_fd, .findings = m->findings,
                .workloads = workloads_of, .userdata = m,
                .sink = &m->sink, .irq_seen = irq_seen, .dry_run = m->dry_run,
                .writer = { .write_saved = write_saved, .restore = restore_saved, .userdata = m },
        };
}

void manager_latency_check(Manager *m) {
        LatencyEnv env = latency_env(m);
        latency_check(m->latency, &env);
}

void manager_latency_drain(Manager *m) {
        struct epoll_event ev[16];
        /* Taken off the epoll's ready list (a ring's readiness clears as it is polled);
         * rings past the sixteenth wake the loop once more, to the same drain of all. */
        (void) epoll_wait(m->trace_poll_fd, ev, G_N_ELEMENTS(ev), 0);
        latency_drain(m->latency);
}

const char *manager_default_runtime_dir(void) {
        static char *dir;
        if (!dir) {
                /* systemd may list several folders, separated by ':'. */
                const char *env = g_getenv("RUNTIME_DIRECTORY");
                dir = env && *env ? g_strndup(env, strcspn(env, ":")) : g_strdup("/run/isolatord");
        }
        return dir;
}

/* One enforcer's view, for the calls that concern a single domain. */
static EnforcerContext context_of(const Manager *m, const EnforcerOps *ops, const PassInputs *inputs) {
        for (size_t i = 0; enforcers[i]; i++)
                if (enforcers[i] == ops)
                        return enforcer_context(m, i, inputs);
        g_assert_not_reached();
}

static bool partition_ok(const Manager *m) {
        return diagnostics_count(m->diagnostics, DIAG_ERROR) == 0;
}

/* Whether the partition cannot be held at all. A group CPU that goes offline while the
 * partition is applied does not end it: the rest is kept, the offline CPU is a required
 * finding (degraded), and its share is applied again when it comes back. Offline before
 * the first apply, it is an error like any other. */
static bool partition_blocks(const Manager *m) {
        bool held = m->state == MANAGER_ACTIVE || m->state == MANAGER_DEGRADED;
        for (unsigned i = 0; i < m->diagnostics->len; i++) {
                const Diagnostic *d = m->diagnostics->pdata[i];
                if (d->severity == DIAG_ERROR && !(held && g_str_equal(d->rule, "cpu-offline")))
                        return true;
        }
        return false;
}

/* The online CPUs read again (one file); when they changed, the topology is read whole
 * and the partition validated against it. True when something changed. */
static bool refresh_online(Manager *m) {
        g_autoptr(GError) e = NULL;
        CpuMask online;
        Topology *t = NULL;

        if (root_read_cpulist(m->root, "sys/devices/system/cpu/online", &online) < 0)
                return false;
        cpumask_and(&online, &online, &m->topology->possible);
        if (cpumask_equal(&online, &m->topology->online))
                return false;
        if (topology_load(m->root, &t, &e) < 0) {
                log_warning("%s", e->message);
                return false;
        }
        CpuMask gone, came;
        cpumask_andnot(&gone, &m->topology->online, &t->online);
        cpumask_andnot(&came, &t->online, &m->topology->online);
        g_autofree char *gone_list = cpumask_format_list(&gone), *came_list = cpumask_format_list(&came);
        log_notice("CPUs changed: %s%s%s%s%s", *gone_list ? "offline " : "", gone_list,
                   *gone_list && *came_list ? ", " : "", *came_list ? "online " : "", came_list);
        topology_free(m->topology);
        m->topology = t;
        g_ptr_array_unref(m->diagnostics);
        m->diagnostics = partition_validate(m->config, m->topology);
        return true;
}

static bool applied(const Manager *m) {
        return m->state == MANAGER_ACTIVE || m->state == MANAGER_DEGRADED;
}

/* What a pass or a repair may have changed is read again at the next ask. */
static void report_stale(Manager *m, const EnforcerOps *ops) {
        if (!ops || ops == &enforcer_irq)
                g_clear_pointer(&m->irq_report, g_ptr_array_unref);
        if (!ops || ops == &enforcer_workload)
                g_clear_pointer(&m->workload_report, g_ptr_array_unref);
}

static void reports_stale(Manager *m) {
        report_stale(m, NULL);
}

void manager_event(Manager *m, const Trigger *t) {
        g_auto(PassInputs) inputs = event_inputs(m);
        unsigned repaired = 0;

        assert(m);
        assert(t);
        if (t->kind == TRIGGER_DEVICE || t->kind == TRIGGER_LINK) {
                count(m, COUNTER_DEVICE_EVENT, MAX(t->count, 1u));
                count(m, COUNTER_RESCAN, 1);
        }
        if (t->kind == TRIGGER_CPU) {
                /* The partition is the manager's: validated again, and a partition that
                 * was kept from applying by an offline CPU is applied once it is back. */
                g_autoptr(GError) e = NULL;
                count(m, COUNTER_CPU_EVENT, MAX(t->count, 1u));
                bool was_blocked = m->state == MANAGER_INACTIVE;
                if (!refresh_online(m) && !was_blocked)
                        return;
                if (was_blocked && partition_ok(m)) {
                        log_info("every CPU the partition needs is online: applying it");
                        if (!manager_apply(m, &e))
                                log_warning("%s", e->message);
                } else
                        manager_verify(m);
                return;
        }
        /* Events repair what the partition holds; outside it there is nothing to keep. */
        if (!applied(m))
                return;
        for (size_t i = 0; enforcers[i]; i++)
                if (enforcers[i]->triggers & TRIGGER_BIT(t->kind)) {
                        EnforcerContext ctx = enforcer_context(m, i, &inputs);
                        unsigned n = enforcer_reconcile(&ctx, enforcers[i], t, true, NULL);
                        /* An exit changes what the workloads list without a repair. */
                        if (n > 0 || t->kind == TRIGGER_EXIT)
                                report_stale(m, enforcers[i]);
                        repaired += n;
                }
        if (t->kind == TRIGGER_DEVICE)
                irq_names_forget(m->irq_names); /* a shared IRQ may have gained or lost a handler */
        if (t->kind == TRIGGER_LINK)
                m->names_trusted = IRQ_NAMES_LOOK_EVERY; /* a driver may ask for its IRQs at ifup */
        if (t->kind == TRIGGER_DEVICE || t->kind == TRIGGER_LINK)
                log_debug("rescan for %u event(s): %u change(s)", MAX(t->count, 1u), repaired);
}

bool manager_ticking(Manager *m) {
        g_auto(PassInputs) inputs = event_inputs(m);
        if (!applied(m))
                return false;
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = enforcer_context(m, i, &inputs);
                if (enforcers[i]->ticking && enforcers[i]->ticking(&ctx))
                        return true;
        }
        return false;
}

void manager_tick(Manager *m) {
        g_auto(PassInputs) inputs = event_inputs(m);
        int64_t now = g_get_monotonic_time();
        if (!applied(m))
                return;
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = enforcer_context(m, i, &inputs);
                if (enforcers[i]->tick && enforcers[i]->ticking(&ctx))
                        enforcers[i]->tick(&ctx, now);
        }
}

static void stop_enforcers(Manager *m) {
        g_auto(PassInputs) inputs = event_inputs(m);
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = enforcer_context(m, i, &inputs);
                if (enforcers[i]->stop)
                        enforcers[i]->stop(&ctx);
        }
}

GPtrArray *manager_irqs(Manager *m) {
        int64_t now = g_get_monotonic_time();
        if (!m->irq_report || now - m->irq_report_at >= G_USEC_PER_SEC) {
                g_auto(PassInputs) inputs = event_inputs(m);
                EnforcerContext ctx = context_of(m, &enforcer_irq, &inputs);
                g_clear_pointer(&m->irq_report, g_ptr_array_unref);
                m->irq_report = irq_report(&ctx);
                m->irq_report_at = now;
        }
        return g_ptr_array_ref(m->irq_report);
}

GPtrArray *manager_workloads(Manager *m) {
        if (!m->workload_report) {
                g_auto(PassInputs) inputs = event_inputs(m);
                EnforcerContext ctx = context_of(m, &enforcer_workload, &inputs);
                m->workload_report = workload_report(&ctx);
        }
        return g_ptr_array_ref(m->workload_report);
}

GPtrArray *manager_watch_dirs(Manager *m) {
        GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
        g_auto(PassInputs) inputs = event_inputs(m);
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = enforcer_context(m, i, &inputs);
                if (!enforcers[i]->watch)
                        continue;
                g_autoptr(GPtrArray) rel = enforcers[i]->watch->dirs(&ctx);
                for (unsigned j = 0; j < rel->len; j++)
                        g_ptr_array_add(dirs, g_strdup(rel->pdata[j]));
        }
        return dirs;
}

bool manager_watch_relevant(const Manager *m, const char *name) {
        for (size_t i = 0; enforcers[i]; i++)
                if (enforcers[i]->watch && (!enforcers[i]->watch->relevant || enforcers[i]->watch->relevant(name)))
                        return true;
        return false;
}

int manager_sampler_start(Manager *m) {
        LatencyEnv env = latency_env(m);
        return latency_sampler_start(m->latency, &env);
}

void manager_sampler_stop(Manager *m) {
        latency_sampler_stop(m->latency);
}

GPtrArray *manager_latency(Manager *m) {
        LatencyEnv env = latency_env(m);
        return latency_stats(m->latency, &env);
}

void manager_latency_reset(Manager *m) {
        latency_reset(m->latency);
}

void manager_noise_tick(Manager *m, uint64_t now_ns) {
        LatencyEnv env = latency_env(m);
        latency_tick(m->latency, &env, now_ns);
}

GPtrArray *manager_noise(Manager *m) {
        return latency_noise(m->latency);
}

GPtrArray *manager_spikes(Manager *m, unsigned n) {
        return latency_spikes(m->latency, n);
}

uint64_t manager_spikes_by_kind(Manager *m, const char *kind) {
        return latency_spikes_by_kind(m->latency, kind);
}

void manager_stop(Manager *m) {
        g_autoptr(GError) e = NULL;
        stop_enforcers(m);
        if (m->state == MANAGER_INACTIVE && m->counters[COUNTER_APPLY].value == 0 && originals_count(m->originals) == 0)
                return; /* never started, nothing of an earlier run left */
        if (!m->config->daemon.restore_on_exit || m->state == MANAGER_REVERTED) {
                /* What the next start needs, without the lines of ended processes. */
                if (!m->dry_run && originals_compact(m->originals, &e) < 0)
                        log_warning("%s", e->message);
                return;
        }
        log_info("RestoreOnExit: restoring the originals");
        if (!manager_revert(m, &e))
                log_warning("%s", e->message);
}

static void add_partition_findings(const Manager *m, GPtrArray *findings) {
        for (unsigned i = 0; i < m->diagnostics->len; i++) {
                const Diagnostic *d = m->diagnostics->pdata[i];
                g_autofree char *cpus = cpumask_format_list(&d->cpus);
                g_autofree char *object = g_strdup_printf("%s%s%s", d->rule, d->group ? " " : "", d->group ? d->group : "");
                g_ptr_array_add(findings, finding_new("partition", object, d->severity == DIAG_ERROR ? "valid" : "",
                                                      cpus, d->severity == DIAG_ERROR, d->message));
        }
}

/* The counters read the rows of the IRQs that may reach the audio CPUs: after a pass
 * that may have moved IRQs, as it left them, not as its scan found them, else every IRQ
 * a first apply moved off the audio CPUs is read every second until the next pass (30 s
 * of the whole file parsed on a server). Only those the scan found there are read again. */
static void irqs_as_left(const Manager *m, GPtrArray *irqs) {
        CpuMask audio;
        config_isolated_cpus(m->config, &audio);
        unsigned words = cpumask_words_used(&audio);
        for (unsigned i = 0; i < irqs->len; i++) {
                Irq *irq = irqs->pdata[i];
                g_autofree char *rel = NULL;
                CpuMask now;
                if (!cpumask_intersects_first(&irq->affinity, &audio, words))
                        continue;
                rel = g_strdup_printf("proc/irq/%u/smp_affinity_list", irq->num);
                if (root_read_cpulist(m->root, rel, &now) >= 0)
                        irq->affinity = now;
        }
}

/* One pass over every domain: repaired first when asked and applied, then observed;
 * periodic is the timer's pass (see IRQ_NAMES_LOOK_EVERY). */
static int pass(Manager *m, bool repair, bool periodic) {
        g_autoptr(GPtrArray) findings = findings_new();

        assert(m);

        refresh_online(m);
        repair = repair && applied(m);
        add_partition_findings(m, findings);
        for (unsigned i = 0; i < m->originals_findings->len; i++) {
                const Finding *f = m->originals_findings->pdata[i];
                g_ptr_array_add(findings, finding_copy(f));
        }
        /* What several read (the processes, every IRQ, the tools running) is read once,
         * before any of them runs; then each domain observed once: what differs is
         * repaired (when asked) or reported; then the audits. */
        g_auto(PassInputs) inputs = event_inputs(m);
        int64_t t0 = g_get_monotonic_time();
        g_auto(GStrv) drivers = config_irq_drivers(m->config);
        bool trust_names = periodic && m->names_trusted + 1 < IRQ_NAMES_LOOK_EVERY;
        m->names_trusted = trust_names ? m->names_trusted + 1 : 0;
        g_autoptr(GPtrArray) irqs = irq_scan_except(m->root, &(IrqScan) { .names = m->irq_names, .drivers = drivers,
                                                                         .trust_names = trust_names });
        int64_t t1 = g_get_monotonic_time();
        running_tools_free(m->tools);
        m->tools = tools_find(m->root, m->config, pass_inputs_tasks(&inputs), m->bus_names);
        log_debug("pass inputs: %u IRQs in %" G_GINT64_FORMAT " us, processes and tools in %" G_GINT64_FORMAT " us",
                  irqs->len, t1 - t0, g_get_monotonic_time() - t1);
        inputs.irqs = irqs;
        inputs.tools = m->tools;
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = enforcer_context(m, i, &inputs);
                int64_t e0 = g_get_monotonic_time();
                enforcer_reconcile(&ctx, enforcers[i], NULL, repair, findings);
                log_debug("pass: %s in %" G_GINT64_FORMAT " us", enforcers[i]->name, g_get_monotonic_time() - e0);
        }
        for (size_t i = 0; audit_checks[i]; i++) {
                EnforcerContext ctx = manager_context(m, m->check_states[i], NULL, &inputs);
                int64_t a0 = g_get_monotonic_time();
                audit_checks[i]->audit(&ctx, findings);
                log_debug("pass: audit %s in %" G_GINT64_FORMAT " us", audit_checks[i]->name, g_get_monotonic_time() - a0);
        }
        if (repair)
                irqs_as_left(m, irqs);
        LatencyEnv env = latency_env(m);
        latency_irqs(m->latency, &env, irqs);
        unsigned before = m->findings->len;
        g_ptr_array_unref(m->findings);
        m->findings = g_steal_pointer(&findings);
        reports_stale(m);
        count(m, COUNTER_VERIFY, 1);
        m->last_verify_usec = now_realtime_usec();
        m->last_pass_mono_usec = g_get_monotonic_time();
        m->last_pass_repaired = repair;

        if (partition_blocks(m))
                set_state(m, MANAGER_INACTIVE);
        else if (m->state != MANAGER_REVERTED && m->state != MANAGER_INACTIVE)
                set_state(m, findings_count_required(m->findings) > 0 ? MANAGER_DEGRADED : MANAGER_ACTIVE);
        changed(m, MANAGER_CHANGED_PASS | (m->findings->len != before ? MANAGER_CHANGED_FINDINGS : 0));
        return 0;
}

int manager_verify(Manager *m) {
        return pass(m, true, false);
}

int manager_verify_periodic(Manager *m) {
        return pass(m, true, true);
}

int manager_observe(Manager *m) {
        return pass(m, false, false);
}

bool manager_apply(Manager *m, GError **error) {
        assert(m);

        if (!partition_ok(m)) {
                const Diagnostic *d = m->diagnostics->pdata[0];
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_PARTITION,
                            "the partition is invalid for this machine, nothing was applied: %s", d->message);
                return false;
        }
        set_state(m, MANAGER_ACTIVE); /* verify applies, then refines it to degraded */
        count(m, COUNTER_APPLY, 1);
        manager_verify(m);
        return true;
}

bool manager_resume(Manager *m) {
        g_autoptr(GError) e = NULL;
        if (!applied(m)) {
                log_info("resumed from suspend; the partition is %s: nothing to apply", manager_state_to_string(m->state));
                return false;
        }
        log_info("resumed from suspend: applying the partition again (firmware may have reset what it holds)");
        count(m, COUNTER_RESUME, 1);
        if (!manager_apply(m, &e)) {
                log_warning("%s", e->message);
                return false;
        }
        return true;
}

/* Validates a configuration against the machine; on errors sets the first one (Overlap
 * or InvalidPartition) and returns false. */
static bool check_partition(const Manager *m, const Config *c, GPtrArray **diags_out, GError **error) {
        g_autoptr(GPtrArray) diags = partition_validate(c, m->topology);
        unsigned errors = diagnostics_count(diags, DIAG_ERROR);

        if (errors > 0) {
                const Diagnostic *d = diags->pdata[0];
                g_set_error(error, ISO_ERROR, g_str_equal(d->rule, "overlap") ? ISO_ERROR_OVERLAP : ISO_ERROR_INVALID_PARTITION,
                            "%s [%s]%s", d->message, d->rule,
                            errors > 1 ? " (and more: isolatord --check-config)" : "");
                return false;
        }
        *diags_out = g_steal_pointer(&diags);
        return true;
}

/* Takes a validated configuration and its diagnostics, and applies it unless reverted. */
/* The groups as the Groups property shows them: "name=cpus@slice;". */
static char *groups_text(const Config *c) {
        GString *s = g_string_new(NULL);
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                g_autofree char *cpus = cpumask_format_list(&g->cpus);
                g_string_append_printf(s, "%s=%s@%s;", g->name, cpus, g->slice);
        }
        return g_string_free(s, false);
}

static bool manager_swap_config(Manager *m, Config *c, GPtrArray *diags, GError **error) {
        g_autofree char *groups_before = groups_text(m->config), *groups_after = groups_text(c);
        unsigned what = (cpumask_equal(&m->config->housekeeping, &c->housekeeping) ? 0 : MANAGER_CHANGED_HOUSEKEEPING) |
                        (g_str_equal(groups_before, groups_after) ? 0 : MANAGER_CHANGED_GROUPS);
        config_free(m->config);
        m->config = c;
        changed(m, what);
        audits_free(m->audits);
        m->audits = audits_new(m->config, m->root);
        g_ptr_array_unref(m->diagnostics);
        m->diagnostics = diags;
        if (m->state == MANAGER_REVERTED) {
                manager_verify(m);
                return true;
        }
        /* A partition that was invalid at start becomes active once a valid one arrives. */
        return manager_apply(m, error);
}

bool manager_reload(Manager *m, GError **error) {
        Config *c = NULL;
        GPtrArray *diags;

        assert(m);
        if (config_load(m->config_path, m->config_must_exist, &c, error) < 0)
                return false;
        if (!check_partition(m, c, &diags, error)) {
                config_free(c);
                return false;
        }
        if (!manager_swap_config(m, c, diags, error))
                return false;
        latency_retry_attribution(m->latency);
        return true;
}

char *manager_state_dropin(Manager *m) {
        return g_strconcat(m->config_path, ".d/99-isolatord-set.conf", NULL);
}

/* Writes the CPUs of every group into the drop-in. All of them, not only the group that
 * moved: the drop-in declares groups, and a file that declares some groups replaces the
 * default ones, so a partial one would lose groups at the next start. */
static bool persist_partition(Manager *m, const Config *c, GError **error) {
        g_autofree char *path = manager_state_dropin(m);
        g_autofree char *dir = g_path_get_dirname(path);
        g_autoptr(GString) data = g_string_new(
                "# Written by isolatord for SetGroupCpus (isoctl set): the CPUs of every group as last set.\n"
                "# It overrides the CPUs= of the files before it; remove it to go back to them.\n");
        g_autoptr(GError) e = NULL;

        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                g_autofree char *list = cpumask_format_list(&g->cpus);
                g_string_append_printf(data, "\n[Group %s]\nCPUs=%s\n", g->name, list);
        }
        if (m->dry_run) {
                log_info("dry run: would write to %s:\n%s", path, data->str);
                return true;
        }
        if (g_mkdir_with_parents(dir, 0755) < 0 || !g_file_set_contents(path, data->str, -1, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot write %s: %s", path,
                            e ? e->message : g_strerror(errno));
                return false;
        }
        return true;
}

bool manager_set_group_cpus(Manager *m, const char *group, const char *cpus, GError **error) {
        GroupConfig *g = NULL;
        GPtrArray *diags;
        Config *c;
        CpuMask set;

        assert(m);
        assert(group);
        assert(cpus);

        for (unsigned i = 0; i < m->config->groups->len; i++)
                if (g_str_equal(((GroupConfig *) m->config->groups->pdata[i])->name, group))
                        g = m->config->groups->pdata[i];
        if (!g) {
                g_autoptr(GString) names = g_string_new(NULL);
                for (unsigned i = 0; i < m->config->groups->len; i++)
                        g_string_append_printf(names, "%s%s", i ? ", " : "", ((GroupConfig *) m->config->groups->pdata[i])->name);
                g_set_error(error, ISO_ERROR, ISO_ERROR_UNKNOWN_GROUP, "no group named \"%.64s\"; the groups are: %s",
                            group, names->str);
                return false;
        }
        if (!cpumask_parse_list_gerror("CPUs", cpus, &set, error))
                return false;
        if (cpumask_is_empty(&set)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST, "group %s needs at least one CPU", group);
                return false;
        }

        c = config_copy(m->config);
        for (unsigned i = 0; i < c->groups->len; i++) {
                GroupConfig *cg = c->groups->pdata[i];
                if (g_str_equal(cg->name, group))
                        cg->cpus = set;
        }
        /* Validate before anything is written: a refused change leaves no trace. */
        if (!check_partition(m, c, &diags, error)) {
                config_free(c);
                return false;
        }
        if (!persist_partition(m, c, error)) {
                config_free(c);
                g_ptr_array_unref(diags);
                return false;
        }
        return manager_swap_config(m, c, diags, error);
}

bool manager_revert(Manager *m, GError **error) {
        g_autoptr(GHashTable) restored = g_hash_table_new(g_str_hash, g_str_equal);
        unsigned failures = 0;

        assert(m);
        /* The timerlat tracer's settings belong to the sampler, which runs apart from the
         * partition: it puts them back as it stops, and takes them again. */
        Sampler *sampler = latency_sampler(m->latency);
        bool timerlat = sampler && g_str_equal(sampler_source(sampler), "timerlat");
        if (timerlat)
                manager_sampler_stop(m);
        g_auto(PassInputs) inputs = event_inputs(m);
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = enforcer_context(m, i, &inputs);
                if (enforcers[i]->revert)
                        enforcers[i]->revert(&ctx);
        }
        /* Newest first: a file saved twice over a crash keeps its oldest value anyway. */
        for (guint i = originals_count(m->originals); i-- > 0;) {
                const char *rel = originals_path(m->originals, i);
                const char *value = originals_value(m->originals, i);
                if (m->dry_run) {
                        log_info("dry run: would restore \"%s\" to %s", value, rel);
                        continue;
                }
                EnforcerContext ctx = enforcer_context(m, 0, &inputs);
                int r = enforcer_restore(&ctx, rel, value);
                if (r >= 0 || r == -ENOENT) /* gone with its device: nothing to restore */
                        g_hash_table_add(restored, (char *) rel);
                else {
                        log_warning_errno(r, "cannot restore %s to \"%s\": %m", rel, value);
                        failures++;
                }
        }
        if (!m->dry_run && (originals_forget(m->originals, restored, error) < 0 ||
                            originals_compact(m->originals, error) < 0))
                return false;
        log_info("reverted: %u original(s) restored", g_hash_table_size(restored));
        for (size_t i = 0; enforcers[i]; i++)
                g_hash_table_remove_all(m->refusals[i]); /* said again should they recur after the next Apply */
        set_state(m, MANAGER_REVERTED);
        if (timerlat)
                manager_sampler_start(m);
        manager_verify(m);
        if (failures > 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO,
                            "%u file(s) could not be restored and keep their saved originals; see the log", failures);
                return false;
        }
        return true;
}

/* systemd ended the job that moves a process into a slice: its placement goes on. */
static void on_moved(pid_t pid, const char *scope, int error, const char *why, void *userdata) {
        Manager *m = userdata;
        if (error < 0)
                log_debug("systemd did not move %d into %s: %s", (int) pid, scope, why);
        manager_event(m, &(Trigger) { .kind = TRIGGER_MOVED, .pid = pid, .name = scope, .error = error });
}

/* The machine the originals belong to: this root, this boot. */
static char *machine_identity(const Root *root) {
        g_autofree char *boot = NULL;
        if (root_read_line(root, "proc/sys/kernel/random/boot_id", &boot) < 0 || !*g_strstrip(boot))
                g_free(g_steal_pointer(&boot)), boot = g_strdup("unknown");
        return g_strdup_printf("root=%s boot=%s", root_dir(root), boot);
}

/* One manager per runtime folder: a second one (a second daemon, a hand-run copy) would
 * read the first's originals mid-write, and its stop would revert the first's partition.
 * The first one's lock holds until it exits, crash included; a dry run writes nothing
 * and takes none. */
static int take_lock(Manager *m, GError **error) {
        g_autofree char *path = g_build_filename(m->runtime_dir, "lock", NULL);
        g_autofree char *holder = NULL;

        if (g_mkdir_with_parents(m->runtime_dir, 0755) < 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot create the runtime folder %s: %s", m->runtime_dir,
                            g_strerror(errno));
                return -errno;
        }
        m->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (m->lock_fd < 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot open %s: %s", path, g_strerror(errno));
                return -errno;
        }
        if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                int err = errno;
                char buf[16] = "";
                ssize_t n = pread(m->lock_fd, buf, sizeof buf - 1, 0);
                holder = n > 0 ? g_strndup(buf, (gsize) n) : g_strdup("?");
                g_strstrip(holder);
                if (err == EWOULDBLOCK)
                        g_set_error(error, ISO_ERROR, ISO_ERROR_IO,
                                    "another isolatord (pid %s) keeps the partition with the runtime folder %s: this one "
                                    "changes nothing and exits",
                                    holder[0] && strspn(holder, "0123456789") == strlen(holder) ? holder : "?",
                                    m->runtime_dir);
                else
                        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot lock %s: %s", path, g_strerror(err));
                return -err;
        }
        g_autofree char *pid = g_strdup_printf("%d\n", (int) getpid());
        if (ftruncate(m->lock_fd, 0) < 0 || pwrite(m->lock_fd, pid, strlen(pid), 0) < 0)
                log_debug("cannot write the pid into %s: %m", path); /* the lock holds anyway */
        return 0;
}

/* Loads the saved originals, and sets aside what cannot be this machine's: a file of
 * another root or boot, and entries no enforcer could have saved. Each is a finding
 * and a warning, never a write and never a reason to stop. */
static int open_originals(Manager *m, GError **error) {
        g_autofree char *identity = machine_identity(m->root);
        g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) e = NULL;
        int r = originals_open(m->runtime_dir, identity, &m->originals, error);
        if (r < 0)
                return r;
        m->originals_findings = findings_new();
        if (originals_set_aside(m->originals)) {
                log_warning("saved originals set aside, never applied here: %s", originals_set_aside(m->originals));
                g_ptr_array_add(m->originals_findings,
                                finding_new("originals", originals_set_aside(m->originals), identity, "another machine",
                                            false, "saved originals of another root or boot were set aside, not restored"));
        }
        originals_filter(m->originals, enforcer_check_original, NULL, rejected);
        for (unsigned i = 0; i < rejected->len; i++) {
                log_warning("saved original refused, never restored: %s", (char *) rejected->pdata[i]);
                g_ptr_array_add(m->originals_findings,
                                finding_new("originals", rejected->pdata[i], "an entry isolatord writes", "refused", false,
                                            "an entry of the saved originals was refused and dropped"));
        }
        if (rejected->len > 0 && !m->dry_run && originals_compact(m->originals, &e) < 0)
                log_warning("%s", e->message);
        return 0;
}

bool manager_new(const ManagerOptions *o, Manager **out, GError **error) {
        g_autoptr(Manager) m = g_new0(Manager, 1);

        m->sampler_event_fd = -1;
        m->trace_poll_fd = -1;
        m->lock_fd = -1;
        assert(o);
        assert(out);

        m->root = root_new(o->root);
        m->host = root_new("/");
        /* The CPUs of this machine, not --root's (another machine's), nor this process's
         * affinity (isolcpus= narrows every process's to housekeeping at boot). */
        if (root_read_cpulist(m->host, "sys/devices/system/cpu/online", &m->host_online) < 0) {
                cpu_set_t allowed;
                if (sched_getaffinity(0, sizeof allowed, &allowed) >= 0)
                        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
                                if (CPU_ISSET(cpu, &allowed))
                                        cpumask_add(&m->host_online, (unsigned) cpu);
        }
        m->cgroups = cgroups_new();
        m->config_path = g_strdup(o->config_path);
        m->config_must_exist = o->config_must_exist;
        m->dry_run = o->dry_run;
        m->findings = findings_new();
        m->state = MANAGER_INACTIVE;
        m->runtime_dir = g_strdup(o->runtime_dir ? o->runtime_dir : manager_default_runtime_dir());
        m->sink = (EventSink) { on_event, m };
        m->latency = latency_new();
        m->drift_by_kind = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        m->irq_names = irq_names_new();
        m->rewrites = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        m->drift_list = g_array_new(false, false, sizeof(DriftCount));
        for (size_t i = 0; i < _COUNTER_MAX; i++)
                m->counters[i] = (ManagerCounter) { counter_names[i].key, counter_names[i].metric, counter_names[i].help, 0 };
        size_t n = 0;
        while (enforcers[n])
                n++;
        m->enforcer_states = g_new0(void *, n + 1);
        m->refusals = g_new0(GHashTable *, n + 1);
        for (size_t i = 0; i < n; i++) {
                if (enforcers[i]->state_new)
                        m->enforcer_states[i] = enforcers[i]->state_new();
                m->refusals[i] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        }
        for (n = 0; audit_checks[n]; n++)
                ;
        m->check_states = g_new0(void *, n + 1);
        for (size_t i = 0; i < n; i++)
                if (audit_checks[i]->state_new)
                        m->check_states[i] = audit_checks[i]->state_new();

        m->sampler_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        m->trace_poll_fd = epoll_create1(EPOLL_CLOEXEC);
        if ((!m->dry_run && take_lock(m, error) < 0) || open_originals(m, error) < 0 || topology_load(m->root, &m->topology, error) < 0 ||
            config_load(m->config_path, m->config_must_exist, &m->config, error) < 0)
                return false;
        m->diagnostics = partition_validate(m->config, m->topology);
        m->audits = audits_new(m->config, m->root);
        cgroups_set_moved(m->cgroups, on_moved, m);
        *out = g_steal_pointer(&m);
        return true;
}

bool manager_start(Manager *m, GError **error) {
        assert(m);
        if (partition_ok(m))
                return manager_apply(m, error);
        log_error("the partition is invalid for this machine; isolatord stays inactive until a valid "
                  "configuration is loaded (isolatord --check-config shows why)");
        manager_verify(m);
        return true;
}

void manager_set_event(Manager *m, sd_event *event) {
        cgroups_set_event(m->cgroups, event);
}

void manager_free(Manager *m) {
        if (!m)
                return;
        /* First, while what it writes through is here: the timerlat tracer's settings go
         * back as the sampler stops. */
        if (m->latency)
                latency_sampler_stop(m->latency);
        root_free(m->root);
        root_free(m->host);
        g_free(m->config_path);
        config_free(m->config);
        audits_free(m->audits);
        topology_free(m->topology);
        if (m->diagnostics)
                g_ptr_array_unref(m->diagnostics);
        if (m->findings)
                g_ptr_array_unref(m->findings);
        for (size_t i = 0; m->enforcer_states && enforcers[i]; i++) {
                if (enforcers[i]->state_free)
                        enforcers[i]->state_free(m->enforcer_states[i]);
                g_hash_table_unref(m->refusals[i]);
        }
        g_free(m->enforcer_states);
        g_free(m->refusals);
        for (size_t i = 0; m->check_states && audit_checks[i]; i++)
                if (audit_checks[i]->state_free)
                        audit_checks[i]->state_free(m->check_states[i]);
        g_free(m->check_states);
        irq_names_free(m->irq_names);
        running_tools_free(m->tools);
        originals_free(m->originals);
        if (m->originals_findings)
                g_ptr_array_unref(m->originals_findings);
        cgroups_free(m->cgroups);
        latency_free(m->latency);
        if (m->bus_names)
                g_hash_table_unref(m->bus_names);
        if (m->rewrites)
                g_hash_table_unref(m->rewrites);
        if (m->drift_by_kind)
                g_hash_table_unref(m->drift_by_kind);
        if (m->sampler_event_fd >= 0)
                close(m->sampler_event_fd);
        if (m->trace_poll_fd >= 0)
                close(m->trace_poll_fd);
        if (m->lock_fd >= 0)
                close(m->lock_fd);
        reports_stale(m);
        if (m->drift_list)
                g_array_unref(m->drift_list);
        g_free(m->runtime_dir);
        g_free(m);
}
