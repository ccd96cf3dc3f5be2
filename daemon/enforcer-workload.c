/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enforcer-workload.h"
#include "log.h"
#include "task.h"
#include "text.h"
#include "trust.h"

/* Processes are the host's (ctx->host): the proc connector announces real processes
 * whatever root describes the machine, and the cgroup files are the root's. Placing
 * saves the process's cgroup, affinity and scheduling first, so a revert puts it back;
 * a process that ends takes its originals with it. */

#define MAX_UNOWNED_FINDINGS 10

static int restore_task(const EnforcerContext *ctx, const char *kind, pid_t pid, const char *value);

/* Processes refused a placement that are still remembered as findings. */
#define MAX_UNTRUSTED 64

typedef struct WorkloadState {
        GHashTable *by_pid;       /* pid -> Workload */
        GHashTable *inherited;    /* pid -> group name: forked by a placed process, not placed itself */
        GHashTable *untrusted;    /* pid -> Finding: looked like a workload, refused */
        GPtrArray *list;          /* for workload_list() */
} WorkloadState;

static void workload_free(Workload *w) {
        if (!w)
                return;
        g_free(w->group);
        g_free(w->comm);
        g_free(w);
}

static void *workload_state_new(void) {
        WorkloadState *s = g_new0(WorkloadState, 1);
        s->by_pid = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) workload_free);
        s->inherited = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        s->untrusted = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) finding_free);
        return s;
}

static void workload_state_free(void *p) {
        WorkloadState *s = p;
        if (!s)
                return;
        g_hash_table_unref(s->by_pid);
        g_hash_table_unref(s->inherited);
        g_hash_table_unref(s->untrusted);
        if (s->list)
                g_ptr_array_unref(s->list);
        g_free(s);
}

static int sched_of(SchedPolicy p) {
        switch (p) {
        case SCHED_POLICY_OTHER: return SCHED_OTHER;
        case SCHED_POLICY_FIFO: return SCHED_FIFO;
        case SCHED_POLICY_RR: return SCHED_RR;
        case SCHED_POLICY_UNSET: break;
        }
        return -1;
}

/* Every exec on the machine comes here: without a Match= or Unit= anywhere there is
 * nothing to read. */
static bool any_match(const Config *c) {
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                if (g->match[0] || g->units[0])
                        return true;
        }
        return false;
}

static bool any_unit(const Config *c) {
        for (unsigned i = 0; i < c->groups->len; i++)
                if (((const GroupConfig *) c->groups->pdata[i])->units[0])
                        return true;
        return false;
}

static bool globs_match(char *const *globs, const char *text) {
        for (char *const *m = globs; text && *m; m++)
                if (g_pattern_match_simple(*m, text))
                        return true;
        return false;
}

/* Match= names an executable by its path or its file name. */
static bool exe_matches(const GroupConfig *g, const char *path) {
        g_autofree char *base = path ? g_path_get_basename(path) : NULL;
        return path && (globs_match(g->match, path) || globs_match(g->match, base));
}

/* What a process is to the groups: one to place it in, or (refused) why not. */
typedef struct Verdict {
        const GroupConfig *group;  /* NULL: it concerns no group */
        bool place;
        bool by_unit;              /* it runs in one of the group's Unit= */
        char *why;                 /* when not placed: what a person should know */
        char *exe;
        uid_t uid;
} Verdict;

static void verdict_clear(Verdict *v) {
        g_free(v->why);
        g_free(v->exe);
}

/* The trust rule (README, "Security"): a process belongs to a group when it runs in one
 * of the group's Unit= (root wrote the unit), or when the executable the kernel runs for
 * it matches Match= and only root could have put it there; and, with User=, when it runs
 * as one of those users. A name alone (comm, prctl(PR_SET_NAME), a symlink, a user's
 * copy) is never enough: it is a finding. */
