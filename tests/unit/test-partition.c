/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "model/partition.h"
#include "testlib.h"

static Config *conf(const char *text) {
        g_autoptr(GError) e = NULL;
        Config *c = NULL;
        ck_assert_msg(config_load_data(text, "test.conf", &c, &e) == 0, "%s", e ? e->message : "");
        return c;
}

/* The diagnostic of a rule about a group, or NULL. */
static const Diagnostic *find(const GPtrArray *diags, const char *rule, const char *group) {
        for (unsigned i = 0; i < diags->len; i++) {
                const Diagnostic *d = diags->pdata[i];
                if (strcmp(d->rule, rule) == 0 && g_strcmp0(d->group, group) == 0)
                        return d;
        }
        return NULL;
}

static const Diagnostic *expect(const GPtrArray *diags, DiagSeverity sev, const char *rule, const char *group,
                                const char *cpus, const char *message_part) {
        const Diagnostic *d = find(diags, rule, group);
        ck_assert_msg(d, "no %s diagnostic for %s", rule, group ? group : "(partition)");
        ck_assert_int_eq(d->severity, sev);
        if (cpus)
                ck_assert_cpus(&d->cpus, cpus);
        ck_assert_msg(strstr(d->message, message_part), "\"%s\" lacks \"%s\"", d->message, message_part);
        return d;
}

START_TEST(test_seed_on_ryzen) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        ck_assert_msg(diags->len == 0, "first: %s", diags->len ? ((Diagnostic *) diags->pdata[0])->message : "");
}
END_TEST

START_TEST(test_seed_on_mini) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("mini-2cpu"));
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        ck_assert_uint_eq(diagnostics_count(diags, DIAG_ERROR), 3);
        expect(diags, DIAG_ERROR, "cpu-missing", "housekeeping", "8",
               "housekeeping: CPU 8 does not exist on this machine, which has CPUs 0-1");
        expect(diags, DIAG_ERROR, "cpu-missing", "diretta", "2,9-10",
               "group diretta: CPUs 2,9-10 do not exist");
        expect(diags, DIAG_ERROR, "cpu-missing", "hqplayer", "3-7,11-15",
               "group hqplayer: CPUs 3-7,11-15 do not exist");
        /* Errors come before warnings. */
        ck_assert_int_eq(((Diagnostic *) diags->pdata[0])->severity, DIAG_ERROR);
}
END_TEST

START_TEST(test_seed_on_server) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("server-256"));
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        /* Valid, but the server numbers siblings n and n+128: every core is split. */
        ck_assert_uint_eq(diagnostics_count(diags, DIAG_ERROR), 0);
        expect(diags, DIAG_WARNING, "smt-split", "diretta", "1,129", "CPU 1 in diretta, CPU 129 in no group");
        expect(diags, DIAG_WARNING, "cpu-unassigned", NULL, "16-255", "CPUs 16-255 are in no group and not housekeeping");
        /* 1-7 and 9-15 span the L3 domains 0-7 and 8-15. */
        expect(diags, DIAG_WARNING, "l3-straddle", "hqplayer", "3-7,11-15", "span 2 L3 cache domains (3-7 | 11-15)");
        expect(diags, DIAG_WARNING, "l3-straddle", "diretta", NULL, "span 2 L3");
}
END_TEST

START_TEST(test_overlap) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(Config) c = conf("[Partition]\nHousekeeping=0,8,1\n[Group a]\nCPUs=1-3,9-11\n[Group b]\nCPUs=3-7,11-15\n");
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        expect(diags, DIAG_ERROR, "overlap", "a", "1", "housekeeping and group a both claim CPU 1");
        expect(diags, DIAG_ERROR, "overlap", "b", "3,11", "group a and group b both claim CPUs 3,11");
        ck_assert_uint_eq(diagnostics_count(diags, DIAG_ERROR), 2);
}
END_TEST

START_TEST(test_empty_parts) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(Config) c = conf("[Partition]\nHousekeeping=\n[Group a]\nCPUs=\n[Group b]\nCPUs=1-7,9-15\n");
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        expect(diags, DIAG_ERROR, "housekeeping-empty", "housekeeping", "", "housekeeping: no CPUs");
        expect(diags, DIAG_ERROR, "group-empty", "a", "", "group a: no CPUs");
        expect(diags, DIAG_ERROR, "boot-cpu", "housekeeping", "0", "CPU 0 is the boot CPU");
}
END_TEST

