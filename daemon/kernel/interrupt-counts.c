/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/interrupt-counts.h"

#define LABEL_MAX 16
#define READ_CHUNK (64 * 1024)
/* A row of 8192 CPUs is about 100 KB; a line past this is not /proc/interrupts. */
#define LINE_MAX_BYTES ((size_t) 4 << 20)

struct InterruptCounts {
        const Root *root;
        CpuMask cpus;
        GHashTable *want;         /* IRQ number + 1; NULL: every row */
        bool indexed;             /* the columns known for the header and the wanted rows */
        char *header;             /* the first line, without its newline */
        GArray *cols;             /* int: the position among the CPU columns of each kept one */
        GArray *col_cpu;          /* int: its CPU */
        char *buf;                /* a piece of the file and the line it cut: a few pages, whatever the file's size */
        size_t buf_size;
        unsigned indexings;
        size_t last_bytes;
};

/* One reading's rows, as they stream by. */
typedef struct Reading {
        GArray *counts;           /* uint64_t, ncols per row */
        GPtrArray *labels;        /* char*, one per row */
        bool header_seen;
} Reading;

InterruptCounts *interrupt_counts_new(const Root *root, const CpuMask *cpus) {
        InterruptCounts *c = g_new0(InterruptCounts, 1);
        c->root = root;
        c->cpus = *cpus;
        c->cols = g_array_new(false, false, sizeof(int));
        c->col_cpu = g_array_new(false, false, sizeof(int));
        return c;
}

void interrupt_counts_free(InterruptCounts *c) {
        if (!c)
                return;
        g_free(c->buf);
        if (c->want)
                g_hash_table_unref(c->want);
        g_free(c->header);
        g_array_unref(c->cols);
        g_array_unref(c->col_cpu);
        g_free(c);
}

void interrupt_counts_want(InterruptCounts *c, const GArray *irqs) {
        g_autoptr(GHashTable) want = NULL;
        if (irqs) {
                want = g_hash_table_new(g_direct_hash, g_direct_equal);
                for (unsigned i = 0; i < irqs->len; i++)
                        g_hash_table_add(want, GUINT_TO_POINTER(g_array_index(irqs, unsigned, i) + 1));
        }
        bool same = want && c->want && g_hash_table_size(want) == g_hash_table_size(c->want);
        GHashTableIter it;
        gpointer key;
        if (same) {
                g_hash_table_iter_init(&it, want);
                while (same && g_hash_table_iter_next(&it, &key, NULL))
                        same = g_hash_table_contains(c->want, key);
        }
        if (same || (!want && !c->want))
                return;
        if (c->want)
                g_hash_table_unref(c->want);
        c->want = g_steal_pointer(&want);
        c->indexed = false;
}

unsigned interrupt_counts_indexings(const InterruptCounts *c) {
        return c->indexings;
}

size_t interrupt_counts_last_bytes(const InterruptCounts *c) {
        return c->last_bytes;
}

/* "CPU0 CPU1 ...": which positions hold the watched CPUs. */
static void index_header(InterruptCounts *c, const char *line, size_t len) {
        unsigned pos = 0;
        g_array_set_size(c->cols, 0);
        g_array_set_size(c->col_cpu, 0);
        for (const char *p = line, *end = line + len; p < end;) {
                while (p < end && (*p == ' ' || *p == '\t'))
                        p++;
                const char *w = p;
                while (p < end && *p != ' ' && *p != '\t' && *p != '\n')
                        p++;
                if (p - w > 3 && strncmp(w, "CPU", 3) == 0) {
                        int cpu = 0;
                        for (const char *d = w + 3; d < p && g_ascii_isdigit(*d) && cpu < (int) CPUMASK_MAX; d++)
                                cpu = cpu * 10 + (*d - '0');
                        if (cpumask_has(&c->cpus, cpu)) {
                                int at = (int) pos;
                                g_array_append_val(c->cols, at);
                                g_array_append_val(c->col_cpu, cpu);
                        }
                        pos++;
                }
                if (p < end && *p == '\n')
                        break;
        }
}

/* A row's label ("LOC", "24") copied into out; false when the line has none. */
static bool row_label(const char *line, size_t len, char out[LABEL_MAX]) {
        const char *colon = memchr(line, ':', MIN(len, (size_t) 64));
        const char *p = line;
        if (!colon)
                return false;
        while (p < colon && *p == ' ')
                p++;
        if (p == colon || (size_t) (colon - p) >= LABEL_MAX)
                return false;
        memcpy(out, p, (size_t) (colon - p));
        out[colon - p] = '\0';
        return true;
}

