/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "model/partition.h"
#include "model/plan.h"
#include "testlib.h"

/* Every group's CPUs are whole cores, groups are disjoint, and with housekeeping they
 * cover every online CPU. */
static void assert_whole_and_covering(const Config *c, const Topology *t) {
        CpuMask all = c->housekeeping;
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                ck_assert(!cpumask_intersects(&all, &g->cpus));
                cpumask_or(&all, &all, &g->cpus);
                CPUMASK_FOREACH(cpu, &g->cpus)
                        ck_assert_msg(cpumask_is_subset(topology_core_of(t, (unsigned) cpu), &g->cpus),
                                      "group %s has CPU %d without its siblings", g->name, cpu);
        }
        ck_assert(cpumask_equal(&all, &t->online));
}

START_TEST(test_ryzen_gives_the_seed) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(Config) tmpl = config_new_default();
        g_autoptr(GPtrArray) notes = NULL;
        g_autoptr(Config) p = plan_partition(t, tmpl, &notes);

        ck_assert_cpus(&p->housekeeping, "0,8");
        ck_assert_uint_eq(p->groups->len, 2);
        ck_assert_cpus(&config_find_group(p, "diretta")->cpus, "1-2,9-10");
        ck_assert_cpus(&config_find_group(p, "hqplayer")->cpus, "3-7,11-15");
        ck_assert_int_eq(config_find_group(p, "hqplayer")->sched_priority, 99);
        ck_assert_uint_eq(notes->len, 0);
        assert_whole_and_covering(p, t);

        g_autoptr(GPtrArray) diags = partition_validate(p, t);
        ck_assert_uint_eq(diags->len, 0);
}
END_TEST

START_TEST(test_mini_keeps_the_heaviest) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("mini-2cpu"));
        g_autoptr(Config) tmpl = config_new_default();
        g_autoptr(GPtrArray) notes = NULL;
        g_autoptr(Config) p = plan_partition(t, tmpl, &notes);

        ck_assert_cpus(&p->housekeeping, "0");
        ck_assert_uint_eq(p->groups->len, 1);
        ck_assert_cpus(&config_find_group(p, "hqplayer")->cpus, "1");
        ck_assert_uint_eq(notes->len, 1);
        ck_assert_msg(strstr(notes->pdata[0], "group diretta gets no CPUs: the machine has 1 core beside housekeeping for 2 groups"),
                      "%s", (char *) notes->pdata[0]);
        g_autoptr(GPtrArray) diags = partition_validate(p, t);
        ck_assert_uint_eq(diags->len, 0);
}
END_TEST

START_TEST(test_server_by_weight_and_l3) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("server-256"));
        g_autoptr(Config) tmpl = config_new_default();
        g_autoptr(Config) p = plan_partition(t, tmpl, NULL);

        ck_assert_cpus(&p->housekeeping, "0,128");
        assert_whole_and_covering(p, t);
        /* 127 cores by weight 4:10 (the template's CPU counts): 36.3 and 90.7. */
        ck_assert_uint_eq(cpumask_count(&config_find_group(p, "diretta")->cpus), 72);
        ck_assert_uint_eq(cpumask_count(&config_find_group(p, "hqplayer")->cpus), 182);
        g_autoptr(GPtrArray) diags = partition_validate(p, t);
        ck_assert_uint_eq(diagnostics_count(diags, DIAG_ERROR), 0);
}
END_TEST

START_TEST(test_groups_that_fit_stay_in_one_l3) {
        /* Four L3 domains of four single-thread cores; CPU 0 is housekeeping. */
        g_autoptr(Topology) t = topology_new(16);
        CpuMask l3[4] = { cs("0-3"), cs("4-7"), cs("8-11"), cs("12-15") };
        for (unsigned cpu = 0; cpu < 16; cpu++) {
                cpumask_add(&t->possible, cpu);
                cpumask_add(&t->online, cpu);
                topology_add_cpu(t, cpu, NULL, &l3[cpu / 4], 0);
        }
        /* Weights 3:4:8 of 15 cores give 3, 4 and 8 cores. */
        g_autoptr(Config) tmpl = NULL;
        ck_assert_int_eq(config_load_data("[Group small]\nCPUs=0-2\n[Group mid]\nCPUs=0-3\n[Group big]\nCPUs=0-7\n",
                                          "t", &tmpl, NULL), 0);
        g_autoptr(Config) p = plan_partition(t, tmpl, NULL);

        /* small fits the 3 cores left beside housekeeping, mid one whole domain, big takes two whole ones. */
        ck_assert_cpus(&config_find_group(p, "small")->cpus, "1-3");
        ck_assert_cpus(&config_find_group(p, "mid")->cpus, "4-7");
        ck_assert_cpus(&config_find_group(p, "big")->cpus, "8-15");
        g_autoptr(GPtrArray) diags = partition_validate(p, t);
        ck_assert_uint_eq(diags->len, 1); /* big spans two L3 domains, as it must */
        ck_assert_str_eq(((Diagnostic *) diags->pdata[0])->rule, "l3-straddle");
}
END_TEST

START_TEST(test_plan_text_loads_back) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("server-256"));
        g_autoptr(Config) tmpl = config_new_default();
        g_autoptr(Config) p = plan_partition(t, tmpl, NULL);
        g_autofree char *text = config_to_text(p, "plan");
        g_autoptr(Config) back = NULL;

        ck_assert_int_eq(config_load_data(text, "plan", &back, NULL), 0);
        ck_assert(cpumask_equal(&back->housekeeping, &p->housekeeping));
        ck_assert(cpumask_equal(&config_find_group(back, "hqplayer")->cpus, &config_find_group(p, "hqplayer")->cpus));
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", "server-256", NULL };
        Suite *s = suite_create("plan");
        TCase *tc = tcase_create("plan");

        tcase_add_test(tc, test_ryzen_gives_the_seed);
        tcase_add_test(tc, test_mini_keeps_the_heaviest);
        tcase_add_test(tc, test_server_by_weight_and_l3);
        tcase_add_test(tc, test_groups_that_fit_stay_in_one_l3);
        tcase_add_test(tc, test_plan_text_loads_back);
        suite_add_tcase(s, tc);
        return test_run(s, machines);
}
