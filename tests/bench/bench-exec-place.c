/* SPDX-License-Identifier: GPL-2.0-or-later */
/* exec -> placed, beside a bare proc-connector receive in the same run.
 * Usage: bench-exec-place PROGRAM N [bare CGROUP_PROCS [ORIGINALS] | paired DAEMON_PID
 * CGROUP_PROCS ORIGINALS]: runs PROGRAM (a name matching a group with CPUs=1 and
 * SchedPolicy=fifo, priority 10) N times. Each time the harness's own proc connector
 * socket receives the exec event (kernel timestamp to receipt), then it polls the child
 * until it is SCHED_FIFO (kernel timestamp to seen placed), itself at SCHED_FIFO 20 so
 * that the child cannot run in between. Without "bare" a running isolatord places it;
 * with it, a bare placer: a process of this benchmark on CPU 0 (where isolatord's loop
 * runs). Without ORIGINALS it makes the writes and nothing else (receives the exec,
 * reads the process's executable, writes its pid to CGROUP_PROCS, its affinity to CPU 1
 * and SCHED_FIFO 10). With it, it also does the kernel work that isolatord's contract
 * requires before those writes, in the least code: who the process is (its stat: start
 * time and scheduling, the file kept open and read again after the other reads, so they
 * were that process's), that only root could have put its executable there (the running
 * file is root's and not writable by others, and its path still names it), what it had
 * (its CPUs and cgroup), and those originals appended to ORIGINALS. "paired" measures
 * all three, N execs each, in alternating blocks of 10: isolatord (DAEMON_PID), the
 * placer keeping the contract, the one that only writes; the two not measured are
 * stopped (SIGSTOP) meanwhile. Root, initial namespaces. */
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (int) n); h = NLMSG_NEXT(h, n)) {
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

/* Field 22 of a stat line (the start time): with the pid, who the process is. */
static unsigned long long start_time(const char *stat) {
        const char *p = strrchr(stat, ')');
        for (int field = 2; p && field < 22; field++)
                p = strchr(p + 1, ' ');
        return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* The contract's reads before the writes (ORIGINALS given): false when the process may
 * not be placed (gone, or not root's file). */
static bool keep_contract(pid_t pid, const char *exe, int originals) {
        char path[64], stat1[1024], stat2[1024], cgroup[4096], line[8192];
        struct stat running, named;
        cpu_set_t was;
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n1 = pread(fd, stat1, sizeof stat1 - 1, 0);
        snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        bool ok = n1 > 0 && stat(path, &running) == 0 && running.st_uid == 0 && !(running.st_mode & S_IWOTH) &&
                  lstat(exe, &named) == 0 && named.st_ino == running.st_ino && named.st_dev == running.st_dev &&
                  sched_getaffinity(pid, sizeof was, &was) == 0;
        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        int cg = ok ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        ssize_t nc = cg >= 0 ? read(cg, cgroup, sizeof cgroup - 1) : -1;
        if (cg >= 0)
                close(cg);
        ssize_t n2 = nc > 0 ? pread(fd, stat2, sizeof stat2 - 1, 0) : -1;
        close(fd);
        if (n2 <= 0)
                return false;
        stat1[n1] = stat2[n2] = '\0';
        if (start_time(stat1) != start_time(stat2))
                return false;
        cgroup[nc] = '\0';
        int len = snprintf(line, sizeof line, "%d %llu %d %s", (int) pid, start_time(stat2), CPU_COUNT(&was), cgroup);
        return write(originals, line, (size_t) len) == len;
}

/* The bare placer: the least a daemon that places PROGRAM at its exec must do (with
 * originals >= 0, keeping the contract). */
static void place_forever(const char *program, const char *procs, int originals) {
        const char *name = strrchr(program, '/') ? strrchr(program, '/') + 1 : program;
        cpu_set_t cpu0, cpu1;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                _exit(1); /* no placer outlives the harness, stopped or not */
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
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (int) n); h = NLMSG_NEXT(h, n)) {
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
                        if (strcmp(base, name) != 0 || (originals >= 0 && !keep_contract(pid, exe, originals)))
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

/* The samples of one placer, and how it is told to run or stop (pid 0: nothing to
 * signal, the only placer). */
typedef struct Side {
        const char *who;
        pid_t pid;
        uint64_t *bare, *placed;
        int n, missed;
} Side;

static Side side_new(const char *who, pid_t pid, int n) {
        return (Side) { .who = who, .pid = pid, .bare = calloc((size_t) n, sizeof(uint64_t)),
                        .placed = calloc((size_t) n, sizeof(uint64_t)) };
}

/* One exec of PROGRAM, timed from the kernel's exec event to the child seen placed. */
static void measure(Side *side, int s, const char *program) {
        pid_t pid = fork();
        if (pid == 0) {
                execl(program, program, "10", (char *) NULL);
                _exit(127);
        }
        uint64_t got = 0, t_exec = wait_exec(s, pid, &got);
        uint64_t deadline = got + 2000000000u, seen;
        while (sched_getscheduler(pid) != SCHED_FIFO && now_ns() < deadline)
                ;
        seen = now_ns();
        if (seen >= deadline)
                side->missed++;
        side->bare[side->n] = got - t_exec;
        side->placed[side->n++] = seen - t_exec;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        usleep(10000);
}

static double side_report(Side *side, const char *key) {
        size_t n = (size_t) side->n;
        bench_sort(side->bare, n);
        bench_sort(side->placed, n);
        double pm = bench_quantile_us(side->placed, n, 0.5);
        printf("exec -> placed (slice, CPUs, SCHED_FIFO) by %s: median %.0f us, p99 %.0f us (%d execs, %d not placed "
               "within 2 s)\n", side->who, pm, bench_quantile_us(side->placed, n, 0.99), side->n, side->missed);
        printf("  proc-connector receive: median %.0f us, p99 %.0f us\n", bench_quantile_us(side->bare, n, 0.5),
               bench_quantile_us(side->bare, n, 0.99));
        printf("%s=%.1f\n", key, pm);
        return pm;
}

/* Only side runs: the others are stopped (their events wait in their sockets), and it
 * catches up on what it missed before its block starts. */
static void only(Side *sides, unsigned count, unsigned run) {
        for (unsigned i = 0; i < count; i++)
                if (i != run && sides[i].pid > 0)
                        kill(sides[i].pid, SIGSTOP);
        if (sides[run].pid > 0)
                kill(sides[run].pid, SIGCONT);
        usleep(50000);
}

int main(int argc, char **argv) {
        bool single = argc == 3, bare_mode = (argc == 5 || argc == 6) && strcmp(argv[3], "bare") == 0;
        bool paired = argc == 7 && strcmp(argv[3], "paired") == 0;
        if (!single && !bare_mode && !paired) {
                fprintf(stderr, "usage: %s PROGRAM N [bare CGROUP_PROCS [ORIGINALS] | paired DAEMON_PID CGROUP_PROCS "
                                "ORIGINALS]\n", argv[0]);
                return 2;
        }
        const char *procs = paired ? argv[5] : bare_mode ? argv[4] : NULL;
        const char *originals_path = paired ? argv[6] : argc == 6 ? argv[5] : NULL;
        int originals = originals_path ? open(originals_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
        if (originals_path && originals < 0) {
                perror(originals_path);
                return 1;
        }
        int n = atoi(argv[2]);
        pid_t daemon = paired ? (pid_t) atoi(argv[4]) : 0;
        if (n <= 0 || (paired && (daemon <= 1 || kill(daemon, 0) < 0))) {
                fprintf(stderr, "%s: N must be a positive number, DAEMON_PID a running process\n", argv[0]);
                return 2;
        }
        int s = listen_proc();
        if (s < 0) {
                perror("proc connector (root, initial namespaces)");
                return 77;
        }
        Side sides[3];
        unsigned count = 0;
        if (single || paired)
                sides[count++] = side_new("isolatord", daemon, n);
        if (paired || (bare_mode && originals >= 0)) {
                pid_t placer = fork();
                if (placer == 0)
                        place_forever(argv[1], procs, originals);
                sides[count++] = side_new("the bare placer keeping the contract", placer, n);
        }
        if (paired || (bare_mode && originals < 0)) {
                pid_t placer = fork();
                if (placer == 0)
                        place_forever(argv[1], procs, -1);
                sides[count++] = side_new("the bare placer (writes only)", placer, n);
        }
        usleep(100000); /* their subscriptions in place */
        /* Above the group's priority (10), its children reset to normal: the harness sees
         * a child placed when the placer has placed it. At a normal priority it shared
         * CPU 1 with the child, which once real-time ran the rest of its start-up before
         * the harness could look (2-3 ms for some execs and not others, so the medians
         * measured the child as much as the placer). */
        struct sched_param above = { .sched_priority = 20 };
        int status = 0;
        if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &above) < 0) {
                perror("SCHED_FIFO for the harness (real-time runtime for this cgroup)");
                status = 77;
        }
        /* Paired: blocks of BLOCK execs by each placer in turn, so that the machine's slow
         * minutes fall on all of them alike (rounds of 100 a side swung 0.8-1.8 times
         * against each other on this VM); which one goes first turns with each cycle. */
        enum { BLOCK = 10 };
        for (int done = 0, cycle = 0; status == 0 && done < n; done += BLOCK, cycle++)
                for (unsigned j = 0; j < count; j++) {
                        unsigned i = (j + (unsigned) cycle) % count;
                        if (count > 1)
                                only(sides, count, i);
                        for (int k = 0; k < BLOCK && done + k < n; k++)
                                measure(&sides[i], s, argv[1]);
                }
        for (unsigned i = 0; i < count; i++) {
                if (paired && i == 0) {
                        kill(sides[i].pid, SIGCONT); /* the daemon runs on */
                        continue;
                }
                if (sides[i].pid > 0) {
                        kill(sides[i].pid, SIGKILL);
                        waitpid(sides[i].pid, NULL, 0);
                }
        }
        if (status != 0)
                return status;
        if (!paired) {
                side_report(&sides[0], "median_us");
                return 0;
        }
        side_report(&sides[0], "median_us");
        side_report(&sides[1], "contract_median_us");
        side_report(&sides[2], "writes_median_us");
        return 0;
}
