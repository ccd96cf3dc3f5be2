/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "task.h"
#include "text.h"
#include "trust.h"

static bool parse_pid(const char *s, pid_t *out) {
        char *end;
        long v;
        if (!g_ascii_isdigit(s[0]))
                return false;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v <= 0 || v > INT32_MAX)
                return false;
        *out = (pid_t) v;
        return true;
}

static char *task_rel(pid_t pid, pid_t tid, const char *file) {
        if (tid > 0 && tid != pid)
                return g_strdup_printf("proc/%d/task/%d/%s", (int) pid, (int) tid, file);
        return g_strdup_printf("proc/%d/%s", (int) pid, file);
}

int task_parse_stat(const char *data, TaskStat *out) {
        /* "PID (COMM) S ppid ...": the name may hold spaces and parentheses. */
        const char *open = strchr(data, '('), *close = strrchr(data, ')');
        if (!open || !close || close < open || close[1] != ' ')
                return -EBADMSG;
        memset(out, 0, sizeof *out);
        g_strlcpy(out->comm, open + 1, MIN((size_t) (close - open), sizeof out->comm));
        g_auto(GStrv) f = g_strsplit(close + 2, " ", -1);
        /* f[0] is field 3 (state); field N is f[N - 3]. */
        if (g_strv_length(f) < 39)
                return -EBADMSG;
        out->state = f[0][0];
        out->session = atoi(f[6 - 3]);
        out->flags = strtoul(f[9 - 3], NULL, 10);
        out->processor = atoi(f[39 - 3]);
        out->rt_priority = atoi(f[40 - 3]);
        out->policy = atoi(f[41 - 3]);
        return 0;
}

int task_read_stat(const Root *root, pid_t pid, pid_t tid, TaskStat *out) {
        g_autofree char *rel = task_rel(pid, tid, "stat"), *data = NULL;
        int r = root_read(root, rel, &data, NULL);
        return r < 0 ? r : task_parse_stat(data, out);
}

static GArray *list_numeric(const Root *root, const char *rel) {
        GArray *out = g_array_new(false, false, sizeof(pid_t));
        g_autofree char *path = root_path(root, rel);
        DIR *d = opendir(path);
        struct dirent *de;
        if (!d)
                return out;
        while ((de = readdir(d))) {
                pid_t pid;
                if (parse_pid(de->d_name, &pid))
                        g_array_append_val(out, pid);
        }
        closedir(d);
        return out;
}

GArray *task_list_pids(const Root *root) {
        return list_numeric(root, "proc");
}

GArray *task_list_threads(const Root *root, pid_t pid) {
        g_autofree char *rel = g_strdup_printf("proc/%d/task", (int) pid);
        GArray *out = list_numeric(root, rel);
        if (out->len == 0)
                g_array_append_val(out, pid);
        return out;
}

int task_read_comm(const Root *root, pid_t pid, char **out) {
        g_autofree char *rel = task_rel(pid, 0, "comm"), *raw = NULL;
        int r = root_read_line(root, rel, &raw);
        if (r < 0)
                return r;
        *out = text_printable(raw);
        return 0;
}

char *task_read_exe(const Root *root, pid_t pid) {
        g_autofree char *path = root_pathf(root, "proc/%d/exe", (int) pid);
        return g_file_read_link(path, NULL);
}

int task_read_cgroup(const Root *root, pid_t pid, char **out) {
        g_autofree char *rel = task_rel(pid, 0, "cgroup"), *data = NULL;
        int r = root_read(root, rel, &data, NULL);
        if (r < 0)
                return r;
        /* cgroup v2 is the "0::" line. */
        g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
        for (char **l = lines; *l; l++)
                if (g_str_has_prefix(*l, "0::")) {
                        *out = g_strdup(*l + 3);
                        return 0;
                }
        return -ENOENT;
}

int task_read_cgroup_v1(const Root *root, const char *controller, pid_t pid, char **out) {
        g_autofree char *rel = task_rel(pid, 0, "cgroup"), *data = NULL;
        int r = root_read(root, rel, &data, NULL);
        if (r < 0)
                return r;
        /* "ID:CONTROLLERS:PATH", the controllers comma-separated. */
        g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = g_strsplit(*l, ":", 3);
                if (g_strv_length(f) < 3 || !*f[1])
                        continue;
                g_auto(GStrv) controllers = g_strsplit(f[1], ",", -1);
                if (g_strv_contains((const char *const *) controllers, controller)) {
                        *out = g_strdup(f[2]);
                        return 0;
                }
        }
        return -ENOENT;
}

/* --- affinity --- */

static cpu_set_t *cpu_alloc(size_t *size) {
        *size = CPU_ALLOC_SIZE(CPUMASK_MAX);
        cpu_set_t *s = CPU_ALLOC(CPUMASK_MAX);
        CPU_ZERO_S(*size, s);
        return s;
}

