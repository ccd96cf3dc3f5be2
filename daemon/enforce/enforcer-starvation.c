/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "base/log.h"
#include "base/macro.h"
#include "base/text.h"
#include "enforce/enforcer-starvation.h"
#include "enforce/starvation.h"
#include "enforce/tools.h"
#include "kernel/cpustat.h"
#include "kernel/task.h"

/* The starvation guard ([Daemon] StarvationGuard=, StarvationSec=). A real-time thread
 * that never pauses (HQPlayer at rr 99 on nohz_full CPUs, often with
 * sched_rt_runtime_us=-1) keeps the kernel's per-CPU threads on its CPU (ksoftirqd,
 * kworker, rcuc, ktimers) from running: RCU stalls, hung tasks, a frozen machine.
 *
 * Each pass finds the tasks whose last CPU is an audio CPU in the table of processes it
 * reads anyway (the per-CPU kernel threads of those CPUs among them: their last CPU is
 * the one they are bound to); every second the tick reads /proc/stat once, and looks only
 * at the threads of the CPUs that did not go idle since the last tick (a CPU that went
 * idle ran everything runnable on it), a stat line each and, for the runnable ones, their
 * run time: while the audio CPUs pause, as they do, the tick reads that one file. One
 * runnable whose run time has not grown for StarvationSec= is boosted as stalld does
 * (starvation.h), its scheduling saved first as "@starvation boost TID START COMM" and
 * put back when the boost ends, by a revert, at the next start after a crash, and when
 * the daemon stops. */

#define WATCH_MAX 1024                   /* threads watched; past it, said once */
#define HOGS_MAX 64                      /* CPUs whose hog is remembered */
#define HOG_SCAN_MAX 8192                /* stat files one search for a hog reads */
#define NOTICE_USEC (60 * G_USEC_PER_SEC) /* a thread's boosts said once a minute; its finding stays as long */

typedef struct Watched {
        pid_t tid;
        uint64_t start_time;
        char comm[64];                   /* as stat gave it when it was found or starved */
        bool kernel;                     /* a kernel thread */
        int last_cpu;                    /* the CPU it was last seen on */
        StarveTrack track;
        char *boost_key;                 /* its saved original while a boost runs */
        int boost_priority;              /* of a SCHED_FIFO boost */
        StarveMethod method;             /* of its last boost */
        unsigned boosts;
        int cpu;                         /* where it starved last */
        int64_t starved_at;              /* when, CLOCK_MONOTONIC; 0: never */
        int64_t waited_usec;             /* how long it had waited then */
        int64_t said_at;                 /* its last boost logged */
        int refused;                     /* errno of the last boost the kernel refused both ways, or 0 */
        int refused_said;                /* the refusal last logged for this thread, or 0 */
        const char *skipped;             /* why its last starvation was not boosted, or NULL */
        int deadline_refused;            /* errno SCHED_DEADLINE was last refused with, or 0 */
} Watched;

/* The task that held a CPU when a thread starved there. */
typedef struct Hog {
        int cpu;
        int64_t at;
        bool found;
        pid_t tid;
        char comm[64];                   /* printable */
        int policy, priority;
} Hog;

typedef struct StarvationState {
        GArray *watched;                 /* Watched */
        GArray *hogs;                    /* Hog, the oldest first */
        bool active;                     /* the guard judges: what the last pass decided */
        const char *off_why;             /* else why not */
        char *state_text;                /* "on" or "off: why", for the status */
        unsigned boosting;               /* boosts running */
        size_t n_cpus;                   /* of the arrays below, by CPU number */
        uint64_t *idle;                  /* each CPU's idle time at the last tick (cpustat.h) */
        bool *idle_known;
        bool *busy;                      /* it did not go idle since the tick before */
        bool over_said;                  /* WATCH_MAX reached, said once */
        int64_t new_looked_at;           /* when kernel threads were last looked for between passes */
} StarvationState;

static void watched_clear(Watched *w) {
        g_clear_pointer(&w->boost_key, g_free);
}

static void *starvation_state_new(void) {
        StarvationState *st = g_new0(StarvationState, 1);
        st->watched = g_array_new(false, true, sizeof(Watched));
        g_array_set_clear_func(st->watched, (GDestroyNotify) watched_clear);
        st->hogs = g_array_new(false, true, sizeof(Hog));
        st->off_why = "no pass has run yet";
        return st;
}

static void starvation_state_free(void *p) {
        StarvationState *st = p;
        if (!st)
                return;
        g_array_unref(st->watched);
        g_array_unref(st->hogs);
        g_free(st->state_text);
        g_free(st->idle);
        g_free(st->idle_known);
        g_free(st->busy);
        g_free(st);
}

