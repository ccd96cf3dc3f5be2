/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "build-config.h"
#include "bus-error.h"
#include "bus.h"
#include "bootline-runner.h"
#include "kernel/bootloader.h"
#include "model/bootline.h"
#include "enforce/enforcer-workload.h"
#include "enforce/workload-threads.h"
#include "kernel/task.h"
#include "enforce/enforcer-irq.h"
#include "model/kconfig.h"
#include "base/log.h"
#include "metrics.h"
#include "model/partition.h"
#include "model/plan.h"
#include "passes.h"
#include "read-pace.h"
#include "base/sd-glib.h"

/* Verify calls a user that is not root may have waiting for a pass (the XML says so);
 * root's are not counted. */
#define VERIFY_WAITING 4
/* Verify answers sent in one go; more wait for the next turn of the loop. */
#define VERIFY_SLICE 64

typedef struct VerifyCall {
        sd_bus_message *msg;
        uid_t uid;
} VerifyCall;

/* The waiting Verify calls one pass answers, and that pass's answer built once. */
typedef struct VerifyBatch {
        sd_bus_message *answer;       /* sealed; NULL when it could not be built */
        GPtrArray *calls;             /* VerifyCall* */
        unsigned sent;
} VerifyBatch;

struct Bus {
        sd_bus *bus;
        sd_bus_slot *slot;
        Manager *manager;
        Auth *auth;
        Passes *passes;               /* Verify */
        ReadPace *reads;              /* GetIrqs, GetNoise, GetMetrics, GetBootLoader */
        GPtrArray *verify_waiting;    /* VerifyCall*: for the next pass */
        GHashTable *verify_by_uid;    /* uid -> its Verify calls not answered yet */
        bool verify_asked;            /* the passes were asked for that pass */
        bool verify_asked_repair;     /* ... by root: it repairs */
        GQueue verify_batches;        /* VerifyBatch*: passes' answers being sent */
        sd_event_source *verify_send; /* deferred: the next slice of them */
        BootLineRunner *bootline;     /* WriteBootParameters, and Revert's share */
        sd_bus_message *bootline_call; /* the call answered when the helper is done */
};

void bus_changed(Bus *b, unsigned what) {
        const char *names[6];
        unsigned n = 0;

        if (what & MANAGER_CHANGED_STATE)
                names[n++] = "State";
        if (what & MANAGER_CHANGED_HOUSEKEEPING)
                names[n++] = "Housekeeping";
        if (what & MANAGER_CHANGED_GROUPS)
                names[n++] = "Groups";
        if (what & MANAGER_CHANGED_FINDINGS)
                names[n++] = "FindingsCount";
        if (what & MANAGER_CHANGED_DRIFT)
                names[n++] = "DriftCorrections";
        names[n] = NULL;
        if (n == 0)
                return;
        int r = sd_bus_emit_properties_changed_strv(b->bus, BUS_PATH, BUS_INTERFACE, (char **) names);
        if (r < 0)
                log_warning_errno(r, "cannot send PropertiesChanged: %m");
}

static int emit_explained(Bus *b, const Spike *spike);

/* Every event the manager reports, as a signal. */
static void on_event(const Event *e, void *userdata) {
        Bus *b = userdata;
        g_autofree char *list = e->cpus ? cpumask_format_list(e->cpus) : NULL;
        const char *member = NULL;
        int r = 0;

        switch (e->kind) {
        case EVENT_DRIFT_CORRECTED:
                member = "DriftCorrected";
                r = sd_bus_emit_signal(b->bus, BUS_PATH, BUS_INTERFACE, member, "sssss", e->finding->kind,
                                       e->finding->object, e->finding->expected, e->finding->actual,
                                       e->finding->message);
                break;
        case EVENT_IRQ_PINNED:
                member = "IrqPinned";
                r = sd_bus_emit_signal(b->bus, BUS_PATH, BUS_INTERFACE, member, "uss", e->irq, e->name, list);
                break;
        case EVENT_WORKLOAD_PLACED:
                member = "WorkloadPlaced";
                r = sd_bus_emit_signal(b->bus, BUS_PATH, BUS_INTERFACE, member, "sus", e->group, (uint32_t) e->pid,
                                       e->comm);
                break;
        case EVENT_LATENCY_EXCEEDED:
                member = "LatencyExceeded";
                r = sd_bus_emit_signal(b->bus, BUS_PATH, BUS_INTERFACE, member, "utt", (uint32_t) e->cpu,
                                       e->latency_us, e->threshold_us);
                break;
        case EVENT_THREAD_BOOSTED:
                break; /* counted (GetStatus boost_count, the metrics) and logged; no signal */
        case EVENT_LATENCY_EXPLAINED:
                member = "LatencyExplained";
                r = emit_explained(b, e->spike);
                break;
        }
        if (r < 0)
                log_warning_errno(r, "cannot send %s: %m", member);
}

/* --- a{sv} helpers --- */

