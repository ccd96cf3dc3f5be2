/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <unistd.h>

#include "base/log.h"
#include "kernel/irq.h"
#include "kernel/task.h"
#include "latency.h"
#include "spike-report.h"

/* Kernel ring for every audio CPU together, and folded occurrences kept: bounded whatever
 * the machine's size (a CPU's share shrinks). */
#define RING_BUDGET (4u * 1024 * 1024)
#define WINDOW_BUDGET (256u * 1024)
#define SPIKES_KEPT 32
/* An IRQ seen on an audio CPU is handed on again after this long at the earliest: a
 * ruled or managed one fires there by right, and is looked at once in a while only. */
#define IRQ_SEEN_GAP_S 30

typedef struct ExceededSent {
        uint64_t count;            /* the CPU's exceeded count when last reported */
        int64_t at_usec;           /* CLOCK_MONOTONIC */
} ExceededSent;

struct Latency {
        Sampler *sampler;          /* NULL when stopped */
        GHashTable *exceeded_sent; /* cpu + 1 -> ExceededSent */
        GHashTable *explained_at;  /* cpu + 1 -> when LatencyExplained was last sent (mono us) */
        GHashTable *spikes_seen;   /* cpu + 1 -> the sampler's spike count read */
        bool measurers_set;        /* the sampler's threads are known to attribution */
        GHashTable *irq_seen_at;   /* irq + 1 -> when it was last handed on (mono us) */
        GHashTable *irq_put_back;  /* irq + 1 -> the cpulist it had when handed on off its target */
        GHashTable *irq_drivers;   /* irq_driver_map of the Driver= rules, for judging spikes */
        int64_t irq_drivers_at;    /* when it was read (mono us): at most once a second */
        Causes *causes;            /* NULL until the first look */
        CpuMask causes_cpus;
        SpikeLog *spikes;
};

Latency *latency_new(void) {
        Latency *l = g_new0(Latency, 1);
        l->exceeded_sent = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        l->explained_at = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        l->spikes_seen = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        l->irq_seen_at = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        l->irq_put_back = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        l->spikes = spike_log_new(SPIKES_KEPT);
        return l;
}

void latency_free(Latency *l) {
        if (!l)
                return;
        sampler_stop(l->sampler);
        causes_free(l->causes);
        spike_log_free(l->spikes);
        g_hash_table_unref(l->exceeded_sent);
        g_hash_table_unref(l->explained_at);
        g_hash_table_unref(l->spikes_seen);
        g_hash_table_unref(l->irq_seen_at);
        g_hash_table_unref(l->irq_put_back);
        if (l->irq_drivers)
                g_hash_table_unref(l->irq_drivers);
        g_free(l);
}

/* The attribution for the configuration's audio CPUs, made again when they change. */
static Causes *causes_for(Latency *l, const LatencyEnv *env) {
        CpuMask audio;
        config_isolated_cpus(env->config, &audio);
        if (l->causes && cpumask_equal(&audio, &l->causes_cpus))
                return l->causes;
        causes_free(l->causes);
        CausesOptions o = { .root = env->root, .cpus = audio, .host_online = env->host_online, .tracepoints = true,
                            .ring_budget = RING_BUDGET, .window_budget = WINDOW_BUDGET,
                            .poll_fd = env->trace_poll_fd };
        l->causes = causes_new(&o);
        l->causes_cpus = audio;
        l->measurers_set = false;
        return l->causes;
}

/* The sampler's threads start on their own: their ids are known once each ran. */
static void set_measurers(Latency *l, Causes *c) {
        const SamplerOptions *o;
        if (l->measurers_set || !l->sampler)
                return;
        o = sampler_options(l->sampler);
        CPUMASK_FOREACH(cpu, &o->cpus)
                if (cpumask_has(&o->host_online, cpu) && sampler_thread_id(l->sampler, cpu) == 0)
                        return;
        CPUMASK_FOREACH(cpu, &o->cpus)
                causes_set_measurer(c, cpu, sampler_thread_id(l->sampler, cpu));
        l->measurers_set = true;
}

