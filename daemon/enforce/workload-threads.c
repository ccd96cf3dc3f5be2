/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What each thread of a placed process is given, and what it had before.
 *
 * Originals. A placement saves the process's CPUs and scheduling (those of its main
 * thread) as "@workload affinity|sched PID START COMM"; a revert gives them to every
 * thread of the process that has no original of its own. At a process's first
 * placement (not a restart's, not kin's, whose threads carry what isolatord gave),
 * each other thread whose CPUs or scheduling differ from the process's gets its own,
 * "@workload thread-affinity|thread-sched TID START COMM", before isolatord's first
 * write to it: a thread is its tid and its start time, as a process is, and COMM is its
 * process's saved name, which a rename of the thread does not change. So a thread that
 * ran before its process was placed gets its own back; a thread started later gets what
 * the process had (it inherited what isolatord gave the thread that started it), and so
 * does one someone changed since. A thread that ended is forgotten with the ended
 * processes (forget_the_dead). */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "enforce/workload-threads.h"
#include "kernel/task.h"

/* How many threads of one process GetWorkloads lists: a reply stays small whatever a
 * program starts. */
#define REPORT_THREADS_MAX 4096

void thread_look_clear(ThreadLook *l) {
        g_clear_pointer(&l->comm, g_free);
}

void workload_thread_free(WorkloadThread *t) {
        if (!t)
                return;
        g_free(t->comm);
        g_free(t->rule);
        g_free(t);
}

static int policy_of(SchedPolicy p) {
        switch (p) {
        case SCHED_POLICY_OTHER: return SCHED_OTHER;
        case SCHED_POLICY_FIFO: return SCHED_FIFO;
        case SCHED_POLICY_RR: return SCHED_RR;
        case SCHED_POLICY_UNSET:
        case SCHED_POLICY_KEEP: break;
        }
        return -1;
}

/* A rule's CPUs that this machine has (online empty: unknown, all of them). */
static void rule_cpus_here(const ThreadRule *r, const CpuMask *online, CpuMask *out) {
        if (cpumask_is_empty(online))
                *out = r->cpus;
        else
                cpumask_and(out, &r->cpus, online);
}

/* comm NULL: no rule is looked for (the group has none). */
static void thread_target(const Config *c, const Workload *w, const char *comm, const CpuMask *online,
                          ThreadTarget *out) {
        *out = (ThreadTarget) { .cpus = w->cpus, .policy = w->policy, .priority = w->priority };
        if (cpumask_is_empty(&w->cpus)) {
                /* None of the group's CPUs exist here: real-time off them could starve
                 * housekeeping, so nothing is given. */
                out->policy = -1;
                return;
        }
        out->rule = comm ? config_thread_rule_match(c, w->group, comm) : NULL;
        if (!out->rule)
                return;
        if (out->rule->has_cpus) {
                CpuMask here;
                rule_cpus_here(out->rule, online, &here);
                if (!cpumask_is_empty(&here)) /* else the group's: none of the rule's exist here */
                        out->cpus = here;
        }
        /* A group that leaves scheduling to the program leaves it for its rules too (the
         * configuration refuses a rule that sets some there). */
        if (out->rule->sched_policy != SCHED_POLICY_UNSET && w->policy >= 0) {
                out->policy = policy_of(out->rule->sched_policy);
                out->priority = out->rule->sched_priority;
        }
}

bool thread_look(const EnforcerContext *ctx, const Workload *w, pid_t tid, const CpuMask *online,
                 const ThreadNow *now, ThreadLook *out) {
        *out = (ThreadLook) { .tid = tid };
        /* Read only where a rule may need it: a process's threads are read at every pass. */
        if (config_group_has_thread_rules(ctx->config, w->group) &&
            task_read_thread_comm(ctx->host, w->pid, tid, &out->comm) < 0)
                return false;
        thread_target(ctx->config, w, out->comm, online, &out->target);
        if (now && now->has_cpus) {
                out->cpus = now->cpus;
                out->has_cpus = true;
        } else
                out->has_cpus = task_get_affinity(ctx->host, tid, &out->cpus) >= 0;
        if (now) {
                out->policy = now->policy;
                out->priority = now->priority;
                out->has_sched = true;
        } else
                out->has_sched = task_get_sched(ctx->host, tid, &out->policy, &out->priority) >= 0;
        return out->has_cpus || out->has_sched;
}

static bool cpus_off(const ThreadLook *l) {
        return !cpumask_is_empty(&l->target.cpus) && l->has_cpus && !cpumask_equal(&l->cpus, &l->target.cpus);
}

static bool sched_off(const ThreadLook *l) {
        return l->target.policy >= 0 && l->has_sched &&
               (l->policy != l->target.policy || l->priority != l->target.priority);
}

bool thread_off_target(const ThreadLook *l) {
        return cpus_off(l) || sched_off(l);
}

int thread_set(const EnforcerContext *ctx, const ThreadLook *l, bool *changed) {
        int r = 0;

        if (cpus_off(l)) {
                *changed = true;
                if ((r = task_set_affinity(ctx->host, l->tid, &l->target.cpus)) < 0)
                        return r;
        }
        if (sched_off(l)) {
                *changed = true;
                r = task_set_sched(ctx->host, l->tid, l->target.policy, l->target.priority);
        }
        return r;
}

/* --- originals --- */