static int append_sv(sd_bus_message *m, const char *key, const char *type, ...) {
        va_list ap;
        int r;

        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', type);
        if (r < 0)
                return r;
        va_start(ap, type);
        r = sd_bus_message_appendv(m, type, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_sv_strv(sd_bus_message *m, const char *key, char **strv) {
        int r = sd_bus_message_open_container(m, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, 's', key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'v', "as");
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(m, strv);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* aa{sv}: one dictionary per item, its fields appended by the callback. */
typedef int (*AppendRecord)(sd_bus_message *m, const void *item);

static int append_records(sd_bus_message *m, const GPtrArray *items, AppendRecord append) {
        int r = sd_bus_message_open_container(m, 'a', "a{sv}");
        for (unsigned i = 0; i < items->len && r >= 0; i++) {
                r = sd_bus_message_open_container(m, 'a', "{sv}");
                if (r >= 0) r = append(m, items->pdata[i]);
                if (r >= 0) r = sd_bus_message_close_container(m);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* A field whose value is itself a list of records (aa{sv} in a variant). */
static int append_sv_records(sd_bus_message *m, const char *key, const GPtrArray *items, AppendRecord append) {
        int r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0) r = sd_bus_message_append_basic(m, 's', key);
        if (r >= 0) r = sd_bus_message_open_container(m, 'v', "aa{sv}");
        if (r >= 0) r = append_records(m, items, append);
        if (r >= 0) r = sd_bus_message_close_container(m);
        if (r >= 0) r = sd_bus_message_close_container(m);
        return r;
}

static int append_group(sd_bus_message *m, const void *item) {
        const GroupConfig *g = item;
        g_autofree char *cpus = cpumask_format_list(&g->cpus);
        const char *policy = sched_policy_to_string(g->sched_policy);
        int r = append_sv(m, "name", "s", g->name);
        if (r >= 0) r = append_sv(m, "cpus", "s", cpus);
        if (r >= 0) r = append_sv(m, "count", "u", cpumask_count(&g->cpus));
        if (r >= 0) r = append_sv(m, "slice", "s", g->slice);
        if (r >= 0) r = append_sv_strv(m, "match", g->match);
        if (r >= 0) r = append_sv(m, "sched_policy", "s", policy ? policy : "");
        if (r >= 0) r = append_sv(m, "sched_priority", "u", (uint32_t) g->sched_priority);
        return r;
}

static int append_finding(sd_bus_message *m, const void *item) {
        const Finding *f = item;
        int r = append_sv(m, "kind", "s", f->kind);
        if (r >= 0) r = append_sv(m, "object", "s", f->object);
        if (r >= 0) r = append_sv(m, "expected", "s", f->expected);
        if (r >= 0) r = append_sv(m, "actual", "s", f->actual);
        if (r >= 0) r = append_sv(m, "required", "b", (int) f->required);
        if (r >= 0) r = append_sv(m, "message", "s", f->message);
        return r;
}

static int append_audit_item(sd_bus_message *m, const void *item) {
        const AuditItem *it = item;
        int r = append_sv(m, "name", "s", it->name);
        if (r >= 0) r = append_sv(m, "expected", "s", it->expected ? it->expected : "");
        if (r >= 0) r = append_sv(m, "actual", "s", it->actual ? it->actual : "");
        if (r >= 0) r = append_sv(m, "present", "b", (int) (it->actual != NULL));
        if (r >= 0) r = append_sv(m, "state", "s", audit_state_to_string(it->state));
        if (r >= 0) r = append_sv(m, "required", "b", (int) it->required);
        if (r >= 0) r = append_sv(m, "reason", "s", it->reason);
        return r;
}

static int append_latency(sd_bus_message *m, const void *item) {
        const LatencyStats *l = item;
        unsigned used = l->hist_max_us;
        while (used > 0 && l->histogram[used - 1] == 0)
                used--; /* trailing empty buckets say nothing */
        int r = append_sv(m, "cpu", "u", (uint32_t) l->cpu);
        if (r >= 0) r = append_sv(m, "measured", "b", (int) l->measured);
        if (r >= 0) r = append_sv(m, "memory_locked", "b", (int) l->memory_locked);
        if (r >= 0) r = append_sv(m, "samples", "t", l->samples);
        if (r >= 0) r = append_sv(m, "min_us", "d", l->min_us);
        if (r >= 0) r = append_sv(m, "avg_us", "d", l->avg_us);
        if (r >= 0) r = append_sv(m, "max_us", "d", l->max_us);
        if (r >= 0) r = append_sv(m, "p50_us", "d", l->p50_us);
        if (r >= 0) r = append_sv(m, "p99_us", "d", l->p99_us);
        if (r >= 0) r = append_sv(m, "p999_us", "d", l->p999_us);
        if (r >= 0) r = append_sv(m, "overflows", "t", l->overflows);
        if (r >= 0) r = append_sv(m, "overruns", "t", l->overruns);
        if (r >= 0) r = append_sv(m, "exceeded", "t", l->exceeded);
        if (r >= 0) r = append_sv(m, "own_wakeups_per_s", "d", l->own_wakeups_per_s);
        if (r >= 0) r = append_sv(m, "own_cpu_percent", "d", l->own_cpu_percent);
        if (r >= 0) r = append_sv(m, "source", "s", l->source ? l->source : "thread");
        if (r >= 0) r = append_sv(m, "irq_samples", "t", l->irq_samples);
        if (r >= 0) r = append_sv(m, "irq_avg_us", "d", l->irq_avg_us);
        if (r >= 0) r = append_sv(m, "irq_max_us", "d", l->irq_max_us);
        if (r >= 0) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0) r = sd_bus_message_append_basic(m, 's', "histogram");
                if (r >= 0) r = sd_bus_message_open_container(m, 'v', "au");
                if (r >= 0) r = sd_bus_message_append_array(m, 'u', l->histogram, used * sizeof(uint32_t));
                if (r >= 0) r = sd_bus_message_close_container(m);
                if (r >= 0) r = sd_bus_message_close_container(m);
        }
        return r;
}

static int append_noise_source(sd_bus_message *m, const void *item) {
        const NoiseSource *s = item;
        int r = append_sv(m, "kind", "s", s->kind);
        if (r >= 0) r = append_sv(m, "name", "s", s->name);
        if (r >= 0) r = append_sv(m, "id", "u", s->id);
        if (r >= 0) r = append_sv(m, "pid", "i", s->pid);
        if (r >= 0) r = append_sv(m, "per_second", "d", s->rate);
        if (r >= 0) r = append_sv(m, "share", "d", s->share);
        return r;
}

static int append_spike_cause(sd_bus_message *m, const void *item) {
        const SpikeCause *c = item;
        int r = append_sv(m, "kind", "s", c->kind);
        if (r >= 0) r = append_sv(m, "name", "s", c->name);
        if (r >= 0) r = append_sv(m, "id", "u", c->id);
        if (r >= 0) r = append_sv(m, "pid", "i", c->pid);
        if (r >= 0) r = append_sv(m, "time_us", "d", c->time_us);
        if (r >= 0) r = append_sv(m, "count", "u", c->count);
        if (r >= 0) r = append_sv(m, "per_second", "d", c->per_second);
        if (r >= 0) r = append_sv(m, "sched", "s", c->sched);
        if (r >= 0) r = append_sv(m, "group", "s", c->group);
        if (r >= 0) r = append_sv(m, "movable", "b", (int) c->movable);
        if (r >= 0) r = append_sv(m, "note", "s", c->note);
        return r;
}

static int append_spike(sd_bus_message *m, const void *item) {
        const Spike *s = item;
        int r = append_sv(m, "cpu", "u", s->cpu);
        if (r >= 0) r = append_sv(m, "at_usec", "t", s->at_usec);
        if (r >= 0) r = append_sv(m, "latency_us", "t", s->latency_us);
        if (r >= 0) r = append_sv(m, "threshold_us", "t", s->threshold_us);
        if (r >= 0) r = append_sv(m, "source", "s", s->source);
        if (r >= 0) r = append_sv(m, "partial", "b", (int) s->partial);
        if (r >= 0) r = append_sv(m, "traced_us", "d", s->traced_us);
        if (r >= 0) r = append_sv_records(m, "causes", s->causes, append_spike_cause);
        return r;
}

static int emit_explained(Bus *b, const Spike *spike) {
        g_autoptr(sd_bus_message) m = NULL;
        int r = sd_bus_message_new_signal(b->bus, &m, BUS_PATH, BUS_INTERFACE, "LatencyExplained");
        if (r >= 0) r = sd_bus_message_append(m, "uttts", spike->cpu, spike->at_usec, spike->latency_us,
                                              spike->threshold_us, spike->source);
        if (r >= 0) r = append_records(m, spike->causes, append_spike_cause);
        if (r < 0)
                return r;
        return sd_bus_send(b->bus, m, NULL);
}

static int append_noise(sd_bus_message *m, const void *item) {
        const NoiseCpu *c = item;
        g_autoptr(GPtrArray) names = g_ptr_array_new();
        int r = append_sv(m, "cpu", "u", (uint32_t) c->cpu);
        if (r >= 0) r = append_sv(m, "loc", "d", c->loc);
        if (r >= 0) r = append_sv(m, "res", "d", c->res);
        if (r >= 0) r = append_sv(m, "cal", "d", c->cal);
        if (r >= 0) r = append_sv(m, "tlb", "d", c->tlb);
        if (r >= 0) r = append_sv(m, "devices", "d", c->devices);
        if (r >= 0) r = append_sv(m, "switches", "d", c->has_switches ? c->switches : -1.0);
        if (r >= 0) r = append_sv(m, "seconds", "d", c->seconds);
        if (r >= 0) r = append_sv(m, "lost", "d", c->lost);
        for (unsigned i = 0; i < c->sources->len && i < 5; i++) {
                const NoiseSource *s = c->sources->pdata[i];
                g_ptr_array_add(names, g_strdup_printf("%s: %.0f/s", s->name, s->rate));
        }
        g_ptr_array_add(names, NULL);
        if (r >= 0) r = append_sv_strv(m, "top_sources", (char **) names->pdata);
        if (r >= 0) r = append_sv(m, "source", "s", c->traced ? "tracepoints" : "counters");
        if (r >= 0) r = append_sv_records(m, "sources", c->sources, append_noise_source);
        for (unsigned i = 0; i < names->len; i++)
                g_free(names->pdata[i]);
        return r;
}

static int append_irq(sd_bus_message *m, const void *item) {
        const IrqReport *rep = item;
        g_autofree char *cpus = cpumask_format_list(&rep->irq->affinity);
        g_autofree char *effective = rep->irq->has_effective ? cpumask_format_list(&rep->irq->effective) : g_strdup("");
        g_autofree char *target = cpumask_format_list(&rep->target);
        int r = append_sv(m, "irq", "u", rep->irq->num);
        if (r >= 0) r = append_sv(m, "name", "s", rep->irq->name);
        if (r >= 0) r = append_sv_strv(m, "actions", rep->irq->actions);
        if (r >= 0) r = append_sv(m, "cpus", "s", cpus);
        if (r >= 0) r = append_sv(m, "effective", "s", effective);
        if (r >= 0) r = append_sv(m, "target", "s", target);
        if (r >= 0) r = append_sv(m, "state", "s", rep->state);
        if (r >= 0) r = append_sv(m, "rule", "s", rep->rule ? rep->rule : "");
        if (r >= 0) r = append_sv(m, "reason", "s", rep->reason ? rep->reason : "");
        if (r >= 0) r = append_sv(m, "isolated_count", "t", rep->isolated_count);
        return r;
}

static int append_workload_thread(sd_bus_message *m, const void *item) {
        const WorkloadThread *t = item;
        g_autofree char *cpus = cpumask_format_list(&t->cpus);
        int r = append_sv(m, "tid", "u", (uint32_t) t->tid);
        if (r >= 0) r = append_sv(m, "comm", "s", t->comm);
        if (r >= 0) r = append_sv(m, "rule", "s", t->rule ? t->rule : "");
        if (r >= 0) r = append_sv(m, "cpus", "s", cpus);
        if (r >= 0) r = append_sv(m, "policy", "s", t->policy >= 0 ? task_policy_name(t->policy) : "");
        if (r >= 0) r = append_sv(m, "priority", "i", (int32_t) t->priority);
        return r;
}

static int append_workload(sd_bus_message *m, const void *item) {
        const Workload *w = item;
        g_autofree char *cpus = cpumask_format_list(&w->cpus);
        int r = append_sv(m, "group", "s", w->group);
        if (r >= 0) r = append_sv(m, "pid", "u", (uint32_t) w->pid);
        if (r >= 0) r = append_sv(m, "comm", "s", w->comm);
        if (r >= 0) r = append_sv(m, "cpus", "s", cpus);
        if (r >= 0) r = append_sv(m, "policy", "s", w->policy >= 0 ? task_policy_name(w->policy) : "");
        if (r >= 0) r = append_sv(m, "priority", "i", (int32_t) w->priority);
        if (r >= 0) r = append_sv(m, "placed_at", "t", w->placed_usec);
        if (r >= 0 && w->threads) r = append_sv_records(m, "threads", w->threads, append_workload_thread);
        return r;
}

/* A method's whole answer: one aa{sv}. */
static int reply_records(sd_bus_message *msg, const GPtrArray *items, AppendRecord append) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = append_records(reply, items, append);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* --- properties: one getter each --- */

static const ManagerStatus *status_of(void *userdata) {
        return manager_status(((Bus *) userdata)->manager);
}

static int property_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", ISOLATORD_VERSION);
}

static int property_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", manager_state_to_string(status_of(userdata)->state));
}

