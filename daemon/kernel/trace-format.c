/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "kernel/trace-format.h"

/* "key:NUMBER;" at p, within [p, end): the number, or -1. */
static long keyed_number(const char *p, const char *end, const char *key) {
        size_t klen = strlen(key);
        const char *at = g_strstr_len(p, end - p, key);
        long v = 0;

        if (!at)
                return -1;
        at += klen;
        if (at >= end || !g_ascii_isdigit(*at))
                return -1;
        for (; at < end && g_ascii_isdigit(*at); at++) {
                v = v * 10 + (*at - '0');
                if (v > TRACE_RECORD_MAX)
                        return -1;
        }
        return at < end && *at == ';' ? v : -1;
}

/* The declaration "unsigned short common_type" or "char prev_comm[16]" or
 * "__data_loc char[] name": its last identifier, without an array suffix. */
static bool declaration_name(const char *decl, size_t len, TraceField *f) {
        const char *end = decl + len, *start;

        while (end > decl && end[-1] == ' ')
                end--;
        if (end > decl && end[-1] == ']') {
                const char *open = end;
                while (open > decl && open[-1] != '[')
                        open--;
                if (open == decl)
                        return false;
                end = open - 1;
        }
        start = end;
        while (start > decl && (g_ascii_isalnum(start[-1]) || start[-1] == '_'))
                start--;
        /* A type comes first: a lone word is not a declaration. */
        if (start == end || start == decl || start[-1] != ' ' || (size_t) (end - start) >= sizeof f->name)
                return false;
        memcpy(f->name, start, (size_t) (end - start));
        f->name[end - start] = '\0';
        f->data_loc = g_strstr_len(decl, (gssize) len, "__data_loc") != NULL;
        return true;
}

/* "\tfield:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;" */
static int parse_field(const char *line, const char *end, TraceField *f) {
        const char *decl = line + strlen("field:");
        const char *semi = memchr(decl, ';', (size_t) (end - decl));
        long offset, size, sign;

        if (!semi || !declaration_name(decl, (size_t) (semi - decl), f))
                return -EBADMSG;
        offset = keyed_number(semi, end, "offset:");
        size = keyed_number(semi, end, "size:");
        sign = keyed_number(semi, end, "signed:"); /* absent before 2.6.32: unsigned */
        if (offset < 0 || size <= 0 || offset + size > TRACE_RECORD_MAX)
                return -EBADMSG;
        f->offset = (uint16_t) offset;
        f->size = (uint16_t) size;
        f->is_signed = sign == 1;
        return 0;
}

int trace_format_parse(const char *text, TraceFormat *out) {
        bool has_id = false;

        memset(out, 0, sizeof *out);
        for (const char *line = text; *line;) {
                const char *end = strchr(line, '\n');
                if (!end)
                        end = line + strlen(line);
                const char *p = line;
                while (p < end && (*p == ' ' || *p == '\t'))
                        p++;
                if (g_str_has_prefix(p, "ID:") && !has_id) {
                        guint64 id;
                        g_autofree char *num = g_strstrip(g_strndup(p + 3, (gsize) (end - p - 3)));
                        if (!g_ascii_string_to_unsigned(num, 10, 0, UINT32_MAX, &id, NULL))
                                return -EBADMSG;
                        out->id = (uint32_t) id;
                        has_id = true;
                } else if (g_str_has_prefix(p, "field:") && (size_t) (end - p) > strlen("field:")) {
                        TraceField f = {};
                        if (parse_field(p, end, &f) < 0)
                                return -EBADMSG;
                        if (out->nfields < TRACE_FIELDS_MAX)
                                out->fields[out->nfields++] = f;
                }
                line = *end ? end + 1 : end;
        }
        return has_id ? 0 : -EBADMSG;
}

const TraceField *trace_format_field(const TraceFormat *f, const char *name) {
        for (unsigned i = 0; i < f->nfields; i++)
                if (g_str_equal(f->fields[i].name, name))
                        return &f->fields[i];
        return NULL;
}

bool trace_field_int(const TraceField *f, const uint8_t *raw, size_t len, int64_t *out) {
        uint64_t u = 0;

        if (!f || f->data_loc || (size_t) f->offset + f->size > len)
                return false;
        switch (f->size) {
        case 1: { uint8_t v; memcpy(&v, raw + f->offset, 1); *out = f->is_signed ? (int64_t) (int8_t) v : (int64_t) v; return true; }
        case 2: { uint16_t v; memcpy(&v, raw + f->offset, 2); *out = f->is_signed ? (int64_t) (int16_t) v : (int64_t) v; return true; }
        case 4: { uint32_t v; memcpy(&v, raw + f->offset, 4); *out = f->is_signed ? (int64_t) (int32_t) v : (int64_t) v; return true; }
        case 8: memcpy(&u, raw + f->offset, 8); *out = (int64_t) u; return true;
        default: return false;
        }
}

bool trace_field_str(const TraceField *f, const uint8_t *raw, size_t len, char *buf, size_t size) {
        size_t at = f ? f->offset : 0, n = f ? f->size : 0;

        if (!f || size == 0 || (size_t) f->offset + f->size > len)
                return false;
        if (f->data_loc) {
                uint32_t loc;
                if (f->size != 4)
                        return false;
                memcpy(&loc, raw + f->offset, 4);
                at = loc & 0xffff;
                n = loc >> 16;
                if (at + n > len)
                        return false;
        }
        n = MIN(n, size - 1);
        memcpy(buf, raw + at, n);
        buf[n] = '\0';
        return true;
}
