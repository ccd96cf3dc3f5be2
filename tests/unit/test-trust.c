/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What isolatord, running as root, refuses to trust: writes that would leave the root
 * (climbing, absolute, through a planted symlink), saved originals from another
 * machine or with hostile entries, and executables a user could have written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enforce/enforcer.h"
#include "enforce/enforcer-workload.h"
#include "enforce/workload-classify.h"
#include "base/notice-limit.h"
#include "kernel/originals.h"
#include "kernel/root.h"
#include "model/finding.h"
#include "kernel/task.h"
#include "base/text.h"
#include "kernel/trust.h"
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

/* A file kept open for writes (a slice's cgroup.procs) holds the last value written,
 * follows the file when it is made again, and refuses what root_write refuses. */
START_TEST(test_kept_file) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *root_dir = g_build_filename(dir, "root", NULL);
        g_autofree char *procs = g_build_filename(root_dir, "sys/fs/cgroup/a.slice/cgroup.procs", NULL);
        fixture_write(root_dir, "sys/fs/cgroup/a.slice/cgroup.procs", "");
        g_autoptr(Root) root = root_new(root_dir);
        g_autoptr(RootFile) f = root_file_new(root, "sys/fs/cgroup/a.slice/cgroup.procs");

        ck_assert_int_eq(root_file_write(f, "123456"), 0);
        ck_assert_int_eq(root_file_write(f, "78"), 0);
        g_autofree char *text = read_text(procs);
        ck_assert_str_eq(text, "78\n");
        /* Removed and made again (a slice repaired): the new file gets the write. */
        ck_assert_int_eq(unlink(procs), 0);
        fixture_write(root_dir, "sys/fs/cgroup/a.slice/cgroup.procs", "");
        ck_assert_int_eq(root_file_write(f, "90"), 0);
        g_autofree char *again = read_text(procs);
        ck_assert_str_eq(again, "90\n");
        /* Gone: the open's error; a symlink in its place: refused by name. */
        ck_assert_int_eq(unlink(procs), 0);
        ck_assert_int_eq(root_file_write(f, "1"), -ENOENT);
        ck_assert_int_eq(symlink("/etc/passwd", procs), 0);
        ck_assert_int_eq(root_file_write(f, "1"), -ELOOP);
        g_autoptr(RootFile) climbing = root_file_new(root, "sys/../../x");
        ck_assert_int_eq(root_file_write(climbing, "1"), -EINVAL);
        fixture_remove(dir);
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

static Originals *open_store(const char *dir, const char *identity) {
        Originals *o = NULL;
        g_autoptr(GError) e = NULL;
        ck_assert_msg(originals_open(dir, identity, &o, &e) == 0, "%s", e ? e->message : "");
        return o;
}

START_TEST(test_journal_round_trip) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        g_autoptr(GHashTable) gone = g_hash_table_new(g_str_hash, g_str_equal);
        {
                g_autoptr(Originals) o = open_store(dir, "root=/x boot=1");
                ck_assert(originals_remember(o, "proc/irq/24/smp_affinity_list", "0-15"));
                ck_assert(!originals_remember(o, "proc/irq/24/smp_affinity_list", "0"));
                ck_assert(originals_remember(o, "@workload sched 42 4242 hq", "0 0"));
                ck_assert_int_eq(originals_flush(o, NULL), 0);
                g_hash_table_add(gone, (char *) "@workload sched 42 4242 hq");
                ck_assert_int_eq(originals_forget(o, gone, NULL), 0);
        }
        /* Appended, not rewritten: the forgotten entry is a "-" line after its "+". */
        g_autofree char *text = NULL;
        ck_assert(g_file_get_contents(file, &text, NULL, NULL));
        ck_assert_msg(strstr(text, "+\t@workload sched 42 4242 hq\t0 0\n-\t@workload sched 42 4242 hq\n"), "%s", text);
        /* A last line cut short by a crash is ignored. */
        FILE *f = fopen(file, "a");
        fputs("+\tproc/irq/25/smp_affinity_list\t0-", f);
        fclose(f);
        {
                g_autoptr(Originals) o = open_store(dir, "root=/x boot=1");
                ck_assert_uint_eq(originals_count(o), 1);
                ck_assert_str_eq(originals_path(o, 0), "proc/irq/24/smp_affinity_list");
                ck_assert_str_eq(originals_value(o, 0), "0-15");
                ck_assert_ptr_null(originals_set_aside(o));
                ck_assert_int_eq(originals_compact(o, NULL), 0);
        }
        g_free(text);
        ck_assert(g_file_get_contents(file, &text, NULL, NULL));
        ck_assert_msg(!strstr(text, "@workload") && !strstr(text, "irq/25"), "not compacted: %s", text);
        fixture_remove(dir);
}
END_TEST

