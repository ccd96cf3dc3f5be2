/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "enforce/enforcer.h"
#include "base/log.h"

/* Housekeeping beyond IRQs: the kernel knobs tuned's cpu-partitioning profile sets
 * (/usr/lib/tuned/cpu-partitioning/tuned.conf, [sysctl] and [sysfs], with
 * network-latency's kernel.numa_balancing and its script's KSM switch) so that timers,
 * per-CPU statistics, watchdogs, writeback and machine-check polling leave the audio
 * CPUs alone. Each is written only while the partition isolates CPUs, its original saved
 * first (enforcer_write_batch) and restored by a revert; a file this kernel lacks is
 * skipped. */

typedef enum Compare {
        COMPARE_EQUAL,      /* the value, as text */
        COMPARE_AT_LEAST,   /* a number no lower (0 counts as "off", which is higher still) */
        COMPARE_MASK,       /* a CPU mask equal to housekeeping */
        COMPARE_NOT_ONE,    /* anything but "1" (KSM: 0 stopped, 2 unmerged) */
} Compare;

typedef struct Knob {
        char *rel;
        char *object;          /* what a person calls it: "kernel.timer_migration" */
        char *want;
        Compare compare;
        const char *why;
} Knob;

static const struct {
        const char *rel, *object, *want;
        Compare compare;
        const char *why;
} sysctls[] = {
        { "proc/sys/kernel/timer_migration", "kernel.timer_migration", "0", COMPARE_EQUAL,
          "timers armed on housekeeping could migrate to an idle audio CPU and wake it (tuned)" },
        { "proc/sys/vm/stat_interval", "vm.stat_interval", "10", COMPARE_EQUAL,
          "the per-CPU memory statistics are folded every second on every CPU; every 10 s is enough (tuned)" },
        { "proc/sys/kernel/nmi_watchdog", "kernel.nmi_watchdog", "0", COMPARE_EQUAL,
          "the NMI watchdog's perf counter interrupts every CPU periodically (tuned, the seed guide)" },
        { "proc/sys/kernel/hung_task_timeout_secs", "kernel.hung_task_timeout_secs", "600", COMPARE_AT_LEAST,
          "a thread starved by the real-time audio threads is not hung: no warnings, no panics (tuned)" },
        { "proc/sys/kernel/numa_balancing", "kernel.numa_balancing", "0", COMPARE_EQUAL,
          "automatic NUMA balancing unmaps the player's pages to see where they are used and migrates them: "
          "page faults and IPIs on the audio CPUs (tuned's network-latency)" },
        { "sys/kernel/mm/ksm/run", "ksm run", "0", COMPARE_NOT_ONE,
          "KSM merges identical pages; a write to a merged page of the player costs a copy-on-write fault "
          "(tuned's cpu-partitioning script stops it)" },
};

#define WORKQUEUES "sys/bus/workqueue/devices"
#define MACHINECHECK "sys/devices/system/machinecheck"

static void knob_clear(Knob *k) {
        g_free(k->rel);
        g_free(k->object);
        g_free(k->want);
}

static void add_knob(GArray *knobs, const char *rel, const char *object, const char *want, Compare compare,
                     const char *why) {
        Knob k = { g_strdup(rel), g_strdup(object), g_strdup(want), compare, why };
        g_array_append_val(knobs, k);
}

/* The entries of a folder of the root, sorted; empty when it is absent. */
static GPtrArray *list_dir(const Root *root, const char *rel) {
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        int fd = root_open_dir(root, rel);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return names;
        }
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        g_ptr_array_add(names, g_strdup(de->d_name));
        closedir(d);
        g_ptr_array_sort(names, (GCompareFunc) g_strcmp0);
        return names;
}

/* Every knob this kernel has, with what the partition wants of it. */
static GArray *knobs_wanted(const EnforcerContext *ctx) {
        GArray *knobs = g_array_new(false, true, sizeof(Knob));
        g_autofree char *mask = cpumask_format_mask(&ctx->config->housekeeping, ctx->topology->nr_cpus);
        g_autoptr(GPtrArray) wqs = NULL, mces = NULL;

        g_array_set_clear_func(knobs, (GDestroyNotify) knob_clear);
        for (size_t i = 0; i < G_N_ELEMENTS(sysctls); i++)
                add_knob(knobs, sysctls[i].rel, sysctls[i].object, sysctls[i].want, sysctls[i].compare, sysctls[i].why);
        /* Unbound workqueues that show themselves in sysfs have a cpumask of their own
         * (writeback among them); bound ones run on the CPU that queued the work. */
        wqs = list_dir(ctx->root, WORKQUEUES);
        for (unsigned i = 0; i < wqs->len; i++) {
                g_autofree char *rel = g_strdup_printf(WORKQUEUES "/%s/cpumask", (char *) wqs->pdata[i]);
                g_autofree char *object = g_strdup_printf("workqueue %s", (char *) wqs->pdata[i]);
                add_knob(knobs, rel, object, mask, COMPARE_MASK,
                         g_str_equal(wqs->pdata[i], "writeback")
                                 ? "writeback (dirty pages to disk) runs on the CPUs of this mask (tuned)"
                                 : "this unbound workqueue's work runs on the CPUs of its own mask");
        }
        mces = list_dir(ctx->root, MACHINECHECK);
        for (unsigned i = 0; i < mces->len; i++) {
                g_autofree char *rel = g_strdup_printf(MACHINECHECK "/%s/ignore_ce", (char *) mces->pdata[i]);
                g_autofree char *object = g_strdup_printf("%s ignore_ce", (char *) mces->pdata[i]);
                add_knob(knobs, rel, object, "1", COMPARE_EQUAL,
                         "corrected machine-check errors are polled by a timer on every CPU (tuned)");
        }
        return knobs;
}

