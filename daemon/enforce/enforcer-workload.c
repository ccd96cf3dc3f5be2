/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "enforce/enforcer-workload.h"
#include "enforce/workload-classify.h"
#include "enforce/workload-threads.h"
#include "base/log.h"
#include "base/notice-limit.h"
#include "kernel/task.h"
#include "base/text.h"
#include "kernel/trust.h"

/* Processes are the host's (ctx->host): the proc connector announces real processes
 * whatever root describes the machine, and the cgroup files are the root's. Placing
 * saves the process's cgroup, affinity and scheduling first, so a revert puts it back;
 * a process that ends takes its originals with it.
 *
 * A process is its pid and its start time (/proc/PID/stat field 22) together, in every
 * table here and in every saved original: with process events lost, a placed process
 * may end and another take its pid, and that one is a stranger.
 *
 * Children. A placed process's children inherit its slice, CPUs and real-time
 * scheduling at fork. While they run the placed program they are its kin and keep them;
 * one that executes another program loses the real-time scheduling (it keeps the slice,
 * where its parent put it). The proc connector queues a process's events in the order it
 * made them (its exec before the forks of the program it executed, a fork before the
 * child's exec), but isolatord handles them later: a placed process may execute another
 * program and fork ten children that inherit real-time before its exec is handled. So
 * a process whose real-time isolatord withdrew is remembered while it lives (kin,
 * withdrawn), and a child it forked meanwhile loses real-time at its fork event; a
 * process that turns up with real-time and no such record (events lost) is traced to its
 * forebears through the kernel's parent links, by start time. A child is kin only while
 * it runs the very file its forebear runs (a CLONE_PARENT child of another program is
 * not), and every pass looks at the withdrawn again: a thread started while isolatord
 * took real-time away keeps nothing. Kin get their forebear's saved originals under
 * their own pid at their fork, so that a revert, a withdrawal and a placement in their
 * own right give back what the forebear had, also after the forebear ended or isolatord
 * restarted. SCHED_RESET_ON_FORK would close the window in the kernel, but a player that
 * sets its own threads' priorities without the flag gets EPERM once it is set, so it is
 * not used. */

#define MAX_UNOWNED_FINDINGS 10
/* Processes refused a placement that are still remembered as findings. */
#define MAX_UNTRUSTED 64
/* Forebears looked at to tell where a real-time process got its scheduling. */
#define LINEAGE_DEPTH 16
/* A move into a slice that systemd has not finished by then is given up and tried again. */
#define MOVE_TIMEOUT_USEC (30 * G_USEC_PER_SEC)
/* Refusal notices said per user and minute; the rest counted. */
#define NOTICE_BURST 5
#define NOTICE_WINDOW_USEC (60 * G_USEC_PER_SEC)
#define NOTICE_KEYS_MAX 256

static int restore_task(const EnforcerContext *ctx, const char *kind, pid_t pid, const char *value);

/* What placing saves of a process, in this order. */
static const char *const saved_kinds[] = { "cgroup", "affinity", "sched" };

/* A process that a placed one started: kin while it runs the placed program, withdrawn
 * once isolatord took its real-time scheduling (it executed another program). comm is
 * the name its own saved originals carry (a copy of its forebear's). */
typedef struct Kin {
        char *group;
        uint64_t start_time;
        char *comm;
        bool withdrawn;
        bool by_unit;             /* its forebear was placed for its Unit= */
        dev_t exe_dev;            /* the forebear's program */
        ino_t exe_ino;
} Kin;

typedef struct WorkloadState {
        GHashTable *by_pid;       /* pid -> Workload */
        GHashTable *kin;          /* pid -> Kin */
        GHashTable *untrusted;    /* pid -> Finding: looked like a workload, refused */
        NoticeLimit *notices;     /* refusals said, per user */
        CpuMask host_online;      /* this machine's online CPUs, as the last pass read them */
        bool host_online_read;
        Classifier *classifier;   /* the trust rule's memory */
        pid_t own_session;        /* isolatord's (may_touch, on a fake root) */
        char *own_top;            /* "/top" of isolatord's own cgroup, "" when the root
                                   * (may_touch, read once: not per process event) */
        GHashTable *procs;        /* slice folder's cgroup.procs (rel) -> RootFile, kept open */
        GHashTable *moving_gone;  /* pid -> Workload: ended while systemd's job moved it; its
                                   * pid may be in the scope now, another process's */
        GPtrArray *retired;       /* Workload* out of by_pid, freed at the next observation:
                                   * the current one may still point at them */
        char *thread_rules;       /* the [Thread] rules the last pass placed by (rules_text) */
} WorkloadState;

void workload_free(Workload *w) {
        if (!w)
                return;
        g_free(w->group);
        g_free(w->comm);
        if (w->threads)
                g_ptr_array_unref(w->threads);
        g_free(w);
}

static void kin_free(Kin *k) {
        g_free(k->group);
        g_free(k->comm);
        g_free(k);
}

static void *workload_state_new(void) {
        WorkloadState *s = g_new0(WorkloadState, 1);
        s->by_pid = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) workload_free);
        s->kin = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) kin_free);
        s->untrusted = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) finding_free);
        s->notices = notice_limit_new(NOTICE_BURST, NOTICE_WINDOW_USEC, NOTICE_KEYS_MAX);
        s->classifier = classifier_new();
        s->own_session = getsid(0);
        s->procs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) root_file_free);
        s->retired = g_ptr_array_new_with_free_func((GDestroyNotify) workload_free);
        s->moving_gone = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) workload_free);
        return s;
}

static void workload_state_free(void *p) {
        WorkloadState *s = p;
        if (!s)
                return;
        g_hash_table_unref(s->by_pid);
        g_hash_table_unref(s->kin);
        g_hash_table_unref(s->untrusted);
        notice_limit_free(s->notices);
        classifier_free(s->classifier);
        g_hash_table_unref(s->procs);
        g_ptr_array_unref(s->retired);
        g_hash_table_unref(s->moving_gone);
        g_free(s->thread_rules);
        g_free(s->own_top);
        g_free(s);
}

/* Out of the table; freed at the next observation (the current one may point at it). */
static void retire(WorkloadState *s, pid_t pid) {
        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(pid));
        if (w && g_hash_table_steal(s->by_pid, GINT_TO_POINTER(pid)))
                g_ptr_array_add(s->retired, w);
}

static int sched_of(SchedPolicy p) {
        switch (p) {
        case SCHED_POLICY_OTHER: return SCHED_OTHER;
        case SCHED_POLICY_FIFO: return SCHED_FIFO;
        case SCHED_POLICY_RR: return SCHED_RR;
        case SCHED_POLICY_UNSET:
        case SCHED_POLICY_KEEP: break; /* each thread's own */
        }
        return -1;
}

static bool realtime(int policy) {
        return policy == SCHED_FIFO || policy == SCHED_RR;
}

/* The placed process of pid, when pid is still that process (start: its start time now,
 * 0 to read it here). A stale entry (the process ended unseen, its pid reused) is
 * forgotten with its originals, which belong to nobody now. */
static void forget_placement(const EnforcerContext *ctx, const Workload *w, bool give_back);
static Workload *placed_of(const EnforcerContext *ctx, pid_t pid, uint64_t start) {
        WorkloadState *s = ctx->state;
        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(pid));
        if (!w)
                return NULL;
        if (start == 0 && task_read_start_time(ctx->host, pid, 0, &start) < 0)
                return w; /* gone: its exit event forgets it */
        if (w->start_time == start)
                return w;
        log_info("process %d is no longer %s (its pid was given to another process): forgetting the placement",
                 (int) pid, w->comm);
        forget_placement(ctx, w, false);
        retire(s, pid);
        return NULL;
}

/* The same for kin. */
static Kin *kin_of(const EnforcerContext *ctx, pid_t pid, uint64_t start) {
        WorkloadState *s = ctx->state;
        Kin *k = g_hash_table_lookup(s->kin, GINT_TO_POINTER(pid));
        if (!k)
                return NULL;
        if (start == 0 && task_read_start_time(ctx->host, pid, 0, &start) < 0)
                return k;
        if (k->start_time == start)
                return k;
        g_hash_table_remove(s->kin, GINT_TO_POINTER(pid));
        return NULL;
}

