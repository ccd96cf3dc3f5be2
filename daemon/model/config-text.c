/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Config written back as the file that loads into it: isolatord --plan and Plan(). */
#include <string.h>

#include "model/config.h"

/* A value as GKeyFile reads it back unchanged ('\\', leading spaces, ';' in lists...). */
static char *escaped(const char *value) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_key_file_set_string(kf, "x", "k", value);
        return g_key_file_get_value(kf, "x", "k", NULL);
}

static char *escaped_list(char **values) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_key_file_set_string_list(kf, "x", "k", (const char *const *) values, g_strv_length(values));
        g_autofree char *v = g_key_file_get_value(kf, "x", "k", NULL);
        /* GKeyFile ends a list with ';'; the files here do not. */
        if (g_str_has_suffix(v, ";") && !g_str_has_suffix(v, "\\;"))
                v[strlen(v) - 1] = '\0';
        return g_steal_pointer(&v);
}

/* KEY=a;b, or nothing for an empty list. */
static void append_list(GString *out, const char *key, char **values) {
        if (!values[0])
                return;
        g_autofree char *v = escaped_list(values);
        g_string_append_printf(out, "%s=%s\n", key, v);
}

static void append_header(GString *out, const char *header) {
        g_auto(GStrv) lines = g_strsplit(header, "\n", -1);

        for (char **l = lines; *l; l++)
                g_string_append_printf(out, "#%s%s\n", **l ? " " : "", *l);
        g_string_append_c(out, '\n');
}

static void append_partition(GString *out, const Config *c) {
        g_autofree char *hk = cpumask_format_list(&c->housekeeping);

        g_string_append_printf(out, "[Partition]\nHousekeeping=%s\n", hk);
        if (c->cpu_dma_latency_us >= 0)
                g_string_append_printf(out, "CpuDmaLatencyUs=%d\n", c->cpu_dma_latency_us);
        append_list(out, "AudioPaths", c->audio_paths);
}

static void append_group(GString *out, const GroupConfig *g) {
        g_autofree char *cpus = cpumask_format_list(&g->cpus);
        g_autofree char *slice = escaped(g->slice);
        /* Always, even empty: an empty Match= overrides a default group's. */
        g_autofree char *match = g->match[0] ? escaped_list(g->match) : g_strdup("");

        g_string_append_printf(out, "\n[Group %s]\nCPUs=%s\nSlice=%s\nMatch=%s\n", g->name, cpus, slice, match);
        append_list(out, "User", g->users);
        append_list(out, "Unit", g->units);
        if (g->sched_policy != SCHED_POLICY_UNSET)
                g_string_append_printf(out, "SchedPolicy=%s\n", sched_policy_to_string(g->sched_policy));
        if (g->sched_priority > 0)
                g_string_append_printf(out, "SchedPriority=%d\n", g->sched_priority);
        if (g->partition_isolated)
                g_string_append(out, "Partition=isolated\n");
        g_string_append_printf(out, "Governor=%s\n", g->governor ? g->governor : "keep");
}

static void append_irq_rule(GString *out, const IrqRule *r) {
        g_autofree char *match = escaped_list(r->match);
        g_autofree char *cpus = r->housekeeping ? g_strdup("housekeeping")
                                : r->group    ? g_strdup(r->group)
                                              : cpumask_format_list(&r->cpus);

        g_string_append_printf(out, "\n[Irq %s]\n", r->name);
        if (r->match[0])
                g_string_append_printf(out, "Match=%s\n", match);
        if (r->drivers && r->drivers[0]) {
                g_autofree char *drivers = escaped_list(r->drivers);
                g_string_append_printf(out, "Driver=%s\n", drivers);
        }
        g_string_append_printf(out, "CPUs=%s\n", cpus);
        if (r->thread_priority > 0)
                g_string_append_printf(out, "ThreadPriority=%d\n", r->thread_priority);
}

