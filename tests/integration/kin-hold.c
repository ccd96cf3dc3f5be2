/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kin-hold PID WHAT ARG HELD GO: holds process PID (its main thread, which runs
 * isolatord's loop) at the entry of one system call, so that a test can act in a window
 * that lasts microseconds in real life (a pid reused, a thread started). WHAT is:
 *   setsched EXE  the first sched_setscheduler/sched_setattr/sched_setparam on a task
 *                 that runs the program EXE (its /proc/TID/exe);
 *   listdir DIR   the first getdents64 on the directory DIR (its /proc/PID/fd link).
 * Prints "attached" once it traces PID; at the call it creates the file HELD and waits
 * until the file GO exists, then lets PID go on and exits 0. Exit status 1 when PID ends
 * or nothing matched within 60 s (PID is let go then too). Root only (ptrace). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static void on_alarm(int sig) {
        (void) sig;
        timed_out = 1;
}

static bool link_is(const char *link, const char *want) {
        char got[PATH_MAX];
        ssize_t n = readlink(link, got, sizeof got - 1);
        if (n < 0)
                return false;
        got[n] = '\0';
        return strcmp(got, want) == 0;
}

static bool matches(pid_t pid, const struct __ptrace_syscall_info *si, bool setsched, const char *arg) {
        char link[64];
        long nr = (long) si->entry.nr;
        if (setsched) {
                if (nr != SYS_sched_setscheduler && nr != SYS_sched_setattr && nr != SYS_sched_setparam)
                        return false;
                pid_t tid = (pid_t) si->entry.args[0];
                if (tid <= 0)
                        return false; /* its own threads, not what a test holds it at */
                snprintf(link, sizeof link, "/proc/%d/exe", (int) tid);
                return link_is(link, arg);
        }
        if (nr != SYS_getdents64)
                return false;
        snprintf(link, sizeof link, "/proc/%d/fd/%d", (int) pid, (int) si->entry.args[0]);
        return link_is(link, arg);
}

/* Stops a running tracee and detaches from it. */
static void let_go(pid_t pid, bool stopped) {
        int status;
        if (!stopped) {
                if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
                        return;
                while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
                        ;
        }
        (void) ptrace(PTRACE_DETACH, pid, 0, 0);
}

int main(int argc, char *argv[]) {
        if (argc != 6 || (strcmp(argv[2], "setsched") != 0 && strcmp(argv[2], "listdir") != 0)) {
                fprintf(stderr, "usage: kin-hold PID setsched|listdir EXE|DIR HELD GO\n");
                return 2;
        }
        pid_t pid = (pid_t) atoi(argv[1]);
        bool setsched = strcmp(argv[2], "setsched") == 0;
        const char *arg = argv[3], *held = argv[4], *go = argv[5];
        struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: waitpid returns */
        sigaction(SIGALRM, &sa, NULL);

        if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) < 0 || ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
                fprintf(stderr, "kin-hold: cannot trace %d: %s\n", (int) pid, strerror(errno));
                return 1;
        }
        printf("attached\n");
        fflush(stdout);
        alarm(60);
        int deliver = 0;
        for (;;) {
                int status;
                if (waitpid(pid, &status, __WALL) < 0) {
                        if (errno == EINTR && timed_out) {
                                fprintf(stderr, "kin-hold: no matching call of %d within 60 s\n", (int) pid);
                                let_go(pid, false);
                                return 1;
                        }
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (WIFEXITED(status) || WIFSIGNALED(status)) {
                        fprintf(stderr, "kin-hold: %d ended\n", (int) pid);
                        return 1;
                }
                deliver = 0;
                if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
                        struct __ptrace_syscall_info si;
                        if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si, &si) > 0 &&
                            si.op == PTRACE_SYSCALL_INFO_ENTRY && matches(pid, &si, setsched, arg)) {
                                int fd = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                                if (fd >= 0)
                                        close(fd);
                                struct stat st;
                                while (stat(go, &st) < 0 && !timed_out)
                                        usleep(1000);
                                let_go(pid, true);
                                return timed_out ? 1 : 0;
                        }
                } else if (status >> 16 == 0)
                        deliver = WSTOPSIG(status); /* a signal for it: passed on */
                if (timed_out) {
                        fprintf(stderr, "kin-hold: no matching call of %d within 60 s\n", (int) pid);
                        let_go(pid, true);
                        return 1;
                }
                if (ptrace(PTRACE_SYSCALL, pid, 0, deliver) < 0)
                        return 1;
        }
}