START_TEST(test_other_machine_set_aside) {
        g_autofree char *dir = fixture_tmpdir();
        {
                g_autoptr(Originals) o = open_store(dir, "root=/machines/two boot=1");
                originals_remember(o, "proc/irq/24/smp_affinity_list", "0-1");
                ck_assert_int_eq(originals_flush(o, NULL), 0);
        }
        /* Another root, then another boot: nothing loaded, the file moved aside. */
        for (int i = 0; i < 2; i++) {
                const char *id = i == 0 ? "root=/machines/thirtytwo boot=1" : "root=/machines/two boot=2";
                g_autoptr(Originals) o = open_store(dir, id);
                ck_assert_uint_eq(originals_count(o), 0);
                if (i == 0) {
                        ck_assert_ptr_nonnull(originals_set_aside(o));
                        ck_assert_msg(strstr(originals_set_aside(o), "another root or another boot"), "%s",
                                      originals_set_aside(o));
                }
        }
        /* A file of an older version (no identity) is set aside too. */
        fixture_write(dir, "originals", "proc/irq/24/smp_affinity_list\t0-1\n");
        g_autoptr(Originals) o = open_store(dir, "root=/machines/two boot=1");
        ck_assert_uint_eq(originals_count(o), 0);
        ck_assert_ptr_nonnull(originals_set_aside(o));
        fixture_remove(dir);
}
END_TEST

START_TEST(test_hostile_entries_refused) {
        static const struct {
                const char *key, *value;
                bool valid;
        } cases[] = {
                { "proc/irq/24/smp_affinity_list", "0-15", true },
                { "sys/fs/cgroup/system.slice/cpuset.cpus", "", true },
                { "proc/irq/0/../../../../x", "0", false },
                { "/etc/shadow", "x", false },
                { "etc/passwd", "x", false },
                { "home/user/.bashrc", "x", false },
                { "@cpuset created ../x", "", false },
                { "@cpuset created etc/systemd/system/system.slice.d", "", true },
                { "@cpuset created etc", "", true },
                { "@cpuset created usr/lib", "", false },
                { "@cpuset mkdir sys/fs/cgroup/../../x", "", false },
                { "@cpuset file etc/systemd/system/x.slice.d/50-isolatord.conf", "[Slice]", true },
                { "@cpuset file etc/cron.d/evil", "* * * * * root sh", false },
                { "@cpuset systemd system.slice", "0,8", true },
                { "@cpuset systemd ../x", "0", false },
                { "@workload cgroup 42 4242 hq", "/system.slice/x.service", true },
                { "@workload cgroup 42 4242 hq", "/", true },
                { "@workload cgroup 42 4242 hq", "/../../../etc", false },
                { "@workload cgroup 42 4242 hq", "relative", false },
                { "@workload sched 42 4242 hq", "1 99", true },
                { "@workload sched 42 4242 hq", "1 0", false },
                { "@workload sched 42 4242 hq", "7 5", false },
                { "@workload affinity 42 4242 hq", "0-3", true },
                { "@workload affinity x 1 hq", "0-3", false },
                { "@kthread affinity 7 107 rcu_preempt", "0-15", true },
                { "@workload sched 43 hq", "1 99", false }, /* no start time: whose would it be? */
                { "@workload affinity 42 -1 hq", "0-3", false },
                { "@nobody anything", "", false },
                { "@kthread", "", false },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *why = enforcer_check_original(cases[i].key, cases[i].value, NULL);
                ck_assert_msg((why == NULL) == cases[i].valid, "%s = %s: %s", cases[i].key, cases[i].value,
                              why ? why : "accepted");
        }
        /* Filtered out of a store, each with its reason. */
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(Originals) o = open_store(dir, "root=/ boot=1");
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
                originals_remember(o, cases[i].key, cases[i].value);
        g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func(g_free);
        originals_filter(o, enforcer_check_original, NULL, rejected);
        /* 24 distinct keys (a repeated key keeps its first value), 10 of them valid. */
        ck_assert_uint_eq(originals_count(o), 10);
        ck_assert_uint_eq(rejected->len, 14);
        fixture_remove(dir);
}
END_TEST

