/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "audits.h"
#include "enforcer.h"
#include "error.h"
#include "finding.h"
#include "log.h"
#include "manager.h"
#include "partition.h"

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

static EnforcerContext manager_context(const Manager *m, size_t i, PassShared *shared) {
        return (EnforcerContext) {
                .root = m->root,
                .host = m->host,
                .cgroups = m->cgroups,
                .config = m->config,
                .topology = m->topology,
                .audits = m->audits,
                .dry_run = m->dry_run,
                .originals = m->originals,
                .state = m->enforcer_states[i],
                .events = &m->sink,
                .shared = shared,
                .refusals = m->refusals,
                .bus_names = m->bus_names,
                .fighters = m->fighters,
                .rewrites = m->rewrites,
        };
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
        who = g_hash_table_lookup(m->fighters, f->kind);
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
        case EVENT_LATENCY_EXCEEDED:
                break;
        }
        if (m->listener.emit)
                m->listener.emit(e, m->listener.userdata);
}

void manager_set_listener(Manager *m, const EventSink *listener) {
        m->listener = listener ? *listener : (EventSink) {};
}

typedef struct ExceededSent {
        uint64_t count;            /* the CPU's exceeded count when last reported */
        int64_t at_usec;           /* CLOCK_MONOTONIC */
} ExceededSent;

void manager_latency_check(Manager *m) {
        g_autoptr(GPtrArray) stats = NULL;
        int64_t now = g_get_monotonic_time();

        if (!m->sampler)
                return;
        stats = sampler_stats(m->sampler);
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *l = stats->pdata[i];
                ExceededSent *sent = g_hash_table_lookup(m->exceeded_sent, GINT_TO_POINTER(l->cpu + 1));
                if (!l->measured || l->exceeded == 0)
                        continue;
                if (!sent) {
                        sent = g_new0(ExceededSent, 1);
                        g_hash_table_insert(m->exceeded_sent, GINT_TO_POINTER(l->cpu + 1), sent);
                } else if (l->exceeded <= sent->count || now - sent->at_usec < G_USEC_PER_SEC) {
                        if (l->exceeded < sent->count)
                                sent->count = 0; /* reset meanwhile */
                        continue;
                }
                on_event(&(Event) { .kind = EVENT_LATENCY_EXCEEDED, .cpu = (unsigned) l->cpu,
                                    .latency_us = l->last_exceeded_us,
                                    .threshold_us = sampler_options(m->sampler)->threshold_us },
                         m);
                sent->count = l->exceeded;
                sent->at_usec = now;
        }
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
static EnforcerContext context_of(const Manager *m, const EnforcerOps *ops, PassShared *shared) {
        for (size_t i = 0; enforcers[i]; i++)
                if (enforcers[i] == ops)
                        return manager_context(m, i, shared);
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

void manager_event(Manager *m, const Trigger *t) {
        g_auto(PassShared) shared = {};
        unsigned repaired = 0;

        assert(m);
        assert(t);
        if (t->kind == TRIGGER_DEVICE || t->kind == TRIGGER_LINK) {
                m->event_count += MAX(t->count, 1u);
                m->rescan_count++;
        }
        if (t->kind == TRIGGER_CPU) {
                /* The partition is the manager's: validated again, and a partition that
                 * was kept from applying by an offline CPU is applied once it is back. */
                g_autoptr(GError) e = NULL;
                m->cpu_event_count += MAX(t->count, 1u);
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
                        EnforcerContext ctx = manager_context(m, i, &shared);
                        repaired += enforcer_reconcile(&ctx, enforcers[i], t, true, NULL);
                }
        if (t->kind == TRIGGER_DEVICE || t->kind == TRIGGER_LINK)
                log_debug("rescan for %u event(s): %u change(s)", MAX(t->count, 1u), repaired);
}

GPtrArray *manager_report(Manager *m, const EnforcerOps *ops) {
        g_auto(PassShared) shared = {};
        EnforcerContext ctx = context_of(m, ops, &shared);
        assert(ops->report);
        return ops->report(&ctx);
}

GPtrArray *manager_watch_dirs(Manager *m) {
        GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
        g_auto(PassShared) shared = {};
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = manager_context(m, i, &shared);
                if (!enforcers[i]->watch_dirs)
                        continue;
                g_autoptr(GPtrArray) rel = enforcers[i]->watch_dirs(&ctx);
                for (unsigned j = 0; j < rel->len; j++)
                        g_ptr_array_add(dirs, g_strdup(rel->pdata[j]));
        }
        return dirs;
}

bool manager_watch_relevant(const Manager *m, const char *name) {
        for (size_t i = 0; enforcers[i]; i++)
                if (enforcers[i]->watch_dirs && (!enforcers[i]->watch_relevant || enforcers[i]->watch_relevant(name)))
                        return true;
        return false;
}

