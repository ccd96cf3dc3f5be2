/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/root.h"
#include "kernel/timerlat.h"
#include "model/cpumask.h"

/* The latency sampler: one thread per measured CPU, pinned, SCHED_FIFO, sleeping with
 * clock_nanosleep(TIMER_ABSTIME) every interval and recording how late it woke, as
 * cyclictest does. Each thread is the only writer of its statistics; the loop reads them
 * without locks. The sampler shares nothing else with the loop but an eventfd that a
 * thread pokes when a sample crosses the threshold.
 *
 * Or the kernel's timerlat tracer measures (sampler_start_timerlat): its own thread per
 * CPU wakes from a timer, and one thread of isolatord's, on housekeeping and not
 * real-time, reads the tracer's rings a few times a second into the same statistics,
 * with the timer IRQ's latency apart from the thread's. */
typedef struct SamplerOptions {
        CpuMask cpus;             /* CPUs to measure */
        CpuMask host_online;      /* this machine's online CPUs (not the daemon's own affinity,
                                   * which isolcpus= narrows to housekeeping at boot) */
        unsigned interval_us;
        unsigned threshold_us;
        int priority;            /* SCHED_FIFO */
        unsigned hist_max_us;    /* buckets of 1 us below this; above: overflow */
        bool pm_qos;             /* hold /dev/cpu_dma_latency at 0 while running */
        bool lock_memory;        /* lock what the threads touch: stacks, statistics, code */
        int event_fd;            /* the caller's eventfd, poked on a sample above the threshold */
        /* timerlat only: the machine whose tracer runs, and how its global settings are
         * written (their originals saved first). */
        const Root *root;
        TimerlatWriter writer;
} SamplerOptions;

typedef struct LatencyStats {
        int cpu;
        bool measured;
        bool memory_locked;      /* its thread's stack, statistics and code cannot fault */
        uint64_t samples, overflows, overruns, exceeded;
        double min_us, avg_us, max_us, p50_us, p99_us, p999_us;
        uint64_t last_exceeded_us;
        unsigned hist_max_us;
        uint32_t *histogram;     /* hist_max_us buckets: [i, i+1) us */
        /* What measuring costs the CPU, since the sampler started (filled by the caller,
         * which reads the measuring thread's schedstat): -1 when unknown. */
        int tid;                 /* the measuring thread */
        int tgid;                /* its process: isolatord's, or the tracer's kernel thread itself */
        double own_wakeups_per_s, own_cpu_percent;
        const char *source;      /* "thread" or "timerlat" */
        /* timerlat: the timer IRQ's latency (the statistics above are the thread's). */
        uint64_t irq_samples;
        double irq_avg_us, irq_max_us;
} LatencyStats;

typedef struct Sampler Sampler;

/* Starts the threads; CPUs that cannot be measured (not on this machine, or a thread
 * that could not be made real-time) are reported by sampler_stats() as not measured. */
int sampler_start(const SamplerOptions *o, Sampler **out);
/* The same measured by the kernel's timerlat tracer; a negative errno with why (g_free)
 * when it cannot run here, and nothing is left changed. */
int sampler_start_timerlat(const SamplerOptions *o, Sampler **out, char **why);
/* "thread" or "timerlat". */
const char *sampler_source(const Sampler *s);
/* Stops and joins the threads; NULL is fine. */
Sampler *sampler_stop(Sampler *s);
/* Asks every thread to zero its statistics; each does so at its next wake-up. */
void sampler_reset(Sampler *s);
/* Samples above the threshold since the last reset, all CPUs together: the counters
 * only, for the status, without copying histograms. */
uint64_t sampler_exceeded_total(Sampler *s);
/* A snapshot per CPU asked for, measured or not (LatencyStats*). */
GPtrArray *sampler_stats(Sampler *s);
void latency_stats_free(LatencyStats *l);

/* The samples above the threshold a thread keeps for attribution, newest last. */
#define SAMPLER_SPIKES_KEPT 16
typedef struct SamplerSpike {
        uint64_t at_ns;          /* when the thread woke (CLOCK_MONOTONIC) */
        uint64_t latency_ns;     /* how late */
} SamplerSpike;
/* The spikes of cpu since *seen (0 at first), at most SAMPLER_SPIKES_KEPT, into out;
 * *seen moves past them. Returns how many. */
unsigned sampler_spikes(Sampler *s, int cpu, uint64_t *seen, SamplerSpike *out);

/* The thread ID measuring cpu, or 0. */
int sampler_thread_id(Sampler *s, int cpu);
const SamplerOptions *sampler_options(const Sampler *s);
/* When it started (CLOCK_MONOTONIC ns). */
uint64_t sampler_started_ns(const Sampler *s);
/* Why the threads' memory is not locked (no CAP_IPC_LOCK, RLIMIT_MEMLOCK), or NULL. */
const char *sampler_memory_not_locked(const Sampler *s);
/* Percentile (0-1) from a histogram with overflow; the overflow reports max_us. */
double latency_percentile(const uint32_t *hist, unsigned nbuckets, uint64_t overflows, uint64_t total,
                          double max_us, double q);
