/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/cpumask.h"
#include "base/error.h"
#include "base/macro.h"

void cpumask_zero(CpuMask *s) {
        assert(s);
        memset(s, 0, sizeof *s);
}

void cpumask_add(CpuMask *s, unsigned cpu) {
        assert(s);
        assert(cpu < CPUMASK_MAX);
        s->w[cpu / 64] |= UINT64_C(1) << (cpu % 64);
}

void cpumask_add_range(CpuMask *s, unsigned first, unsigned last) {
        for (unsigned c = first; c <= last; c++)
                cpumask_add(s, c);
}

void cpumask_remove(CpuMask *s, unsigned cpu) {
        assert(s);
        assert(cpu < CPUMASK_MAX);
        s->w[cpu / 64] &= ~(UINT64_C(1) << (cpu % 64));
}

bool cpumask_has(const CpuMask *s, int cpu) {
        assert(s);
        if (cpu < 0 || (unsigned) cpu >= CPUMASK_MAX)
                return false;
        return s->w[cpu / 64] & (UINT64_C(1) << (cpu % 64));
}

unsigned cpumask_count(const CpuMask *s) {
        unsigned n = 0;
        for (unsigned i = 0; i < CPUMASK_WORDS; i++)
                n += (unsigned) __builtin_popcountll(s->w[i]);
        return n;
}

bool cpumask_is_empty(const CpuMask *s) {
        for (unsigned i = 0; i < CPUMASK_WORDS; i++)
                if (s->w[i])
                        return false;
        return true;
}

bool cpumask_equal(const CpuMask *a, const CpuMask *b) {
        return memcmp(a, b, sizeof *a) == 0;
}

bool cpumask_is_subset(const CpuMask *sub, const CpuMask *of) {
        for (unsigned i = 0; i < CPUMASK_WORDS; i++)
                if (sub->w[i] & ~of->w[i])
                        return false;
        return true;
}

bool cpumask_intersects(const CpuMask *a, const CpuMask *b) {
        return cpumask_intersects_first(a, b, CPUMASK_WORDS);
}

unsigned cpumask_words_used(const CpuMask *b) {
        unsigned words = CPUMASK_WORDS;
        while (words > 0 && !b->w[words - 1])
                words--;
        return words;
}

bool cpumask_intersects_first(const CpuMask *a, const CpuMask *b, unsigned words) {
        assert(words <= CPUMASK_WORDS);
        for (unsigned i = 0; i < words; i++)
                if (a->w[i] & b->w[i])
                        return true;
        return false;
}

void cpumask_or(CpuMask *out, const CpuMask *a, const CpuMask *b) {
        for (unsigned i = 0; i < CPUMASK_WORDS; i++)
                out->w[i] = a->w[i] | b->w[i];
}

void cpumask_and(CpuMask *out, const CpuMask *a, const CpuMask *b) {
        for (unsigned i = 0; i < CPUMASK_WORDS; i++)
                out->w[i] = a->w[i] & b->w[i];
}

void cpumask_andnot(CpuMask *out, const CpuMask *a, const CpuMask *b) {
        for (unsigned i = 0; i < CPUMASK_WORDS; i++)
                out->w[i] = a->w[i] & ~b->w[i];
}

int cpumask_next(const CpuMask *s, int after) {
        unsigned start = after < 0 ? 0 : (unsigned) after + 1;
        if (start >= CPUMASK_MAX)
                return -1;
        unsigned i = start / 64;
        uint64_t word = s->w[i] & (~UINT64_C(0) << (start % 64));
        for (;;) {
                if (word)
                        return (int) (i * 64 + (unsigned) __builtin_ctzll(word));
                if (++i >= CPUMASK_WORDS)
                        return -1;
                word = s->w[i];
        }
}

int cpumask_first(const CpuMask *s) {
        return cpumask_next(s, -1);
}

int cpumask_last(const CpuMask *s) {
        for (unsigned i = CPUMASK_WORDS; i-- > 0;)
                if (s->w[i])
                        return (int) (i * 64 + 63 - (unsigned) __builtin_clzll(s->w[i]));
        return -1;
}

