/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
#include <sys/stat.h>

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/cpumask.h"
#include "kernel/root.h"

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
        pid_t ppid;      /* its parent (the reaper's pid once the parent ended) */
        int session;
        unsigned long flags;
        int processor;   /* the CPU it last ran on */
        int policy;      /* SCHED_OTHER, SCHED_FIFO... */
        int rt_priority;
        uint64_t start_time; /* clock ticks after boot: with the pid, who it is (a reused pid is another) */
} TaskStat;

/* One /proc/PID/stat line; -EBADMSG when it is not one. */
int task_parse_stat(const char *text, TaskStat *out);
/* "proc/PID/FILE", or "proc/TGID/task/TID/FILE" for another thread, built in the
 * caller's buffer without an allocation: the paths of the reads every exec makes. FILE
 * is one of the kernel's names (at most TASK_FILE_MAX bytes). */
#define TASK_FILE_MAX 24
typedef struct TaskPath {
        char rel[sizeof "proc//task//" + 2 * 10 + TASK_FILE_MAX];
} TaskPath;
const char *task_path(TaskPath *buf, pid_t pid, pid_t tid, const char *file);
/* tid 0: the process (pid) itself. */
int task_read_stat(const Root *root, pid_t pid, pid_t tid, TaskStat *out);
/* pid's stat, through a file kept open: returns it (>= 0, the caller closes it). The
 * kernel binds the file to that very process, so task_stat_reread() through it reads
 * that process or fails with -ESRCH once it has ended and been reaped; never one that
 * took its pid since. */
int task_stat_open(const Root *root, pid_t pid, TaskStat *out);
int task_stat_reread(int fd, TaskStat *out);
/* /proc/PID/schedstat ("run_ns wait_ns timeslices"): the time it ran on a CPU and how
 * many times it was put on one; -EBADMSG when it is not that. */
int task_parse_schedstat(const char *text, uint64_t *run_ns, uint64_t *slices);
int task_read_schedstat(const Root *root, pid_t pid, pid_t tid, uint64_t *run_ns, uint64_t *slices);
/* The start time (TaskStat.start_time) of a process or thread; with the pid it names
 * one process for its whole life: a pid the kernel gives again has another. */
int task_read_start_time(const Root *root, pid_t pid, pid_t tid, uint64_t *out);
/* Whether pid is still the process that started at start_time. */
bool task_is(const Root *root, pid_t pid, uint64_t start_time);
/* The processes under root's proc, in no order. */
GArray *task_list_pids(const Root *root);
/* The threads of a process (its pid included). */
GArray *task_list_threads(const Root *root, pid_t pid);
/* The process's name, made printable (text.h): a user chooses it. */
int task_read_comm(const Root *root, pid_t pid, char **out);
/* A thread's name (tid 0: the process's), made printable: the program chooses it. */
int task_read_thread_comm(const Root *root, pid_t pid, pid_t tid, char **out);
/* The executable's path, or NULL for a kernel thread or a process gone. */
char *task_read_exe(const Root *root, pid_t pid);
/* The file the process runs, whatever its name now (/proc/PID/exe followed): 0 or a
 * negative errno. */
int task_stat_exe(const Root *root, pid_t pid, struct stat *out);
/* The cgroup v2 path of a process ("/system.slice/foo.service"). */
int task_read_cgroup(const Root *root, pid_t pid, char **out);
/* Its path in a v1 hierarchy of controller ("cpuset"); -ENOENT when it has none. */
int task_read_cgroup_v1(const Root *root, const char *controller, pid_t pid, char **out);

/* What grows whenever a task runs: its run time in ns (task_parse_schedstat), or where
 * the kernel has no schedstat its context switches (status: voluntary_ctxt_switches +
 * nonvoluntary_ctxt_switches). -EBADMSG when the text holds neither. */
int task_parse_switches(const char *status, uint64_t *out);
/* Both read in the folder proc_fd (root_open_dir(root, "proc")) opened once by a caller
 * that reads many tasks: the stat line, and the progress (schedstat, else status). */
int task_read_stat_at(int proc_fd, pid_t tid, TaskStat *out);
int task_read_progress_at(int proc_fd, pid_t tid, uint64_t *out);

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
/* On a fake root the task's stat line (fields 40, 41), as for the affinity; policy may
 * carry SCHED_RESET_ON_FORK (not written to a fake root). */
int task_get_sched(const Root *root, pid_t tid, int *policy, int *priority);
int task_set_sched(const Root *root, pid_t tid, int policy, int priority);
/* SCHED_DEADLINE with runtime, deadline and period (ns) as sched_setattr(2) takes them,
 * and SCHED_FLAG_RESET_ON_FORK: a deadline task may not fork otherwise, and a child
 * should not inherit a boost. On a fake root the stat line says SCHED_DEADLINE (6), as
 * the kernel shows it. */
int task_set_deadline(const Root *root, pid_t tid, uint64_t runtime_ns, uint64_t deadline_ns, uint64_t period_ns);
/* "POLICY PRIORITY" as a saved original holds it: a policy of sched.h with a priority it
 * takes (1-99 real-time, 0 otherwise). */
bool task_sched_parse(const char *value, int *policy, int *priority);
const char *task_policy_name(int policy);