/* The key of a task's saved original of kind ("@workload sched PID START COMM"). */
static char *task_key(const char *kind, pid_t pid, uint64_t start, const char *comm) {
        g_autofree char *what = enforcer_task_entry(kind, pid, start, comm);
        return g_strdup_printf("@%s %s", enforcer_workload.name, what);
}

/* The file a process runs, as the kernel holds it (/proc/PID/exe's target). */
static bool exe_identity(const EnforcerContext *ctx, pid_t pid, dev_t *dev, ino_t *ino) {
        struct stat st;
        if (task_stat_exe(ctx->host, pid, &st) < 0)
                return false;
        *dev = st.st_dev;
        *ino = st.st_ino;
        return true;
}

/* What a forebear hands down to a child that runs its program. */
typedef struct Forebear {
        const char *group;
        pid_t pid;
        uint64_t start_time;
        const char *comm;         /* its saved originals' name */
        bool by_unit;
        dev_t exe_dev;
        ino_t exe_ino;
} Forebear;

static Forebear forebear_of_placed(const Workload *w) {
        return (Forebear) { w->group, w->pid, w->start_time, w->comm, w->by_unit, w->exe_dev, w->exe_ino };
}

static Forebear forebear_of_kin(pid_t pid, const Kin *k) {
        return (Forebear) { k->group, pid, k->start_time, k->comm, k->by_unit, k->exe_dev, k->exe_ino };
}

/* A child that runs its forebear's program: kin, with its forebear's saved originals
 * under its own pid (saved now, before anything can end the forebear). */
static void kin_add(const EnforcerContext *ctx, pid_t pid, uint64_t start, const char *comm, const Forebear *f) {
        WorkloadState *s = ctx->state;
        Kin *k = g_new0(Kin, 1);
        k->group = g_strdup(f->group);
        k->start_time = start;
        k->comm = g_strdup(comm);
        k->by_unit = f->by_unit;
        k->exe_dev = f->exe_dev;
        k->exe_ino = f->exe_ino;
        g_hash_table_replace(s->kin, GINT_TO_POINTER(pid), k);

        const char *whats[G_N_ELEMENTS(saved_kinds)], *values[G_N_ELEMENTS(saved_kinds)];
        char *owned[G_N_ELEMENTS(saved_kinds)] = {};
        size_t n = 0;
        for (size_t i = 0; i < G_N_ELEMENTS(saved_kinds); i++) {
                g_autofree char *from = task_key(saved_kinds[i], f->pid, f->start_time, f->comm);
                const char *value = originals_get(ctx->originals, from);
                if (!value)
                        continue;
                owned[n] = enforcer_task_entry(saved_kinds[i], pid, start, comm);
                whats[n] = owned[n];
                values[n++] = value;
        }
        if (n > 0 && enforcer_save_originals(ctx, &enforcer_workload, n, whats, values) < 0)
                log_warning("cannot save what %d, started by group %s, had: a revert cannot give it back", (int) pid,
                            f->group);
        for (size_t i = 0; i < n; i++)
                g_free(owned[i]);
}

/* Whether isolatord gives real-time scheduling to group's threads (its own policy; its
 * rules may give it only where it does). */
static bool group_gives_realtime(const Config *c, const char *group) {
        const GroupConfig *g = config_find_group(c, group);
        return g && realtime(sched_of(g->sched_policy));
}

/* A process that carries what the group gave it but no longer belongs (it executed
 * another program): what it had before (its own saved originals, copied from its
 * forebear) is put back, its cgroup included; without them, its real-time is taken
 * away. Remembered as withdrawn while it lives (comm: the name its originals carry). */
static void withdraw(const EnforcerContext *ctx, pid_t pid, uint64_t start, const char *comm, const char *group) {
        WorkloadState *s = ctx->state;
        Kin *k = g_hash_table_lookup(s->kin, GINT_TO_POINTER(pid));
        const char *key_comm = k && k->start_time == start ? k->comm : comm;

        if (!task_is(ctx->host, pid, start))
                return;
        /* Its slice and CPUs stay (what it runs is still the player's business); its
         * scheduling goes back to what the forebear had, in every thread. */
        g_autofree char *key = task_key("sched", pid, start, key_comm);
        const char *value = originals_get(ctx->originals, key);
        /* A group that gives no real-time (keep: the program's own) has none to take. */
        if (!ctx->dry_run && (value || group_gives_realtime(ctx->config, group))) {
                int r = restore_task(ctx, value ? "sched" : "realtime", pid, value);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "cannot take real-time scheduling from %d: %m", (int) pid);
        }
        /* Its saved originals stay while it lives: a child it forked meanwhile gets them
         * too (kin_add), and its exit forgets them. */
        if (!k || k->start_time != start) {
                k = g_new0(Kin, 1);
                k->group = g_strdup(group);
                k->start_time = start;
                k->comm = g_strdup(comm);
                g_hash_table_replace(s->kin, GINT_TO_POINTER(pid), k);
        }
        k->withdrawn = true;
        log_notice("process %d, started by group %s, executed another program: real-time scheduling withdrawn",
                   (int) pid, group);
}


/* Refusals held back by the notice limit, said as one line per user. */
static void say_held(const char *key, uint64_t held, void *userdata) {
        log_notice("... and %" G_GUINT64_FORMAT " more process(es) of %s refused a placement (said %d times a "
                   "minute at most)", held, key, NOTICE_BURST);
}

/* A refused process is remembered while it lives, as a finding of verify; said a few
 * times a minute per user, then counted. */