static int property_housekeeping(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        g_autofree char *hk = cpumask_format_list(&status_of(userdata)->config->housekeeping);
        return sd_bus_message_append(reply, "s", hk);
}

static int property_groups(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const Config *c = status_of(userdata)->config;
        int r = sd_bus_message_open_container(reply, 'a', "(sss)");
        for (unsigned i = 0; i < c->groups->len && r >= 0; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                g_autofree char *cpus = cpumask_format_list(&g->cpus);
                r = sd_bus_message_append(reply, "(sss)", g->name, cpus, g->slice);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int property_findings_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", status_of(userdata)->findings->len);
}

static int property_drift(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", status_of(userdata)->drift_corrections);
}

/* --- reads --- */

static int method_get_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const ManagerStatus *st = status_of(userdata);
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *hk = cpumask_format_list(&st->config->housekeeping);
        CpuMask iso;
        int r;

        config_isolated_cpus(st->config, &iso);
        g_autofree char *isolated = cpumask_format_list(&iso);
        g_autofree char *online = cpumask_format_list(&st->topology->online);

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0) r = append_sv(reply, "version", "s", ISOLATORD_VERSION);
        if (r >= 0) r = append_sv(reply, "state", "s", manager_state_to_string(st->state));
        if (r >= 0) r = append_sv(reply, "housekeeping", "s", hk);
        if (r >= 0) r = append_sv(reply, "isolated", "s", isolated);
        if (r >= 0) r = append_sv(reply, "online", "s", online);
        if (r >= 0) {
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0) r = sd_bus_message_append_basic(reply, 's', "groups");
                if (r >= 0) r = sd_bus_message_open_container(reply, 'v', "aa{sv}");
                if (r >= 0) r = append_records(reply, st->config->groups, append_group);
                if (r >= 0) r = sd_bus_message_close_container(reply);
                if (r >= 0) r = sd_bus_message_close_container(reply);
        }
        if (r >= 0) r = append_sv(reply, "findings_count", "u", st->findings->len);
        if (r >= 0) r = append_sv(reply, "required_findings", "u", st->required_findings);
        if (r >= 0) r = append_sv(reply, "drift_corrections", "t", st->drift_corrections);
        for (size_t i = 0; i < st->n_counters && r >= 0; i++)
                r = append_sv(reply, st->counters[i].key, "t", st->counters[i].value);
        if (r >= 0) r = append_sv(reply, "sampler_running", "b", (int) st->sampling);
        if (r >= 0) r = append_sv(reply, "latency_exceeded", "t", st->latency_exceeded);
        if (r >= 0 && st->sampling)
                r = append_sv(reply, "latency_threshold_us", "u", st->latency_threshold_us);
        if (r >= 0 && st->sampling)
                r = append_sv(reply, "sampler_memory", "s", st->sampler_memory);
        if (r >= 0) r = append_sv(reply, "starvation_guard", "s", st->starvation_guard);
        if (r >= 0 && st->attribution.source)
                r = append_sv(reply, "attribution", "s", st->attribution.source);
        if (r >= 0 && st->attribution.fallback)
                r = append_sv(reply, "attribution_fallback", "s", st->attribution.fallback);
        if (r >= 0 && st->attribution.missing)
                r = append_sv(reply, "attribution_missing", "s", st->attribution.missing);
        if (r >= 0) r = append_sv(reply, "last_verify_usec", "t", st->last_verify_usec);
        if (r >= 0) r = append_sv(reply, "verify_interval_sec", "u", st->config->daemon.verify_interval_sec);
        if (r >= 0) r = append_sv(reply, "root", "s", st->root_dir);
        if (r >= 0) r = append_sv(reply, "dry_run", "b", (int) st->dry_run);
        if (r >= 0) r = append_sv_strv(reply, "config_sources", st->config->sources);
        if (r >= 0) r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Verify observes and reports; for root it repairs too, as the periodic pass does. When
 * passes run is the passes' to say (passes.h): the adapter asks them for one pass at a
 * time and answers every Verify waiting when it ran from that pass's findings, built
 * once, in slices of VERIFY_SLICE so that a crowd of callers does not hold the loop. */