static void fake_task(const char *dir, int pid, const char *comm, unsigned long flags) {
        g_autoptr(GString) line = g_string_new(NULL);
        g_string_append_printf(line, "%d (%s) S 2 0 0 0 -1 %lu", pid, comm, flags);
        for (int f = 10; f <= 38; f++)
                g_string_append(line, " 0");
        g_string_append(line, " 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        g_autofree char *rel = g_strdup_printf("proc/%d/stat", pid);
        fixture_write(dir, rel, line->str);
}

/* IRQ threads are kernel threads: PF_KTHREAD, which no process can give itself. */
START_TEST(test_kthreads_by_flag_not_name) {
        g_autofree char *dir = fixture_tmpdir();
        g_autoptr(Root) root = root_new(dir);
        fake_task(dir, 50, "irq/24-xhci_hcd", TASK_PF_KTHREAD);
        fake_task(dir, 51, "irq/24-xhci_hcd", 0x400000);
        fake_task(dir, 52, "irq/25-snd_hda", TASK_PF_KTHREAD);
        g_autoptr(GArray) found = task_find_kthreads(root, "irq/24-");
        ck_assert_uint_eq(found->len, 1);
        ck_assert_int_eq(g_array_index(found, pid_t, 0), 50);
        fixture_remove(dir);
}
END_TEST

/* The executable checks on this machine's own files: the system's programs are
 * trusted; a file a user owns, or one in a folder a user may write, is not. */
START_TEST(test_exe_paths) {
        g_autoptr(Root) host = root_new("/");
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *why = NULL;
        ck_assert_msg(trust_check_path(host, NULL, "/usr/bin/sleep", &why), "%s", why);
        g_autofree char *user_dir = g_build_filename(dir, "home", NULL);
        g_autofree char *copy = g_build_filename(user_dir, "hqplayerd", NULL);
        g_mkdir_with_parents(user_dir, 0755);
        fixture_write(user_dir, "hqplayerd", "#!/bin/sh\n");
        ck_assert_int_eq(chmod(dir, 0755), 0);
        ck_assert_msg(trust_check_path(host, NULL, copy, &why), "%s", why); /* root's file, root's folders */
        ck_assert_int_eq(chown(copy, 65534, 65534), 0);
        ck_assert(!trust_check_path(host, NULL, copy, &why));
        ck_assert_str_eq(why, "it is not owned by root");
        g_clear_pointer(&why, g_free);
        ck_assert_int_eq(chown(copy, 0, 0), 0);
        ck_assert_int_eq(chown(user_dir, 65534, 65534), 0);
        ck_assert(!trust_check_path(host, NULL, copy, &why));
        ck_assert_str_eq(why, "a folder above it is not owned by root");
        g_clear_pointer(&why, g_free);
        /* A world-writable folder: only its sticky bit keeps root's entry root's. */
        ck_assert_int_eq(chown(user_dir, 0, 0), 0);
        ck_assert_int_eq(chmod(user_dir, 0777), 0);
        ck_assert(!trust_check_path(host, NULL, copy, &why));
        ck_assert_str_eq(why, "a folder above it is writable by others than root");
        g_clear_pointer(&why, g_free);
        ck_assert_int_eq(chmod(user_dir, 01777), 0);
        ck_assert_msg(trust_check_path(host, NULL, copy, &why), "%s", why);
        ck_assert_int_eq(chmod(copy, 0666), 0);
        ck_assert(!trust_check_path(host, NULL, copy, &why));
        ck_assert_str_eq(why, "it is writable by others than root");
        fixture_remove(dir);
}
END_TEST

/* Folders kept as trusted answer again without a walk, until the kernel reports a
 * change to one of them: a chmod, or the folder renamed away and another put in its
 * place, is seen at the next check. */
START_TEST(test_exe_paths_kept) {
        g_autoptr(Root) host = root_new("/");
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *why = NULL;
        g_autoptr(TrustCache) cache = trust_cache_new();
        g_autofree char *opt = g_build_filename(dir, "opt", NULL);
        g_autofree char *moved = g_build_filename(dir, "opt.old", NULL);
        g_autofree char *copy = g_build_filename(opt, "hqplayerd", NULL);
        ck_assert_int_eq(chmod(dir, 0755), 0);
        g_mkdir_with_parents(opt, 0755);
        fixture_write(opt, "hqplayerd", "#!/bin/sh\n");
        for (int i = 0; i < 3; i++)
                ck_assert_msg(trust_check_path(host, cache, copy, &why), "%s", why);
        ck_assert_uint_eq(trust_cache_walks(cache), 1);
        /* Entries that are not on the chain come and go without a walk. */
        fixture_write(dir, "unrelated.log", "x\n");
        fixture_write(opt, "hqplayerd.conf", "x\n");
        g_autofree char *unrelated = g_build_filename(dir, "unrelated.log", NULL);
        ck_assert_int_eq(chmod(unrelated, 0600), 0);
        ck_assert_msg(trust_check_path(host, cache, copy, &why), "%s", why);
        ck_assert_uint_eq(trust_cache_walks(cache), 1);
        ck_assert_int_eq(chmod(opt, 0777), 0);
        ck_assert(!trust_check_path(host, cache, copy, &why));
        ck_assert_str_eq(why, "a folder above it is writable by others than root");
        g_clear_pointer(&why, g_free);
        ck_assert_int_eq(chmod(opt, 0755), 0);
        ck_assert_msg(trust_check_path(host, cache, copy, &why), "%s", why);
        /* Renamed away; a user's folder of the same name holds root's file again. */
        ck_assert_int_eq(rename(opt, moved), 0);
        g_mkdir_with_parents(opt, 0755);
        g_autofree char *old_copy = g_build_filename(moved, "hqplayerd", NULL);
        ck_assert_int_eq(link(old_copy, copy), 0);
        ck_assert_int_eq(chown(opt, 65534, 65534), 0);
        ck_assert(!trust_check_path(host, cache, copy, &why));
        ck_assert_str_eq(why, "a folder above it is not owned by root");
        g_clear_pointer(&why, g_free);
        /* After a flush the walk is done again, and says the same. */
        trust_cache_flush(cache);
        ck_assert(!trust_check_path(host, cache, copy, &why));
        ck_assert_str_eq(why, "a folder above it is not owned by root");
        fixture_remove(dir);
}
END_TEST

/* What users name reaches the log and the bus printable, and valid text unchanged. */
START_TEST(test_text_printable) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "hqplayerd", "hqplayerd" },
                { "caf\xc3\xa9", "caf\xc3\xa9" },
                { "a\nisolatord: forged", "a?isolatord: forged" },
                { "x\xff", "x\xef\xbf\xbd" },
                { "\x1b[31m", "?[31m" },
                { "", "" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *got = text_printable(cases[i].in);
                ck_assert_str_eq(got, cases[i].out);
        }
        g_autoptr(Finding) f = finding_new("k", "1 \xff", NULL, "a\tb", false, "m\r");
        ck_assert(g_utf8_validate(f->object, -1, NULL));
        ck_assert_str_eq(f->actual, "a?b");
        ck_assert_str_eq(f->message, "m?");
}
END_TEST