static void classify(const EnforcerContext *ctx, pid_t pid, const char *comm, Verdict *v) {
        g_autofree char *cgroup = NULL, *path = task_read_exe(ctx->host, pid);
        const Config *c = ctx->config;

        *v = (Verdict) { .uid = (uid_t) -1 };
        if (any_unit(c) && task_read_cgroup(ctx->host, pid, &cgroup) < 0)
                g_clear_pointer(&cgroup, g_free);
        for (unsigned i = 0; i < c->groups->len && !v->group; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                bool by_unit = cgroup && g->units[0] && trust_cgroup_in_units(cgroup, g->units);
                bool by_exe = g->match[0] && exe_matches(g, path);
                if (!by_unit && !by_exe && !(g->match[0] && globs_match(g->match, comm)))
                        continue;
                v->group = g;
                v->exe = g_strdup(path ? path : "(none)");
                uid_t ruid, euid;
                if (trust_read_uids(ctx->host, pid, &ruid, &euid) < 0) {
                        v->why = g_strdup("its user cannot be read");
                        break;
                }
                v->uid = euid;
                if (!by_unit && !by_exe) {
                        v->why = g_strdup_printf("it is named %s, but its executable %s is not named by Match=", comm,
                                                 v->exe);
                        break;
                }
                if (!by_unit) {
                        TrustedExe t;
                        int r = trust_check_exe(ctx->host, pid, &t);
                        if (r < 0)
                                v->why = g_strdup_printf("its executable cannot be checked: %s", g_strerror(-r));
                        else if (!t.trusted)
                                v->why = g_strdup_printf("its executable %s is not trusted: %s", t.path, t.why);
                        else if (!exe_matches(g, t.path)) /* it executed again meanwhile */
                                v->why = g_strdup_printf("its executable is now %s", t.path);
                        trusted_exe_clear(&t);
                        if (v->why)
                                break;
                }
                if (g->users[0] && (!trust_user_listed(g->users, ruid) || !trust_user_listed(g->users, euid))) {
                        v->why = g_strdup_printf("it runs as uid %u, not a User= of group %s", (unsigned) euid, g->name);
                        break;
                }
                v->place = true;
                v->by_unit = by_unit;
        }
}

