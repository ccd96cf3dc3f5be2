/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pieces under the cpuset, kthread and cpufreq enforcers on the fake machines:
 * /proc task files, systemd's slice layout, fake-root task affinity, and each enforcer's
 * apply, verify and restore through a manager on a private root. */
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "kernel/cgroup.h"
#include "model/config.h"
#include "enforce/enforcer-workload.h"
#include "enforce/workload-classify.h"
#include "manager.h"
#include "kernel/task.h"
#include "testlib.h"

START_TEST(test_slice_layout) {
        g_autofree char *top = cgroup_unit_rel(CGROUP_BACKEND_CGROUPFS, "system.slice");
        g_autofree char *nested = cgroup_unit_rel(CGROUP_BACKEND_SYSTEMD, "audio-hq-main.slice");
        g_autofree char *scope = cgroup_unit_rel(CGROUP_BACKEND_CGROUPFS, "init.scope");
        g_autofree char *v1 = cgroup_unit_rel(CGROUP_BACKEND_CGROUPFS_V1, "audio-hq.slice");
        ck_assert_str_eq(v1, "sys/fs/cgroup/cpuset/audio.slice/audio-hq.slice");
        ck_assert_str_eq(top, "sys/fs/cgroup/system.slice");
        ck_assert_str_eq(nested, "sys/fs/cgroup/audio.slice/audio-hq.slice/audio-hq-main.slice");
        ck_assert_str_eq(scope, "sys/fs/cgroup/init.scope");
        g_autoptr(GPtrArray) chain = cgroup_unit_chain("a-b.slice");
        ck_assert_uint_eq(chain->len, 2);
        ck_assert_str_eq(chain->pdata[0], "a.slice");
        ck_assert_str_eq(chain->pdata[1], "a.slice/a-b.slice");
        /* The rel is the chain's last folder, whatever the dashes. */
        for (const char *const *u = (const char *const[]) { "-.slice", "a--b.slice", "a-.slice", "x-y-z.slice",
                                                            "a-b.service", "user-1000.slice", "init.scope", NULL };
             *u; u++) {
                g_autoptr(GPtrArray) c = cgroup_unit_chain(*u);
                g_autofree char *rel = cgroup_unit_rel(CGROUP_BACKEND_CGROUPFS, *u);
                g_autofree char *want = g_strconcat("sys/fs/cgroup/", c->pdata[c->len - 1], NULL);
                ck_assert_str_eq(rel, want);
        }
}
END_TEST

/* The limits of a placed process as its /proc/PID/limits gives them: each below what
 * its group needs is advice with the fix, and raised it is gone (the integration test
 * cannot raise a hard limit here: no CAP_SYS_RESOURCE). */
START_TEST(test_limits_advice) {
        static const char *const low =
                "Limit                     Soft Limit           Hard Limit           Units     \n"
                "Max locked memory         65536                65536                bytes     \n"
                "Max realtime priority     0                    0                    \n"
                "Max realtime timeout      unlimited            unlimited            us        \n";
        static const char *const raised =
                "Limit                     Soft Limit           Hard Limit           Units     \n"
                "Max locked memory         unlimited            unlimited            bytes     \n"
                "Max realtime priority     95                   95                   \n";
        int policy = SCHED_FIFO, priority = 90;
        g_autoptr(GPtrArray) out = findings_new();

        workload_limits_advice("4242 hqplayerd", policy, priority, low, out);
        ck_assert_uint_eq(out->len, 2);
        const Finding *rt = out->pdata[0], *mem = out->pdata[1];
        ck_assert_str_eq(rt->kind, "rlimit");
        ck_assert_str_eq(rt->object, "4242 hqplayerd");
        ck_assert_str_eq(rt->expected, "RLIMIT_RTPRIO >= 90");
        ck_assert_str_eq(rt->actual, "0");
        ck_assert(!rt->required);
        ck_assert_ptr_nonnull(strstr(rt->message, "LimitRTPRIO=90"));
        ck_assert_str_eq(mem->expected, "RLIMIT_MEMLOCK unlimited");
        ck_assert_str_eq(mem->actual, "65536 bytes");
        ck_assert_ptr_nonnull(strstr(mem->message, "LimitMEMLOCK=infinity"));

        g_ptr_array_set_size(out, 0);
        workload_limits_advice("4242 hqplayerd", policy, priority, raised, out);
        ck_assert_uint_eq(out->len, 0);

        /* A group without real-time scheduling needs no RLIMIT_RTPRIO. */
        policy = SCHED_OTHER;
        priority = 0;
        workload_limits_advice("4242 hqplayerd", policy, priority, low, out);
        ck_assert_uint_eq(out->len, 1);
        ck_assert_str_eq(((Finding *) out->pdata[0])->expected, "RLIMIT_MEMLOCK unlimited");
}
END_TEST