START_TEST(test_users_and_units) {
        char *users[] = { (char *) "root", (char *) "65534", NULL };
        ck_assert(trust_user_listed(users, 0));
        ck_assert(trust_user_listed(users, 65534));
        ck_assert(!trust_user_listed(users, 1000));
        ck_assert(trust_user_entry_valid("audio_user"));
        ck_assert(trust_user_entry_valid("1000"));
        ck_assert(!trust_user_entry_valid("../x"));
        ck_assert(!trust_user_entry_valid(""));
        /* Unit=: within the unit's control group as the system manager reports it, never
         * a path that merely carries its name (a user's delegated subtree can). */
        const char *unit = "/system.slice/hqplayerd.service";
        ck_assert(workload_cgroup_within("/system.slice/hqplayerd.service", unit));
        ck_assert(workload_cgroup_within("/system.slice/hqplayerd.service/worker", unit));
        ck_assert(!workload_cgroup_within("/system.slice/hqplayerd.service.fake", unit));
        ck_assert(!workload_cgroup_within(
                "/user.slice/user-1000.slice/user@1000.service/app.slice/hqplayerd.service", unit));
        ck_assert(!workload_cgroup_within("/system.slice", unit));
        ck_assert(!workload_cgroup_within("/anything", "/"));
        ck_assert(!workload_cgroup_within("/system.slice/x", ""));
}
END_TEST