/* A refused process is remembered while it lives, as a finding of verify; said once. */
static void note_untrusted(const EnforcerContext *ctx, pid_t pid, const char *comm, const Verdict *v) {
        WorkloadState *s = ctx->state;
        /* Not the name: mid-exec it still says the old program's while the file is the new. */
        g_autofree char *raw = g_strdup_printf("%d uid %d %s", (int) pid, (int) v->uid, v->exe);
        g_autofree char *object = text_printable(raw); /* as the stored finding has it */
        const Finding *known = g_hash_table_lookup(s->untrusted, GINT_TO_POINTER(pid));
        if ((known && g_str_equal(known->object, object)) || (!known && g_hash_table_size(s->untrusted) >= MAX_UNTRUSTED))
                return;
        g_autofree char *message = g_strdup_printf("%s not placed in group %s: %s", comm, v->group->name, v->why);
        Finding *f = finding_new("untrusted-workload", object, "a trusted executable, Unit= or User=", "refused", false,
                                 message);
        log_notice("process %s: %s", f->object, f->message); /* printable: the names are a user's */
        g_hash_table_insert(s->untrusted, GINT_TO_POINTER(pid), f);
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* The group's CPUs that this machine has: a fake root may describe more. */
static void usable_cpus(const EnforcerContext *ctx, const GroupConfig *g, CpuMask *out) {
        CpuMask host;
        if (root_read_cpulist(ctx->host, "sys/devices/system/cpu/online", &host) < 0 || cpumask_is_empty(&host))
                *out = g->cpus;
        else
                cpumask_and(out, &g->cpus, &host);
}

/* Affinity and scheduling of one thread; true when something had to change. */
static int set_thread(const EnforcerContext *ctx, const Workload *w, pid_t tid, bool *changed) {
        CpuMask have;
        int policy, prio, r = 0;

        if (task_get_affinity(ctx->host, tid, &have) >= 0 && !cpumask_equal(&have, &w->cpus)) {
                *changed = true;
                if ((r = task_set_affinity(ctx->host, tid, &w->cpus)) < 0)
                        return r;
        }
        if (w->policy >= 0 && task_get_sched(ctx->host, tid, &policy, &prio) >= 0 &&
            (policy != w->policy || prio != w->priority)) {
                *changed = true;
                r = task_set_sched(ctx->host, tid, w->policy, w->priority);
        }
        return r;
}

static int set_all_threads(const EnforcerContext *ctx, const Workload *w, bool *changed) {
        g_autoptr(GArray) tids = task_list_threads(ctx->host, w->pid);
        int first_error = 0;
        for (unsigned i = 0; i < tids->len; i++) {
                int r = set_thread(ctx, w, g_array_index(tids, pid_t, i), changed);
                if (r < 0 && r != -ESRCH && first_error == 0)
                        first_error = r;
        }
        return first_error;
}

static char *scope_name(const char *group, pid_t pid) {
        return g_strdup_printf("isolatord-%s-%d.scope", group, (int) pid);
}

static int move_to_slice(const EnforcerContext *ctx, const GroupConfig *g, pid_t pid) {
        g_autoptr(GError) e = NULL;
        if (cgroups_backend(ctx->cgroups, ctx->root, ctx->config) == CGROUP_BACKEND_SYSTEMD) {
                g_autofree char *scope = scope_name(g->name, pid);
                int r = cgroups_systemd_attach(ctx->cgroups, g->slice, scope, pid, &e);
                if (r < 0)
                        log_warning("%s", e->message);
                return r;
        }
        g_autofree char *dir = cgroup_unit_rel(g->slice);
        g_autofree char *rel = g_strconcat(dir, "/cgroup.procs", NULL);
        g_autofree char *text = g_strdup_printf("%d", (int) pid);
        return root_write(ctx->root, rel, text);
}

static int place(const EnforcerContext *ctx, const GroupConfig *g, pid_t pid, const char *comm, bool in_unit) {
        WorkloadState *s = ctx->state;
        Workload *w = g_new0(Workload, 1);
        g_autofree char *cgroup = NULL;
        CpuMask was;
        int policy = SCHED_OTHER, prio = 0, r;
        bool changed = false;

        w->group = g_strdup(g->name);
        w->pid = pid;
        w->comm = g_strdup(comm);
        w->policy = sched_of(g->sched_policy);
        w->priority = g->sched_priority;
        usable_cpus(ctx, g, &w->cpus);

        /* Originals first: where it was, its CPUs, its scheduling. */
        g_autofree char *what_cg = g_strdup_printf("cgroup %d %s", (int) pid, comm);
        g_autofree char *what_aff = g_strdup_printf("affinity %d %s", (int) pid, comm);
        g_autofree char *what_sched = g_strdup_printf("sched %d %s", (int) pid, comm);
        if (task_read_cgroup(ctx->host, pid, &cgroup) < 0 || task_get_affinity(ctx->host, pid, &was) < 0) {
                workload_free(w);
                return -ESRCH; /* gone already */
        }
        (void) task_get_sched(ctx->host, pid, &policy, &prio);
        g_autofree char *was_list = cpumask_format_list(&was);
        g_autofree char *was_sched = g_strdup_printf("%d %d", policy, prio);
        if (enforcer_save_originals(ctx, &enforcer_workload, 3, (const char *const[]) { what_cg, what_aff, what_sched },
                                    (const char *const[]) { cgroup, was_list, was_sched }) < 0) {
                workload_free(w);
                return -EIO;
        }
        if (ctx->dry_run) {
                log_info("dry run: would place %d %s in %s", (int) pid, comm, g->slice);
                workload_free(w);
                return 0;
        }
        /* Under systemd a unit's process stays in its unit, or systemd would lose track of
         * it (systemctl stop): the unit's Slice= puts it in the group's slice. */
        if (in_unit && cgroups_backend(ctx->cgroups, ctx->root, ctx->config) == CGROUP_BACKEND_SYSTEMD)
                r = 0;
        else
                r = move_to_slice(ctx, g, pid);
        if (r < 0)
                log_warning_errno(r, "cannot move %d %s into %s: %m", (int) pid, comm, g->slice);
        if (cpumask_is_empty(&w->cpus)) {
                /* Real-time scheduling off the group's CPUs could starve housekeeping. */
                log_warning("%d %s: none of group %s's CPUs exist here; its CPUs and scheduling are left alone",
                            (int) pid, comm, g->name);
                w->policy = -1;
                w->priority = 0;
        }
        else if ((r = set_all_threads(ctx, w, &changed)) < 0)
                log_warning_errno(r, "cannot set the CPUs or scheduling of %d %s: %m", (int) pid, comm);
        w->placed_usec = now_realtime_usec();
        g_hash_table_replace(s->by_pid, GINT_TO_POINTER(pid), w);
        g_autofree char *cpus = cpumask_format_list(&w->cpus);
        g_autofree char *sched = w->policy >= 0 ? g_strdup_printf("%s %d", task_policy_name(w->policy), w->priority)
                                                : g_strdup("scheduling unchanged");
        log_info("placed %d %s in group %s (CPUs %s, %s)", (int) pid, comm, g->name, *cpus ? cpus : "unchanged", sched);
        enforcer_emit(ctx, &(Event) { .kind = EVENT_WORKLOAD_PLACED, .group = g->name, .pid = pid, .comm = comm });
        return 1;
}

/* A fake root describes another machine: of this one's processes, only those of
 * isolatord's own session (a test's or the demo's children), or in the top cgroup
 * folder isolatord runs in when that is not the root cgroup (a test's own folder, where
 * its private systemd manager starts units in sessions of their own), are acted on. */
static bool may_touch(const EnforcerContext *ctx, pid_t pid) {
        g_autofree char *own = NULL, *theirs = NULL;
        TaskStat st;
        if (root_is_host(ctx->root))
                return true;
        if (task_read_stat(ctx->host, pid, 0, &st) >= 0 && st.session == getsid(0))
                return true;
        if (task_read_cgroup(ctx->host, getpid(), &own) < 0 || own[0] != '/' || !own[1] ||
            task_read_cgroup(ctx->host, pid, &theirs) < 0)
                return false;
        own[1 + strcspn(own + 1, "/")] = '\0';
        return g_str_has_prefix(theirs, own) && theirs[strlen(own)] == '/';
}

static const char *const saved_kinds[] = { "cgroup", "affinity", "sched" };

/* Forgets the originals saved when w was placed; with give_back, restores them first
 * (the process lives on, no longer a workload). */
static void forget_placement(const EnforcerContext *ctx, const Workload *w, bool give_back) {
        g_autoptr(GHashTable) gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GError) e = NULL;
        for (size_t i = 0; i < G_N_ELEMENTS(saved_kinds); i++) {
                g_autofree char *key = g_strdup_printf("@%s %s %d %s", enforcer_workload.name, saved_kinds[i],
                                                       (int) w->pid, w->comm);
                const char *value = originals_get(ctx->originals, key);
                if (give_back && value && !ctx->dry_run) {
                        int r = restore_task(ctx, saved_kinds[i], w->pid, value);
                        if (r < 0 && r != -ENOENT)
                                log_warning_errno(r, "cannot give %d its %s back: %m", (int) w->pid, saved_kinds[i]);
                }
                g_hash_table_add(gone, g_steal_pointer(&key));
        }
        if (!ctx->dry_run && originals_forget(ctx->originals, gone, &e) < 0)
                log_warning("%s", e->message);
}

