/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "base/error.h"
#include "model/kconfig.h"
#include "testlib.h"

static void expect(const GPtrArray *items, const char *name, AuditState state) {
        const AuditItem *it = audit_item(items, name);
        ck_assert_msg(it->state == state, "%s is %s (running %s), expected %s", name, audit_state_to_string(it->state),
                      it->actual ? it->actual : "absent", audit_state_to_string(state));
}

static GPtrArray *audit_machine(const char *dir, char **source) {
        g_autoptr(Root) root = root_new(dir);
        g_autoptr(GHashTable) kc = NULL;
        g_autoptr(GError) e = NULL;
        ck_assert_msg(kconfig_load(root, &kc, source, &e) == 0, "%s", e ? e->message : "");
        return kconfig_audit(kc);
}

START_TEST(test_parse) {
        g_autoptr(GHashTable) h = kconfig_parse("#\n# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"text\"\n"
                                                "CONFIG_HZ=1000\n  CONFIG_SPACED=m  \nCONFIG_=bad\nnot a line\n# CONFIG_ is not set\n");
        ck_assert_str_eq(g_hash_table_lookup(h, "A"), "y");
        ck_assert_str_eq(g_hash_table_lookup(h, "B"), "n");
        ck_assert_str_eq(g_hash_table_lookup(h, "S"), "text");
        ck_assert_str_eq(g_hash_table_lookup(h, "HZ"), "1000");
        ck_assert_str_eq(g_hash_table_lookup(h, "SPACED"), "m");
        ck_assert_uint_eq(g_hash_table_size(h), 5);
}
END_TEST

START_TEST(test_ryzen_rt_kernel) {
        g_autofree char *source = NULL;
        g_autoptr(GPtrArray) items = audit_machine(fixture_root("ryzen-7700x"), &source);

        ck_assert(g_str_has_suffix(source, "/proc/config.gz"));
        for (unsigned i = 0; i < items->len; i++)
                expect(items, ((AuditItem *) items->pdata[i])->name, AUDIT_OK);
        ck_assert_str_eq(audit_item(items, "HZ")->actual, "2000");
        ck_assert_uint_eq(audit_count_problems(items), 0);
}
END_TEST

START_TEST(test_mini_debian_kernel) {
        g_autofree char *source = NULL;
        g_autoptr(GPtrArray) items = audit_machine(fixture_root("mini-2cpu"), &source);

        /* No /proc/config.gz there: /boot/config-<release>. */
        ck_assert(g_str_has_suffix(source, "/boot/config-6.1.0-28-amd64"));
        expect(items, "PREEMPT_RT", AUDIT_MISSING);
        ck_assert_str_eq(audit_item(items, "PREEMPT_RT")->actual, "not set");
        expect(items, "HZ", AUDIT_DIFFERENT);
        ck_assert_str_eq(audit_item(items, "HZ")->actual, "250");
        expect(items, "NO_HZ_FULL", AUDIT_MISSING);
        expect(items, "RCU_NOCB_CPU", AUDIT_OK);
        expect(items, "RCU_BOOST", AUDIT_MISSING);
        ck_assert_ptr_null(audit_item(items, "RCU_BOOST")->actual);
        expect(items, "HIGH_RES_TIMERS", AUDIT_OK);
        expect(items, "CPUSETS", AUDIT_OK);
        expect(items, "PROC_EVENTS", AUDIT_OK);
        expect(items, "DEBUG_INFO_NONE", AUDIT_MISSING);
        /* DEBUG_INFO_NONE and HZ are advice, not requirements: on nohz_full CPUs running
         * one task the tick is stopped, and Debian's own RT kernel is HZ=250. */
        ck_assert(!audit_item(items, "HZ")->required);
        ck_assert_uint_eq(audit_count_problems(items), 3);
}
END_TEST

START_TEST(test_server_kernel) {
        g_autoptr(GPtrArray) items = audit_machine(fixture_root("server-256"), NULL);

        expect(items, "PREEMPT_RT", AUDIT_MISSING);
        expect(items, "HZ", AUDIT_OK);
        expect(items, "NO_HZ_FULL", AUDIT_OK);
        expect(items, "RCU_BOOST", AUDIT_MISSING);
        ck_assert_uint_eq(audit_count_problems(items), 2);
}
END_TEST

START_TEST(test_different_values) {
        g_autoptr(GHashTable) h = kconfig_parse("CONFIG_PREEMPT_RT=m\nCONFIG_HZ=banana\nCONFIG_CPUSETS=y\n");
        g_autoptr(GPtrArray) items = kconfig_audit(h);

        expect(items, "PREEMPT_RT", AUDIT_DIFFERENT);
        expect(items, "HZ", AUDIT_DIFFERENT);
        expect(items, "CPUSETS", AUDIT_OK);
        g_autoptr(GHashTable) none = kconfig_parse("");
        g_autoptr(GPtrArray) all_missing = kconfig_audit(none);
        expect(all_missing, "HZ", AUDIT_MISSING);
}
END_TEST

START_TEST(test_not_found) {
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(Root) root = root_new(dir);
        g_autoptr(GHashTable) kc = NULL;
        g_autoptr(GError) e = NULL;

        fixture_write(dir, "proc/sys/kernel/osrelease", "6.1.0-test\n");
        ck_assert_int_lt(kconfig_load(root, &kc, NULL, &e), 0);
        ck_assert(g_error_matches(e, ISO_ERROR, ISO_ERROR_NOT_FOUND));
        ck_assert_msg(strstr(e->message, "proc/config.gz") && strstr(e->message, "boot/config-6.1.0-test"), "%s", e->message);
        g_clear_error(&e);

        /* A corrupt config.gz is an error of its own, not "not found". */
        fixture_write(dir, "proc/config.gz", "\x1f\x8b\x08garbage");
        ck_assert_int_lt(kconfig_load(root, &kc, NULL, &e), 0);
        ck_assert(g_error_matches(e, ISO_ERROR, ISO_ERROR_IO));
        fixture_remove(dir);
}
END_TEST

START_TEST(test_fragment) {
        g_autofree char *f = kconfig_fragment();
        g_autoptr(GHashTable) h = kconfig_parse(f);
        g_autoptr(GPtrArray) items = kconfig_audit(h);

        /* The fragment satisfies the audit it comes from. */
        for (unsigned i = 0; i < items->len; i++)
                expect(items, ((AuditItem *) items->pdata[i])->name, AUDIT_OK);
        ck_assert(strstr(f, "CONFIG_PREEMPT_RT=y\n"));
        ck_assert(strstr(f, "CONFIG_HZ_2000=y\n"));
        ck_assert(strstr(f, "# CONFIG_DEBUG_INFO_BTF is not set\n"));
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", "server-256", NULL };
        Suite *s = suite_create("kconfig");
        TCase *tc = tcase_create("audit");

        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_ryzen_rt_kernel);
        tcase_add_test(tc, test_mini_debian_kernel);
        tcase_add_test(tc, test_server_kernel);
        tcase_add_test(tc, test_different_values);
        tcase_add_test(tc, test_not_found);
        tcase_add_test(tc, test_fragment);
        suite_add_tcase(s, tc);
        return test_run(s, machines);
}
