/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/irq.h"
#include "base/macro.h"
#include "base/text.h"

void irq_free(Irq *irq) {
        if (!irq)
                return;
        g_strfreev(irq->actions);
        g_strfreev(irq->drivers);
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
        GPtrArray *names = g_ptr_array_new();
        const struct dirent64 *de;
        DirList list;

        /* A folder of the kernel's files and a handler or two: one small read. */
        dir_list_open(&list, fd, 2048);
        while ((de = dir_list_next(&list))) {
                bool is_dir = de->d_type == DT_DIR;
                if (de->d_name[0] == '.')
                        continue;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        is_dir = fstatat(fd, de->d_name, &st, 0) >= 0 && S_ISDIR(st.st_mode);
                }
                if (is_dir)
                        g_ptr_array_add(names, g_strdup(de->d_name));
        }
        dir_list_close(&list);
        if (fd >= 0)
                close(fd);
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
 * then (its link count less 2): a handler added or removed changes that count. A folder
 * made again has the same count when the number went to another device with as many
 * handlers (virtio frees and requests its vectors again on resume): its inode and its
 * times are new then. */
typedef struct NamedIrq {
        nlink_t links;
        ino_t ino;
        struct timespec mtime;
        uint64_t affinity_hash; /* of the smp_affinity_list text read with them */
        char **actions;
        char *name;             /* actions joined, as Irq.name */
} NamedIrq;

static void named_irq_free(NamedIrq *n) {
        g_strfreev(n->actions);
        g_free(n->name);
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

/* FNV-1a of an affinity text: whether an IRQ's affinity reads as it did last time. */
static uint64_t text_hash(const char *text) {
        uint64_t h = 0xcbf29ce484222325u;
        for (; *text; text++)
                h = (h ^ (unsigned char) *text) * 0x100000001b3u;
        return h;
}

/* The IRQ's handlers and their joined name, from the cache while its folder's link
 * count, inode and time say they are the same; read (and cached) otherwise. With trust,
 * an IRQ whose affinity reads as when its names were read keeps them without its folder
 * being looked at. False when the folder is gone. */
static bool irq_actions(int irq_dirfd, const char *entry, unsigned num, IrqNames *cache, bool trust, uint64_t hash,
                        Irq *irq) {
        NamedIrq *known;
        struct stat st;

        if (!cache) {
                irq->actions = read_actions(irq_dirfd, entry);
                irq->name = irq->actions ? g_strjoinv(", ", irq->actions) : NULL;
                return irq->actions;
        }
        known = g_hash_table_lookup(cache->by_num, GUINT_TO_POINTER(num + 1u));
        if (!(trust && known && known->affinity_hash == hash)) {
                if (fstatat(irq_dirfd, entry, &st, 0) < 0)
                        return false;
                if (!known || known->links != st.st_nlink || known->ino != st.st_ino ||
                    known->mtime.tv_sec != st.st_mtim.tv_sec || known->mtime.tv_nsec != st.st_mtim.tv_nsec) {
                        char **actions = read_actions(irq_dirfd, entry);
                        if (!actions)
                                return false;
                        known = g_new0(NamedIrq, 1);
                        known->links = st.st_nlink;
                        known->ino = st.st_ino;
                        known->mtime = st.st_mtim;
                        known->actions = actions;
                        known->name = g_strjoinv(", ", actions);
                        g_hash_table_replace(cache->by_num, GUINT_TO_POINTER(num + 1u), known);
                }
                known->affinity_hash = hash;
        }
        irq->actions = g_strdupv(known->actions);
        irq->name = g_strdup(known->name);
        return true;
}

/* "0000:00:14.0": a PCI device's folder in sys/devices. */
static bool pci_address(const char *name) {
        unsigned dom, bus, dev, fn;
        char end;
        return strlen(name) == 12 && sscanf(name, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &end) == 4;
}

/* The IRQs of the nearest PCI device at or above path (a folder under devices, which
 * ends the walk), added to map for driver. */
static void add_pci_irqs(GHashTable *map, const char *devices, char *path, const char *driver) {
        for (char *slash; g_str_has_prefix(path, devices) && strlen(path) > strlen(devices);) {
                if (pci_address(strrchr(path, '/') + 1)) {
                        g_autofree char *msi = g_build_filename(path, "msi_irqs", NULL);
                        g_autofree char *legacy = g_build_filename(path, "irq", NULL);
                        g_autofree char *text = NULL;
                        g_autoptr(GArray) nums = g_array_new(false, false, sizeof(unsigned));
                        GDir *dir = g_dir_open(msi, 0, NULL);
                        for (const char *n; dir && (n = g_dir_read_name(dir));) {
                                unsigned num;
                                if (parse_uint(n, &num))
                                        g_array_append_val(nums, num);
                        }
                        if (dir)
                                g_dir_close(dir);
                        unsigned num;
                        if (g_file_get_contents(legacy, &text, NULL, NULL) && parse_uint(g_strstrip(text), &num) && num > 0)
                                g_array_append_val(nums, num);
                        for (unsigned i = 0; i < nums->len; i++) {
                                gpointer key = GUINT_TO_POINTER(g_array_index(nums, unsigned, i) + 1u);
                                GPtrArray *names = g_hash_table_lookup(map, key);
                                if (!names) {
                                        names = g_ptr_array_new_with_free_func(g_free);
                                        g_hash_table_insert(map, key, names);
                                }
                                if (!g_ptr_array_find_with_equal_func(names, driver, g_str_equal, NULL))
                                        g_ptr_array_add(names, g_strdup(driver));
                        }
                        return;
                }
                slash = strrchr(path, '/');
                *slash = '\0';
        }
}

GHashTable *irq_driver_map(const Root *root, char **drivers) {
        GHashTable *map = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) g_ptr_array_unref);
        g_autofree char *buses = root_path(root, "sys/bus");
        g_autofree char *devices_rel = root_path(root, "sys/devices");
        g_autofree char *devices = realpath(devices_rel, NULL);
        GDir *bus_dir = devices ? g_dir_open(buses, 0, NULL) : NULL;

        for (const char *bus; bus_dir && (bus = g_dir_read_name(bus_dir));)
                for (char **d = drivers; d && *d; d++) {
                        g_autofree char *folder = g_build_filename(buses, bus, "drivers", *d, NULL);
                        GDir *dir = g_dir_open(folder, 0, NULL);
                        for (const char *entry; dir && (entry = g_dir_read_name(dir));) {
                                /* Its devices are links into devices (module, bind and
                                 * the like are not). */
                                g_autofree char *link = g_build_filename(folder, entry, NULL);
                                g_autofree char *real = g_file_test(link, G_FILE_TEST_IS_SYMLINK) ? realpath(link, NULL) : NULL;
                                g_autofree char *prefix = g_strconcat(devices, "/", NULL);
                                if (real && g_str_has_prefix(real, prefix))
                                        add_pci_irqs(map, devices, real, *d);
                        }
                        if (dir)
                                g_dir_close(dir);
                }
        if (bus_dir)
                g_dir_close(bus_dir);
        return map;
}