/* A child of a placed process that executed a program of its own, which is no match:
 * it keeps the slice its parent started it in, but not real-time scheduling. */
static void drop_inherited_realtime(const EnforcerContext *ctx, pid_t pid, const char *group) {
        g_autoptr(GArray) tids = task_list_threads(ctx->host, pid);
        for (unsigned i = 0; i < tids->len; i++) {
                pid_t tid = g_array_index(tids, pid_t, i);
                int policy, prio;
                if (task_get_sched(ctx->host, tid, &policy, &prio) < 0 || (policy != SCHED_FIFO && policy != SCHED_RR))
                        continue;
                int r = ctx->dry_run ? 0 : task_set_sched(ctx->host, tid, SCHED_OTHER, 0);
                if (r < 0 && r != -ESRCH)
                        log_warning_errno(r, "cannot take real-time scheduling from %d: %m", (int) tid);
                else if (tid == pid)
                        log_notice("process %d, started by group %s, executed another program: real-time scheduling withdrawn",
                                   (int) pid, group);
        }
}

int workload_exec(const EnforcerContext *ctx, pid_t pid) {
        WorkloadState *s = ctx->state;
        g_autofree char *comm = NULL, *inherited = NULL;
        Verdict v;
        int r = 0;

        if (!any_match(ctx->config) || task_read_comm(ctx->host, pid, &comm) < 0 || !may_touch(ctx, pid))
                return 0;
        g_hash_table_steal_extended(s->inherited, GINT_TO_POINTER(pid), NULL, (gpointer *) &inherited);
        classify(ctx, pid, comm, &v);
        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(pid));
        if (v.group && !v.place)
                note_untrusted(ctx, pid, comm, &v);
        else
                g_hash_table_remove(s->untrusted, GINT_TO_POINTER(pid));
        if (!v.place) {
                if (w) {
                        log_notice("process %d (was %s) executed another program: no longer in group %s", (int) pid,
                                   w->comm, w->group);
                        forget_placement(ctx, w, true);
                        g_hash_table_remove(s->by_pid, GINT_TO_POINTER(pid));
                } else if (inherited)
                        drop_inherited_realtime(ctx, pid, inherited);
        } else if (!w || !g_str_equal(w->group, v.group->name))
                r = place(ctx, v.group, pid, comm, v.by_unit);
        verdict_clear(&v);
        return r;
}

