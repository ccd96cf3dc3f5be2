/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "enforce/enforcer-irq.h"
#include "metrics.h"

/* Upper bounds of the latency buckets, in microseconds; those under the histogram's
 * own bound are used. */
static const unsigned latency_bounds_us[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000 };

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static void append_label_value(GString *out, const char *value) {
        for (const char *c = value; *c; c++) {
                if (*c == '\\' || *c == '"')
                        g_string_append_c(out, '\\');
                if (*c == '\n')
                        g_string_append(out, "\\n");
                else
                        g_string_append_c(out, *c);
        }
}

static void family(GString *out, const char *name, const char *type, const char *help) {
        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void append_state(GString *out, const ManagerStatus *st) {
        static const ManagerState states[] = { MANAGER_INACTIVE, MANAGER_ACTIVE, MANAGER_DEGRADED, MANAGER_REVERTED };
        family(out, "isolatord_state", "gauge", "The partition's state: 1 for the one it is in.");
        for (size_t i = 0; i < G_N_ELEMENTS(states); i++)
                g_string_append_printf(out, "isolatord_state{state=\"%s\"} %d\n", manager_state_to_string(states[i]),
                                       st->state == states[i]);
}

static void append_counts(GString *out, const ManagerStatus *st) {
        family(out, "isolatord_findings", "gauge", "Findings of the last verify, by level.");
        g_string_append_printf(out, "isolatord_findings{level=\"required\"} %u\n", st->required_findings);
        g_string_append_printf(out, "isolatord_findings{level=\"advice\"} %u\n",
                               st->findings->len - st->required_findings);

        family(out, "isolatord_drift_corrections_total", "counter",
               "Changes made by others to what the partition holds, put back, by kind.");
        for (unsigned i = 0; i < st->drift_by_kind->len; i++) {
                const DriftCount *d = &g_array_index(st->drift_by_kind, DriftCount, i);
                g_string_append(out, "isolatord_drift_corrections_total{kind=\"");
                append_label_value(out, d->kind);
                g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", d->count);
        }
        for (size_t i = 0; i < st->n_counters; i++) {
                const ManagerCounter *c = &st->counters[i];
                family(out, c->metric, "counter", c->help);
                g_string_append_printf(out, "%s %" G_GUINT64_FORMAT "\n", c->metric, c->value);
        }
}

static void append_latency(GString *out, Manager *m) {
        g_autoptr(GPtrArray) stats = manager_latency(m);
        if (!stats)
                return;
        family(out, "isolatord_latency_seconds", "histogram",
               "Wake-up latency of the sampler's real-time thread on each measured CPU.");
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *l = stats->pdata[i];
                uint64_t below = 0, total = l->overflows;
                if (!l->measured)
                        continue;
                for (unsigned b = 0; b < l->hist_max_us; b++)
                        total += l->histogram[b];
                /* Bucket b holds [b, b+1) us: a bound of n us counts buckets 0..n-1. */
                unsigned next = 0;
                for (size_t k = 0; k < G_N_ELEMENTS(latency_bounds_us) && latency_bounds_us[k] <= l->hist_max_us; k++) {
                        for (; next < latency_bounds_us[k]; next++)
                                below += l->histogram[next];
                        g_string_append_printf(out, "isolatord_latency_seconds_bucket{cpu=\"%d\",le=\"%g\"} %" G_GUINT64_FORMAT "\n",
                                               l->cpu, latency_bounds_us[k] / 1e6, below);
                }
                g_string_append_printf(out, "isolatord_latency_seconds_bucket{cpu=\"%d\",le=\"+Inf\"} %" G_GUINT64_FORMAT "\n",
                                       l->cpu, total);
                g_string_append_printf(out, "isolatord_latency_seconds_sum{cpu=\"%d\"} %.9f\n", l->cpu,
                                       l->avg_us * (double) total / 1e6);
                g_string_append_printf(out, "isolatord_latency_seconds_count{cpu=\"%d\"} %" G_GUINT64_FORMAT "\n", l->cpu,
                                       total);
        }
        family(out, "isolatord_latency_max_seconds", "gauge", "The highest latency since the sampler's last reset.");
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *l = stats->pdata[i];
                if (l->measured)
                        g_string_append_printf(out, "isolatord_latency_max_seconds{cpu=\"%d\"} %.9f\n", l->cpu,
                                               l->max_us / 1e6);
        }
        family(out, "isolatord_latency_exceeded_total", "counter", "Samples above the sampler's ThresholdUs=.");
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *l = stats->pdata[i];
                if (l->measured)
                        g_string_append_printf(out, "isolatord_latency_exceeded_total{cpu=\"%d\"} %" G_GUINT64_FORMAT "\n",
                                               l->cpu, l->exceeded);
        }
}

