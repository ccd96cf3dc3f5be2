/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/root.h"
#include "kernel/trace-format.h"
#include "model/cpumask.h"

/* The kernel's timerlat tracer (CONFIG_TIMERLAT_TRACER) as the sampler's source: the
 * kernel's own thread per measured CPU wakes every period from a timer, and the tracer
 * records how late the timer's IRQ ran and how late the thread ran, apart, as `rtla
 * timerlat` reports them. isolatord runs it in a tracing instance of its own
 * (instances/isolatord) whose per-CPU rings it reads as raw pages (trace_pipe_raw) a few
 * times a second: no thread of isolatord's wakes on the audio CPUs, and reading costs a
 * page, not a line of text, per hundred samples.
 *
 * Which CPUs run the tracer's threads and their period are the kernel's only, global
 * settings (osnoise/cpus, osnoise/timerlat_period_us): written through the caller's
 * writer, which saves their originals first, and put back when the source closes. */

/* One sample of the tracer's ring. */
typedef struct TimerlatSample {
        uint64_t at_ns;           /* the trace clock's time: CLOCK_MONOTONIC ("mono") */
        bool thread;              /* the thread's latency; else the timer IRQ's */
        uint64_t latency_ns;
        int32_t pid;              /* the task that ran when it was recorded: the tracer's thread for a thread sample */
} TimerlatSample;

typedef void (*TimerlatSampleFn)(const TimerlatSample *s, void *userdata);

/* Decodes one page of a per-CPU ring as trace_pipe_raw hands it (the ring buffer's page:
 * a 64-bit timestamp, a 64-bit commit holding the data's length and the lost-events
 * flags, the events), calling fn for each timerlat entry of the format f
 * (events/ftrace/timerlat/format) and stepping over every other event. *missed is set
 * when the kernel dropped events before this page. Returns the samples decoded, or
 * -EBADMSG when the page does not hold together (a length past its end): the kernel's
 * layout, or a fake root's bytes, never trusted to fit. */
int timerlat_page_decode(const TraceFormat *f, const uint8_t *page, size_t len, TimerlatSampleFn fn, void *userdata,
                         bool *missed);

/* How the caller saves an original before a write and puts it back. */
typedef struct TimerlatWriter {
        int (*write_saved)(const char *rel, const char *value, void *userdata);
        void (*restore)(const char *rel, void *userdata);
        void *userdata;
} TimerlatWriter;

typedef struct Timerlat Timerlat;

/* Where the tracer can run under root: the tracing folder ("sys/kernel/tracing"), or
 * NULL with why (g_free) when the tracer is not there (no tracefs, a kernel without
 * CONFIG_TIMERLAT_TRACER). */
const char *timerlat_available(const Root *root, char **why);
/* Starts the tracer on cpus every period_us, in isolatord's own instance (one a crashed
 * run left is stopped and removed first), its clock CLOCK_MONOTONIC. 0, or a negative
 * errno with why (g_free). */
int timerlat_open(const Root *root, const CpuMask *cpus, unsigned period_us, const TimerlatWriter *writer,
                  Timerlat **out, char **why);
/* The ring of cpu opened for reading, non-blocking (the caller reads pages of
 * timerlat_page_size() bytes), or -1. */
int timerlat_fd(const Timerlat *t, int cpu);
size_t timerlat_page_size(void);
const TraceFormat *timerlat_format(const Timerlat *t);
/* Stops the tracer, removes the instance and puts the global settings back. NULL is fine. */
void timerlat_close(Timerlat *t);