void workload_child(const EnforcerContext *ctx, pid_t parent, pid_t pid) {
        WorkloadState *s = ctx->state;
        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(parent));
        const char *group = w ? w->group : g_hash_table_lookup(s->inherited, GINT_TO_POINTER(parent));
        if (group)
                g_hash_table_insert(s->inherited, GINT_TO_POINTER(pid), g_strdup(group));
}

void workload_thread(const EnforcerContext *ctx, pid_t tgid, pid_t tid) {
        WorkloadState *s = ctx->state;
        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(tgid));
        bool changed = false;
        if (!w || cpumask_is_empty(&w->cpus))
                return;
        int r = set_thread(ctx, w, tid, &changed);
        if (r < 0 && r != -ESRCH)
                log_warning_errno(r, "cannot place thread %d of %d %s: %m", (int) tid, (int) tgid, w->comm);
}

void workload_exit(const EnforcerContext *ctx, pid_t pid) {
        WorkloadState *s = ctx->state;
        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(pid));

        g_hash_table_remove(s->inherited, GINT_TO_POINTER(pid));
        g_hash_table_remove(s->untrusted, GINT_TO_POINTER(pid));
        if (!w)
                return;
        log_debug("workload %d %s ended", (int) pid, w->comm);
        forget_placement(ctx, w, false);
        g_hash_table_remove(s->by_pid, GINT_TO_POINTER(pid));
}

GPtrArray *workload_list(const EnforcerContext *ctx) {
        WorkloadState *s = ctx->state;
        GHashTableIter it;
        gpointer value;

        if (s->list)
                g_ptr_array_unref(s->list);
        s->list = g_ptr_array_new();
        g_hash_table_iter_init(&it, s->by_pid);
        while (g_hash_table_iter_next(&it, NULL, &value))
                g_ptr_array_add(s->list, value);
        return s->list;
}