/* A fake task's status file: its Cpus_allowed (mask) and Cpus_allowed_list lines. */
static int fake_status_affinity(const Root *root, pid_t tid, const CpuMask *set, CpuMask *get) {
        g_autofree char *rel = task_rel(tid, 0, "status"), *data = NULL;
        int r = root_read(root, rel, &data, NULL);
        if (r < 0)
                return r;
        g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
        bool found = false;
        for (char **l = lines; *l; l++) {
                if (g_str_has_prefix(*l, "Cpus_allowed_list:")) {
                        found = true;
                        if (get && cpumask_parse_list(g_strstrip(*l + strlen("Cpus_allowed_list:")), get, NULL) < 0)
                                return -EBADMSG;
                        if (set) {
                                g_autofree char *list = cpumask_format_list(set);
                                g_free(*l);
                                *l = g_strdup_printf("Cpus_allowed_list:\t%s", list);
                        }
                } else if (set && g_str_has_prefix(*l, "Cpus_allowed:")) {
                        /* As wide as the kernel wrote it: 8 hex digits a group. */
                        const char *mask = *l + strlen("Cpus_allowed:\t");
                        unsigned digits = 0;
                        for (const char *p = mask; *p; p++)
                                digits += g_ascii_isxdigit(*p) ? 1 : 0;
                        g_autofree char *text = cpumask_format_mask(set, digits * 4);
                        g_free(*l);
                        *l = g_strdup_printf("Cpus_allowed:\t%s", text);
                }
        }
        if (!found)
                return -ENOENT;
        if (!set)
                return 0;
        g_autofree char *joined = g_strjoinv("\n", lines);
        /* root_write adds the last newline back. */
        if (g_str_has_suffix(joined, "\n"))
                joined[strlen(joined) - 1] = '\0';
        return root_write(root, rel, joined);
}

int task_get_affinity(const Root *root, pid_t tid, CpuMask *out) {
        if (!root_is_host(root))
                return fake_status_affinity(root, tid, NULL, out);
        size_t size;
        cpu_set_t *s = cpu_alloc(&size);
        int r = sched_getaffinity(tid, size, s) < 0 ? negative_errno() : 0;
        if (r >= 0) {
                cpumask_zero(out);
                for (unsigned cpu = 0; cpu < CPUMASK_MAX; cpu++)
                        if (CPU_ISSET_S(cpu, size, s))
                                cpumask_add(out, cpu);
        }
        CPU_FREE(s);
        return r;
}

int task_set_affinity(const Root *root, pid_t tid, const CpuMask *cpus) {
        if (!root_is_host(root))
                return fake_status_affinity(root, tid, cpus, NULL);
        size_t size;
        cpu_set_t *s = cpu_alloc(&size);
        for (unsigned cpu = 0; cpu < CPUMASK_MAX; cpu++)
                if (cpumask_has(cpus, (int) cpu))
                        CPU_SET_S(cpu, size, s);
        int r = sched_setaffinity(tid, size, s) < 0 ? negative_errno() : 0;
        CPU_FREE(s);
        return r;
}

/* --- scheduling --- */

int task_get_sched(const Root *root, pid_t tid, int *policy, int *priority) {
        /* struct sched_attr of <linux/sched/types.h>, which clashes with <sched.h>. */
        struct {
                uint32_t size, sched_policy;
                uint64_t sched_flags;
                int32_t sched_nice;
                uint32_t sched_priority;
                uint64_t sched_runtime, sched_deadline, sched_period;
        } a = {};
        if (!root_is_host(root))
                return -EOPNOTSUPP;
        /* Policy and priority in one call (glibc 2.36 has no wrapper for it). */
        if (syscall(SYS_sched_getattr, tid, &a, sizeof a, 0) < 0)
                return negative_errno();
        *policy = (int) a.sched_policy;
        *priority = (int) a.sched_priority;
        return 0;
}

int task_set_sched(const Root *root, pid_t tid, int policy, int priority) {
        struct sched_param p = { .sched_priority = priority };
        if (!root_is_host(root))
                return -EOPNOTSUPP;
        return sched_setscheduler(tid, policy, &p) < 0 ? negative_errno() : 0;
}

const char *task_policy_name(int policy) {
        switch (policy) {
        case SCHED_OTHER: return "other";
        case SCHED_FIFO: return "fifo";
        case SCHED_RR: return "rr";
        case SCHED_BATCH: return "batch";
        case SCHED_IDLE: return "idle";
        default: return "unknown";
        }
}

GArray *task_find_kthreads(const Root *root, const char *prefix) {
        g_autoptr(GArray) pids = task_list_pids(root);
        GArray *out = g_array_new(false, false, sizeof(pid_t));
        for (unsigned i = 0; i < pids->len; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                TaskStat st;
                if (task_read_stat(root, pid, 0, &st) >= 0 && (st.flags & TASK_PF_KTHREAD) &&
                    g_str_has_prefix(st.comm, prefix))
                        g_array_append_val(out, pid);
        }
        return out;
}

GArray *task_table_read(const Root *root) {
        g_autoptr(GArray) pids = task_list_pids(root);
        GArray *out = g_array_sized_new(false, false, sizeof(Task), pids->len);
        for (unsigned i = 0; i < pids->len; i++) {
                Task t = { .pid = g_array_index(pids, pid_t, i) };
                if (task_read_stat(root, t.pid, 0, &t.stat) >= 0)
                        g_array_append_val(out, t);
        }
        return out;
}
