/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The journal of saved originals against torn lines: a batch torn at every byte of its
 * append (as a crash leaves it) and appended to again; the same fragments glued by hand
 * to the next batch, as a journal that was never cut would hold them; an append that
 * fails midway (RLIMIT_FSIZE standing in for a full runtime folder), with the cut back
 * working and with it refused (seccomp); a version 2 journal read and written anew; a
 * journal replaced or removed under the open file, written anew whole; a journal whose
 * last entry is forgotten, emptied where it is. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/originals.h"
#include "testlib.h"

#define IDENTITY "root=/machines/x boot=1\twith \"odd\" bytes \\ é"

typedef struct {
        const char *key;
        const char *value;
} Pair;

/* Keys and values that need every kind of escape: TAB, newline, backslash, quote, UTF-8,
 * control bytes, bytes that are not UTF-8, a trailing '-' or backslash, empty values. */
static const Pair batch1[] = {
        { "proc/irq/24/smp_affinity_list", "0-15" },
        { "sys/x/with\ttab", "a\tb\\c\nd" },
        { "@workload sched 42 4242 hq-", "0 0" },
        { "proc/sys/kernel/timer_migration", "1" },
        { "k/utf8-é", "Grüße ✓\n" },
        { "k/quote\"\\", "\"\\t\\" },
        { "k/ctrl\x01", "\x01\x7f\xfe\xff" },
        { "@cpuset created x", "" },
        { "b1/gone", "forgotten by batch 2" },
        { "b1/forget3", "forgotten by batch 3" },
};
static const Pair batch2[] = {
        { "b2/a", "x\\" },
        { "b2/b-", "-" },
        { "b2/c", "\t" },
        { "b2/d\\", "long: ĀāĂăĄąĆćĈĉĊċČčĎď \\\\ \t\t\n\n \"\" end-" },
        { "-", "+" },
        { "b2/e", "" },
};
static const Pair batch3[] = {
        { "b3/a-", "after the tear\\" },
        { "b3/b", "\t\n\\-" },
        { "proc/sys/kernel/sched_rt_runtime_us", "950000" },
};

static Originals *store_open(const char *dir) {
        Originals *o = NULL;
        g_autoptr(GError) e = NULL;
        ck_assert_msg(originals_open(dir, IDENTITY, &o, &e) == 0, "%s", e ? e->message : "");
        ck_assert_msg(!originals_set_aside(o), "set aside: %s", originals_set_aside(o));
        return o;
}

static void remember(Originals *o, const Pair *pairs, size_t n) {
        for (size_t i = 0; i < n; i++)
                ck_assert(originals_remember(o, pairs[i].key, pairs[i].value));
}

static void flush(Originals *o) {
        g_autoptr(GError) e = NULL;
        ck_assert_msg(originals_flush(o, &e) == 0, "%s", e ? e->message : "");
}

static void forget(Originals *o, const char *key) {
        g_autoptr(GHashTable) gone = g_hash_table_new(g_str_hash, g_str_equal);
        g_autoptr(GError) e = NULL;
        g_hash_table_add(gone, (char *) key);
        ck_assert_msg(originals_forget(o, gone, &e) == 0, "%s", e ? e->message : "");
}

static char *file_text(const char *dir, size_t *len) {
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        char *text = NULL;
        ck_assert(g_file_get_contents(file, &text, len, NULL));
        return text;
}

static void file_set(const char *dir, const char *data, size_t len) {
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        ck_assert(g_file_set_contents(file, data, (gssize) len, NULL));
}

static off_t file_size(const char *dir) {
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        struct stat st;
        ck_assert(stat(file, &st) == 0);
        return st.st_size;
}

/* What a store may hold after the tears: each key with its one value. */
typedef enum { MUST, MAY, NEVER } Expect;

typedef struct {
        GHashTable *value;  /* key -> value */
        GHashTable *expect; /* key -> Expect */
} Known;

static void known_init(Known *k) {
        k->value = g_hash_table_new(g_str_hash, g_str_equal);
        k->expect = g_hash_table_new(g_str_hash, g_str_equal);
}

static void known_clear(Known *k) {
        g_hash_table_unref(k->value);
        g_hash_table_unref(k->expect);
}