static void note_untrusted(const EnforcerContext *ctx, pid_t pid, const char *comm, const Verdict *v) {
        WorkloadState *s = ctx->state;
        /* Not the name: mid-exec it still says the old program's while the file is the new. */
        g_autofree char *raw = g_strdup_printf("%d uid %d %s", (int) pid, (int) v->uid, v->exe);
        g_autofree char *object = text_printable(raw); /* as the stored finding has it */
        const Finding *known = g_hash_table_lookup(s->untrusted, GINT_TO_POINTER(pid));
        if (known && g_str_equal(known->object, object))
                return;
        g_autofree char *message = g_strdup_printf("%s not placed in group %s: %s", comm, v->group->name, v->why);
        /* Per user, not per executable: a user can copy a program under any number of
         * names. */
        g_autofree char *key = g_strdup_printf("uid %d", (int) v->uid);
        if (notice_limit_allow(s->notices, key, g_get_monotonic_time()))
                log_notice("process %s: %s", object, message); /* printable: the names are a user's */
        if (!known && g_hash_table_size(s->untrusted) >= MAX_UNTRUSTED)
                return;
        Finding *f = finding_new("untrusted-workload", object, "a trusted executable, Unit= or User=", "refused", false,
                                 message);
        g_hash_table_insert(s->untrusted, GINT_TO_POINTER(pid), f);
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* This machine's online CPUs (empty: unknown), read again by every pass, not at every
 * exec. */
static const CpuMask *host_online(const EnforcerContext *ctx) {
        WorkloadState *s = ctx->state;
        if (!s->host_online_read) {
                if (root_read_cpulist(ctx->host, "sys/devices/system/cpu/online", &s->host_online) < 0)
                        cpumask_zero(&s->host_online);
                s->host_online_read = true;
        }
        return &s->host_online;
}

/* The group's CPUs that this machine has: a fake root may describe more. */
static void usable_cpus(const EnforcerContext *ctx, const GroupConfig *g, CpuMask *out) {
        const CpuMask *online = host_online(ctx);
        if (cpumask_is_empty(online))
                *out = g->cpus;
        else
                cpumask_and(out, &g->cpus, online);
}

/* Threads of w given what their rule or their group gives them (thread_look()), what
 * each had saved first, in one write of the store: a thread whose original could not
 * be saved is left as it is. */
static int set_threads(const EnforcerContext *ctx, const Workload *w, GArray *looks, bool *changed) {
        g_autoptr(GPtrArray) whats = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
        int first_error = 0;

        for (unsigned i = 0; i < looks->len; i++)
                thread_originals_add(ctx, w, &g_array_index(looks, ThreadLook, i), whats, values);
        if (whats->len > 0 &&
            enforcer_save_originals(ctx, &enforcer_workload, whats->len, (const char *const *) whats->pdata,
                                    (const char *const *) values->pdata) < 0)
                return -EIO;
        for (unsigned i = 0; i < looks->len; i++) {
                int r = thread_set(ctx, &g_array_index(looks, ThreadLook, i), changed);
                if (r < 0 && r != -ESRCH && first_error == 0)
                        first_error = r;
        }
        return first_error;
}

static GArray *looks_new(void) {
        GArray *looks = g_array_new(false, true, sizeof(ThreadLook));
        g_array_set_clear_func(looks, (GDestroyNotify) thread_look_clear);
        return looks;
}

/* Affinity and scheduling of one thread of w (the caller knows tid is one of its
 * threads; now: what it read of it, or NULL); true in changed when something had to
 * change. */
static int set_thread(const EnforcerContext *ctx, const Workload *w, pid_t tid, const ThreadNow *now, bool *changed) {
        g_autoptr(GArray) looks = looks_new();
        ThreadLook l;

        if (!thread_look(ctx, w, tid, host_online(ctx), now, &l))
                return -ESRCH;
        g_array_append_val(looks, l);
        return set_threads(ctx, w, looks, changed);
}

/* Every thread of w, when its pid is still w. */
static int set_all_threads(const EnforcerContext *ctx, const Workload *w, bool *changed) {
        if (!task_is(ctx->host, w->pid, w->start_time))
                return -ESRCH;
        g_autoptr(GArray) tids = task_list_threads(ctx->host, w->pid);
        g_autoptr(GArray) looks = looks_new();
        for (unsigned i = 0; i < tids->len; i++) {
                ThreadLook l;
                if (thread_look(ctx, w, g_array_index(tids, pid_t, i), host_online(ctx), NULL, &l))
                        g_array_append_val(looks, l);
        }
        return set_threads(ctx, w, looks, changed);
}

static char *scope_name(const char *group, pid_t pid) {
        return g_strdup_printf("isolatord-%s-%d.scope", group, (int) pid);
}

/* Where a process is, as a path under sys/fs/cgroup that restore_task() writes it back
 * to: its v2 cgroup, or on a v1 cpuset hierarchy "/cpuset" and its path there (the top
 * when the host keeps no such line: a fake v1 root on a v2 host). */
static int original_cgroup(const EnforcerContext *ctx, CgroupBackend backend, pid_t pid, char **out) {
        g_autofree char *v1 = NULL;
        if (backend != CGROUP_BACKEND_CGROUPFS_V1)
                return task_read_cgroup(ctx->host, pid, out);
        if (task_read_cgroup_v1(ctx->host, "cpuset", pid, &v1) < 0 || v1[0] != '/') {
                TaskPath p; /* "proc/PID/": the process's folder */
                if (!root_exists(ctx->host, task_path(&p, pid, 0, "")))
                        return -ESRCH;
                g_free(v1);
                v1 = g_strdup("/");
        }
        *out = g_strconcat("/", CGROUP_V1_CPUSET + strlen("sys/fs/cgroup/"), g_str_equal(v1, "/") ? "" : v1, NULL);
        return 0;
}

/* Into the group's slice: 0 when it is there, 1 when systemd's job will say (a
 * TRIGGER_MOVED), or a negative errno. */
static int move_to_slice(const EnforcerContext *ctx, CgroupBackend backend, const GroupConfig *g, pid_t pid) {
        g_autoptr(GError) e = NULL;
        if (backend == CGROUP_BACKEND_SYSTEMD) {
                g_autofree char *scope = scope_name(g->name, pid);
                int r = cgroups_systemd_attach(ctx->cgroups, g->slice, scope, pid, &e);
                if (r < 0)
                        log_warning("%s", e->message);
                return r;
        }
        WorkloadState *s = ctx->state;
        g_autofree char *dir = cgroup_unit_rel(backend, g->slice);
        g_autofree char *rel = g_strconcat(dir, "/cgroup.procs", NULL);
        g_autofree char *text = g_strdup_printf("%d", (int) pid);
        RootFile *procs = g_hash_table_lookup(s->procs, rel);
        if (!procs) {
                procs = root_file_new(ctx->root, rel);
                g_hash_table_insert(s->procs, g_steal_pointer(&rel), procs);
        }
        return root_file_write(procs, text);
}

/* Its CPUs and scheduling, once it is in its slice: under cgroup v2 the kernel refuses
 * CPUs outside the cpuset of the cgroup a process is in (EINVAL), so not before.
 * executed: it has just executed a program, and so has one thread (exec ends the
 * others; threads it starts after come as events of their own); now: what the caller
 * read of that thread, or NULL. */
static void finish_placement(const EnforcerContext *ctx, Workload *w, bool executed, bool in_unit,
                             const ThreadNow *now) {
        int r = 0;
        bool changed = false;

        if (cpumask_is_empty(&w->cpus)) {
                /* Real-time scheduling off the group's CPUs could starve housekeeping. */
                log_warning("%d %s: none of group %s's CPUs exist here; its CPUs and scheduling are left alone",
                            (int) w->pid, w->comm, w->group);
                w->policy = -1;
                w->priority = 0;
        } else if (executed) {
                /* Its one thread, the process itself: what it had is what place() saved a
                 * moment ago as the process's (its CPUs, and its scheduling wherever the
                 * group or a rule sets one), so nothing is looked up or saved again. */
                ThreadLook l;
                r = thread_look(ctx, w, w->pid, host_online(ctx), now, &l) ? thread_set(ctx, &l, &changed) : -ESRCH;
                thread_look_clear(&l);
        } else
                r = set_all_threads(ctx, w, &changed);
        w->save_threads = false; /* its threads' own values are saved, or were its own already */
        if (r == -EINVAL && in_unit)
                log_warning("cannot give %d %s group %s's CPUs: its unit's slice does not allow them (give the unit "
                            "Slice=%s)", (int) w->pid, w->comm, w->group,
                            config_find_group(ctx->config, w->group)->slice);
        else if (r < 0 && r != -ESRCH)
                log_warning_errno(r, "cannot set the CPUs or scheduling of %d %s: %m", (int) w->pid, w->comm);
        if (r == -ESRCH)
                return; /* it ended meanwhile: its exit forgets it */
        w->placed_usec = now_realtime_usec();
        g_autofree char *cpus = cpumask_format_list(&w->cpus);
        g_autofree char *sched = r < 0 ? g_strdup("its CPUs and scheduling refused: see above")
                                 : w->policy >= 0 ? g_strdup_printf("%s %d", task_policy_name(w->policy), w->priority)
                                                  : g_strdup("scheduling the program's own");
        log_info("placed %d %s in group %s (CPUs %s, %s)", (int) w->pid, w->comm, w->group, *cpus ? cpus : "unchanged",
                 sched);
        enforcer_emit(ctx, &(Event) { .kind = EVENT_WORKLOAD_PLACED, .group = w->group, .pid = w->pid,
                                      .comm = w->comm });
}

/* v: the trust rule's verdict (its group; the file it runs, when it looked). kin_comm:
 * kin placed in its own right (its forebear's originals saved under its own pid by that
 * name): what it had before isolatord is what its forebear had, not what it inherited.
 * stat_fd: its /proc/PID/stat, open since its exec event (task_stat_open), or -1. */
static int place(const EnforcerContext *ctx, const Verdict *v, pid_t pid, uint64_t start, const char *comm,
                 const char *kin_comm, bool executed, int stat_fd) {
        WorkloadState *s = ctx->state;
        const GroupConfig *g = v->group;
        bool in_unit = v->by_unit;
        CgroupBackend backend = cgroups_backend(ctx->cgroups, ctx->root, ctx->config);
        g_autoptr(GHashTable) saved = NULL;
        g_autofree char *cgroup = NULL;
        CpuMask was;
        TaskStat now;
        int r;

        /* Originals first: where it was, its CPUs, its scheduling; read, then checked to
         * be the same process's (the pid could have been reused in between). */
        const char *key_comm = kin_comm ? kin_comm : comm;
        g_autofree char *what_cg = enforcer_task_entry("cgroup", pid, start, key_comm);
        g_autofree char *what_aff = enforcer_task_entry("affinity", pid, start, key_comm);
        g_autofree char *what_sched = enforcer_task_entry("sched", pid, start, key_comm);
        if (task_get_affinity(ctx->host, pid, &was) < 0 || original_cgroup(ctx, backend, pid, &cgroup) < 0)
                return -ESRCH; /* gone already */
        /* Its stat last, which also says its scheduling: through the file opened at its
         * exec, a read that succeeds is that process's. */
        r = stat_fd >= 0 ? task_stat_reread(stat_fd, &now) : task_read_stat(ctx->host, pid, 0, &now);
        if (r < 0 || now.start_time != start)
                return -ESRCH;
        g_autofree char *was_list = cpumask_format_list(&was);
        g_autofree char *was_sched = g_strdup_printf("%d %d", now.policy, now.rt_priority);
        g_autofree char *aff_key = task_key("affinity", pid, start, key_comm);
        /* Not after a restart or for kin: their threads carry what isolatord gave. */
        bool first = !originals_has(ctx->originals, aff_key);
        /* Kin's are its forebear's, saved at its fork: remembered first, they stay. Its
         * scheduling only where the group sets it: a group that leaves it to the program
         * (keep) gives nothing back that the program set. */
        size_t n_saved = sched_of(g->sched_policy) >= 0 ? 3 : 2;
        if (enforcer_save_originals(ctx, &enforcer_workload, n_saved, (const char *const[]) { what_cg, what_aff, what_sched },
                                    (const char *const[]) { cgroup, was_list, was_sched }) < 0)
                return -EIO;
        if (ctx->dry_run) {
                log_info("dry run: would place %d %s in %s", (int) pid, comm, g->slice);
                return 0;
        }
        Workload *w = g_new0(Workload, 1);
        w->group = g_strdup(g->name);
        w->pid = pid;
        w->start_time = start;
        w->comm = g_strdup(key_comm);
        w->by_unit = in_unit;
        w->save_threads = first;
        if (v->has_exe_id) {
                w->exe_dev = v->exe_dev;
                w->exe_ino = v->exe_ino;
        } else
                (void) exe_identity(ctx, pid, &w->exe_dev, &w->exe_ino);
        w->policy = sched_of(g->sched_policy);
        w->priority = g->sched_priority;
        usable_cpus(ctx, g, &w->cpus);
        retire(s, pid); /* a placement in another group */
        g_hash_table_insert(s->by_pid, GINT_TO_POINTER(pid), w);

        /* Under systemd a unit's process stays in its unit, or systemd would lose track of
         * it (systemctl stop): the unit's Slice= puts it in the group's slice. */
        bool moves = !(in_unit && backend == CGROUP_BACKEND_SYSTEMD);
        r = moves ? move_to_slice(ctx, backend, g, pid) : 0;
        if (r == 1) {
                /* The rest when systemd's job has ended (workload_moved). */
                w->moving = true;
                w->moving_since = g_get_monotonic_time();
                log_debug("moving %d %s into %s", (int) pid, comm, g->slice);
                return 1;
        }
        if (r < 0)
                log_warning_errno(r, "cannot move %d %s into %s: %m", (int) pid, comm, g->slice);
        /* Its thread as read above, but for its CPUs when the kernel has just moved it
         * into a cpuset (which sets them). */
        ThreadNow main_thread = { .has_cpus = !(moves && r == 0 && root_is_host(ctx->root)), .cpus = was,
                                  .policy = now.policy, .priority = now.rt_priority };
        finish_placement(ctx, w, executed, in_unit, &main_thread);
        return 1;
}

/* A fake root describes another machine: of this one's processes (session: their
 * stat's), only those of isolatord's own session (a test's or the demo's children), or
 * in the top cgroup folder isolatord runs in when that is not the root cgroup (a test's
 * own folder, where its private systemd manager starts units in sessions of their own),
 * are acted on. */
static bool may_touch(const EnforcerContext *ctx, pid_t pid, int session) {
        WorkloadState *s = ctx->state;
        g_autofree char *theirs = NULL;
        if (root_is_host(ctx->root) || session == s->own_session)
                return true;
        if (!s->own_top) {
                g_autofree char *own = NULL;
                if (task_read_cgroup(ctx->host, getpid(), &own) < 0 || own[0] != '/' || !own[1])
                        s->own_top = g_strdup("");
                else
                        s->own_top = g_strndup(own, 1 + strcspn(own + 1, "/"));
        }
        if (!*s->own_top || task_read_cgroup(ctx->host, pid, &theirs) < 0)
                return false;
        return g_str_has_prefix(theirs, s->own_top) && theirs[strlen(s->own_top)] == '/';
}

/* Puts a living process's saved originals back on it (cgroup, CPUs, scheduling). */
static void give_back(const EnforcerContext *ctx, pid_t pid, uint64_t start, const char *comm) {
        for (size_t i = 0; i < G_N_ELEMENTS(saved_kinds) && !ctx->dry_run && task_is(ctx->host, pid, start); i++) {
                g_autofree char *key = task_key(saved_kinds[i], pid, start, comm);
                const char *value = originals_get(ctx->originals, key);
                int r = value ? restore_task(ctx, saved_kinds[i], pid, value) : 0;
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "cannot give %d its %s back: %m", (int) pid, saved_kinds[i]);
        }
}

