/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/task.h"
#include "base/text.h"
#include "kernel/trust.h"

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

static char *put_text(char *at, const char *text, size_t len) {
        memcpy(at, text, len);
        return at + len;
}

static char *put_number(char *at, unsigned n) {
        char digits[10];
        size_t len = 0;
        do
                digits[len++] = (char) ('0' + n % 10);
        while ((n /= 10));
        while (len)
                *at++ = digits[--len];
        return at;
}

const char *task_path(TaskPath *buf, pid_t pid, pid_t tid, const char *file) {
        size_t file_len = strlen(file);
        char *at = put_number(put_text(buf->rel, "proc/", 5), (unsigned) pid);

        g_assert(file_len <= TASK_FILE_MAX);
        if (tid > 0 && tid != pid)
                at = put_number(put_text(at, "/task/", 6), (unsigned) tid);
        *at++ = '/';
        *put_text(at, file, file_len) = '\0';
        return buf->rel;
}

/* A decimal field at p (a '-' first for the signed ones), up to the next space, as the
 * kernel writes it: no '+', no leading blanks, and a number past 64 bits wraps (strtol
 * saturated; no kernel field comes near). */
static long long stat_number(const char *p) {
        bool negative = *p == '-';
        unsigned long long n = 0;
        for (p += negative; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (unsigned) (*p - '0');
        return (long long) (negative ? 0ULL - n : n);
}

int task_parse_stat(const char *data, TaskStat *out) {
        /* "PID (COMM) S ppid ...": the name may hold spaces and parentheses. Fields are
         * read in place, in one pass over the line that stops at the last one wanted:
         * every exec reads it twice, and every pass every process's. */
        const char *open = strchr(data, '('), *close = strrchr(data, ')');
        if (!open || !close || close < open || close[1] != ' ')
                return -EBADMSG;
        memset(out, 0, sizeof *out);
        g_strlcpy(out->comm, open + 1, MIN((size_t) (close - open), sizeof out->comm));
        const char *p = close + 2;
        for (int field = 3; field <= 41; field++) {
                if (*p == ' ' || *p == '\n' || *p == '\0')
                        return -EBADMSG; /* an empty field, or fewer than 41 */
                switch (field) {
                case 3: out->state = *p; break;
                case 4: out->ppid = (pid_t) stat_number(p); break;
                case 6: out->session = (int) stat_number(p); break;
                case 9: out->flags = (unsigned long) stat_number(p); break;
                case 22: out->start_time = (uint64_t) stat_number(p); break;
                case 39: out->processor = (int) stat_number(p); break;
                case 40: out->rt_priority = (int) stat_number(p); break;
                case 41: out->policy = (int) stat_number(p); break;
                default: break;
                }
                while (*p && *p != ' ' && *p != '\n')
                        p++;
                if (*p == ' ')
                        p++;
        }
        return 0;
}

int task_read_stat_at(int proc_fd, pid_t tid, TaskStat *out) {
        char line[1024], name[32];
        g_snprintf(name, sizeof name, "%d/stat", (int) tid);
        ssize_t n = root_read_small_at(proc_fd, name, line, sizeof line);
        return n < 0 ? (int) n : task_parse_stat(line, out);
}

/* A whole decimal number at p, where end must follow; false when there is none. */
static bool parse_u64(const char *p, char **end, uint64_t *out) {
        if (!g_ascii_isdigit(*p))
                return false;
        errno = 0;
        *out = g_ascii_strtoull(p, end, 10);
        return errno == 0;
}

int task_parse_switches(const char *status, uint64_t *out) {
        static const char *const keys[] = { "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:" };
        uint64_t sum = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                /* At a line's start: "nonvoluntary_..." holds "voluntary_..." too. */
                const char *at = g_str_has_prefix(status, keys[i]) ? status : NULL;
                g_autofree char *key = g_strconcat("\n", keys[i], NULL);
                uint64_t n;
                char *end;
                if (!at && (at = strstr(status, key)))
                        at++;
                if (!at || !parse_u64(at + strlen(keys[i]) + strspn(at + strlen(keys[i]), " \t"), &end, &n))
                        return -EBADMSG;
                sum += n;
        }
        *out = sum;
        return 0;
}

