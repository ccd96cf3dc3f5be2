/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The threads of a placed process (daemon/enforce/workload-threads.c) on a fake host of
 * 16 CPUs, where rules can give threads CPUs of their own (the machines that run the
 * integration tests have two): each thread's rule or its group's, a rename, what is
 * saved at a first placement and what a revert gives back, keep, and GetWorkloads'
 * threads. On a fake root a task's CPUs are its status file and its scheduling its stat
 * line (kernel/task.h). */
#include <sched.h>
#include <string.h>

#include "enforce/workload-threads.h"
#include "kernel/task.h"
#include "testlib.h"

#define PID 500

static const char conf_text[] =
        "[Partition]\nHousekeeping=0-1\n"
        "[Group hq]\nCPUs=2-7\nSchedPolicy=fifo\nSchedPriority=50\n"
        "[Group kept]\nCPUs=8-15\nSchedPolicy=keep\n"
        "[Thread audio]\nGroup=hq\nMatch=audio-*\nCPUs=4-5\nSchedPolicy=fifo\nSchedPriority=45\n"
        "[Thread ctl]\nGroup=hq\nMatch=ctl\nCPUs=2\nSchedPolicy=other\n"
        "[Thread kept-audio]\nGroup=kept\nMatch=audio-*\nCPUs=12\n";

typedef struct Host {
        char *dir;
        Root *root;
        Config *config;
        Originals *originals;
        EnforcerContext ctx;
        CpuMask online;
} Host;

/* A thread of PID: its stat (start time 1000 + tid), status and comm, where the fake
 * task functions read them (under proc/TID, and under proc/PID/task/TID). */
static void add_thread(Host *h, pid_t tid, const char *comm, const char *cpus, int policy, int priority) {
        CpuMask set = cs(cpus);
        g_autofree char *mask = cpumask_format_mask(&set, 16);
        g_autoptr(GString) stat = g_string_new(NULL);
        g_string_append_printf(stat, "%d (%s) S 1 %d %d 0 -1 4194304", (int) tid, comm, PID, PID);
        for (int field = 10; field <= 52; field++)
                g_string_append_printf(stat, " %d", field == 22 ? 1000 + (int) tid : field == 40 ? priority
                                                                                : field == 41 ? policy : 0);
        g_autofree char *status = g_strdup_printf("Name:\t%s\nTgid:\t%d\nPid:\t%d\nCpus_allowed:\t%s\n"
                                                  "Cpus_allowed_list:\t%s\n", comm, PID, (int) tid, mask, cpus);
        g_autofree char *own_stat = g_strdup_printf("proc/%d/stat", (int) tid);
        g_autofree char *own_status = g_strdup_printf("proc/%d/status", (int) tid);
        g_autofree char *task_stat = g_strdup_printf("proc/%d/task/%d/stat", PID, (int) tid);
        g_autofree char *task_comm = g_strdup_printf("proc/%d/task/%d/comm", PID, (int) tid);
        g_autofree char *own_comm = g_strdup_printf("proc/%d/comm", (int) tid);
        g_autofree char *comm_line = g_strdup_printf("%s\n", comm);
        g_string_append_c(stat, '\n');
        fixture_write(h->dir, own_stat, stat->str);
        fixture_write(h->dir, own_status, status);
        fixture_write(h->dir, task_stat, stat->str);
        fixture_write(h->dir, task_comm, comm_line);
        fixture_write(h->dir, own_comm, comm_line);
}

static void host_start(Host *h) {
        g_autoptr(GError) e = NULL;
        g_autofree char *run = NULL;
        h->dir = fixture_tmpdir();
        run = g_build_filename(h->dir, "run", NULL);
        fixture_write(h->dir, "sys/devices/system/cpu/online", "0-15\n");
        h->root = root_new(h->dir);
        ck_assert_msg(config_load_data(conf_text, "test.conf", &h->config, &e) == 0, "%s", e ? e->message : "");
        ck_assert_msg(originals_open(run, "test", &h->originals, &e) == 0, "%s", e ? e->message : "");
        h->online = cs("0-15");
        h->ctx = (EnforcerContext) { .root = h->root, .host = h->root, .config = h->config, .originals = h->originals };
}

static void host_stop(Host *h) {
        originals_free(h->originals);
        config_free(h->config);
        root_free(h->root);
        fixture_remove(h->dir);
        g_free(h->dir);
}

/* "CPUS POLICY PRIORITY" of a fake thread. */
static char *state(Host *h, pid_t tid) {
        CpuMask cpus;
        int policy = -1, priority = -1;
        ck_assert_int_eq(task_get_affinity(h->root, tid, &cpus), 0);
        ck_assert_int_eq(task_get_sched(h->root, tid, &policy, &priority), 0);
        g_autofree char *list = cpumask_format_list(&cpus);
        return g_strdup_printf("%s %d %d", list, policy, priority);
}

#define ck_assert_state(h, tid, want)                                                                    \
        do {                                                                                             \
                g_autofree char *_s = state(h, tid);                                                     \
                ck_assert_msg(g_str_equal(_s, want), "thread %d: %s, expected %s", (int) (tid), _s, want); \
        } while (0)