typedef struct TunablesObservation {
        GArray *knobs;      /* Knob */
        GPtrArray *have;    /* char*: each knob's value now, NULL when unreadable */
} TunablesObservation;

static void tunables_observation_free(void *p) {
        TunablesObservation *o = p;
        g_array_unref(o->knobs);
        g_ptr_array_unref(o->have);
        g_free(o);
}

static bool partition_isolates(const Config *c) {
        CpuMask isolated;
        config_isolated_cpus(c, &isolated);
        return !cpumask_is_empty(&isolated);
}

static void *tunables_observe(const EnforcerContext *ctx, const Trigger *scope) {
        TunablesObservation *o = g_new0(TunablesObservation, 1);
        o->have = g_ptr_array_new_with_free_func(g_free);
        if (!partition_isolates(ctx->config)) {
                o->knobs = g_array_new(false, true, sizeof(Knob));
                return o;
        }
        o->knobs = knobs_wanted(ctx);
        /* Relative to the root's top, opened once: a machine has a machinecheck folder
         * per CPU, and a walk from the root per file would be most of the cost. Bound
         * workqueues have no cpumask: their read fails and they are left out. */
        int top = root_open_dir(ctx->root, ".");
        for (unsigned i = 0; i < o->knobs->len; i++) {
                char buf[256];
                ssize_t n = top >= 0 ? root_read_small_at(top, g_array_index(o->knobs, Knob, i).rel, buf, sizeof buf) : -EBADF;
                g_ptr_array_add(o->have, n >= 0 ? g_strstrip(g_strdup(buf)) : NULL);
        }
        if (top >= 0)
                close(top);
        return o;
}

static bool satisfied(const EnforcerContext *ctx, const Knob *k, const char *have) {
        guint64 n, want;
        CpuMask cpus;
        switch (k->compare) {
        case COMPARE_EQUAL:
                return g_str_equal(have, k->want);
        case COMPARE_AT_LEAST:
                return g_ascii_string_to_unsigned(have, 10, 0, G_MAXUINT64, &n, NULL) &&
                       g_ascii_string_to_unsigned(k->want, 10, 0, G_MAXUINT64, &want, NULL) && (n == 0 || n >= want);
        case COMPARE_MASK:
                return cpumask_parse_mask(have, &cpus, NULL) >= 0 && cpumask_equal(&cpus, &ctx->config->housekeeping);
        case COMPARE_NOT_ONE:
                return !g_str_equal(have, "1");
        }
        return false;
}

static void tunables_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const TunablesObservation *o = obs;
        for (unsigned i = 0; i < o->knobs->len; i++) {
                const Knob *k = &g_array_index(o->knobs, Knob, i);
                const char *have = o->have->pdata[i];
                if (!have || satisfied(ctx, k, have))
                        continue;
                difference_add(diffs, finding_new("tunable", k->object, k->want, have, false, k->why), true, k);
        }
}

static int tunables_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        g_autofree EnforcerWrite *writes = g_new0(EnforcerWrite, MAX(diffs->len, 1u));
        g_autofree int *results = g_new0(int, MAX(diffs->len, 1u));
        int r;

        for (unsigned i = 0; i < diffs->len; i++) {
                const Knob *k = ((Difference *) diffs->pdata[i])->object;
                writes[i] = (EnforcerWrite) { k->rel, k->want };
        }
        if ((r = enforcer_write_batch(ctx, writes, diffs->len, results)) < 0)
                return r;
        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                if (results[i] >= 0) {
                        d->repaired = true;
                        enforcer_refusal_clear(ctx, writes[i].rel);
                        continue;
                }
                const char *why = enforcer_refusal(results[i]);
                if (enforcer_refusal_new(ctx, writes[i].rel, results[i]))
                        log_warning("%s refuses %s: %s", d->finding->object, writes[i].value,
                                    why ? why : g_strerror(-results[i]));
                g_free(d->finding->message);
                d->finding->message = g_strdup_printf("the kernel refused %s: %s", writes[i].value,
                                                      why ? why : g_strerror(-results[i]));
        }
        return 0;
}

const EnforcerOps enforcer_tunables = {
        .name = "tunables",
        .observe = tunables_observe,
        .observation_free = tunables_observation_free,
        .diff = tunables_diff,
        .apply = tunables_apply,
};