/* What measuring costs each CPU: its thread's wake-ups and share of the CPU. */
static void append_sampler_cost(GString *out, Manager *m) {
        g_autoptr(GPtrArray) stats = manager_latency(m);
        if (!stats)
                return;
        family(out, "isolatord_sampler_wakeups_per_second", "gauge",
               "Wake-ups of the measuring thread on each CPU since the sampler started.");
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *l = stats->pdata[i];
                if (l->measured && l->own_wakeups_per_s >= 0)
                        g_string_append_printf(out, "isolatord_sampler_wakeups_per_second{cpu=\"%d\"} %.3f\n", l->cpu,
                                               l->own_wakeups_per_s);
        }
        family(out, "isolatord_sampler_cpu_ratio", "gauge",
               "The share of each CPU's time the measuring thread took since the sampler started.");
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *l = stats->pdata[i];
                if (l->measured && l->own_cpu_percent >= 0)
                        g_string_append_printf(out, "isolatord_sampler_cpu_ratio{cpu=\"%d\"} %.6f\n", l->cpu,
                                               l->own_cpu_percent / 100.0);
        }
}

static void append_irqs(GString *out, Manager *m) {
        static const char *const states[] = { "pinned", "ruled", "foreign", "unmovable" };
        g_autoptr(GPtrArray) report = manager_irqs(m);
        unsigned by_state[G_N_ELEMENTS(states)] = {};

        family(out, "isolatord_irqs", "gauge", "IRQs by what isolatord made of their affinity.");
        for (unsigned i = 0; i < report->len; i++) {
                const IrqReport *r = report->pdata[i];
                for (size_t k = 0; k < G_N_ELEMENTS(states); k++)
                        by_state[k] += g_str_equal(r->state, states[k]);
        }
        for (size_t k = 0; k < G_N_ELEMENTS(states); k++)
                g_string_append_printf(out, "isolatord_irqs{state=\"%s\"} %u\n", states[k], by_state[k]);
        family(out, "isolatord_irq_isolated_interrupts_total", "counter",
               "Interrupts an IRQ raised on the groups' CPUs since boot (IRQs with none are left out).");
        for (unsigned i = 0; i < report->len; i++) {
                const IrqReport *r = report->pdata[i];
                if (!r->isolated_count)
                        continue;
                g_string_append_printf(out, "isolatord_irq_isolated_interrupts_total{irq=\"%u\",name=\"", r->irq->num);
                append_label_value(out, r->irq->name);
                g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", r->isolated_count);
        }
}

static const char *const source_kinds[] = { "irq", "softirq", "vector", "nmi", "thread", "other" };

/* A traced CPU's sources of one kind summed: occurrences a second, or share of its time. */
static double kind_sum(const NoiseCpu *n, const char *kind, bool share) {
        double sum = 0;
        for (unsigned i = 0; i < n->sources->len; i++) {
                const NoiseSource *src = n->sources->pdata[i];
                if (g_str_equal(src->kind, kind))
                        sum += share ? src->share : src->rate;
        }
        return sum;
}

/* From the tracepoints: what reached each audio CPU by kind, how often and for how much of its time. */
static void append_noise_kinds(GString *out, const GPtrArray *noise, const char *name, bool share, const char *help) {
        family(out, name, "gauge", help);
        for (unsigned i = 0; i < noise->len; i++) {
                const NoiseCpu *n = noise->pdata[i];
                for (size_t k = 0; n->traced && k < G_N_ELEMENTS(source_kinds); k++)
                        g_string_append_printf(out, "%s{cpu=\"%d\",kind=\"%s\"} %.6f\n", name, n->cpu, source_kinds[k],
                                               kind_sum(n, source_kinds[k], share));
        }
}

