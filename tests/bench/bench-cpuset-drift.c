/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Foreign cpuset write -> restored by isolatord, beside bare inotify delivery in the
 * same run. Usage: bench-cpuset-drift FILE FOREIGN WANT N. Each round writes FOREIGN to
 * FILE (a cpuset.cpus of a running isolatord's fake root), takes the time its own inotify
 * watch on the folder reports the write (the floor any watcher pays), then reads FILE
 * until it holds WANT again (isolatord repaired it). Prints median and p99 of both. */
#include <errno.h>
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

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: %s FILE FOREIGN WANT N\n", argv[0]);
                return 2;
        }
        const char *file = argv[1], *foreign = argv[2], *want = argv[3];
        int n = atoi(argv[4]), lost = 0;
        uint64_t *bare = calloc((size_t) n, sizeof *bare), *restored = calloc((size_t) n, sizeof *restored);
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", file);
        *strrchr(dir, '/') = '\0';
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
        bench_sort(bare, (size_t) n);
        bench_sort(restored, (size_t) n);
        double bm = bench_quantile_us(bare, (size_t) n, 0.5), b99 = bench_quantile_us(bare, (size_t) n, 0.99);
        double rm = bench_quantile_us(restored, (size_t) n, 0.5), r99 = bench_quantile_us(restored, (size_t) n, 0.99);
        printf("foreign cpuset write -> restored: median %.0f us, p99 %.0f us (%d rounds, %d not restored within 2 s)\n",
               rm, r99, n, lost);
        printf("bare inotify delivery of the write: median %.0f us, p99 %.0f us\n", bm, b99);
        printf("ratio restored/bare: median %.1f, p99 %.1f\n", rm / bm, r99 / b99);
        return 0;
}