int latency_sampler_start(Latency *l, const LatencyEnv *env) {
        const SamplerConfig *sc = &env->config->sampler;
        SamplerOptions o = {
                .interval_us = sc->interval_us,
                .threshold_us = sc->threshold_us,
                .priority = (int) sc->priority,
                .hist_max_us = sc->hist_max_us,
                .pm_qos = sc->pm_qos,
                .lock_memory = true,
                .event_fd = env->event_fd,
                .host_online = env->host_online,
        };

        if (l->sampler)
                return 0;
        if (sc->has_cpus)
                o.cpus = sc->cpus;
        else
                config_isolated_cpus(env->config, &o.cpus);
        g_autofree char *cpus = cpumask_format_list(&o.cpus);
        if (sc->source != SAMPLER_SOURCE_THREAD) {
                g_autofree char *why = NULL;
                int r = -EROFS;
                o.root = env->root;
                o.writer = env->writer;
                if (env->dry_run)
                        why = g_strdup("a dry run writes nothing, and the tracer is set up by writing");
                else
                        r = sampler_start_timerlat(&o, &l->sampler, &why);
                if (r >= 0) {
                        log_info("latency sampler: the kernel's timerlat tracer on CPUs %s every %u us", cpus,
                                 o.interval_us);
                        l->measurers_set = false;
                        return 0;
                }
                if (sc->source == SAMPLER_SOURCE_TIMERLAT) {
                        log_warning("the latency sampler does not run: Source=timerlat, and %s", why);
                        return r;
                }
                log_info("latency sampler: threads of isolatord's, not the kernel's timerlat tracer: %s", why);
        }
        int r = sampler_start(&o, &l->sampler);
        if (r < 0)
                return log_error_errno(r, "cannot start the latency sampler: %m");
        log_info("latency sampler on CPUs %s every %u us (SCHED_FIFO %d)", cpus, o.interval_us, o.priority);
        l->measurers_set = false;
        return 0;
}

void latency_sampler_stop(Latency *l) {
        if (l->sampler && l->causes) {
                const SamplerOptions *o = sampler_options(l->sampler);
                CPUMASK_FOREACH(cpu, &o->cpus)
                        causes_set_measurer(l->causes, cpu, 0);
        }
        l->sampler = sampler_stop(l->sampler);
        l->measurers_set = false;
        g_hash_table_remove_all(l->exceeded_sent);
        g_hash_table_remove_all(l->spikes_seen);
}

Sampler *latency_sampler(Latency *l) {
        return l->sampler;
}

/* The measuring thread's own time on its CPU and how often it was put there. */
static void own_cost(LatencyStats *st, const Root *host, double seconds) {
        uint64_t run_ns, slices;
        if (st->tid <= 0 || seconds <= 0 || task_read_schedstat(host, st->tgid, st->tid, &run_ns, &slices) < 0)
                return;
        st->own_wakeups_per_s = (double) slices / seconds;
        st->own_cpu_percent = (double) run_ns / 1e9 / seconds * 100.0;
}

GPtrArray *latency_stats(Latency *l, const LatencyEnv *env) {
        if (!l->sampler)
                return NULL;
        GPtrArray *stats = sampler_stats(l->sampler);
        double seconds = ((double) g_get_monotonic_time() * 1e3 - (double) sampler_started_ns(l->sampler)) / 1e9;
        for (unsigned i = 0; i < stats->len; i++)
                own_cost(stats->pdata[i], env->host, seconds);
        return stats;
}

void latency_reset(Latency *l) {
        if (l->sampler)
                sampler_reset(l->sampler);
        spike_log_clear(l->spikes);
}

static void emit(const LatencyEnv *env, const Event *e) {
        if (env->sink && env->sink->emit)
                env->sink->emit(e, env->sink->userdata);
}

static void exceeded(Latency *l, const LatencyEnv *env, const GPtrArray *stats, int64_t now) {
        for (unsigned i = 0; i < stats->len; i++) {
                const LatencyStats *st = stats->pdata[i];
                ExceededSent *sent = g_hash_table_lookup(l->exceeded_sent, GINT_TO_POINTER(st->cpu + 1));
                if (!st->measured || st->exceeded == 0)
                        continue;
                if (!sent) {
                        sent = g_new0(ExceededSent, 1);
                        g_hash_table_insert(l->exceeded_sent, GINT_TO_POINTER(st->cpu + 1), sent);
                } else if (st->exceeded <= sent->count || now - sent->at_usec < G_USEC_PER_SEC) {
                        if (st->exceeded < sent->count)
                                sent->count = 0; /* reset meanwhile */
                        continue;
                }
                emit(env, &(Event) { .kind = EVENT_LATENCY_EXCEEDED, .cpu = (unsigned) st->cpu,
                                     .latency_us = st->last_exceeded_us,
                                     .threshold_us = sampler_options(l->sampler)->threshold_us });
                sent->count = st->exceeded;
                sent->at_usec = now;
        }
}