/* Forgets the originals saved when w was placed; with give_back, restores them first
 * (the process lives on, no longer a workload). */
static void forget_placement(const EnforcerContext *ctx, const Workload *w, bool give_back) {
        g_autoptr(GHashTable) gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GError) e = NULL;
        for (size_t i = 0; i < G_N_ELEMENTS(saved_kinds); i++) {
                g_autofree char *key = task_key(saved_kinds[i], w->pid, w->start_time, w->comm);
                const char *value = originals_get(ctx->originals, key);
                if (give_back && value && !ctx->dry_run && task_is(ctx->host, w->pid, w->start_time)) {
                        int r = restore_task(ctx, saved_kinds[i], w->pid, value);
                        if (r < 0 && r != -ENOENT)
                                log_warning_errno(r, "cannot give %d its %s back: %m", (int) w->pid, saved_kinds[i]);
                }
                g_hash_table_add(gone, g_steal_pointer(&key));
        }
        if (!ctx->dry_run && originals_forget(ctx->originals, gone, &e) < 0)
                log_warning("%s", e->message);
}

/* The group a process's real-time scheduling came from, when one of its forebears
 * (by the kernel's parent links, each older than its child) is placed or kin; NULL
 * otherwise. */
static const char *forebear_group(const EnforcerContext *ctx, const TaskStat *st) {
        uint64_t younger = st->start_time;
        pid_t parent = st->ppid;
        for (int depth = 0; depth < LINEAGE_DEPTH && parent > 1; depth++) {
                TaskStat p;
                if (task_read_stat(ctx->host, parent, 0, &p) < 0 || p.start_time > younger)
                        return NULL;
                Workload *w = placed_of(ctx, parent, p.start_time);
                if (w && !w->moving)
                        return w->group;
                Kin *k = kin_of(ctx, parent, p.start_time);
                if (k)
                        return k->group;
                younger = p.start_time;
                parent = p.ppid;
        }
        return NULL;
}

/* --- observe --- */

/* A process as the trust rule sees it, with what isolatord knows of it. */
typedef struct Candidate {
        pid_t pid;
        uint64_t start_time;
        char *comm;
        Verdict verdict;
        Workload *placed;      /* the state's, when it is placed */
        bool executed;         /* observed at its exec event */
        int stat_fd;           /* its /proc/PID/stat, kept open since its exec event, or -1 */
        char *inherited;       /* the group whose real-time it carries from a forebear, or NULL */
        char *kin_comm;        /* kin: the name its saved originals carry */
} Candidate;

/* A placed process whose threads differ from its placement. */
typedef struct Misplaced {
        Workload *w;           /* the state's */
        CpuMask cpus;          /* the group's CPUs as configured now */
        int policy, priority;
        bool reconfigured;     /* the group or its thread rules changed, not the process */
} Misplaced;

typedef struct WorkloadObservation {
        GArray *candidates;    /* Candidate */
        GArray *misplaced;     /* Misplaced */
        GPtrArray *advice;     /* Finding*: what a pass reports and apply leaves (processes on
                                * group CPUs that belong to no group, placed ones' limits) */
        Workload *thread_of;   /* TRIGGER_THREAD, TRIGGER_COMM: the placed process, and its new or renamed thread */
        pid_t tid;
        bool renamed;
        Workload *moved;       /* TRIGGER_MOVED: the process systemd moved, or failed to */
        int move_error;
        GPtrArray *stuck;      /* Workload*: moves systemd never finished */
        char *thread_rules;    /* a pass: the rules it placed threads by (rules_text) */
} WorkloadObservation;

