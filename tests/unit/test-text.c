/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The glob matcher of Match= (text_glob_match) says what g_pattern_match_simple says on
 * valid text: named cases, then every glob of up to four pieces and every text of up to
 * three from alphabets that hold the wildcards, a two-byte and a three-byte character and
 * '/'. On invalid text (an executable's name is any bytes its owner chose) it answers
 * where GLib aborts the process for globs like "*hq*d" (g_utf8_strreverse's assertion):
 * any local user could have stopped isolatord with one exec. */
#include "base/text.h"
#include "testlib.h"

static void agree(const char *glob, const char *text) {
        bool want = g_pattern_match_simple(glob, text);
        if (text_glob_match(glob, text) != want)
                ck_abort_msg("glob \"%s\" on \"%s\": GLib says %d, text_glob_match %d", glob, text, want, !want);
}

START_TEST(test_named_cases) {
        ck_assert(text_glob_match("hqplayer*", "hqplayer5-desktop"));
        ck_assert(text_glob_match("*/bin/hqplayerd", "/usr/bin/hqplayerd"));
        ck_assert(!text_glob_match("*/bin/hqplayerd", "/usr/bin/hqplayerd2"));
        ck_assert(text_glob_match("diretta_?", "diretta_é"));
        ck_assert(!text_glob_match("diretta_?", "diretta_"));
        ck_assert(!text_glob_match("diretta_?", "diretta_ab"));
        ck_assert(text_glob_match("", ""));
        ck_assert(!text_glob_match("", "a"));
        ck_assert(text_glob_match("*", ""));
        ck_assert(text_glob_match("**a**", "bab"));
        ck_assert(!text_glob_match("*??", "é"));
        ck_assert(text_glob_match("*??", "éa"));
}
END_TEST

/* Every string of up to max pieces of alphabet, appended to out. */
static void strings(const char *const *alphabet, unsigned max, GPtrArray *out) {
        g_ptr_array_add(out, g_strdup(""));
        for (unsigned from = 0, to = out->len, len = 1; len <= max; len++, from = to, to = out->len)
                for (unsigned i = from; i < to; i++)
                        for (const char *const *a = alphabet; *a; a++)
                                g_ptr_array_add(out, g_strconcat(out->pdata[i], *a, NULL));
}

START_TEST(test_agrees_with_glib) {
        static const char *const glob_alphabet[] = { "a", "b", "*", "?", "é", "€", "/", NULL };
        static const char *const text_alphabet[] = { "a", "b", "é", "€", "/", "*", "?", NULL };
        g_autoptr(GPtrArray) globs = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
        strings(glob_alphabet, 4, globs);
        strings(text_alphabet, 3, texts);
        ck_assert_uint_eq(globs->len, 1 + 7 + 49 + 343 + 2401);
        ck_assert_uint_eq(texts->len, 1 + 7 + 49 + 343);
        for (unsigned g = 0; g < globs->len; g++)
                for (unsigned t = 0; t < texts->len; t++)
                        agree(globs->pdata[g], texts->pdata[t]);
}
END_TEST

START_TEST(test_invalid_text_is_answered) {
        ck_assert(!text_glob_match("*hq*d", "/tmp/x\xe2"));
        ck_assert(text_glob_match("*/x?", "/tmp/x\xe2"));
        ck_assert(text_glob_match("*?", "a\xe2"));
        ck_assert(text_glob_match("?", "\x82"));      /* a stray continuation byte is a character */
        ck_assert(!text_glob_match("??", "\xe2\x82")); /* a cut-short character is one */
        ck_assert(text_glob_match("a*\xe2", "ab\xe2"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("text");
        TCase *tc = tcase_create("glob");
        tcase_add_test(tc, test_named_cases);
        tcase_add_test(tc, test_agrees_with_glib);
        tcase_add_test(tc, test_invalid_text_is_answered);
        suite_add_tcase(s, tc);
        return test_run(s, NULL);
}
