/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The inotify source of the cgroup folders (source-cgroup.c) on a real sd-event loop and
 * a temporary folder: a write is published at once, named with its path; a folder set
 * again keeps its watch; a folder removed and made again is watched again once set, and
 * the new one's writes are seen; what the filter calls irrelevant is not published; only
 * a file's write says that no folder came or went (the watches need no setting again). */
#include <fcntl.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "source/source-cgroup.h"
#include "testlib.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event, sd_event_unref)

typedef struct Seen {
        GPtrArray *names;   /* the triggers' names, "(all)" for an unnamed one */
        GPtrArray *folders; /* those of them that say a folder may have come or gone */
} Seen;

static void on_trigger(const Trigger *t, void *userdata) {
        Seen *seen = userdata;
        ck_assert_int_eq(t->kind, TRIGGER_CGROUP);
        g_ptr_array_add(seen->names, g_strdup(t->name ? t->name : "(all)"));
        if (t->folders)
                g_ptr_array_add(seen->folders, g_strdup(t->name ? t->name : "(all)"));
}

static bool relevant(const char *name, void *userdata) {
        return !name || !g_str_has_prefix(name, "ignored");
}

/* Runs the loop until nothing is left to dispatch. */
static void drain(sd_event *e) {
        while (sd_event_run(e, 50000) > 0)
                ;
}

static bool in(const GPtrArray *names, const char *name) {
        for (unsigned i = 0; i < names->len; i++)
                if (g_str_equal(names->pdata[i], name))
                        return true;
        return false;
}

static bool seen_name(const Seen *seen, const char *name) {
        return in(seen->names, name);
}

static void seen_clear(Seen *seen) {
        g_ptr_array_set_size(seen->names, 0);
        g_ptr_array_set_size(seen->folders, 0);
}

/* As a writer of cgroupfs does: the file itself, truncated (fixture_write renames a
 * new file into place, which is another event). */
static void write_in_place(const char *dir, const char *rel, const char *text) {
        g_autofree char *path = g_build_filename(dir, rel, NULL);
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

static GPtrArray *dirs_of(const char *first, ...) {
        GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
        va_list ap;
        va_start(ap, first);
        for (const char *d = first; d; d = va_arg(ap, const char *))
                g_ptr_array_add(dirs, g_strdup(d));
        va_end(ap);
        return dirs;
}

START_TEST(test_writes_published_named) {
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(sd_event) e = NULL;
        g_autoptr(Root) root = root_new(dir);
        Seen seen = { g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free) };
        CgroupWatch *w = NULL;

        fixture_write(dir, "cg/a.slice/cpuset.cpus", "0-15\n");
        fixture_write(dir, "cg/b.slice/cpuset.cpus", "0-15\n");
        fixture_write(dir, "cg/b.slice/ignored", "\n");
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_ge(cgroup_watch_new(e, root, relevant, &(TriggerSink) { on_trigger, &seen }, &w), 0);
        g_autoptr(GPtrArray) dirs = dirs_of("cg", "cg/a.slice", "cg/b.slice", NULL);
        cgroup_watch_set(w, dirs);

        write_in_place(dir, "cg/a.slice/cpuset.cpus", "0,8\n");
        write_in_place(dir, "cg/b.slice/ignored", "x\n");
        drain(e);
        ck_assert_msg(seen_name(&seen, "cg/a.slice/cpuset.cpus"), "the write was not published");
        ck_assert_msg(!seen_name(&seen, "cg/b.slice/ignored"), "an irrelevant name was published");
        ck_assert_msg(seen.folders->len == 0, "a file's write said a folder may have changed");
        for (unsigned i = 0; i < seen.names->len; i++)
                ck_assert_str_eq(seen.names->pdata[i], "cg/a.slice/cpuset.cpus");

        cgroup_watch_free(w);
        g_ptr_array_unref(seen.names);
        g_ptr_array_unref(seen.folders);
        fixture_remove(dir);
}
END_TEST

START_TEST(test_folder_made_again_is_watched_again) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *slice = g_build_filename(dir, "cg/a.slice", NULL);
        g_autofree char *file = g_build_filename(slice, "cpuset.cpus", NULL);
        g_autoptr(sd_event) e = NULL;
        g_autoptr(Root) root = root_new(dir);
        Seen seen = { g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free) };
        CgroupWatch *w = NULL;

        fixture_write(dir, "cg/a.slice/cpuset.cpus", "0-15\n");
        ck_assert_int_ge(sd_event_new(&e), 0);
        ck_assert_int_ge(cgroup_watch_new(e, root, relevant, &(TriggerSink) { on_trigger, &seen }, &w), 0);
        g_autoptr(GPtrArray) dirs = dirs_of("cg", "cg/a.slice", NULL);
        cgroup_watch_set(w, dirs);
        /* Set again with nothing changed: the watches stay, writes are still seen. */
        cgroup_watch_set(w, dirs);
        write_in_place(dir, "cg/a.slice/cpuset.cpus", "0,8\n");
        drain(e);
        ck_assert_msg(seen_name(&seen, "cg/a.slice/cpuset.cpus"), "a write after the same set was missed");

        /* Removed: the parent names it, and the folder's own watch is lost. */
        seen_clear(&seen);
        ck_assert_int_eq(unlink(file), 0);
        ck_assert_int_eq(rmdir(slice), 0);
        drain(e);
        ck_assert_msg(seen_name(&seen, "cg/a.slice"), "the removal was not published");
        ck_assert_msg(in(seen.folders, "cg/a.slice"), "the removal did not say a folder went");

        /* Made again and set: its writes are seen, through a new watch. */
        seen_clear(&seen);
        fixture_write(dir, "cg/a.slice/cpuset.cpus", "0-15\n");
        drain(e);
        ck_assert_msg(in(seen.folders, "cg/a.slice"), "the folder made again did not say so");
        cgroup_watch_set(w, dirs);
        seen_clear(&seen);
        write_in_place(dir, "cg/a.slice/cpuset.cpus", "0,8\n");
        drain(e);
        ck_assert_msg(seen_name(&seen, "cg/a.slice/cpuset.cpus"), "the folder made again is not watched");

        /* Watched no more: nothing of it is published. */
        g_autoptr(GPtrArray) parent_only = dirs_of("cg", NULL);
        cgroup_watch_set(w, parent_only);
        seen_clear(&seen);
        write_in_place(dir, "cg/a.slice/cpuset.cpus", "0-15\n");
        drain(e);
        ck_assert_msg(!seen_name(&seen, "cg/a.slice/cpuset.cpus"), "a folder no longer set is still watched");

        cgroup_watch_free(w);
        g_ptr_array_unref(seen.names);
        g_ptr_array_unref(seen.folders);
        fixture_remove(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("source-cgroup");
        TCase *tc = tcase_create("watch");
        tcase_add_test(tc, test_writes_published_named);
        tcase_add_test(tc, test_folder_made_again_is_watched_again);
        suite_add_tcase(s, tc);
        return test_run(s, (const char *const[]) { NULL });
}