static void candidate_clear(Candidate *c) {
        if (c->stat_fd >= 0)
                close(c->stat_fd);
        g_free(c->comm);
        verdict_clear(&c->verdict);
        g_free(c->inherited);
        g_free(c->kin_comm);
}

static void workload_observation_free(void *p) {
        WorkloadObservation *o = p;
        g_array_unref(o->candidates);
        g_array_unref(o->misplaced);
        g_ptr_array_unref(o->advice);
        g_ptr_array_unref(o->stuck);
        g_free(o->thread_rules);
        g_free(o);
}

/* A process that executed a program (or, on a scan, any process; st: its stat when the
 * caller has it): what the trust rule says of it now, and whether it carries real-time
 * scheduling it had from a placed forebear. */
static void observe_exec(const EnforcerContext *ctx, WorkloadObservation *o, pid_t pid, const TaskStat *st,
                         bool executed) {
        WorkloadState *s = ctx->state;
        Candidate c = { .pid = pid, .executed = executed, .stat_fd = -1 };
        TaskStat own;
        /* The executable first: right after an exec, the first look at /proc/PID costs
         * least as this one (a stat or comm read first waits several times as long). */
        g_autofree char *exe = workload_any_match(ctx->config) ? task_read_exe(ctx->host, pid) : NULL;

        if (!workload_any_match(ctx->config))
                return;
        /* Named by its executable when that is a group's: its own name (comm) is not
         * read then, and is only the process's choice. Otherwise the name is read, to
         * tell a process named like a workload. */
        if (workload_any_exe_match(ctx->config, exe)) {
                c.comm = text_printable(text_file_name(exe));
        } else if (task_read_comm(ctx->host, pid, &c.comm) < 0)
                return;
        if (!st) {
                /* Kept open: placing it reads it again through this file. */
                if ((c.stat_fd = task_stat_open(ctx->host, pid, &own)) < 0) {
                        g_free(c.comm);
                        return; /* gone */
                }
                st = &own;
        }
        c.start_time = st->start_time;
        if (!may_touch(ctx, pid, st->session)) {
                candidate_clear(&c);
                return;
        }
        c.placed = placed_of(ctx, pid, c.start_time);
        workload_classify(ctx, s->classifier, pid, c.comm, exe, &c.verdict);
        Kin *k = kin_of(ctx, pid, c.start_time);
        if (k && !k->withdrawn)
                c.kin_comm = g_strdup(k->comm); /* placed itself, it keeps its forebear's originals */
        if (!c.verdict.place) {
                /* Real-time from a forebear: kin that executed another program, or a
                 * process whose fork and exec went unseen (events lost). */
                if (k && !k->withdrawn)
                        c.inherited = g_strdup(k->group);
                else if (!k && !c.placed && realtime(st->policy) &&
                           (g_hash_table_size(s->by_pid) > 0 || g_hash_table_size(s->kin) > 0))
                        c.inherited = g_strdup(forebear_group(ctx, st));
        }
        if (!c.verdict.group || c.verdict.place)
                g_hash_table_remove(s->untrusted, GINT_TO_POINTER(pid));
        g_array_append_val(o->candidates, c);
}

/* A new thread of a placed process, or a thread that renamed itself (renamed: its name
 * may select another rule of its group; a rename in a group without rules changes
 * nothing, and one in a process that is not placed earns nothing): only when that
 * process is still the one placed and the thread is one of its own. */
static void observe_thread(const EnforcerContext *ctx, WorkloadObservation *o, pid_t tgid, pid_t tid, bool renamed) {
        Workload *w = placed_of(ctx, tgid, 0);
        if (!w || w->moving || cpumask_is_empty(&w->cpus) ||
            (renamed && !config_group_has_thread_rules(ctx->config, w->group)))
                return;
        g_autofree char *rel = g_strdup_printf("proc/%d/task/%d", (int) tgid, (int) tid);
        if (task_is(ctx->host, tgid, w->start_time) && root_exists(ctx->host, rel)) {
                o->thread_of = w;
                o->tid = tid;
                o->renamed = renamed;
        }
}

/* A fork: the child of a placed process, or of its kin, is kin while it runs their
 * program (CLONE_PARENT lets another program give a placed process children; exec
 * events may be handled after the forks they precede). The child of a process whose
 * real-time was withdrawn was born with it before the withdrawal landed, and loses it;
 * so does a child that runs another program. */
static void observe_fork(const EnforcerContext *ctx, WorkloadObservation *o, pid_t parent, pid_t child) {
        WorkloadState *s = ctx->state;
        uint64_t pstart = 0, cstart;
        TaskStat cst;
        Forebear f;
        bool withdrawn = false;

        if (!g_hash_table_contains(s->by_pid, GINT_TO_POINTER(parent)) &&
            !g_hash_table_contains(s->kin, GINT_TO_POINTER(parent)))
                return;
        /* A parent that has ended already is taken at its word: its exit comes after
         * its forks, and forgets it. */
        (void) task_read_start_time(ctx->host, parent, 0, &pstart);
        Workload *w = pstart ? placed_of(ctx, parent, pstart) : g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(parent));
        Kin *k = pstart ? kin_of(ctx, parent, pstart) : g_hash_table_lookup(s->kin, GINT_TO_POINTER(parent));
        if (w && !w->moving)
                f = forebear_of_placed(w);
        else if (k) {
                f = forebear_of_kin(parent, k);
                withdrawn = k->withdrawn;
        } else
                return;
        if (task_read_stat(ctx->host, child, 0, &cst) < 0 || !may_touch(ctx, child, cst.session))
                return; /* gone already */
        cstart = cst.start_time;
        Candidate c = { .pid = child, .start_time = cstart, .inherited = g_strdup(f.group), .stat_fd = -1 };
        if (task_read_comm(ctx->host, child, &c.comm) < 0) {
                candidate_clear(&c);
                return;
        }
        dev_t dev;
        ino_t ino;
        /* A Unit= forebear's children are its unit's (the pass places them by it). */
        bool same_program = f.by_unit || (exe_identity(ctx, child, &dev, &ino) && dev == f.exe_dev && ino == f.exe_ino);
        /* Its forebear's originals under its own pid either way: what a withdrawal gives
         * back. */
        kin_add(ctx, child, cstart, c.comm, &f);
        if (!withdrawn && same_program) {
                candidate_clear(&c);
                return;
        }
        g_array_append_val(o->candidates, c);
}

/* Whether any thread of a placed process is off what its rule or its group gives it
 * (a foreign change, or a rename the proc connector did not tell). */
static bool threads_differ(const EnforcerContext *ctx, const Workload *w) {
        g_autoptr(GArray) tids = task_list_threads(ctx->host, w->pid);
        for (unsigned i = 0; i < tids->len; i++) {
                ThreadLook l;
                if (!thread_look(ctx, w, g_array_index(tids, pid_t, i), host_online(ctx), NULL, &l))
                        continue;
                bool off = thread_off_target(&l);
                thread_look_clear(&l);
                if (off)
                        return true;
        }
        return false;
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
                TaskPath p;
                const char *rel = task_path(&p, w->pid, 0, "limits");
                g_autofree char *limits = NULL;
                g_autofree char *object = g_strdup_printf("%d %s", (int) w->pid, w->comm);
                if (root_read(ctx->host, rel, &limits, NULL) >= 0)
                        workload_limits_advice(object, w->policy, w->priority, limits, o->advice);
        }
}

