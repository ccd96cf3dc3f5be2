/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "auth.h"
#include "build-config.h"
#include "bus-error.h"
#include "bus.h"
#include "enforcer-workload.h"
#include "task.h"
#include "enforcer-irq.h"
#include "kconfig.h"
#include "log.h"
#include "metrics.h"
#include "partition.h"
#include "plan.h"
#include "sd-glib.h"

/* What the properties showed last, to send PropertiesChanged only for real changes. */
typedef struct Shown {
        ManagerState state;
        char *housekeeping;
        char *groups;
        unsigned findings;
        uint64_t drift;
} Shown;

struct Bus {
        sd_bus *bus;
        sd_bus_slot *slot;
        Manager *manager;
        Auth *auth;
        Shown shown;
        sd_event_source *verify_pass; /* deferred: one pass for every Verify waiting */
        sd_event_source *verify_next; /* a second after the last pass: users' next one */
        GPtrArray *verify_waiting;    /* sd_bus_message* (ref) */
        bool verify_repair;           /* a root caller waits: the pass repairs */
};

static char *groups_text(const Config *c) {
        GString *s = g_string_new(NULL);
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                g_autofree char *cpus = cpumask_format_list(&g->cpus);
                g_string_append_printf(s, "%s=%s@%s;", g->name, cpus, g->slice);
        }
        return g_string_free(s, false);
}

static Shown shown_now(const Manager *m) {
        return (Shown) {
                .state = m->state,
                .housekeeping = cpumask_format_list(&m->config->housekeeping),
                .groups = groups_text(m->config),
                .findings = m->findings->len,
                .drift = m->drift_corrections,
        };
}

static void shown_clear(Shown *s) {
        g_free(s->housekeeping);
        g_free(s->groups);
}

void bus_notify_changes(Bus *b) {
        Shown now = shown_now(b->manager);
        const char *changed[6];
        unsigned n = 0;

        if (now.state != b->shown.state)
                changed[n++] = "State";
        if (g_strcmp0(now.housekeeping, b->shown.housekeeping) != 0)
                changed[n++] = "Housekeeping";
        if (g_strcmp0(now.groups, b->shown.groups) != 0)
                changed[n++] = "Groups";
        if (now.findings != b->shown.findings)
                changed[n++] = "FindingsCount";
        if (now.drift != b->shown.drift)
                changed[n++] = "DriftCorrections";
        changed[n] = NULL;
        shown_clear(&b->shown);
        b->shown = now;
        if (n > 0) {
                int r = sd_bus_emit_properties_changed_strv(b->bus, BUS_PATH, BUS_INTERFACE, (char **) changed);
                if (r < 0)
                        log_warning_errno(r, "cannot send PropertiesChanged: %m");
        }
}


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
        for (unsigned i = 0; i < c->sources->len && i < 5; i++) {
                const NoiseSource *s = c->sources->pdata[i];
                g_ptr_array_add(names, g_strdup_printf("%s: %.0f/s", s->name, s->rate));
        }
        g_ptr_array_add(names, NULL);
        if (r >= 0) r = append_sv_strv(m, "top_sources", (char **) names->pdata);
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

/* --- properties --- */

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Manager *m = b->manager;

        if (g_str_equal(property, "Version"))
                return sd_bus_message_append(reply, "s", ISOLATORD_VERSION);
        if (g_str_equal(property, "State"))
                return sd_bus_message_append(reply, "s", manager_state_to_string(m->state));
        if (g_str_equal(property, "Housekeeping")) {
                g_autofree char *hk = cpumask_format_list(&m->config->housekeeping);
                return sd_bus_message_append(reply, "s", hk);
        }
        if (g_str_equal(property, "FindingsCount"))
                return sd_bus_message_append(reply, "u", m->findings->len);
        if (g_str_equal(property, "DriftCorrections"))
                return sd_bus_message_append(reply, "t", m->drift_corrections);
        if (g_str_equal(property, "Groups")) {
                int r = sd_bus_message_open_container(reply, 'a', "(sss)");
                for (unsigned i = 0; i < m->config->groups->len && r >= 0; i++) {
                        const GroupConfig *g = m->config->groups->pdata[i];
                        g_autofree char *cpus = cpumask_format_list(&g->cpus);
                        r = sd_bus_message_append(reply, "(sss)", g->name, cpus, g->slice);
                }
                return r < 0 ? r : sd_bus_message_close_container(reply);
        }
        return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_PROPERTY, "no property %s", property);
}

/* --- reads --- */

