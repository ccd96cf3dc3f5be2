/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pin-all on the 256-thread fake server (3100 IRQs) and on about twice as many IRQs:
 * the time of the first apply (scan, originals saved, every IRQ written and read back)
 * and (P6) of a steady-state verify on a pinned machine (the periodic backstop, every
 * domain), beside the floor measured in the same run: reading every IRQ's affinity file
 * once, as a bare program does (open, read to the end, close); best of 3 each. Goal: a
 * steady verify within twice the floor, linear in IRQs. Prints figures, asserts nothing. */
#include <fcntl.h>
#include <glib.h>
#include <unistd.h>
#include <stdio.h>
#include <time.h>

#include "base/log.h"
#include "manager.h"

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *make_root(unsigned scale) {
        g_autoptr(GError) e = NULL;
        char *dir = g_dir_make_tmp("isolatord-bench-XXXXXX", &e);
        g_autofree char *scale_arg = g_strdup_printf("%u", scale);
        const char *argv[] = { g_getenv("ISOLATORD_PYTHON"), g_getenv("ISOLATORD_MKROOT"), "--irq-scale", scale_arg,
                               "server-256", dir, NULL };
        int status;
        if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &e) ||
            !g_spawn_check_wait_status(status, &e))
                g_error("cannot generate the fake server: %s", e->message);
        return dir;
}

/* The floor: every /proc/irq/N/smp_affinity_list read once. */
static double read_every_affinity(const char *root) {
        g_autofree char *dir_path = g_build_filename(root, "proc/irq", NULL);
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        const char *entry;
        double t0 = now_ms();
        char buf[4096];

        while (dir && (entry = g_dir_read_name(dir))) {
                char path[4096];
                if (!g_ascii_isdigit(entry[0]))
                        continue;
                g_snprintf(path, sizeof path, "%s/%s/smp_affinity_list", dir_path, entry);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                while (read(fd, buf, sizeof buf) > 0)
                        ;
                close(fd);
        }
        return now_ms() - t0;
}

static void rm_rf(const char *dir) {
        const char *argv[] = { "rm", "-rf", "--", dir, NULL };
        g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}

int main(void) {
        double first[3], steady[3], floor_ms[3];
        unsigned irq_count[3] = {};

        log_set_max_level(4);
        for (unsigned scale = 1; scale <= 2; scale++) {
                double best_first = 1e9, best_steady = 1e9, best_floor = 1e9;
                for (int run = 0; run < 3; run++) {
                        g_autofree char *root = make_root(scale);
                        g_autofree char *run_dir = g_build_filename(root, "run", NULL);
                        g_autofree char *conf = g_build_filename(root, "isolatord.conf", NULL);
                        g_autoptr(GError) e = NULL;
                        Manager *m = NULL;
                        g_file_set_contents(conf, "[Partition]\nHousekeeping=0,128\n[Group audio]\nCPUs=1-127,129-255\n",
                                            -1, NULL);
                        ManagerOptions o = { .root = root, .config_path = conf, .config_must_exist = true,
                                             .runtime_dir = run_dir };
                        double t0 = now_ms();
                        if (!manager_new(&o, &m, &e) || !manager_start(m, &e))
                                g_error("%s", e->message);
                        best_first = MIN(best_first, now_ms() - t0);
                        for (int k = 0; k < 3; k++) {
                                t0 = now_ms();
                                manager_verify(m);
                                best_steady = MIN(best_steady, now_ms() - t0);
                                best_floor = MIN(best_floor, read_every_affinity(root));
                        }
                        g_autoptr(GPtrArray) report = manager_irqs(m);
                        irq_count[scale] = report->len;
                        manager_free(m);
                        rm_rf(root);
                }
                first[scale] = best_first;
                steady[scale] = best_steady;
                floor_ms[scale] = best_floor;
                printf("pin-all, %u IRQs on 256 CPUs: first apply %.1f ms (%.1f us/IRQ); steady verify %.1f ms; "
                       "reading every affinity file once %.1f ms\n",
                       irq_count[scale], first[scale], first[scale] * 1e3 / irq_count[scale], steady[scale], floor_ms[scale]);
                printf("P6 steady verify, %u IRQs: %.1f ms / floor %.1f ms = %.2f (goal <= 2: %s)\n", irq_count[scale],
                       steady[scale], floor_ms[scale], steady[scale] / floor_ms[scale],
                       steady[scale] / floor_ms[scale] <= 2 ? "met" : "NOT met");
        }
        printf("cost growth for %.2fx the IRQs: first apply %.2fx, steady verify %.2fx, floor %.2fx\n",
               (double) irq_count[2] / irq_count[1], first[2] / first[1], steady[2] / steady[1], floor_ms[2] / floor_ms[1]);
        return 0;
}
