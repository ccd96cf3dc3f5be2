/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "enforcer.h"
#include "log.h"

/* The governor of each group's CPUs (performance by default), where cpufreq exists;
 * and the PM QoS request that keeps CPUs out of deep idle states while isolatord runs. */

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
                CPUSET_FOREACH(cpu, &g->cpus) {
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

static int cpufreq_apply(const EnforcerContext *ctx, GPtrArray *changes) {
        g_autoptr(GArray) files = governor_files(ctx);
        g_autoptr(GArray) writes = g_array_new(false, true, sizeof(EnforcerWrite));

        for (unsigned i = 0; i < files->len; i++) {
                GovernorFile *f = &g_array_index(files, GovernorFile, i);
                if (f->available && !g_str_equal(f->have, f->want)) {
                        EnforcerWrite w = { f->rel, (char *) f->want };
                        g_array_append_val(writes, w);
                }
        }
        g_autofree int *results = g_new0(int, MAX(writes->len, 1u));
        int r = enforcer_write_batch(ctx, (EnforcerWrite *) writes->data, writes->len, results);
        for (unsigned i = 0; r >= 0 && i < writes->len; i++) {
                const EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                if (results[i] < 0)
                        log_warning_errno(results[i], "%s refuses %s: %m", w->rel, w->value);
                else
                        g_ptr_array_add(changes, finding_new("governor", w->rel, w->value, "", false, "set"));
        }
        return r;
}

static int cpufreq_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autoptr(GArray) files = governor_files(ctx);
        for (unsigned i = 0; i < files->len; i++) {
                GovernorFile *f = &g_array_index(files, GovernorFile, i);
                if (g_str_equal(f->have, f->want))
                        continue;
                g_autofree char *cpu = g_strndup(f->rel + strlen("sys/devices/system/cpu/"),
                                                 strcspn(f->rel + strlen("sys/devices/system/cpu/"), "/"));
                g_ptr_array_add(findings, finding_new("governor", cpu, f->want, f->have, f->available,
                                                      f->available ? "the CPU's frequency governor differs"
                                                                   : "the cpufreq driver does not offer this governor"));
        }
        return 0;
}

const EnforcerOps enforcer_cpufreq = {
        .name = "cpufreq",
        .verify = cpufreq_verify,
        .apply = cpufreq_apply,
};

/* --- PM QoS: /dev/cpu_dma_latency, held open --- */

#define PM_QOS_REL "dev/cpu_dma_latency"

typedef struct PmQosState {
        int fd;
        int value;
} PmQosState;

static void *pm_qos_state_new(void) {
        PmQosState *s = g_new0(PmQosState, 1);
        s->fd = -1;
        return s;
}

static void pm_qos_release(PmQosState *s) {
        if (s->fd >= 0) {
                close(s->fd);
                log_info("PM QoS request released");
        }
        s->fd = -1;
}

static void pm_qos_state_free(void *p) {
        if (!p)
                return;
        pm_qos_release(p);
        g_free(p);
}

static int pm_qos_apply(const EnforcerContext *ctx, GPtrArray *changes) {
        PmQosState *s = ctx->state;
        int want = ctx->config->cpu_dma_latency_us;

        if (s->fd >= 0 && s->value == want)
                return 0;
        pm_qos_release(s);
        if (want < 0 || ctx->dry_run)
                return 0;
        /* The request lasts as long as the file stays open; the kernel reads an s32. */
        g_autofree char *path = root_path(ctx->root, PM_QOS_REL);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        int32_t v = want;
        if (fd < 0 || write(fd, &v, sizeof v) != (ssize_t) sizeof v) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                return log_warning_errno(r, "cannot hold %s at %d us: %m", path, want);
        }
        s->fd = fd;
        s->value = want;
        g_autofree char *text = g_strdup_printf("%d", want);
        g_ptr_array_add(changes, finding_new("pm-qos", "cpu_dma_latency", text, "", false, "held"));
        log_info("PM QoS: cpu_dma_latency held at %d us", want);
        return 0;
}

static int pm_qos_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        PmQosState *s = ctx->state;
        int want = ctx->config->cpu_dma_latency_us;
        if (want >= 0 && s->fd < 0) {
                g_autofree char *text = g_strdup_printf("%d", want);
                g_ptr_array_add(findings, finding_new("pm-qos", "cpu_dma_latency", text, "not held", false,
                                                      "deep idle states stay allowed (no /dev/cpu_dma_latency?)"));
        }
        return 0;
}

static int pm_qos_revert(const EnforcerContext *ctx) {
        pm_qos_release(ctx->state);
        return 0;
}

const EnforcerOps enforcer_pm_qos = {
        .name = "pm_qos",
        .state_new = pm_qos_state_new,
        .state_free = pm_qos_state_free,
        .verify = pm_qos_verify,
        .apply = pm_qos_apply,
        .revert = pm_qos_revert,
};
