/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sampler's mechanics, with real threads of the test's own on this machine's last
 * CPU, and the noise monitor's arithmetic. No latency figure is asserted: these VMs show
 * millisecond spikes. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kernel/interrupt-counts.h"
#include "kernel/noise.h"
#include "kernel/sampler.h"
#include "testlib.h"

static CpuMask host_cpus(void) {
        cpu_set_t allowed;
        CpuMask out;
        cpumask_zero(&out);
        ck_assert_int_eq(sched_getaffinity(0, sizeof allowed, &allowed), 0);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
                if (CPU_ISSET(cpu, &allowed))
                        cpumask_add(&out, (unsigned) cpu);
        return out;
}

static int last_cpu(void) {
        CpuMask cpus = host_cpus();
        return cpumask_last(&cpus);
}

static Sampler *start(int cpu, unsigned hist_max_us, unsigned threshold_us, int event_fd) {
        SamplerOptions o = { .interval_us = 1000, .threshold_us = threshold_us, .priority = 98,
                             .hist_max_us = hist_max_us, .event_fd = event_fd, .host_online = host_cpus() };
        Sampler *s = NULL;
        cpumask_zero(&o.cpus);
        cpumask_add(&o.cpus, (unsigned) cpu);
        cpumask_add(&o.cpus, 8000); /* a CPU no machine here has */
        ck_assert_int_eq(sampler_start(&o, &s), 0);
        return s;
}

static LatencyStats *stats_of(GPtrArray *all, int cpu) {
        for (unsigned i = 0; i < all->len; i++)
                if (((LatencyStats *) all->pdata[i])->cpu == cpu)
                        return all->pdata[i];
        ck_abort_msg("no stats for CPU %d", cpu);
        return NULL;
}

START_TEST(test_counts_histogram_threads) {
        int cpu = last_cpu();
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        Sampler *s = start(cpu, 1000, 1000000, efd);

        g_usleep(1000000);
        g_autoptr(GPtrArray) all = sampler_stats(s);
        const LatencyStats *l = stats_of(all, cpu);
        /* 1 s at 1 kHz: about 1000 samples; a loaded VM loses some to overruns. */
        ck_assert_msg(l->measured, "CPU %d not measured", cpu);
        /* Not asked to lock: said so, per CPU and for the sampler. */
        ck_assert(!l->memory_locked);
        ck_assert_str_eq(sampler_memory_not_locked(s), "not asked to");
        ck_assert_msg(l->samples + l->overruns >= 800 && l->samples <= 1100, "%" G_GUINT64_FORMAT " samples, %"
                      G_GUINT64_FORMAT " overruns in 1 s", l->samples, l->overruns);
        uint64_t sum = l->overflows;
        for (unsigned i = 0; i < l->hist_max_us; i++)
                sum += l->histogram[i];
        ck_assert_uint_eq(sum, l->samples);
        ck_assert(l->min_us <= l->avg_us && l->avg_us <= l->max_us);
        ck_assert(l->p50_us <= l->p99_us && l->p99_us <= l->p999_us);
        /* The CPU that does not exist is reported, not measured. */
        ck_assert(!stats_of(all, 8000)->measured);

        /* The thread: on its CPU, SCHED_FIFO at the asked priority. */
        int tid = sampler_thread_id(s, cpu);
        cpu_set_t set;
        struct sched_param p;
        ck_assert_int_gt(tid, 0);
        ck_assert_int_eq(sched_getaffinity(tid, sizeof set, &set), 0);
        ck_assert_int_eq(CPU_COUNT(&set), 1);
        ck_assert(CPU_ISSET(cpu, &set));
        ck_assert_int_eq(sched_getscheduler(tid), SCHED_FIFO);
        ck_assert_int_eq(sched_getparam(tid, &p), 0);
        ck_assert_int_eq(p.sched_priority, 98);

        /* Reset: each thread zeroes its own at its next wake-up. */
        sampler_reset(s);
        g_usleep(30000);
        g_autoptr(GPtrArray) after = sampler_stats(s);
        ck_assert_uint_lt(stats_of(after, cpu)->samples, 100);

        sampler_stop(s);
        /* Stopped: the thread is gone. */
        g_autofree char *task = g_strdup_printf("/proc/self/task/%d", tid);
        ck_assert(!g_file_test(task, G_FILE_TEST_EXISTS));
        close(efd);
}
END_TEST

