/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Foreign cpuset write -> restored, beside bare inotify delivery in the same run.
 * Usage: bench-cpuset-drift FILE FOREIGN WANT N [bare]. Each round writes FOREIGN to
 * FILE (a cpuset.cpus of a fake root), takes the time its own inotify watch on the folder
 * reports the write (the floor any watcher pays), then reads FILE until it holds WANT
 * again. Without "bare" a running isolatord repairs it; with it, the bare repairer: a
 * process of this benchmark on CPU 0 (where isolatord's loop runs) that does the same
 * kernel work and nothing else (inotify on the folder, read the file, write WANT when it
 * differs). Prints median and p99 of both, and "median_us=" for the scripts. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static int holds(const char *file, const char *want) {
        char buf[256];
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return strcmp(buf, want) == 0;
}

/* The bare repairer: the least a watcher that keeps FILE at WANT must do. */
static void repair_forever(const char *dir, const char *file, const char *want) {
        cpu_set_t cpu0;
        CPU_ZERO(&cpu0);
        CPU_SET(0, &cpu0);
        sched_setaffinity(0, sizeof cpu0, &cpu0);
        int in = inotify_init1(IN_CLOEXEC);
        if (in < 0 || inotify_add_watch(in, dir, IN_MODIFY) < 0)
                _exit(1);
        for (;;) {
                char ev[4096];
                if (read(in, ev, sizeof ev) <= 0)
                        _exit(1);
                if (holds(file, want))
                        continue;
                int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
                if (fd >= 0) {
                        (void) !write(fd, want, strlen(want));
                        close(fd);
                }
        }
}

int main(int argc, char **argv) {
        if (argc != 5 && !(argc == 6 && strcmp(argv[5], "bare") == 0)) {
                fprintf(stderr, "usage: %s FILE FOREIGN WANT N [bare]\n", argv[0]);
                return 2;
        }
        bool bare_mode = argc == 6;
        const char *file = argv[1], *foreign = argv[2], *want = argv[3];
        int n = atoi(argv[4]), lost = 0;
        uint64_t *bare = calloc((size_t) n, sizeof *bare), *restored = calloc((size_t) n, sizeof *restored);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", file);
        *strrchr(dir, '/') = '\0';
        pid_t repairer = -1;
        if (bare_mode && (repairer = fork()) == 0)
                repair_forever(dir, file, want);
        usleep(100000); /* its watch in place */
        int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (in < 0 || inotify_add_watch(in, dir, IN_MODIFY) < 0) {
                perror("inotify");
                return 1;
        }
        for (int i = 0; i < n; i++) {
                char ev[4096];
                while (read(in, ev, sizeof ev) > 0)
                        ; /* the previous round's repair */
                uint64_t t0 = now_ns();
                int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
                if (fd < 0 || write(fd, foreign, strlen(foreign)) < 0) {
                        perror(file);
                        return 1;
                }
                close(fd);
                struct pollfd p = { in, POLLIN, 0 };
                poll(&p, 1, 1000);
                bare[i] = now_ns() - t0;
                uint64_t deadline = t0 + 2000000000u;
                while (!holds(file, want) && now_ns() < deadline)
                        ;
                if (now_ns() >= deadline)
                        lost++;
                restored[i] = now_ns() - t0;
                usleep(20000);
        }
        if (repairer > 0) {
                kill(repairer, SIGKILL);
                waitpid(repairer, NULL, 0);
        }
        bench_sort(bare, (size_t) n);
        bench_sort(restored, (size_t) n);
        double bm = bench_quantile_us(bare, (size_t) n, 0.5), b99 = bench_quantile_us(bare, (size_t) n, 0.99);
        double rm = bench_quantile_us(restored, (size_t) n, 0.5), r99 = bench_quantile_us(restored, (size_t) n, 0.99);
        printf("foreign cpuset write -> restored by %s: median %.0f us, p99 %.0f us (%d rounds, %d not restored within 2 s)\n",
               bare_mode ? "the bare repairer" : "isolatord", rm, r99, n, lost);
        printf("  inotify delivery of the write: median %.0f us, p99 %.0f us\n", bm, b99);
        printf("median_us=%.1f\n", rm);
        return 0;
}
