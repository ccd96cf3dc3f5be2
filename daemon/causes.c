/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "causes.h"
#include "kernel/interrupt-counts.h"
#include "kernel/tracepoints.h"

/* Before a spike's late wake-up, how far back what was running still counts: a context
 * entered just before the timer was due delayed it too. */
#define MARGIN_NS (20 * 1000)
/* Occurrences kept per CPU, whatever the budget says. */
#define WINDOW_MIN 32u
#define WINDOW_MAX 256u

typedef struct Pending {
        uint64_t at_ns, latency_ns;
} Pending;

struct Causes {
        const Root *root;
        CpuMask cpus;
        Tracepoints *tp;           /* NULL: counters */
        Attribution *attribution;
        bool vectors;              /* the kernel traces x86's vectors */
        char *fallback;
        InterruptCounts *counts;   /* counters */
        NoiseReading *before;      /* counters: the last reading */
        uint64_t counters_every_ns; /* counters: how often they are read (COUNTERS_SHARE) */
        GHashTable *irq_names;     /* counters: "N" -> the action names of the IRQs read */
        GPtrArray *rates;          /* NoiseCpu*, of the last interval */
        uint64_t last_tick_ns;
        GHashTable *pending;       /* cpu + 1 -> Pending */
        GPtrArray *explained;      /* RawSpike*: what the collect under way found */
        CpuMask lost_said;         /* CPUs whose ring has overflowed, said once */
};

static bool open_tracepoints(Causes *c, const CausesOptions *o) {
        g_autofree char *why = NULL;
        TracepointsOptions to = { .root = o->root, .ring_budget = o->ring_budget, .poll_fd = o->poll_fd };

        cpumask_and(&to.cpus, &o->cpus, &o->host_online);
        if (cpumask_is_empty(&to.cpus)) {
                c->fallback = g_strdup("no audio CPU of this configuration is on this machine");
                return false;
        }
        if (tracepoints_open(&to, &c->tp, &why) < 0) {
                c->fallback = g_steal_pointer(&why);
                return false;
        }
        unsigned n = cpumask_count(&to.cpus);
        unsigned ring = (unsigned) CLAMP(o->window_budget / n / 40u, (size_t) WINDOW_MIN, (size_t) WINDOW_MAX);
        c->attribution = attribution_new(&to.cpus, ring);
        c->vectors = !tracepoints_missing(c->tp) || !strstr(tracepoints_missing(c->tp), "irq_vectors");
        c->cpus = to.cpus;
        return true;
}

Causes *causes_new(const CausesOptions *o) {
        Causes *c = g_new0(Causes, 1);

        c->root = o->root;
        c->cpus = o->cpus;
        c->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        if (!o->tracepoints)
                c->fallback = g_strdup("[Sampler] Attribution=counters");
        if (o->tracepoints && open_tracepoints(c, o)) {
                g_autofree char *list = cpumask_format_list(&c->cpus);
                log_info("attribution from the kernel's tracepoints on CPUs %s (%zu KiB of ring each)%s%s", list,
                         tracepoints_ring_size(c->tp) / 1024,
                         causes_missing(c) ? "; this kernel has no " : "", causes_missing(c) ? causes_missing(c) : "");
                return c;
        }
        log_info("attribution from counters only, which cannot say what ran when: %s", c->fallback);
        c->counts = interrupt_counts_new(o->root, &o->cpus);
        c->irq_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        return c;
}

void causes_free(Causes *c) {
        if (!c)
                return;
        tracepoints_free(c->tp);
        attribution_free(c->attribution);
        interrupt_counts_free(c->counts);
        noise_reading_free(c->before);
        if (c->irq_names)
                g_hash_table_unref(c->irq_names);
        if (c->rates)
                g_ptr_array_unref(c->rates);
        g_hash_table_unref(c->pending);
        g_free(c->fallback);
        g_free(c);
}

const char *causes_source(const Causes *c) {
        return c->tp ? "tracepoints" : "counters";
}

const char *causes_fallback(const Causes *c) {
        return c->tp ? NULL : c->fallback;
}

const char *causes_missing(const Causes *c) {
        return c->tp ? tracepoints_missing(c->tp) : NULL;
}

void causes_set_measurer(Causes *c, int cpu, pid_t tid) {
        if (!c->tp)
                return;
        attribution_set_measurer(c->attribution, cpu, tid);
        tracepoints_quiet(c->tp, cpu, tid);
}

void causes_irqs(Causes *c, const GPtrArray *irqs) {
        g_autoptr(GArray) want = g_array_new(false, false, sizeof(unsigned));
        if (!c->counts)
                return;
        g_hash_table_remove_all(c->irq_names);
        unsigned words = cpumask_words_used(&c->cpus);
        for (unsigned i = 0; i < irqs->len; i++) {
                const Irq *irq = irqs->pdata[i];
                /* The kernel delivers an IRQ within its affinity only (the effective one is
                 * a subset of it). */
                if (!cpumask_intersects_first(&irq->affinity, &c->cpus, words))
                        continue;
                g_array_append_val(want, irq->num);
                g_hash_table_insert(c->irq_names, g_strdup_printf("%u", irq->num), g_strdup(irq->name));
        }
        interrupt_counts_want(c->counts, want);
}

void causes_spike(Causes *c, int cpu, uint64_t at_ns, uint64_t latency_ns) {
        Pending *p = g_hash_table_lookup(c->pending, GINT_TO_POINTER(cpu + 1));
        if (p && p->latency_ns >= latency_ns)
                return;
        if (!p) {
                p = g_new0(Pending, 1);
                g_hash_table_insert(c->pending, GINT_TO_POINTER(cpu + 1), p);
        }
        p->at_ns = at_ns;
        p->latency_ns = latency_ns;
}