static void audio_cpus(const EnforcerContext *ctx, CpuMask *out) {
        config_isolated_cpus(ctx->config, out);
        cpumask_and(out, out, &ctx->topology->online);
}

static bool realtime_group(const Config *c) {
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                if (g->sched_policy == SCHED_POLICY_FIFO || g->sched_policy == SCHED_POLICY_RR)
                        return true;
        }
        return false;
}

/* Whether the guard judges, as the configuration and the tools running say. */
static void decide(const EnforcerContext *ctx, StarvationState *st) {
        StarvationGuardMode mode = ctx->config->daemon.starvation_guard;
        const RunningTools *tools = ctx->inputs ? ctx->inputs->tools : NULL;

        st->off_why = NULL;
        if (mode == STARVATION_GUARD_OFF)
                st->off_why = "StarvationGuard=off";
        else if (mode == STARVATION_GUARD_AUTO && !realtime_group(ctx->config))
                st->off_why = "no group has real-time scheduling (StarvationGuard=auto)";
        else if (mode == STARVATION_GUARD_AUTO && tools_running(tools, "stalld"))
                st->off_why = "stalld runs and boosts instead (StarvationGuard=auto)";
        st->active = st->off_why == NULL;
        g_free(st->state_text);
        st->state_text = st->active ? g_strdup("on") : g_strdup_printf("off: %s", st->off_why);
}

const char *starvation_guard_state(const EnforcerContext *ctx) {
        const StarvationState *st = ctx->state;
        return st->state_text ? st->state_text : "off: no pass has run yet";
}

/* --- the threads watched --- */

/* The records of the last pass by thread id. */
static GHashTable *index_by_tid(GArray *list) {
        GHashTable *index = g_hash_table_new(g_direct_hash, g_direct_equal);
        for (unsigned i = 0; i < list->len; i++)
                g_hash_table_insert(index, GINT_TO_POINTER(g_array_index(list, Watched, i).tid),
                                    &g_array_index(list, Watched, i));
        return index;
}

/* The same thread's record carried into the new list (its boost, its history). */
static void carry(GArray *to, Watched *from) {
        g_array_append_val(to, *from);
        from->boost_key = NULL; /* now the new record's */
        from->tid = 0;          /* taken */
}

/* The tasks the pass saw last on an audio CPU, in place of those of the last pass; a
 * thread whose boost still runs stays until it ends, wherever it went. */
static void watch_refresh(const EnforcerContext *ctx, StarvationState *st) {
        const GArray *tasks = pass_inputs_tasks(ctx->inputs);
        g_autoptr(GArray) old = g_steal_pointer(&st->watched);
        g_autoptr(GHashTable) by_tid = index_by_tid(old);
        CpuMask audio;

        audio_cpus(ctx, &audio);
        st->watched = g_array_new(false, true, sizeof(Watched));
        g_array_set_clear_func(st->watched, (GDestroyNotify) watched_clear);
        for (unsigned i = 0; i < tasks->len; i++) {
                const Task *t = &g_array_index(tasks, Task, i);
                Watched *had = g_hash_table_lookup(by_tid, GINT_TO_POINTER(t->pid));
                /* Kernel threads only (ksoftirqd, kworker, rcuc, ktimers): a boost is
                 * real-time scheduling, which isolatord gives a user's thread only by the
                 * administrator's rule, never for starving. */
                if (!cpumask_has(&audio, t->stat.processor) || !(t->stat.flags & TASK_PF_KTHREAD))
                        continue;
                if (st->watched->len >= WATCH_MAX) {
                        if (!st->over_said)
                                log_notice("starvation guard: more than %d tasks on the audio CPUs; the others are not watched",
                                           WATCH_MAX);
                        st->over_said = true;
                        break;
                }
                if (had && had->start_time == t->stat.start_time) {
                        had->last_cpu = t->stat.processor;
                        carry(st->watched, had);
                        continue;
                }
                Watched w = { .tid = t->pid, .start_time = t->stat.start_time, .last_cpu = t->stat.processor,
                              .kernel = (t->stat.flags & TASK_PF_KTHREAD) != 0 };
                g_strlcpy(w.comm, t->stat.comm, sizeof w.comm);
                g_array_append_val(st->watched, w);
        }
        for (unsigned i = 0; i < old->len; i++) {
                Watched *w = &g_array_index(old, Watched, i);
                if (w->tid != 0 && w->track.boost != STARVE_METHOD_NONE)
                        carry(st->watched, w);
        }
}

/* --- saved scheduling --- */

#define ENTRY_PREFIX "@starvation "

static char *boost_entry(const Watched *w) {
        g_autofree char *comm = text_printable(w->comm);
        return enforcer_task_entry("boost", w->tid, w->start_time, comm);
}