/* The caller's user in *uid: 1. 0: the bus is being asked, and method is called again
 * with msg once it answers. A caller the bus would not tell is counted as the user -1,
 * with every other such caller: not root. */
static int caller_uid(Bus *b, sd_bus_message *msg, sd_bus_message_handler_t method, uid_t *uid, sd_bus_error *error) {
        int r = auth_caller_uid(b->auth, msg, method, b, uid);
        if (r == -EBUSY)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                        "too many calls of this connection wait for the bus to say who sent them");
        if (r < 0) {
                log_debug_errno(r, "cannot tell the user of %s: %m", sd_bus_message_get_sender(msg) ?: "a caller");
                *uid = (uid_t) -1;
                return 1;
        }
        return r;
}

static unsigned verify_count(Bus *b, uid_t uid) {
        return GPOINTER_TO_UINT(g_hash_table_lookup(b->verify_by_uid, GUINT_TO_POINTER((unsigned) uid)));
}

static void verify_call_free(VerifyCall *c) {
        sd_bus_message_unref(c->msg);
        g_free(c);
}

static void verify_batch_free(VerifyBatch *batch) {
        sd_bus_message_unref(batch->answer);
        g_ptr_array_unref(batch->calls);
        g_free(batch);
}

static void verify_answered(Bus *b, uid_t uid) {
        unsigned n = verify_count(b, uid);
        if (n <= 1)
                g_hash_table_remove(b->verify_by_uid, GUINT_TO_POINTER((unsigned) uid));
        else
                g_hash_table_insert(b->verify_by_uid, GUINT_TO_POINTER((unsigned) uid), GUINT_TO_POINTER(n - 1));
}

