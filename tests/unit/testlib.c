/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>

#include "testlib.h"

static void generate(const char *machine, const char *dir) {
        const char *mkroot = g_getenv("ISOLATORD_MKROOT");
        const char *python = g_getenv("ISOLATORD_PYTHON");
        g_autoptr(GError) e = NULL;
        g_autofree char *err = NULL;
        int status;

        if (!mkroot || !python)
                g_error("ISOLATORD_MKROOT and ISOLATORD_PYTHON must name the fixture generator (run through meson test)");
        const char *argv[] = { python, mkroot, machine, dir, NULL };
        if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &status, &e))
                g_error("cannot run %s: %s", mkroot, e->message);
        if (!g_spawn_check_wait_status(status, &e))
                g_error("%s %s failed: %s\n%s", mkroot, machine, e->message, err);
}

char *fixture_tmpdir(void) {
        g_autoptr(GError) e = NULL;
        char *dir = g_dir_make_tmp("isolatord-test-XXXXXX", &e);
        if (!dir)
                g_error("cannot make a temporary folder: %s", e->message);
        return dir;
}

char *fixture_new_root(const char *machine) {
        char *dir = fixture_tmpdir();
        generate(machine, dir);
        return dir;
}

void fixture_remove(const char *dir) {
        const char *argv[] = { "rm", "-rf", "--", dir, NULL };
        g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}

void fixture_write(const char *dir, const char *rel, const char *text) {
        g_autofree char *path = g_build_filename(dir, rel, NULL);
        g_autofree char *parent = g_path_get_dirname(path);
        g_autoptr(GError) e = NULL;

        g_mkdir_with_parents(parent, 0755);
        if (!g_file_set_contents(path, text, -1, &e))
                g_error("cannot write %s: %s", path, e->message);
}

const char *fixture_root(const char *machine) {
        const char *dir = g_getenv("ISOLATORD_FIXTURES");
        g_autofree char *path = NULL;

        if (!dir)
                g_error("ISOLATORD_FIXTURES must name the generated fake machines (run through meson test)");
        path = g_build_filename(dir, machine, NULL);
        return g_intern_string(path);
}

int test_run(Suite *s, const char *const *machines) {
        SRunner *sr;
        int failed;

        for (const char *const *m = machines; m && *m; m++) {
                g_autofree char *cpus = g_build_filename(fixture_root(*m), "sys/devices/system/cpu/possible", NULL);
                if (!g_file_test(cpus, G_FILE_TEST_EXISTS))
                        g_error("fake machine %s is missing at %s: build the fixture-roots target", *m, fixture_root(*m));
        }

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

Topology *fixture_topology(const char *dir) {
        g_autoptr(Root) root = root_new(dir);
        g_autoptr(GError) e = NULL;
        Topology *t = NULL;
        ck_assert_msg(topology_load(root, &t, &e) == 0, "%s", e ? e->message : "");
        return t;
}

const AuditItem *audit_item(const GPtrArray *items, const char *name) {
        const AuditItem *it = audit_find(items, name);
        ck_assert_msg(it, "no item %s", name);
        return it;
}

CpuMask cs(const char *list) {
        CpuMask s;
        CpuMaskError err;
        if (cpumask_parse_list(list, &s, &err) < 0)
                g_error("test CPU list \"%s\" is invalid: %s", list, err.reason);
        return s;
}