/* Placed processes still right (repairing drift); processes not yet placed, placed. */
static int workload_apply(const EnforcerContext *ctx, GPtrArray *changes) {
        WorkloadState *s = ctx->state;
        g_autoptr(GArray) pids = NULL;
        GHashTableIter it;
        gpointer key, value;

        g_hash_table_iter_init(&it, s->by_pid);
        while (g_hash_table_iter_next(&it, &key, &value)) {
                Workload *w = value;
                const GroupConfig *g = config_find_group(ctx->config, w->group);
                bool changed = false;
                TaskStat st;
                if (!g || task_read_stat(ctx->host, w->pid, 0, &st) < 0) {
                        g_hash_table_iter_remove(&it); /* gone, or its group is */
                        continue;
                }
                CpuMask cpus;
                usable_cpus(ctx, g, &cpus);
                bool reconfigured = !cpumask_equal(&cpus, &w->cpus) ||
                                    (!cpumask_is_empty(&cpus) && (sched_of(g->sched_policy) != w->policy ||
                                                                 g->sched_priority != w->priority));
                w->cpus = cpus;
                if (cpumask_is_empty(&w->cpus))
                        continue;
                w->policy = sched_of(g->sched_policy);
                w->priority = g->sched_priority;
                (void) set_all_threads(ctx, w, &changed);
                if (changed && !reconfigured) {
                        g_autofree char *list = cpumask_format_list(&w->cpus);
                        g_autofree char *object = g_strdup_printf("%d %s", (int) w->pid, w->comm);
                        g_autoptr(Finding) f = finding_new("workload", object, list, "changed", true,
                                                           "a placed process's CPUs or scheduling changed");
                        enforcer_emit(ctx, &(Event) { .kind = EVENT_DRIFT_CORRECTED, .finding = f });
                }
        }
        if (!any_match(ctx->config))
                return 0;
        pids = task_list_pids(ctx->host);
        for (unsigned i = 0; i < pids->len; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                if (!g_hash_table_contains(s->by_pid, GINT_TO_POINTER(pid)) &&
                    !g_hash_table_contains(s->untrusted, GINT_TO_POINTER(pid)) && workload_exec(ctx, pid) > 0) {
                        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(pid));
                        g_autofree char *object = g_strdup_printf("%d %s", (int) pid, w->comm);
                        g_ptr_array_add(changes, finding_new("workload", object, w->group, "", true, "placed"));
                }
        }
        return 0;
}

/* Processes that ran last on a group's CPUs and belong to no group. */
static int workload_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        WorkloadState *s = ctx->state;
        g_autoptr(GArray) pids = task_list_pids(ctx->root);
        CpuMask groups;
        unsigned unowned = 0;

        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, s->untrusted);
        while (g_hash_table_iter_next(&it, &key, &value)) {
                const Finding *f = value;
                TaskStat st;
                if (task_read_stat(ctx->host, GPOINTER_TO_INT(key), 0, &st) < 0) {
                        g_hash_table_iter_remove(&it); /* gone */
                        continue;
                }
                g_ptr_array_add(findings, finding_new(f->kind, f->object, f->expected, f->actual, f->required, f->message));
        }
        config_isolated_cpus(ctx->config, &groups);
        for (unsigned i = 0; i < pids->len; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                TaskStat st;
                if ((root_is_host(ctx->root) && (pid == getpid() || g_hash_table_contains(s->by_pid, GINT_TO_POINTER(pid)))) ||
                    task_read_stat(ctx->root, pid, 0, &st) < 0 || (st.flags & TASK_PF_KTHREAD) ||
                    !cpumask_has(&groups, st.processor))
                        continue;
                if (++unowned > MAX_UNOWNED_FINDINGS)
                        continue;
                g_autofree char *object = g_strdup_printf("%d %s", (int) pid, st.comm);
                g_autofree char *cpu = g_strdup_printf("CPU %d", st.processor);
                g_ptr_array_add(findings, finding_new("unowned-process", object, "housekeeping", cpu, false,
                                                      "runs on a group's CPUs and belongs to no group (Match=)"));
        }
        if (unowned > MAX_UNOWNED_FINDINGS) {
                g_autofree char *more = g_strdup_printf("%u more", unowned - MAX_UNOWNED_FINDINGS);
                g_ptr_array_add(findings, finding_new("unowned-process", more, "housekeeping", "group CPUs", false,
                                                      "more processes on group CPUs that belong to no group"));
        }
        return 0;
}

