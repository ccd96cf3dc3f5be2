/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/trace-format.h"

/* The kernel's tracepoints that say what ran on a CPU, and their raw records decoded into
 * one neutral shape (TraceRecord) whatever the source: a perf ring on the real kernel, or
 * synthetic records in the tests. Pure: formats come in as text. */

typedef enum TraceKind {
        TRACE_IRQ_ENTRY,          /* irq:irq_handler_entry: id = IRQ, name = its action */
        TRACE_IRQ_EXIT,           /* irq:irq_handler_exit */
        TRACE_SOFTIRQ_ENTRY,      /* irq:softirq_entry: id = vector */
        TRACE_SOFTIRQ_EXIT,
        TRACE_VECTOR_ENTRY,       /* irq_vectors:*_entry (x86): id = TraceVector */
        TRACE_VECTOR_EXIT,
        TRACE_NMI,                /* nmi:nmi_handler: duration_ns = the handler's time */
        TRACE_SWITCH,             /* sched:sched_switch: prev and next */
} TraceKind;

/* The architecture's own interrupts that x86 traces (irq_vectors). */
typedef enum TraceVector {
        TRACE_VECTOR_LOCAL_TIMER,
        TRACE_VECTOR_RESCHEDULE,
        TRACE_VECTOR_CALL_FUNCTION,
        TRACE_VECTOR_CALL_FUNCTION_SINGLE,
        _TRACE_VECTOR_MAX,
} TraceVector;

#define TRACE_COMM_MAX 16

typedef struct TraceTask {
        int32_t pid, prio;        /* prio: the kernel's (0-98 real-time, 100-139 normal, -1 deadline) */
        char comm[TRACE_COMM_MAX]; /* as the kernel has it: the user's text, not yet printable */
} TraceTask;

typedef struct TraceRecord {
        uint64_t time_ns;         /* CLOCK_MONOTONIC */
        uint32_t cpu;
        TraceKind kind;
        uint32_t id;              /* IRQ number, softirq vector or TraceVector */
        int32_t tgid;             /* the process of the task that was running (a perf sample's pid) */
        uint64_t duration_ns;     /* TRACE_NMI */
        char name[TRACE_COMM_MAX]; /* TRACE_IRQ_ENTRY: the action's name */
        TraceTask prev, next;     /* TRACE_SWITCH */
} TraceRecord;

/* What attribution opens: sys, name, and whether it cannot work without it. */
typedef struct TracePoint {
        const char *sys, *name;
        TraceKind kind;
        uint32_t vector;          /* TRACE_VECTOR_*: which */
        bool required;
} TracePoint;

/* At most this many entries in trace_points[]. */
#define TRACE_POINTS_MAX 16
extern const TracePoint trace_points[];
extern const size_t trace_points_count;

/* A decoder knows the formats of the tracepoints the kernel has. */
typedef struct TraceDecoder TraceDecoder;
TraceDecoder *trace_decoder_new(void);
void trace_decoder_free(TraceDecoder *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TraceDecoder, trace_decoder_free)
/* The format text of trace_points[index]; -EBADMSG when it does not parse or lacks a field
 * its decoding needs. */
int trace_decoder_add(TraceDecoder *d, size_t index, const char *format_text);
/* Whether trace_points[index] was added, and its id. */
bool trace_decoder_has(const TraceDecoder *d, size_t index, uint32_t *id);

/* A raw tracepoint record (its first field is common_type, the id); false when the id is
 * unknown or a field does not fit. time, cpu and tgid are the caller's to set. */
bool trace_decode_raw(const TraceDecoder *d, const uint8_t *raw, size_t len, TraceRecord *out);
/* The body of a PERF_RECORD_SAMPLE of sample_type TID | TIME | CPU | RAW. */
bool trace_decode_sample(const TraceDecoder *d, const uint8_t *body, size_t len, TraceRecord *out);
/* The name of a softirq vector ("TIMER", "NET_RX"...) or a TraceVector ("local_timer"). */
const char *trace_softirq_name(uint32_t vec);
const char *trace_vector_name(uint32_t vector);