static void forget_original(const EnforcerContext *ctx, const char *key) {
        g_autoptr(GHashTable) one = g_hash_table_new(g_str_hash, g_str_equal);
        g_autoptr(GError) e = NULL;
        if (ctx->dry_run)
                return;
        g_hash_table_add(one, (char *) key);
        if (originals_forget(ctx->originals, one, &e) < 0)
                log_warning("%s", e->message);
}

/* The thread is still the one saved (its start time), and still runs with the boost
 * isolatord gave it: someone else's change since is theirs to keep. */
static bool still_boosted(const EnforcerContext *ctx, const Watched *w) {
        int policy, priority;
        if (task_get_sched(ctx->root, w->tid, &policy, &priority) < 0)
                return false;
        if (w->track.boost == STARVE_METHOD_DEADLINE)
                return policy == SCHED_DEADLINE;
        return policy == SCHED_FIFO && priority == w->boost_priority;
}

/* Its own scheduling back and the saved original forgotten: the boost is over. */
static void give_back(const EnforcerContext *ctx, StarvationState *st, Watched *w) {
        const char *was = w->boost_key ? originals_get(ctx->originals, w->boost_key) : NULL;
        g_autofree char *comm = text_printable(w->comm);
        int policy, priority;

        if (w->track.boost == STARVE_METHOD_NONE)
                return;
        if (was && task_sched_parse(was, &policy, &priority) && still_boosted(ctx, w)) {
                int r = task_set_sched(ctx->root, w->tid, policy, priority);
                if (r < 0)
                        log_warning_errno(r, "cannot give %s (pid %d) its scheduling back: %m", comm, (int) w->tid);
        }
        if (w->boost_key)
                forget_original(ctx, w->boost_key);
        g_clear_pointer(&w->boost_key, g_free);
        starve_ended(&w->track);
        st->boosting--;
}

/* --- who starves it --- */

/* A task runnable on cpu, as a candidate for the hog, with where to read it again. */
static void consider(GArray *cands, GArray *where, pid_t pid, pid_t tid, const TaskStat *ts, int cpu) {
        if (ts->state != 'R' || ts->processor != cpu)
                return;
        StarveCandidate c = { tid, ts->state, ts->processor, ts->policy, ts->rt_priority };
        pid_t at[2] = { pid, tid };
        g_array_append_val(cands, c);
        g_array_append_vals(where, at, 2);
}

/* Every thread runnable on cpu, at most HOG_SCAN_MAX stat lines read: a search made only
 * when a thread starves there, and at most once a minute a CPU. */
static void hog_find(const EnforcerContext *ctx, int cpu, pid_t except, Hog *out) {
        g_autoptr(GArray) pids = task_list_pids(ctx->root);
        g_autoptr(GArray) cands = g_array_new(false, false, sizeof(StarveCandidate));
        g_autoptr(GArray) where = g_array_new(false, false, sizeof(pid_t));
        unsigned reads = 0;
        TaskStat ts;

        for (unsigned i = 0; i < pids->len && reads < HOG_SCAN_MAX; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                reads++;
                if (task_read_stat(ctx->root, pid, 0, &ts) < 0)
                        continue;
                if (ts.flags & TASK_PF_KTHREAD) {
                        consider(cands, where, pid, pid, &ts, cpu);
                        continue;
                }
                g_autoptr(GArray) tids = task_list_threads(ctx->root, pid);
                for (unsigned j = 0; j < tids->len && reads < HOG_SCAN_MAX; j++) {
                        pid_t tid = g_array_index(tids, pid_t, j);
                        reads++;
                        if (task_read_stat(ctx->root, pid, tid, &ts) >= 0)
                                consider(cands, where, pid, tid, &ts, cpu);
                }
        }
        *out = (Hog) { .cpu = cpu };
        int best = starve_pick_hog((const StarveCandidate *) cands->data, cands->len, cpu, except);
        if (best < 0)
                return;
        const StarveCandidate *c = &g_array_index(cands, StarveCandidate, best);
        pid_t pid = g_array_index(where, pid_t, 2 * best), tid = g_array_index(where, pid_t, 2 * best + 1);
        if (task_read_stat(ctx->root, pid, tid, &ts) < 0)
                return;
        g_autofree char *comm = text_printable(ts.comm);
        *out = (Hog) { .cpu = cpu, .found = true, .tid = c->tid, .policy = c->policy, .priority = c->priority };
        g_strlcpy(out->comm, comm, sizeof out->comm);
}

static const Hog *hog_cached(const StarvationState *st, int cpu) {
        for (unsigned i = 0; i < st->hogs->len; i++) {
                const Hog *h = &g_array_index(st->hogs, Hog, i);
                if (h->cpu == cpu)
                        return h;
        }
        return NULL;
}

