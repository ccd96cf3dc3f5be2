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
        CpuMask host_online;      /* this machine's online CPUs, as the last pass read them */
        bool host_online_read;
        TrustCache *trust;        /* folders of executables found trusted */
        pid_t own_session;        /* isolatord's (may_touch, on a fake root) */
        GHashTable *procs;        /* slice folder's cgroup.procs (rel) -> RootFile, kept open */
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
        s->trust = trust_cache_new();
        s->own_session = getsid(0);
        s->procs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) root_file_free);
        return s;
}

static void workload_state_free(void *p) {
        WorkloadState *s = p;
        if (!s)
                return;
        g_hash_table_unref(s->by_pid);
        g_hash_table_unref(s->inherited);
        g_hash_table_unref(s->untrusted);
        trust_cache_free(s->trust);
        g_hash_table_unref(s->procs);
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

static bool any_exe_match(const Config *c, const char *path) {
        for (unsigned i = 0; path && i < c->groups->len; i++)
                if (exe_matches(c->groups->pdata[i], path))
                        return true;
        return false;
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
static void classify(const EnforcerContext *ctx, pid_t pid, const char *comm, const char *path, Verdict *v) {
        WorkloadState *s = ctx->state;
        g_autofree char *cgroup = NULL;
        const Config *c = ctx->config;
        uid_t ruid = (uid_t) -1;

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
                if (!by_unit && !by_exe)
                        v->why = g_strdup_printf("it is named %s, but its executable %s is not named by Match=", comm,
                                                 v->exe);
                else if (!by_unit) {
                        TrustedExe t;
                        int r = trust_check_exe(ctx->host, s->trust, pid, path, &t);
                        if (r < 0)
                                v->why = g_strdup_printf("its executable cannot be checked: %s", g_strerror(-r));
                        else if (!t.trusted)
                                v->why = g_strdup_printf("its executable %s is not trusted: %s", t.path, t.why);
                        else if (!exe_matches(g, t.path)) /* it executed again meanwhile */
                                v->why = g_strdup_printf("its executable is now %s", t.path);
                        trusted_exe_clear(&t);
                }
                /* Its users where they decide (User=) or name a refusal: /proc/PID/status
                 * is not read for every trusted exec. */
                if (!v->why && !g->users[0])
                        break;
                if (trust_read_uids(ctx->host, pid, &ruid, &v->uid) < 0) {
                        v->uid = (uid_t) -1;
                        if (!v->why)
                                v->why = g_strdup("its user cannot be read");
                }
                if (!v->why && (!trust_user_listed(g->users, ruid) || !trust_user_listed(g->users, v->uid)))
                        v->why = g_strdup_printf("it runs as uid %u, not a User= of group %s", (unsigned) v->uid,
                                                 g->name);
        }
        if (v->group && !v->why) {
                v->place = true;
                v->by_unit = cgroup && v->group->units[0] && trust_cgroup_in_units(cgroup, v->group->units);
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

/* The group's CPUs that this machine has: a fake root may describe more. The online
 * CPUs are read again by every pass, not at every exec. */
static void usable_cpus(const EnforcerContext *ctx, const GroupConfig *g, CpuMask *out) {
        WorkloadState *s = ctx->state;
        if (!s->host_online_read) {
                if (root_read_cpulist(ctx->host, "sys/devices/system/cpu/online", &s->host_online) < 0)
                        cpumask_zero(&s->host_online);
                s->host_online_read = true;
        }
        if (cpumask_is_empty(&s->host_online))
                *out = g->cpus;
        else
                cpumask_and(out, &g->cpus, &s->host_online);
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

/* Where a process is, as a path under sys/fs/cgroup that restore_task() writes it back
 * to: its v2 cgroup, or on a v1 cpuset hierarchy "/cpuset" and its path there (the top
 * when the host keeps no such line: a fake v1 root on a v2 host). */
static int original_cgroup(const EnforcerContext *ctx, pid_t pid, char **out) {
        g_autofree char *v1 = NULL, *proc = g_strdup_printf("proc/%d", (int) pid);
        if (cgroups_backend(ctx->cgroups, ctx->root, ctx->config) != CGROUP_BACKEND_CGROUPFS_V1)
                return task_read_cgroup(ctx->host, pid, out);
        if (task_read_cgroup_v1(ctx->host, "cpuset", pid, &v1) < 0 || v1[0] != '/') {
                if (!root_exists(ctx->host, proc))
                        return -ESRCH;
                g_free(v1);
                v1 = g_strdup("/");
        }
        *out = g_strconcat("/", CGROUP_V1_CPUSET + strlen("sys/fs/cgroup/"), g_str_equal(v1, "/") ? "" : v1, NULL);
        return 0;
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
        WorkloadState *s = ctx->state;
        g_autofree char *dir = cgroup_unit_rel(cgroups_backend(ctx->cgroups, ctx->root, ctx->config), g->slice);
        g_autofree char *rel = g_strconcat(dir, "/cgroup.procs", NULL);
        g_autofree char *text = g_strdup_printf("%d", (int) pid);
        RootFile *procs = g_hash_table_lookup(s->procs, rel);
        if (!procs) {
                procs = root_file_new(ctx->root, rel);
                g_hash_table_insert(s->procs, g_steal_pointer(&rel), procs);
        }
        return root_file_write(procs, text);
}

/* executed: it has just executed a program, and so has one thread (exec ends the
 * others; threads it starts after come as events of their own). */
static int place(const EnforcerContext *ctx, const GroupConfig *g, pid_t pid, const char *comm, bool in_unit,
                 bool executed) {
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
        if (task_get_affinity(ctx->host, pid, &was) < 0 || original_cgroup(ctx, pid, &cgroup) < 0) {
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
        else {
                if (!executed)
                        r = set_all_threads(ctx, w, &changed);
                else if ((r = cpumask_equal(&was, &w->cpus) ? 0 : task_set_affinity(ctx->host, pid, &w->cpus)) >= 0 &&
                         w->policy >= 0 && (policy != w->policy || prio != w->priority))
                        r = task_set_sched(ctx->host, pid, w->policy, w->priority);
                if (r < 0)
                        log_warning_errno(r, "cannot set the CPUs or scheduling of %d %s: %m", (int) pid, comm);
        }
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
        WorkloadState *s = ctx->state;
        g_autofree char *own = NULL, *theirs = NULL;
        if (root_is_host(ctx->root) || getsid(pid) == s->own_session)
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

/* --- observe --- */

/* A process as the trust rule sees it, with what isolatord knows of it. */
typedef struct Candidate {
        pid_t pid;
        char *comm;
        Verdict verdict;
        Workload *placed;      /* the state's, when it is placed */
        bool executed;         /* observed at its exec event */
        char *inherited;       /* the group of the placed process that started it, or NULL */
} Candidate;

/* A placed process whose threads differ from its placement. */
typedef struct Misplaced {
        Workload *w;           /* the state's */
        CpuMask cpus;          /* the group's CPUs as configured now */
        int policy, priority;
        bool reconfigured;     /* the group changed, not the process */
} Misplaced;

typedef struct WorkloadObservation {
        GArray *candidates;    /* Candidate */
        GArray *misplaced;     /* Misplaced */
        GPtrArray *advice;     /* Finding*: what a pass reports and apply leaves (processes on
                                * group CPUs that belong to no group, placed ones' limits) */
        Workload *thread_of;   /* TRIGGER_THREAD: the placed process, and its new thread */
        pid_t tid;
} WorkloadObservation;

static void candidate_clear(Candidate *c) {
        g_free(c->comm);
        verdict_clear(&c->verdict);
        g_free(c->inherited);
}

static void workload_observation_free(void *p) {
        WorkloadObservation *o = p;
        g_array_unref(o->candidates);
        g_array_unref(o->misplaced);
        g_ptr_array_unref(o->advice);
        g_free(o);
}

/* A process that executed a program (or, on a scan, any process): what the trust rule
 * says of it now. */
static void observe_exec(const EnforcerContext *ctx, WorkloadObservation *o, pid_t pid, bool executed) {
        WorkloadState *s = ctx->state;
        Candidate c = { .pid = pid, .executed = executed };
        /* The executable first: right after an exec, the first look at /proc/PID costs
         * least as this one (a stat or comm read first waits several times as long). */
        g_autofree char *exe = any_match(ctx->config) ? task_read_exe(ctx->host, pid) : NULL;

        if (!any_match(ctx->config))
                return;
        /* Named by its executable when that is a group's: its own name (comm) is not
         * read then, and is only the process's choice. Otherwise the name is read, to
         * tell a process named like a workload. */
        if (any_exe_match(ctx->config, exe)) {
                g_autofree char *base = g_path_get_basename(exe);
                c.comm = text_printable(base);
        } else if (task_read_comm(ctx->host, pid, &c.comm) < 0)
                return;
        if (!may_touch(ctx, pid)) {
                g_free(c.comm);
                return;
        }
        c.inherited = g_strdup(g_hash_table_lookup(s->inherited, GINT_TO_POINTER(pid)));
        classify(ctx, pid, c.comm, exe, &c.verdict);
        c.placed = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(pid));
        if (!c.verdict.group || c.verdict.place)
                g_hash_table_remove(s->untrusted, GINT_TO_POINTER(pid));
        g_array_append_val(o->candidates, c);
}

static void observe_thread(const EnforcerContext *ctx, WorkloadObservation *o, pid_t tgid, pid_t tid) {
        WorkloadState *s = ctx->state;
        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(tgid));
        if (w && !cpumask_is_empty(&w->cpus)) {
                o->thread_of = w;
                o->tid = tid;
        }
}

/* Whether any thread of a placed process is off its placement. */
static bool threads_differ(const EnforcerContext *ctx, pid_t pid, const CpuMask *cpus, int policy, int priority) {
        g_autoptr(GArray) tids = task_list_threads(ctx->host, pid);
        for (unsigned i = 0; i < tids->len; i++) {
                pid_t tid = g_array_index(tids, pid_t, i);
                CpuMask have;
                int p, prio;
                if (task_get_affinity(ctx->host, tid, &have) >= 0 && !cpumask_equal(&have, cpus))
                        return true;
                if (policy >= 0 && task_get_sched(ctx->host, tid, &p, &prio) >= 0 && (p != policy || prio != priority))
                        return true;
        }
        return false;
}

/* A limit of /proc/PID/limits: its soft value ("unlimited" is G_MAXUINT64); false when
 * the line is not there. */
static bool limit_soft(const char *limits, const char *name, guint64 *out) {
        const char *line = strstr(limits, name);
        g_auto(GStrv) f = NULL;
        if (!line)
                return false;
        f = g_strsplit_set(line + strlen(name), " \t\n", 0);
        for (char **w = f; *w; w++) {
                if (!**w)
                        continue;
                if (g_str_equal(*w, "unlimited")) {
                        *out = G_MAXUINT64;
                        return true;
                }
                return g_ascii_string_to_unsigned(*w, 10, 0, G_MAXUINT64, out, NULL);
        }
        return false;
}

void workload_limits_advice(const Workload *w, const char *limits, GPtrArray *out) {
        g_autofree char *object = g_strdup_printf("%d %s", (int) w->pid, w->comm);
        guint64 rtprio, memlock;
        if ((w->policy == SCHED_FIFO || w->policy == SCHED_RR) && limit_soft(limits, "Max realtime priority", &rtprio) &&
            rtprio < (guint64) w->priority) {
                g_autofree char *want = g_strdup_printf("RLIMIT_RTPRIO >= %d", w->priority);
                g_autofree char *found = g_strdup_printf("%" G_GUINT64_FORMAT, rtprio);
                g_autofree char *why = g_strdup_printf(
                        "the process cannot raise its own threads to the group's priority %d (rtcqs: rtprio); fix: "
                        "LimitRTPRIO=%d in its unit, or \"@audio - rtprio %d\" in /etc/security/limits.d/ for its user",
                        w->priority, w->priority, w->priority);
                g_ptr_array_add(out, finding_new("rlimit", object, want, found, false, why));
        }
        if (limit_soft(limits, "Max locked memory", &memlock) && memlock != G_MAXUINT64) {
                g_autofree char *found = g_strdup_printf("%" G_GUINT64_FORMAT " bytes", memlock);
                g_ptr_array_add(out, finding_new("rlimit", object, "RLIMIT_MEMLOCK unlimited", found, false,
                                                 "the process cannot lock its audio buffers in memory, so a page of "
                                                 "them can be reclaimed and fault back in mid-period; fix: "
                                                 "LimitMEMLOCK=infinity in its unit, or \"@audio - memlock "
                                                 "unlimited\" in /etc/security/limits.d/ for its user"));
        }
}

/* rtcqs "rtprio" and the memlock limit of every placed process, from its
 * /proc/PID/limits (workload_limits_advice). */
static void observe_limits(const EnforcerContext *ctx, WorkloadObservation *o) {
        WorkloadState *s = ctx->state;
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, s->by_pid);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                const Workload *w = value;
                g_autofree char *rel = g_strdup_printf("proc/%d/limits", (int) w->pid), *limits = NULL;
                if (root_read(ctx->host, rel, &limits, NULL) >= 0)
                        workload_limits_advice(w, limits, o->advice);
        }
}

static void observe_unowned(const EnforcerContext *ctx, WorkloadObservation *o) {
        WorkloadState *s = ctx->state;
        const GArray *tasks = enforcer_tasks(ctx);
        unsigned unowned = 0;
        CpuMask groups;

        config_isolated_cpus(ctx->config, &groups);
        for (unsigned i = 0; i < tasks->len; i++) {
                const Task *t = &g_array_index(tasks, Task, i);
                pid_t pid = t->pid;
                const TaskStat st = t->stat;
                if ((root_is_host(ctx->root) && (pid == getpid() || g_hash_table_contains(s->by_pid, GINT_TO_POINTER(pid)))) ||
                    (st.flags & TASK_PF_KTHREAD) || !cpumask_has(&groups, st.processor))
                        continue;
                if (++unowned > MAX_UNOWNED_FINDINGS)
                        continue;
                g_autofree char *object = g_strdup_printf("%d %s", (int) pid, st.comm);
                g_autofree char *cpu = g_strdup_printf("CPU %d", st.processor);
                g_ptr_array_add(o->advice, finding_new("unowned-process", object, "housekeeping", cpu, false,
                                                        "runs on a group's CPUs and belongs to no group (Match=)"));
        }
        if (unowned > MAX_UNOWNED_FINDINGS) {
                g_autofree char *more = g_strdup_printf("%u more", unowned - MAX_UNOWNED_FINDINGS);
                g_ptr_array_add(o->advice, finding_new("unowned-process", more, "housekeeping", "group CPUs", false,
                                                        "more processes on group CPUs that belong to no group"));
        }
}

/* Every process: the placed ones still alive and right, the others classified (a pass,
 * or process events lost). */
static void observe_all(const EnforcerContext *ctx, WorkloadObservation *o, bool pass) {
        WorkloadState *s = ctx->state;
        GHashTableIter it;
        gpointer key, value;

        s->host_online_read = false; /* CPUs may have gone offline or come back */
        trust_cache_flush(s->trust);  /* a mount on a kept folder is not reported */
        g_hash_table_remove_all(s->procs); /* slices may have been made again */
        g_hash_table_iter_init(&it, s->by_pid);
        while (g_hash_table_iter_next(&it, &key, &value)) {
                Workload *w = value;
                const GroupConfig *g = config_find_group(ctx->config, w->group);
                TaskStat st;
                if (!g || task_read_stat(ctx->host, w->pid, 0, &st) < 0) {
                        g_hash_table_iter_remove(&it); /* gone, or its group is */
                        continue;
                }
                Misplaced m = { .w = w, .policy = sched_of(g->sched_policy), .priority = g->sched_priority };
                usable_cpus(ctx, g, &m.cpus);
                m.reconfigured = !cpumask_equal(&m.cpus, &w->cpus) ||
                                 (!cpumask_is_empty(&m.cpus) && (m.policy != w->policy || m.priority != w->priority));
                if (m.reconfigured || (!cpumask_is_empty(&w->cpus) && threads_differ(ctx, w->pid, &w->cpus, w->policy, w->priority)))
                        g_array_append_val(o->misplaced, m);
        }
        g_hash_table_iter_init(&it, s->untrusted);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
                TaskStat st;
                if (task_read_stat(ctx->host, GPOINTER_TO_INT(key), 0, &st) < 0)
                        g_hash_table_iter_remove(&it); /* gone */
        }
        if (any_match(ctx->config)) {
                g_autoptr(GArray) pids = task_list_pids(ctx->host);
                for (unsigned i = 0; i < pids->len; i++) {
                        pid_t pid = g_array_index(pids, pid_t, i);
                        if (!g_hash_table_contains(s->by_pid, GINT_TO_POINTER(pid)) &&
                            !g_hash_table_contains(s->untrusted, GINT_TO_POINTER(pid)))
                                observe_exec(ctx, o, pid, false);
                }
        }
        if (pass) {
                observe_unowned(ctx, o);
                observe_limits(ctx, o);
        }
}

/* What an event reports is observed too: a fork notes whom the child belongs with, an
 * exit forgets the process and its saved originals. */
static void *workload_observe(const EnforcerContext *ctx, const Trigger *scope) {
        WorkloadState *s = ctx->state;
        WorkloadObservation *o = g_new0(WorkloadObservation, 1);

        o->candidates = g_array_new(false, true, sizeof(Candidate));
        g_array_set_clear_func(o->candidates, (GDestroyNotify) candidate_clear);
        o->misplaced = g_array_new(false, true, sizeof(Misplaced));
        o->advice = g_ptr_array_new_with_free_func((GDestroyNotify) finding_free);
        switch (scope ? scope->kind : _TRIGGER_MAX) {
        case TRIGGER_EXEC:
                observe_exec(ctx, o, scope->pid, true);
                break;
        case TRIGGER_THREAD:
                observe_thread(ctx, o, scope->parent, scope->pid);
                break;
        case TRIGGER_FORK: {
                Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(scope->parent));
                const char *group = w ? w->group : g_hash_table_lookup(s->inherited, GINT_TO_POINTER(scope->parent));
                if (group)
                        g_hash_table_insert(s->inherited, GINT_TO_POINTER(scope->pid), g_strdup(group));
                break;
        }
        case TRIGGER_EXIT: {
                Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(scope->pid));
                g_hash_table_remove(s->inherited, GINT_TO_POINTER(scope->pid));
                g_hash_table_remove(s->untrusted, GINT_TO_POINTER(scope->pid));
                if (w) {
                        log_debug("workload %d %s ended", (int) w->pid, w->comm);
                        forget_placement(ctx, w, false);
                        g_hash_table_remove(s->by_pid, GINT_TO_POINTER(scope->pid));
                }
                break;
        }
        default:
                observe_all(ctx, o, !scope);
                break;
        }
        return o;
}