/* What set_threads() in the enforcer does: every thread looked at, what each had
 * saved in one write, then the writes. */
static void place_threads(Host *h, const Workload *w, const pid_t *tids, size_t n) {
        g_autoptr(GPtrArray) whats = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
        ThreadLook looks[8];
        ck_assert_uint_le(n, G_N_ELEMENTS(looks));
        for (size_t i = 0; i < n; i++) {
                ck_assert(thread_look(&h->ctx, w, tids[i], &h->online, NULL, &looks[i]));
                thread_originals_add(&h->ctx, w, &looks[i], whats, values);
        }
        ck_assert_int_eq(enforcer_save_originals(&h->ctx, &enforcer_workload, whats->len,
                                                 (const char *const *) whats->pdata,
                                                 (const char *const *) values->pdata), 0);
        for (size_t i = 0; i < n; i++) {
                bool changed = false;
                ck_assert_int_eq(thread_set(&h->ctx, &looks[i], &changed), 0);
                thread_look_clear(&looks[i]);
        }
}

static bool all_on_target(Host *h, const Workload *w, const pid_t *tids, size_t n) {
        bool on = true;
        for (size_t i = 0; i < n; i++) {
                ThreadLook l;
                ck_assert(thread_look(&h->ctx, w, tids[i], &h->online, NULL, &l));
                on &= !thread_off_target(&l);
                thread_look_clear(&l);
        }
        return on;
}

/* What place() saves of the process before anything else: its main thread's. */
static void save_process(Host *h, const Workload *w, bool with_sched) {
        g_autofree char *aff = enforcer_task_entry("affinity", w->pid, w->start_time, w->comm);
        g_autofree char *sched = enforcer_task_entry("sched", w->pid, w->start_time, w->comm);
        ck_assert_int_eq(enforcer_save_originals(&h->ctx, &enforcer_workload, with_sched ? 2 : 1,
                                                 (const char *const[]) { aff, sched },
                                                 (const char *const[]) { "0-15", "0 0" }), 0);
}

/* The saved value of "@workload KIND ID START player", or NULL. */
static const char *saved(Host *h, const char *kind, pid_t id) {
        g_autofree char *key = g_strdup_printf("@workload %s %d %d player", kind, (int) id, 1000 + (int) id);
        return originals_get(h->originals, key);
}

/* Every saved original put back, newest first, as manager_revert() does. */
static void revert(Host *h) {
        for (guint i = originals_count(h->originals); i-- > 0;) {
                int r = enforcer_restore(&h->ctx, originals_path(h->originals, i), originals_value(h->originals, i));
                ck_assert_msg(r == 0 || r == -ENOENT, "%s: %d", originals_path(h->originals, i), r);
        }
}

START_TEST(test_rules_rename_and_revert) {
        Host h = {};
        host_start(&h);
        /* The main thread as it was executed; audio-1 made itself fifo 10, ctl pinned itself
         * to housekeeping, misc left as it started. */
        add_thread(&h, PID, "player", "0-15", SCHED_OTHER, 0);
        add_thread(&h, 501, "audio-1", "0-15", SCHED_FIFO, 10);
        add_thread(&h, 502, "ctl", "0-1", SCHED_OTHER, 0);
        add_thread(&h, 503, "misc", "0-15", SCHED_OTHER, 0);
        const pid_t tids[] = { PID, 501, 502, 503 };
        Workload w = { .group = (char *) "hq", .pid = PID, .start_time = 1000 + PID, .comm = (char *) "player", .cpus = cs("2-7"),
                       .policy = SCHED_FIFO, .priority = 50, .save_threads = true };

        save_process(&h, &w, true);
        place_threads(&h, &w, tids, G_N_ELEMENTS(tids));
        ck_assert_state(&h, PID, "2-7 1 50");   /* no rule: the group's */
        ck_assert_state(&h, 501, "4-5 1 45");   /* audio */
        ck_assert_state(&h, 502, "2 0 0");      /* ctl */
        ck_assert_state(&h, 503, "2-7 1 50");   /* no rule */
        ck_assert(all_on_target(&h, &w, tids, G_N_ELEMENTS(tids)));

        /* Saved: what differed from the process's, thread by thread, and only that. */
        ck_assert_str_eq(saved(&h, "thread-sched", 501), "1 10");
        ck_assert_ptr_null(saved(&h, "thread-affinity", 501));
        ck_assert_str_eq(saved(&h, "thread-affinity", 502), "0-1");
        ck_assert_ptr_null(saved(&h, "thread-sched", 502));
        ck_assert_ptr_null(saved(&h, "thread-affinity", 503));
        ck_assert_ptr_null(saved(&h, "thread-sched", 503));
        ck_assert_ptr_null(saved(&h, "thread-affinity", PID));

        /* misc renames itself audio-2: off its new rule's target, then on it, and what
         * isolatord gave it is not taken for its own. */
        add_thread(&h, 503, "audio-2", "2-7", SCHED_FIFO, 50);
        ck_assert(!all_on_target(&h, &w, tids, G_N_ELEMENTS(tids)));
        w.save_threads = false;
        place_threads(&h, &w, tids, G_N_ELEMENTS(tids));
        ck_assert_state(&h, 503, "4-5 1 45");
        ck_assert_ptr_null(saved(&h, "thread-sched", 503));
        /* A thread started after the placement, with what isolatord gave its creator:
         * nothing of its own saved either. */
        add_thread(&h, 504, "ctl", "4-5", SCHED_FIFO, 45);
        place_threads(&h, &w, (const pid_t[]) { 504 }, 1);
        ck_assert_state(&h, 504, "2 0 0");
        ck_assert_ptr_null(saved(&h, "thread-affinity", 504));

        /* GetWorkloads' threads: each with the rule its name selects. */
        g_autoptr(GPtrArray) report = workload_threads_report(&h.ctx, &w, &h.online);
        ck_assert_uint_eq(report->len, 5);
        for (unsigned i = 0; i < report->len; i++) {
                const WorkloadThread *t = report->pdata[i];
                const char *want = t->tid == 501 || t->tid == 503 ? "audio" : t->tid == 502 || t->tid == 504 ? "ctl" : NULL;
                ck_assert_msg(g_strcmp0(t->rule, want) == 0, "thread %d: rule %s", (int) t->tid, t->rule);
        }

        /* Revert: each thread that had values of its own gets them, the others the
         * process's; a thread that ended is no error. */
        g_autofree char *gone = g_build_filename(h.dir, "proc/504", NULL);
        g_autofree char *gone_task = g_build_filename(h.dir, "proc", "500", "task", "504", NULL);
        fixture_remove(gone);
        fixture_remove(gone_task);
        revert(&h);
        ck_assert_state(&h, PID, "0-15 0 0");
        ck_assert_state(&h, 501, "0-15 1 10");
        ck_assert_state(&h, 502, "0-1 0 0");
        ck_assert_state(&h, 503, "0-15 0 0");
        host_stop(&h);
}
END_TEST