static void known_add(Known *k, const Pair *pairs, size_t n, Expect expect) {
        for (size_t i = 0; i < n; i++) {
                g_hash_table_insert(k->value, (char *) pairs[i].key, (char *) pairs[i].value);
                g_hash_table_insert(k->expect, (char *) pairs[i].key, GINT_TO_POINTER(expect));
        }
}

static void known_set(Known *k, const char *key, Expect expect) {
        g_hash_table_insert(k->expect, (char *) key, GINT_TO_POINTER(expect));
}

/* Every entry is a known key with its value byte for byte, every MUST key is there,
 * no NEVER key is; returns the MAY keys found, in a string to compare. */
static char *known_check(const Known *k, Originals *o, const char *when) {
        g_autoptr(GString) found = g_string_new(NULL);
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; i < originals_count(o); i++) {
                const char *key = originals_path(o, i), *value = originals_value(o, i);
                g_autofree char *ek = g_strescape(key, NULL), *ev = g_strescape(value, NULL);
                ck_assert_msg(g_hash_table_contains(k->value, key), "%s: an entry never written: \"%s\" = \"%s\"", when,
                              ek, ev);
                ck_assert_msg(g_str_equal(g_hash_table_lookup(k->value, key), value), "%s: \"%s\" altered: \"%s\"", when,
                              ek, ev);
                Expect x = GPOINTER_TO_INT(g_hash_table_lookup(k->expect, key));
                ck_assert_msg(x != NEVER, "%s: \"%s\" should be gone", when, ek);
                if (x == MAY)
                        g_string_append_printf(found, "%s;", ek);
                g_hash_table_add(seen, (char *) key);
        }
        GHashTableIter it;
        gpointer key, x;
        g_hash_table_iter_init(&it, k->expect);
        while (g_hash_table_iter_next(&it, &key, &x))
                ck_assert_msg(GPOINTER_TO_INT(x) != MUST || g_hash_table_contains(seen, key), "%s: \"%s\" lost", when,
                              (char *) key);
        return g_string_free(g_steal_pointer(&found), false);
}

/* The journal written in three batches on a clean run: the bytes after batch 1, after
 * batch 2 and after batch 3. */
typedef struct {
        char *data;
        size_t len1, len2, len3;
} Journal;

static void journal_write(const char *dir, Journal *j) {
        g_autoptr(Originals) o = store_open(dir);
        remember(o, batch1, G_N_ELEMENTS(batch1));
        flush(o);
        j->len1 = (size_t) file_size(dir);
        forget(o, "b1/gone"); /* batch 2 opens with a "-" line */
        remember(o, batch2, G_N_ELEMENTS(batch2));
        flush(o);
        j->len2 = (size_t) file_size(dir);
        forget(o, "b1/forget3"); /* and batch 3 too: the glue that keeps a "+" line's TABs */
        remember(o, batch3, G_N_ELEMENTS(batch3));
        flush(o);
        j->data = file_text(dir, &j->len3);
        ck_assert(j->len1 < j->len2 && j->len2 < j->len3);
}

/* What may be there with batch 2 torn: batch 1 whole but for the key batch 2 forgets. */
static void known_torn(Known *k) {
        known_init(k);
        known_add(k, batch1, G_N_ELEMENTS(batch1), MUST);
        known_set(k, "b1/gone", MAY);
        known_add(k, batch2, G_N_ELEMENTS(batch2), MAY);
}

START_TEST(test_torn_at_every_byte) {
        g_autofree char *clean = fixture_tmpdir();
        g_autofree char *dir = fixture_tmpdir();
        Journal j;
        journal_write(clean, &j);

        for (size_t t = j.len1; t <= j.len2; t++) {
                g_autofree char *when = g_strdup_printf("torn at byte %zu of batch 2", t - j.len1);
                g_autofree char *before = NULL, *after = NULL;
                Known k;
                known_torn(&k);
                file_set(dir, j.data, t);
                {
                        g_autoptr(Originals) o = store_open(dir);
                        before = known_check(&k, o, when);
                        forget(o, "b1/forget3");
                        remember(o, batch3, G_N_ELEMENTS(batch3));
                        flush(o);
                }
                known_add(&k, batch3, G_N_ELEMENTS(batch3), MUST);
                known_set(&k, "b1/forget3", NEVER);
                {
                        g_autoptr(Originals) o = store_open(dir);
                        after = known_check(&k, o, when);
                }
                /* Batch 3 neither brought back nor took away a torn batch's entry. */
                ck_assert_msg(g_str_equal(before, after), "%s: \"%s\" before batch 3, \"%s\" after", when, before, after);
                /* A whole batch 2 is read whole; and nothing is left after the last newline. */
                if (t == j.len2)
                        ck_assert_str_eq(before, "b2/a;b2/b-;b2/c;b2/d\\\\;-;b2/e;");
                size_t len;
                g_autofree char *text = file_text(dir, &len);
                ck_assert_msg(len > 0 && text[len - 1] == '\n', "%s: the journal does not end with a newline", when);
                known_clear(&k);
        }
        g_free(j.data);
        fixture_remove(clean);
        fixture_remove(dir);
}
END_TEST