/* --- diff --- */

enum {
        ACTION_PLACE = 1,       /* a process that belongs to a group, placed */
        ACTION_LEAVE,           /* a placed process that executed another program: originals back */
        ACTION_DROP_REALTIME,   /* a workload's child that executed another program */
        ACTION_REPLACE,         /* a placed process's threads put back on its placement */
        ACTION_THREAD,          /* a new thread of a placed process */
        ACTION_REFUSED,         /* remembered as untrusted while it lives */
};

static void workload_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const WorkloadObservation *o = obs;
        WorkloadState *s = ctx->state;
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, s->untrusted);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                const Finding *f = value;
                difference_add(diffs, finding_copy(f), false, NULL);
        }
        for (unsigned i = 0; i < o->candidates->len; i++) {
                const Candidate *c = &g_array_index(o->candidates, Candidate, i);
                const Verdict *v = &c->verdict;
                g_autofree char *object = g_strdup_printf("%d %s", (int) c->pid, c->comm);
                if (v->place && (!c->placed || !g_str_equal(c->placed->group, v->group->name)))
                        difference_add(diffs, finding_new("workload", object, v->group->name, "not placed", true,
                                                          "belongs to the group by the trust rule"),
                                       true, c)->action = ACTION_PLACE;
                else if (v->place)
                        continue;
                else if (c->placed)
                        difference_add(diffs, finding_new("workload", object, "not in a group", c->placed->group, true,
                                                          "executed another program: no longer a workload"),
                                       true, c)->action = ACTION_LEAVE;
                else if (c->inherited)
                        difference_add(diffs, finding_new("workload", object, "no real-time scheduling", "inherited",
                                                          false, "started by a workload, executed another program"),
                                       true, c)->action = ACTION_DROP_REALTIME;
                if (v->group && !v->place && !g_hash_table_contains(s->untrusted, GINT_TO_POINTER(c->pid))) {
                        g_autofree char *raw = g_strdup_printf("%d uid %d %s", (int) c->pid, (int) v->uid, v->exe);
                        g_autofree char *refused = text_printable(raw);
                        g_autofree char *message = g_strdup_printf("%s not placed in group %s: %s", c->comm,
                                                                   v->group->name, v->why);
                        /* Remembered by apply while the process lives (note_untrusted). */
                        difference_add(diffs, finding_new("untrusted-workload", refused,
                                                          "a trusted executable, Unit= or User=", "refused", false,
                                                          message),
                                       false, c)->action = ACTION_REFUSED;
                }
        }
        for (unsigned i = 0; i < o->misplaced->len; i++) {
                const Misplaced *m = &g_array_index(o->misplaced, Misplaced, i);
                g_autofree char *list = cpumask_format_list(&m->cpus);
                g_autofree char *object = g_strdup_printf("%d %s", (int) m->w->pid, m->w->comm);
                difference_add(diffs, finding_new("workload", object, list, "changed", true,
                                                  m->reconfigured ? "its group's CPUs or scheduling changed"
                                                                  : "a placed process's CPUs or scheduling changed"),
                               true, m)->action = ACTION_REPLACE;
        }
        if (o->thread_of)
                difference_add(diffs, finding_new("workload", o->thread_of->comm, "placed", "new thread", true,
                                                  "a new thread of a placed process"),
                               true, o)->action = ACTION_THREAD;
        for (unsigned i = 0; i < o->advice->len; i++) {
                const Finding *f = o->advice->pdata[i];
                difference_add(diffs, finding_copy(f), false, NULL);
        }
}