G_GNUC_PRINTF(3, 4)
static int parse_fail(CpuMaskError *err, size_t pos, const char *fmt, ...) {
        if (err) {
                va_list ap;
                err->pos = pos;
                va_start(ap, fmt);
                vsnprintf(err->reason, sizeof err->reason, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* Bounds of the text without surrounding whitespace. */
static void trim_bounds(const char *text, size_t *begin, size_t *end) {
        size_t b = 0, e = strlen(text);
        while (b < e && isspace((unsigned char) text[b]))
                b++;
        while (e > b && isspace((unsigned char) text[e - 1]))
                e--;
        *begin = b;
        *end = e;
}

/* Reads a decimal CPU number at *p (< end). what names it in messages ("CPU", "stride"). */
static int parse_number(const char *text, size_t *p, size_t end, const char *what,
                        unsigned limit, unsigned *out, CpuMaskError *err) {
        size_t start = *p;
        unsigned long v = 0;
        bool too_big = false;

        if (start >= end)
                return parse_fail(err, start, "expected a %s number, found the end of the list", what);
        if (!isdigit((unsigned char) text[start])) {
                if (text[start] == ',')
                        return parse_fail(err, start, "empty element");
                if (isspace((unsigned char) text[start]))
                        return parse_fail(err, start, "unexpected whitespace");
                return parse_fail(err, start, "expected a %s number, found '%c'", what, text[start]);
        }
        while (*p < end && isdigit((unsigned char) text[*p])) {
                if (!too_big) {
                        v = v * 10 + (unsigned long) (text[*p] - '0');
                        too_big = v >= limit;
                }
                (*p)++;
        }
        if (too_big)
                return parse_fail(err, start, "%s %.*s is beyond the limit of %u CPUs (0-%u)",
                                  what, (int) MIN(*p - start, 24), text + start, limit, limit - 1);
        *out = (unsigned) v;
        return 0;
}

int cpumask_parse_list(const char *text, CpuMask *out, CpuMaskError *err) {
        CpuMask s;
        size_t p, end;
        int r;

        assert(text);
        assert(out);

        cpumask_zero(&s);
        trim_bounds(text, &p, &end);
        if (p == end) {
                *out = s;
                return 0;
        }

        for (;;) {
                unsigned first, last, used = 1, group = 1;
                size_t elem = p;

                r = parse_number(text, &p, end, "CPU", CPUMASK_MAX, &first, err);
                if (r < 0)
                        return r;
                last = first;
                if (p < end && text[p] == '-') {
                        p++;
                        if (p >= end || text[p] == ',')
                                return parse_fail(err, p, "range %u- has no end", first);
                        r = parse_number(text, &p, end, "CPU", CPUMASK_MAX, &last, err);
                        if (r < 0)
                                return r;
                        if (last < first)
                                return parse_fail(err, elem, "range end %u is below its start %u", last, first);
                        if (p < end && text[p] == ':') {
                                size_t stride = ++p;
                                r = parse_number(text, &p, end, "stride", CPUMASK_MAX + 1, &used, err);
                                if (r < 0)
                                        return r;
                                if (p >= end || text[p] != '/')
                                        return parse_fail(err, p, "stride %u needs a group size: %u-%u:%u/N",
                                                          used, first, last, used);
                                p++;
                                r = parse_number(text, &p, end, "group", CPUMASK_MAX + 1, &group, err);
                                if (r < 0)
                                        return r;
                                if (used == 0 || group == 0 || used > group)
                                        return parse_fail(err, stride, "stride %u/%u must take 1 to %u of every %u",
                                                          used, group, group, group);
                        }
                }
                for (unsigned c = first; c <= last; c++)
                        if ((c - first) % group < used)
                                cpumask_add(&s, c);

                if (p == end)
                        break;
                if (text[p] != ',') {
                        if (isspace((unsigned char) text[p]))
                                return parse_fail(err, p, "unexpected whitespace");
                        return parse_fail(err, p, "unexpected '%c' after a CPU number", text[p]);
                }
                p++;
                if (p == end)
                        return parse_fail(err, p - 1, "trailing comma");
        }

        *out = s;
        return 0;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int cpumask_parse_mask(const char *text, CpuMask *out, CpuMaskError *err) {
        CpuMask s;
        size_t b, end, ngroups = 1;

        assert(text);
        assert(out);

        trim_bounds(text, &b, &end);
        if (b == end)
                return parse_fail(err, b, "empty mask");

        /* First pass: check the shape and count the groups, so we know each group's weight. */
        size_t group_start = b;
        for (size_t p = b; p <= end; p++) {
                if (p == end || text[p] == ',') {
                        size_t len = p - group_start;
                        if (len == 0)
                                return parse_fail(err, p, p == end ? "trailing comma" : "empty group");
                        if (len > 8)
                                return parse_fail(err, group_start + 8,
                                                  "a mask group has at most 8 hex digits (32 CPUs)");
                        if (p < end)
                                ngroups++;
                        group_start = p + 1;
                } else if (hex_value(text[p]) < 0) {
                        return parse_fail(err, p, "expected a hex digit, found '%c'", text[p]);
                }
        }

        cpumask_zero(&s);
        size_t group = ngroups, p = b;
        while (group-- > 0) {
                size_t gstart = p;
                uint32_t v = 0;
                while (p < end && text[p] != ',')
                        v = v << 4 | (uint32_t) hex_value(text[p++]);
                for (unsigned bit = 0; bit < 32; bit++) {
                        if (!(v & (UINT32_C(1) << bit)))
                                continue;
                        size_t cpu = group * 32 + bit;
                        if (cpu >= CPUMASK_MAX)
                                return parse_fail(err, gstart, "CPU %zu is beyond the limit of %u CPUs",
                                                  cpu, CPUMASK_MAX);
                        cpumask_add(&s, (unsigned) cpu);
                }
                p++; /* the comma */
        }

        *out = s;
        return 0;
}

char *cpumask_format_list(const CpuMask *s) {
        GString *str = g_string_new(NULL);
        int cpu = cpumask_first(s);

        while (cpu >= 0) {
                int last = cpu;
                while (cpumask_has(s, last + 1))
                        last++;
                if (str->len > 0)
                        g_string_append_c(str, ',');
                if (last > cpu)
                        g_string_append_printf(str, "%d-%d", cpu, last);
                else
                        g_string_append_printf(str, "%d", cpu);
                cpu = cpumask_next(s, last);
        }
        return g_string_free(str, false);
}

char *cpumask_format_mask(const CpuMask *s, unsigned nbits) {
        unsigned need = (unsigned) (cpumask_last(s) + 1);
        GString *str = g_string_new(NULL);

        if (nbits < need)
                nbits = need;
        if (nbits == 0)
                nbits = 1;

        unsigned ngroups = (nbits + 31) / 32;
        for (unsigned g = ngroups; g-- > 0;) {
                uint32_t v = (uint32_t) (s->w[g / 2] >> (32 * (g % 2)));
                if (g == ngroups - 1) {
                        unsigned bits = nbits - g * 32;
                        g_string_append_printf(str, "%0*x", (int) ((bits + 3) / 4), v);
                } else {
                        g_string_append_printf(str, ",%08x", v);
                }
        }
        return g_string_free(str, false);
}

bool cpumask_parse_list_gerror(const char *what, const char *text, CpuMask *out, GError **error) {
        CpuMaskError err;

        if (cpumask_parse_list(text, out, &err) >= 0)
                return true;
        /* Quote at most 64 bytes: the text may come from a stranger on the bus. */
        g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST,
                    "%s \"%.64s%s\" is not a valid CPU list: at position %zu, %s",
                    what, text, strlen(text) > 64 ? "..." : "", err.pos + 1, err.reason);
        return false;
}