START_TEST(test_overflow_and_threshold) {
        int cpu = last_cpu();
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        /* One 1 us bucket: nearly every sample overflows; every sample above 1 us is over
         * the threshold and wakes the event fd. */
        Sampler *s = start(cpu, 1, 1, efd);
        struct pollfd pfd = { .fd = efd, .events = POLLIN };

        ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
        g_usleep(300000);
        g_autoptr(GPtrArray) all = sampler_stats(s);
        const LatencyStats *l = stats_of(all, cpu);
        ck_assert_uint_gt(l->overflows, 0);
        ck_assert_uint_eq(l->histogram[0] + l->overflows, l->samples);
        ck_assert_uint_gt(l->exceeded, 0);
        ck_assert_uint_ge(l->last_exceeded_us, 2);
        /* Overflowed samples report the maximum as their percentile. */
        ck_assert(l->p999_us == l->max_us || l->histogram[0] >= l->samples * 999 / 1000);
        sampler_stop(s);
        close(efd);
}
END_TEST

START_TEST(test_percentile) {
        uint32_t hist[10] = { 0, 50, 30, 10, 5, 4, 0, 0, 0, 0 };
        /* 99 in buckets + 1 overflow = 100 samples. */
        ck_assert(latency_percentile(hist, 10, 1, 100, 250.0, 0.5) == 2.0);   /* 50th in bucket 1: < 2 us */
        ck_assert(latency_percentile(hist, 10, 1, 100, 250.0, 0.8) == 3.0);   /* 80th: bucket 2 (cumulative 80) */
        ck_assert(latency_percentile(hist, 10, 1, 100, 250.0, 0.81) == 4.0);
        ck_assert(latency_percentile(hist, 10, 1, 100, 250.0, 0.99) == 6.0);
        ck_assert(latency_percentile(hist, 10, 1, 100, 250.0, 0.999) == 250.0); /* the overflow */
        ck_assert(latency_percentile(hist, 10, 0, 0, 0, 0.5) == 0.0);
}
END_TEST

START_TEST(test_noise_rates) {
        g_autoptr(NoiseReading) a = g_new0(NoiseReading, 1);
        g_autoptr(NoiseReading) b = g_new0(NoiseReading, 1);
        a->irqs = interrupts_parse("      CPU0  CPU1  CPU2\n"
                                   " 24:   10    0    5   PCI-MSI 1-edge  xhci_hcd\n"
                                   " 25:    0    0    0   PCI-MSI 2-edge  nvme0q1\n"
                                   "LOC: 1000 2000 3000   Local timer interrupts\n"
                                   "RES:    1    2    3   Rescheduling interrupts\n"
                                   "CAL:    0    0    0   Function call interrupts\n"
                                   "TLB:    0    0    0   TLB shootdowns\n");
        b->irqs = interrupts_parse("      CPU0  CPU1  CPU2\n"
                                   " 24:   10    0   25   PCI-MSI 1-edge  xhci_hcd\n"
                                   " 25:    0    0    8   PCI-MSI 2-edge  nvme0q1\n"
                                   "LOC: 3000 2004 3500   Local timer interrupts\n"
                                   "RES:    1    2   43   Rescheduling interrupts\n"
                                   "CAL:    0    0    6   Function call interrupts\n"
                                   "TLB:    0    0    2   TLB shootdowns\n");
        a->switches = schedstat_parse("version 15\ncpu0 0 0 100 1 2 3 4 5 6\ncpu2 0 0 1000 1 2 3 4 5 6\n");
        b->switches = schedstat_parse("version 15\ncpu0 0 0 300 1 2 3 4 5 6\ncpu2 0 0 1500 1 2 3 4 5 6\n");
        a->at_ns = 1000000000u;
        b->at_ns = 3000000000u; /* two seconds later */
        g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_hash_table_insert(names, g_strdup("24"), g_strdup("xhci_hcd"));
        CpuMask cpus = cs("0-2");
        g_autoptr(GPtrArray) rates = noise_rates(a, b, &cpus, names);

        ck_assert_uint_eq(rates->len, 3);
        const NoiseCpu *c0 = rates->pdata[0], *c1 = rates->pdata[1], *c2 = rates->pdata[2];
        ck_assert(c0->loc == 1000.0 && c0->devices == 0 && c0->switches == 100.0);
        ck_assert(c1->loc == 2.0 && !c1->has_switches); /* no schedstat line for CPU 1 */
        ck_assert(c2->loc == 250.0 && c2->res == 20.0 && c2->cal == 3.0 && c2->tlb == 1.0);
        ck_assert(c2->devices == 14.0 && c2->switches == 250.0);
        ck_assert_uint_eq(c2->sources->len, 2);
        ck_assert_str_eq(((NoiseSource *) c2->sources->pdata[0])->name, "24 xhci_hcd"); /* 10/s, first */
        ck_assert_str_eq(((NoiseSource *) c2->sources->pdata[1])->name, "25");

        /* A fixture's own schedstat parses. */
        g_autoptr(Root) root = root_new(fixture_root("ryzen-7700x"));
        CpuMask all = cs("0-15");
        g_autoptr(InterruptCounts) counts = interrupt_counts_new(root, &all);
        g_autoptr(NoiseReading) r = noise_read(root, counts, 1);
        ck_assert_ptr_nonnull(r->irqs);
        ck_assert_uint_eq(g_hash_table_size(r->switches), 16);
}
END_TEST