/* Sends up to max answers of the oldest batches; whether some are left. */
static bool verify_send_slice(Bus *b, unsigned max) {
        VerifyBatch *batch;
        while (max > 0 && (batch = g_queue_peek_head(&b->verify_batches))) {
                for (; batch->sent < batch->calls->len && max > 0; batch->sent++, max--) {
                        const VerifyCall *c = batch->calls->pdata[batch->sent];
                        int r = batch->answer ? read_pace_reply_copy(c->msg, batch->answer)
                                              : sd_bus_reply_method_errorf(c->msg, BUS_ERROR_PREFIX "Failed",
                                                                           "the findings could not be sent");
                        if (r < 0)
                                log_debug_errno(r, "cannot answer a Verify: %m");
                        verify_answered(b, c->uid);
                }
                if (batch->sent == batch->calls->len)
                        verify_batch_free(g_queue_pop_head(&b->verify_batches));
        }
        return !g_queue_is_empty(&b->verify_batches);
}

static int on_verify_send(sd_event_source *source, void *userdata) {
        Bus *b = userdata;
        if (verify_send_slice(b, VERIFY_SLICE))
                return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
        return 0;
}

static gint root_first(gconstpointer a, gconstpointer b) {
        const VerifyCall *x = *(VerifyCall *const *) a, *y = *(VerifyCall *const *) b;
        return (x->uid != 0) - (y->uid != 0);
}

/* The pass asked for has run (passes may call this twice for one pass, when root asked
 * for repair after a user: the second finds nobody waiting). Root's calls are answered
 * first. */
static void answer_verify(Manager *m, void *userdata) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) calls = g_steal_pointer(&b->verify_waiting);
        g_autoptr(sd_bus_message) answer = NULL;
        int r;

        b->verify_waiting = g_ptr_array_new_with_free_func((GDestroyNotify) verify_call_free);
        b->verify_asked = b->verify_asked_repair = false;
        if (calls->len == 0)
                return;
        g_ptr_array_sort(calls, root_first); /* stable */
        r = sd_bus_message_new_method_return(((VerifyCall *) calls->pdata[0])->msg, &answer);
        if (r >= 0)
                r = append_records(answer, manager_status(m)->findings, append_finding);
        /* Sealed to be read from, never sent: its cookie does not matter. */
        if (r >= 0)
                r = sd_bus_message_seal(answer, 1, 0);
        if (r < 0) {
                log_warning_errno(r, "cannot build the answer to %u Verify calls: %m", calls->len);
                answer = sd_bus_message_unref(answer);
        }
        VerifyBatch *batch = g_new0(VerifyBatch, 1);
        batch->answer = g_steal_pointer(&answer);
        batch->calls = g_steal_pointer(&calls);
        g_queue_push_tail(&b->verify_batches, batch);
        if (!verify_send_slice(b, VERIFY_SLICE))
                return;
        if (!b->verify_send || sd_event_source_set_enabled(b->verify_send, SD_EVENT_ONESHOT) < 0)
                verify_send_slice(b, UINT_MAX); /* no loop: all now */
}

static int method_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        uid_t uid;
        int r = caller_uid(b, msg, method_verify, &uid, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        bool root = uid == 0;
        unsigned n = verify_count(b, uid);

        if (!root && n >= VERIFY_WAITING)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "%u Verify calls of user %u are already waiting; "
                                         "the next pass answers them all",
                                         n, (unsigned) uid);
        VerifyCall *c = g_new(VerifyCall, 1);
        *c = (VerifyCall) { sd_bus_message_ref(msg), uid };
        g_ptr_array_add(b->verify_waiting, c);
        g_hash_table_insert(b->verify_by_uid, GUINT_TO_POINTER((unsigned) uid), GUINT_TO_POINTER(n + 1));
        /* One request of the passes stands for every call waiting; root's asks again
         * for a pass that repairs, at once. */
        if (!b->verify_asked || (root && !b->verify_asked_repair)) {
                b->verify_asked = true;
                b->verify_asked_repair |= root;
                passes_request(b->passes, root, answer_verify, b, NULL);
        }
        return 1;
}

/* Reads that scan the machine go through the pace (read-pace.h), counted per user;
 * method is the one that called, run again once the caller's user is known. */
static int paced(Bus *b, sd_bus_message *msg, sd_bus_message_handler_t method, PacedRead read,
                 sd_bus_error *error) {
        uid_t uid;
        int r = caller_uid(b, msg, method, &uid, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        return read_pace_submit(b->reads, msg, uid, read, b);
}

static int read_irqs(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) report = manager_irqs(b->manager);
        return append_records(reply, report, append_irq);
}

