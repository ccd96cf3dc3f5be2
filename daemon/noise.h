/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "cpumask.h"
#include "irq.h"
#include "root.h"

/* What still disturbs each CPU, as rates per second between two readings of
 * /proc/interrupts and /proc/schedstat: the local timer (LOC), rescheduling (RES),
 * function-call (CAL) and TLB-shootdown (TLB) interrupts, device IRQs, and context
 * switches. */
typedef struct NoiseReading {
        InterruptTable *irqs;
        GHashTable *switches;    /* cpu (GINT key) -> schedule() calls, from schedstat */
        uint64_t at_ns;          /* CLOCK_MONOTONIC */
} NoiseReading;

typedef struct NoiseSource {
        char *name;              /* "LOC", or "24 xhci_hcd" for a device IRQ */
        double rate;
} NoiseSource;

typedef struct NoiseCpu {
        int cpu;
        double loc, res, cal, tlb, devices, switches;
        bool has_switches;
        GPtrArray *sources;      /* NoiseSource*, device IRQs with a rate, highest first */
} NoiseCpu;

void noise_reading_free(NoiseReading *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NoiseReading, noise_reading_free)
/* Reads proc/interrupts and proc/schedstat under the root; at_ns stamps it. */
NoiseReading *noise_read(const Root *root, uint64_t at_ns);
/* Parses proc/schedstat's "cpuN" lines: the third number is schedule() calls. */
GHashTable *schedstat_parse(const char *text);
/* Rates between two readings for the CPUs in set (NoiseCpu*); names gives IRQ numbers
 * their handlers' names (may be NULL). */
GPtrArray *noise_rates(const NoiseReading *before, const NoiseReading *after, const CpuMask *cpus,
                       GHashTable *names);
void noise_cpu_free(NoiseCpu *c);