/* Should a fragment ever be glued to the next append (an older isolatord did it), the
 * glued line is never read as another key or value. */
START_TEST(test_glued_never_misread) {
        g_autofree char *clean = fixture_tmpdir();
        g_autofree char *dir = fixture_tmpdir();
        Journal j;
        journal_write(clean, &j);
        const char *batch3_bytes = j.data + j.len2;
        size_t batch3_len = j.len3 - j.len2;
        ck_assert_msg(batch3_bytes[0] == '-', "batch 3 should open with its \"-\" line");

        for (size_t t = j.len1; t < j.len2; t++) {
                g_autofree char *when = g_strdup_printf("torn at byte %zu of batch 2, glued", t - j.len1);
                g_autofree char *glued = g_malloc(t + batch3_len);
                memcpy(glued, j.data, t);
                memcpy(glued + t, batch3_bytes, batch3_len);
                file_set(dir, glued, t + batch3_len);
                Known k;
                known_torn(&k);
                /* Batch 3's first line may be lost in the glue; the rest of it is there. */
                known_set(&k, "b1/forget3", MAY);
                known_add(&k, batch3, G_N_ELEMENTS(batch3), MUST);
                g_autoptr(Originals) o = store_open(dir);
                g_free(known_check(&k, o, when));
                known_clear(&k);
        }
        /* The one glue that keeps a "+" line's two TABs, said outright. */
        static const char v3[] = "isolatord-originals 3\nidentity root=/y boot=1\n"
                                 "+\tk/a\\055\tkept\n"
                                 "+\tk/b-\tk/c\n"
                                 "+\tk/d\\\ta trailing backslash\n"
                                 "+\tk/e\t\\000cut short\n"
                                 "+\tk/f\tnot \\q an escape\n"
                                 "+\tk/g\traw\ttab\n"
                                 "+\tk/h\t\\303\\251\n"
                                 "+\tk/i\té raw\n";
        file_set(dir, v3, sizeof v3 - 1);
        Originals *o = NULL;
        ck_assert_int_eq(originals_open(dir, "root=/y boot=1", &o, NULL), 0);
        ck_assert_uint_eq(originals_count(o), 2);
        ck_assert_str_eq(originals_get(o, "k/a-"), "kept");
        ck_assert_str_eq(originals_get(o, "k/h"), "é");
        originals_free(o);
        g_free(j.data);
        fixture_remove(clean);
        fixture_remove(dir);
}
END_TEST

/* A journal of version 2 (a trailing '-' raw) is read, and written anew as version 3
 * before anything is appended to it. */
START_TEST(test_version_2_read) {
        g_autofree char *dir = fixture_tmpdir();
        static const char v2[] = "isolatord-originals 2\nidentity root=/y boot=1\n"
                                 "+\t@workload sched 42 4242 hq-\t0 0\n"
                                 "+\tk/b\t\\t\n"
                                 "-\tk/b\n";
        file_set(dir, v2, sizeof v2 - 1);
        for (int round = 0; round < 2; round++) {
                Originals *o = NULL;
                ck_assert_int_eq(originals_open(dir, "root=/y boot=1", &o, NULL), 0);
                ck_assert_uint_eq(originals_count(o), round + 1);
                ck_assert_str_eq(originals_get(o, "@workload sched 42 4242 hq-"), "0 0");
                if (round == 0) {
                        originals_remember(o, "k/c", "1");
                        ck_assert_int_eq(originals_flush(o, NULL), 0);
                } else
                        ck_assert_str_eq(originals_get(o, "k/c"), "1");
                originals_free(o);
        }
        g_autofree char *text = file_text(dir, NULL);
        ck_assert_str_eq(text, "isolatord-originals 3\nidentity root=/y boot=1\n"
                               "+\t@workload sched 42 4242 hq\\055\t0 0\n"
                               "+\tk/c\t1\n");
        fixture_remove(dir);
}
END_TEST