int task_read_progress_at(int proc_fd, pid_t tid, uint64_t *out) {
        char text[4096], name[32];
        g_snprintf(name, sizeof name, "%d/schedstat", (int) tid);
        ssize_t n = root_read_small_at(proc_fd, name, text, sizeof text);
        uint64_t slices;
        if (n >= 0)
                return task_parse_schedstat(text, out, &slices);
        if (n != -ENOENT)
                return (int) n;
        /* A kernel without CONFIG_SCHED_INFO. */
        g_snprintf(name, sizeof name, "%d/status", (int) tid);
        n = root_read_small_at(proc_fd, name, text, sizeof text);
        return n < 0 ? (int) n : task_parse_switches(text, out);
}

int task_read_stat(const Root *root, pid_t pid, pid_t tid, TaskStat *out) {
        TaskPath p;
        g_autofree char *data = NULL;
        int r = root_read(root, task_path(&p, pid, tid, "stat"), &data, NULL);
        return r < 0 ? r : task_parse_stat(data, out);
}

int task_stat_reread(int fd, TaskStat *out) {
        char line[1024];
        ssize_t n;
        do
                n = pread(fd, line, sizeof line - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -ESRCH;
        line[n] = '\0';
        return task_parse_stat(line, out);
}

int task_stat_open(const Root *root, pid_t pid, TaskStat *out) {
        TaskPath p;
        int fd = root_open_read(root, task_path(&p, pid, 0, "stat"), 0);
        if (fd < 0)
                return fd;
        int r = task_stat_reread(fd, out);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

int task_parse_schedstat(const char *text, uint64_t *run_ns, uint64_t *slices) {
        /* "RUN_NS WAIT_NS TIMESLICES", each a whole decimal number */
        char *end;
        uint64_t run, wait, n;
        if (!parse_u64(text, &end, &run) || *end != ' ' || !parse_u64(end + 1, &end, &wait) || *end != ' ' ||
            !parse_u64(end + 1, &end, &n))
                return -EBADMSG;
        *run_ns = run;
        *slices = n;
        return 0;
}

int task_read_schedstat(const Root *root, pid_t pid, pid_t tid, uint64_t *run_ns, uint64_t *slices) {
        TaskPath p;
        g_autofree char *data = NULL;
        int r = root_read(root, task_path(&p, pid, tid, "schedstat"), &data, NULL);
        return r < 0 ? r : task_parse_schedstat(data, run_ns, slices);
}

int task_read_start_time(const Root *root, pid_t pid, pid_t tid, uint64_t *out) {
        TaskStat st;
        int r = task_read_stat(root, pid, tid, &st);
        if (r >= 0)
                *out = st.start_time;
        return r;
}

bool task_is(const Root *root, pid_t pid, uint64_t start_time) {
        uint64_t now;
        return task_read_start_time(root, pid, 0, &now) >= 0 && now == start_time;
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
        TaskPath p;
        GArray *out = list_numeric(root, task_path(&p, pid, 0, "task"));
        if (out->len == 0)
                g_array_append_val(out, pid);
        return out;
}

int task_read_comm(const Root *root, pid_t pid, char **out) {
        return task_read_thread_comm(root, pid, 0, out);
}

int task_read_thread_comm(const Root *root, pid_t pid, pid_t tid, char **out) {
        TaskPath p;
        g_autofree char *raw = NULL;
        int r = root_read_line(root, task_path(&p, pid, tid, "comm"), &raw);
        if (r < 0)
                return r;
        *out = text_printable(raw);
        return 0;
}

/* Read into the stack: the first read of every exec. A link's target is shorter than
 * PATH_MAX (the kernel's and symlink(2)'s bound). */
char *task_read_exe(const Root *root, pid_t pid) {
        TaskPath p;
        char target[PATH_MAX];
        ssize_t n = root_readlink(root, task_path(&p, pid, 0, "exe"), target, sizeof target);
        return n < 0 ? NULL : g_strndup(target, (size_t) n); /* gone, or a kernel thread */
}

int task_stat_exe(const Root *root, pid_t pid, struct stat *out) {
        TaskPath p;
        return root_stat(root, task_path(&p, pid, 0, "exe"), out);
}

int task_read_cgroup(const Root *root, pid_t pid, char **out) {
        TaskPath p;
        const char *rel = task_path(&p, pid, 0, "cgroup");
        char small[4096];
        g_autofree char *big = NULL;
        const char *data = small;
        ssize_t n = root_read_small(root, rel, small, sizeof small);

        if (n == -EFBIG) {
                /* Many v1 hierarchies with long paths. */
                int r = root_read(root, rel, &big, NULL);
                if (r < 0)
                        return r;
                data = big;
        } else if (n < 0)
                return (int) n;
        /* cgroup v2 is the "0::" line. */
        const char *line = g_str_has_prefix(data, "0::") ? data : strstr(data, "\n0::");
        if (!line)
                return -ENOENT;
        line += line == data ? 3 : 4;
        *out = g_strndup(line, strcspn(line, "\n"));
        return 0;
}

int task_read_cgroup_v1(const Root *root, const char *controller, pid_t pid, char **out) {
        TaskPath p;
        g_autofree char *data = NULL;
        int r = root_read(root, task_path(&p, pid, 0, "cgroup"), &data, NULL);
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

/* An affinity as the kernel takes and gives it: an array of longs, CPU n at bit
 * n % LONG_BIT of long n / LONG_BIT, as many as a CpuMask holds. Converted a set bit at
 * a time: a loop over every one of the 8192 possible CPUs was most of the user-space
 * time of a placement (two per player). */
#define LONG_BITS (8 * sizeof(unsigned long))
#define AFFINITY_LONGS (CPUMASK_MAX / LONG_BITS)
G_STATIC_ASSERT(CPUMASK_MAX % LONG_BITS == 0);

static void mask_from_longs(const unsigned long *longs, CpuMask *out) {
        cpumask_zero(out);
        for (size_t i = 0; i < AFFINITY_LONGS; i++)
                for (unsigned long m = longs[i]; m; m &= m - 1)
                        cpumask_add(out, (unsigned) (i * LONG_BITS) + (unsigned) __builtin_ctzl(m));
}

static void mask_to_longs(const CpuMask *cpus, unsigned long *longs) {
        memset(longs, 0, AFFINITY_LONGS * sizeof *longs);
        for (int cpu = cpumask_first(cpus); cpu >= 0; cpu = cpumask_next(cpus, cpu))
                longs[(unsigned) cpu / LONG_BITS] |= 1UL << ((unsigned) cpu % LONG_BITS);
}

/* A fake task's status file: its Cpus_allowed (mask) and Cpus_allowed_list lines. */
static int fake_status_affinity(const Root *root, pid_t tid, const CpuMask *set, CpuMask *get) {
        TaskPath path;
        const char *rel = task_path(&path, tid, 0, "status");
        g_autofree char *data = NULL;
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
        unsigned long longs[AFFINITY_LONGS] = { 0 };
        if (sched_getaffinity(tid, sizeof longs, (cpu_set_t *) longs) < 0)
                return negative_errno();
        mask_from_longs(longs, out);
        return 0;
}

int task_set_affinity(const Root *root, pid_t tid, const CpuMask *cpus) {
        if (!root_is_host(root))
                return fake_status_affinity(root, tid, cpus, NULL);
        unsigned long longs[AFFINITY_LONGS];
        mask_to_longs(cpus, longs);
        return sched_setaffinity(tid, sizeof longs, (const cpu_set_t *) longs) < 0 ? negative_errno() : 0;
}

/* --- scheduling --- */

/* A fake task's stat line with its policy (field 41) and priority (field 40) set, as the
 * kernel would show them. */
static int fake_stat_sched(const Root *root, pid_t tid, int policy, int priority) {
        TaskPath p;
        const char *rel = task_path(&p, tid, 0, "stat");
        g_autofree char *data = NULL;
        int r = root_read(root, rel, &data, NULL);
        if (r < 0)
                return r;
        char *close = strrchr(data, ')');
        if (!close || close[1] != ' ')
                return -EBADMSG;
        g_auto(GStrv) f = g_strsplit(g_strchomp(close + 2), " ", -1);
        if (g_strv_length(f) < 39)
                return -EBADMSG;
        g_free(f[40 - 3]);
        f[40 - 3] = g_strdup_printf("%d", priority);
        g_free(f[41 - 3]);
        f[41 - 3] = g_strdup_printf("%d", policy);
        g_autofree char *fields = g_strjoinv(" ", f);
        g_autofree char *head = g_strndup(data, (gsize) (close + 1 - data));
        g_autofree char *line = g_strdup_printf("%s %s", head, fields);
        return root_write(root, rel, line);
}

/* struct sched_attr of <linux/sched/types.h>, which clashes with <sched.h>. */
typedef struct SchedAttr {
        uint32_t size, sched_policy;
        uint64_t sched_flags;
        int32_t sched_nice;
        uint32_t sched_priority;
        uint64_t sched_runtime, sched_deadline, sched_period;
} SchedAttr;

int task_get_sched(const Root *root, pid_t tid, int *policy, int *priority) {
        SchedAttr a = {};
        if (!root_is_host(root)) {
                TaskStat st;
                int r = task_read_stat(root, tid, 0, &st);
                if (r < 0)
                        return r;
                *policy = st.policy;
                *priority = st.rt_priority;
                return 0;
        }
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
                return fake_stat_sched(root, tid, policy & ~SCHED_RESET_ON_FORK, priority);
        return sched_setscheduler(tid, policy, &p) < 0 ? negative_errno() : 0;
}

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#define SCHED_FLAG_RESET_ON_FORK 0x01

int task_set_deadline(const Root *root, pid_t tid, uint64_t runtime_ns, uint64_t deadline_ns, uint64_t period_ns) {
        SchedAttr a = {
                .size = sizeof a,
                .sched_policy = SCHED_DEADLINE,
                .sched_flags = SCHED_FLAG_RESET_ON_FORK,
                .sched_runtime = runtime_ns,
                .sched_deadline = deadline_ns,
                .sched_period = period_ns,
        };
        if (!root_is_host(root))
                return fake_stat_sched(root, tid, SCHED_DEADLINE, 0);
        /* The nice value of a fair task is kept by the kernel while it runs as a deadline
         * one (static_prio is left alone), so sched_setscheduler() gives it back. */
        return syscall(SYS_sched_setattr, tid, &a, 0) < 0 ? negative_errno() : 0;
}

bool task_sched_parse(const char *value, int *policy, int *priority) {
        return sscanf(value, "%d %d", policy, priority) == 2 && *priority >= 0 && *priority <= 99 &&
               (*policy == SCHED_OTHER || *policy == SCHED_FIFO || *policy == SCHED_RR || *policy == SCHED_BATCH ||
                *policy == SCHED_IDLE) &&
               ((*policy == SCHED_FIFO || *policy == SCHED_RR) == (*priority > 0));
}

const char *task_policy_name(int policy) {
        switch (policy) {
        case SCHED_OTHER: return "other";
        case SCHED_FIFO: return "fifo";
        case SCHED_RR: return "rr";
        case SCHED_BATCH: return "batch";
        case SCHED_IDLE: return "idle";
        case SCHED_DEADLINE: return "deadline";
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
        /* Every pass reads every process's stat: relative to proc/, opened once. */
        _cleanup_close_ int proc = root_open_dir(root, "proc");
        char line[1024], name[32];
        for (unsigned i = 0; i < pids->len; i++) {
                Task t = { .pid = g_array_index(pids, pid_t, i) };
                g_snprintf(name, sizeof name, "%d/stat", (int) t.pid);
                ssize_t n = proc >= 0 ? root_read_small_at(proc, name, line, sizeof line) : -EBADF;
                if ((n >= 0 && task_parse_stat(line, &t.stat) >= 0) ||
                    (n == -EFBIG && task_read_stat(root, t.pid, 0, &t.stat) >= 0))
                        g_array_append_val(out, t);
        }
        return out;
}
