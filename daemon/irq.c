/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

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
static char **read_actions(const Root *root, unsigned num) {
        g_autofree char *dir_path = root_pathf(root, "proc/irq/%u", num);
        DIR *dir = opendir(dir_path);
        GPtrArray *names = g_ptr_array_new();
        struct dirent *de;

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

GPtrArray *irq_scan_except(const Root *root, GHashTable *skip, GHashTable *present) {
        GPtrArray *irqs = g_ptr_array_new_with_free_func((GDestroyNotify) irq_free);
        g_autofree char *dir_path = root_path(root, "proc/irq");
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        const char *entry;

        while (dir && (entry = g_dir_read_name(dir))) {
                char rel[64];
                Irq *irq;
                unsigned num;

                if (!parse_uint(entry, &num))
                        continue; /* default_smp_affinity and friends */
                if (present)
                        g_hash_table_add(present, GUINT_TO_POINTER(num + 1u));
                if (skip && g_hash_table_contains(skip, GUINT_TO_POINTER(num + 1u)))
                        continue;
                irq = g_new0(Irq, 1);
                irq->num = num;
                g_snprintf(rel, sizeof rel, "proc/irq/%u/smp_affinity_list", num);
                if (root_read_cpulist(root, rel, &irq->affinity) < 0) {
                        irq_free(irq);
                        continue;
                }
                g_snprintf(rel, sizeof rel, "proc/irq/%u/effective_affinity_list", num);
                irq->has_effective = root_read_cpulist(root, rel, &irq->effective) >= 0;
                irq->actions = read_actions(root, num);
                irq->name = g_strjoinv(", ", irq->actions);
                g_ptr_array_add(irqs, irq);
        }
        g_ptr_array_sort(irqs, compare_irq);
        return irqs;
}

GPtrArray *irq_scan(const Root *root) {
        return irq_scan_except(root, NULL, NULL);
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
        g_free(t);
}

InterruptTable *interrupts_parse(const char *text) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        g_autoptr(GArray) cols = g_array_new(false, false, sizeof(int));
        InterruptTable *t;

        if (!lines[0])
                return NULL;
        /* The header names the online CPUs' columns: "CPU0 CPU1 ...". */
        g_auto(GStrv) header = g_strsplit_set(lines[0], " \t", -1);
        for (char **h = header; *h; h++) {
                unsigned cpu;
                if (g_str_has_prefix(*h, "CPU") && parse_uint(*h + 3, &cpu)) {
                        int c = (int) cpu;
                        g_array_append_val(cols, c);
                }
        }
        if (cols->len == 0)
                return NULL;

        t = g_new0(InterruptTable, 1);
        t->ncols = cols->len;
        t->col_cpu = (int *) g_array_free(g_steal_pointer(&cols), false);
        t->rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (char **l = lines + 1; *l; l++) {
                char *colon = strchr(*l, ':');
                if (!colon)
                        continue;
                g_autofree char *name = g_strstrip(g_strndup(*l, (size_t) (colon - *l)));
                uint64_t *counts = g_new0(uint64_t, t->ncols);
                char *p = colon + 1;
                /* Counts until the first field that is not a number (the chip name). Rows
                 * such as ERR and MIS have a single total. */
                for (unsigned i = 0; i < t->ncols; i++) {
                        char *end;
                        while (*p == ' ' || *p == '\t')
                                p++;
                        if (!isdigit((unsigned char) *p))
                                break;
                        counts[i] = g_ascii_strtoull(p, &end, 10);
                        p = end;
                }
                g_hash_table_replace(t->rows, g_steal_pointer(&name), counts);
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