static void append_thread_rule(GString *out, const ThreadRule *r) {
        g_autofree char *match = escaped_list(r->match);

        g_string_append_printf(out, "\n[Thread %s]\nGroup=%s\nMatch=%s\n", r->name, r->group, match);
        if (r->has_cpus) {
                g_autofree char *cpus = cpumask_format_list(&r->cpus);
                g_string_append_printf(out, "CPUs=%s\n", cpus);
        }
        if (r->sched_policy != SCHED_POLICY_UNSET)
                g_string_append_printf(out, "SchedPolicy=%s\n", sched_policy_to_string(r->sched_policy));
        if (r->sched_priority > 0)
                g_string_append_printf(out, "SchedPriority=%d\n", r->sched_priority);
}

static char *net_cpus_text(NetCpusMode mode, const CpuMask *cpus) {
        return mode == NET_CPUS_HOUSEKEEPING ? g_strdup("housekeeping")
               : mode == NET_CPUS_KEEP ? g_strdup("keep") : cpumask_format_list(cpus);
}

static void append_network(GString *out, const NetworkConfig *n) {
        g_autofree char *rps = net_cpus_text(n->rps_mode, &n->rps);
        g_autofree char *xps = net_cpus_text(n->xps_mode, &n->xps);

        g_string_append_printf(out, "\n[Network]\nRpsCpus=%s\nXpsCpus=%s\n", rps, xps);
}

static void append_sampler(GString *out, const SamplerConfig *s) {
        g_string_append_printf(out, "\n[Sampler]\nEnabled=%s\nSource=%s\nIntervalUs=%u\nThresholdUs=%u\n",
                               s->enabled ? "true" : "false", sampler_source_to_string(s->source), s->interval_us,
                               s->threshold_us);
        if (s->has_cpus) {
                g_autofree char *cpus = cpumask_format_list(&s->cpus);
                g_string_append_printf(out, "CPUs=%s\n", cpus);
        }
        g_string_append_printf(out, "Priority=%u\nPmQos=%s\nHistogramMaxUs=%u\n", s->priority,
                               s->pm_qos ? "true" : "false", s->hist_max_us);
}

static void append_daemon(GString *out, const DaemonConfig *d) {
        g_string_append_printf(out, "\n[Daemon]\nVerifyIntervalSec=%u\nUdevMonitor=%s\nCgroupBackend=%s\n"
                               "SystemdAddress=%s\nRestoreOnExit=%s\nDriftBurst=%u\nIrqBalance=%s\n"
                               "StarvationGuard=%s\nStarvationSec=%u\n",
                               d->verify_interval_sec, d->udev_monitor, cgroup_backend_to_string(d->cgroup_backend),
                               d->systemd_address, d->restore_on_exit ? "true" : "false", d->drift_burst,
                               irqbalance_mode_to_string(d->irqbalance), starvation_guard_to_string(d->starvation_guard),
                               d->starvation_sec);
}

static void append_metrics(GString *out, const MetricsConfig *m) {
        g_string_append_printf(out, "\n[Metrics]\nTextfileDir=%s\nIntervalSec=%u\n",
                               m->textfile_dir ? m->textfile_dir : "", m->interval_sec);
}

char *config_to_text(const Config *c, const char *header) {
        GString *out = g_string_new(NULL);

        if (header)
                append_header(out, header);
        append_partition(out, c);
        for (unsigned i = 0; i < c->groups->len; i++)
                append_group(out, c->groups->pdata[i]);
        for (unsigned i = 0; i < c->irq_rules->len; i++)
                append_irq_rule(out, c->irq_rules->pdata[i]);
        for (unsigned i = 0; i < c->thread_rules->len; i++)
                append_thread_rule(out, c->thread_rules->pdata[i]);
        append_network(out, &c->network);
        append_sampler(out, &c->sampler);
        append_daemon(out, &c->daemon);
        append_metrics(out, &c->metrics);
        return g_string_free(out, false);
}