int manager_sampler_start(Manager *m) {
        const SamplerConfig *sc = &m->config->sampler;
        SamplerOptions o = {
                .interval_us = sc->interval_us,
                .threshold_us = sc->threshold_us,
                .priority = (int) sc->priority,
                .hist_max_us = sc->hist_max_us,
                .pm_qos = sc->pm_qos,
                .lock_memory = true,
                .event_fd = m->sampler_event_fd,
                .host_cpus = m->host_cpus,
        };

        if (m->sampler)
                return 0;
        if (sc->has_cpus)
                o.cpus = sc->cpus;
        else
                config_isolated_cpus(m->config, &o.cpus);
        int r = sampler_start(&o, &m->sampler);
        if (r < 0)
                return log_error_errno(r, "cannot start the latency sampler: %m");
        g_autofree char *cpus = cpumask_format_list(&o.cpus);
        log_info("latency sampler on CPUs %s every %u us (SCHED_FIFO %d)", cpus, o.interval_us, o.priority);
        return 0;
}

void manager_sampler_stop(Manager *m) {
        m->sampler = sampler_stop(m->sampler);
        g_hash_table_remove_all(m->exceeded_sent);
}

bool manager_sampler_summary(const Manager *m, SamplerSummary *out) {
        if (!m->sampler)
                return false;
        const char *why = sampler_memory_not_locked(m->sampler);
        *out = (SamplerSummary) {
                .exceeded = sampler_exceeded_total(m->sampler),
                .threshold_us = sampler_options(m->sampler)->threshold_us,
                .memory = why ? why : "locked",
        };
        return true;
}

GPtrArray *manager_latency(Manager *m) {
        return m->sampler ? sampler_stats(m->sampler) : NULL;
}

void manager_latency_reset(Manager *m) {
        if (m->sampler)
                sampler_reset(m->sampler);
}

void manager_noise_tick(Manager *m, uint64_t now_ns) {
        noise_reading_free(m->noise_before);
        m->noise_before = m->noise_after;
        m->noise_after = noise_read(m->root, now_ns);
}

GPtrArray *manager_noise(Manager *m) {
        g_autoptr(GPtrArray) irqs = NULL;
        g_autoptr(GHashTable) names = NULL;

        if (!m->noise_before || !m->noise_after)
                return NULL;
        /* Names for the device IRQs: a scan only when someone asks. */
        irqs = irq_scan(m->root);
        names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (unsigned i = 0; i < irqs->len; i++) {
                const Irq *irq = irqs->pdata[i];
                g_hash_table_insert(names, g_strdup_printf("%u", irq->num), g_strdup(irq->name));
        }
        return noise_rates(m->noise_before, m->noise_after, &m->topology->online, names);
}

void manager_stop(Manager *m) {
        g_autoptr(GError) e = NULL;
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

/* One pass over every domain: repaired first when asked and applied, then observed. */
static int pass(Manager *m, bool repair) {
        g_autoptr(GPtrArray) findings = findings_new();

        assert(m);

        refresh_online(m);
        repair = repair && applied(m);
        add_partition_findings(m, findings);
        for (unsigned i = 0; i < m->originals_findings->len; i++) {
                const Finding *f = m->originals_findings->pdata[i];
                g_ptr_array_add(findings, finding_copy(f));
        }
        /* Each domain observed once: what differs is repaired (when asked) or reported;
         * what several read (the processes) is read once for all. */
        g_auto(PassShared) shared = {};
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = manager_context(m, i, &shared);
                enforcer_reconcile(&ctx, enforcers[i], NULL, repair, findings);
        }
        g_ptr_array_unref(m->findings);
        m->findings = g_steal_pointer(&findings);
        m->verify_count++;
        m->last_verify_usec = now_realtime_usec();
        m->last_pass_mono_usec = g_get_monotonic_time();
        m->last_pass_repaired = repair;

        if (partition_blocks(m))
                m->state = MANAGER_INACTIVE;
        else if (m->state != MANAGER_REVERTED && m->state != MANAGER_INACTIVE)
                m->state = findings_count_required(m->findings) > 0 ? MANAGER_DEGRADED : MANAGER_ACTIVE;
        return 0;
}

int manager_verify(Manager *m) {
        return pass(m, true);
}

int manager_observe(Manager *m) {
        return pass(m, false);
}

bool manager_pass_fresh(const Manager *m, bool repaired) {
        return m->verify_count > 0 && g_get_monotonic_time() - m->last_pass_mono_usec < G_USEC_PER_SEC &&
               (!repaired || m->last_pass_repaired);
}

bool manager_apply(Manager *m, GError **error) {
        assert(m);

        if (!partition_ok(m)) {
                const Diagnostic *d = m->diagnostics->pdata[0];
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_PARTITION,
                            "the partition is invalid for this machine, nothing was applied: %s", d->message);
                return false;
        }
        m->state = MANAGER_ACTIVE; /* verify applies, then refines it to degraded */
        m->apply_count++;
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
        m->resume_count++;
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
static bool manager_swap_config(Manager *m, Config *c, GPtrArray *diags, GError **error) {
        config_free(m->config);
        m->config = c;
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
        return manager_swap_config(m, c, diags, error);
}