static void observe_unowned(const EnforcerContext *ctx, WorkloadObservation *o) {
        WorkloadState *s = ctx->state;
        const GArray *tasks = pass_inputs_tasks(ctx->inputs);
        unsigned unowned = 0;
        CpuMask groups;

        config_isolated_cpus(ctx->config, &groups);
        for (unsigned i = 0; i < tasks->len; i++) {
                const Task *t = &g_array_index(tasks, Task, i);
                pid_t pid = t->pid;
                const TaskStat st = t->stat;
                if ((root_is_host(ctx->root) && (pid == getpid() || g_hash_table_contains(s->by_pid, GINT_TO_POINTER(pid)) ||
                                                 g_hash_table_contains(s->kin, GINT_TO_POINTER(pid)))) ||
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


/* Saved originals of processes that are gone, or whose pid another process has now
 * (they ended while isolatord was down, or their exit went unseen): they belong to
 * nobody, and are dropped rather than ever written to a stranger. */
static void forget_the_dead(const EnforcerContext *ctx) {
        g_autoptr(GHashTable) gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GError) e = NULL;
        g_autofree char *prefix = g_strdup_printf("@%s ", enforcer_workload.name);

        for (guint i = 0; i < originals_count(ctx->originals); i++) {
                const char *key = originals_path(ctx->originals, i);
                uint64_t start;
                pid_t pid;
                if (!g_str_has_prefix(key, prefix) ||
                    !enforcer_parse_task_entry(key + strlen(prefix), NULL, &pid, &start, NULL))
                        continue;
                if (!task_is(ctx->host, pid, start))
                        g_hash_table_add(gone, g_strdup(key));
        }
        if (g_hash_table_size(gone) == 0 || ctx->dry_run)
                return;
        log_debug("%u saved original(s) of ended processes dropped", g_hash_table_size(gone));
        if (originals_forget(ctx->originals, gone, &e) < 0)
                log_warning("%s", e->message);
}

/* Whether a withdrawn process has a thread at its group's real-time scheduling again (a
 * thread it started while isolatord took it away inherited it). Another policy or
 * priority is its program's own doing. */
static bool group_realtime_left(const EnforcerContext *ctx, pid_t pid, const char *group) {
        const GroupConfig *g = config_find_group(ctx->config, group);
        int want = g ? sched_of(g->sched_policy) : -1;
        if (!g || !realtime(want))
                return false;
        g_autoptr(GArray) tids = task_list_threads(ctx->host, pid);
        for (unsigned i = 0; i < tids->len; i++) {
                int policy, prio;
                if (task_get_sched(ctx->host, g_array_index(tids, pid_t, i), &policy, &prio) >= 0 && policy == want &&
                    prio == g->sched_priority)
                        return true;
        }
        return false;
}

static void observe_withdrawn_again(WorkloadObservation *o, pid_t pid, const Kin *k) {
        Candidate c = { .pid = pid, .start_time = k->start_time, .comm = g_strdup(k->comm), .stat_fd = -1,
                        .inherited = g_strdup(k->group) };
        g_array_append_val(o->candidates, c);
}

/* The thread rules as a text that differs when any of them does: a reload that changes
 * them is not drift. */
static char *rules_text(const Config *c) {
        GString *out = g_string_new(NULL);
        for (unsigned i = 0; i < c->thread_rules->len; i++) {
                const ThreadRule *r = c->thread_rules->pdata[i];
                g_autofree char *match = g_strjoinv(";", r->match), *cpus = cpumask_format_list(&r->cpus);
                g_string_append_printf(out, "%s %s %s %d%s %d %d\n", r->name, r->group, match, r->has_cpus, cpus,
                                       r->sched_policy, r->sched_priority);
        }
        return g_string_free(out, false);
}

/* Every process: the placed ones still alive and right, the others classified (a pass,
 * or process events lost). */
static void observe_all(const EnforcerContext *ctx, WorkloadObservation *o, bool pass) {
        WorkloadState *s = ctx->state;
        GHashTableIter it;
        gpointer key, value;
        int64_t now = g_get_monotonic_time();

        s->host_online_read = false; /* CPUs may have gone offline or come back */
        o->thread_rules = rules_text(ctx->config); /* the state's once applied: a user's Verify only observes */
        bool rules_changed = s->thread_rules && !g_str_equal(o->thread_rules, s->thread_rules);
        classifier_forget(s->classifier); /* a mount on a kept folder is not reported; units move */
        g_hash_table_remove_all(s->procs); /* slices may have been made again */
        g_autoptr(GArray) ended = g_array_new(false, false, sizeof(pid_t));
        g_hash_table_iter_init(&it, s->by_pid);
        while (g_hash_table_iter_next(&it, &key, &value)) {
                Workload *w = value;
                const GroupConfig *g = config_find_group(ctx->config, w->group);
                if (!task_is(ctx->host, w->pid, w->start_time)) {
                        /* Gone (its exit unseen), or its pid is another process's now. */
                        forget_placement(ctx, w, false);
                        g_array_append_val(ended, w->pid);
                        continue;
                }
                if (!g) {
                        g_array_append_val(ended, w->pid); /* its group is gone */
                        continue;
                }
                if (w->moving) {
                        if (now - w->moving_since >= MOVE_TIMEOUT_USEC)
                                g_ptr_array_add(o->stuck, w);
                        continue;
                }
                Misplaced m = { .w = w, .policy = sched_of(g->sched_policy), .priority = g->sched_priority };
                usable_cpus(ctx, g, &m.cpus);
                m.reconfigured = rules_changed || !cpumask_equal(&m.cpus, &w->cpus) ||
                                 (!cpumask_is_empty(&m.cpus) && (m.policy != w->policy || m.priority != w->priority));
                if (m.reconfigured || (!cpumask_is_empty(&w->cpus) && threads_differ(ctx, w)))
                        g_array_append_val(o->misplaced, m);
        }
        for (unsigned i = 0; i < ended->len; i++)
                retire(s, g_array_index(ended, pid_t, i));
        g_hash_table_iter_init(&it, s->moving_gone);
        while (g_hash_table_iter_next(&it, &key, &value)) {
                Workload *w = value;
                if (now - w->moving_since < MOVE_TIMEOUT_USEC)
                        continue;
                forget_placement(ctx, w, false); /* its job never ended */
                g_hash_table_iter_steal(&it);
                g_ptr_array_add(s->retired, w);
        }
        g_hash_table_iter_init(&it, s->kin);
        while (g_hash_table_iter_next(&it, &key, &value)) {
                Kin *k = value;
                pid_t pid = GPOINTER_TO_INT(key);
                if (!task_is(ctx->host, pid, k->start_time))
                        g_hash_table_iter_remove(&it);
                else if (k->withdrawn && group_realtime_left(ctx, pid, k->group))
                        observe_withdrawn_again(o, pid, k);
        }
        g_hash_table_iter_init(&it, s->untrusted);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
                TaskStat st;
                if (task_read_stat(ctx->host, GPOINTER_TO_INT(key), 0, &st) < 0)
                        g_hash_table_iter_remove(&it); /* gone */
        }
        if (workload_any_match(ctx->config)) {
                /* This machine's processes, whatever root describes: the root's own table
                 * when they are the same. */
                g_autoptr(GArray) own = root_is_host(ctx->root) ? NULL : task_table_read(ctx->host);
                const GArray *tasks = own ? own : pass_inputs_tasks(ctx->inputs);
                for (unsigned i = 0; i < tasks->len; i++) {
                        const Task *t = &g_array_index(tasks, Task, i);
                        if ((t->stat.flags & TASK_PF_KTHREAD) ||
                            g_hash_table_contains(s->untrusted, GINT_TO_POINTER(t->pid)))
                                continue;
                        Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(t->pid));
                        /* A placed pid with another start: its placement goes at the next
                         * pass (this one may point at it). */
                        if (!w)
                                observe_exec(ctx, o, t->pid, &t->stat, false);
                }
        }
        if (pass) {
                forget_the_dead(ctx);
                notice_limit_flush(s->notices, now, say_held, NULL);
                observe_unowned(ctx, o);
                observe_limits(ctx, o);
        }
}

/* What an event reports is observed too: a fork notes whom the child belongs with, an
 * exit forgets the process and its saved originals. */
