/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel/root.h"
#include "kernel/trace-record.h"
#include "model/cpumask.h"

/* The kernel's tracepoints (trace_points[]) on the watched CPUs, through perf_event_open:
 * one event per tracepoint per CPU (pid -1, that CPU), all of a CPU's events writing
 * into one ring mapped here, which nothing is woken for until it is half full: the audio
 * CPUs only write their records, and the loop reads them on housekeeping when it asks or
 * when poll_fd says a ring is filling (a CPU busy with normal tasks switches to and from
 * the sampler a thousand times a second, and fills its ring within the second). The
 * formats come from the root's tracefs, which must be the running kernel's. */
typedef struct Tracepoints Tracepoints;

typedef struct TracepointsOptions {
        const Root *root;         /* where tracefs is */
        CpuMask cpus;             /* the CPUs to watch, all on this machine */
        size_t ring_budget;       /* bytes of ring for all CPUs together */
        int poll_fd;              /* an epoll for each CPU's ring (readable when half full); none when not > 0 */
} TracepointsOptions;

typedef struct TraceSinks {
        void (*record)(const TraceRecord *r, void *userdata);
        void (*lost)(int cpu, uint64_t n, void *userdata);
        void *userdata;
} TraceSinks;

/* 0, or a negative errno with *why (g_free): no tracefs, a required tracepoint missing
 * or unreadable, perf_event_open refused (CAP_PERFMON, perf_event_paranoid). */
int tracepoints_open(const TracepointsOptions *o, Tracepoints **out, char **why);
void tracepoints_free(Tracepoints *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Tracepoints, tracepoints_free)
/* Everything the rings hold, CPU by CPU, each in the order the kernel wrote it; the
 * number of records handed on. */
size_t tracepoints_drain(Tracepoints *t, const TraceSinks *sinks);
/* The same for one CPU. */
size_t tracepoints_drain_cpu(Tracepoints *t, int cpu, const TraceSinks *sinks);
/* Keeps the switches between idle and the measuring thread tid (0: none) out of cpu's
 * ring: at 1 kHz they would be most of it, and say nothing. */
void tracepoints_quiet(Tracepoints *t, int cpu, pid_t tid);
/* The optional tracepoints this kernel lacks ("irq_vectors (x86 only), nmi"), or NULL. */
const char *tracepoints_missing(const Tracepoints *t);
/* Bytes of ring per CPU. */
size_t tracepoints_ring_size(const Tracepoints *t);
