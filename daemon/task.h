/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cpumask.h"
#include "root.h"

/* Processes and threads (tasks) as /proc shows them under a root. On the host root the
 * affinity and scheduling calls are the system calls; on a fake root a task is its
 * proc/PID/status and proc/PID/stat files, and setting a fake task's affinity rewrites
 * its Cpus_allowed lines: the one place where a fake root imitates the kernel rather
 * than mirrors it, so that kernel-thread pinning runs on generated machines. */

#define TASK_PF_KTHREAD 0x00200000u        /* a kernel thread */
#define TASK_PF_NO_SETAFFINITY 0x04000000u /* bound by the kernel (per-CPU threads, workers) */

typedef struct TaskStat {
        char comm[64];
        char state;
        int session;
        unsigned long flags;
        int processor;   /* the CPU it last ran on */
        int policy;      /* SCHED_OTHER, SCHED_FIFO... */
        int rt_priority;
} TaskStat;

/* One /proc/PID/stat line; -EBADMSG when it is not one. */
int task_parse_stat(const char *text, TaskStat *out);
/* tid 0: the process (pid) itself. */
int task_read_stat(const Root *root, pid_t pid, pid_t tid, TaskStat *out);
/* The processes under root's proc, in no order. */
GArray *task_list_pids(const Root *root);
/* The threads of a process (its pid included). */
GArray *task_list_threads(const Root *root, pid_t pid);
/* The process's name, made printable (text.h): a user chooses it. */
int task_read_comm(const Root *root, pid_t pid, char **out);
/* The executable's path, or NULL for a kernel thread or a process gone. */
char *task_read_exe(const Root *root, pid_t pid);
/* The cgroup v2 path of a process ("/system.slice/foo.service"). */
int task_read_cgroup(const Root *root, pid_t pid, char **out);
/* Its path in a v1 hierarchy of controller ("cpuset"); -ENOENT when it has none. */
int task_read_cgroup_v1(const Root *root, const char *controller, pid_t pid, char **out);

/* A process and its stat, as a table of them holds it. */
typedef struct Task {
        pid_t pid;
        TaskStat stat;
} Task;
/* Every process under root's proc with its stat, read once (Task): what the enforcers
 * of one pass share instead of each reading /proc again. */
GArray *task_table_read(const Root *root);

/* Kernel threads whose name starts with prefix ("irq/24-"): PF_KTHREAD, which no process
 * can give itself, not the name, which any process can. */
GArray *task_find_kthreads(const Root *root, const char *prefix);

int task_get_affinity(const Root *root, pid_t tid, CpuMask *out);
int task_set_affinity(const Root *root, pid_t tid, const CpuMask *cpus);
/* Host root only (-EOPNOTSUPP on a fake one). */
int task_get_sched(const Root *root, pid_t tid, int *policy, int *priority);
int task_set_sched(const Root *root, pid_t tid, int policy, int priority);
const char *task_policy_name(int policy);
