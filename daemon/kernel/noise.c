/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "kernel/noise.h"

void noise_reading_free(NoiseReading *r) {
        if (!r)
                return;
        interrupt_table_free(r->irqs);
        if (r->switches)
                g_hash_table_unref(r->switches);
        g_free(r);
}

GHashTable *schedstat_parse(const char *text) {
        GHashTable *h = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = NULL;
                char *end;
                if (!g_str_has_prefix(*l, "cpu") || !isdigit((unsigned char) (*l)[3]))
                        continue;
                f = g_strsplit_set(*l, " \t", -1);
                if (g_strv_length(f) < 4)
                        continue;
                long cpu = strtol(f[0] + 3, &end, 10);
                if (*end)
                        continue;
                uint64_t *v = g_new(uint64_t, 1);
                *v = g_ascii_strtoull(f[3], NULL, 10);
                g_hash_table_replace(h, GINT_TO_POINTER((int) cpu + 1), v);
        }
        return h;
}

NoiseReading *noise_read(const Root *root, InterruptCounts *counts, uint64_t at_ns) {
        NoiseReading *r = g_new0(NoiseReading, 1);
        g_autofree char *sched = NULL;

        r->at_ns = at_ns;
        r->irqs = interrupt_counts_read(counts);
        if (root_read(root, "proc/schedstat", &sched, NULL) >= 0)
                r->switches = schedstat_parse(sched);
        return r;
}

void noise_cpu_free(NoiseCpu *c) {
        if (!c)
                return;
        g_ptr_array_unref(c->sources);
        g_free(c);
}

static void source_free(NoiseSource *s) {
        g_free(s->name);
        g_free(s);
}

static int compare_rate(gconstpointer a, gconstpointer b) {
        const NoiseSource *x = *(NoiseSource *const *) a, *y = *(NoiseSource *const *) b;
        return (x->rate < y->rate) - (x->rate > y->rate);
}

/* Counter delta per second; a counter that went back (a CPU hotplugged) counts as 0. */
static double rate(uint64_t before, uint64_t after, double seconds) {
        return after >= before && seconds > 0 ? (double) (after - before) / seconds : 0;
}

static int column_of(const InterruptTable *t, int cpu) {
        for (unsigned i = 0; t && i < t->ncols; i++)
                if (t->col_cpu[i] == cpu)
                        return (int) i;
        return -1;
}

GPtrArray *noise_rates(const NoiseReading *before, const NoiseReading *after, const CpuMask *cpus,
                       GHashTable *names) {
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) noise_cpu_free);
        double seconds = (double) (after->at_ns - before->at_ns) / 1e9;

        CPUMASK_FOREACH(cpu, cpus) {
                NoiseCpu *c = g_new0(NoiseCpu, 1);
                int cb = column_of(before->irqs, cpu), ca = column_of(after->irqs, cpu);
                c->cpu = cpu;
                c->seconds = seconds;
                c->sources = g_ptr_array_new_with_free_func((GDestroyNotify) source_free);
                c->loc = c->res = c->cal = c->tlb = c->devices = c->lost = -1;
                if (cb >= 0 && ca >= 0) {
                        c->loc = c->res = c->cal = c->tlb = c->devices = 0;
                        GHashTableIter it;
                        gpointer key, value;
                        g_hash_table_iter_init(&it, after->irqs->rows);
                        while (g_hash_table_iter_next(&it, &key, &value)) {
                                const uint64_t *prev = g_hash_table_lookup(before->irqs->rows, key);
                                const uint64_t *now = value;
                                if (!prev)
                                        continue;
                                double r = rate(prev[cb], now[ca], seconds);
                                const char *row = key;
                                if (g_str_equal(row, "LOC"))
                                        c->loc = r;
                                else if (g_str_equal(row, "RES"))
                                        c->res = r;
                                else if (g_str_equal(row, "CAL"))
                                        c->cal = r;
                                else if (g_str_equal(row, "TLB"))
                                        c->tlb = r;
                                else if (isdigit((unsigned char) row[0]) && r > 0) {
                                        NoiseSource *s = g_new0(NoiseSource, 1);
                                        const char *name = names ? g_hash_table_lookup(names, row) : NULL;
                                        s->name = name ? g_strdup_printf("%s %s", row, name) : g_strdup(row);
                                        s->kind = "irq";
                                        s->id = (uint32_t) g_ascii_strtoull(row, NULL, 10);
                                        s->rate = r;
                                        s->share = -1;
                                        c->devices += r;
                                        g_ptr_array_add(c->sources, s);
                                }
                        }
                }
                if (before->switches && after->switches) {
                        const uint64_t *b = g_hash_table_lookup(before->switches, GINT_TO_POINTER(cpu + 1));
                        const uint64_t *a = g_hash_table_lookup(after->switches, GINT_TO_POINTER(cpu + 1));
                        if (a && b) {
                                c->switches = rate(*b, *a, seconds);
                                c->has_switches = true;
                        }
                }
                g_ptr_array_sort(c->sources, compare_rate);
                g_ptr_array_add(out, c);
        }
        return out;
}