static void *workload_observe(const EnforcerContext *ctx, const Trigger *scope) {
        WorkloadState *s = ctx->state;
        WorkloadObservation *o = g_new0(WorkloadObservation, 1);

        g_ptr_array_set_size(s->retired, 0); /* no observation points at them now */
        o->candidates = g_array_new(false, true, sizeof(Candidate));
        g_array_set_clear_func(o->candidates, (GDestroyNotify) candidate_clear);
        o->misplaced = g_array_new(false, true, sizeof(Misplaced));
        o->advice = g_ptr_array_new_with_free_func((GDestroyNotify) finding_free);
        o->stuck = g_ptr_array_new();
        switch (scope ? scope->kind : _TRIGGER_MAX) {
        case TRIGGER_EXEC:
                observe_exec(ctx, o, scope->pid, NULL, true);
                break;
        case TRIGGER_THREAD:
        case TRIGGER_COMM:
                observe_thread(ctx, o, scope->parent, scope->pid, scope->kind == TRIGGER_COMM);
                break;
        case TRIGGER_FORK:
                observe_fork(ctx, o, scope->parent, scope->pid);
                break;
        case TRIGGER_MOVED: {
                Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(scope->pid));
                if (!w || !w->moving)
                        w = g_hash_table_lookup(s->moving_gone, GINT_TO_POINTER(scope->pid));
                if (w && w->moving) {
                        o->moved = w;
                        o->move_error = scope->error;
                }
                break;
        }
        case TRIGGER_EXIT: {
                Workload *w = g_hash_table_lookup(s->by_pid, GINT_TO_POINTER(scope->pid));
                Kin *k = g_hash_table_lookup(s->kin, GINT_TO_POINTER(scope->pid));
                g_hash_table_remove(s->untrusted, GINT_TO_POINTER(scope->pid));
                if (w && w->moving) {
                        /* Its job may still move "its" pid, another process's by then:
                         * the job's end decides (apply_moved). */
                        log_debug("workload %d %s ended while systemd moves it", (int) w->pid, w->comm);
                        g_hash_table_steal(s->by_pid, GINT_TO_POINTER(scope->pid));
                        g_hash_table_replace(s->moving_gone, GINT_TO_POINTER(scope->pid), w);
                } else if (w) {
                        log_debug("workload %d %s ended", (int) w->pid, w->comm);
                        forget_placement(ctx, w, false);
                        retire(s, scope->pid);
                        forget_the_dead(ctx); /* its threads' own originals */
                }
                if (k) {
                        /* Its copy of its forebear's originals goes with it. */
                        Workload gone = { .pid = scope->pid, .start_time = k->start_time, .comm = k->comm };
                        forget_placement(ctx, &gone, false);
                        g_hash_table_remove(s->kin, GINT_TO_POINTER(scope->pid));
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
        ACTION_DROP_REALTIME,   /* real-time from a placed forebear, in another program */
        ACTION_REPLACE,         /* a placed process's threads put back on its placement */
        ACTION_THREAD,          /* a new or renamed thread of a placed process */
        ACTION_REFUSED,         /* remembered as untrusted while it lives */
        ACTION_MOVED,           /* systemd moved a process into its slice (or could not) */
        ACTION_STUCK,           /* systemd never finished a move */
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
                difference_add(diffs, finding_new("workload", o->thread_of->comm, "placed",
                                                  o->renamed ? "renamed thread" : "new thread", true,
                                                  o->renamed ? "a thread of a placed process took another name"
                                                             : "a new thread of a placed process"),
                               true, o)->action = ACTION_THREAD;
        if (o->moved) {
                g_autofree char *object = g_strdup_printf("%d %s", (int) o->moved->pid, o->moved->comm);
                difference_add(diffs, finding_new("workload", object, o->moved->group, "moving", true,
                                                  "systemd's job moving it into its slice ended"),
                               true, o)->action = ACTION_MOVED;
        }
        for (unsigned i = 0; i < o->stuck->len; i++) {
                const Workload *w = o->stuck->pdata[i];
                g_autofree char *object = g_strdup_printf("%d %s", (int) w->pid, w->comm);
                difference_add(diffs, finding_new("workload", object, w->group, "moving", true,
                                                  "systemd has not moved it into its slice"),
                               true, w)->action = ACTION_STUCK;
        }
        for (unsigned i = 0; i < o->advice->len; i++) {
                const Finding *f = o->advice->pdata[i];
                difference_add(diffs, finding_copy(f), false, NULL);
        }
}

/* --- apply --- */

static void apply_candidate(const EnforcerContext *ctx, const Candidate *c, Difference *d) {
        WorkloadState *s = ctx->state;
        int r;

        switch (d->action) {
        case ACTION_PLACE:
                g_hash_table_remove(s->kin, GINT_TO_POINTER(c->pid)); /* placed in its own right now */
                r = place(ctx, &c->verdict, c->pid, c->start_time, c->comm, c->kin_comm, c->executed, c->stat_fd);
                d->repaired = r >= 0 || r == -ESRCH; /* gone meanwhile: nothing to report */
                break;
        case ACTION_LEAVE: {
                Workload *w = c->placed;
                log_notice("process %d (was %s) executed another program: no longer in group %s", (int) c->pid,
                           w->comm, w->group);
                /* Given back, and kept while it lives: children its new program forked
                 * before this was handled get them too (their forks say), its exit forgets
                 * them. */
                give_back(ctx, w->pid, w->start_time, w->comm);
                /* Children its new program forked before this: their forks say. */
                Kin *k = g_new0(Kin, 1);
                k->group = g_strdup(w->group);
                k->start_time = c->start_time;
                k->comm = g_strdup(w->comm);
                k->withdrawn = true;
                g_hash_table_replace(s->kin, GINT_TO_POINTER(c->pid), k);
                retire(s, c->pid);
                d->repaired = true;
                break;
        }
        case ACTION_DROP_REALTIME:
                withdraw(ctx, c->pid, c->start_time, c->comm, c->inherited);
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

/* A move that failed, or that systemd never finished: nothing was changed but the saved
 * originals, which go; the next pass tries again. */
/* A process that ended while systemd moved it: out of moving_gone, freed at the next
 * observation. */
static void bury(WorkloadState *s, Workload *w) {
        if (g_hash_table_lookup(s->moving_gone, GINT_TO_POINTER(w->pid)) == w &&
            g_hash_table_steal(s->moving_gone, GINT_TO_POINTER(w->pid)))
                g_ptr_array_add(s->retired, w);
}

static void give_up_move(const EnforcerContext *ctx, Workload *w, const char *why) {
        WorkloadState *s = ctx->state;
        g_autofree char *object = g_strdup_printf("workload %d", (int) w->pid);
        if (g_hash_table_lookup(s->moving_gone, GINT_TO_POINTER(w->pid)) == w) {
                forget_placement(ctx, w, false);
                bury(s, w);
                return;
        }
        if (enforcer_refusal_new(ctx, object, EIO))
                log_warning("cannot move %d %s into group %s's slice: %s; it keeps its CPUs and scheduling until the "
                            "next verify tries again", (int) w->pid, w->comm, w->group, why);
        forget_placement(ctx, w, false);
        retire(s, w->pid);
}

static void apply_moved(const EnforcerContext *ctx, const WorkloadObservation *o, Difference *d) {
        WorkloadState *s = ctx->state;
        Workload *w = o->moved;
        g_autofree char *object = g_strdup_printf("workload %d", (int) w->pid);

        d->repaired = true;
        if (o->move_error < 0) {
                give_up_move(ctx, w, g_strerror(-o->move_error));
                return;
        }
        enforcer_refusal_clear(ctx, object);
        /* Its exit seen, or its pid another start's: whoever has the pid now is a
         * stranger, even one started in the same clock tick. */
        bool gone = g_hash_table_lookup(s->moving_gone, GINT_TO_POINTER(w->pid)) == w;
        if (gone || !task_is(ctx->host, w->pid, w->start_time)) {
                /* systemd takes the pid at its word when it handles the call: the process
                 * ended and another may have taken its pid meanwhile, and be in the
                 * group's scope now. It goes back to its parent's cgroup (where it was
                 * born; not init's, which only adopted it), else where the placed
                 * process was, and gets nothing. */
                g_autofree char *was = NULL, *now = NULL;
                CgroupBackend backend = cgroups_backend(ctx->cgroups, ctx->root, ctx->config);
                TaskStat st, parent;
                int r = -ENOENT;
                if (task_read_stat(ctx->host, w->pid, 0, &st) >= 0 && !ctx->dry_run) {
                        if (!(st.ppid > 1 && task_read_stat(ctx->host, st.ppid, 0, &parent) >= 0 &&
                              parent.start_time <= st.start_time &&
                              original_cgroup(ctx, backend, st.ppid, &was) >= 0)) {
                                g_autofree char *key = task_key("cgroup", w->pid, w->start_time, w->comm);
                                g_free(was);
                                was = g_strdup(originals_get(ctx->originals, key));
                        }
                        if (was && original_cgroup(ctx, backend, w->pid, &now) >= 0 &&
                            !g_str_equal(now, was))
                                r = restore_task(ctx, "cgroup", w->pid, was);
                        else if (was)
                                r = 0;
                        log_warning("process %d ended while systemd moved it into group %s's slice, and another took "
                                    "its pid: %s", (int) w->pid, w->group,
                                    r >= 0 ? "it is back out of the slice" : "it could not be moved back out");
                }
                forget_placement(ctx, w, false);
                if (gone)
                        bury(s, w);
                else
                        retire(s, w->pid);
                return;
        }
        w->moving = false;
        /* Time has passed since its exec: it may have started threads. */
        finish_placement(ctx, w, false, false, NULL);
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
                        r = set_thread(ctx, o->thread_of, o->tid, NULL, &changed);
                        if (r < 0 && r != -ESRCH)
                                log_warning_errno(r, "cannot place thread %d of %d %s: %m", (int) o->tid,
                                                  (int) o->thread_of->pid, o->thread_of->comm);
                        d->repaired = true;
                        break;
                case ACTION_MOVED:
                        apply_moved(ctx, o, d);
                        break;
                case ACTION_STUCK:
                        give_up_move(ctx, (Workload *) d->object, "systemd's job did not end within 30 s");
                        d->repaired = true;
                        break;
                }
        }
        if (o->thread_rules) {
                WorkloadState *s = ctx->state;
                g_free(s->thread_rules);
                s->thread_rules = g_strdup(o->thread_rules);
        }
        return 0;
}

/* The placed processes (Workload*, copies: the manager keeps a report a while), for
 * GetWorkloads. */
GPtrArray *workload_report(const EnforcerContext *ctx) {
        WorkloadState *s = ctx->state;
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) workload_free);
        GHashTableIter it;
        gpointer value;

        g_hash_table_iter_init(&it, s->by_pid);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
                const Workload *w = value;
                Workload *copy = g_memdup2(w, sizeof(Workload));
                copy->group = g_strdup(w->group);
                copy->comm = g_strdup(w->comm);
                copy->threads = w->moving || !task_is(ctx->host, w->pid, w->start_time)
                                        ? g_ptr_array_new_with_free_func((GDestroyNotify) workload_thread_free)
                                        : workload_threads_report(ctx, w, host_online(ctx));
                g_ptr_array_add(out, copy);
        }
        return out;
}