/* --- apply --- */

static void apply_candidate(const EnforcerContext *ctx, const Candidate *c, Difference *d) {
        WorkloadState *s = ctx->state;
        int r;

        /* It executed a program of its own: what it inherited is decided now. */
        g_hash_table_remove(s->inherited, GINT_TO_POINTER(c->pid));
        switch (d->action) {
        case ACTION_PLACE:
                r = place(ctx, c->verdict.group, c->pid, c->comm, c->verdict.by_unit, c->executed);
                d->repaired = r >= 0 || r == -ESRCH; /* gone meanwhile: nothing to report */
                break;
        case ACTION_LEAVE:
                log_notice("process %d (was %s) executed another program: no longer in group %s", (int) c->pid,
                           c->placed->comm, c->placed->group);
                forget_placement(ctx, c->placed, true);
                g_hash_table_remove(s->by_pid, GINT_TO_POINTER(c->pid));
                d->repaired = true;
                break;
        case ACTION_DROP_REALTIME:
                drop_inherited_realtime(ctx, c->pid, c->inherited);
                d->repaired = true;
                break;
        case ACTION_REFUSED:
                note_untrusted(ctx, c->pid, c->comm, &c->verdict);
                break;
        }
}

static void apply_misplaced(const EnforcerContext *ctx, const Misplaced *m, Difference *d) {
        Workload *w = m->w;
        bool changed = false;

        w->cpus = m->cpus;
        if (cpumask_is_empty(&w->cpus)) {
                d->repaired = true;
                return;
        }
        w->policy = m->policy;
        w->priority = m->priority;
        d->repaired = set_all_threads(ctx, w, &changed) >= 0;
        if (changed && !m->reconfigured)
                enforcer_emit(ctx, &(Event) { .kind = EVENT_DRIFT_CORRECTED, .finding = d->finding });
}