/* The spikes the threads kept since the last look, handed to attribution. */
static void queue_spikes(Latency *l, Causes *c) {
        const SamplerOptions *o = sampler_options(l->sampler);
        SamplerSpike spikes[SAMPLER_SPIKES_KEPT];

        CPUMASK_FOREACH(cpu, &o->cpus) {
                uint64_t *seen = g_hash_table_lookup(l->spikes_seen, GINT_TO_POINTER(cpu + 1));
                if (!seen) {
                        seen = g_new0(uint64_t, 1);
                        g_hash_table_insert(l->spikes_seen, GINT_TO_POINTER(cpu + 1), seen);
                }
                unsigned n = sampler_spikes(l->sampler, cpu, seen, spikes);
                for (unsigned i = 0; i < n; i++)
                        causes_spike(c, cpu, spikes[i].at_ns, spikes[i].latency_ns);
        }
}

static bool explained_due(Latency *l, int cpu, int64_t now) {
        int64_t *at = g_hash_table_lookup(l->explained_at, GINT_TO_POINTER(cpu + 1));
        if (at && now - *at < G_USEC_PER_SEC)
                return false;
        if (!at) {
                at = g_new0(int64_t, 1);
                g_hash_table_insert(l->explained_at, GINT_TO_POINTER(cpu + 1), at);
        }
        *at = now;
        return true;
}

/* Which IRQs the Driver= rules' devices have: a walk of every bus's drivers, which a
 * spike's judgement must not make each time (spikes come by the hundred a second on a
 * bad machine); devices bind seldom, so a second's staleness is nothing. */
static GHashTable *irq_drivers(Latency *l, const LatencyEnv *env, int64_t now) {
        g_auto(GStrv) drivers = config_irq_drivers(env->config);
        if (!drivers[0]) {
                g_clear_pointer(&l->irq_drivers, g_hash_table_unref);
                return NULL;
        }
        if (!l->irq_drivers || now - l->irq_drivers_at >= G_USEC_PER_SEC) {
                if (l->irq_drivers)
                        g_hash_table_unref(l->irq_drivers);
                l->irq_drivers = irq_driver_map(env->root, drivers);
                l->irq_drivers_at = now;
        }
        return l->irq_drivers;
}

static void report(Latency *l, const LatencyEnv *env, GPtrArray *raws) {
        g_autoptr(GPtrArray) workloads = NULL;
        int64_t now = g_get_monotonic_time();
        SpikeJudge j = {
                .config = env->config, .root = env->root, .host = env->host, .findings = env->findings,
                .source = causes_source(l->causes),
                .threshold_us = l->sampler ? sampler_options(l->sampler)->threshold_us : env->config->sampler.threshold_us,
                .realtime_offset_us = g_get_real_time() - now,
                .irqs_put_back = l->irq_put_back,
        };

        if (raws->len)
                j.irq_drivers = irq_drivers(l, env, now);

        for (unsigned i = 0; i < raws->len; i++) {
                const RawSpike *raw = raws->pdata[i];
                if (!workloads && env->workloads)
                        j.workloads = workloads = env->workloads(env->userdata);
                j.rates = causes_rates_of(l->causes, raw->cpu);
                Spike *s = spike_report(raw, &j);
                if (explained_due(l, raw->cpu, now)) {
                        g_autofree char *summary = spike_summary(s);
                        log_info("CPU %u woke %" G_GUINT64_FORMAT " us late: %s (%s)", s->cpu, s->latency_us, summary,
                                 s->source);
                        emit(env, &(Event) { .kind = EVENT_LATENCY_EXPLAINED, .cpu = s->cpu, .spike = s });
                }
                spike_log_add(l->spikes, s);
        }
}