/* Who held cpu when a thread starved there: looked for at most once a minute a CPU. */
static const Hog *hog_of(const EnforcerContext *ctx, StarvationState *st, int cpu, pid_t except, int64_t now) {
        const Hog *had = hog_cached(st, cpu);
        Hog h;
        if (had && now - had->at < NOTICE_USEC)
                return had;
        for (unsigned i = 0; i < st->hogs->len; i++)
                if (g_array_index(st->hogs, Hog, i).cpu == cpu)
                        g_array_remove_index(st->hogs, i--);
        if (st->hogs->len >= HOGS_MAX)
                g_array_remove_index(st->hogs, 0);
        hog_find(ctx, cpu, except, &h);
        h.at = now;
        g_array_append_val(st->hogs, h);
        return &g_array_index(st->hogs, Hog, st->hogs->len - 1);
}

/* "hqplayerd (pid 4242, rr 99)", or a task not found. */
static char *hog_text(const Hog *h) {
        if (!h || !h->found)
                return g_strdup("a task isolatord could not name");
        if (h->policy == SCHED_FIFO || h->policy == SCHED_RR)
                return g_strdup_printf("%s (pid %d, %s %d)", h->comm, (int) h->tid, task_policy_name(h->policy), h->priority);
        return g_strdup_printf("%s (pid %d, %s)", h->comm, (int) h->tid, task_policy_name(h->policy));
}

/* --- boosts --- */

/* Why the kernel refuses SCHED_DEADLINE, for a person; NULL: not a refusal (the thread
 * went away). */
static const char *deadline_refusal(int err) {
        switch (-err) {
        case EPERM:
                return "the kernel's deadline admission control refuses a thread bound to fewer CPUs than its "
                       "root domain (the per-CPU threads of isolated CPUs); it is off only with "
                       "sched_rt_runtime_us=-1";
        case EBUSY:
                return "the deadline bandwidth of these CPUs is taken (admission control)";
        case EINVAL:
        case ENOSYS:
                return "this kernel has no SCHED_DEADLINE";
        default:
                return NULL;
        }
}

static const char *method_text(StarveMethod m) {
        return m == STARVE_METHOD_DEADLINE ? "deadline" : m == STARVE_METHOD_FIFO ? "fifo" : "none";
}

/* SCHED_DEADLINE, else SCHED_FIFO above the hog; the method, or NONE with *err. */
static StarveMethod boost_apply(const EnforcerContext *ctx, Watched *w, const Hog *hog, int *err) {
        int r = task_set_deadline(ctx->root, w->tid, STARVE_BOOST_RUNTIME_NS, STARVE_BOOST_PERIOD_NS,
                                  STARVE_BOOST_PERIOD_NS);
        if (r >= 0)
                return STARVE_METHOD_DEADLINE;
        if (!deadline_refusal(r)) {
                *err = r;
                return STARVE_METHOD_NONE;
        }
        w->deadline_refused = -r;
        if (enforcer_refusal_new(ctx, "SCHED_DEADLINE", r))
                log_notice("starvation guard: SCHED_DEADLINE refused (%s): %s; boosting with SCHED_FIFO instead, "
                           "until the thread has run", g_strerror(-r), deadline_refusal(r));
        w->boost_priority = starve_fifo_priority(hog && hog->found ? hog->policy : -1, hog ? hog->priority : 0);
        r = task_set_sched(ctx->root, w->tid, SCHED_FIFO | SCHED_RESET_ON_FORK, w->boost_priority);
        if (r >= 0)
                return STARVE_METHOD_FIFO;
        *err = r;
        return STARVE_METHOD_NONE;
}

/* "SCHED_DEADLINE, 20 us every 1 s for 3 s" or "SCHED_FIFO 99 until it has run". */
static char *boost_text(const Watched *w) {
        if (w->method == STARVE_METHOD_DEADLINE)
                return g_strdup_printf("SCHED_DEADLINE, %u us every %u s for %u s", STARVE_BOOST_RUNTIME_NS / 1000,
                                       STARVE_BOOST_PERIOD_NS / 1000000000u, (unsigned) (STARVE_BOOST_USEC / G_USEC_PER_SEC));
        return g_strdup_printf("SCHED_FIFO %d until it has run (SCHED_DEADLINE refused: %s)", w->boost_priority,
                               g_strerror(w->deadline_refused));
}

