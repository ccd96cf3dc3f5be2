/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "model/bootparams.h"
#include "testlib.h"

static void expect(const GPtrArray *items, const char *name, AuditState state, const char *actual) {
        const AuditItem *it = audit_item(items, name);
        ck_assert_msg(it->state == state, "%s is %s, expected %s (running \"%s\")", name,
                      audit_state_to_string(it->state), audit_state_to_string(state), it->actual ? it->actual : "(absent)");
        ck_assert_str_eq(it->actual ? it->actual : "(absent)", actual ? actual : "(absent)");
}

static char *read_cmdline(const char *machine) {
        g_autoptr(Root) root = root_new(fixture_root(machine));
        char *line = NULL;
        ck_assert_int_eq(root_read_line(root, "proc/cmdline", &line), 0);
        return line;
}

START_TEST(test_plan_for_seed) {
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) items = bootparams_plan(c);
        g_autofree char *required = bootparams_line(items, false);
        g_autofree char *all = bootparams_line(items, true);

        ck_assert_str_eq(required, "isolcpus=managed_irq,domain,1-7,9-15 nohz_full=1-7,9-15 rcu_nocbs=1-7,9-15 "
                                   "irqaffinity=0,8 kthread_cpus=0,8 skew_tick=1 nosoftlockup");
        ck_assert(g_str_has_prefix(all, required));
        ck_assert_str_eq(all + strlen(required), " nohz=on rcu_nocb_poll nmi_watchdog=0 nowatchdog audit=0");
        for (unsigned i = 0; i < items->len; i++)
                ck_assert_ptr_nonnull(((AuditItem *) items->pdata[i])->reason);
}
END_TEST

START_TEST(test_tokenize) {
        g_auto(GStrv) t = bootparams_tokenize("  BOOT_IMAGE=/vmlinuz  root=UUID=1 quiet dyndbg=\"file a.c +p\" isolcpus=1 -- single isolcpus=9\n");
        ck_assert_uint_eq(g_strv_length(t), 5);
        ck_assert_str_eq(t[0], "BOOT_IMAGE=/vmlinuz");
        ck_assert_str_eq(t[3], "dyndbg=file a.c +p");
        ck_assert_str_eq(t[4], "isolcpus=1");
}
END_TEST

START_TEST(test_seed_cmdline_on_ryzen) {
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) items = bootparams_plan(c);
        g_autofree char *cmdline = read_cmdline("ryzen-7700x");

        bootparams_compare(items, cmdline);
        /* The seed boots with isolcpus=io_queue: other flags than isolatord's. */
        expect(items, "isolcpus", AUDIT_DIFFERENT, "io_queue,1-7,9-15");
        expect(items, "nohz_full", AUDIT_OK, "1-7,9-15");
        expect(items, "rcu_nocbs", AUDIT_OK, "1-7,9-15");
        expect(items, "irqaffinity", AUDIT_OK, "0,8");
        expect(items, "kthread_cpus", AUDIT_MISSING, NULL);
        expect(items, "skew_tick", AUDIT_OK, "1");
        expect(items, "nosoftlockup", AUDIT_OK, "");
        expect(items, "audit", AUDIT_OK, "0");
        expect(items, "rcu_nocb_poll", AUDIT_MISSING, NULL);
        ck_assert_uint_eq(audit_count_problems(items), 2);
}
END_TEST

START_TEST(test_stock_cmdlines) {
        g_autoptr(Config) c = config_new_default();
        const char *machines[] = { "mini-2cpu", "server-256" };

        for (size_t m = 0; m < G_N_ELEMENTS(machines); m++) {
                g_autoptr(GPtrArray) items = bootparams_plan(c);
                g_autofree char *cmdline = read_cmdline(machines[m]);
                bootparams_compare(items, cmdline);
                /* A stock command line has none of it. */
                for (unsigned i = 0; i < items->len; i++)
                        ck_assert_int_eq(((AuditItem *) items->pdata[i])->state, AUDIT_MISSING);
                ck_assert_uint_eq(audit_count_problems(items), 7);
        }
}
END_TEST