static uint64_t count_of(const InterruptTable *t, const char *row, int cpu) {
        const uint64_t *counts = g_hash_table_lookup(t->rows, row);
        ck_assert_msg(counts, "no row %s", row);
        for (unsigned i = 0; i < t->ncols; i++)
                if (t->col_cpu[i] == cpu)
                        return counts[i];
        ck_abort_msg("no column for CPU %d", cpu);
        return 0;
}

/* The cheap reader: only the wanted rows, only the watched columns, the same numbers as
 * the whole file parsed; a file that changed under the index is indexed again. */
START_TEST(test_interrupt_counts) {
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(Root) root = root_new(dir);
        CpuMask cpus = cs("1,3");
        const char *text =
                "           CPU0       CPU1       CPU2       CPU3       \n"
                "  0:         10          0          0          0  IO-APIC   2-edge      timer\n"
                " 24:          1          2          3          4  PCI-MSI 1-edge      xhci_hcd\n"
                " 25:          5          6          7          8  PCI-MSI 2-edge      eth0\n"
                "NMI:          1          2          3          4   Non-maskable interrupts\n"
                "LOC:        100        200        300        400   Local timer interrupts\n"
                "ERR:          0\n";
        fixture_write(dir, "proc/interrupts", text);
        g_autoptr(InterruptCounts) c = interrupt_counts_new(root, &cpus);
        g_autoptr(GArray) want = g_array_new(false, false, sizeof(unsigned));
        unsigned irq = 25;
        g_array_append_val(want, irq);
        interrupt_counts_want(c, want);

        g_autoptr(InterruptTable) t = interrupt_counts_read(c);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->ncols, 2);
        ck_assert_uint_eq(g_hash_table_size(t->rows), 4); /* 25, NMI, LOC, ERR */
        ck_assert(!g_hash_table_contains(t->rows, "24") && !g_hash_table_contains(t->rows, "0"));
        ck_assert_uint_eq(count_of(t, "25", 1), 6);
        ck_assert_uint_eq(count_of(t, "25", 3), 8);
        ck_assert_uint_eq(count_of(t, "LOC", 3), 400);
        ck_assert_uint_eq(count_of(t, "ERR", 1), 0);
        ck_assert_uint_eq(interrupt_counts_indexings(c), 1);
        /* Read again: no new index, and the file read once, whole (a seq_file formats
         * every row before an offset read out of turn). */
        g_autoptr(InterruptTable) again = interrupt_counts_read(c);
        ck_assert_uint_eq(interrupt_counts_indexings(c), 1);
        ck_assert_uint_eq(interrupt_counts_last_bytes(c), strlen(text));

        /* An IRQ came (a line before the wanted ones) and a count grew two digits. */
        const char *grown =
                "           CPU0       CPU1       CPU2       CPU3       \n"
                "  0:         10          0          0          0  IO-APIC   2-edge      timer\n"
                " 23:          0          0          0          0  PCI-MSI 0-edge      snd_hda\n"
                " 24:          1          2          3          4  PCI-MSI 1-edge      xhci_hcd\n"
                " 25:          5          6          7          9  PCI-MSI 2-edge      eth0\n"
                "NMI:          1          2          3          4   Non-maskable interrupts\n"
                "LOC:        100    2000000        300        401   Local timer interrupts\n"
                "ERR:          0\n";
        fixture_write(dir, "proc/interrupts", grown);
        g_autoptr(InterruptTable) moved = interrupt_counts_read(c);
        ck_assert_ptr_nonnull(moved);
        ck_assert_uint_eq(interrupt_counts_indexings(c), 1); /* the same header: the same columns */
        ck_assert_uint_eq(interrupt_counts_last_bytes(c), strlen(grown));
        ck_assert_uint_eq(count_of(moved, "25", 3), 9);
        ck_assert_uint_eq(count_of(moved, "LOC", 1), 2000000);
        ck_assert_uint_eq(count_of(moved, "LOC", 3), 401);
        /* Another set of IRQs is indexed again; the same set is not. */
        interrupt_counts_want(c, want);
        g_autoptr(InterruptTable) same = interrupt_counts_read(c);
        ck_assert_uint_eq(interrupt_counts_indexings(c), 1);
        interrupt_counts_want(c, NULL);
        g_autoptr(InterruptTable) all = interrupt_counts_read(c);
        ck_assert_uint_eq(interrupt_counts_indexings(c), 2);
        ck_assert_uint_eq(g_hash_table_size(all->rows), 7);

        /* A CPU came (the header differs): its columns indexed again. A row longer than
         * the pieces the file is read in (a chip's name of 200 KB) is read whole. */
        g_autoptr(GString) wide = g_string_new("    CPU0 CPU1 CPU2 CPU3 CPU4\n"
                                               " 25:  5 6 7 10 11 PCI-MSI 2-edge ");
        for (int i = 0; i < 200000; i++)
                g_string_append_c(wide, 'x');
        g_string_append(wide, "\nLOC: 1 2 3 4 5 Local timer interrupts\n");
        fixture_write(dir, "proc/interrupts", wide->str);
        g_autoptr(InterruptTable) came = interrupt_counts_read(c);
        ck_assert_ptr_nonnull(came);
        ck_assert_uint_eq(interrupt_counts_indexings(c), 3);
        ck_assert_uint_eq(count_of(came, "25", 3), 10);
        ck_assert_uint_eq(count_of(came, "LOC", 1), 2);
        ck_assert_uint_eq(interrupt_counts_last_bytes(c), wide->len);
        fixture_remove(dir);

        /* The 256-CPU server: the architecture's rows as the whole file parsed says. */
        g_autoptr(Root) server = root_new(fixture_root("server-256"));
        g_autofree char *whole = NULL;
        CpuMask audio = cs("1-127,129-255");
        ck_assert_int_eq(root_read(server, "proc/interrupts", &whole, NULL), 0);
        g_autoptr(InterruptTable) full = interrupts_parse(whole);
        g_autoptr(InterruptCounts) sc = interrupt_counts_new(server, &audio);
        interrupt_counts_want(sc, want);
        g_autoptr(InterruptTable) part = interrupt_counts_read(sc);
        ck_assert_uint_eq(part->ncols, 254);
        for (const char *const *row = (const char *const[]) { "LOC", "RES", "CAL", "TLB", NULL }; *row; row++)
                for (int cpu = 1; cpu < 256; cpu += 37)
                        ck_assert_uint_eq(count_of(part, *row, cpu), count_of(full, *row, cpu));
        /* Its 16 MB read once from start to end, not a span at a time. */
        ck_assert_uint_eq(interrupt_counts_last_bytes(sc), strlen(whole));
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "server-256", NULL };
        Suite *s = suite_create("sampler");
        TCase *tc = tcase_create("sampler");

        tcase_add_test(tc, test_percentile);
        tcase_add_test(tc, test_noise_rates);
        tcase_add_test(tc, test_interrupt_counts);
        tcase_add_test(tc, test_counts_histogram_threads);
        tcase_add_test(tc, test_overflow_and_threshold);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return test_run(s, machines);
}
