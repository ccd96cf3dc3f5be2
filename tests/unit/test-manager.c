/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "base/error.h"
#include "model/finding.h"
#include "manager.h"
#include "testlib.h"

typedef struct Fixture {
        char *dir;
        char *root;
        char *run;
        char *conf;
        Manager *m;
} Fixture;

static ManagerOptions fixture_options(const Fixture *f) {
        return (ManagerOptions) { .root = f->root, .config_path = f->conf, .config_must_exist = true,
                                  .runtime_dir = f->run };
}

/* A manager on its own copy of a fake machine (it writes there), with its own config
 * and runtime folders. */
static void fixture_start(Fixture *f, const char *machine, const char *config_text) {
        g_autoptr(GError) e = NULL;
        f->dir = fixture_tmpdir();
        f->root = fixture_new_root(machine);
        f->run = g_build_filename(f->dir, "run", NULL);
        f->conf = g_build_filename(f->dir, "isolatord.conf", NULL);
        fixture_write(f->dir, "isolatord.conf", config_text);
        ManagerOptions o = fixture_options(f);
        ck_assert_msg(manager_new(&o, &f->m, &e) && manager_start(f->m, &e), "%s", e ? e->message : "");
}

static void fixture_stop(Fixture *f) {
        manager_free(f->m);
        fixture_remove(f->dir);
        fixture_remove(f->root);
        g_free(f->dir);
        g_free(f->root);
        g_free(f->run);
        g_free(f->conf);
}

static char *groups(Manager *m) {
        GString *s = g_string_new(NULL);
        for (unsigned i = 0; i < manager_status(m)->config->groups->len; i++) {
                const GroupConfig *g = manager_status(m)->config->groups->pdata[i];
                g_autofree char *cpus = cpumask_format_list(&g->cpus);
                g_string_append_printf(s, "%s%s=%s", i ? " " : "", g->name, cpus);
        }
        return g_string_free(s, false);
}

static bool has_finding(Manager *m, const char *kind, const char *object) {
        for (unsigned i = 0; i < manager_status(m)->findings->len; i++) {
                const Finding *f = manager_status(m)->findings->pdata[i];
                if (g_str_equal(f->kind, kind) && g_str_equal(f->object, object))
                        return true;
        }
        return false;
}

START_TEST(test_start_on_seed_machine) {
        Fixture f = {};
        fixture_start(&f, "ryzen-7700x", "");

        /* Valid partition, but the seed's boot line lacks kthread_cpus: degraded. */
        ck_assert_int_eq(manager_status(f.m)->state, MANAGER_DEGRADED);
        ck_assert(has_finding(f.m, "boot-parameter", "kthread_cpus"));
        ck_assert(has_finding(f.m, "boot-parameter", "isolcpus"));
        ck_assert(!has_finding(f.m, "kernel-config", "PREEMPT_RT"));
        ck_assert_uint_eq(manager_counter(manager_status(f.m), "verify_count"), 1);
        ck_assert_uint_gt(manager_status(f.m)->last_verify_usec, 0);
        fixture_stop(&f);
}
END_TEST

START_TEST(test_invalid_partition_is_inactive) {
        Fixture f = {};
        g_autoptr(GError) e = NULL;
        fixture_start(&f, "mini-2cpu", "");

        ck_assert_int_eq(manager_status(f.m)->state, MANAGER_INACTIVE);
        ck_assert(has_finding(f.m, "partition", "cpu-missing housekeeping"));
        ck_assert(!manager_apply(f.m, &e));
        ck_assert(g_error_matches(e, ISO_ERROR, ISO_ERROR_INVALID_PARTITION));
        g_clear_error(&e);

        /* A valid configuration arrives: the manager becomes active. */
        fixture_write(f.dir, "isolatord.conf", "[Partition]\nHousekeeping=0\n[Group audio]\nCPUs=1\n");
        ck_assert_msg(manager_reload(f.m, &e), "%s", e ? e->message : "");
        ck_assert_int_ne(manager_status(f.m)->state, MANAGER_INACTIVE);
        ck_assert(!has_finding(f.m, "partition", "cpu-missing housekeeping"));
        fixture_stop(&f);
}
END_TEST

