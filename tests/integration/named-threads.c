/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The thread-rules test's own player: threads that name themselves, as players do
 * (pthread_setname_np), one more on SIGUSR1, and a rename on SIGUSR2.
 *
 *   named-threads [--own] [--own-late]
 *
 * Starts nt-audio, nt-ctl and nt-misc, and prints "NAME TID" for each once it has named
 * itself, then "ready". With --own each then sets its own scheduling, as a player that
 * schedules its own threads does: nt-audio SCHED_FIFO 7, nt-ctl SCHED_RR 3, nt-misc
 * pins itself to CPU 0; with --own-late nt-late (started on SIGUSR1) SCHED_FIFO 5. SIGUSR2 renames nt-ctl to
 * nt-audio2 (from the main thread, through /proc/self/task/TID/comm, as
 * pthread_setname_np does for another thread) and prints "renamed TID". SIGTERM ends it.
 * The main thread keeps the name of the file executed. */
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct Named {
        const char *name;
        int policy;      /* with --own; -1: its scheduling is left as it is */
        int priority;
        int cpu;         /* with --own, pinned to this CPU; -1: left as it is */
        bool own;        /* sets them */
        pthread_t thread;
        pid_t tid;
} Named;

static sem_t named;
static pthread_mutex_t out = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *what, pid_t tid) {
        pthread_mutex_lock(&out);
        printf("%s %d\n", what, (int) tid);
        fflush(stdout);
        pthread_mutex_unlock(&out);
}

static void die(const char *what, int err) {
        fprintf(stderr, "named-threads: %s: %s\n", what, strerror(err));
        exit(1);
}

static void *run(void *arg) {
        Named *n = arg;
        int r = pthread_setname_np(pthread_self(), n->name);
        if (r)
                die("pthread_setname_np", r);
        if (n->own && n->policy >= 0) {
                struct sched_param p = { .sched_priority = n->priority };
                if ((r = pthread_setschedparam(pthread_self(), n->policy, &p)))
                        die("pthread_setschedparam", r);
        }
        if (n->own && n->cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(n->cpu, &set);
                if ((r = pthread_setaffinity_np(pthread_self(), sizeof set, &set)))
                        die("pthread_setaffinity_np", r);
        }
        n->tid = (pid_t) syscall(SYS_gettid);
        say(n->name, n->tid);
        sem_post(&named);
        for (;;)
                pause();
        return NULL;
}

static void start(Named *n) {
        int r = pthread_create(&n->thread, NULL, run, n);
        if (r)
                die("pthread_create", r);
        sem_wait(&named);
}

int main(int argc, char **argv) {
        static Named threads[] = {
                { "nt-audio", SCHED_FIFO, 7, -1, false, 0, 0 },
                { "nt-ctl", SCHED_RR, 3, -1, false, 0, 0 },
                { "nt-misc", -1, 0, 0, false, 0, 0 },
        };
        static Named late = { "nt-late", SCHED_FIFO, 5, -1, false, 0, 0 };
        sigset_t set;
        int sig;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--own") == 0)
                        for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++)
                                threads[t].own = true;
                else if (strcmp(argv[i], "--own-late") == 0)
                        late.own = true;
                else {
                        fprintf(stderr, "usage: named-threads [--own] [--own-late]\n");
                        return 2;
                }
        }
        sem_init(&named, 0, 0);
        /* Every thread inherits the mask: the signals come to sigwait() below. */
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++)
                start(&threads[i]);
        say("ready", getpid());
        while (sigwait(&set, &sig) == 0) {
                if (sig == SIGTERM)
                        return 0;
                if (sig == SIGUSR1 && !late.thread)
                        start(&late);
                if (sig == SIGUSR2) {
                        int r = pthread_setname_np(threads[1].thread, "nt-audio2");
                        if (r)
                                die("pthread_setname_np (rename)", r);
                        say("renamed", threads[1].tid);
                }
        }
        return 1;
}
