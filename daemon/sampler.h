/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpumask.h"

/* The latency sampler: one thread per measured CPU, pinned, SCHED_FIFO, sleeping with
 * clock_nanosleep(TIMER_ABSTIME) every interval and recording how late it woke, as
 * cyclictest does. Each thread is the only writer of its statistics; the loop reads them
 * without locks. The sampler shares nothing else with the loop but an eventfd that a
 * thread pokes when a sample crosses the threshold. */
typedef struct SamplerOptions {
        CpuMask cpus;             /* CPUs to measure */
        CpuMask host_cpus;        /* the CPUs of this machine the daemon may run on */
        unsigned interval_us;
        unsigned threshold_us;
        int priority;            /* SCHED_FIFO */
        unsigned hist_max_us;    /* buckets of 1 us below this; above: overflow */
        bool pm_qos;             /* hold /dev/cpu_dma_latency at 0 while running */
        bool lock_memory;        /* lock what the threads touch: stacks, statistics, code */
        int event_fd;            /* the caller's eventfd, poked on a sample above the threshold */
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
} LatencyStats;

typedef struct Sampler Sampler;

/* Starts the threads; CPUs that cannot be measured (not on this machine, or a thread
 * that could not be made real-time) are reported by sampler_stats() as not measured. */
int sampler_start(const SamplerOptions *o, Sampler **out);
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

/* The thread ID measuring cpu, or 0. */
int sampler_thread_id(Sampler *s, int cpu);
const SamplerOptions *sampler_options(const Sampler *s);
/* Why the threads' memory is not locked (no CAP_IPC_LOCK, RLIMIT_MEMLOCK), or NULL. */
const char *sampler_memory_not_locked(const Sampler *s);
/* Percentile (0-1) from a histogram with overflow; the overflow reports max_us. */
double latency_percentile(const uint32_t *hist, unsigned nbuckets, uint64_t overflows, uint64_t total,
                          double max_us, double q);
