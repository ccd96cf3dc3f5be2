/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "irq.h"
#include "macro.h"

void irq_free(Irq *irq) {
        if (!irq)
                return;
        g_strfreev(irq->actions);
        g_free(irq->name);
        g_free(irq);
}

static bool parse_uint(const char *s, unsigned *out) {
        char *end;
        if (!*s || !isdigit((unsigned char) *s))
                return false;
        unsigned long v = strtoul(s, &end, 10);
        if (*end || v > UINT32_MAX)
                return false;
        *out = (unsigned) v;
        return true;
}

static int compare_irq(gconstpointer a, gconstpointer b) {
        const Irq *x = *(Irq *const *) a, *y = *(Irq *const *) b;
        return (x->num > y->num) - (x->num < y->num);
}

static int compare_str(gconstpointer a, gconstpointer b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The handlers of an IRQ are the folders in /proc/irq/N; the files there are the
 * kernel's (smp_affinity, node, spurious...). d_type spares a stat() per entry, which
 * on a server with thousands of IRQs is most of a scan. */
static char **read_actions(int irq_dirfd, const char *num) {
        int fd = openat(irq_dirfd, num, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
        GPtrArray *names = g_ptr_array_new();
        struct dirent *de;

        if (!dir && fd >= 0)
                close(fd);
        while (dir && (de = readdir(dir))) {
                bool is_dir = de->d_type == DT_DIR;
                if (de->d_name[0] == '.')
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        is_dir = fstatat(dirfd(dir), de->d_name, &st, 0) >= 0 && S_ISDIR(st.st_mode);
                }
                if (is_dir)
                        g_ptr_array_add(names, g_strdup(de->d_name));
        }
        if (dir)
                closedir(dir);
        g_ptr_array_sort(names, compare_str);
        g_ptr_array_add(names, NULL);
        return (char **) g_ptr_array_free(names, false);
}

char **irq_read_actions(const Root *root, unsigned num) {
        g_autofree char *name = g_strdup_printf("%u", num);
        int fd = root_open_dir(root, "proc/irq");
        char **actions;
        if (fd < 0)
                return g_new0(char *, 1);
        actions = read_actions(fd, name);
        close(fd);
        return actions;
}

/* What an IRQ's handlers were when last read, and how many sub-folders its folder had
 * then (its link count less 2): a handler added or removed changes that count. */
typedef struct NamedIrq {
        nlink_t links;
        char **actions;
} NamedIrq;

static void named_irq_free(NamedIrq *n) {
        g_strfreev(n->actions);
        g_free(n);
}

struct IrqNames {
        GHashTable *by_num;    /* num + 1 -> NamedIrq */
};

IrqNames *irq_names_new(void) {
        IrqNames *n = g_new0(IrqNames, 1);
        n->by_num = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) named_irq_free);
        return n;
}

void irq_names_free(IrqNames *n) {
        if (!n)
                return;
        g_hash_table_unref(n->by_num);
        g_free(n);
}

void irq_names_forget(IrqNames *n) {
        g_hash_table_remove_all(n->by_num);
}

/* The IRQ's handlers, from the cache while its folder's link count says they are the
 * same; read (and cached) otherwise. */
static char **irq_actions(int irq_dirfd, const char *entry, unsigned num, IrqNames *cache) {
        NamedIrq *known;
        struct stat st;

        if (!cache)
                return read_actions(irq_dirfd, entry);
        if (fstatat(irq_dirfd, entry, &st, 0) < 0)
                return NULL;
        known = g_hash_table_lookup(cache->by_num, GUINT_TO_POINTER(num + 1u));
        if (!known || known->links != st.st_nlink) {
                known = g_new0(NamedIrq, 1);
                known->links = st.st_nlink;
                known->actions = read_actions(irq_dirfd, entry);
                g_hash_table_replace(cache->by_num, GUINT_TO_POINTER(num + 1u), known);
        }
        return g_strdupv(known->actions);
}

GPtrArray *irq_scan_except(const Root *root, const IrqScan *how) {
        GPtrArray *irqs = g_ptr_array_new_with_free_func((GDestroyNotify) irq_free);
        int dfd = root_open_dir(root, "proc/irq");
        DIR *dir = dfd >= 0 ? fdopendir(dup(dfd)) : NULL;
        struct dirent *de;

        while (dir && (de = readdir(dir))) {
                char rel[64], text[4096];
                Irq *irq;
                unsigned num;

                if (!parse_uint(de->d_name, &num))
                        continue; /* default_smp_affinity and friends */
                if (how && how->present)
                        g_hash_table_add(how->present, GUINT_TO_POINTER(num + 1u));
                if (how && how->skip && g_hash_table_contains(how->skip, GUINT_TO_POINTER(num + 1u)))
                        continue;
                irq = g_new0(Irq, 1);
                irq->num = num;
                g_snprintf(rel, sizeof rel, "%u/smp_affinity_list", num);
                if (root_read_small_at(dfd, rel, text, sizeof text) < 0 || cpumask_parse_list(text, &irq->affinity, NULL) < 0) {
                        irq_free(irq);
                        continue; /* vanished while we looked */
                }
                if (!how || how->effective) {
                        g_snprintf(rel, sizeof rel, "%u/effective_affinity_list", num);
                        irq->has_effective = root_read_small_at(dfd, rel, text, sizeof text) >= 0 &&
                                             cpumask_parse_list(text, &irq->effective, NULL) >= 0;
                }
                irq->actions = irq_actions(dfd, de->d_name, num, how ? how->names : NULL);
                if (!irq->actions) {
                        irq_free(irq);
                        continue;
                }
                irq->name = g_strjoinv(", ", irq->actions);
                g_ptr_array_add(irqs, irq);
        }
        if (dir)
                closedir(dir);
        if (dfd >= 0)
                close(dfd);
        g_ptr_array_sort(irqs, compare_irq);
        return irqs;
}