static int workload_revert(const EnforcerContext *ctx) {
        WorkloadState *s = ctx->state;
        g_hash_table_remove_all(s->by_pid);
        g_hash_table_remove_all(s->inherited);
        return 0;
}

/* The cgroup.procs of a saved cgroup path ("/" or "/system.slice/x.service"), or NULL. */
static char *cgroup_procs_rel(const char *path) {
        g_autofree char *rel = g_strdup_printf("sys/fs/cgroup%s/cgroup.procs", g_str_equal(path, "/") ? "" : path);
        return path[0] == '/' && enforcer_path_writable(rel) ? g_steal_pointer(&rel) : NULL;
}

static bool sched_valid(const char *value, int *policy, int *prio) {
        return sscanf(value, "%d %d", policy, prio) == 2 && *prio >= 0 && *prio <= 99 &&
               (*policy == SCHED_OTHER || *policy == SCHED_FIFO || *policy == SCHED_RR || *policy == SCHED_BATCH ||
                *policy == SCHED_IDLE) &&
               ((*policy == SCHED_FIFO || *policy == SCHED_RR) == (*prio > 0));
}

static char *workload_check_original(const char *what, const char *value) {
        g_autofree char *kind = NULL, *rel = NULL;
        int policy, prio;
        CpuMask cpus;

        if (!enforcer_parse_task_entry(what, &kind, NULL, NULL))
                return g_strdup("not \"KIND PID NAME\"");
        if (g_str_equal(kind, "cgroup"))
                return (rel = cgroup_procs_rel(value)) ? NULL : g_strdup("the saved cgroup is not a path in the cgroup tree");
        if (g_str_equal(kind, "affinity"))
                return cpumask_parse_list(value, &cpus, NULL) >= 0 ? NULL : g_strdup("the saved CPUs are not a CPU list");
        if (g_str_equal(kind, "sched"))
                return sched_valid(value, &policy, &prio) ? NULL : g_strdup("the saved scheduling is not a policy and priority");
        return g_strdup("not a workload entry (cgroup, affinity, sched)");
}

/* "cgroup|affinity|sched PID COMM": only while the same process (by name) lives. */
static int workload_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        g_autofree char *kind = NULL, *want_comm = NULL, *comm = NULL;
        pid_t pid;
        if (!enforcer_parse_task_entry(what, &kind, &pid, &want_comm))
                return -EINVAL;
        if (task_read_comm(ctx->host, pid, &comm) < 0 || !g_str_equal(comm, want_comm))
                return -ENOENT;
        return restore_task(ctx, kind, pid, value);
}

static int restore_task(const EnforcerContext *ctx, const char *kind, pid_t pid, const char *value) {
        if (g_str_equal(kind, "cgroup")) {
                g_autofree char *rel = cgroup_procs_rel(value);
                g_autofree char *text = g_strdup_printf("%d", (int) pid);
                return rel ? root_write(ctx->root, rel, text) : -EINVAL;
        }
        g_autoptr(GArray) tids = task_list_threads(ctx->host, pid);
        int r = 0;
        for (unsigned i = 0; i < tids->len; i++) {
                pid_t tid = g_array_index(tids, pid_t, i);
                if (g_str_equal(kind, "affinity")) {
                        CpuMask cpus;
                        if (cpumask_parse_list(value, &cpus, NULL) < 0)
                                return -EINVAL;
                        r = task_set_affinity(ctx->host, tid, &cpus);
                } else if (g_str_equal(kind, "sched")) {
                        int policy, prio;
                        if (!sched_valid(value, &policy, &prio))
                                return -EINVAL;
                        r = task_set_sched(ctx->host, tid, policy, prio);
                } else
                        return -EINVAL;
        }
        return r == -ESRCH ? -ENOENT : r;
}

const EnforcerOps enforcer_workload = {
        .name = "workload",
        .state_new = workload_state_new,
        .state_free = workload_state_free,
        .verify = workload_verify,
        .apply = workload_apply,
        .revert = workload_revert,
        .restore = workload_restore,
        .check_original = workload_check_original,
};