static int method_get_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Manager *m = b->manager;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *hk = cpumask_format_list(&m->config->housekeeping);
        CpuMask iso;
        int r;

        config_isolated_cpus(m->config, &iso);
        g_autofree char *isolated = cpumask_format_list(&iso);
        g_autofree char *online = cpumask_format_list(&m->topology->online);

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0) r = append_sv(reply, "version", "s", ISOLATORD_VERSION);
        if (r >= 0) r = append_sv(reply, "state", "s", manager_state_to_string(m->state));
        if (r >= 0) r = append_sv(reply, "housekeeping", "s", hk);
        if (r >= 0) r = append_sv(reply, "isolated", "s", isolated);
        if (r >= 0) r = append_sv(reply, "online", "s", online);
        if (r >= 0) {
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0) r = sd_bus_message_append_basic(reply, 's', "groups");
                if (r >= 0) r = sd_bus_message_open_container(reply, 'v', "aa{sv}");
                if (r >= 0) r = append_records(reply, m->config->groups, append_group);
                if (r >= 0) r = sd_bus_message_close_container(reply);
                if (r >= 0) r = sd_bus_message_close_container(reply);
        }
        if (r >= 0) r = append_sv(reply, "findings_count", "u", m->findings->len);
        if (r >= 0) r = append_sv(reply, "required_findings", "u", findings_count_required(m->findings));
        if (r >= 0) r = append_sv(reply, "drift_corrections", "t", m->drift_corrections);
        if (r >= 0) r = append_sv(reply, "verify_count", "t", m->verify_count);
        if (r >= 0) r = append_sv(reply, "apply_count", "t", m->apply_count);
        if (r >= 0) r = append_sv(reply, "resume_count", "t", m->resume_count);
        if (r >= 0) r = append_sv(reply, "cpu_event_count", "t", m->cpu_event_count);
        if (r >= 0) r = append_sv(reply, "event_count", "t", m->event_count);
        SamplerSummary sampler = {};
        bool sampling = manager_sampler_summary(m, &sampler);
        if (r >= 0) r = append_sv(reply, "sampler_running", "b", (int) sampling);
        if (r >= 0) r = append_sv(reply, "latency_exceeded", "t", sampler.exceeded);
        if (r >= 0 && sampling)
                r = append_sv(reply, "latency_threshold_us", "u", sampler.threshold_us);
        if (r >= 0 && sampling)
                r = append_sv(reply, "sampler_memory", "s", sampler.memory);
        if (r >= 0) r = append_sv(reply, "rescan_count", "t", m->rescan_count);
        if (r >= 0) r = append_sv(reply, "last_verify_usec", "t", m->last_verify_usec);
        if (r >= 0) r = append_sv(reply, "verify_interval_sec", "u", m->config->daemon.verify_interval_sec);
        if (r >= 0) r = append_sv(reply, "root", "s", root_dir(m->root));
        if (r >= 0) r = append_sv(reply, "dry_run", "b", (int) m->dry_run);
        if (r >= 0) r = append_sv_strv(reply, "config_sources", m->config->sources);
        if (r >= 0) r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Verify observes and reports; for root it repairs too, as the periodic pass does. A
 * pass scans every IRQ, process and cgroup (a tenth of a second on a 256-CPU machine),
 * so callers share passes: every Verify waiting when a pass runs (it runs after the
 * bus's queued messages) gets that pass's answer. Root's calls get a pass at once;
 * users' at most one a second: a user's Verify within a second of the last pass waits
 * for the next. A flood of Verify calls from users costs one pass and one answer per
 * caller a second, and GetStatus keeps answering between them. */
static void message_unref(void *m) {
        sd_bus_message_unref(m);
}

static int on_verify_pass(sd_event_source *source, void *userdata) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) waiting = g_steal_pointer(&b->verify_waiting);
        bool repair = b->verify_repair;

        b->verify_waiting = g_ptr_array_new_with_free_func(message_unref);
        b->verify_repair = false;
        if (repair)
                manager_verify(b->manager);
        else
                manager_observe(b->manager);
        bus_notify_changes(b);
        for (unsigned i = 0; i < waiting->len; i++) {
                int r = reply_records(waiting->pdata[i], b->manager->findings, append_finding);
                if (r < 0)
                        log_debug_errno(r, "cannot answer a Verify: %m");
        }
        return 0;
}

static int on_verify_next(sd_event_source *source, uint64_t usec, void *userdata) {
        Bus *b = userdata;
        return sd_event_source_set_enabled(b->verify_pass, SD_EVENT_ONESHOT);
}