static int method_get_irqs(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return paced(userdata, msg, method_get_irqs, read_irqs, error);
}

static int method_get_workloads(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) report = manager_workloads(b->manager);
        return reply_records(msg, report, append_workload);
}

static int method_get_latency(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) stats = manager_latency(b->manager);
        if (!stats)
                stats = g_ptr_array_new();
        return reply_records(msg, stats, append_latency);
}

static int method_get_histogram(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        uint32_t cpu;
        int r = sd_bus_message_read(msg, "u", &cpu);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) stats = manager_latency(b->manager);
        if (!stats)
                return sd_bus_error_set(error, BUS_ERROR_PREFIX "NotFound", "the sampler is not running (isoctl sampler start)");
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *l = stats->pdata[i];
                if (l->cpu != (int) cpu || !l->measured)
                        continue;
                g_autoptr(sd_bus_message) reply = NULL;
                r = sd_bus_message_new_method_return(msg, &reply);
                if (r >= 0) r = sd_bus_message_append(reply, "u", 1u);
                if (r >= 0) r = sd_bus_message_append_array(reply, 'u', l->histogram, l->hist_max_us * sizeof(uint32_t));
                if (r >= 0) r = sd_bus_message_append(reply, "t", l->overflows);
                if (r < 0)
                        return r;
                return sd_bus_send(NULL, reply, NULL);
        }
        return sd_bus_error_setf(error, BUS_ERROR_PREFIX "NotFound", "CPU %u is not measured", cpu);
}

static int method_get_spikes(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        uint32_t n;
        int r = sd_bus_message_read(msg, "u", &n);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) spikes = manager_spikes(b->manager, n);
        return reply_records(msg, spikes, append_spike);
}

static int read_noise(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) noise = manager_noise(b->manager);
        if (!noise)
                return sd_bus_error_set(error, BUS_ERROR_PREFIX "NotFound",
                                        "no noise figures yet: they need two readings, a second apart");
        return append_records(reply, noise, append_noise);
}

static int method_get_noise(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return paced(userdata, msg, method_get_noise, read_noise, error);
}

static int read_metrics(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autofree char *text = metrics_text(b->manager);
        return sd_bus_message_append(reply, "s", text);
}

static int method_get_metrics(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return paced(userdata, msg, method_get_metrics, read_metrics, error);
}

static int method_get_boot_parameters(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Audits *a = manager_status(b->manager)->audits;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GPtrArray) items = g_ptr_array_new();
        int r;

        g_ptr_array_extend(items, a->boot_params, NULL, NULL);
        g_ptr_array_extend(items, a->live, NULL, NULL);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0) r = append_records(reply, items, append_audit_item);
        if (r >= 0) r = sd_bus_message_append(reply, "ss", a->required_line, a->full_line);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_kernel_audit(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Audits *a = manager_status(b->manager)->audits;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *fragment = kconfig_fragment();
        int r;

        if (!a->kernel_config)
                return sd_bus_error_set(error, BUS_ERROR_PREFIX "NotFound", a->kconfig_error);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0) r = sd_bus_message_append(reply, "s", a->kconfig_source);
        if (r >= 0) r = append_records(reply, a->kernel_config, append_audit_item);
        if (r >= 0) r = sd_bus_message_append(reply, "s", fragment);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_plan(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) notes = NULL;
        const ManagerStatus *st = manager_status(b->manager);
        g_autoptr(Config) plan = plan_partition(st->topology, st->config, &notes);
        g_autofree char *text = config_to_text(plan, "isolatord partition proposed by Plan()");
        g_autoptr(sd_bus_message) reply = NULL;
        int r;

        g_ptr_array_add(notes, NULL);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0) r = sd_bus_message_append(reply, "s", text);
        if (r >= 0) r = sd_bus_message_append_strv(reply, (char **) notes->pdata);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* --- changes: each passes auth_check() before touching anything --- */

/* Returning 1 while polkit decides tells sd-bus the call is handled: a 0 would make
 * it look further and answer UnknownMethod. */
#define REQUIRE_AUTH_FOR(action, b, msg, handler, error)                                  \
        do {                                                                             \
                int _r = auth_check((b)->auth, (msg), (action), (handler), (b), (error)); \
                if (_r < 0)                                                              \
                        return _r;                                                       \
                if (_r == 0)                                                             \
                        return 1; /* polkit will call us again */                       \
        } while (0)
#define REQUIRE_AUTH(b, msg, handler, error) REQUIRE_AUTH_FOR(AUTH_ACTION_MANAGE, b, msg, handler, error)

static int reply_after_change(Bus *b, sd_bus_message *msg, bool ok, const GError *e, sd_bus_error *error) {
        if (!ok)
                return bus_error_set_gerror(error, e);
        return sd_bus_reply_method_return(msg, NULL);
}

/* A change that takes no argument (Apply, Revert), once the caller is authorized. */
static int run_change(Bus *b, sd_bus_message *msg, bool (*change)(Manager *, GError **), sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        bool ok = change(b->manager, &e);
        return reply_after_change(b, msg, ok, e, error);
}

static int method_apply(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        REQUIRE_AUTH((Bus *) userdata, msg, method_apply, error);
        return run_change(userdata, msg, manager_apply, error);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GError) e = NULL;

        REQUIRE_AUTH(b, msg, method_reload, error);
        bool ok = manager_reload(b->manager, &e);
        if (!ok)
                log_warning("reload refused, the old configuration stays: %s", e->message);
        return reply_after_change(b, msg, ok, e, error);
}

static int method_set_group_cpus(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GError) e = NULL;
        const char *group, *cpus;
        int r;

        /* Authorize first: after polkit's answer the message is dispatched again from its start. */
        REQUIRE_AUTH(b, msg, method_set_group_cpus, error);
        r = sd_bus_message_read(msg, "ss", &group, &cpus);
        if (r < 0)
                return r;
        bool ok = manager_set_group_cpus(b->manager, group, cpus, &e);
        if (ok)
                log_info("group %s set to CPUs %s", group, cpus);
        return reply_after_change(b, msg, ok, e, error);
}