static void append_noise(GString *out, Manager *m) {
        g_autoptr(GPtrArray) noise = manager_noise(m);
        if (!noise)
                return;
        family(out, "isolatord_noise_interrupts_per_second", "gauge",
               "Interrupts each CPU took in the last second, by source (local timer, rescheduling, "
               "function call, TLB shootdown, devices).");
        for (unsigned i = 0; i < noise->len; i++) {
                const NoiseCpu *n = noise->pdata[i];
                const struct {
                        const char *name;
                        double rate;
                } sources[] = { { "loc", n->loc }, { "res", n->res }, { "cal", n->cal }, { "tlb", n->tlb },
                                { "devices", n->devices } };
                for (size_t k = 0; k < G_N_ELEMENTS(sources); k++)
                        if (sources[k].rate >= 0) /* -1: not known from this source */
                                g_string_append_printf(out,
                                                       "isolatord_noise_interrupts_per_second{cpu=\"%d\",source=\"%s\"} %.3f\n",
                                                       n->cpu, sources[k].name, sources[k].rate);
        }
        family(out, "isolatord_noise_context_switches_per_second", "gauge",
               "Context switches on each CPU in the last second.");
        for (unsigned i = 0; i < noise->len; i++) {
                const NoiseCpu *n = noise->pdata[i];
                if (n->has_switches)
                        g_string_append_printf(out, "isolatord_noise_context_switches_per_second{cpu=\"%d\"} %.3f\n",
                                               n->cpu, n->switches);
        }
        family(out, "isolatord_trace_records_lost_per_second", "gauge",
               "Trace records the kernel dropped on each CPU in the last second (a full ring: its spikes are partial).");
        for (unsigned i = 0; i < noise->len; i++) {
                const NoiseCpu *n = noise->pdata[i];
                if (n->lost >= 0) /* -1: counters */
                        g_string_append_printf(out, "isolatord_trace_records_lost_per_second{cpu=\"%d\"} %.3f\n",
                                               n->cpu, n->lost);
        }
        append_noise_kinds(out, noise, "isolatord_noise_per_second", false,
                           "What reached each audio CPU in the last second by kind (from the tracepoints), a second.");
        append_noise_kinds(out, noise, "isolatord_noise_time_ratio", true,
                           "The share of each audio CPU's time what reached it took in the last second, by kind.");
}

static void append_spikes(GString *out, Manager *m) {
        static const char *const causes[] = { "irq", "softirq", "vector", "nmi", "thread", "counter", "none" };
        family(out, "isolatord_spikes_total", "counter",
               "Spikes explained since the start (or the last ResetLatency), by the kind of their first cause.");
        for (size_t k = 0; k < G_N_ELEMENTS(causes); k++)
                g_string_append_printf(out, "isolatord_spikes_total{cause=\"%s\"} %" G_GUINT64_FORMAT "\n", causes[k],
                                       manager_spikes_by_kind(m, causes[k]));
}

char *metrics_text(Manager *m) {
        GString *out = g_string_sized_new(4096);
        const ManagerStatus *st = manager_status(m);
        append_state(out, st);
        append_counts(out, st);
        append_latency(out, m);
        append_sampler_cost(out, m);
        append_irqs(out, m);
        append_noise(out, m);
        append_spikes(out, m);
        return g_string_free(out, false);
}

int metrics_write_textfile(Manager *m, const char *dir, GError **error) {
        g_autofree char *text = metrics_text(m);
        g_autofree char *path = g_build_filename(dir, METRICS_TEXTFILE, NULL);
        g_autofree char *tmp = g_strconcat(path, ".XXXXXX", NULL);
        g_autoptr(GError) e = NULL;

        /* A name node-exporter skips (not *.prom), then renamed over the file: a reader
         * sees the old file or the new one, never half of one. */
        int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) {
                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "cannot write the metrics in %s: %s",
                            dir, g_strerror(errno));
                return -errno;
        }
        size_t done = 0, len = strlen(text);
        while (done < len) {
                ssize_t n = write(fd, text + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                done += (size_t) n;
        }
        int err = done == len ? 0 : errno;
        if (close(fd) < 0 && !err)
                err = errno;
        if (!err && rename(tmp, path) < 0)
                err = errno;
        if (err) {
                g_unlink(tmp);
                g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "cannot write %s: %s", path,
                            g_strerror(err));
                return -err;
        }
        return 0;
}

void metrics_remove_textfile(const char *dir) {
        g_autofree char *path = g_build_filename(dir, METRICS_TEXTFILE, NULL);
        g_unlink(path);
}