static char *saved_key(const char *kind, pid_t pid, uint64_t start, const char *comm) {
        g_autofree char *what = enforcer_task_entry(kind, pid, start, comm);
        return g_strdup_printf("@%s %s", enforcer_workload.name, what);
}

/* One kind ("affinity" or "sched") of what a thread had, value, unless a saved original
 * covers it. */
static void original_add(const EnforcerContext *ctx, const Workload *w, pid_t tid, const char *kind, const char *value,
                         GPtrArray *whats, GPtrArray *values) {
        g_autofree char *thread_kind = g_strconcat("thread-", kind, NULL);
        g_autofree char *process_key = saved_key(kind, w->pid, w->start_time, w->comm);
        const char *process_value = originals_get(ctx->originals, process_key);
        uint64_t start;

        if (tid == w->pid) {
                /* The main thread's are the process's: saved at placement, or now for a
                 * kind the group did not write then (a reload from keep to rr). */
                if (!process_value) {
                        g_ptr_array_add(whats, enforcer_task_entry(kind, w->pid, w->start_time, w->comm));
                        g_ptr_array_add(values, g_strdup(value));
                }
                return;
        }
        /* Only a first placement's threads have values of their own: later, a thread
         * has what it inherited from one isolatord set, or what someone changed since. */
        if (!w->save_threads || (process_value && g_str_equal(process_value, value)))
                return;
        if (task_read_start_time(ctx->host, w->pid, tid, &start) < 0)
                return; /* gone: nothing will be written to it */
        g_autofree char *own = saved_key(thread_kind, tid, start, w->comm);
        if (originals_has(ctx->originals, own))
                return;
        g_ptr_array_add(whats, enforcer_task_entry(thread_kind, tid, start, w->comm));
        g_ptr_array_add(values, g_strdup(value));
}

void thread_originals_add(const EnforcerContext *ctx, const Workload *w, const ThreadLook *l, GPtrArray *whats,
                          GPtrArray *values) {
        if (cpus_off(l)) {
                g_autofree char *value = cpumask_format_list(&l->cpus);
                original_add(ctx, w, l->tid, "affinity", value, whats, values);
        }
        if (sched_off(l)) {
                g_autofree char *value = g_strdup_printf("%d %d", l->policy, l->priority);
                original_add(ctx, w, l->tid, "sched", value, whats, values);
        }
}

bool workload_thread_kind(const char *kind) {
        return g_str_equal(kind, "thread-affinity") || g_str_equal(kind, "thread-sched");
}

int workload_thread_restore(const EnforcerContext *ctx, const char *kind, pid_t tid, const char *value) {
        int r;

        if (g_str_equal(kind, "thread-affinity")) {
                CpuMask cpus, have;
                if (cpumask_parse_list(value, &cpus, NULL) < 0)
                        return -EINVAL;
                if (task_get_affinity(ctx->host, tid, &have) >= 0 && cpumask_equal(&have, &cpus))
                        return 0;
                r = task_set_affinity(ctx->host, tid, &cpus);
        } else if (g_str_equal(kind, "thread-sched")) {
                int policy, priority, p, q;
                if (!task_sched_parse(value, &policy, &priority))
                        return -EINVAL;
                if (task_get_sched(ctx->host, tid, &p, &q) >= 0 && p == policy && q == priority)
                        return 0;
                r = task_set_sched(ctx->host, tid, policy, priority);
        } else
                return -EINVAL;
        return r == -ESRCH ? -ENOENT : r;
}

GHashTable *workload_threads_with_own(const EnforcerContext *ctx, const char *thread_kind) {
        GHashTable *out = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        g_autofree char *head = g_strdup_printf("@%s ", enforcer_workload.name);

        for (guint i = 0; i < originals_count(ctx->originals); i++) {
                const char *key = originals_path(ctx->originals, i);
                g_autofree char *kind = NULL;
                uint64_t start;
                pid_t tid;
                if (g_str_has_prefix(key, head) && g_str_has_prefix(key + strlen(head), thread_kind) &&
                    enforcer_parse_task_entry(key + strlen(head), &kind, &tid, &start, NULL) &&
                    g_str_equal(kind, thread_kind))
                        g_hash_table_replace(out, GINT_TO_POINTER(tid), g_memdup2(&start, sizeof start));
        }
        return out;
}

/* --- GetWorkloads --- */

GPtrArray *workload_threads_report(const EnforcerContext *ctx, const Workload *w, const CpuMask *online) {
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) workload_thread_free);
        g_autoptr(GArray) tids = task_list_threads(ctx->host, w->pid);

        for (unsigned i = 0; i < tids->len && out->len < REPORT_THREADS_MAX; i++) {
                WorkloadThread *t = g_new0(WorkloadThread, 1);
                ThreadTarget target;
                t->tid = g_array_index(tids, pid_t, i);
                t->policy = -1;
                if (task_read_thread_comm(ctx->host, w->pid, t->tid, &t->comm) < 0 ||
                    task_get_affinity(ctx->host, t->tid, &t->cpus) < 0) {
                        workload_thread_free(t); /* ended meanwhile */
                        continue;
                }
                (void) task_get_sched(ctx->host, t->tid, &t->policy, &t->priority);
                thread_target(ctx->config, w, t->comm, online, &target);
                t->rule = target.rule ? g_strdup(target.rule->name) : NULL;
                g_ptr_array_add(out, t);
        }
        return out;
}