char *manager_state_dropin(const Manager *m) {
        return g_strconcat(m->config_path, ".d/99-isolatord-set.conf", NULL);
}

/* Writes the CPUs of every group into the drop-in. All of them, not only the group that
 * moved: the drop-in declares groups, and a file that declares some groups replaces the
 * default ones, so a partial one would lose groups at the next start. */
static bool persist_partition(const Manager *m, const Config *c, GError **error) {
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
        g_auto(PassShared) shared = {};
        for (size_t i = 0; enforcers[i]; i++) {
                EnforcerContext ctx = manager_context(m, i, &shared);
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
                EnforcerContext ctx = manager_context(m, 0, &shared);
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
        g_hash_table_remove_all(m->refusals); /* said again should they recur after the next Apply */
        m->state = MANAGER_REVERTED;
        manager_verify(m);
        if (failures > 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO,
                            "%u file(s) could not be restored and keep their saved originals; see the log", failures);
                return false;
        }
        return true;
}

/* The machine the originals belong to: this root, this boot. */
static char *machine_identity(const Root *root) {
        g_autofree char *boot = NULL;
        if (root_read_line(root, "proc/sys/kernel/random/boot_id", &boot) < 0 || !*g_strstrip(boot))
                g_free(g_steal_pointer(&boot)), boot = g_strdup("unknown");
        return g_strdup_printf("root=%s boot=%s", root_dir(root), boot);
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
        /* Before isolatord pins itself to housekeeping: the CPUs that exist for it (not
         * read from /sys, which may be a test's; not --root's, which describes another
         * machine). */
        cpu_set_t allowed;
        if (sched_getaffinity(0, sizeof allowed, &allowed) >= 0)
                for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
                        if (CPU_ISSET(cpu, &allowed))
                                cpumask_add(&m->host_cpus, (unsigned) cpu);

        assert(o);
        assert(out);

        m->root = root_new(o->root);
        m->host = root_new("/");
        m->cgroups = cgroups_new();
        m->config_path = g_strdup(o->config_path);
        m->config_must_exist = o->config_must_exist;
        m->dry_run = o->dry_run;
        m->findings = findings_new();
        m->state = MANAGER_INACTIVE;
        m->runtime_dir = g_strdup(o->runtime_dir ? o->runtime_dir : manager_default_runtime_dir());
        m->sink = (EventSink) { on_event, m };
        m->exceeded_sent = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        m->drift_by_kind = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        m->refusals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        m->fighters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        m->rewrites = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        size_t n = 0;
        while (enforcers[n])
                n++;
        m->enforcer_states = g_new0(void *, n + 1);
        for (size_t i = 0; i < n; i++)
                if (enforcers[i]->state_new)
                        m->enforcer_states[i] = enforcers[i]->state_new();

        m->sampler_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (open_originals(m, error) < 0 || topology_load(m->root, &m->topology, error) < 0 ||
            config_load(m->config_path, m->config_must_exist, &m->config, error) < 0)
                return false;
        m->diagnostics = partition_validate(m->config, m->topology);
        m->audits = audits_new(m->config, m->root);
        if (partition_ok(m)) {
                if (!manager_apply(m, error))
                        return false;
        } else {
                log_error("the partition is invalid for this machine; isolatord stays inactive until a valid "
                          "configuration is loaded (isolatord --check-config shows why)");
                manager_verify(m);
        }
        *out = g_steal_pointer(&m);
        return true;
}

void manager_free(Manager *m) {
        if (!m)
                return;
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
        for (size_t i = 0; m->enforcer_states && enforcers[i]; i++)
                if (enforcers[i]->state_free)
                        enforcers[i]->state_free(m->enforcer_states[i]);
        g_free(m->enforcer_states);
        originals_free(m->originals);
        if (m->originals_findings)
                g_ptr_array_unref(m->originals_findings);
        cgroups_free(m->cgroups);
        sampler_stop(m->sampler);
        if (m->exceeded_sent)
                g_hash_table_unref(m->exceeded_sent);
        if (m->refusals)
                g_hash_table_unref(m->refusals);
        if (m->bus_names)
                g_hash_table_unref(m->bus_names);
        if (m->fighters)
                g_hash_table_unref(m->fighters);
        if (m->rewrites)
                g_hash_table_unref(m->rewrites);
        if (m->drift_by_kind)
                g_hash_table_unref(m->drift_by_kind);
        if (m->sampler_event_fd >= 0)
                close(m->sampler_event_fd);
        noise_reading_free(m->noise_before);
        noise_reading_free(m->noise_after);
        g_free(m->runtime_dir);
        g_free(m);
}