/* Once a minute a thread, what happened; in between, at debug level. */
static void say_boost(Watched *w, const Hog *hog, int64_t now, bool dry_run) {
        g_autofree char *comm = text_printable(w->comm), *who = hog_text(hog), *how = boost_text(w);
        bool once = w->said_at == 0 || now - w->said_at >= NOTICE_USEC;
        log_full_errno(once ? LOG_NOTICE : LOG_DEBUG, 0,
                       "%s (pid %d) was runnable on CPU %d for %" PRId64 " s without running, behind %s: %s %s", comm,
                       (int) w->tid, w->cpu, w->waited_usec / G_USEC_PER_SEC, who,
                       dry_run ? "dry run: would boost with" : "boosted with", how);
        if (once)
                w->said_at = now;
}

/* The kernel refused both boosts: said once a thread and errno (remembered with the
 * thread, so nothing outlives it). */
static void say_refused(Watched *w, int err) {
        g_autofree char *comm = text_printable(w->comm);
        if (w->refused_said == -err)
                return;
        w->refused_said = -err;
        log_warning("starvation guard: cannot boost %s (pid %d), starving on CPU %d: %s", comm, (int) w->tid, w->cpu,
                    enforcer_refusal(err) ? enforcer_refusal(err) : g_strerror(-err));
}

/* A thread judged starving: its scheduling saved, then boosted. */
static void boost(const EnforcerContext *ctx, StarvationState *st, Watched *w, const StarveSample *s, int64_t now) {
        const Hog *hog = hog_of(ctx, st, s->cpu, w->tid, now);
        int policy = -1, priority = 0, err = 0;

        w->starved_at = now;
        w->cpu = s->cpu;
        w->waited_usec = starve_waited(&w->track, now);
        w->refused = 0;
        w->skipped = NULL;
        /* A deadline task already: its own, or another booster's (stalld), not isolatord's. */
        if (task_get_sched(ctx->root, w->tid, &policy, &priority) < 0 || policy == SCHED_DEADLINE) {
                w->skipped = policy == SCHED_DEADLINE ? "it runs as a deadline task already (its own, or another booster's)"
                                                      : "its scheduling could not be read (it ended?)";
                starve_boosted(&w->track, STARVE_METHOD_NONE, s, now);
                return;
        }
        if (ctx->dry_run) {
                w->method = STARVE_METHOD_DEADLINE;
                say_boost(w, hog, now, true);
                w->skipped = "a dry run changes nothing";
                starve_boosted(&w->track, STARVE_METHOD_NONE, s, now);
                return;
        }
        g_autofree char *what = boost_entry(w), *was = g_strdup_printf("%d %d", policy, priority);
        if (enforcer_save_original(ctx, &enforcer_starvation, what, was) < 0) {
                w->skipped = "its scheduling could not be saved first (the runtime folder)";
                starve_boosted(&w->track, STARVE_METHOD_NONE, s, now);
                return;
        }
        w->boost_key = g_strconcat(ENTRY_PREFIX, what, NULL);
        StarveMethod m = boost_apply(ctx, w, hog, &err);
        if (m == STARVE_METHOD_NONE) {
                forget_original(ctx, w->boost_key);
                g_clear_pointer(&w->boost_key, g_free);
                starve_boosted(&w->track, STARVE_METHOD_NONE, s, now);
                w->refused = err == -ESRCH ? 0 : -err; /* ESRCH: it ended meanwhile */
                if (w->refused)
                        say_refused(w, err);
                else
                        w->skipped = "it ended";
                return;
        }
        w->method = m;
        w->boosts++;
        st->boosting++;
        starve_boosted(&w->track, m, s, now);
        enforcer_emit(ctx, &(Event) { .kind = EVENT_THREAD_BOOSTED, .pid = w->tid, .comm = w->comm,
                                      .cpu = (unsigned) s->cpu, .name = method_text(m) });
        say_boost(w, hog, now, false);
}

/* One look at a watched thread, and what follows from it; false when it is gone. */
static bool look(const EnforcerContext *ctx, StarvationState *st, int proc, Watched *w, const CpuMask *audio,
                 int64_t now) {
        int64_t limit = (int64_t) ctx->config->daemon.starvation_sec * G_USEC_PER_SEC;
        TaskStat ts;

        if (task_read_stat_at(proc, w->tid, &ts) < 0 || ts.start_time != w->start_time)
                return false;
        StarveSample s = { .state = ts.state, .cpu = ts.processor };
        w->last_cpu = ts.processor;
        if (ts.state == 'R' || w->track.boost != STARVE_METHOD_NONE)
                s.has_progress = task_read_progress_at(proc, w->tid, &s.progress) >= 0;
        switch (starve_judge(&w->track, &s, audio, now, limit)) {
        case STARVE_ACTION_BOOST:
                if (w->track.boost == STARVE_METHOD_NONE)
                        g_strlcpy(w->comm, ts.comm, sizeof w->comm);
                boost(ctx, st, w, &s, now);
                break;
        case STARVE_ACTION_END:
                give_back(ctx, st, w);
                break;
        case STARVE_ACTION_NONE:
                break;
        }
        return true;
}