/* A source's name for people: the IRQ with its action, the softirq or vector by name, the
 * thread by its comm (the user's text, made printable). */
static char *source_name(const Cause *c) {
        switch (c->kind) {
        case CAUSE_IRQ:
                return c->name[0] ? g_strdup_printf("%u %s", c->id, c->name) : g_strdup_printf("%u", c->id);
        case CAUSE_SOFTIRQ:
                return g_strdup(trace_softirq_name(c->id));
        case CAUSE_VECTOR:
                return g_strdup(trace_vector_name(c->id));
        case CAUSE_NMI:
                return g_strdup("NMI");
        case CAUSE_THREAD:
        case _CAUSE_KIND_MAX:
                break;
        }
        return text_printable(c->name);
}

NoiseCpu *noise_from_activity(int cpu, const CpuActivity *a, double seconds, bool vectors) {
        NoiseCpu *c = g_new0(NoiseCpu, 1);
        double per = seconds > 0 ? 1.0 / seconds : 0;

        c->cpu = cpu;
        c->seconds = seconds;
        c->traced = true;
        c->loc = vectors ? (double) a->vectors[TRACE_VECTOR_LOCAL_TIMER] * per : -1;
        c->res = vectors ? (double) a->vectors[TRACE_VECTOR_RESCHEDULE] * per : -1;
        c->cal = vectors ? (double) (a->vectors[TRACE_VECTOR_CALL_FUNCTION] +
                                     a->vectors[TRACE_VECTOR_CALL_FUNCTION_SINGLE]) * per
                         : -1;
        c->tlb = -1; /* shootdowns arrive as function calls: counted in cal */
        c->devices = (double) a->irqs * per;
        c->switches = (double) a->switches * per;
        c->has_switches = true;
        c->lost = (double) a->lost * per;
        c->sources = g_ptr_array_new_with_free_func((GDestroyNotify) source_free);
        for (unsigned i = 0; i < a->nsources; i++) {
                const Cause *src = &a->sources[i];
                NoiseSource *s = g_new0(NoiseSource, 1);
                s->name = source_name(src);
                s->kind = cause_kind_to_string(src->kind);
                s->id = src->id;
                s->pid = src->tgid;
                s->prio = src->prio;
                s->rate = (double) src->count * per;
                s->share = seconds > 0 ? (double) src->time_ns / 1e9 / seconds : 0;
                g_ptr_array_add(c->sources, s);
        }
        if (a->other_count) {
                NoiseSource *s = g_new0(NoiseSource, 1);
                s->name = g_strdup("other");
                s->kind = "other";
                s->rate = (double) a->other_count * per;
                s->share = seconds > 0 ? (double) a->other_ns / 1e9 / seconds : 0;
                g_ptr_array_add(c->sources, s);
        }
        return c;
}
