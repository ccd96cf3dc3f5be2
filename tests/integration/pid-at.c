/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pid-at PID UID PROGRAM [ARG...]: runs PROGRAM as UID (and its group) with the pid PID,
 * through clone3's set_tid (root only), and prints nothing. It stands in for a user who
 * cycles through pid_max until an ended process's pid comes round again, which a test
 * cannot wait for. Exit status: 0 when the process was started, 1 when the pid is taken
 * or clone3 refuses. */
#include <errno.h>
#include <grp.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        if (argc < 4) {
                fprintf(stderr, "usage: pid-at PID UID PROGRAM [ARG...]\n");
                return 2;
        }
        pid_t want = (pid_t) atoi(argv[1]);
        uid_t uid = (uid_t) atoi(argv[2]);
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.exit_signal = SIGCHLD;
        args.set_tid = (uint64_t) (uintptr_t) &want;
        args.set_tid_size = 1;
        long r = syscall(SYS_clone3, &args, sizeof args);
        if (r < 0) {
                fprintf(stderr, "pid-at: clone3 with pid %d: %s\n", (int) want, strerror(errno));
                return 1;
        }
        if (r > 0)
                return 0;
        if (setgroups(0, NULL) < 0 || setgid((gid_t) uid) < 0 || setuid(uid) < 0) {
                fprintf(stderr, "pid-at: cannot become uid %u: %s\n", (unsigned) uid, strerror(errno));
                _exit(1);
        }
        execv(argv[3], argv + 3);
        fprintf(stderr, "pid-at: cannot run %s: %s\n", argv[3], strerror(errno));
        _exit(1);
}