static int method_start_sampler(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        REQUIRE_AUTH(b, msg, method_start_sampler, error);
        if (manager_sampler_start(b->manager) < 0)
                return sd_bus_error_set(error, BUS_ERROR_PREFIX "IOError", "the sampler could not start; see the log");
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_stop_sampler(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        REQUIRE_AUTH(b, msg, method_stop_sampler, error);
        manager_sampler_stop(b->manager);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_reset_latency(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        REQUIRE_AUTH(b, msg, method_reset_latency, error);
        manager_latency_reset(b->manager);
        return sd_bus_reply_method_return(msg, NULL);
}

/* --- the boot line: written and taken back by isolatord-bootline, in a unit of its own --- */

static BootLineRun bootline_run(Bus *b) {
        const ManagerStatus *st = manager_status(b->manager);
        return (BootLineRun) {
                .root = st->root,
                .runtime_dir = st->runtime_dir,
                .systemd_address = st->config->daemon.systemd_address,
        };
}

static void on_bootline_done(bool ok, const char *message, void *userdata) {
        Bus *b = userdata;
        g_autoptr(sd_bus_message) call = g_steal_pointer(&b->bootline_call);
        int r;

        if (!call)
                return;
        if (ok && g_str_equal(sd_bus_message_get_member(call), "Revert"))
                r = sd_bus_reply_method_return(call, NULL);
        else if (ok)
                r = sd_bus_reply_method_return(call, "s", message);
        else
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_PREFIX "BootLoader", "%s", message);
        if (r < 0)
                log_debug_errno(r, "cannot answer %s: %m", sd_bus_message_get_member(call));
        /* The next boot changed: the boot-loader finding with it. */
        manager_observe(b->manager);
}

/* Hands msg's answer to the helper; 1 (answered later), or a negative errno with error set. */
static int bootline_start(Bus *b, sd_bus_message *msg, const char *verb, const char *line, sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        BootLineRun run = bootline_run(b);
        if (!bootline_runner_start(b->bootline, &run, verb, line, on_bootline_done, b, &e))
                return bus_error_set_gerror(error, e);
        b->bootline_call = sd_bus_message_ref(msg);
        return 1;
}

static int method_write_boot_parameters(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const ManagerStatus *st;
        int all, r;

        REQUIRE_AUTH_FOR(AUTH_ACTION_BOOT_LINE, b, msg, method_write_boot_parameters, error);
        r = sd_bus_message_read(msg, "b", &all);
        if (r < 0)
                return r;
        st = manager_status(b->manager);
        if (st->state == MANAGER_INACTIVE)
                return sd_bus_error_set(error, BUS_ERROR_PREFIX "InvalidPartition",
                                        "the partition does not fit this machine: a boot line for it would be wrong "
                                        "(isoctl verify says why)");
        const char *line = all ? st->audits->full_line : st->audits->required_line;
        if (!*line)
                return sd_bus_error_set(error, BUS_ERROR_PREFIX "NotFound", "the partition needs no boot parameter");
        if (st->dry_run) {
                g_autofree char *said = g_strdup_printf("dry run: would write %s for the bootloader", line);
                log_info("%s", said);
                return sd_bus_reply_method_return(msg, "s", said);
        }
        log_info("writing the boot line for the bootloader: %s", line);
        return bootline_start(b, msg, "write", line, error);
}

/* The boot loader's files are read (and the entries of the next boot parsed) at every
 * call: a read that scans the machine, paced as the others. */
static int read_boot_loader(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const ManagerStatus *st = manager_status(b->manager);
        g_autoptr(BootLoader) bl = bootloader_detect(st->root);
        g_autoptr(BootLineState) saved = NULL;
        g_autoptr(GError) e = NULL;
        g_auto(GStrv) planned = bootline_parse(st->audits->required_line, NULL);
        char *empty[] = { NULL };
        int r;

        (void) bootline_state_load(st->root, &saved, &e);
        g_autoptr(NextBoot) nb = bootloader_next_boot(st->root, bl, planned);
        g_autofree char *written = saved && saved->params ? g_strjoinv(" ", saved->params) : g_strdup("");
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0) r = append_sv(reply, "kind", "s", bootloader_kind_to_string(bl->kind));
        if (r >= 0) r = append_sv(reply, "why", "s", bl->why ? bl->why : "");
        if (r >= 0) r = append_sv(reply, "written", "b", (int) (saved != NULL));
        if (r >= 0) r = append_sv(reply, "written_line", "s", written);
        if (r >= 0) r = append_sv(reply, "state_error", "s", e ? e->message : "");
        if (r >= 0) r = append_sv(reply, "next_boot_line", "s", nb->cmdline ? nb->cmdline : "");
        if (r >= 0) r = append_sv(reply, "next_boot_title", "s", nb->title ? nb->title : "");
        if (r >= 0) r = append_sv(reply, "next_boot_chosen", "s", nb->chosen ? nb->chosen : "");
        if (r >= 0) r = append_sv(reply, "next_boot_source", "s", nb->source ? nb->source : "");
        if (r >= 0) r = append_sv(reply, "next_boot_error", "s", nb->error ? nb->error : "");
        if (r >= 0) r = append_sv_strv(reply, "next_boot_lacks", nb->lacks ? nb->lacks : empty);
        if (r >= 0) r = append_sv(reply, "entries", "u", nb->entries);
        if (r >= 0) r = append_sv(reply, "entries_with_line", "u", nb->entries_with);
        if (r >= 0) r = append_sv(reply, "configured", "s", nb->configured ? nb->configured : "");
        if (r >= 0) r = append_sv(reply, "busy", "b", (int) bootline_runner_busy(b->bootline));
        if (r >= 0) r = sd_bus_message_close_container(reply);
        return r;
}

