/* SPDX-License-Identifier: GPL-2.0-or-later */
/* kin-hook MODE FILE...: what a user's program (a hook that a placed player runs, as the
 * user) does to keep the real-time it was born with. Each writes what the test needs to
 * FILE and then sleeps until killed.
 *   chain MS FILE     16 chains of threads, each thread starting the next and ending, for
 *                     MS ms; then the last of each chain stays. Writes "done" to FILE.
 *   spawn DIR         writes its pid to DIR/pid, waits until DIR/spawn exists, starts one
 *                     thread (born with what the starting thread has then) and writes
 *                     its tid to DIR/spawned.
 *   cloneparent FILE  at once clone(CLONE_PARENT): the child's parent is the hook's parent,
 *                     the placed player, in the fork event too. Writes the child's pid. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int stop;

static void *chain_link(void *arg) {
        pthread_t t;
        (void) arg;
        if (stop)
                for (;;)
                        pause();
        if (pthread_create(&t, NULL, chain_link, NULL) == 0)
                pthread_detach(t);
        return NULL;
}

static void write_file(const char *path, const char *text) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
                fprintf(stderr, "kin-hook: cannot write %s: %s\n", path, strerror(errno));
                exit(1);
        }
}

/* The thread spawn starts: says its tid, then sleeps. */
static void *spawned(void *dir) {
        char text[64], path[4096];
        snprintf(text, sizeof text, "%d\n", (int) gettid());
        snprintf(path, sizeof path, "%s/spawned", (const char *) dir);
        write_file(path, text);
        for (;;)
                pause();
        return NULL;
}

int main(int argc, char *argv[]) {
        char text[64], path[4096];

        if (argc == 3 && strcmp(argv[1], "cloneparent") == 0) {
                long child = syscall(SYS_clone, CLONE_PARENT, NULL, NULL, NULL, NULL);
                if (child == 0)
                        for (;;)
                                pause();
                if (child < 0) {
                        fprintf(stderr, "kin-hook: clone: %s\n", strerror(errno));
                        return 1;
                }
                snprintf(text, sizeof text, "%ld\n", child);
                write_file(argv[2], text);
        } else if (argc == 4 && strcmp(argv[1], "chain") == 0) {
                for (int i = 0; i < 16; i++) {
                        pthread_t t;
                        if (pthread_create(&t, NULL, chain_link, NULL) == 0)
                                pthread_detach(t);
                }
                usleep(atoi(argv[2]) * 1000);
                stop = 1;
                usleep(100000);
                write_file(argv[3], "done\n");
        } else if (argc == 3 && strcmp(argv[1], "spawn") == 0) {
                struct stat st;
                pthread_t t;
                snprintf(text, sizeof text, "%d\n", (int) getpid());
                snprintf(path, sizeof path, "%s/pid", argv[2]);
                write_file(path, text);
                snprintf(path, sizeof path, "%s/spawn", argv[2]);
                while (stat(path, &st) < 0)
                        usleep(1000);
                if (pthread_create(&t, NULL, spawned, argv[2]) != 0)
                        return 1;
        } else {
                fprintf(stderr, "usage: kin-hook chain MS FILE | spawn DIR | cloneparent FILE\n");
                return 2;
        }
        for (;;)
                pause();
}