static bool row_wanted(const InterruptCounts *c, const char *label) {
        guint64 n;
        if (!g_ascii_isdigit(label[0]))
                return true; /* the architecture's: LOC, RES, CAL, TLB, ERR... */
        if (!c->want)
                return true;
        return g_ascii_string_to_unsigned(label, 10, 0, UINT32_MAX, &n, NULL) &&
               g_hash_table_contains(c->want, GUINT_TO_POINTER((unsigned) n + 1));
}

/* The counts after the colon of a wanted row, at the kept positions. */
static void parse_counts(const InterruptCounts *c, const char *line, size_t len, uint64_t *counts) {
        const char *end = line + len;
        const char *p = (const char *) memchr(line, ':', len) + 1;
        unsigned want = 0, pos = 0;
        while (want < c->cols->len && p < end) {
                while (p < end && *p == ' ')
                        p++;
                if (p >= end || !g_ascii_isdigit(*p))
                        break; /* the chip's name: rows such as ERR have one total */
                uint64_t v = 0;
                for (; p < end && g_ascii_isdigit(*p); p++)
                        v = v * 10 + (uint64_t) (*p - '0');
                if ((int) pos == g_array_index(c->cols, int, want))
                        counts[want++] = v;
                pos++;
        }
}

/* One line of the file, without its newline: the header (its columns indexed again when
 * it differs: a CPU came or went), or a row kept when wanted. */
static void take_line(InterruptCounts *c, Reading *r, const char *line, size_t len) {
        char label[LABEL_MAX];

        if (!r->header_seen) {
                r->header_seen = true;
                if (!c->indexed || !c->header || strlen(c->header) != len || memcmp(c->header, line, len) != 0) {
                        g_free(c->header);
                        c->header = g_strndup(line, len);
                        index_header(c, line, len);
                        c->indexed = true;
                        c->indexings++;
                }
                return;
        }
        if (!row_label(line, len, label) || !row_wanted(c, label))
                return;
        guint at = r->counts->len;
        g_array_set_size(r->counts, at + c->cols->len);
        parse_counts(c, line, len, &g_array_index(r->counts, uint64_t, at));
        g_ptr_array_add(r->labels, g_strdup(label));
}

static InterruptTable *table_of(const InterruptCounts *c, const Reading *r) {
        InterruptTable *t = g_new0(InterruptTable, 1);
        t->ncols = c->cols->len;
        t->col_cpu = g_memdup2(c->col_cpu->data, c->col_cpu->len * sizeof(int));
        t->counts = g_new0(uint64_t, (size_t) MAX(r->labels->len, 1u) * MAX(t->ncols, 1u));
        if (r->counts->len)
                memcpy(t->counts, r->counts->data, r->counts->len * sizeof(uint64_t));
        t->rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (guint i = 0; i < r->labels->len; i++)
                g_hash_table_replace(t->rows, g_strdup(r->labels->pdata[i]), t->counts + (size_t) i * t->ncols);
        return t;
}

/* On a real kernel the file is a seq_file: a read at another offset than where the last
 * one ended formats every row before it again, and the architecture's rows (LOC, RES...)
 * come last. So the file is read once, from its start to its end, in pieces of 64 KiB,
 * each line taken as it streams by: the memory is a few pages whatever the machine's
 * size (on the 256-CPU fixture the file is 16 MB). Only the wanted rows are parsed. */
InterruptTable *interrupt_counts_read(InterruptCounts *c) {
        /* Opened at each reading: a fake root's file may have been replaced by another. */
        _cleanup_close_ int fd = root_open_read(c->root, "proc/interrupts", 0);
        g_autoptr(GArray) counts = g_array_new(false, true, sizeof(uint64_t));
        g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);
        Reading r = { .counts = counts, .labels = labels };
        size_t have = 0, total = 0;

        if (fd < 0)
                return NULL;
        for (;;) {
                if (c->buf_size - have < READ_CHUNK) {
                        if (c->buf_size >= LINE_MAX_BYTES)
                                return NULL; /* a line longer than any of the kernel's */
                        c->buf_size = MAX(c->buf_size * 2, (size_t) 2 * READ_CHUNK);
                        c->buf = g_realloc(c->buf, c->buf_size);
                }
                ssize_t n = read(fd, c->buf + have, c->buf_size - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return NULL;
                if (n == 0)
                        break; /* a last line cut short is not a row */
                total += (size_t) n;
                have += (size_t) n;
                const char *p = c->buf, *end = c->buf + have, *nl;
                while ((nl = memchr(p, '\n', (size_t) (end - p)))) {
                        take_line(c, &r, p, (size_t) (nl - p));
                        p = nl + 1;
                }
                have = (size_t) (end - p);
                memmove(c->buf, p, have);
        }
        c->last_bytes = total;
        if (!r.header_seen)
                return NULL;
        return table_of(c, &r);
}