/* Revert: the placed processes and their kin get their originals from the store (the
 * manager restores them after this). */
static int workload_revert(const EnforcerContext *ctx) {
        WorkloadState *s = ctx->state;
        g_hash_table_remove_all(s->by_pid);
        g_hash_table_remove_all(s->moving_gone);
        g_hash_table_remove_all(s->kin);
        g_hash_table_remove_all(s->procs); /* the slices go */
        return 0;
}

/* The cgroup.procs of a saved cgroup path ("/" or "/system.slice/x.service"), or NULL. */
static char *cgroup_procs_rel(const char *path) {
        g_autofree char *rel = g_strdup_printf("sys/fs/cgroup%s/cgroup.procs", g_str_equal(path, "/") ? "" : path);
        return path[0] == '/' && enforcer_path_writable(rel) ? g_steal_pointer(&rel) : NULL;
}

static char *workload_check_original(const char *what, const char *value) {
        g_autofree char *kind = NULL, *rel = NULL;
        int policy, prio;
        CpuMask cpus;

        if (!enforcer_parse_task_entry(what, &kind, NULL, NULL, NULL))
                return g_strdup("not \"KIND PID START NAME\"");
        if (g_str_equal(kind, "cgroup"))
                return (rel = cgroup_procs_rel(value)) ? NULL : g_strdup("the saved cgroup is not a path in the cgroup tree");
        if (g_str_equal(kind, "affinity"))
                return cpumask_parse_list(value, &cpus, NULL) >= 0 ? NULL : g_strdup("the saved CPUs are not a CPU list");
        if (g_str_equal(kind, "sched") || g_str_equal(kind, "thread-sched"))
                return task_sched_parse(value, &policy, &prio) ? NULL : g_strdup("the saved scheduling is not a policy and priority");
        if (g_str_equal(kind, "thread-affinity"))
                return cpumask_parse_list(value, &cpus, NULL) >= 0 ? NULL : g_strdup("the saved CPUs are not a CPU list");
        return g_strdup("not a workload entry (cgroup, affinity, sched, thread-affinity, thread-sched)");
}

/* "cgroup|affinity|sched PID START COMM": only while the same process lives, whatever it
 * calls itself now; a process that took the pid since is a stranger. The same for a
 * thread's own, "thread-affinity|thread-sched TID START COMM". */
static int workload_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        g_autofree char *kind = NULL;
        uint64_t start;
        pid_t pid;
        if (!enforcer_parse_task_entry(what, &kind, &pid, &start, NULL))
                return -EINVAL;
        if (!task_is(ctx->host, pid, start))
                return -ENOENT;
        if (workload_thread_kind(kind))
                return workload_thread_restore(ctx, kind, pid, value);
        return restore_task(ctx, kind, pid, value);
}

/* Whether tid, a thread of pid, has its own saved original in own (tid -> start time). */
static bool has_own_original(const EnforcerContext *ctx, GHashTable *own, pid_t pid, pid_t tid) {
        const uint64_t *saved = g_hash_table_lookup(own, GINT_TO_POINTER(tid));
        uint64_t start;
        return saved && tid != pid && task_read_start_time(ctx->host, pid, tid, &start) >= 0 && start == *saved;
}

/* Puts one saved kind back on a process and its threads ("realtime": takes real-time
 * scheduling away, value NULL). A thread it starts meanwhile inherits what it had: the
 * threads are listed again until a listing holds nothing to change (a few rounds). */
static int restore_task(const EnforcerContext *ctx, const char *kind, pid_t pid, const char *value) {
        CpuMask cpus;
        int policy = SCHED_OTHER, prio = 0, r = 0;
        /* Threads with their own saved originals get those (workload-threads.c). */
        g_autoptr(GHashTable) own = NULL;

        if (g_str_equal(kind, "cgroup")) {
                g_autofree char *rel = cgroup_procs_rel(value);
                g_autofree char *text = g_strdup_printf("%d", (int) pid);
                return rel ? root_write(ctx->root, rel, text) : -EINVAL;
        }
        if ((g_str_equal(kind, "affinity") && cpumask_parse_list(value, &cpus, NULL) < 0) ||
            (g_str_equal(kind, "sched") && !task_sched_parse(value, &policy, &prio)) ||
            (!g_str_equal(kind, "affinity") && !g_str_equal(kind, "sched") && !g_str_equal(kind, "realtime")))
                return -EINVAL;
        own = workload_threads_with_own(ctx, g_str_equal(kind, "affinity") ? "thread-affinity" : "thread-sched");
        for (int round = 0; round < 8; round++) {
                g_autoptr(GArray) tids = task_list_threads(ctx->host, pid);
                unsigned changed = 0;
                for (unsigned i = 0; i < tids->len; i++) {
                        pid_t tid = g_array_index(tids, pid_t, i);
                        int p, q, e = 0;
                        CpuMask have;
                        if (g_hash_table_size(own) > 0 && has_own_original(ctx, own, pid, tid))
                                continue;
                        if (g_str_equal(kind, "affinity")) {
                                if (task_get_affinity(ctx->host, tid, &have) >= 0 && cpumask_equal(&have, &cpus))
                                        continue;
                                e = task_set_affinity(ctx->host, tid, &cpus);
                        } else {
                                if (task_get_sched(ctx->host, tid, &p, &q) < 0 ||
                                    (g_str_equal(kind, "realtime") ? !realtime(p) : p == policy && q == prio))
                                        continue;
                                e = task_set_sched(ctx->host, tid, policy, prio);
                        }
                        if (e < 0 && e != -ESRCH)
                                r = e;
                        changed++;
                }
                if (changed == 0)
                        break;
        }
        return r == -ESRCH ? -ENOENT : r;
}

static const EnforcerOriginals workload_originals = { workload_restore, workload_check_original };

const EnforcerOps enforcer_workload = {
        .name = "workload",
        .state_new = workload_state_new,
        .state_free = workload_state_free,
        .triggers = TRIGGER_BIT(TRIGGER_EXEC) | TRIGGER_BIT(TRIGGER_FORK) | TRIGGER_BIT(TRIGGER_THREAD) |
                    TRIGGER_BIT(TRIGGER_COMM) | TRIGGER_BIT(TRIGGER_EXIT) | TRIGGER_BIT(TRIGGER_LOST) |
                    TRIGGER_BIT(TRIGGER_MOVED),
        .observe = workload_observe,
        .observation_free = workload_observation_free,
        .diff = workload_diff,
        .apply = workload_apply,
        .revert = workload_revert,
        .originals = &workload_originals,
};
