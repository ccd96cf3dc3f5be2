/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "causes.h"
#include "kernel/noise.h"
#include "kernel/root.h"
#include "model/config.h"
#include "model/spike.h"

/* A spike as a person can act on it: each cause named, a thread with its scheduling and
 * the group whose workload it is, and whether isolatord moves it: an IRQ outside its
 * target is the irq enforcer's to put back (the "irq" finding), a movable kernel thread
 * the kthread enforcer's, a process of no group on an audio CPU the "unowned-process"
 * finding's; a managed IRQ, the CPU's own kernel threads and a group's workload stay. */
typedef struct SpikeJudge {
        const Config *config;
        const Root *root;              /* the machine's /proc/irq */
        const Root *host;              /* where the traced threads are: the real /proc */
        const GPtrArray *workloads;    /* Workload*: the placed processes */
        const GPtrArray *findings;     /* Finding*: the last pass's (irq-unmovable) */
        const NoiseCpu *rates;         /* counters: the CPU's rates over the last second */
        const char *source;            /* "tracepoints" or "counters" */
        /* irq + 1 -> the cpulist it was allowed on when the watch handed it on to be put
         * back (the last IRQ_SEEN_GAP_S): a cause judged after its repair is still named
         * as what it was. NULL: none. */
        GHashTable *irqs_put_back;
        /* irq + 1 -> GPtrArray of the [Irq] Driver= names serving it (irq_driver_map, read
         * at most once a second by the caller); NULL: no Driver= rule. */
        GHashTable *irq_drivers;
        uint64_t threshold_us;
        int64_t realtime_offset_us;    /* CLOCK_REALTIME - CLOCK_MONOTONIC */
} SpikeJudge;

Spike *spike_report(const RawSpike *r, const SpikeJudge *j);
/* A thread's class from the kernel's prio: "rt 50", "normal", "deadline". */
char *spike_sched_text(int32_t prio);