static int method_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        bool root = auth_caller_is_root(msg);
        int r;

        g_ptr_array_add(b->verify_waiting, sd_bus_message_ref(msg));
        b->verify_repair |= root;
        if (!b->verify_pass) { /* no loop (an in-process test bus): a pass now */
                on_verify_pass(NULL, b);
                return 1;
        }
        if (root || !manager_pass_fresh(b->manager, false))
                r = sd_event_source_set_enabled(b->verify_pass, SD_EVENT_ONESHOT);
        else {
                r = sd_event_source_set_time(b->verify_next,
                                             (uint64_t) b->manager->last_pass_mono_usec + G_USEC_PER_SEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(b->verify_next, SD_EVENT_ONESHOT);
        }
        return r < 0 ? r : 1;
}

static int method_get_irqs(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) report = manager_report(b->manager, &enforcer_irq);
        return reply_records(msg, report, append_irq);
}

static int method_get_workloads(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) report = manager_report(b->manager, &enforcer_workload);
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

static int method_get_noise(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autoptr(GPtrArray) noise = manager_noise(b->manager);
        if (!noise)
                return sd_bus_error_set(error, BUS_ERROR_PREFIX "NotFound", "no noise figures yet: they need two readings, a second apart");
        return reply_records(msg, noise, append_noise);
}

static int method_get_metrics(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        g_autofree char *text = metrics_text(b->manager);
        return sd_bus_reply_method_return(msg, "s", text);
}

static int method_get_boot_parameters(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;
        const Audits *a = b->manager->audits;
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
        const Audits *a = b->manager->audits;
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
        g_autoptr(Config) plan = plan_partition(b->manager->topology, b->manager->config, &notes);
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
#define REQUIRE_AUTH(b, msg, handler, error)                                   \
        do {                                                                   \
                int _r = auth_check((b)->auth, (msg), (handler), (b), (error)); \
                if (_r < 0)                                                    \
                        return _r;                                             \
                if (_r == 0)                                                   \
                        return 1; /* polkit will call us again */             \
        } while (0)

static int reply_after_change(Bus *b, sd_bus_message *msg, bool ok, const GError *e, sd_bus_error *error) {
        bus_notify_changes(b);
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

static int method_revert(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        REQUIRE_AUTH((Bus *) userdata, msg, method_revert, error);
        return run_change(userdata, msg, manager_revert, error);
}

static const sd_bus_vtable isolator_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Housekeeping", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Groups", "a(sss)", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FindingsCount", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DriftCorrections", "t", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
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
        SD_BUS_METHOD_WITH_ARGS("GetMetrics", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", text), method_get_metrics,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("DriftCorrected", SD_BUS_ARGS("s", kind, "s", object, "s", expected, "s", found, "s", why),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("IrqPinned", SD_BUS_ARGS("u", irq, "s", name, "s", cpus), 0),
        SD_BUS_SIGNAL_WITH_ARGS("WorkloadPlaced", SD_BUS_ARGS("s", group, "u", pid, "s", comm), 0),
        SD_BUS_SIGNAL_WITH_ARGS("LatencyExceeded", SD_BUS_ARGS("u", cpu, "t", latency_us, "t", threshold_us), 0),
        SD_BUS_VTABLE_END,
};

int bus_serve(sd_bus *bus, Manager *manager, Bus **out) {
        Bus *b = g_new0(Bus, 1);
        int r;

        assert(bus);
        assert(manager);

        b->bus = sd_bus_ref(bus);
        b->manager = manager;
        b->auth = auth_new(bus);
        b->shown = shown_now(manager);
        b->verify_waiting = g_ptr_array_new_with_free_func(message_unref);
        sd_event *event = sd_bus_get_event(bus);
        if (event) {
                r = sd_event_add_defer(event, &b->verify_pass, on_verify_pass, b);
                if (r >= 0)
                        r = sd_event_add_time(event, &b->verify_next, CLOCK_MONOTONIC, 0, 0, on_verify_next, b);
                if (r >= 0)
                        r = sd_event_source_set_enabled(b->verify_next, SD_EVENT_OFF);
                if (r >= 0)
                        r = sd_event_source_set_priority(b->verify_pass, SD_EVENT_PRIORITY_NORMAL + 10);
                if (r >= 0)
                        r = sd_event_source_set_enabled(b->verify_pass, SD_EVENT_OFF);
                if (r < 0) {
                        bus_free(b);
                        return log_error_errno(r, "cannot set up the shared verify pass: %m");
                }
        }
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
        sd_event_source_disable_unref(b->verify_pass);
        sd_event_source_disable_unref(b->verify_next);
        if (b->verify_waiting)
                g_ptr_array_unref(b->verify_waiting);
        auth_free(b->auth);
        sd_bus_unref(b->bus);
        shown_clear(&b->shown);
        g_free(b);
        return NULL;
}