/* The open journal's file replaced (renamed over), removed, moved away or cut short: the
 * next flush writes the whole store into the named file, never into the file open. */
START_TEST(test_replaced_under_journal) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        g_autofree char *other = g_build_filename(dir, "other", NULL);
        Originals *o = NULL;
        ck_assert_int_eq(originals_open(dir, "root=/y boot=1", &o, NULL), 0);
        for (int round = 0; round < 4; round++) {
                g_autofree char *key = g_strdup_printf("k/%d", round);
                g_autofree char *after = g_strdup_printf("k/after-%d", round);
                originals_remember(o, "k/first", "1");
                ck_assert_int_eq(originals_flush(o, NULL), 0);
                originals_remember(o, key, "2"); /* appended to the open journal */
                ck_assert_int_eq(originals_flush(o, NULL), 0);
                if (round == 0) {
                        ck_assert(g_file_set_contents(other, "someone else's\n", -1, NULL));
                        ck_assert_int_eq(rename(other, file), 0);
                } else if (round == 1)
                        ck_assert_int_eq(unlink(file), 0);
                else if (round == 2)
                        ck_assert_int_eq(rename(file, other), 0); /* the open file keeps its link */
                else
                        ck_assert_int_eq(truncate(file, 10), 0);
                originals_remember(o, after, "3");
                ck_assert_int_eq(originals_flush(o, NULL), 0);
                Originals *again = NULL;
                ck_assert_int_eq(originals_open(dir, "root=/y boot=1", &again, NULL), 0);
                ck_assert_str_eq(originals_get(again, "k/first"), "1");
                ck_assert_str_eq(originals_get(again, key), "2");
                ck_assert_str_eq(originals_get(again, after), "3");
                originals_free(again);
        }
        originals_free(o);
        fixture_remove(dir);
}
END_TEST

/* The last entry forgotten with the journal open: the file is emptied where it is (the
 * same inode, kept open), reads back as nothing, and the next entry starts it again with
 * its header; a store that never opened its journal leaves no file. */
START_TEST(test_emptied_in_place) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        Originals *o = store_open(dir);
        struct stat before, after;
        for (int round = 0; round < 3; round++) {
                remember(o, batch3, G_N_ELEMENTS(batch3));
                flush(o);
                ck_assert_int_eq(stat(file, &before), 0);
                for (size_t i = 0; i < G_N_ELEMENTS(batch3); i++)
                        forget(o, batch3[i].key);
                ck_assert_int_eq(stat(file, &after), 0);
                ck_assert_int_eq(after.st_size, 0);
                ck_assert(after.st_ino == before.st_ino && after.st_dev == before.st_dev);
                Originals *empty = store_open(dir);
                ck_assert_uint_eq(originals_count(empty), 0);
                originals_free(empty);
        }
        remember(o, batch1, 1);
        flush(o);
        originals_free(o);
        Originals *again = store_open(dir);
        ck_assert_uint_eq(originals_count(again), 1);
        ck_assert_str_eq(originals_get(again, batch1[0].key), batch1[0].value);
        /* Opened, its one entry forgotten before any append: no journal was open. */
        forget(again, batch1[0].key);
        ck_assert_int_eq(originals_count(again), 0);
        originals_free(again);
        ck_assert(!g_file_test(file, G_FILE_TEST_EXISTS));
        fixture_remove(dir);
}
END_TEST

#define CHILD_CHECK(cond, ...)                                  \
        do {                                                    \
                if (!(cond)) {                                  \
                        fprintf(stderr, "child: " __VA_ARGS__); \
                        fputc('\n', stderr);                    \
                        _exit(1);                               \
                }                                               \
        } while (0)

/* ftruncate() refused by the kernel from here on, as a filesystem that cannot cut
 * would refuse it. */
static void refuse_ftruncate(void) {
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ftruncate, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = G_N_ELEMENTS(filter), .filter = filter };
        CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs: %m");
        CHILD_CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp: %m");
}