START_TEST(test_compare_semantics) {
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) items = bootparams_plan(c);

        /* Sets, not text; flags in any order; the last occurrence wins. */
        bootparams_compare(items, "isolcpus=1 isolcpus=domain,managed_irq,9-15,1,2,3-7 nohz_full=1,2,3,4,5,6,7,9-15 "
                                  "rcu_nocbs=1-7,9-14 irqaffinity=8,0 kthread_cpus=0,8 skew_tick=2 nosoftlockup=0 nohz=on");
        expect(items, "isolcpus", AUDIT_OK, "domain,managed_irq,9-15,1,2,3-7");
        expect(items, "nohz_full", AUDIT_OK, "1,2,3,4,5,6,7,9-15");
        expect(items, "rcu_nocbs", AUDIT_DIFFERENT, "1-7,9-14");
        expect(items, "irqaffinity", AUDIT_OK, "8,0");
        expect(items, "skew_tick", AUDIT_DIFFERENT, "2");
        /* A flag given a value still counts as present. */
        expect(items, "nosoftlockup", AUDIT_OK, "0");

        /* isolcpus without flags means "domain" only: managed IRQs are not kept off. */
        bootparams_compare(items, "isolcpus=1-7,9-15 rcu_nocbs=garbage");
        expect(items, "isolcpus", AUDIT_DIFFERENT, "1-7,9-15");
        expect(items, "rcu_nocbs", AUDIT_DIFFERENT, "garbage");
        /* A prefix of another parameter is not the parameter. */
        bootparams_compare(items, "nohz_fullx=1 nohz=off");
        expect(items, "nohz_full", AUDIT_MISSING, NULL);
        expect(items, "nohz", AUDIT_DIFFERENT, "off");

        g_autofree char *good = bootparams_line(items, true);
        bootparams_compare(items, good);
        ck_assert_uint_eq(audit_count_problems(items), 0);
        for (unsigned i = 0; i < items->len; i++)
                ck_assert_int_eq(((AuditItem *) items->pdata[i])->state, AUDIT_OK);
}
END_TEST

START_TEST(test_live) {
        g_autoptr(Config) c = config_new_default();
        struct { const char *machine; AuditState state; const char *actual; } cases[] = {
                { "ryzen-7700x", AUDIT_OK, "1-7,9-15" },
                { "mini-2cpu", AUDIT_MISSING, "" },   /* nohz_full reads "(null)" there */
                { "server-256", AUDIT_MISSING, "" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(Root) root = root_new(fixture_root(cases[i].machine));
                g_autoptr(GPtrArray) live = bootparams_compare_live(c, root);
                ck_assert_uint_eq(live->len, 2);
                expect(live, "isolated (running kernel)", cases[i].state, cases[i].actual);
                expect(live, "nohz_full (running kernel)", cases[i].state, cases[i].actual);
        }

        /* The kernel refused some CPUs: different. */
        g_autofree char *dir = fixture_new_root("ryzen-7700x");
        fixture_write(dir, "sys/devices/system/cpu/nohz_full", "1-7\n");
        g_autoptr(Root) root = root_new(dir);
        g_autoptr(GPtrArray) live = bootparams_compare_live(c, root);
        expect(live, "nohz_full (running kernel)", AUDIT_DIFFERENT, "1-7");
        fixture_remove(dir);
}
END_TEST

START_TEST(test_no_groups) {
        g_autoptr(Config) c = config_new_empty();
        cpumask_add(&c->housekeeping, 0);
        g_autoptr(GPtrArray) items = bootparams_plan(c);
        g_autofree char *line = bootparams_line(items, false);

        /* Nothing to isolate: no isolcpus= with an empty list. */
        ck_assert_str_eq(line, "irqaffinity=0 kthread_cpus=0 skew_tick=1 nosoftlockup");
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", "server-256", NULL };
        Suite *s = suite_create("bootparams");
        TCase *tc = tcase_create("bootparams");

        tcase_add_test(tc, test_plan_for_seed);
        tcase_add_test(tc, test_tokenize);
        tcase_add_test(tc, test_seed_cmdline_on_ryzen);
        tcase_add_test(tc, test_stock_cmdlines);
        tcase_add_test(tc, test_compare_semantics);
        tcase_add_test(tc, test_live);
        tcase_add_test(tc, test_no_groups);
        suite_add_tcase(s, tc);
        return test_run(s, machines);
}
