/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "enforce/enforcer.h"
#include "base/log.h"

/* The governor of each group's CPUs (performance by default), where cpufreq exists.
 * (The PM QoS request that keeps CPUs out of deep idle states: enforcer-pm-qos.c.) */

typedef struct GovernorFile {
        char *rel;
        const char *want;
        char *have;
        bool available;   /* the driver offers the governor */
} GovernorFile;

static void governor_file_clear(GovernorFile *g) {
        g_free(g->rel);
        g_free(g->have);
}

static GArray *governor_files(const EnforcerContext *ctx) {
        GArray *out = g_array_new(false, true, sizeof(GovernorFile));
        g_array_set_clear_func(out, (GDestroyNotify) governor_file_clear);
        for (unsigned i = 0; i < ctx->config->groups->len; i++) {
                const GroupConfig *g = ctx->config->groups->pdata[i];
                if (!g->governor)
                        continue;
                CPUMASK_FOREACH(cpu, &g->cpus) {
                        GovernorFile f = { g_strdup_printf("sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor", cpu),
                                           g->governor, NULL, true };
                        g_autofree char *avail_rel = g_strdup_printf(
                                "sys/devices/system/cpu/cpu%d/cpufreq/scaling_available_governors", cpu);
                        g_autofree char *avail = NULL;
                        if (root_read_line(ctx->root, f.rel, &f.have) < 0) {
                                governor_file_clear(&f); /* no cpufreq for this CPU */
                                continue;
                        }
                        g_strstrip(f.have);
                        if (root_read_line(ctx->root, avail_rel, &avail) >= 0) {
                                g_auto(GStrv) govs = g_strsplit(g_strstrip(avail), " ", -1);
                                f.available = g_strv_contains((const char *const *) govs, f.want);
                        }
                        g_array_append_val(out, f);
                }
        }
        return out;
}

static void *cpufreq_observe(const EnforcerContext *ctx, const Trigger *scope) {
        return governor_files(ctx);
}

static void cpufreq_observation_free(void *p) {
        g_array_unref(p);
}

static void cpufreq_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const GArray *files = obs;
        for (unsigned i = 0; i < files->len; i++) {
                const GovernorFile *f = &g_array_index(files, GovernorFile, i);
                if (g_str_equal(f->have, f->want))
                        continue;
                g_autofree char *cpu = g_strndup(f->rel + strlen("sys/devices/system/cpu/"),
                                                 strcspn(f->rel + strlen("sys/devices/system/cpu/"), "/"));
                difference_add(diffs, finding_new("governor", cpu, f->want, f->have, f->available,
                                                  f->available ? "the CPU's frequency governor differs"
                                                               : "the cpufreq driver does not offer this governor"),
                               f->available, f);
        }
}

static int cpufreq_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        g_autoptr(GArray) writes = g_array_new(false, true, sizeof(EnforcerWrite));
        g_autoptr(GPtrArray) planned = g_ptr_array_new();

        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                const GovernorFile *f = d->object;
                if (!d->repairable)
                        continue;
                EnforcerWrite w = { f->rel, (char *) f->want };
                g_array_append_val(writes, w);
                g_ptr_array_add(planned, d);
        }
        g_autofree int *results = g_new0(int, MAX(writes->len, 1u));
        int r = enforcer_write_batch(ctx, (EnforcerWrite *) writes->data, writes->len, results);
        for (unsigned i = 0; r >= 0 && i < writes->len; i++) {
                const EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                Difference *d = planned->pdata[i];
                if (results[i] >= 0) {
                        enforcer_refusal_clear(ctx, w->rel);
                        d->repaired = true;
                        continue;
                }
                const char *why = enforcer_refusal(results[i]) ? enforcer_refusal(results[i]) : g_strerror(-results[i]);
                if (enforcer_refusal_new(ctx, w->rel, results[i]))
                        log_warning("%s refuses %s: %s", w->rel, w->value, why);
                g_free(d->finding->message);
                d->finding->message = g_strdup(why);
        }
        return r;
}

const EnforcerOps enforcer_cpufreq = {
        .name = "cpufreq",
        .observe = cpufreq_observe,
        .observation_free = cpufreq_observation_free,
        .diff = cpufreq_diff,
        .apply = cpufreq_apply,
};
