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

/* rtcqs "rtprio" and the memlock limit, for a placed process rather than for the caller:
 * a player that raises its own threads' priority, or locks its buffers, needs
 * RLIMIT_RTPRIO up to its group's priority (with fifo or rr) and RLIMIT_MEMLOCK
 * unlimited; under systemd its unit's LimitRTPRIO= and LimitMEMLOCK= are these. limits
 * is its /proc/PID/limits; advice findings ("rlimit") are appended to out. isolatord sets
 * the process's scheduling itself as root, hence advice. */
void workload_limits_advice(const Workload *w, const char *limits, GPtrArray *out);

