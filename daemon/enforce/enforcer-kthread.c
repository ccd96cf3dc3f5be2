/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "enforce/enforcer.h"
#include "base/log.h"
#include "kernel/task.h"

/* Kernel threads that may move (kthreadd, whose children inherit its CPUs; rcuo/rcuop
 * callback threads; other unbound ones) go to housekeeping. Per-CPU threads carry
 * PF_NO_SETAFFINITY and are left alone, as are unbound workqueue workers, which the
 * workqueue cpumask steers. A thread that refuses is a finding. */

#define WQ_CPUMASK "sys/devices/virtual/workqueue/cpumask"

typedef struct Kthread {
        pid_t pid;
        uint64_t start_time;
        char comm[64];
        CpuMask cpus;
} Kthread;

/* The movable kernel threads not on housekeeping. */
static GArray *misplaced(const EnforcerContext *ctx) {
        const GArray *tasks = pass_inputs_tasks(ctx->inputs);
        GArray *out = g_array_new(false, true, sizeof(Kthread));

        for (unsigned i = 0; i < tasks->len; i++) {
                const Task *t = &g_array_index(tasks, Task, i);
                Kthread k = { .pid = t->pid, .start_time = t->stat.start_time };
                if (!(t->stat.flags & TASK_PF_KTHREAD) || (t->stat.flags & TASK_PF_NO_SETAFFINITY))
                        continue;
                if (task_get_affinity(ctx->root, t->pid, &k.cpus) < 0 || cpumask_equal(&k.cpus, &ctx->config->housekeeping))
                        continue;
                g_strlcpy(k.comm, t->stat.comm, sizeof k.comm);
                g_array_append_val(out, k);
        }
        return out;
}

typedef struct KthreadObservation {
        GArray *misplaced;     /* Kthread */
        char *workqueue;       /* the unbound workqueue cpumask, NULL on older kernels */
} KthreadObservation;

static void kthread_observation_free(void *p) {
        KthreadObservation *o = p;
        g_array_unref(o->misplaced);
        g_free(o->workqueue);
        g_free(o);
}

static void *kthread_observe(const EnforcerContext *ctx, const Trigger *scope) {
        KthreadObservation *o = g_new0(KthreadObservation, 1);
        o->misplaced = misplaced(ctx);
        if (root_read_line(ctx->root, WQ_CPUMASK, &o->workqueue) >= 0)
                g_strstrip(o->workqueue);
        return o;
}

static void kthread_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const KthreadObservation *o = obs;
        g_autofree char *hk = cpumask_format_list(&ctx->config->housekeeping);
        CpuMask cur;

        for (unsigned i = 0; i < o->misplaced->len; i++) {
                const Kthread *k = &g_array_index(o->misplaced, Kthread, i);
                g_autofree char *was = cpumask_format_list(&k->cpus);
                g_autofree char *object = g_strdup_printf("%d %s", (int) k->pid, k->comm);
                difference_add(diffs, finding_new("kthread", object, hk, was, false,
                                                  "a movable kernel thread outside housekeeping (it may refuse)"),
                               true, k);
        }
        if (o->workqueue &&
            (cpumask_parse_mask(o->workqueue, &cur, NULL) < 0 || !cpumask_equal(&cur, &ctx->config->housekeeping))) {
                g_autofree char *mask = cpumask_format_mask(&ctx->config->housekeeping, ctx->topology->nr_cpus);
                difference_add(diffs, finding_new("workqueue", "cpumask", mask, o->workqueue, true,
                                                  "unbound workqueue work may run on the audio CPUs"),
                               true, NULL);
        }
}

static int kthread_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                const Kthread *k = d->object;
                if (!k) { /* the workqueue cpumask */
                        EnforcerWrite w = { (char *) WQ_CPUMASK, d->finding->expected };
                        int result;
                        int r = enforcer_write_batch(ctx, &w, 1, &result);
                        if (r < 0)
                                return r;
                        if (result < 0 && enforcer_refusal_new(ctx, WQ_CPUMASK, result))
                                log_warning("the workqueue cpumask refuses %s: %s", w.value,
                                            enforcer_refusal(result) ? enforcer_refusal(result) : g_strerror(-result));
                        else if (result >= 0)
                                enforcer_refusal_clear(ctx, WQ_CPUMASK);
                        d->repaired = result >= 0;
                        continue;
                }
                g_autofree char *what = enforcer_task_entry("affinity", k->pid, k->start_time, k->comm);
                if (enforcer_save_original(ctx, &enforcer_kthread, what, d->finding->actual) < 0)
                        return -EIO;
                if (ctx->dry_run) {
                        log_info("dry run: would pin kernel thread %d %s to %s", (int) k->pid, k->comm,
                                 d->finding->expected);
                        d->repaired = true;
                        continue;
                }
                int r = task_set_affinity(ctx->root, k->pid, &ctx->config->housekeeping);
                if (r < 0)
                        log_debug_errno(r, "kernel thread %d %s keeps CPUs %s: %m", (int) k->pid, k->comm,
                                        d->finding->actual);
                d->repaired = r >= 0;
        }
        return 0;
}

static char *kthread_check_original(const char *what, const char *value) {
        g_autofree char *kind = NULL;
        CpuMask cpus;
        if (!enforcer_parse_task_entry(what, &kind, NULL, NULL, NULL) || !g_str_equal(kind, "affinity"))
                return g_strdup("not \"affinity PID START NAME\"");
        if (cpumask_parse_list(value, &cpus, NULL) < 0)
                return g_strdup("the saved CPUs are not a CPU list");
        return NULL;
}

static int kthread_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        /* "affinity PID START COMM": only the same kernel thread, not a task that took its
         * pid since (a process cannot make itself a kernel thread, nor choose its start). */
        g_autofree char *comm = NULL;
        uint64_t start;
        TaskStat st;
        CpuMask cpus;
        pid_t pid;
        if (!enforcer_parse_task_entry(what, NULL, &pid, &start, &comm) || cpumask_parse_list(value, &cpus, NULL) < 0)
                return -EINVAL;
        if (task_read_stat(ctx->root, pid, 0, &st) < 0 || !(st.flags & TASK_PF_KTHREAD) || st.start_time != start ||
            !g_str_equal(st.comm, comm))
                return -ENOENT;
        return task_set_affinity(ctx->root, pid, &cpus);
}

static const EnforcerOriginals kthread_originals = { kthread_restore, kthread_check_original };

const EnforcerOps enforcer_kthread = {
        .name = "kthread",
        .observe = kthread_observe,
        .observation_free = kthread_observation_free,
        .diff = kthread_diff,
        .apply = kthread_apply,
        .originals = &kthread_originals,
};
