/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/cpumask.h"

/* The starvation guard's decisions, pure: what enforcer-starvation.c reads of a thread
 * goes in as a sample, what to do with it comes out. No file, no clock: the unit tests
 * feed fake samples and times.
 *
 * A thread starves when a real-time task that never pauses holds its CPU: it stays
 * runnable and does not run. The boost is stalld's: SCHED_DEADLINE with 20 us of every
 * 1 s period, for 3 s. 20 us is enough for the kernel's per-CPU work (a vmstat update,
 * an RCU callback batch, a timer) and bounds what the audio CPU gives away to 20 us a
 * second, far below any audio period; three periods let a thread with a few items
 * queued finish them; the kernel enforces the runtime, so the boost cannot run away. */

#define STARVE_BOOST_RUNTIME_NS 20000u
#define STARVE_BOOST_PERIOD_NS 1000000000u
#define STARVE_BOOST_USEC (3 * G_USEC_PER_SEC)

/* A thread as one look at /proc shows it. */
typedef struct StarveSample {
        char state;              /* stat's state: 'R' runnable or running */
        int cpu;                 /* the CPU it last ran on (stat field 39) */
        bool has_progress;
        uint64_t progress;       /* grows whenever it runs: run time, or context switches */
} StarveSample;

typedef enum StarveMethod {
        STARVE_METHOD_NONE,
        STARVE_METHOD_DEADLINE,  /* bounded by the kernel: 20 us a second */
        STARVE_METHOD_FIFO,      /* where SCHED_DEADLINE is refused: unbounded, so only until it has run */
} StarveMethod;

/* What the guard keeps of one thread between samples. */
typedef struct StarveTrack {
        bool waiting;            /* runnable with this progress since waiting_since */
        uint64_t progress;
        int64_t waiting_since;   /* CLOCK_MONOTONIC usec */
        StarveMethod boost;      /* the boost it runs with now */
        uint64_t boost_progress; /* its progress when boosted */
        int64_t boost_until;
} StarveTrack;

typedef enum StarveAction {
        STARVE_ACTION_NONE,
        STARVE_ACTION_BOOST,     /* starving: boost it */
        STARVE_ACTION_END,       /* the boost is over: its own scheduling back */
} StarveAction;

/* One sample of a watched thread at now (usec): updates the track and says what to do.
 * Starving: runnable on one of cpus with its progress unchanged for limit_usec. A boost
 * ends STARVE_BOOST_USEC after it began; a FIFO boost, which the kernel does not bound,
 * as soon as the thread has run (it left the run queue, or its progress grew). A sample
 * without progress says nothing of starvation (the thread cannot be judged). */
StarveAction starve_judge(StarveTrack *t, const StarveSample *s, const CpuMask *cpus, int64_t now, int64_t limit_usec);
/* The boost asked for began with method, or could not (STARVE_METHOD_NONE: the thread
 * must starve a whole limit again before the next try). */
void starve_boosted(StarveTrack *t, StarveMethod method, const StarveSample *s, int64_t now);
/* The boost ended: the thread must starve a whole limit again before the next. */
void starve_ended(StarveTrack *t);
/* Its CPU went idle since the last look: whatever it waits for now, it has waited less
 * than that (an idle CPU ran everything runnable on it). */
void starve_rested(StarveTrack *t);
/* Whether a CPU can have kept a thread waiting since the last look: its idle time
 * (cpustat.h) did not grow. Not known either time: it may have, look. */
bool starve_cpu_stayed_busy(bool known_before, uint64_t idle_before, bool known_now, uint64_t idle_now);
/* How long it has been runnable without running as of now (usec); 0 when it is not. */
int64_t starve_waited(const StarveTrack *t, int64_t now);

/* The SCHED_FIFO priority of a boost where SCHED_DEADLINE is refused: above the hog's
 * real-time priority, 99 at most (which does not preempt a FIFO 99 hog: only a deadline
 * task can); 99 when the hog is not real-time or not known. */
int starve_fifo_priority(int hog_policy, int hog_priority);

/* A task that may hold a CPU, as its stat shows it. */
typedef struct StarveCandidate {
        pid_t tid;
        char state;
        int cpu;
        int policy;
        int priority;
} StarveCandidate;
/* Who holds cpu: among the candidates runnable on it, other than except, a real-time
 * one before a fair one, then the highest priority; the index, or -1. */
int starve_pick_hog(const StarveCandidate *c, size_t n, int cpu, pid_t except);