/* A thread that ended: its boost and saved original forgotten with it. */
static void forget(const EnforcerContext *ctx, StarvationState *st, Watched *w) {
        if (w->track.boost == STARVE_METHOD_NONE)
                return;
        if (w->boost_key)
                forget_original(ctx, w->boost_key);
        st->boosting--;
}

/* Which CPUs stayed busy since the last tick, from /proc/stat's idle times; every CPU
 * when it cannot be read (a fake root without it). */
static void idle_update(const EnforcerContext *ctx, StarvationState *st) {
        size_t n = (size_t) MAX(ctx->topology->nr_cpus, 1u);
        g_autofree uint64_t *idle = g_new0(uint64_t, n);
        g_autofree bool *known = g_new0(bool, n);

        if (st->n_cpus != n) {
                g_free(st->idle);
                g_free(st->idle_known);
                g_free(st->busy);
                st->idle = g_new0(uint64_t, n);
                st->idle_known = g_new0(bool, n);
                st->busy = g_new0(bool, n);
                st->n_cpus = n;
        }
        (void) cpustat_read_idle(ctx->root, idle, known, n);
        for (size_t cpu = 0; cpu < n; cpu++)
                st->busy[cpu] = starve_cpu_stayed_busy(st->idle_known[cpu], st->idle[cpu], known[cpu], idle[cpu]);
        memcpy(st->idle, idle, n * sizeof *idle);
        memcpy(st->idle_known, known, n * sizeof *known);
}

/* Whether the thread needs a look: a boost to follow, or a CPU that may have kept it waiting. */
static bool worth_a_look(const StarvationState *st, Watched *w) {
        if (w->track.boost != STARVE_METHOD_NONE)
                return true;
        if (!st->active)
                return false;
        if (w->last_cpu >= 0 && (size_t) w->last_cpu < st->n_cpus && !st->busy[w->last_cpu]) {
                starve_rested(&w->track);
                return false;
        }
        return true;
}

/* The kernel's threads: kthreadd's children (a few hundred, CONFIG_PROC_CHILDREN), or
 * where that list cannot be read every process, of which the caller keeps the kernel's. */
static GArray *kthread_pids(const Root *root) {
        g_autofree char *text = NULL;
        if (root_read(root, "proc/2/task/2/children", &text, NULL) < 0)
                return task_list_pids(root);
        GArray *out = g_array_new(false, false, sizeof(pid_t));
        g_auto(GStrv) words = g_strsplit_set(g_strstrip(text), " \n", -1);
        for (char **w = words; *w; w++) {
                guint64 pid;
                if (g_ascii_string_to_unsigned(*w, 10, 1, G_MAXINT32, &pid, NULL))
                        g_array_append_val(out, (pid_t) { (pid_t) pid });
        }
        return out;
}

/* A kernel thread made on an audio CPU after the last pass (a kworker its pool adds while
 * the CPU is hogged) would wait for the next one (VerifyIntervalSec, 30 s) before its
 * starving counted, past the kernel's RCU stall warning (21 s). While an audio CPU stays
 * busy, the kernel's threads are looked for again every StarvationSec: a starving new one
 * is boosted within twice that. */
static void watch_new(const EnforcerContext *ctx, StarvationState *st, int proc, const CpuMask *audio, int64_t now) {
        int64_t every = (int64_t) ctx->config->daemon.starvation_sec * G_USEC_PER_SEC;
        bool busy = false;

        if (!st->active || now - st->new_looked_at < every)
                return;
        CPUMASK_FOREACH(cpu, audio)
                busy |= (size_t) cpu < st->n_cpus && st->busy[cpu];
        if (!busy)
                return;
        st->new_looked_at = now;
        g_autoptr(GArray) pids = kthread_pids(ctx->root);
        g_autoptr(GHashTable) known = g_hash_table_new(g_direct_hash, g_direct_equal);
        for (unsigned i = 0; i < st->watched->len; i++)
                g_hash_table_add(known, GINT_TO_POINTER(g_array_index(st->watched, Watched, i).tid));
        for (unsigned i = 0; i < pids->len && st->watched->len < WATCH_MAX; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                TaskStat ts;
                if (g_hash_table_contains(known, GINT_TO_POINTER(pid)) || task_read_stat_at(proc, pid, &ts) < 0 ||
                    !(ts.flags & TASK_PF_KTHREAD) || !cpumask_has(audio, ts.processor))
                        continue;
                Watched w = { .tid = pid, .start_time = ts.start_time, .last_cpu = ts.processor, .kernel = true };
                g_strlcpy(w.comm, ts.comm, sizeof w.comm);
                g_array_append_val(st->watched, w);
                log_debug("starvation guard: %s (pid %d) on CPU %d watched from now", w.comm, (int) pid, ts.processor);
        }
}

