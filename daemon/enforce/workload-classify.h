/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "enforce/enforcer.h"

/* The trust rule (doc/security.md): which group a process belongs to, and whether it
 * may be placed there. A process belongs to a group when it runs in one of the group's
 * Unit= (a unit of the system manager, which root configures), or when the executable
 * the kernel runs for it matches Match= and only root could have put it there; and,
 * with User=, when it runs as one of those users. A name alone (comm,
 * prctl(PR_SET_NAME), a symlink, a user's copy, a user's own unit) is never enough: it
 * is a finding. */

/* What classifying remembers between processes: the folders of executables found
 * trusted (trust.h) and what the system manager said of the Unit= units. */
typedef struct Classifier Classifier;
Classifier *classifier_new(void);
void classifier_free(Classifier *cl);
/* A pass looks again: a mount on a kept folder is not reported, and units may have been
 * restarted elsewhere. */
void classifier_forget(Classifier *cl);

/* What a process is to the groups: one to place it in, or (refused) why not. */
typedef struct Verdict {
        const GroupConfig *group;  /* NULL: it concerns no group */
        bool place;
        bool by_unit;              /* it runs in one of the group's Unit= */
        char *why;                 /* when not placed: what a person should know */
        char *exe;
        bool has_exe_id;           /* the file it runs, as the trust rule found it */
        dev_t exe_dev;
        ino_t exe_ino;
        uid_t uid;
} Verdict;
void verdict_clear(Verdict *v);

/* What the trust rule says of process pid (comm: its name, path: its executable or
 * NULL). */
void workload_classify(const EnforcerContext *ctx, Classifier *cl, pid_t pid, const char *comm, const char *path,
                       Verdict *v);
/* Whether any group names a Match= or a Unit= (without, no exec concerns a group). */
bool workload_any_match(const Config *c);
/* Whether path is named by some group's Match=. */
bool workload_any_exe_match(const Config *c, const char *path);
/* Whether a process's cgroup lies in a unit's control group as the system manager
 * reports it ("/system.slice/x.service" holds "/system.slice/x.service/sub"). */
bool workload_cgroup_within(const char *cgroup, const char *unit_cgroup);

/* rtcqs "rtprio" and the memlock limit, for a placed process (group's policy and
 * priority) rather than for the caller: a player that raises its own threads' priority,
 * or locks its buffers, needs RLIMIT_RTPRIO up to its group's priority (with fifo or rr)
 * and RLIMIT_MEMLOCK unlimited; under systemd its unit's LimitRTPRIO= and LimitMEMLOCK=
 * are these. limits is its /proc/PID/limits; advice findings ("rlimit") on object are
 * appended to out. isolatord sets the process's scheduling itself as root, hence advice. */
void workload_limits_advice(const char *object, int policy, int priority, const char *limits, GPtrArray *out);
