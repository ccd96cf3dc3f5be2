/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The starvation guard's decisions on fake samples and times (enforce/starvation.h):
 * when a thread is starving, when its boost ends, which priority a SCHED_FIFO boost
 * takes, who holds a CPU; and the readers of a task's progress. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "enforce/starvation.h"
#include "kernel/cpustat.h"
#include "kernel/task.h"
#include "manager.h"
#include "testlib.h"

#define SEC G_USEC_PER_SEC
#define LIMIT (5 * SEC)

static StarveSample runnable(int cpu, uint64_t progress) {
        return (StarveSample) { .state = 'R', .cpu = cpu, .has_progress = true, .progress = progress };
}

static StarveSample sleeping(int cpu, uint64_t progress) {
        return (StarveSample) { .state = 'S', .cpu = cpu, .has_progress = true, .progress = progress };
}

/* Feeds one sample a second from t0 to t1 (inclusive) and returns the last action. */
static StarveAction feed(StarveTrack *t, StarveSample s, const CpuMask *cpus, int64_t t0, int64_t t1) {
        StarveAction a = STARVE_ACTION_NONE;
        for (int64_t now = t0; now <= t1; now += SEC)
                a = starve_judge(t, &s, cpus, now, LIMIT);
        return a;
}

START_TEST(test_runnable_unchanged_is_starving) {
        CpuMask audio = cs("3-7");
        StarveTrack t = {};
        StarveSample s = runnable(3, 1000);

        /* Seen at 0: the wait starts; 4 s later it is still only waiting. */
        ck_assert_int_eq(feed(&t, s, &audio, 0, 4 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_waited(&t, 4 * SEC), 4 * SEC);
        /* At 5 s unchanged: starving. */
        ck_assert_int_eq(starve_judge(&t, &s, &audio, 5 * SEC, LIMIT), STARVE_ACTION_BOOST);
        /* Asked again before the boost is made, still starving. */
        ck_assert_int_eq(starve_judge(&t, &s, &audio, 6 * SEC, LIMIT), STARVE_ACTION_BOOST);
}
END_TEST

START_TEST(test_progress_or_sleep_restarts_the_wait) {
        CpuMask audio = cs("3-7");
        StarveTrack t = {};

        feed(&t, runnable(3, 1000), &audio, 0, 4 * SEC);
        /* It ran a little at 4.5 s: the wait starts again from the next look. */
        StarveSample ran = runnable(3, 1500);
        ck_assert_int_eq(starve_judge(&t, &ran, &audio, 5 * SEC, LIMIT), STARVE_ACTION_NONE);
        ck_assert_int_eq(feed(&t, ran, &audio, 6 * SEC, 9 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_judge(&t, &ran, &audio, 10 * SEC, LIMIT), STARVE_ACTION_BOOST);

        /* Asleep in between: not waiting at all. */
        StarveTrack u = {};
        feed(&u, runnable(3, 1000), &audio, 0, 4 * SEC);
        StarveSample asleep = sleeping(3, 1000);
        ck_assert_int_eq(starve_judge(&u, &asleep, &audio, 5 * SEC, LIMIT), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_waited(&u, 5 * SEC), 0);
        StarveSample again = runnable(3, 1000);
        ck_assert_int_eq(feed(&u, again, &audio, 6 * SEC, 10 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_judge(&u, &again, &audio, 11 * SEC, LIMIT), STARVE_ACTION_BOOST);
}
END_TEST

START_TEST(test_only_audio_cpus_and_readable_threads) {
        CpuMask audio = cs("3-7");
        StarveTrack t = {};

        /* Runnable on housekeeping: not the guard's business. */
        ck_assert_int_eq(feed(&t, runnable(0, 1000), &audio, 0, 60 * SEC), STARVE_ACTION_NONE);
        /* Without a progress to compare, nothing can be said. */
        StarveSample blind = { .state = 'R', .cpu = 3 };
        ck_assert_int_eq(feed(&t, blind, &audio, 61 * SEC, 120 * SEC), STARVE_ACTION_NONE);
        /* A CPU field the kernel never writes. */
        ck_assert_int_eq(feed(&t, runnable(-1, 5), &audio, 121 * SEC, 200 * SEC), STARVE_ACTION_NONE);
        /* Moving from a housekeeping CPU to an audio one starts the wait there. */
        ck_assert_int_eq(feed(&t, runnable(4, 5), &audio, 201 * SEC, 205 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(feed(&t, runnable(4, 5), &audio, 206 * SEC, 206 * SEC), STARVE_ACTION_BOOST);
}
END_TEST

START_TEST(test_deadline_boost_lasts_its_duration) {
        CpuMask audio = cs("3");
        StarveTrack t = {};
        StarveSample s = runnable(3, 1000);

        feed(&t, s, &audio, 0, 5 * SEC);
        starve_boosted(&t, STARVE_METHOD_DEADLINE, &s, 5 * SEC);
        /* It runs its 20 us and sleeps: the kernel bounds a deadline boost, which keeps
         * its whole duration (more work may come). */
        StarveSample after = sleeping(3, 1020);
        ck_assert_int_eq(feed(&t, after, &audio, 6 * SEC, 7 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_judge(&t, &after, &audio, 5 * SEC + STARVE_BOOST_USEC, LIMIT), STARVE_ACTION_END);
        starve_ended(&t);
        /* Starving again: a whole limit first. */
        StarveSample again = runnable(3, 1020);
        ck_assert_int_eq(feed(&t, again, &audio, 9 * SEC, 13 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_judge(&t, &again, &audio, 14 * SEC, LIMIT), STARVE_ACTION_BOOST);
}
END_TEST

START_TEST(test_fifo_boost_ends_once_it_ran) {
        CpuMask audio = cs("3");
        StarveTrack t = {};
        StarveSample s = runnable(3, 1000);

        feed(&t, s, &audio, 0, 5 * SEC);
        starve_boosted(&t, STARVE_METHOD_FIFO, &s, 5 * SEC);
        /* Not run yet (a FIFO 99 hog of the same priority): the boost stays. */
        ck_assert_int_eq(starve_judge(&t, &s, &audio, 6 * SEC, LIMIT), STARVE_ACTION_NONE);
        /* Its run time grew: the unbounded boost ends at once. */
        StarveSample ran = runnable(3, 1200);
        ck_assert_int_eq(starve_judge(&t, &ran, &audio, 7 * SEC, LIMIT), STARVE_ACTION_END);
        /* Or it went to sleep, which it can only do by running. */
        StarveTrack u = {};
        feed(&u, s, &audio, 0, 5 * SEC);
        starve_boosted(&u, STARVE_METHOD_FIFO, &s, 5 * SEC);
        StarveSample slept = sleeping(3, 1000);
        ck_assert_int_eq(starve_judge(&u, &slept, &audio, 6 * SEC, LIMIT), STARVE_ACTION_END);
        /* And never longer than a deadline boost. */
        StarveTrack v = {};
        feed(&v, s, &audio, 0, 5 * SEC);
        starve_boosted(&v, STARVE_METHOD_FIFO, &s, 5 * SEC);
        ck_assert_int_eq(starve_judge(&v, &s, &audio, 5 * SEC + STARVE_BOOST_USEC, LIMIT), STARVE_ACTION_END);
}
END_TEST

START_TEST(test_failed_boost_waits_a_whole_limit) {
        CpuMask audio = cs("3");
        StarveTrack t = {};
        StarveSample s = runnable(3, 1000);

        feed(&t, s, &audio, 0, 5 * SEC);
        starve_boosted(&t, STARVE_METHOD_NONE, &s, 5 * SEC);
        /* Not tried again every second: refusals and logs stay rare. */
        ck_assert_int_eq(feed(&t, s, &audio, 6 * SEC, 10 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_judge(&t, &s, &audio, 11 * SEC, LIMIT), STARVE_ACTION_BOOST);
}
END_TEST

START_TEST(test_fifo_priority) {
        ck_assert_int_eq(starve_fifo_priority(SCHED_RR, 99), 99);
        ck_assert_int_eq(starve_fifo_priority(SCHED_FIFO, 80), 81);
        ck_assert_int_eq(starve_fifo_priority(SCHED_FIFO, 1), 2);
        ck_assert_int_eq(starve_fifo_priority(SCHED_OTHER, 0), 99);
        ck_assert_int_eq(starve_fifo_priority(-1, 0), 99);  /* no hog known */
        ck_assert_int_eq(starve_fifo_priority(SCHED_FIFO, 1000), 99); /* not a priority the kernel gives */
}
END_TEST

START_TEST(test_pick_hog) {
        const StarveCandidate c[] = {
                { 100, 'R', 3, SCHED_OTHER, 0 },   /* the starving kworker itself */
                { 200, 'R', 3, SCHED_OTHER, 0 },   /* a fair task waiting too */
                { 300, 'S', 3, SCHED_FIFO, 99 },   /* asleep */
                { 400, 'R', 4, SCHED_FIFO, 99 },   /* another CPU */
                { 500, 'R', 3, SCHED_FIFO, 50 },
                { 600, 'R', 3, SCHED_RR, 99 },     /* the player */
        };
        ck_assert_int_eq(starve_pick_hog(c, G_N_ELEMENTS(c), 3, 100), 5);
        ck_assert_int_eq(starve_pick_hog(c, 5, 3, 100), 4);
        ck_assert_int_eq(starve_pick_hog(c, 2, 3, 100), 1);
        ck_assert_int_eq(starve_pick_hog(c, 1, 3, 100), -1);
        ck_assert_int_eq(starve_pick_hog(c, G_N_ELEMENTS(c), 5, 100), -1);
        ck_assert_int_eq(starve_pick_hog(NULL, 0, 3, 0), -1);
}
END_TEST

START_TEST(test_progress_readers) {
        uint64_t n, slices;

        ck_assert_int_eq(task_parse_schedstat("123456789 42 17", &n, &slices), 0);
        ck_assert_uint_eq(n, 123456789);
        ck_assert_uint_eq(slices, 17);
        ck_assert_int_eq(task_parse_schedstat("", &n, &slices), -EBADMSG);
        ck_assert_int_eq(task_parse_schedstat("x 1 2", &n, &slices), -EBADMSG);
        ck_assert_int_eq(task_parse_schedstat("-5 1 2", &n, &slices), -EBADMSG);
        ck_assert_int_eq(task_parse_schedstat("99999999999999999999999 1 2", &n, &slices), -EBADMSG);

        ck_assert_int_eq(task_parse_switches("Name:\tkworker/3:1\nState:\tR (running)\n"
                                             "voluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t3\n",
                                             &n),
                         0);
        ck_assert_uint_eq(n, 123);
        /* "nonvoluntary_..." is not "voluntary_...": the order does not matter. */
        ck_assert_int_eq(task_parse_switches("nonvoluntary_ctxt_switches:\t3\nvoluntary_ctxt_switches:\t7\n", &n), 0);
        ck_assert_uint_eq(n, 10);
        ck_assert_int_eq(task_parse_switches("nonvoluntary_ctxt_switches:\t3\n", &n), -EBADMSG);
        ck_assert_int_eq(task_parse_switches("voluntary_ctxt_switches:\tmany\nnonvoluntary_ctxt_switches:\t3\n", &n),
                         -EBADMSG);
}
END_TEST

START_TEST(test_idle_cpus) {
        static const char stat[] =
                "cpu  1130616 44612 601678 3228839 9691 0 6312 2566 0 0\n"
                "cpu0 579218 19415 276861 1630361 3399 0 187 1289 0 0\n"
                "cpu3 551397 25196 324817 1598477 6291 0 6125 1276 0 0\n"
                "cpu9 1 2 3 4 5 6 7 8 9 10\n"
                "cpu4 1 2 3\n"
                "intr 12345 0 1 2\n";
        uint64_t idle[8];
        bool known[8];

        ck_assert_int_eq(cpustat_parse_idle(stat, idle, known, G_N_ELEMENTS(idle)), 0);
        ck_assert(known[0] && known[3]);
        ck_assert_uint_eq(idle[0], 1630361 + 3399);
        ck_assert_uint_eq(idle[3], 1598477 + 6291);
        ck_assert(!known[1]);
        ck_assert(!known[4]);   /* too short a line */
        ck_assert_int_eq(cpustat_parse_idle("intr 1 2\ncpux 1 2 3 4 5\n", idle, known, G_N_ELEMENTS(idle)), -EBADMSG);
        ck_assert_int_eq(cpustat_parse_idle("", idle, known, G_N_ELEMENTS(idle)), -EBADMSG);
        ck_assert(!known[0]);

        /* A CPU whose idle time grew went idle: nothing on it waited through the second. */
        ck_assert(!starve_cpu_stayed_busy(true, 100, true, 101));
        ck_assert(starve_cpu_stayed_busy(true, 100, true, 100));
        ck_assert(starve_cpu_stayed_busy(false, 0, true, 100)); /* the first look */
        ck_assert(starve_cpu_stayed_busy(true, 100, false, 0)); /* not readable: look anyway */

        /* A thread whose CPU rested waits again from scratch. */
        CpuMask audio = cs("3");
        StarveTrack t = {};
        StarveSample s = runnable(3, 1000);
        feed(&t, s, &audio, 0, 4 * SEC);
        starve_rested(&t);
        ck_assert_int_eq(feed(&t, s, &audio, 5 * SEC, 9 * SEC), STARVE_ACTION_NONE);
        ck_assert_int_eq(starve_judge(&t, &s, &audio, 10 * SEC, LIMIT), STARVE_ACTION_BOOST);
}
END_TEST

/* The readers over a fake root's files: schedstat first, status where it is missing. */
START_TEST(test_progress_at) {
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(Root) root = root_new(dir);
        uint64_t n;
        TaskStat st;

        fixture_write(dir, "proc/42/stat", "42 (kworker/3:1) R 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 142 0 0 "
                                           "0 0 0 0 0 0 0 0 0 0 0 0 0 0 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        fixture_write(dir, "proc/42/schedstat", "5000 0 3\n");
        fixture_write(dir, "proc/43/status", "Name:\tx\nvoluntary_ctxt_switches:\t4\nnonvoluntary_ctxt_switches:\t5\n");
        int proc = root_open_dir(root, "proc");
        ck_assert_int_ge(proc, 0);
        ck_assert_int_eq(task_read_stat_at(proc, 42, &st), 0);
        ck_assert_int_eq(st.state, 'R');
        ck_assert_int_eq(st.processor, 3);
        ck_assert_uint_eq(st.start_time, 142);
        ck_assert_int_eq(task_read_progress_at(proc, 42, &n), 0);
        ck_assert_uint_eq(n, 5000);
        ck_assert_int_eq(task_read_progress_at(proc, 43, &n), 0);
        ck_assert_uint_eq(n, 9);
        ck_assert_int_eq(task_read_progress_at(proc, 44, &n), -ENOENT);
        ck_assert_int_eq(task_read_stat_at(proc, 44, &st), -ENOENT);
        close(proc);
        fixture_remove(dir);
}
END_TEST


/* --- the guard on a fake machine, through a manager --- */

/* mini-2cpu: CPU 1 is the audio group's, ksoftirqd/1 is pid 16. */
#define KSOFTIRQD 16
#define GUARD_CONF "[Partition]\nHousekeeping=0\n[Group audio]\nCPUs=1\nSchedPolicy=rr\nSchedPriority=99\n" \
                   "[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\nStarvationSec=1\n"

typedef struct Rig {
        char *dir, *conf, *run;
        Manager *m;
        pid_t hog;                      /* a busy process whose run time each tick grows, or 0 */
        unsigned hog_runs;
} Rig;

static void rig_open(Rig *rig) {
        g_autoptr(GError) e = NULL;
        ManagerOptions o = { .root = rig->dir, .config_path = rig->conf, .config_must_exist = true, .runtime_dir = rig->run };
        ck_assert_msg(manager_new(&o, &rig->m, &e) && manager_start(rig->m, &e), "%s", e ? e->message : "");
}

static void rig_start(Rig *rig, const char *config) {
        rig->dir = fixture_new_root("mini-2cpu");
        rig->conf = g_build_filename(rig->dir, "isolatord.conf", NULL);
        rig->run = g_build_filename(rig->dir, "run", NULL);
        g_file_set_contents(rig->conf, config, -1, NULL);
        rig_open(rig);
}

static void rig_stop(Rig *rig) {
        manager_free(rig->m);
        fixture_remove(rig->dir);
        g_free(rig->dir);
        g_free(rig->conf);
        g_free(rig->run);
}

/* A fake task's stat line with its state (field 3) set. */
static void set_state(const Rig *rig, pid_t pid, char state) {
        g_autofree char *rel = g_strdup_printf("proc/%d/stat", (int) pid);
        g_autofree char *path = g_build_filename(rig->dir, rel, NULL), *line = NULL;
        ck_assert(g_file_get_contents(path, &line, NULL, NULL));
        char *close = strrchr(line, ')');
        ck_assert(close && close[1] == ' ');
        close[2] = state;
        fixture_write(rig->dir, rel, line);
}

/* The hog ran meanwhile: its run time grows, as a busy loop's does. */
static void hog_runs(Rig *rig) {
        if (!rig->hog)
                return;
        g_autofree char *rel = g_strdup_printf("proc/%d/schedstat", (int) rig->hog);
        g_autofree char *text = g_strdup_printf("%u000000000 0 5\n", ++rig->hog_runs);
        fixture_write(rig->dir, rel, text);
}

/* A user process hogging CPU 1 at rr 99: runnable, its run time growing. */
static void add_hog(Rig *rig, pid_t pid) {
        g_autofree char *base = g_strdup_printf("proc/%d", (int) pid);
        g_autofree char *stat = g_strdup_printf("%d (busy) R 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 -100 0 1 0 %d 0 0 "
                                                "0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 99 2 0 0 0 0 0 0 0 0 0 0 0 0 0",
                                                (int) pid, (int) pid, (int) pid, 100 + (int) pid);
        g_autofree char *rel_stat = g_strconcat(base, "/stat", NULL), *rel_sched = g_strconcat(base, "/schedstat", NULL);
        fixture_write(rig->dir, rel_stat, stat);
        rig->hog = pid;
        hog_runs(rig);
}

static void sched_of(const Rig *rig, pid_t pid, int *policy, int *priority) {
        g_autoptr(Root) root = root_new(rig->dir);
        ck_assert_int_eq(task_get_sched(root, pid, policy, priority), 0);
}

static const Finding *find(Manager *m, const char *kind, const char *object) {
        const GPtrArray *findings = manager_status(m)->findings;
        for (unsigned i = 0; i < findings->len; i++) {
                const Finding *f = findings->pdata[i];
                if (g_str_equal(f->kind, kind) && g_str_equal(f->object, object))
                        return f;
        }
        return NULL;
}

/* Ticks a second apart until the thread's policy is want, or 10 s. */
static bool tick_until(Rig *rig, pid_t pid, int want) {
        for (int i = 0; i < 10; i++) {
                int policy, priority;
                hog_runs(rig);
                manager_tick(rig->m);
                sched_of(rig, pid, &policy, &priority);
                if (policy == want)
                        return true;
                g_usleep(G_USEC_PER_SEC);
        }
        return false;
}

START_TEST(test_guard_boosts_and_gives_back) {
        Rig rig = {};
        int policy, priority;

        rig_start(&rig, GUARD_CONF);
        ck_assert_str_eq(manager_status(rig.m)->starvation_guard, "on");
        ck_assert(manager_ticking(rig.m));
        add_hog(&rig, 900);
        set_state(&rig, KSOFTIRQD, 'R');
        manager_verify(rig.m); /* the hog is seen */

        /* Runnable, its run time unchanged: boosted with SCHED_DEADLINE (6). */
        ck_assert(tick_until(&rig, KSOFTIRQD, 6));
        ck_assert_uint_eq(manager_counter(manager_status(rig.m), "boost_count"), 1);
        manager_verify(rig.m);
        const Finding *f = find(rig.m, "starvation", "16 ksoftirqd/1");
        ck_assert_ptr_nonnull(f);
        ck_assert(!f->required);
        ck_assert_msg(strstr(f->message, "busy (pid 900, rr 99)"), "%s", f->message);
        ck_assert_msg(strstr(f->actual, "runnable on CPU 1"), "%s", f->actual);
        /* Its scheduling was saved first. */
        ck_assert_uint_ge(manager_status(rig.m)->saved_originals, 1);

        /* 3 s later its own scheduling is back (it still starves: boosted again later). */
        ck_assert(tick_until(&rig, KSOFTIRQD, 0));
        sched_of(&rig, KSOFTIRQD, &policy, &priority);
        ck_assert_int_eq(priority, 0);

        /* Once it ran, nothing more. */
        set_state(&rig, KSOFTIRQD, 'S');
        for (int i = 0; i < 3; i++) {
                hog_runs(&rig);
                manager_tick(rig.m);
                g_usleep(G_USEC_PER_SEC / 2);
        }
        sched_of(&rig, KSOFTIRQD, &policy, &priority);
        ck_assert_int_eq(policy, 0);
        ck_assert_uint_eq(manager_counter(manager_status(rig.m), "boost_count"), 1);
        rig_stop(&rig);
}
END_TEST

/* proc/stat with CPU 1's idle time at idle. */
static void write_idle(const Rig *rig, unsigned idle) {
        g_autofree char *text = g_strdup_printf("cpu  1 0 1 %u 0 0 0 0 0 0\ncpu0 1 0 1 0 0 0 0 0 0 0\n"
                                                "cpu1 0 0 0 %u 0 0 0 0 0 0\n", idle, idle);
        fixture_write(rig->dir, "proc/stat", text);
}

/* A CPU that goes idle ran what was runnable on it: its threads are not even read. */
START_TEST(test_guard_idle_cpu) {
        Rig rig = {};
        int policy, priority;

        rig_start(&rig, GUARD_CONF);
        set_state(&rig, KSOFTIRQD, 'R');
        for (unsigned i = 0; i < 4; i++) {
                write_idle(&rig, 1000 + i);
                manager_tick(rig.m);
                g_usleep(G_USEC_PER_SEC / 2 + G_USEC_PER_SEC / 10);
        }
        sched_of(&rig, KSOFTIRQD, &policy, &priority);
        ck_assert_int_eq(policy, 0);
        /* Busy from now on: boosted a limit later. */
        ck_assert(tick_until(&rig, KSOFTIRQD, 6));
        rig_stop(&rig);
}
END_TEST

START_TEST(test_guard_revert_and_crash) {
        g_autoptr(GError) e = NULL;
        Rig rig = {};
        int policy, priority;

        rig_start(&rig, GUARD_CONF);
        unsigned applied = manager_status(rig.m)->saved_originals;
        set_state(&rig, KSOFTIRQD, 'R');
        ck_assert(tick_until(&rig, KSOFTIRQD, 6));
        ck_assert_uint_eq(manager_status(rig.m)->saved_originals, applied + 1);
        /* A revert gives the boosted thread its scheduling back, and no tick runs after. */
        ck_assert_msg(manager_revert(rig.m, &e), "%s", e ? e->message : "");
        sched_of(&rig, KSOFTIRQD, &policy, &priority);
        ck_assert_int_eq(policy, 0);
        ck_assert(!manager_ticking(rig.m));
        ck_assert_str_eq(manager_status(rig.m)->starvation_guard, "off: the partition is not applied");

        /* Boosted again, then a crash (no stop): the next start gives it back. */
        ck_assert_msg(manager_apply(rig.m, &e), "%s", e ? e->message : "");
        ck_assert(tick_until(&rig, KSOFTIRQD, 6));
        manager_free(rig.m);
        rig_open(&rig);
        sched_of(&rig, KSOFTIRQD, &policy, &priority);
        ck_assert_int_eq(policy, 0);
        ck_assert_uint_eq(manager_status(rig.m)->saved_originals, applied);

        /* Boosted again, then a clean stop: given back too, whatever RestoreOnExit says. */
        ck_assert(tick_until(&rig, KSOFTIRQD, 6));
        manager_stop(rig.m);
        sched_of(&rig, KSOFTIRQD, &policy, &priority);
        ck_assert_int_eq(policy, 0);
        rig_stop(&rig);
}
END_TEST

START_TEST(test_guard_auto_steps_aside) {
        g_autofree char *exe = NULL;
        Rig rig = {};

        /* No real-time group: off. */
        rig_start(&rig, "[Partition]\nHousekeeping=0\n[Group audio]\nCPUs=1\n[Sampler]\nEnabled=false\n"
                        "[Daemon]\nCgroupBackend=cgroupfs\n");
        ck_assert_str_eq(manager_status(rig.m)->starvation_guard,
                         "off: no group has real-time scheduling (StarvationGuard=auto)");
        ck_assert(!manager_ticking(rig.m));
        rig_stop(&rig);

        /* stalld runs: off, and reported. */
        rig_start(&rig, GUARD_CONF);
        fixture_write(rig.dir, "proc/950/stat", "950 (stalld) S 1 950 950 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1050 0 0 "
                                                "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0");
        exe = g_build_filename(rig.dir, "proc/950/exe", NULL);
        ck_assert_int_eq(symlink("/usr/bin/stalld", exe), 0);
        manager_verify(rig.m);
        ck_assert_str_eq(manager_status(rig.m)->starvation_guard, "off: stalld runs and boosts instead (StarvationGuard=auto)");
        ck_assert(!manager_ticking(rig.m));
        ck_assert_ptr_nonnull(find(rig.m, "conflict", "stalld pid 950"));
        rig_stop(&rig);

        /* on: beside stalld too. */
        g_autofree char *on = g_strconcat(GUARD_CONF, "StarvationGuard=on\n", NULL);
        rig_start(&rig, on);
        fixture_write(rig.dir, "proc/950/stat", "950 (stalld) S 1 950 950 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1050 0 0 "
                                                "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0");
        g_free(exe);
        exe = g_build_filename(rig.dir, "proc/950/exe", NULL);
        ck_assert_int_eq(symlink("/usr/bin/stalld", exe), 0);
        manager_verify(rig.m);
        ck_assert_str_eq(manager_status(rig.m)->starvation_guard, "on");
        ck_assert(manager_ticking(rig.m));
        rig_stop(&rig);
}
END_TEST

int main(void) {
        Suite *s = suite_create("starvation");
        TCase *tc = tcase_create("judge");

        tcase_add_test(tc, test_runnable_unchanged_is_starving);
        tcase_add_test(tc, test_progress_or_sleep_restarts_the_wait);
        tcase_add_test(tc, test_only_audio_cpus_and_readable_threads);
        tcase_add_test(tc, test_deadline_boost_lasts_its_duration);
        tcase_add_test(tc, test_fifo_boost_ends_once_it_ran);
        tcase_add_test(tc, test_failed_boost_waits_a_whole_limit);
        tcase_add_test(tc, test_fifo_priority);
        tcase_add_test(tc, test_pick_hog);
        tcase_add_test(tc, test_progress_readers);
        tcase_add_test(tc, test_progress_at);
        tcase_add_test(tc, test_idle_cpus);
        suite_add_tcase(s, tc);

        TCase *live = tcase_create("guard");
        tcase_set_timeout(live, 60);
        tcase_add_test(live, test_guard_boosts_and_gives_back);
        tcase_add_test(live, test_guard_revert_and_crash);
        tcase_add_test(live, test_guard_idle_cpu);
        tcase_add_test(live, test_guard_auto_steps_aside);
        suite_add_tcase(s, live);
        static const char *const machines[] = { "mini-2cpu", NULL };
        return test_run(s, machines);
}