/* Refusal notices: a few per key and window, the rest counted and said in one line. */
static void count_held(const char *key, uint64_t held, void *userdata) {
        g_string_append_printf(userdata, "%s:%" G_GUINT64_FORMAT ";", key, held);
}

START_TEST(test_notice_limit) {
        g_autoptr(NoticeLimit) l = notice_limit_new(5, 60 * G_USEC_PER_SEC, 2);
        g_autoptr(GString) said = g_string_new(NULL);
        unsigned allowed = 0;
        for (int i = 0; i < 2000; i++)
                allowed += notice_limit_allow(l, "uid 65534 running /home/x/hq", 1000 + i);
        ck_assert_uint_eq(allowed, 5);
        ck_assert(notice_limit_allow(l, "uid 1000 running /tmp/hq", 5000)); /* another key has its own */
        /* Past the bound on keys, new keys share one. */
        for (int i = 0; i < 7; i++)
                notice_limit_allow(l, i % 2 ? "a" : "b", 6000);
        notice_limit_flush(l, 7000, count_held, said);
        ck_assert_str_eq(said->str, "(others):2;uid 65534 running /home/x/hq:1995;");
        /* Said once: the next flush has nothing to say, and within the window the key stays quiet. */
        g_string_truncate(said, 0);
        notice_limit_flush(l, 8000, count_held, said);
        ck_assert_str_eq(said->str, "");
        ck_assert(!notice_limit_allow(l, "uid 65534 running /home/x/hq", 9000));
        /* A new window: a burst again. */
        ck_assert(notice_limit_allow(l, "uid 65534 running /home/x/hq", 1000 + 60 * G_USEC_PER_SEC));
}
END_TEST

static Suite *trust_suite(void) {
        Suite *s = suite_create("trust");
        TCase *tc = tcase_create("root");
        tcase_add_test(tc, test_rel_valid);
        tcase_add_test(tc, test_write_stays_beneath);
        tcase_add_test(tc, test_kept_file);
        tcase_add_test(tc, test_put_file_and_remove);
        suite_add_tcase(s, tc);
        tc = tcase_create("originals");
        tcase_add_test(tc, test_journal_round_trip);
        tcase_add_test(tc, test_other_machine_set_aside);
        tcase_add_test(tc, test_hostile_entries_refused);
        suite_add_tcase(s, tc);
        tc = tcase_create("processes");
        tcase_add_test(tc, test_kthreads_by_flag_not_name);
        tcase_add_test(tc, test_exe_paths);
        tcase_add_test(tc, test_exe_paths_kept);
        tcase_add_test(tc, test_users_and_units);
        tcase_add_test(tc, test_notice_limit);
        tcase_add_test(tc, test_text_printable);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run(trust_suite(), (const char *const[]) { NULL });
}
