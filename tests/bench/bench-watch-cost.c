/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What watching the audio CPUs costs on the 256-thread fake server with 5681 IRQs (audio
 * CPUs 1-127,129-255, housekeeping 0,128), measured in one run, best of 20 each:
 * - the noise monitor's reading as it is now (counters: /proc/interrupts read once whole,
 *   from its start, as a real kernel's seq_file is read cheapest, and only the audio
 *   CPUs' columns of the rows that can reach them parsed, which a pass names; and
 *   schedstat), and how often it reads (every second at most, as seldom as keeps a
 *   reading within a thousandth of a CPU): its cost a second;
 * - the same second as it was before (the whole of /proc/interrupts read and parsed,
 *   every row and column, and schedstat), run by this program;
 * - the bare floor of the old way: the whole file read into memory, nothing parsed;
 * - a steady verify (every domain), which runs every VerifyIntervalSec= (default 30;
 *   10 before the watch on the audio CPUs put back what reaches them at once): the
 *   periodic one, which takes the IRQ handler names it read last time, and the one
 *   that looks at every IRQ's folder (a Verify call, and every tenth periodic pass);
 * and the idle cost they make at the default settings, now and before, in % of one CPU.
 * The goal (issue 23): idle at most 0.5 % of one CPU. Prints figures, asserts nothing. */
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <unistd.h>

#include "base/log.h"
#include "bench.h"
#include "kernel/irq.h"
#include "kernel/noise.h"
#include "manager.h"

#define ROUNDS 20

static char *make_root(void) {
        g_autoptr(GError) e = NULL;
        char *dir = g_dir_make_tmp("isolatord-bench-XXXXXX", &e);
        const char *argv[] = { g_getenv("ISOLATORD_PYTHON"), g_getenv("ISOLATORD_MKROOT"), "--irq-scale", "2",
                               "server-256", dir, NULL };
        int status;
        if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &e) ||
            !g_spawn_check_wait_status(status, &e))
                g_error("cannot generate the fake server: %s", e->message);
        return dir;
}

static void rm_rf(const char *dir) {
        const char *argv[] = { "rm", "-rf", "--", dir, NULL };
        g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* The old second: every row and column of /proc/interrupts, and schedstat. */
static void old_reading(const Root *root) {
        g_autofree char *irqs = NULL, *sched = NULL;
        if (root_read(root, "proc/interrupts", &irqs, NULL) >= 0)
                interrupt_table_free(interrupts_parse(irqs));
        if (root_read(root, "proc/schedstat", &sched, NULL) >= 0)
                g_hash_table_unref(schedstat_parse(sched));
}

/* The floor of the old way: the whole file read, nothing parsed. */
static void bare_read(const char *root) {
        g_autofree char *path = g_build_filename(root, "proc/interrupts", NULL);
        char buf[65536];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        while (fd >= 0 && read(fd, buf, sizeof buf) > 0)
                ;
        if (fd >= 0)
                close(fd);
}

static double best_ms(uint64_t *ns, size_t n) {
        bench_sort(ns, n);
        return (double) ns[0] / 1e6;
}

int main(void) {
        g_autofree char *dir = make_root();
        g_autofree char *run = g_build_filename(dir, "run", NULL), *conf = g_build_filename(dir, "isolatord.conf", NULL);
        g_autoptr(GError) e = NULL;
        g_autoptr(Root) root = root_new(dir);
        Manager *m = NULL;
        uint64_t tick[ROUNDS], old[ROUNDS], bare[ROUNDS], verify[3], looking[3];

        log_set_max_level(3);
        g_file_set_contents(conf, "[Partition]\nHousekeeping=0,128\n[Group audio]\nCPUs=1-127,129-255\n[Sampler]\n"
                                  "Enabled=false\n", -1, NULL);
        ManagerOptions o = { .root = dir, .config_path = conf, .config_must_exist = true, .runtime_dir = run };
        if (!manager_new(&o, &m, &e) || !manager_start(m, &e))
                g_error("no manager: %s", e->message);
        manager_verify(m); /* past the first apply's changes: the names are read as they stay */
        for (int i = 0; i < 3; i++) {
                uint64_t t0 = now_ns();
                manager_verify_periodic(m); /* a steady pass: it also names the rows the noise reads */
                verify[i] = now_ns() - t0;
                t0 = now_ns();
                manager_verify(m);
                looking[i] = now_ns() - t0;
        }
        for (int i = 0; i < ROUNDS; i++) {
                uint64_t t0 = now_ns();
                manager_noise_tick(m, t0 + (uint64_t) i * 1000000000u);
                tick[i] = now_ns() - t0;
                t0 = now_ns();
                old_reading(root);
                old[i] = now_ns() - t0;
                t0 = now_ns();
                bare_read(dir);
                bare[i] = now_ns() - t0;
        }
        g_autoptr(GPtrArray) noise = manager_noise(m);
        /* The counters pace themselves (causes.c): a tick reads them every `every` s, the
         * others cost next to nothing. The best tick that read is the reading's cost. */
        double every = noise && noise->len ? ((const NoiseCpu *) noise->pdata[0])->seconds : 1;
        unsigned reads = MAX(1u, (unsigned) (ROUNDS / MAX(every, 1.0) + 0.5));
        bench_sort(tick, ROUNDS);
        double read_ms = (double) tick[ROUNDS - reads] / 1e6, tick_ms = read_ms / MAX(every, 1.0);
        double old_ms = best_ms(old, ROUNDS), bare_ms = best_ms(bare, ROUNDS);
        double verify_ms = best_ms(verify, 3), looking_ms = best_ms(looking, 3);
        unsigned interval = manager_status(m)->config->daemon.verify_interval_sec;
        /* Nine periodic passes in ten take the names, the tenth looks. */
        double periodic_ms = (9 * verify_ms + looking_ms) / 10;
        double now_pct = (tick_ms + periodic_ms / interval) / 10, before_pct = (old_ms + looking_ms / 10) / 10;
        printf("watching 254 audio CPUs on the fake server, 5681 IRQs (best of %d):\n", ROUNDS);
        printf("  the noise monitor's reading now (counters, %u CPUs' rates; the file read whole, the rows that can "
               "reach them parsed): %.3f ms, every %.0f s (paced to a thousandth of a CPU): %.3f ms a second\n",
               noise ? noise->len : 0, read_ms, every, tick_ms);
        printf("  the same second as before (all of /proc/interrupts parsed, every second): %.3f ms (%.0f times "
               "now's)\n", old_ms, old_ms / tick_ms);
        printf("  bare floor of before (the whole file read, nothing parsed): %.3f ms\n", bare_ms);
        printf("  a steady verify: %.1f ms taking the IRQ names it read (9 periodic passes in 10), %.1f ms looking at "
               "every IRQ's folder (the tenth, and every Verify call); every %u s now (every 10 s, always looking, "
               "before)\n", verify_ms, looking_ms, interval);
        printf("idle cost at the defaults (a second of noise and a share of a verify, a second): now %.2f%% of one CPU, "
               "before %.2f%% (goal <= 0.5%%: %s)\n", now_pct, before_pct, now_pct <= 0.5 ? "met" : "NOT met");
        manager_free(m);
        rm_rf(dir);
        return 0;
}
