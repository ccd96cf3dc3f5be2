/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "enforce/enforcer.h"

/* A process placed in a group: moved into its slice, its threads on the group's CPUs
 * with the group's scheduling. A process is its pid and its start time together: a pid
 * the kernel hands out again is a stranger, and gets nothing of this. */
typedef struct Workload {
        char *group;
        pid_t pid;
        uint64_t start_time;   /* TaskStat.start_time */
        char *comm;
        CpuMask cpus;          /* what it was given (the group's CPUs this machine has) */
        int policy;           /* SCHED_*; -1 when the group sets none */
        int priority;
        uint64_t placed_usec; /* CLOCK_REALTIME */
        bool moving;          /* systemd's job moving it into the slice has not ended yet */
        int64_t moving_since; /* CLOCK_MONOTONIC */
        bool by_unit;         /* placed for its Unit=, not for its executable */
        dev_t exe_dev;        /* the program it runs (what its children must run to be kin) */
        ino_t exe_ino;
        bool save_threads;    /* a first placement: its threads' own CPUs and scheduling are
                               * saved before isolatord's first write (workload-threads.c) */
        GPtrArray *threads;   /* WorkloadThread* (workload-threads.h): in a report only, else NULL */
} Workload;

/* The placed processes (Workload*, copies, each with its threads), for GetWorkloads. */
GPtrArray *workload_report(const EnforcerContext *ctx);
void workload_free(Workload *w);


