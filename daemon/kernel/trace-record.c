/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "kernel/trace-record.h"

/* Not irq_work: the kernel refuses to sample irq_work_exit (EPERM), since perf's own
 * wake-ups are irq_work. */
const TracePoint trace_points[] = {
        { "irq", "irq_handler_entry", TRACE_IRQ_ENTRY, 0, true },
        { "irq", "irq_handler_exit", TRACE_IRQ_EXIT, 0, true },
        { "irq", "softirq_entry", TRACE_SOFTIRQ_ENTRY, 0, true },
        { "irq", "softirq_exit", TRACE_SOFTIRQ_EXIT, 0, true },
        { "sched", "sched_switch", TRACE_SWITCH, 0, true },
        { "irq_vectors", "local_timer_entry", TRACE_VECTOR_ENTRY, TRACE_VECTOR_LOCAL_TIMER, false },
        { "irq_vectors", "local_timer_exit", TRACE_VECTOR_EXIT, TRACE_VECTOR_LOCAL_TIMER, false },
        { "irq_vectors", "reschedule_entry", TRACE_VECTOR_ENTRY, TRACE_VECTOR_RESCHEDULE, false },
        { "irq_vectors", "reschedule_exit", TRACE_VECTOR_EXIT, TRACE_VECTOR_RESCHEDULE, false },
        { "irq_vectors", "call_function_entry", TRACE_VECTOR_ENTRY, TRACE_VECTOR_CALL_FUNCTION, false },
        { "irq_vectors", "call_function_exit", TRACE_VECTOR_EXIT, TRACE_VECTOR_CALL_FUNCTION, false },
        { "irq_vectors", "call_function_single_entry", TRACE_VECTOR_ENTRY, TRACE_VECTOR_CALL_FUNCTION_SINGLE, false },
        { "irq_vectors", "call_function_single_exit", TRACE_VECTOR_EXIT, TRACE_VECTOR_CALL_FUNCTION_SINGLE, false },
        { "nmi", "nmi_handler", TRACE_NMI, 0, false },
};
const size_t trace_points_count = G_N_ELEMENTS(trace_points);
G_STATIC_ASSERT(G_N_ELEMENTS(trace_points) <= TRACE_POINTS_MAX);

/* The fields each kind reads, in the order decode_fields() uses them. */
static const char *const fields_of[][6] = {
        [TRACE_IRQ_ENTRY] = { "irq", "name" },
        [TRACE_IRQ_EXIT] = { "irq" },
        [TRACE_SOFTIRQ_ENTRY] = { "vec" },
        [TRACE_SOFTIRQ_EXIT] = { "vec" },
        [TRACE_VECTOR_ENTRY] = { NULL },
        [TRACE_VECTOR_EXIT] = { NULL },
        [TRACE_NMI] = { "delta_ns" },
        [TRACE_SWITCH] = { "prev_comm", "prev_pid", "prev_prio", "next_comm", "next_pid", "next_prio" },
};

typedef struct DecoderEntry {
        bool present;
        TraceFormat format;
        const TraceField *type;   /* common_type */
        const TraceField *f[6];   /* fields_of[kind], resolved */
} DecoderEntry;

struct TraceDecoder {
        DecoderEntry entries[G_N_ELEMENTS(trace_points)];
};

TraceDecoder *trace_decoder_new(void) {
        return g_new0(TraceDecoder, 1);
}

void trace_decoder_free(TraceDecoder *d) {
        g_free(d);
}

int trace_decoder_add(TraceDecoder *d, size_t index, const char *format_text) {
        DecoderEntry *e;
        TraceKind kind;

        g_return_val_if_fail(index < trace_points_count, -EINVAL);
        e = &d->entries[index];
        kind = trace_points[index].kind;
        memset(e, 0, sizeof *e);
        if (trace_format_parse(format_text, &e->format) < 0)
                return -EBADMSG;
        e->type = trace_format_field(&e->format, "common_type");
        if (!e->type || e->type->data_loc)
                return -EBADMSG;
        for (size_t i = 0; i < G_N_ELEMENTS(fields_of[kind]) && fields_of[kind][i]; i++) {
                e->f[i] = trace_format_field(&e->format, fields_of[kind][i]);
                if (!e->f[i])
                        return -EBADMSG;
        }
        e->present = true;
        return 0;
}