static bool starvation_ticking(const EnforcerContext *ctx) {
        const StarvationState *st = ctx->state;
        return st->active || st->boosting > 0;
}

/* Every second: the watched threads of the CPUs that stayed busy looked at; while the
 * guard is off only the boosts that run are followed to their end. */
static void starvation_tick(const EnforcerContext *ctx, int64_t now) {
        StarvationState *st = ctx->state;
        _cleanup_close_ int proc = root_open_dir(ctx->root, "proc");
        CpuMask audio;

        if (proc < 0)
                return;
        audio_cpus(ctx, &audio);
        idle_update(ctx, st);
        watch_new(ctx, st, proc, &audio, now);
        for (unsigned i = st->watched->len; i-- > 0;) {
                Watched *w = &g_array_index(st->watched, Watched, i);
                if (!worth_a_look(st, w))
                        continue;
                if (!look(ctx, st, proc, w, &audio, now)) {
                        forget(ctx, st, w);
                        g_array_remove_index(st->watched, i);
                }
        }
}

/* Every boost ends now: the partition is no longer held, or the daemon stops. */
static void starvation_stop(const EnforcerContext *ctx) {
        StarvationState *st = ctx->state;
        for (unsigned i = 0; i < st->watched->len; i++)
                give_back(ctx, st, &g_array_index(st->watched, Watched, i));
}

/* A revert restores the saved originals itself: what was boosted is so no longer. */
static int starvation_revert(const EnforcerContext *ctx) {
        StarvationState *st = ctx->state;
        for (unsigned i = 0; i < st->watched->len; i++) {
                Watched *w = &g_array_index(st->watched, Watched, i);
                if (w->track.boost == STARVE_METHOD_NONE)
                        continue;
                g_clear_pointer(&w->boost_key, g_free);
                starve_ended(&w->track);
        }
        st->boosting = 0;
        return 0;
}

/* --- passes: the list again, findings, boosts an earlier run left --- */

/* A saved boost no running boost owns: isolatord stopped (a crash) before it ended. */
typedef struct Leftover {
        char *key;
        char *object;            /* "TID COMM" */
        char *was;               /* "POLICY PRIORITY" */
        char *was_text;          /* "other", "fifo 1" */
} Leftover;

static void leftover_free(Leftover *l) {
        g_free(l->key);
        g_free(l->object);
        g_free(l->was);
        g_free(l->was_text);
        g_free(l);
}

/* "other", "fifo 1": a saved "POLICY PRIORITY" for a person. */
static char *sched_text(const char *value) {
        int policy, priority;
        if (!task_sched_parse(value, &policy, &priority))
                return g_strdup(value);
        if (policy == SCHED_FIFO || policy == SCHED_RR)
                return g_strdup_printf("%s %d", task_policy_name(policy), priority);
        return g_strdup(task_policy_name(policy));
}

static bool boost_running(const StarvationState *st, const char *key) {
        for (unsigned i = 0; i < st->watched->len; i++) {
                const Watched *w = &g_array_index(st->watched, Watched, i);
                if (w->boost_key && g_str_equal(w->boost_key, key))
                        return true;
        }
        return false;
}

static GPtrArray *leftovers(const EnforcerContext *ctx, const StarvationState *st) {
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) leftover_free);
        for (guint i = 0; i < originals_count(ctx->originals); i++) {
                const char *key = originals_path(ctx->originals, i);
                g_autofree char *comm = NULL;
                pid_t tid;
                if (!g_str_has_prefix(key, ENTRY_PREFIX) || boost_running(st, key) ||
                    !enforcer_parse_task_entry(key + strlen(ENTRY_PREFIX), NULL, &tid, NULL, &comm))
                        continue;
                Leftover *l = g_new0(Leftover, 1);
                l->key = g_strdup(key);
                l->object = g_strdup_printf("%d %s", (int) tid, comm);
                l->was = g_strdup(originals_value(ctx->originals, i));
                l->was_text = sched_text(l->was);
                g_ptr_array_add(out, l);
        }
        return out;
}

static void *starvation_observe(const EnforcerContext *ctx, const Trigger *scope) {
        StarvationState *st = ctx->state;
        decide(ctx, st);
        watch_refresh(ctx, st);
        return leftovers(ctx, st);
}

static void starvation_observation_free(void *p) {
        g_ptr_array_unref(p);
}

