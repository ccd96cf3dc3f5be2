/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "enforcer.h"

/* A process placed in a group: moved into its slice, its threads on the group's CPUs
 * with the group's scheduling. */
typedef struct Workload {
        char *group;
        pid_t pid;
        char *comm;
        CpuMask cpus;          /* what it was given (the group's CPUs this machine has) */
        int policy;           /* SCHED_*; -1 when the group sets none */
        int priority;
        uint64_t placed_usec; /* CLOCK_REALTIME */
} Workload;

/* A process executed a program: placed when it belongs to a group by the trust rule
 * (its trusted executable matches Match=, or it runs in a Unit=; and User=), refused as
 * an untrusted-workload finding when it only looks like it. A placed process that
 * executed something else gets its originals back; a child of one loses real-time
 * scheduling. A rename (prctl) is no exec and never comes here. Returns 1 when placed,
 * 0 when not, a negative errno on failure. */
int workload_exec(const EnforcerContext *ctx, pid_t pid);
/* A placed process (or a child of one) forked a new process pid. */
void workload_child(const EnforcerContext *ctx, pid_t parent, pid_t pid);
/* A thread tid appeared in process tgid: it gets the process's placement. */
void workload_thread(const EnforcerContext *ctx, pid_t tgid, pid_t tid);
/* A process ended: forgotten, with its saved originals. */
void workload_exit(const EnforcerContext *ctx, pid_t pid);
/* The placed processes (Workload*, owned by the enforcer; valid until the next call). */
GPtrArray *workload_list(const EnforcerContext *ctx);
