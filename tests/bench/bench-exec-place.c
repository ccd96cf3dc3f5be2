/* SPDX-License-Identifier: GPL-2.0-or-later */
/* exec -> placed, beside a bare proc-connector receive in the same run.
 * Usage: bench-exec-place PROGRAM N [bare CGROUP_PROCS]: runs PROGRAM (a name matching
 * a group with CPUs=1 and SchedPolicy=fifo, priority 10) N times. Each time the harness's
 * own proc connector socket receives the exec event (kernel timestamp to receipt), then
 * it polls the child until it is SCHED_FIFO (kernel timestamp to seen placed). Without
 * "bare" a running isolatord places it; with it, the bare placer: a process of this
 * benchmark on CPU 0 (where isolatord's loop runs) that does the same kernel work and
 * nothing else (receives the exec, reads the process's executable, writes its pid to
 * CGROUP_PROCS, its affinity to CPU 1 and SCHED_FIFO 10). Root, initial namespaces. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static int listen_proc(void) {
        int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
        struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
        struct {
                struct nlmsghdr h;
                struct cn_msg cn;
                enum proc_cn_mcast_op op;
        } __attribute__((packed)) req = {
                .h = { .nlmsg_len = sizeof req, .nlmsg_type = NLMSG_DONE },
                .cn = { .id = { CN_IDX_PROC, CN_VAL_PROC }, .len = sizeof(enum proc_cn_mcast_op) },
                .op = PROC_CN_MCAST_LISTEN,
        };
        int big = 4 << 20;
        if (s < 0 || bind(s, (struct sockaddr *) &a, sizeof a) < 0 || send(s, &req, sizeof req, 0) < 0)
                return -1;
        setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
        return s;
}

/* Waits for pid's exec event; returns its kernel timestamp (CLOCK_MONOTONIC ns). */
static uint64_t wait_exec(int s, pid_t pid, uint64_t *received) {
        char buf[8192];
        for (;;) {
                ssize_t n = recv(s, buf, sizeof buf, 0);
                uint64_t t = now_ns();
                if (n < 0)
                        return 0;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        struct cn_msg *cn = NLMSG_DATA(h);
                        struct proc_event ev; /* cn->data is not 8-byte aligned */
                        memcpy(&ev, cn->data, sizeof ev);
                        if (ev.what == PROC_EVENT_EXEC && ev.event_data.exec.process_tgid == pid) {
                                *received = t;
                                return ev.timestamp_ns;
                        }
                }
        }
}

/* The bare placer: the least a daemon that places PROGRAM at its exec must do. */
static void place_forever(const char *program, const char *procs) {
        const char *name = strrchr(program, '/') ? strrchr(program, '/') + 1 : program;
        cpu_set_t cpu0, cpu1;
        CPU_ZERO(&cpu0);
        CPU_SET(0, &cpu0);
        CPU_ZERO(&cpu1);
        CPU_SET(1, &cpu1);
        sched_setaffinity(0, sizeof cpu0, &cpu0);
        int s = listen_proc();
        if (s < 0)
                _exit(1);
        for (;;) {
                char buf[8192];
                ssize_t n = recv(s, buf, sizeof buf, 0);
                if (n < 0)
                        _exit(1);
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                        struct cn_msg *cn = NLMSG_DATA(h);
                        struct proc_event ev;
                        memcpy(&ev, cn->data, sizeof ev);
                        if (ev.what != PROC_EVENT_EXEC)
                                continue;
                        pid_t pid = ev.event_data.exec.process_tgid;
                        char link[64], exe[4096], text[32];
                        snprintf(link, sizeof link, "/proc/%d/exe", (int) pid);
                        ssize_t len = readlink(link, exe, sizeof exe - 1);
                        if (len <= 0)
                                continue;
                        exe[len] = '\0';
                        const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
                        if (strcmp(base, name) != 0)
                                continue;
                        int fd = open(procs, O_WRONLY | O_TRUNC | O_CLOEXEC);
                        if (fd >= 0) {
                                (void) !write(fd, text, (size_t) snprintf(text, sizeof text, "%d\n", (int) pid));
                                close(fd);
                        }
                        struct sched_param p = { .sched_priority = 10 };
                        sched_setaffinity(pid, sizeof cpu1, &cpu1);
                        sched_setscheduler(pid, SCHED_FIFO, &p);
                }
        }
}

int main(int argc, char **argv) {
        if (argc != 3 && !(argc == 5 && strcmp(argv[3], "bare") == 0)) {
                fprintf(stderr, "usage: %s PROGRAM N [bare CGROUP_PROCS]\n", argv[0]);
                return 2;
        }
        bool bare_mode = argc == 5;
        int n = atoi(argv[2]), missed = 0;
        uint64_t *bare = calloc((size_t) n, sizeof *bare), *placed = calloc((size_t) n, sizeof *placed);
        int s = listen_proc();
        if (s < 0) {
                perror("proc connector (root, initial namespaces)");
                return 77;
        }
        pid_t placer = -1;
        if (bare_mode && (placer = fork()) == 0)
                place_forever(argv[1], argv[4]);
        usleep(100000); /* its subscription in place */
        for (int i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid == 0) {
                        execl(argv[1], argv[1], "10", (char *) NULL);
                        _exit(127);
                }
                uint64_t got = 0, t_exec = wait_exec(s, pid, &got);
                uint64_t deadline = got + 2000000000u, seen;
                while (sched_getscheduler(pid) != SCHED_FIFO && now_ns() < deadline)
                        ;
                seen = now_ns();
                if (seen >= deadline)
                        missed++;
                bare[i] = got - t_exec;
                placed[i] = seen - t_exec;
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                usleep(10000);
        }
        if (placer > 0) {
                kill(placer, SIGKILL);
                waitpid(placer, NULL, 0);
        }
        bench_sort(bare, (size_t) n);
        bench_sort(placed, (size_t) n);
        double bm = bench_quantile_us(bare, (size_t) n, 0.5), b99 = bench_quantile_us(bare, (size_t) n, 0.99);
        double pm = bench_quantile_us(placed, (size_t) n, 0.5), p99 = bench_quantile_us(placed, (size_t) n, 0.99);
        printf("exec -> placed (slice, CPUs, SCHED_FIFO) by %s: median %.0f us, p99 %.0f us (%d execs, %d not placed "
               "within 2 s)\n", bare_mode ? "the bare placer" : "isolatord", pm, p99, n, missed);
        printf("  proc-connector receive: median %.0f us, p99 %.0f us\n", bm, b99);
        printf("median_us=%.1f\n", pm);
        return 0;
}
