/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* A wake-up on an audio CPU later than ThresholdUs=, with what ran there in its window:
 * the shape GetSpikes, LatencyExplained, the metrics and the front-ends read. Every text
 * is made printable here (a thread's name is its user's). */
typedef struct SpikeCause {
        char *kind;               /* "irq", "softirq", "vector", "nmi", "thread"; "counter" from counters */
        char *name;               /* "56 xhci_hcd", "NET_RX", "local_timer", "kworker/3:1" */
        uint32_t id;              /* IRQ, softirq vector or thread id */
        int32_t pid;              /* a thread's process; 0 otherwise */
        double time_us;           /* its time in the window; -1 when unknown (counters) */
        uint32_t count;           /* occurrences in the window */
        double per_second;        /* counters: its rate over the last second; -1 otherwise */
        char *sched;              /* a thread's class: "rt 50", "normal", "deadline"; "" */
        char *group;              /* the group whose placed workload the thread is; "" */
        bool movable;             /* isolatord's repair moves it (see note) */
        char *note;               /* what it is and what to do: the finding and repair it links to */
} SpikeCause;

typedef struct Spike {
        uint32_t cpu;
        uint64_t at_usec;         /* CLOCK_REALTIME of the late wake-up */
        uint64_t latency_us, threshold_us;
        char *source;             /* "tracepoints" or "counters" */
        bool partial;             /* the window reaches back before what was kept */
        double traced_us;         /* the time of every cause found (tracepoints) */
        GPtrArray *causes;        /* SpikeCause*, the largest first */
} Spike;

SpikeCause *spike_cause_new(const char *kind, const char *name);
void spike_cause_free(SpikeCause *c);
void spike_cause_set_note(SpikeCause *c, bool movable, const char *note);
Spike *spike_new(uint32_t cpu, uint64_t at_usec, uint64_t latency_us, uint64_t threshold_us, const char *source);
void spike_free(Spike *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Spike, spike_free)
/* "56 xhci_hcd 30 us (2x)": the first cause in a line for people, or "nothing traced". */
char *spike_summary(const Spike *s);

/* The last spikes kept, oldest first: a bounded ring, whatever the rate. */
typedef struct SpikeLog SpikeLog;
SpikeLog *spike_log_new(unsigned max);
void spike_log_free(SpikeLog *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpikeLog, spike_log_free)
/* Takes s. */
void spike_log_add(SpikeLog *l, Spike *s);
/* The last n (all: 0), oldest first; borrowed until the next add. */
GPtrArray *spike_log_last(const SpikeLog *l, unsigned n);
const Spike *spike_log_newest(const SpikeLog *l);
/* Spikes kept since the start, by the kind of their first cause ("none" when nothing
 * was found): for the metrics. */
uint64_t spike_log_count_by_kind(const SpikeLog *l, const char *kind);
void spike_log_clear(SpikeLog *l);