#define SET_BITS (8 * sizeof(unsigned long))

void irq_set_add(IrqSet *s, unsigned num) {
        size_t word = num / SET_BITS;
        if (num >= IRQ_NUM_MAX) {
                if (!s->beyond)
                        s->beyond = g_hash_table_new(g_direct_hash, g_direct_equal);
                g_hash_table_add(s->beyond, GUINT_TO_POINTER(num));
                return;
        }
        if (word >= s->words) {
                size_t words = MAX(word + 1, 2 * s->words);
                s->bits = g_renew(unsigned long, s->bits, words);
                memset(s->bits + s->words, 0, (words - s->words) * sizeof *s->bits);
                s->words = words;
        }
        s->bits[word] |= 1UL << (num % SET_BITS);
}

bool irq_set_has(const IrqSet *s, unsigned num) {
        size_t word = num / SET_BITS;
        if (num >= IRQ_NUM_MAX)
                return s->beyond && g_hash_table_contains(s->beyond, GUINT_TO_POINTER(num));
        return word < s->words && (s->bits[word] >> (num % SET_BITS)) & 1;
}

void irq_set_clear(IrqSet *s) {
        if (s->words)
                memset(s->bits, 0, s->words * sizeof *s->bits);
        if (s->beyond)
                g_hash_table_remove_all(s->beyond);
}

void irq_set_free(IrqSet *s) {
        g_clear_pointer(&s->bits, g_free);
        g_clear_pointer(&s->beyond, g_hash_table_unref);
        s->words = 0;
}