START_TEST(test_task_stat) {
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(Root) root = root_new(dir);
        TaskStat st;
        /* A name with spaces and parentheses: the kernel does not escape it. */
        g_autoptr(GString) line = g_string_new("42 (a) b (c) S 1 42 42 0 -1 2097216");
        for (int f = 10; f <= 38; f++)
                g_string_append(line, " 0");
        g_string_append(line, " 7 50 2 0 0 0 0 0 0 0 0 0 0 0\n");
        fixture_write(dir, "proc/42/stat", line->str);
        ck_assert_int_eq(task_read_stat(root, 42, 0, &st), 0);
        ck_assert_str_eq(st.comm, "a) b (c");
        ck_assert_int_eq(st.state, 'S');
        ck_assert_int_eq(st.session, 42);
        ck_assert_uint_eq(st.flags, 2097216);
        ck_assert(st.flags & TASK_PF_KTHREAD);
        ck_assert_int_eq(st.processor, 7);
        ck_assert_int_eq(st.rt_priority, 50);
        ck_assert_int_eq(st.policy, 2);
        fixture_write(dir, "proc/43/stat", "43 (short) S 1\n");
        ck_assert_int_lt(task_read_stat(root, 43, 0, &st), 0);
        fixture_write(dir, "proc/44/stat", "44 no parentheses\n");
        ck_assert_int_lt(task_read_stat(root, 44, 0, &st), 0);
        fixture_remove(dir);
}
END_TEST

/* On the host, the kernel's affinity as an array of longs, converted a word at a time:
 * this thread's own, each end of it alone (past the first word on a machine of 65 CPUs
 * or more), and back. */
START_TEST(test_host_affinity_roundtrip) {
        g_autoptr(Root) host = root_new("/");
        CpuMask was, now, one;
        ck_assert_int_eq(task_get_affinity(host, 0, &was), 0);
        size_t size = CPU_ALLOC_SIZE(CPUMASK_MAX);
        cpu_set_t *kernel = CPU_ALLOC(CPUMASK_MAX);
        CPU_ZERO_S(size, kernel);
        ck_assert_int_eq(sched_getaffinity(0, size, kernel), 0);
        ck_assert_uint_eq(cpumask_count(&was), (unsigned) CPU_COUNT_S(size, kernel));
        for (int cpu = cpumask_first(&was); cpu >= 0; cpu = cpumask_next(&was, cpu))
                ck_assert(CPU_ISSET_S((size_t) cpu, size, kernel));
        CPU_FREE(kernel);
        int ends[] = { cpumask_first(&was), cpumask_last(&was) };
        for (size_t i = 0; i < G_N_ELEMENTS(ends); i++) {
                cpumask_zero(&one);
                cpumask_add(&one, (unsigned) ends[i]);
                ck_assert_int_eq(task_set_affinity(host, 0, &one), 0);
                ck_assert_int_eq(task_get_affinity(host, 0, &now), 0);
                ck_assert(cpumask_equal(&now, &one));
                ck_assert_int_eq(sched_getcpu(), ends[i]);
        }
        ck_assert_int_eq(task_set_affinity(host, 0, &was), 0);
        ck_assert_int_eq(task_get_affinity(host, 0, &now), 0);
        ck_assert(cpumask_equal(&now, &was));
}
END_TEST

