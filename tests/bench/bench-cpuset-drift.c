/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Foreign cpuset write -> restored, beside bare inotify delivery in the same run.
 * Usage: bench-cpuset-drift FILE FOREIGN WANT N [bare | paired BAREFILE]. Each round
 * writes FOREIGN to FILE (a cpuset.cpus of a fake root), takes the time its own inotify
 * watch on the folder reports the write (the floor any watcher pays), then reads FILE
 * until it holds WANT again. Without "bare" a running isolatord repairs it; with it, the
 * bare repairer: a process of this benchmark on CPU 0 (where isolatord's loop runs) that
 * does the same kernel work and nothing else (inotify on the folder, read the file, write
 * WANT when it differs). "paired" alternates the two round by round (isolatord on FILE,
 * the bare repairer on BAREFILE, a copy in another folder), so that both meet the same
 * load on a busy machine. Prints median and p99, and "median_us=" (with paired also
 * "bare_median_us=") for the scripts. */
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

/* Round samples of one repairer. */
typedef struct Side {
        const char *file, *dir_watched;
        int in;
        uint64_t *bare, *restored;
        int n, lost;
} Side;

static int side_watch(Side *side, char *dir, size_t size, const char *file, int n) {
        side->file = file;
        snprintf(dir, size, "%s", file);
        *strrchr(dir, '/') = '\0';
        side->dir_watched = dir;
        side->bare = calloc((size_t) n, sizeof *side->bare);
        side->restored = calloc((size_t) n, sizeof *side->restored);
        side->in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (!side->bare || !side->restored || side->in < 0 || inotify_add_watch(side->in, dir, IN_MODIFY) < 0) {
                perror("inotify");
                return -1;
        }
        return 0;
}

/* One round: FOREIGN written, the watch's delivery timed, WANT waited for. */
static int side_round(Side *side, const char *foreign, const char *want) {
        char ev[4096];
        while (read(side->in, ev, sizeof ev) > 0)
                ; /* the previous round's repair */
        uint64_t t0 = now_ns();
        int fd = open(side->file, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0 || write(fd, foreign, strlen(foreign)) < 0) {
                perror(side->file);
                return -1;
        }
        close(fd);
        struct pollfd p = { side->in, POLLIN, 0 };
        poll(&p, 1, 1000);
        side->bare[side->n] = now_ns() - t0;
        uint64_t deadline = t0 + 2000000000u;
        while (!holds(side->file, want) && now_ns() < deadline)
                ;
        if (now_ns() >= deadline)
                side->lost++;
        side->restored[side->n++] = now_ns() - t0;
        usleep(20000);
        return 0;
}

static double side_report(Side *side, const char *who) {
        bench_sort(side->bare, (size_t) side->n);
        bench_sort(side->restored, (size_t) side->n);
        size_t n = (size_t) side->n;
        double rm = bench_quantile_us(side->restored, n, 0.5);
        printf("foreign cpuset write -> restored by %s: median %.0f us, p99 %.0f us (%d rounds, %d not restored within 2 s)\n",
               who, rm, bench_quantile_us(side->restored, n, 0.99), side->n, side->lost);
        printf("  inotify delivery of the write: median %.0f us, p99 %.0f us\n", bench_quantile_us(side->bare, n, 0.5),
               bench_quantile_us(side->bare, n, 0.99));
        return rm;
}

int main(int argc, char **argv) {
        bool bare_mode = argc == 6 && strcmp(argv[5], "bare") == 0;
        bool paired = argc == 7 && strcmp(argv[5], "paired") == 0;
        if (argc != 5 && !bare_mode && !paired) {
                fprintf(stderr, "usage: %s FILE FOREIGN WANT N [bare | paired BAREFILE]\n", argv[0]);
                return 2;
        }
        const char *foreign = argv[2], *want = argv[3];
        int n = atoi(argv[4]);
        char dir[4096], bare_dir[4096];
        Side daemon = {}, bare = {};
        Side *measured = bare_mode ? &bare : &daemon;
        if (n <= 0)
                return 2;
        pid_t repairer = -1;
        const char *bare_file = paired ? argv[6] : bare_mode ? argv[1] : NULL;
        if (bare_file) {
                snprintf(bare_dir, sizeof bare_dir, "%s", bare_file);
                *strrchr(bare_dir, '/') = '\0';
                if ((repairer = fork()) == 0)
                        repair_forever(bare_dir, bare_file, want);
        }
        usleep(100000); /* its watch in place */
        if (side_watch(measured, dir, sizeof dir, argv[1], n) < 0 ||
            (paired && side_watch(&bare, bare_dir, sizeof bare_dir, bare_file, n) < 0))
                return 1;
        for (int i = 0; i < n; i++)
                if (side_round(measured, foreign, want) < 0 || (paired && side_round(&bare, foreign, want) < 0))
                        return 1;
        if (repairer > 0) {
                kill(repairer, SIGKILL);
                waitpid(repairer, NULL, 0);
        }
        double rm = side_report(measured, bare_mode ? "the bare repairer" : "isolatord");
        if (paired) {
                double bm = side_report(&bare, "the bare repairer (rounds alternating with isolatord's)");
                printf("bare_median_us=%.1f\n", bm);
        }
        printf("median_us=%.1f\n", rm);
        return 0;
}
