/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A tracepoint's layout as tracefs describes it in events/SYS/NAME/format: its id (what
 * perf_event_open's config and a raw record's common_type hold) and each field's offset
 * and size in the raw record. The text is the kernel's, or under --root whatever the
 * fake root holds: parsed with bounds, never trusted to fit. */

#define TRACE_FIELDS_MAX 32
#define TRACE_FIELD_NAME_MAX 32
/* A raw record is at most a few hundred bytes; an offset beyond this is not the kernel's. */
#define TRACE_RECORD_MAX 4096

typedef struct TraceField {
        char name[TRACE_FIELD_NAME_MAX];
        uint16_t offset, size;
        bool is_signed;
        bool data_loc;          /* __data_loc: a u32 of the data's offset (low 16 bits) and length (high 16) */
} TraceField;

typedef struct TraceFormat {
        uint32_t id;
        unsigned nfields;
        TraceField fields[TRACE_FIELDS_MAX];
} TraceFormat;

/* 0, or -EBADMSG when the text has no ID or a field line is malformed or out of bounds.
 * Fields past TRACE_FIELDS_MAX are left out (the ones a decoder needs come first). */
int trace_format_parse(const char *text, TraceFormat *out);
/* The field of that name, or NULL. */
const TraceField *trace_format_field(const TraceFormat *f, const char *name);

/* A field's value in a raw record of len bytes: an integer of 1, 2, 4 or 8 bytes (sign
 * extended when signed), false when it does not fit in the record or is not one. */
bool trace_field_int(const TraceField *f, const uint8_t *raw, size_t len, int64_t *out);
/* A string field (char x[N], or __data_loc char[]) copied into buf, cut at size - 1 and at
 * the first NUL; false when it does not fit in the record. Not made printable: the
 * caller does (a comm is the user's). */
bool trace_field_str(const TraceField *f, const uint8_t *raw, size_t len, char *buf, size_t size);