/* A thread that starved within the last minute. */
static Finding *starving_finding(const EnforcerContext *ctx, const StarvationState *st, const Watched *w) {
        g_autofree char *comm = text_printable(w->comm), *who = hog_text(hog_cached(st, w->cpu));
        g_autofree char *object = g_strdup_printf("%d %s", (int) w->tid, comm);
        g_autofree char *expected = g_strdup_printf("runs within %u s", ctx->config->daemon.starvation_sec);
        g_autofree char *how = w->refused   ? g_strdup_printf("not boosted: %s", g_strerror(w->refused))
                               : w->skipped ? g_strdup_printf("not boosted: %s", w->skipped)
                                            : boost_text(w);
        g_autofree char *actual = g_strdup_printf("runnable on CPU %d, not run for %" PRId64 " s; boosted %u time(s)",
                                                  w->cpu, w->waited_usec / G_USEC_PER_SEC, w->boosts);
        g_autofree char *msg = g_strdup_printf(
                "%s %s starves behind %s, a real-time task that holds CPU %d without a pause; the guard %s: %s. "
                "Fix: let the real-time thread pause, or keep sched_rt_runtime_us at the kernel's 950000 so that "
                "fair threads get 5%% of the CPU",
                w->kernel ? "the kernel thread" : "the task", comm, who, w->cpu,
                w->refused || w->skipped ? "did not boost it" : "boosts it", how);
        return finding_new("starvation", object, expected, actual, w->refused != 0, msg);
}

static void starvation_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const StarvationState *st = ctx->state;
        const GPtrArray *left = obs;
        int64_t now = g_get_monotonic_time();

        for (unsigned i = 0; i < left->len; i++) {
                const Leftover *l = left->pdata[i];
                difference_add(diffs, finding_new("starvation", l->object, l->was_text, "boosted by an earlier run", false,
                                                  "a boost left when isolatord stopped before ending it (a crash): "
                                                  "its own scheduling is put back"),
                               true, l);
        }
        for (unsigned i = 0; i < st->watched->len; i++) {
                const Watched *w = &g_array_index(st->watched, Watched, i);
                if (w->starved_at != 0 && now - w->starved_at < NOTICE_USEC)
                        difference_add(diffs, starving_finding(ctx, st, w), false, NULL);
        }
}

static int starvation_restore(const EnforcerContext *ctx, const char *what, const char *value);

/* Boosts an earlier run left: given back, as a revert would. */
static int starvation_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                const Leftover *l = d->object;
                if (!l)
                        continue;
                if (ctx->dry_run) {
                        log_info("dry run: would give %s its scheduling %s back", l->object, l->was_text);
                        d->repaired = true;
                        continue;
                }
                int r = starvation_restore(ctx, l->key + strlen(ENTRY_PREFIX), l->was);
                if (r < 0 && r != -ENOENT) {
                        log_warning_errno(r, "cannot give %s its scheduling back: %m", l->object);
                        continue;
                }
                log_info("%s: the boost an earlier run left ended, its scheduling %s given back", l->object, l->was_text);
                forget_original(ctx, l->key);
                d->repaired = true;
        }
        return 0;
}

/* "boost TID START COMM" = "POLICY PRIORITY". */
static char *starvation_check_original(const char *what, const char *value) {
        g_autofree char *kind = NULL;
        int policy, priority;
        if (!enforcer_parse_task_entry(what, &kind, NULL, NULL, NULL) || !g_str_equal(kind, "boost"))
                return g_strdup("not \"boost PID START NAME\"");
        if (!task_sched_parse(value, &policy, &priority))
                return g_strdup("the saved scheduling is not a policy and priority");
        return NULL;
}

static int starvation_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        /* The same thread (its start time): a task that took its pid since is another.
         * Whatever its policy is now, a boost is never left on it. */
        int policy, priority;
        uint64_t start;
        TaskStat ts;
        pid_t tid;
        if (!enforcer_parse_task_entry(what, NULL, &tid, &start, NULL) || !task_sched_parse(value, &policy, &priority))
                return -EINVAL;
        if (task_read_stat(ctx->root, tid, 0, &ts) < 0 || ts.start_time != start)
                return -ENOENT;
        return task_set_sched(ctx->root, tid, policy, priority);
}

static const EnforcerOriginals starvation_originals = { starvation_restore, starvation_check_original };

const EnforcerOps enforcer_starvation = {
        .name = "starvation",
        .state_new = starvation_state_new,
        .state_free = starvation_state_free,
        .observe = starvation_observe,
        .observation_free = starvation_observation_free,
        .diff = starvation_diff,
        .apply = starvation_apply,
        .revert = starvation_revert,
        .originals = &starvation_originals,
        .ticking = starvation_ticking,
        .tick = starvation_tick,
        .stop = starvation_stop,
};