static int workload_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const WorkloadObservation *o = obs;

        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                bool changed = false;
                int r;

                switch (d->action) {
                case ACTION_PLACE:
                case ACTION_LEAVE:
                case ACTION_DROP_REALTIME:
                case ACTION_REFUSED:
                        apply_candidate(ctx, d->object, d);
                        break;
                case ACTION_REPLACE:
                        apply_misplaced(ctx, d->object, d);
                        break;
                case ACTION_THREAD:
                        r = set_thread(ctx, o->thread_of, o->tid, &changed);
                        if (r < 0 && r != -ESRCH)
                                log_warning_errno(r, "cannot place thread %d of %d %s: %m", (int) o->tid,
                                                  (int) o->thread_of->pid, o->thread_of->comm);
                        d->repaired = true;
                        break;
                }
        }
        return 0;
}

/* The placed processes (Workload*, owned by the enforcer), for GetWorkloads. */
static GPtrArray *workload_report(const EnforcerContext *ctx) {
        WorkloadState *s = ctx->state;
        GPtrArray *out = g_ptr_array_new();
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, s->by_pid);
        while (g_hash_table_iter_next(&it, NULL, &value))
                g_ptr_array_add(out, value);
        return out;
}

static int workload_revert(const EnforcerContext *ctx) {
        WorkloadState *s = ctx->state;
        g_hash_table_remove_all(s->by_pid);
        g_hash_table_remove_all(s->inherited);
        g_hash_table_remove_all(s->procs); /* the slices go */
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
        .triggers = TRIGGER_BIT(TRIGGER_EXEC) | TRIGGER_BIT(TRIGGER_FORK) | TRIGGER_BIT(TRIGGER_THREAD) |
                    TRIGGER_BIT(TRIGGER_EXIT) | TRIGGER_BIT(TRIGGER_LOST),
        .observe = workload_observe,
        .observation_free = workload_observation_free,
        .diff = workload_diff,
        .apply = workload_apply,
        .report = workload_report,
        .revert = workload_revert,
        .restore = workload_restore,
        .check_original = workload_check_original,
};