START_TEST(test_set_group_cpus_errors_change_nothing) {
        Fixture f = {};
        fixture_start(&f, "ryzen-7700x", "");
        g_autofree char *before = groups(f.m);
        g_autofree char *dropin = manager_state_dropin(f.m);
        struct { const char *group, *cpus; int code; const char *part; } cases[] = {
                { "nope", "3", ISO_ERROR_UNKNOWN_GROUP, "no group named \"nope\"; the groups are: diretta, hqplayer" },
                { "hqplayer", "7-3", ISO_ERROR_INVALID_CPU_LIST, "range end 3 is below its start 7" },
                { "hqplayer", "", ISO_ERROR_INVALID_CPU_LIST, "needs at least one CPU" },
                { "hqplayer", "1-7", ISO_ERROR_OVERLAP, "group diretta and group hqplayer both claim CPUs 1-2" },
                { "hqplayer", "0,3", ISO_ERROR_OVERLAP, "housekeeping and group hqplayer both claim CPU 0" },
                { "hqplayer", "3-7,11-20", ISO_ERROR_INVALID_PARTITION, "CPUs 16-20 do not exist" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(GError) e = NULL;
                ck_assert(!manager_set_group_cpus(f.m, cases[i].group, cases[i].cpus, &e));
                ck_assert_msg(g_error_matches(e, ISO_ERROR, cases[i].code), "%s %s: %s", cases[i].group, cases[i].cpus, e->message);
                ck_assert_msg(strstr(e->message, cases[i].part), "\"%s\" lacks \"%s\"", e->message, cases[i].part);
                g_autofree char *after = groups(f.m);
                ck_assert_str_eq(after, before);
                ck_assert(!g_file_test(dropin, G_FILE_TEST_EXISTS));
        }
        fixture_stop(&f);
}
END_TEST

START_TEST(test_set_group_cpus_persists) {
        Fixture f = {};
        g_autoptr(GError) e = NULL;
        fixture_start(&f, "ryzen-7700x", "");

        ck_assert_msg(manager_set_group_cpus(f.m, "hqplayer", "3-7,11-14", &e), "%s", e ? e->message : "");
        g_autofree char *now = groups(f.m);
        ck_assert_str_eq(now, "diretta=1-2,9-10 hqplayer=3-7,11-14");

        /* None beside it on the same runtime folder; after it, a new manager on the
         * same files starts with the change, and both groups. */
        Manager *again = NULL;
        ManagerOptions o = fixture_options(&f);
        ck_assert(!manager_new(&o, &again, &e));
        ck_assert_msg(strstr(e->message, "another isolatord (pid ") && strstr(e->message, "changes nothing"), "%s",
                      e->message);
        g_clear_error(&e);
        manager_free(f.m);
        ck_assert_msg(manager_new(&o, &f.m, &e) && manager_start(f.m, &e), "%s", e ? e->message : "");
        g_autofree char *restarted = groups(f.m);
        ck_assert_str_eq(restarted, "diretta=1-2,9-10 hqplayer=3-7,11-14");
        fixture_stop(&f);
}
END_TEST

START_TEST(test_reload_keeps_old_on_error) {
        Fixture f = {};
        fixture_start(&f, "ryzen-7700x", "");
        g_autofree char *before = groups(f.m);
        const char *broken[] = {
                "[Group hqplayer]\nCPUs=7-3\n",                /* does not parse */
                "[Partition]\nHousekeeping=0-3\n",             /* overlaps diretta */
                "[Bogus]\nKey=1\n",                            /* unknown section */
        };
        for (size_t i = 0; i < G_N_ELEMENTS(broken); i++) {
                g_autoptr(GError) e = NULL;
                fixture_write(f.dir, "isolatord.conf", broken[i]);
                ck_assert(!manager_reload(f.m, &e));
                ck_assert_ptr_nonnull(e);
                g_autofree char *after = groups(f.m);
                ck_assert_str_eq(after, before);
                ck_assert_int_eq(manager_status(f.m)->state, MANAGER_DEGRADED);
        }
        fixture_stop(&f);
}
END_TEST

START_TEST(test_revert_and_apply) {
        Fixture f = {};
        g_autoptr(GError) e = NULL;
        fixture_start(&f, "ryzen-7700x", "");

        ck_assert(manager_revert(f.m, &e));
        ck_assert_int_eq(manager_status(f.m)->state, MANAGER_REVERTED);
        /* A verify observes; it does not undo the revert. */
        manager_verify(f.m);
        ck_assert_int_eq(manager_status(f.m)->state, MANAGER_REVERTED);
        /* A reload while reverted stays reverted. */
        ck_assert(manager_reload(f.m, &e));
        ck_assert_int_eq(manager_status(f.m)->state, MANAGER_REVERTED);
        ck_assert(manager_apply(f.m, &e));
        ck_assert_int_eq(manager_status(f.m)->state, MANAGER_DEGRADED);
        fixture_stop(&f);
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", NULL };
        Suite *s = suite_create("manager");
        TCase *tc = tcase_create("manager");

        tcase_add_test(tc, test_start_on_seed_machine);
        tcase_add_test(tc, test_invalid_partition_is_inactive);
        tcase_add_test(tc, test_set_group_cpus_errors_change_nothing);
        tcase_add_test(tc, test_set_group_cpus_persists);
        tcase_add_test(tc, test_reload_keeps_old_on_error);
        tcase_add_test(tc, test_revert_and_apply);
        suite_add_tcase(s, tc);
        return test_run(s, machines);
}
