/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "model/cpumask.h"
#include "kernel/attribution.h"
#include "kernel/interrupt-counts.h"
#include "kernel/irq.h"
#include "kernel/root.h"

/* What still disturbs each audio CPU, as rates per second over an interval: the local
 * timer (LOC), rescheduling (RES), function-call (CAL) and TLB-shootdown (TLB)
 * interrupts, device IRQs, and context switches, with the sources named. Two ways to the
 * same shape: from counters (two readings of the watched CPUs' rows of /proc/interrupts
 * and of /proc/schedstat), or from what attribution folded of the tracepoints (every IRQ,
 * softirq, vector and thread by name, with its share of the CPU's time). */
typedef struct NoiseReading {
        InterruptTable *irqs;
        GHashTable *switches;    /* cpu (GINT key) -> schedule() calls, from schedstat */
        uint64_t at_ns;          /* CLOCK_MONOTONIC */
} NoiseReading;

typedef struct NoiseSource {
        char *name;              /* printable: "24 xhci_hcd", "NET_RX", "local_timer", "kworker/3:1" */
        const char *kind;        /* "irq", "softirq", "vector", "nmi", "thread", "other" */
        uint32_t id;             /* IRQ, softirq vector, TraceVector or thread id */
        int32_t pid;             /* a thread's process (0: unknown) */
        int32_t prio;            /* a thread's kernel prio */
        double rate;             /* per second */
        double share;            /* of the CPU's time over the interval; -1 unknown (counters) */
} NoiseSource;

typedef struct NoiseCpu {
        int cpu;
        double loc, res, cal, tlb, devices, switches; /* per second; -1 where unknown */
        double seconds;          /* the window the rates are of */
        double lost;             /* trace records the kernel dropped, per second (a full ring); -1 counters */
        bool has_switches;
        bool traced;             /* from tracepoints (sources named with their time), else counters */
        GPtrArray *sources;      /* NoiseSource*: by time when traced, else device IRQs by rate */
} NoiseCpu;

void noise_reading_free(NoiseReading *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NoiseReading, noise_reading_free)
/* Reads the rows counts asks for and proc/schedstat under the root; at_ns stamps it. */
NoiseReading *noise_read(const Root *root, InterruptCounts *counts, uint64_t at_ns);
/* Parses proc/schedstat's "cpuN" lines: the third number is schedule() calls. */
GHashTable *schedstat_parse(const char *text);
/* Rates between two readings for the CPUs in set (NoiseCpu*); names gives IRQ numbers
 * their handlers' names (may be NULL). */
GPtrArray *noise_rates(const NoiseReading *before, const NoiseReading *after, const CpuMask *cpus,
                       GHashTable *names);
void noise_cpu_free(NoiseCpu *c);
/* The rates of what attribution folded on a CPU over seconds; vectors: whether the
 * kernel traces the architecture's interrupts (x86), else loc, res and cal are unknown. */
NoiseCpu *noise_from_activity(int cpu, const CpuActivity *a, double seconds, bool vectors);
