/* SPDX-License-Identifier: GPL-2.0-or-later */
/* exec -> placed by isolatord, beside a bare proc-connector receive in the same run.
 * Usage: bench-exec-place PROGRAM N: runs PROGRAM (a name matching a group with
 * SchedPolicy=fifo) N times. Each time the harness's own proc connector socket receives
 * the exec event (bare: kernel timestamp to receipt), then it polls the child until it is
 * SCHED_FIFO (placed: kernel timestamp to seen placed). Root, initial namespaces. */
#include <errno.h>
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

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: %s PROGRAM N\n", argv[0]);
                return 2;
        }
        int n = atoi(argv[2]), missed = 0;
        uint64_t *bare = calloc((size_t) n, sizeof *bare), *placed = calloc((size_t) n, sizeof *placed);
        int s = listen_proc();
        if (s < 0) {
                perror("proc connector (root, initial namespaces)");
                return 77;
        }
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
        bench_sort(bare, (size_t) n);
        bench_sort(placed, (size_t) n);
        double bm = bench_quantile_us(bare, (size_t) n, 0.5), b99 = bench_quantile_us(bare, (size_t) n, 0.99);
        double pm = bench_quantile_us(placed, (size_t) n, 0.5), p99 = bench_quantile_us(placed, (size_t) n, 0.99);
        printf("exec -> placed (slice, CPUs, SCHED_FIFO): median %.0f us, p99 %.0f us (%d execs, %d not placed within 2 s)\n",
               pm, p99, n, missed);
        printf("bare proc-connector receive: median %.0f us, p99 %.0f us\n", bm, b99);
        printf("ratio placed/bare: median %.1f, p99 %.1f\n", pm / bm, p99 / b99);
        return 0;
}
