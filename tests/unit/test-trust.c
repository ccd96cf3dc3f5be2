/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What isolatord, running as root, refuses to trust: writes that would leave the root
 * (climbing, absolute, through a planted symlink), saved originals from another
 * machine or with hostile entries, and executables a user could have written. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "root.h"
#include "testlib.h"

static char *read_text(const char *path) {
        char *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, NULL))
                return g_strdup("(missing)");
        return text;
}

START_TEST(test_rel_valid) {
        ck_assert(root_rel_valid("proc/irq/24/smp_affinity_list"));
        ck_assert(!root_rel_valid(""));
        ck_assert(!root_rel_valid("/etc/passwd"));
        ck_assert(!root_rel_valid("proc/irq/0/../../../../x"));
        ck_assert(!root_rel_valid("proc//irq"));
        ck_assert(!root_rel_valid("proc/./irq"));
        ck_assert(!root_rel_valid("proc/irq/"));
}
END_TEST

START_TEST(test_write_stays_beneath) {
        g_autofree char *dir = fixture_tmpdir(), *outside = fixture_tmpdir();
        g_autofree char *root_dir = g_build_filename(dir, "root", NULL);
        g_autofree char *target = g_build_filename(outside, "victim", NULL);
        g_autofree char *irq = g_build_filename(root_dir, "proc/irq/24", NULL);
        g_autofree char *link = g_build_filename(irq, "smp_affinity_list", NULL);
        g_autofree char *dirlink = g_build_filename(root_dir, "proc/irq/25", NULL);

        g_mkdir_with_parents(irq, 0755);
        fixture_write(outside, "victim", "untouched\n");
        fixture_write(root_dir, "proc/irq/26/smp_affinity_list", "0-15\n");
        ck_assert_int_eq(symlink(target, link), 0);
        ck_assert_int_eq(symlink(outside, dirlink), 0);
        g_autoptr(Root) root = root_new(root_dir);

        ck_assert_int_eq(root_write(root, "proc/irq/26/smp_affinity_list", "0"), 0);
        /* A symlink as the file, or as a folder on the way, is refused by name. */
        ck_assert_int_eq(root_write(root, "proc/irq/24/smp_affinity_list", "0"), -ELOOP);
        ck_assert_int_eq(root_write(root, "proc/irq/25/victim", "0"), -ELOOP);
        ck_assert_int_eq(root_put_file(root, "proc/irq/25/victim", "0"), -ELOOP);
        ck_assert_int_eq(root_remove(root, "proc/irq/25/victim"), -ELOOP);
        ck_assert_int_eq(root_cgroup_mkdir(root, "proc/irq/25/new"), -ELOOP);
        /* Climbing and absolute paths never reach the file system, and never abort. */
        ck_assert_int_eq(root_write(root, "proc/irq/26/../../../../victim", "0"), -EINVAL);
        ck_assert_int_eq(root_write(root, target, "0"), -EINVAL);
        ck_assert_int_eq(root_remove(root, "../victim"), -EINVAL);
        g_autofree char *text = read_text(target);
        ck_assert_str_eq(text, "untouched\n");
        g_autofree char *written = g_build_filename(root_dir, "proc/irq/26/smp_affinity_list", NULL);
        g_autofree char *now = read_text(written);
        ck_assert_str_eq(now, "0\n");
        fixture_remove(dir);
        fixture_remove(outside);
}
END_TEST

START_TEST(test_put_file_and_remove) {
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(Root) root = root_new(dir);
        ck_assert_int_eq(root_put_file(root, "etc/systemd/system/a.slice.d/50-isolatord.conf", "[Slice]\n"), 0);
        g_autofree char *path = g_build_filename(dir, "etc/systemd/system/a.slice.d/50-isolatord.conf", NULL);
        g_autofree char *text = read_text(path);
        ck_assert_str_eq(text, "[Slice]\n");
        ck_assert_int_eq(root_remove(root, "etc/systemd/system/a.slice.d/50-isolatord.conf"), 0);
        ck_assert_int_eq(root_remove(root, "etc/systemd/system/a.slice.d"), 0);
        ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
        fixture_remove(dir);
}
END_TEST

static Suite *trust_suite(void) {
        Suite *s = suite_create("trust");
        TCase *tc = tcase_create("root");
        tcase_add_test(tc, test_rel_valid);
        tcase_add_test(tc, test_write_stays_beneath);
        tcase_add_test(tc, test_put_file_and_remove);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run(trust_suite(), (const char *const[]) { NULL });
}