GPtrArray *irq_scan_except(const Root *root, const IrqScan *how) {
        GPtrArray *irqs = g_ptr_array_new_with_free_func((GDestroyNotify) irq_free);
        g_autoptr(GHashTable) by_driver = how && how->drivers && how->drivers[0] ? irq_driver_map(root, how->drivers) : NULL;
        /* One descriptor for the listing and the opens beneath it: a device event scans
         * at every uevent, and each call counts there. */
        int dfd = root_open_dir(root, "proc/irq");
        const struct dirent64 *de;
        DirList list;

        dir_list_open(&list, dfd, 32768);
        while ((de = dir_list_next(&list))) {
                char rel[64], text[4096];
                Irq *irq;
                unsigned num;

                if (!parse_uint(de->d_name, &num))
                        continue; /* default_smp_affinity and friends */
                if (how && how->present)
                        irq_set_add(how->present, num);
                if (how && how->skip && irq_set_has(how->skip, num))
                        continue;
                /* The folder's own name is the number: no formatting per IRQ. */
                size_t base = strlen(de->d_name);
                if (base > 10)
                        continue; /* leading zeros: not a folder the kernel makes */
                /* Not zeroed whole: the masks are 2 KiB of an IRQ, written by the parse
                 * (and the effective one zeroed only when it is not read). */
                irq = g_new(Irq, 1);
                irq->num = num;
                irq->actions = irq->drivers = NULL;
                irq->name = NULL;
                irq->has_effective = false;
                memcpy(rel, de->d_name, base);
                strcpy(rel + base, "/smp_affinity_list");
                if (root_read_small_at(dfd, rel, text, sizeof text) < 0 || cpumask_parse_list(text, &irq->affinity, NULL) < 0) {
                        irq_free(irq);
                        continue; /* vanished while we looked */
                }
                uint64_t affinity_hash = text_hash(text);
                if (!how || how->effective) {
                        strcpy(rel + base, "/effective_affinity_list");
                        irq->has_effective = root_read_small_at(dfd, rel, text, sizeof text) >= 0 &&
                                             cpumask_parse_list(text, &irq->effective, NULL) >= 0;
                }
                if (!irq->has_effective)
                        cpumask_zero(&irq->effective);
                if (!irq_actions(dfd, de->d_name, num, how ? how->names : NULL, how && how->trust_names, affinity_hash,
                                 irq)) {
                        irq_free(irq);
                        continue;
                }
                GPtrArray *served = by_driver ? g_hash_table_lookup(by_driver, GUINT_TO_POINTER(num + 1u)) : NULL;
                if (served) {
                        irq->drivers = g_new0(char *, served->len + 1);
                        for (unsigned i = 0; i < served->len; i++)
                                irq->drivers[i] = g_strdup(served->pdata[i]);
                }
                g_ptr_array_add(irqs, irq);
        }
        dir_list_close(&list);
        if (dfd >= 0)
                close(dfd);
        g_ptr_array_sort(irqs, compare_irq);
        return irqs;
}

void irq_set_drivers(const Root *root, Irq *irq, char **drivers) {
        if (!drivers || !drivers[0])
                return;
        g_autoptr(GHashTable) by_driver = irq_driver_map(root, drivers);
        GPtrArray *served = g_hash_table_lookup(by_driver, GUINT_TO_POINTER(irq->num + 1u));
        g_strfreev(irq->drivers);
        irq->drivers = NULL;
        if (!served)
                return;
        irq->drivers = g_new0(char *, served->len + 1);
        for (unsigned i = 0; i < served->len; i++)
                irq->drivers[i] = g_strdup(served->pdata[i]);
}

Irq *irq_read_one(const Root *root, unsigned num, char **drivers) {
        g_autofree char *aff = g_strdup_printf("proc/irq/%u/smp_affinity_list", num);
        g_autofree char *eff = g_strdup_printf("proc/irq/%u/effective_affinity_list", num);
        Irq *irq = g_new0(Irq, 1);

        irq->num = num;
        if (root_read_cpulist(root, aff, &irq->affinity) < 0) {
                irq_free(irq);
                return NULL;
        }
        irq->has_effective = root_read_cpulist(root, eff, &irq->effective) >= 0;
        irq->actions = irq_read_actions(root, num);
        irq->name = g_strjoinv(", ", irq->actions);
        irq_set_drivers(root, irq, drivers);
        return irq;
}

GPtrArray *irq_scan(const Root *root) {
        return irq_scan_except(root, NULL);
}

const IrqRule *irq_match_rule(const Config *c, const Irq *irq) {
        for (unsigned i = 0; i < c->irq_rules->len; i++) {
                const IrqRule *rule = c->irq_rules->pdata[i];
                for (char **m = rule->match; *m; m++)
                        for (char **a = irq->actions; *a; a++)
                                if (text_glob_match(*m, *a))
                                        return rule;
                for (char **d = rule->drivers; d && *d; d++)
                        if (irq->drivers && g_strv_contains((const char *const *) irq->drivers, *d))
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
