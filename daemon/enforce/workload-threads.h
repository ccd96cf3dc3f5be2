/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "enforce/enforcer-workload.h"

/* The threads of a placed process: what each is given (the CPUs and scheduling of the
 * first [Thread] rule of its group that matches its name, or its group's), what each had
 * before isolatord's first write to it, and putting that back. A thread's name (comm) is
 * the program's to choose: it selects among the rules root wrote for the group of a
 * process already placed by the trust rule, and earns nothing by itself. */

/* What one thread is given. */
typedef struct ThreadTarget {
        const ThreadRule *rule;   /* NULL: the group's defaults */
        CpuMask cpus;             /* empty: its CPUs are left alone (none of the group's exist here) */
        int policy;               /* SCHED_*; -1: its scheduling is left as the program set it */
        int priority;
} ThreadTarget;

/* One thread of a placed process as it is now, and what it is given. */
typedef struct ThreadLook {
        pid_t tid;
        char *comm;               /* printable; NULL when its group has no rules (not read) */
        ThreadTarget target;
        bool has_cpus, has_sched; /* read */
        CpuMask cpus;
        int policy, priority;
} ThreadLook;

/* A thread's CPUs and scheduling as the caller has just read them. */
typedef struct ThreadNow {
        bool has_cpus;            /* false: its CPUs are read again (they may have changed) */
        CpuMask cpus;
        int policy, priority;
} ThreadNow;

void thread_look_clear(ThreadLook *l);
/* online: this machine's online CPUs (empty: unknown). now: what the caller read of
 * the thread (NULL: all of it read here). false when the thread is gone. */
bool thread_look(const EnforcerContext *ctx, const Workload *w, pid_t tid, const CpuMask *online,
                 const ThreadNow *now, ThreadLook *out);
/* Whether the thread's CPUs or scheduling differ from what it is given. */
bool thread_off_target(const ThreadLook *l);
/* What the thread had, to be saved before the writes thread_set() will make (whats and
 * values: char*, appended): nothing when a saved original covers it already, or when
 * it is not w's main thread and w is not being placed for the first time
 * (w->save_threads). */
void thread_originals_add(const EnforcerContext *ctx, const Workload *w, const ThreadLook *l, GPtrArray *whats,
                          GPtrArray *values);
/* Gives the thread its target; true in changed when something had to change. */
int thread_set(const EnforcerContext *ctx, const ThreadLook *l, bool *changed);

/* "thread-affinity" and "thread-sched": the kinds of a thread's own saved originals,
 * "KIND TID START COMM" (COMM: its process's saved name). */
bool workload_thread_kind(const char *kind);
/* Puts one thread's saved original back (the caller checked it is the same thread). */
int workload_thread_restore(const EnforcerContext *ctx, const char *kind, pid_t tid, const char *value);
/* The threads (tid -> start time, a guint64*) that have their own saved original of
 * thread_kind: a process's saved original leaves them to it. */
GHashTable *workload_threads_with_own(const EnforcerContext *ctx, const char *thread_kind);

/* One thread as GetWorkloads lists it. */
typedef struct WorkloadThread {
        pid_t tid;
        char *comm;
        char *rule;               /* the rule its name selects; NULL: the group's defaults */
        CpuMask cpus;             /* what it has now */
        int policy, priority;
} WorkloadThread;
void workload_thread_free(WorkloadThread *t);
/* The threads of w as they are now (WorkloadThread*). */
GPtrArray *workload_threads_report(const EnforcerContext *ctx, const Workload *w, const CpuMask *online);