START_TEST(test_boot_cpu_in_group) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(Config) c = conf("[Partition]\nHousekeeping=1,9\n[Group a]\nCPUs=0,8\n[Group b]\nCPUs=2-7,10-15\n");
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        expect(diags, DIAG_ERROR, "boot-cpu", "a", "0", "CPU 0 is the boot CPU and must stay in housekeeping (which is \"1,9\"); group a");
        ck_assert_uint_eq(diagnostics_count(diags, DIAG_ERROR), 1);
}
END_TEST

START_TEST(test_offline) {
        g_autofree char *dir = fixture_new_root("ryzen-7700x");
        fixture_write(dir, "sys/devices/system/cpu/online", "0-13\n");
        g_autoptr(Topology) t = fixture_topology(dir);
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        expect(diags, DIAG_ERROR, "cpu-offline", "hqplayer", "14-15", "group hqplayer: CPUs 14-15 are offline");
        ck_assert(!find(diags, "cpu-missing", "hqplayer"));
        fixture_remove(dir);
}
END_TEST

START_TEST(test_smt_split) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        /* diretta keeps CPUs 1-2 but gives their siblings 9-10 to hqplayer. */
        g_autoptr(Config) c = conf("[Group diretta]\nCPUs=1-2\n[Group hqplayer]\nCPUs=3-7,9-15\n");
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        ck_assert_uint_eq(diagnostics_count(diags, DIAG_ERROR), 0);
        const Diagnostic *d = expect(diags, DIAG_WARNING, "smt-split", "diretta", "1,9",
                                     "SMT siblings 1,9 share one core but are split: CPU 1 in diretta, CPU 9 in hqplayer");
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(diagnostics_count(diags, DIAG_WARNING), 2);
}
END_TEST

START_TEST(test_unassigned) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(Config) c = conf("[Group a]\nCPUs=1-6,9-14\n");
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        expect(diags, DIAG_WARNING, "cpu-unassigned", NULL, "7,15", "CPUs 7,15 are in no group and not housekeeping");
        ck_assert_uint_eq(diags->len, 1);
}
END_TEST

START_TEST(test_mini_valid_partition) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("mini-2cpu"));
        g_autoptr(Config) c = conf("[Partition]\nHousekeeping=0\n[Group a]\nCPUs=1\n");
        g_autoptr(GPtrArray) diags = partition_validate(c, t);

        ck_assert_uint_eq(diags->len, 0);
}
END_TEST

/* A group moved at runtime (SetGroupCpus works on a copy of the configuration) away
 * from its thread rule's CPUs: the rule no longer fits, an error naming it. */
START_TEST(test_thread_rule_outside_moved_group) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(Config) c = conf("[Partition]\nHousekeeping=0,8\n[Group a]\nCPUs=1-7,9-15\nSchedPolicy=fifo\nSchedPriority=50\n"
                                   "[Thread audio]\nGroup=a\nMatch=audio*\nCPUs=2\n");
        g_autoptr(GPtrArray) fits = partition_validate(c, t);
        ck_assert_uint_eq(diagnostics_count(fits, DIAG_ERROR), 0);

        ((GroupConfig *) c->groups->pdata[0])->cpus = cs("3-7,9-15,1");
        g_autoptr(GPtrArray) diags = partition_validate(c, t);
        expect(diags, DIAG_ERROR, "thread-rule", "thread rule audio", "2",
               "[Thread audio] CPUs=: CPU 2 is outside group a's CPUs (1,3-7,9-15)");
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", "server-256", NULL };
        Suite *s = suite_create("partition");
        TCase *tc = tcase_create("validate");

        tcase_add_test(tc, test_seed_on_ryzen);
        tcase_add_test(tc, test_seed_on_mini);
        tcase_add_test(tc, test_seed_on_server);
        tcase_add_test(tc, test_overlap);
        tcase_add_test(tc, test_empty_parts);
        tcase_add_test(tc, test_boot_cpu_in_group);
        tcase_add_test(tc, test_offline);
        tcase_add_test(tc, test_smt_split);
        tcase_add_test(tc, test_unassigned);
        tcase_add_test(tc, test_mini_valid_partition);
        tcase_add_test(tc, test_thread_rule_outside_moved_group);
        suite_add_tcase(s, tc);
        return test_run(s, machines);
}