/* keep: CPUs by rule or group, scheduling never written nor saved; revert gives the CPUs
 * back and leaves the scheduling as the program has it. */
START_TEST(test_keep) {
        Host h = {};
        host_start(&h);
        add_thread(&h, PID, "player", "0-15", SCHED_OTHER, 0);
        add_thread(&h, 501, "audio-1", "0-15", SCHED_FIFO, 70);
        add_thread(&h, 502, "misc", "0-15", SCHED_RR, 5);
        const pid_t tids[] = { PID, 501, 502 };
        Workload w = { .group = (char *) "kept", .pid = PID, .start_time = 1000 + PID, .comm = (char *) "player", .cpus = cs("8-15"),
                       .policy = -1, .save_threads = true };

        save_process(&h, &w, false);
        place_threads(&h, &w, tids, G_N_ELEMENTS(tids));
        ck_assert_state(&h, PID, "8-15 0 0");
        ck_assert_state(&h, 501, "12 1 70");
        ck_assert_state(&h, 502, "8-15 2 5");
        ck_assert_ptr_null(saved(&h, "thread-sched", 501));
        ck_assert_ptr_null(saved(&h, "sched", PID));
        /* The program changes its own scheduling: not a difference. */
        add_thread(&h, 501, "audio-1", "12", SCHED_FIFO, 80);
        ck_assert(all_on_target(&h, &w, tids, G_N_ELEMENTS(tids)));

        revert(&h);
        ck_assert_state(&h, PID, "0-15 0 0");
        ck_assert_state(&h, 501, "0-15 1 80");
        ck_assert_state(&h, 502, "0-15 2 5");
        host_stop(&h);
}
END_TEST

/* A saved thread entry is checked like a process's before it is restored. */
START_TEST(test_entries_checked) {
        ck_assert_ptr_null(enforcer_check_original("@workload thread-affinity 501 1501 player", "4-5", NULL));
        ck_assert_ptr_null(enforcer_check_original("@workload thread-sched 501 1501 player", "1 10", NULL));
        g_autofree char *cpus = enforcer_check_original("@workload thread-affinity 501 1501 player", "../x", NULL);
        g_autofree char *sched = enforcer_check_original("@workload thread-sched 501 1501 player", "1 0", NULL);
        g_autofree char *shape = enforcer_check_original("@workload thread-sched 501 player", "0 0", NULL);
        g_autofree char *kind = enforcer_check_original("@workload thread-cgroup 501 1501 player", "/", NULL);
        ck_assert_ptr_nonnull(cpus);
        ck_assert_ptr_nonnull(sched);
        ck_assert_ptr_nonnull(shape);
        ck_assert_ptr_nonnull(kind);
}
END_TEST

int main(void) {
        Suite *s = suite_create("threads");
        TCase *tc = tcase_create("threads");

        tcase_add_test(tc, test_rules_rename_and_revert);
        tcase_add_test(tc, test_keep);
        tcase_add_test(tc, test_entries_checked);
        suite_add_tcase(s, tc);
        return test_run(s, NULL);
}