bool trace_decoder_has(const TraceDecoder *d, size_t index, uint32_t *id) {
        if (index >= trace_points_count || !d->entries[index].present)
                return false;
        if (id)
                *id = d->entries[index].format.id;
        return true;
}

static const DecoderEntry *entry_of(const TraceDecoder *d, const uint8_t *raw, size_t len, size_t *index) {
        for (size_t i = 0; i < trace_points_count; i++) {
                const DecoderEntry *e = &d->entries[i];
                int64_t type;
                if (e->present && trace_field_int(e->type, raw, len, &type) && (uint64_t) type == e->format.id) {
                        *index = i;
                        return e;
                }
        }
        return NULL;
}

static bool read_int32(const TraceField *f, const uint8_t *raw, size_t len, int32_t *out) {
        int64_t v;
        if (!trace_field_int(f, raw, len, &v))
                return false;
        *out = (int32_t) v;
        return true;
}

static bool decode_switch(const DecoderEntry *e, const uint8_t *raw, size_t len, TraceRecord *out) {
        return trace_field_str(e->f[0], raw, len, out->prev.comm, sizeof out->prev.comm) &&
               read_int32(e->f[1], raw, len, &out->prev.pid) && read_int32(e->f[2], raw, len, &out->prev.prio) &&
               trace_field_str(e->f[3], raw, len, out->next.comm, sizeof out->next.comm) &&
               read_int32(e->f[4], raw, len, &out->next.pid) && read_int32(e->f[5], raw, len, &out->next.prio);
}

static bool decode_fields(const DecoderEntry *e, TraceKind kind, const uint8_t *raw, size_t len, TraceRecord *out) {
        int64_t v;

        switch (kind) {
        case TRACE_IRQ_ENTRY:
                if (!trace_field_str(e->f[1], raw, len, out->name, sizeof out->name))
                        return false;
                /* fall through */
        case TRACE_IRQ_EXIT:
        case TRACE_SOFTIRQ_ENTRY:
        case TRACE_SOFTIRQ_EXIT:
                if (!trace_field_int(e->f[0], raw, len, &v) || v < 0 || v > UINT32_MAX)
                        return false;
                out->id = (uint32_t) v;
                return true;
        case TRACE_NMI:
                if (!trace_field_int(e->f[0], raw, len, &v) || v < 0)
                        return false;
                out->duration_ns = (uint64_t) v;
                return true;
        case TRACE_SWITCH:
                return decode_switch(e, raw, len, out);
        case TRACE_VECTOR_ENTRY:
        case TRACE_VECTOR_EXIT:
                return true;
        }
        return false;
}

bool trace_decode_raw(const TraceDecoder *d, const uint8_t *raw, size_t len, TraceRecord *out) {
        size_t index;
        const DecoderEntry *e = entry_of(d, raw, len, &index);

        if (!e)
                return false;
        memset(&out->name, 0, sizeof out->name);
        out->kind = trace_points[index].kind;
        out->id = trace_points[index].vector;
        out->duration_ns = 0;
        return decode_fields(e, out->kind, raw, len, out);
}

bool trace_decode_sample(const TraceDecoder *d, const uint8_t *body, size_t len, TraceRecord *out) {
        struct {
                uint32_t pid, tid;
                uint64_t time;
                uint32_t cpu, res;
                uint32_t raw_size;
        } __attribute__((packed)) head;

        if (len < sizeof head)
                return false;
        memcpy(&head, body, sizeof head);
        if (head.raw_size > len - sizeof head)
                return false;
        memset(out, 0, sizeof *out);
        out->time_ns = head.time;
        out->cpu = head.cpu;
        out->tgid = (int32_t) head.pid;
        return trace_decode_raw(d, body + sizeof head, head.raw_size, out);
}

const char *trace_softirq_name(uint32_t vec) {
        static const char *const names[] = { "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK",
                                             "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU" };
        return vec < G_N_ELEMENTS(names) ? names[vec] : "softirq";
}

const char *trace_vector_name(uint32_t vector) {
        static const char *const names[] = {
                [TRACE_VECTOR_LOCAL_TIMER] = "local_timer",
                [TRACE_VECTOR_RESCHEDULE] = "reschedule",
                [TRACE_VECTOR_CALL_FUNCTION] = "call_function",
                [TRACE_VECTOR_CALL_FUNCTION_SINGLE] = "call_function_single",
        };
        return vector < G_N_ELEMENTS(names) ? names[vector] : "vector";
}