static void explain(Causes *c, int cpu, const Pending *p) {
        RawSpike *s = g_new0(RawSpike, 1);
        s->cpu = cpu;
        s->at_ns = p->at_ns;
        s->latency_ns = p->latency_ns;
        s->traced = c->attribution && attribution_explain(c->attribution, cpu, p->at_ns, p->latency_ns, MARGIN_NS, &s->why);
        g_ptr_array_add(c->explained, s);
}

/* A record past a pending spike's time: the spike is explained first, with what the
 * window holds up to it. */
static void on_record(const TraceRecord *r, void *userdata) {
        Causes *c = userdata;
        Pending *p = g_hash_table_lookup(c->pending, GINT_TO_POINTER((int) r->cpu + 1));
        if (p && r->time_ns > p->at_ns) {
                explain(c, (int) r->cpu, p);
                g_hash_table_remove(c->pending, GINT_TO_POINTER((int) r->cpu + 1));
        }
        attribution_feed(c->attribution, r);
}

static void on_lost(int cpu, uint64_t n, void *userdata) {
        Causes *c = userdata;
        attribution_lost(c->attribution, cpu, n);
        if (cpumask_has(&c->lost_said, cpu))
                return;
        cpumask_add(&c->lost_said, (unsigned) cpu);
        log_warning("CPU %d's trace ring overflowed, %" G_GUINT64_FORMAT " records lost: a spike in that time is "
                    "explained in part (said once)", cpu, n);
}

static void drain(Causes *c, bool all) {
        TraceSinks sinks = { on_record, on_lost, c };
        if (all) {
                tracepoints_drain(c->tp, &sinks);
                return;
        }
        g_autoptr(GList) cpus = g_hash_table_get_keys(c->pending);
        for (GList *it = cpus; it; it = it->next)
                tracepoints_drain_cpu(c->tp, GPOINTER_TO_INT(it->data) - 1, &sinks);
}

static GPtrArray *rates_new(void) {
        return g_ptr_array_new_with_free_func((GDestroyNotify) noise_cpu_free);
}

static void rates_from_tracepoints(Causes *c, uint64_t now_ns) {
        double seconds = (double) (now_ns - c->last_tick_ns) / 1e9;
        g_autoptr(GPtrArray) rates = rates_new();
        CPUMASK_FOREACH(cpu, &c->cpus) {
                CpuActivity act;
                if (attribution_take_activity(c->attribution, cpu, &act))
                        g_ptr_array_add(rates, noise_from_activity(cpu, &act, seconds, c->vectors));
        }
        if (c->last_tick_ns) {
                if (c->rates)
                        g_ptr_array_unref(c->rates);
                c->rates = g_steal_pointer(&rates);
        }
}

/* The counters' reading paces itself: /proc/interrupts grows with IRQs times CPUs (16 MB
 * on a 256-CPU server with 5681 IRQs, a few kB on a desktop), and it is read whole. Read
 * at most every second, and no more often than keeps that reading's CPU time within a
 * thousandth of one CPU, up to every 10 s: the rates are then of that longer window. */
#define COUNTERS_SHARE 1000u
#define COUNTERS_EVERY_MIN_NS 1000000000u
#define COUNTERS_EVERY_MAX_NS 10000000000u

static uint64_t thread_cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

uint64_t causes_counters_every(uint64_t cost_ns) {
        return CLAMP(cost_ns * COUNTERS_SHARE, (uint64_t) COUNTERS_EVERY_MIN_NS, (uint64_t) COUNTERS_EVERY_MAX_NS);
}

static void rates_from_counters(Causes *c, uint64_t now_ns) {
        /* The first two readings a second apart, so that there are rates to tell at once;
         * a little early still counts: the ticks come a second apart, give or take. */
        if (c->rates && c->before && now_ns + COUNTERS_EVERY_MIN_NS / 10 < c->before->at_ns + c->counters_every_ns)
                return;
        uint64_t t0 = thread_cpu_ns();
        NoiseReading *after = noise_read(c->root, c->counts, now_ns);
        c->counters_every_ns = causes_counters_every(thread_cpu_ns() - t0);
        if (c->before) {
                if (c->rates)
                        g_ptr_array_unref(c->rates);
                c->rates = noise_rates(c->before, after, &c->cpus, c->irq_names);
        }
        noise_reading_free(c->before);
        c->before = after;
}

GPtrArray *causes_collect(Causes *c, uint64_t now_ns, bool tick) {
        c->explained = g_ptr_array_new_with_free_func(g_free);
        if (c->tp && (tick || g_hash_table_size(c->pending)))
                drain(c, tick);
        if (tick) {
                if (c->tp)
                        rates_from_tracepoints(c, now_ns);
                else
                        rates_from_counters(c, now_ns);
                c->last_tick_ns = now_ns;
        }
        /* What no record came after: everything up to now is in. */
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, c->pending);
        while (g_hash_table_iter_next(&it, &key, &value))
                explain(c, GPOINTER_TO_INT(key) - 1, value);
        g_hash_table_remove_all(c->pending);
        return g_steal_pointer(&c->explained);
}

void causes_drain(Causes *c) {
        if (c->tp)
                drain(c, true);
}

GPtrArray *causes_rates(Causes *c) {
        return c->rates ? g_ptr_array_ref(c->rates) : NULL;
}

const NoiseCpu *causes_rates_of(Causes *c, int cpu) {
        for (unsigned i = 0; c->rates && i < c->rates->len; i++) {
                const NoiseCpu *n = c->rates->pdata[i];
                if (n->cpu == cpu)
                        return n;
        }
        return NULL;
}
