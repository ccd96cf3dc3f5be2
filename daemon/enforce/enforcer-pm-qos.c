/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "enforce/enforcer.h"
#include "base/log.h"

/* [Partition] CpuDmaLatencyUs=: a PM QoS request on /dev/cpu_dma_latency, held open
 * while isolatord runs (the kernel drops it when the file is closed). */

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

/* Nothing to read: whether the request is held is the enforcer's own state. */
static void pm_qos_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        PmQosState *s = ctx->state;
        int want = ctx->config->cpu_dma_latency_us;
        g_autofree char *text = g_strdup_printf("%d", want);

        if (s->fd >= 0 && s->value != want)
                difference_add(diffs, finding_new("pm-qos", "cpu_dma_latency", text, "another value", false,
                                                  "the request holds another value"),
                               true, NULL);
        else if (want >= 0 && s->fd < 0)
                difference_add(diffs, finding_new("pm-qos", "cpu_dma_latency", text, "not held", false,
                                                  "deep idle states stay allowed (no /dev/cpu_dma_latency?)"),
                               true, NULL);
        else if (want < 0 && s->fd >= 0)
                difference_add(diffs, finding_new("pm-qos", "cpu_dma_latency", "not held", "held", false,
                                                  "CpuDmaLatencyUs= is off"),
                               true, NULL);
}

static int pm_qos_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        PmQosState *s = ctx->state;
        int want = ctx->config->cpu_dma_latency_us;

        if (diffs->len == 0)
                return 0;
        pm_qos_release(s);
        if (want < 0 || ctx->dry_run) {
                ((Difference *) diffs->pdata[0])->repaired = true;
                return 0;
        }
        /* The request lasts as long as the file stays open; the kernel reads an s32. */
        g_autofree char *path = root_path(ctx->root, PM_QOS_REL);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        int32_t v = want;
        if (fd < 0 || write(fd, &v, sizeof v) != (ssize_t) sizeof v) {
                int r = -errno;
                if (fd >= 0)
                        close(fd);
                if (enforcer_refusal_new(ctx, PM_QOS_REL, r))
                        log_warning_errno(r, "cannot hold %s at %d us: %m", path, want);
                return 0;
        }
        s->fd = fd;
        s->value = want;
        enforcer_refusal_clear(ctx, PM_QOS_REL);
        ((Difference *) diffs->pdata[0])->repaired = true;
        log_info("PM QoS: cpu_dma_latency held at %d us", want);
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
        .diff = pm_qos_diff,
        .apply = pm_qos_apply,
        .revert = pm_qos_revert,
};