START_TEST(test_fake_affinity_roundtrip) {
        g_autofree char *dir = fixture_new_root("ryzen-7700x");
        g_autoptr(Root) root = root_new(dir);
        g_autofree char *before = NULL, *after = NULL;
        CpuMask cpus;
        ck_assert_int_eq(root_read(root, "proc/2/status", &before, NULL), 0);
        ck_assert_int_eq(task_get_affinity(root, 2, &cpus), 0);
        ck_assert_cpus(&cpus, "0-15");
        CpuMask hk = cs("0,8");
        ck_assert_int_eq(task_set_affinity(root, 2, &hk), 0);
        ck_assert_int_eq(task_get_affinity(root, 2, &cpus), 0);
        ck_assert_cpus(&cpus, "0,8");
        g_autofree char *mid = NULL;
        ck_assert_int_eq(root_read(root, "proc/2/status", &mid, NULL), 0);
        ck_assert_msg(strstr(mid, "Cpus_allowed:\t0101\n"), "%s", mid);
        CpuMask all = cs("0-15");
        ck_assert_int_eq(task_set_affinity(root, 2, &all), 0);
        ck_assert_int_eq(root_read(root, "proc/2/status", &after, NULL), 0);
        ck_assert_str_eq(before, after);
        ck_assert_int_lt(task_set_affinity(root, 99999, &all), 0);
        /* Scheduling as the stat line's fields 41 and 40, rewritten in place. */
        int policy = -1, priority = -1;
        g_autofree char *stat_before = NULL, *stat_after = NULL;
        ck_assert_int_eq(root_read(root, "proc/2/stat", &stat_before, NULL), 0);
        ck_assert_int_eq(task_get_sched(root, 2, &policy, &priority), 0);
        ck_assert_int_eq(policy, SCHED_OTHER);
        ck_assert_int_eq(task_set_sched(root, 2, SCHED_FIFO, 42), 0);
        ck_assert_int_eq(task_get_sched(root, 2, &policy, &priority), 0);
        ck_assert_int_eq(policy, SCHED_FIFO);
        ck_assert_int_eq(priority, 42);
        ck_assert_int_eq(task_set_sched(root, 2, SCHED_OTHER, 0), 0);
        ck_assert_int_eq(root_read(root, "proc/2/stat", &stat_after, NULL), 0);
        ck_assert_str_eq(stat_before, stat_after);
        fixture_remove(dir);
}
END_TEST

typedef struct Rig {
        char *dir, *conf, *run;
        Manager *m;
} Rig;

static void rig_start(Rig *rig, const char *machine, const char *config) {
        g_autoptr(GError) e = NULL;
        rig->dir = fixture_new_root(machine);
        rig->conf = g_build_filename(rig->dir, "isolatord.conf", NULL);
        rig->run = g_build_filename(rig->dir, "run", NULL);
        g_file_set_contents(rig->conf, config, -1, NULL);
        ManagerOptions o = { .root = rig->dir, .config_path = rig->conf, .config_must_exist = true, .runtime_dir = rig->run };
        ck_assert_msg(manager_new(&o, &rig->m, &e) && manager_start(rig->m, &e), "%s", e ? e->message : "");
}

static void rig_stop(Rig *rig) {
        manager_free(rig->m);
        fixture_remove(rig->dir);
        g_free(rig->dir);
        g_free(rig->conf);
        g_free(rig->run);
}

static char *slurp(const Rig *rig, const char *rel) {
        g_autofree char *path = g_build_filename(rig->dir, rel, NULL);
        char *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, NULL))
                return g_strdup("(absent)");
        g_strchomp(text);
        return text;
}

static const Finding *find(const GPtrArray *findings, const char *kind, const char *object) {
        for (unsigned i = 0; i < findings->len; i++) {
                const Finding *f = findings->pdata[i];
                if (g_str_equal(f->kind, kind) && (!object || g_str_equal(f->object, object)))
                        return f;
        }
        return NULL;
}

#define RIG_CONF "[Sampler]\nEnabled=false\n[Daemon]\nCgroupBackend=cgroupfs\n"

