/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/attribution.h"
#include "kernel/irq.h"
#include "kernel/noise.h"
#include "kernel/root.h"
#include "model/cpumask.h"

/* What reaches the audio CPUs, and what ran in each spike's window. From the kernel's
 * tracepoints (tracepoints.c) folded by attribution.c where they can be opened; else from
 * counters, the audio CPUs' rows of /proc/interrupts and /proc/schedstat, which can only
 * say what moved in the last second, not what ran when: it says which it is. The cost
 * follows what happens on the audio CPUs: the rings fill only with their events, the
 * counters read only their columns of the rows that can reach them. */
typedef struct Causes Causes;

typedef struct CausesOptions {
        const Root *root;
        CpuMask cpus;             /* the audio CPUs */
        CpuMask host_online;      /* tracepoints are this machine's: only its CPUs are traced */
        bool tracepoints;         /* try them; false: counters */
        size_t ring_budget;       /* bytes of kernel ring for every CPU together */
        size_t window_budget;     /* bytes of folded occurrences kept for every CPU together */
        int poll_fd;              /* an epoll told of the rings, readable when one is half full; none when not > 0 */
} CausesOptions;

/* A spike as attribution saw it, before it is judged (spike-report.c). */
typedef struct RawSpike {
        int cpu;
        uint64_t at_ns, latency_ns; /* CLOCK_MONOTONIC */
        bool traced;              /* why holds the causes; else the CPU's rates do */
        Explanation why;
} RawSpike;

Causes *causes_new(const CausesOptions *o);
/* How often the counters are read when one reading costs cost_ns of CPU: every second at
 * the least, as much longer as keeps them within a thousandth of a CPU, at most 10 s. */
uint64_t causes_counters_every(uint64_t cost_ns);
void causes_free(Causes *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Causes, causes_free)
/* "tracepoints" or "counters". */
const char *causes_source(const Causes *c);
/* Why counters (NULL with tracepoints); the tracepoints this kernel lacks (or NULL). */
const char *causes_fallback(const Causes *c);
const char *causes_missing(const Causes *c);
/* The thread measuring cpu (0: none): its own runs are never a cause, and its switches
 * with idle stay out of the ring. */
void causes_set_measurer(Causes *c, int cpu, pid_t tid);
/* The IRQs of the last scan: counters read the rows of those that may reach the audio
 * CPUs, by their names. */
void causes_irqs(Causes *c, const GPtrArray *irqs);
/* A spike to explain at the next collect; of several on a CPU meanwhile, the worst. */
void causes_spike(Causes *c, int cpu, uint64_t at_ns, uint64_t latency_ns);
/* Reads what the kernel holds for the CPUs with spikes (every CPU at a tick), explains
 * the spikes given so far (RawSpike*, in a new array) and, at a tick, the rates of the
 * interval since the last one. */
GPtrArray *causes_collect(Causes *c, uint64_t now_ns, bool tick);
/* Reads every ring now (poll_fd said one is filling): the records are folded, and a
 * spike waiting for them is explained at the next collect. */
void causes_drain(Causes *c);
/* The rates of the last interval (NoiseCpu* per audio CPU), a new reference; NULL until
 * there is one. */
GPtrArray *causes_rates(Causes *c);
/* The rates of one CPU, or NULL. Borrowed. */
const NoiseCpu *causes_rates_of(Causes *c, int cpu);
