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