START_TEST(test_kthreads_and_governors) {
        Rig rig = {};
        rig_start(&rig, "ryzen-7700x", RIG_CONF);
        g_autofree char *kthreadd = slurp(&rig, "proc/2/status");
        ck_assert_msg(strstr(kthreadd, "Cpus_allowed_list:\t0,8"), "%s", kthreadd);
        /* ksoftirqd/3 is per-CPU (PF_NO_SETAFFINITY): left alone. */
        g_autofree char *ksoftirqd = slurp(&rig, "proc/24/status");
        ck_assert_msg(strstr(ksoftirqd, "Name:\tksoftirqd/3") && strstr(ksoftirqd, "Cpus_allowed_list:\t3"), "%s", ksoftirqd);
        g_autofree char *wq = slurp(&rig, "sys/devices/virtual/workqueue/cpumask");
        ck_assert_str_eq(wq, "0101");
        g_autofree char *gov3 = slurp(&rig, "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor");
        g_autofree char *gov8 = slurp(&rig, "sys/devices/system/cpu/cpu8/cpufreq/scaling_governor");
        ck_assert_str_eq(gov3, "performance");
        ck_assert_str_eq(gov8, "powersave");
        ck_assert_ptr_null(find(manager_status(rig.m)->findings, "kthread", NULL));
        ck_assert_ptr_null(find(manager_status(rig.m)->findings, "workqueue", NULL));
        ck_assert_ptr_nonnull(find(manager_status(rig.m)->findings, "unowned-process", NULL));

        /* A kernel thread that exited and whose PID went to a user process is not
         * "restored": the saved name must match. */
        fixture_write(rig.dir, "proc/2/stat", "2 (bash) S 1 2 2 0 -1 4194304 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        g_autoptr(GError) e = NULL;
        ck_assert(manager_revert(rig.m, &e));
        g_autofree char *after = slurp(&rig, "proc/2/status");
        ck_assert_msg(strstr(after, "Cpus_allowed_list:\t0,8"), "%s", after);
        g_autofree char *gov_back = slurp(&rig, "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor");
        ck_assert_str_eq(gov_back, "powersave");
        rig_stop(&rig);
}
END_TEST

START_TEST(test_cpusets_cgroupfs) {
        Rig rig = {};
        rig_start(&rig, "ryzen-7700x", RIG_CONF "[Group hq]\nCPUs=3-7\nSlice=audio-hq.slice\nPartition=isolated\n");
        g_autofree char *init = slurp(&rig, "sys/fs/cgroup/init.scope/cpuset.cpus");
        g_autofree char *hq = slurp(&rig, "sys/fs/cgroup/audio.slice/audio-hq.slice/cpuset.cpus");
        g_autofree char *part = slurp(&rig, "sys/fs/cgroup/audio.slice/audio-hq.slice/cpuset.cpus.partition");
        ck_assert_str_eq(init, "0,8");
        ck_assert_str_eq(hq, "3-7");
        ck_assert_str_eq(part, "isolated");
        ck_assert_ptr_null(find(manager_status(rig.m)->findings, "cpuset", NULL));

        /* Drift through the periodic verify: repaired and counted once. */
        fixture_write(rig.dir, "sys/fs/cgroup/user.slice/cpuset.cpus", "0-15\n");
        uint64_t before = manager_status(rig.m)->drift_corrections;
        manager_verify(rig.m);
        g_autofree char *user = slurp(&rig, "sys/fs/cgroup/user.slice/cpuset.cpus");
        ck_assert_str_eq(user, "0,8");
        ck_assert_uint_eq(manager_status(rig.m)->drift_corrections, before + 1);

        /* A group that moves is not drift. */
        g_autoptr(GError) e = NULL;
        ck_assert_msg(manager_set_group_cpus(rig.m, "hq", "3-6", &e), "%s", e ? e->message : "");
        g_autofree char *moved = slurp(&rig, "sys/fs/cgroup/audio.slice/audio-hq.slice/cpuset.cpus");
        ck_assert_str_eq(moved, "3-6");
        ck_assert_uint_eq(manager_status(rig.m)->drift_corrections, before + 1);

        /* Revert removes what it created, innermost first. */
        ck_assert(manager_revert(rig.m, &e));
        g_autofree char *gone = slurp(&rig, "sys/fs/cgroup/audio.slice/audio-hq.slice/cpuset.cpus");
        ck_assert_str_eq(gone, "(absent)");
        g_autofree char *audio = g_build_filename(rig.dir, "sys/fs/cgroup/audio.slice", NULL);
        ck_assert(!g_file_test(audio, G_FILE_TEST_EXISTS));
        rig_stop(&rig);
}
END_TEST

START_TEST(test_no_cpuset_controller_is_a_finding) {
        g_autofree char *dir = NULL;
        /* A machine whose system.slice has no cpuset files (controller not enabled). */
        dir = fixture_new_root("mini-2cpu");
        g_autofree char *f = g_build_filename(dir, "sys/fs/cgroup/system.slice/cpuset.cpus", NULL);
        unlink(f);
        g_autofree char *conf = g_build_filename(dir, "c.conf", NULL);
        g_autofree char *run = g_build_filename(dir, "run", NULL);
        g_file_set_contents(conf, "[Partition]\nHousekeeping=0\n[Group a]\nCPUs=1\n" RIG_CONF, -1, NULL);
        ManagerOptions o = { .root = dir, .config_path = conf, .config_must_exist = true, .runtime_dir = run };
        g_autoptr(GError) e = NULL;
        Manager *m = NULL;
        ck_assert_msg(manager_new(&o, &m, &e) && manager_start(m, &e), "%s", e ? e->message : "");
        const Finding *nf = find(manager_status(m)->findings, "cpuset", "system.slice");
        ck_assert_ptr_nonnull(nf);
        ck_assert(nf->required);
        ck_assert_msg(strstr(nf->message, "cpuset controller"), "%s", nf->message);
        ck_assert_int_eq(manager_status(m)->state, MANAGER_DEGRADED);
        manager_free(m);
        fixture_remove(dir);
}
END_TEST

START_TEST(test_pm_qos_held) {
        /* Without the device, a finding; with it, the value written and the file held. */
        Rig rig = {};
        rig_start(&rig, "mini-2cpu", "[Partition]\nHousekeeping=0\nCpuDmaLatencyUs=7\n[Group a]\nCPUs=1\n" RIG_CONF);
        ck_assert_ptr_nonnull(find(manager_status(rig.m)->findings, "pm-qos", "cpu_dma_latency"));
        rig_stop(&rig);

        rig_start(&rig, "mini-2cpu", "[Partition]\nHousekeeping=0\n[Group a]\nCPUs=1\n" RIG_CONF);
        manager_free(rig.m);
        fixture_write(rig.dir, "dev/cpu_dma_latency", "");
        g_file_set_contents(rig.conf, "[Partition]\nHousekeeping=0\nCpuDmaLatencyUs=7\n[Group a]\nCPUs=1\n" RIG_CONF, -1, NULL);
        g_autoptr(GError) e = NULL;
        ManagerOptions o = { .root = rig.dir, .config_path = rig.conf, .config_must_exist = true, .runtime_dir = rig.run };
        ck_assert_msg(manager_new(&o, &rig.m, &e) && manager_start(rig.m, &e), "%s", e ? e->message : "");
        ck_assert_ptr_null(find(manager_status(rig.m)->findings, "pm-qos", NULL));
        g_autofree char *path = g_build_filename(rig.dir, "dev/cpu_dma_latency", NULL), *data = NULL;
        gsize len;
        ck_assert(g_file_get_contents(path, &data, &len, NULL));
        ck_assert_uint_eq(len, 4);
        int32_t v;
        memcpy(&v, data, 4);
        ck_assert_int_eq(v, 7);
        rig_stop(&rig);
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", NULL };
        Suite *s = suite_create("enforcers");
        TCase *pure = tcase_create("pure");
        TCase *live = tcase_create("on fake roots");
        tcase_add_test(pure, test_slice_layout);
        tcase_add_test(pure, test_task_stat);
        tcase_add_test(pure, test_limits_advice);
        tcase_add_test(live, test_fake_affinity_roundtrip);
        tcase_add_test(live, test_host_affinity_roundtrip);
        tcase_add_test(live, test_kthreads_and_governors);
        tcase_add_test(live, test_cpusets_cgroupfs);
        tcase_add_test(live, test_no_cpuset_controller_is_a_finding);
        tcase_add_test(live, test_pm_qos_held);
        tcase_set_timeout(live, 120);
        suite_add_tcase(s, pure);
        suite_add_tcase(s, live);
        return test_run(s, machines);
}