/* In a child: batch 1 saved, then batch 2 with the file size limited 100 bytes further,
 * so its append stops inside a line, as on a full runtime folder; then room again. */
static int failed_append(const char *dir, bool cut_refused) {
        struct rlimit was, small;
        GError *e = NULL;
        Originals *o = NULL;

        CHILD_CHECK(originals_open(dir, IDENTITY, &o, NULL) == 0, "open");
        remember(o, batch1, G_N_ELEMENTS(batch1));
        CHILD_CHECK(originals_flush(o, NULL) == 0, "batch 1");
        off_t before = file_size(dir);

        signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG */
        CHILD_CHECK(getrlimit(RLIMIT_FSIZE, &was) == 0, "getrlimit: %m");
        small = (struct rlimit) { .rlim_cur = (rlim_t) before + 100, .rlim_max = was.rlim_max };
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0, "setrlimit: %m");
        if (cut_refused)
                refuse_ftruncate();
        remember(o, batch2, G_N_ELEMENTS(batch2));
        g_autoptr(GHashTable) gone = g_hash_table_new(g_str_hash, g_str_equal);
        g_hash_table_add(gone, (char *) "b1/gone");
        /* One append: the "-" line of b1/gone, then batch 2's "+" lines. */
        CHILD_CHECK(originals_forget(o, gone, &e) == -EFBIG, "the append did not fail with EFBIG");
        if (cut_refused) {
                CHILD_CHECK(strstr(e->message, "written anew"), "message: %s", e->message);
                CHILD_CHECK(file_size(dir) == before + 100, "the partial line is not there to be dealt with");
        } else
                CHILD_CHECK(file_size(dir) == before, "not cut back: %lld bytes, were %lld",
                            (long long) file_size(dir), (long long) before);
        g_clear_error(&e);
        /* Still no room: fails again, cleanly. */
        CHILD_CHECK(originals_flush(o, &e) < 0, "a second try should fail too");
        g_clear_error(&e);
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &was) == 0, "setrlimit: %m");
        CHILD_CHECK(originals_flush(o, &e) == 0, "with room again: %s", e->message);
        remember(o, batch3, G_N_ELEMENTS(batch3));
        CHILD_CHECK(originals_flush(o, &e) == 0, "batch 3: %s", e->message);
        originals_free(o);
        return 0;
}

static void failed_append_test(bool cut_refused) {
        g_autofree char *dir = fixture_tmpdir();
        int status;
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(failed_append(dir, cut_refused));
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status %d)", status);

        Known k;
        known_init(&k);
        known_add(&k, batch1, G_N_ELEMENTS(batch1), MUST);
        known_set(&k, "b1/gone", NEVER);
        known_add(&k, batch2, G_N_ELEMENTS(batch2), MUST);
        known_add(&k, batch3, G_N_ELEMENTS(batch3), MUST);
        g_autoptr(Originals) o = store_open(dir);
        g_free(known_check(&k, o, cut_refused ? "cut refused" : "cut back"));
        known_clear(&k);
        ck_assert_uint_eq(originals_count(o), G_N_ELEMENTS(batch1) - 1 + G_N_ELEMENTS(batch2) + G_N_ELEMENTS(batch3));
        /* Each line once: the batch written again is not in the file twice. */
        g_autofree char *text = file_text(dir, NULL);
        ck_assert_ptr_eq(strstr(text, "+\tb2/a\t"), g_strrstr(text, "+\tb2/a\t"));
        fixture_remove(dir);
}

START_TEST(test_failed_append_cut_back) {
        failed_append_test(false);
}
END_TEST

START_TEST(test_failed_append_cut_refused) {
        failed_append_test(true);
}
END_TEST

static Suite *originals_suite(void) {
        Suite *s = suite_create("originals");
        TCase *tc = tcase_create("torn");
        tcase_add_test(tc, test_torn_at_every_byte);
        tcase_add_test(tc, test_glued_never_misread);
        tcase_add_test(tc, test_version_2_read);
        tcase_add_test(tc, test_replaced_under_journal);
        tcase_add_test(tc, test_emptied_in_place);
        tcase_add_test(tc, test_failed_append_cut_back);
        tcase_add_test(tc, test_failed_append_cut_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return test_run(originals_suite(), NULL);
}
