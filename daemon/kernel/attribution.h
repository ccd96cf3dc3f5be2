/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel/trace-record.h"
#include "model/cpumask.h"

/* What ran on each watched CPU, folded from its trace records: entry and exit pairs
 * become occurrences with their own (net) time, a thread's time on the CPU between two
 * switches less the interrupts inside it; the recent ones are kept in a bounded ring per
 * CPU. A spike of L ns ending at T is explained by what ran in [T - L - margin, T],
 * ranked by the time it took there, then by count. Pure: records come from the caller
 * (a perf ring on the real kernel, synthetic ones in the tests), in time order per CPU. */

typedef enum CauseKind {
        CAUSE_IRQ,                /* a device IRQ: id = its number, name = its action */
        CAUSE_SOFTIRQ,            /* id = the vector */
        CAUSE_VECTOR,             /* the architecture's (local timer, IPIs): id = TraceVector */
        CAUSE_NMI,
        CAUSE_THREAD,             /* id = the thread (tid), tgid = its process */
        _CAUSE_KIND_MAX,
} CauseKind;

/* How many causes an explanation names, and sources an interval's activity tells apart
 * per CPU (the rest are counted together as "other"). */
#define ATTRIBUTION_CAUSES_MAX 5
#define ATTRIBUTION_SOURCES_MAX 16

typedef struct Cause {
        CauseKind kind;
        uint32_t id;
        int32_t tgid;             /* a thread's process; 0 otherwise */
        int32_t prio;             /* a thread's kernel prio; 0 otherwise */
        bool running;             /* a thread still on the CPU at the window's end: prio is
                                   * its switch-in's, from before any change it made since */
        char name[TRACE_COMM_MAX]; /* IRQ action or thread comm, raw (the user's text); "" otherwise */
        uint64_t time_ns;         /* in the window (explanation) or the interval (activity) */
        uint32_t count;
} Cause;

typedef struct Explanation {
        Cause causes[ATTRIBUTION_CAUSES_MAX];
        unsigned ncauses;
        uint64_t traced_ns;       /* the time of every cause found in the window */
        bool partial;             /* the window reaches back before the oldest occurrence kept, or the
                                   * kernel lost records of it (a full ring) */
} Explanation;

/* What reached a CPU over an interval, for the rates of the noise monitor. */
typedef struct CpuActivity {
        uint64_t vectors[_TRACE_VECTOR_MAX]; /* entries of each architecture interrupt */
        uint64_t irqs, softirqs, nmis, switches;
        Cause sources[ATTRIBUTION_SOURCES_MAX]; /* by time, then count */
        unsigned nsources;
        uint64_t other_count, other_ns; /* sources beyond ATTRIBUTION_SOURCES_MAX */
        uint64_t lost;            /* records the kernel could not write (a full ring) */
} CpuActivity;

typedef struct Attribution Attribution;

/* ring: occurrences kept per CPU (at least 8). */
Attribution *attribution_new(const CpuMask *cpus, unsigned ring);
void attribution_free(Attribution *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Attribution, attribution_free)
/* The thread that measures cpu (the sampler's, timerlat's): its runs are the measurement,
 * never a cause. tid 0: none. */
void attribution_set_measurer(Attribution *a, int cpu, int32_t tid);
void attribution_feed(Attribution *a, const TraceRecord *r);
/* The kernel lost n records of cpu: what is open there is forgotten. */
void attribution_lost(Attribution *a, int cpu, uint64_t n);
/* false for a CPU not watched. */
bool attribution_explain(const Attribution *a, int cpu, uint64_t end_ns, uint64_t latency_ns, uint64_t margin_ns,
                         Explanation *out);
/* What reached cpu since the last call, and starts counting again; false for a CPU not
 * watched. */
bool attribution_take_activity(Attribution *a, int cpu, CpuActivity *out);

const char *cause_kind_to_string(CauseKind k);