void latency_check(Latency *l, const LatencyEnv *env) {
        if (!l->sampler)
                return;
        Causes *c = causes_for(l, env);
        g_autoptr(GPtrArray) stats = sampler_stats(l->sampler);
        exceeded(l, env, stats, g_get_monotonic_time());
        set_measurers(l, c);
        queue_spikes(l, c);
        g_autoptr(GPtrArray) raws = causes_collect(c, (uint64_t) g_get_monotonic_time() * 1000u, false);
        report(l, env, raws);
}

void latency_drain(Latency *l) {
        if (l->causes)
                causes_drain(l->causes);
}

/* Where an IRQ handed on was allowed, when that is off its target: the spikes judged
 * after the watch put it back still say what it was. */
static void remember_off_target(Latency *l, const LatencyEnv *env, unsigned num) {
        g_auto(GStrv) drivers = config_irq_drivers(env->config);
        Irq *irq = irq_read_one(env->root, num, drivers);
        if (!irq)
                return;
        if (!cpumask_equal(&irq->affinity, irq_target(env->config, irq, NULL)))
                g_hash_table_insert(l->irq_put_back, GUINT_TO_POINTER(num + 1), cpumask_format_list(&irq->affinity));
        irq_free(irq);
}

/* The device IRQs that fired on an audio CPU in the last second, handed on: one that
 * drifted there is put back now, not at the next pass. */
static void hand_on_irqs(Latency *l, const LatencyEnv *env) {
        g_autoptr(GPtrArray) rates = causes_rates(l->causes);
        int64_t now = g_get_monotonic_time();
        GHashTableIter it;
        gpointer old, value;

        g_hash_table_iter_init(&it, l->irq_seen_at);
        while (g_hash_table_iter_next(&it, &old, &value))
                if (now - *(int64_t *) value >= IRQ_SEEN_GAP_S * G_USEC_PER_SEC) {
                        g_hash_table_remove(l->irq_put_back, old);
                        g_hash_table_iter_remove(&it); /* the table holds the last IRQ_SEEN_GAP_S only */
                }
        for (unsigned i = 0; rates && env->irq_seen && i < rates->len; i++) {
                const NoiseCpu *n = rates->pdata[i];
                for (unsigned k = 0; k < n->sources->len; k++) {
                        const NoiseSource *s = n->sources->pdata[k];
                        gpointer key = GUINT_TO_POINTER(s->id + 1);
                        if (!g_str_equal(s->kind, "irq") || s->rate <= 0 || g_hash_table_contains(l->irq_seen_at, key))
                                continue;
                        int64_t *at = g_new(int64_t, 1);
                        *at = now;
                        g_hash_table_insert(l->irq_seen_at, key, at);
                        remember_off_target(l, env, s->id);
                        env->irq_seen(s->id, env->userdata);
                }
        }
}

void latency_retry_attribution(Latency *l) {
        if (!l->causes || !causes_fallback(l->causes))
                return;
        causes_free(l->causes);
        l->causes = NULL;
        l->measurers_set = false;
}

void latency_tick(Latency *l, const LatencyEnv *env, uint64_t now_ns) {
        Causes *c = causes_for(l, env);
        if (l->sampler) {
                set_measurers(l, c);
                queue_spikes(l, c);
        }
        g_autoptr(GPtrArray) raws = causes_collect(c, now_ns, true);
        report(l, env, raws);
        hand_on_irqs(l, env);
}

void latency_irqs(Latency *l, const LatencyEnv *env, const GPtrArray *irqs) {
        causes_irqs(causes_for(l, env), irqs);
}

GPtrArray *latency_noise(Latency *l) {
        return l->causes ? causes_rates(l->causes) : NULL;
}

GPtrArray *latency_spikes(Latency *l, unsigned n) {
        return spike_log_last(l->spikes, n);
}

uint64_t latency_spikes_by_kind(Latency *l, const char *kind) {
        return spike_log_count_by_kind(l->spikes, kind);
}

AttributionStatus latency_attribution(Latency *l) {
        if (!l->causes)
                return (AttributionStatus) {};
        return (AttributionStatus) { .source = causes_source(l->causes), .fallback = causes_fallback(l->causes),
                                     .missing = causes_missing(l->causes) };
}
