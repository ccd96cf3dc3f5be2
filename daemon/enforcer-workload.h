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
        CpuSet cpus;          /* what it was given (the group's CPUs this machine has) */
        int policy;           /* SCHED_*; -1 when the group sets none */
        int priority;
        uint64_t placed_usec; /* CLOCK_REALTIME */
} Workload;

/* A process executed (or renamed itself): placed when its name or executable matches a
 * group's Match=. Returns 1 when placed, 0 when not, a negative errno on failure. */
int workload_exec(const EnforcerContext *ctx, pid_t pid);
/* A thread tid appeared in process tgid: it gets the process's placement. */
void workload_thread(const EnforcerContext *ctx, pid_t tgid, pid_t tid);
/* A process ended: forgotten, with its saved originals. */
void workload_exit(const EnforcerContext *ctx, pid_t pid);
/* The placed processes (Workload*, owned by the enforcer; valid until the next call). */
GPtrArray *workload_list(const EnforcerContext *ctx);