static int method_get_boot_loader(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return paced(userdata, msg, method_get_boot_loader, read_boot_loader, error);
}

static int method_revert(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GError) e = NULL;
        g_autoptr(BootLineState) saved = NULL;
        const ManagerStatus *st;

        REQUIRE_AUTH(b, msg, method_revert, error);
        if (!manager_revert(b->manager, &e))
                return bus_error_set_gerror(error, e);
        st = manager_status(b->manager);
        /* What the helper wrote outlives the boot, and goes with everything else. */
        if (st->dry_run || bootline_state_load(st->root, &saved, &e) < 0 || !saved) {
                if (e)
                        log_warning("the boot line is left as it is: %s", e->message);
                return sd_bus_reply_method_return(msg, NULL);
        }
        return bootline_start(b, msg, "revert", NULL, error);
}

static const sd_bus_vtable isolator_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Housekeeping", "s", property_housekeeping, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Groups", "a(sss)", property_groups, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FindingsCount", "u", property_findings_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DriftCorrections", "t", property_drift, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", status),
                                method_get_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Verify", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", findings),
                                method_verify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Apply", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_apply, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetGroupCpus", SD_BUS_ARGS("s", group, "s", cpus), SD_BUS_NO_RESULT,
                                method_set_group_cpus, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Revert", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_revert, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetBootParameters", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("aa{sv}", parameters, "s", required_line, "s", full_line),
                                method_get_boot_parameters, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("WriteBootParameters", SD_BUS_ARGS("b", with_recommended), SD_BUS_RESULT("s", message),
                                method_write_boot_parameters, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetBootLoader", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", bootloader),
                                method_get_boot_loader, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetKernelAudit", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", source, "aa{sv}", options, "s", fragment),
                                method_get_kernel_audit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Plan", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", config, "as", notes),
                                method_plan, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetIrqs", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", irqs),
                                method_get_irqs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetWorkloads", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", workloads),
                                method_get_workloads, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartSampler", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_start_sampler, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopSampler", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_stop_sampler, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResetLatency", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_reset_latency, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetLatency", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", cpus),
                                method_get_latency, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetHistogram", SD_BUS_ARGS("u", cpu),
                                SD_BUS_RESULT("u", bucket_us, "au", counts, "t", overflows),
                                method_get_histogram, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetNoise", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", cpus),
                                method_get_noise, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetSpikes", SD_BUS_ARGS("u", count), SD_BUS_RESULT("aa{sv}", spikes),
                                method_get_spikes, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMetrics", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", text), method_get_metrics,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("DriftCorrected", SD_BUS_ARGS("s", kind, "s", object, "s", expected, "s", found, "s", why),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("IrqPinned", SD_BUS_ARGS("u", irq, "s", name, "s", cpus), 0),
        SD_BUS_SIGNAL_WITH_ARGS("WorkloadPlaced", SD_BUS_ARGS("s", group, "u", pid, "s", comm), 0),
        SD_BUS_SIGNAL_WITH_ARGS("LatencyExceeded", SD_BUS_ARGS("u", cpu, "t", latency_us, "t", threshold_us), 0),
        SD_BUS_SIGNAL_WITH_ARGS("LatencyExplained", SD_BUS_ARGS("u", cpu, "t", at_usec, "t", latency_us, "t", threshold_us,
                                                                "s", source, "aa{sv}", causes), 0),
        SD_BUS_VTABLE_END,
};

int bus_serve(sd_bus *bus, Manager *manager, Passes *passes, Bus **out) {
        Bus *b = g_new0(Bus, 1);
        int r;

        assert(bus);
        assert(manager);
        assert(passes);

        b->bus = sd_bus_ref(bus);
        b->manager = manager;
        b->passes = passes;
        b->auth = auth_new(bus);
        b->reads = read_pace_new(sd_bus_get_event(bus));
        b->verify_waiting = g_ptr_array_new_with_free_func((GDestroyNotify) verify_call_free);
        b->verify_by_uid = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_queue_init(&b->verify_batches);
        if (sd_bus_get_event(bus)) {
                r = sd_event_add_defer(sd_bus_get_event(bus), &b->verify_send, on_verify_send, b);
                if (r >= 0)
                        r = sd_event_source_set_enabled(b->verify_send, SD_EVENT_OFF);
                if (r < 0) {
                        log_warning_errno(r, "cannot answer Verify calls in slices (%m): they are answered in one go");
                        b->verify_send = sd_event_source_disable_unref(b->verify_send);
                }
        }
        b->bootline = bootline_runner_new(sd_bus_get_event(bus));
        manager_set_listener(manager, &(EventSink) { on_event, b });
        r = sd_bus_add_object_vtable(bus, &b->slot, BUS_PATH, BUS_INTERFACE, isolator_vtable, b);
        if (r < 0) {
                bus_free(b);
                return log_error_errno(r, "cannot serve %s on the bus: %m", BUS_PATH);
        }
        *out = b;
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        manager_set_listener(b->manager, NULL);
        sd_bus_slot_unref(b->slot);
        read_pace_free(b->reads);
        /* The passes are freed after the adapter, with no pass between: the request
         * that names b is never answered. */
        sd_event_source_disable_unref(b->verify_send);
        g_queue_clear_full(&b->verify_batches, (GDestroyNotify) verify_batch_free);
        if (b->verify_waiting)
                g_ptr_array_unref(b->verify_waiting);
        if (b->verify_by_uid)
                g_hash_table_unref(b->verify_by_uid);
        bootline_runner_free(b->bootline);
        sd_bus_message_unref(b->bootline_call);
        auth_free(b->auth);
        sd_bus_unref(b->bus);
        g_free(b);
        return NULL;
}