GPtrArray *irq_scan(const Root *root) {
        return irq_scan_except(root, NULL);
}

const IrqRule *irq_match_rule(const Config *c, const Irq *irq) {
        for (unsigned i = 0; i < c->irq_rules->len; i++) {
                const IrqRule *rule = c->irq_rules->pdata[i];
                for (char **m = rule->match; *m; m++)
                        for (char **a = irq->actions; *a; a++)
                                if (g_pattern_match_simple(*m, *a))
                                        return rule;
        }
        return NULL;
}

const CpuMask *irq_target(const Config *c, const Irq *irq, const IrqRule **rule_out) {
        const IrqRule *rule = irq_match_rule(c, irq);
        if (rule_out)
                *rule_out = rule;
        return rule ? config_irq_rule_cpus(c, rule) : &c->housekeeping;
}

void interrupt_table_free(InterruptTable *t) {
        if (!t)
                return;
        g_free(t->col_cpu);
        g_hash_table_unref(t->rows);
        g_free(t->counts);
        g_free(t);
}

/* A run of digits at *p, skipping blanks first; false (p left at the field) when the
 * field is not a number (the chip name after the counts). */
static bool next_count(const char **p, const char *end, uint64_t *out) {
        const char *q = *p;
        uint64_t v = 0;
        while (q < end && (*q == ' ' || *q == '\t'))
                q++;
        if (q >= end || !g_ascii_isdigit(*q))
                return false;
        for (; q < end && g_ascii_isdigit(*q); q++)
                v = v * 10 + (uint64_t) (*q - '0');
        *p = q;
        *out = v;
        return true;
}

/* On a server /proc/interrupts is megabytes (thousands of rows by hundreds of CPUs) and
 * the noise monitor reads it every second: parsed in place, the counts in one block. */
InterruptTable *interrupts_parse(const char *text) {
        const char *eol = strchr(text, '\n');
        g_autoptr(GArray) cols = g_array_new(false, false, sizeof(int));
        size_t nrows = 0, row = 0;
        InterruptTable *t;

        if (!eol)
                eol = text + strlen(text);
        /* The header names the online CPUs' columns: "CPU0 CPU1 ...". */
        for (const char *p = text; p < eol;) {
                unsigned cpu;
                char word[16];
                size_t n;
                while (p < eol && (*p == ' ' || *p == '\t'))
                        p++;
                n = strcspn(p, " \t\n");
                if (n > 0 && n < sizeof word) {
                        memcpy(word, p, n);
                        word[n] = '\0';
                        if (g_str_has_prefix(word, "CPU") && parse_uint(word + 3, &cpu)) {
                                int c = (int) cpu;
                                g_array_append_val(cols, c);
                        }
                }
                p += n ? n : 1;
        }
        if (cols->len == 0)
                return NULL;
        for (const char *p = eol; *p; p++)
                nrows += *p == '\n';

        t = g_new0(InterruptTable, 1);
        t->ncols = cols->len;
        t->col_cpu = (int *) g_array_free(g_steal_pointer(&cols), false);
        t->counts = g_new0(uint64_t, (nrows + 1) * t->ncols);
        t->rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (const char *line = *eol ? eol + 1 : eol; *line && row <= nrows; row++) {
                const char *end = strchr(line, '\n');
                const char *colon;
                if (!end)
                        end = line + strlen(line);
                colon = memchr(line, ':', (size_t) (end - line));
                if (colon) {
                        uint64_t *counts = t->counts + row * t->ncols;
                        const char *p = colon + 1;
                        /* Counts until the first field that is not a number. Rows such as ERR
                         * and MIS have a single total. */
                        for (unsigned i = 0; i < t->ncols && next_count(&p, end, &counts[i]); i++)
                                ;
                        g_hash_table_replace(t->rows, g_strstrip(g_strndup(line, (size_t) (colon - line))), counts);
                }
                line = *end ? end + 1 : end;
        }
        return t;
}

uint64_t interrupts_sum(const InterruptTable *t, const char *row, const CpuMask *set) {
        const uint64_t *counts = t ? g_hash_table_lookup(t->rows, row) : NULL;
        uint64_t sum = 0;
        if (!counts)
                return 0;
        for (unsigned i = 0; i < t->ncols; i++)
                if (cpumask_has(set, t->col_cpu[i]))
                        sum += counts[i];
        return sum;
}
