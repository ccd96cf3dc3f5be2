/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "model/cpumask.h"
#include "base/error.h"
#include "testlib.h"

static void assert_list_roundtrip(const char *in, const char *expected) {
        CpuMask s;
        CpuMaskError err = {};
        int r = cpumask_parse_list(in, &s, &err);
        ck_assert_msg(r == 0, "\"%s\" rejected at %zu: %s", in, err.pos, err.reason);
        ck_assert_cpus(&s, expected);
}

static void assert_list_rejected(const char *in, size_t pos, const char *reason_part) {
        CpuMask s = cs("5");
        CpuMaskError err = {};
        int r = cpumask_parse_list(in, &s, &err);
        ck_assert_msg(r == -EINVAL, "\"%s\" accepted", in);
        ck_assert_msg(err.pos == pos, "\"%s\": error at %zu, expected %zu (%s)", in, err.pos, pos, err.reason);
        ck_assert_msg(strstr(err.reason, reason_part), "\"%s\": reason \"%s\" lacks \"%s\"", in, err.reason, reason_part);
        /* A rejected text leaves the output alone. */
        ck_assert_cpus(&s, "5");
}

START_TEST(test_list_valid) {
        assert_list_roundtrip("0-3,8,10-11", "0-3,8,10-11");
        assert_list_roundtrip("0", "0");
        assert_list_roundtrip("", "");
        assert_list_roundtrip("\n", "");
        assert_list_roundtrip("  1-7,9-15\n", "1-7,9-15");
        assert_list_roundtrip("3,1,2", "1-3");
        assert_list_roundtrip("0-1", "0-1");
        assert_list_roundtrip("5-5", "5");
        assert_list_roundtrip("0007", "7");
        assert_list_roundtrip("0-15:2/4", "0-1,4-5,8-9,12-13");
        assert_list_roundtrip("8191", "8191");
        assert_list_roundtrip("0-8191", "0-8191");
}
END_TEST

START_TEST(test_list_malformed) {
        assert_list_rejected("7-3", 0, "range end 3 is below its start 7");
        assert_list_rejected("1-", 2, "has no end");
        assert_list_rejected("1-,4", 2, "has no end");
        assert_list_rejected("x2", 0, "expected a CPU number, found 'x'");
        assert_list_rejected("1,,2", 2, "empty element");
        assert_list_rejected(",1", 0, "empty element");
        assert_list_rejected("1,", 1, "trailing comma");
        assert_list_rejected("8192", 0, "beyond the limit of 8192 CPUs");
        assert_list_rejected("0-9000", 2, "beyond the limit");
        assert_list_rejected("99999999999999999999999", 0, "beyond the limit");
        assert_list_rejected("1 2", 1, "whitespace");
        assert_list_rejected("1, 2", 2, "whitespace");
        assert_list_rejected("-1", 0, "expected a CPU number, found '-'");
        assert_list_rejected("1x", 1, "unexpected 'x'");
        assert_list_rejected("1-3:0/4", 4, "stride 0/4");
        assert_list_rejected("1-3:5/4", 4, "stride 5/4");
        assert_list_rejected("1-3:2", 5, "needs a group size");
}
END_TEST

START_TEST(test_list_gerror) {
        g_autoptr(GError) e = NULL;
        g_autofree char *huge = g_strnfill(100000, '9');
        CpuMask s;

        ck_assert(!cpumask_parse_list_gerror("CPUs", "7-3", &s, &e));
        ck_assert(g_error_matches(e, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST));
        ck_assert_str_eq(e->message, "CPUs \"7-3\" is not a valid CPU list: at position 1, range end 3 is below its start 7");
        g_clear_error(&e);

        /* A huge text is quoted shortened, so the error stays readable. */
        ck_assert(!cpumask_parse_list_gerror("CPUs", huge, &s, &e));
        ck_assert_int_lt(strlen(e->message), 300);
        ck_assert(strstr(e->message, "...\""));
}
END_TEST

static void assert_mask(const char *in, const char *expected) {
        CpuMask s;
        CpuMaskError err = {};
        int r = cpumask_parse_mask(in, &s, &err);
        ck_assert_msg(r == 0, "mask \"%s\" rejected at %zu: %s", in, err.pos, err.reason);
        ck_assert_cpus(&s, expected);
}

static void assert_mask_rejected(const char *in, size_t pos, const char *reason_part) {
        CpuMask s;
        CpuMaskError err = {};
        ck_assert_msg(cpumask_parse_mask(in, &s, &err) == -EINVAL, "mask \"%s\" accepted", in);
        ck_assert_msg(err.pos == pos, "mask \"%s\": error at %zu, expected %zu (%s)", in, err.pos, pos, err.reason);
        ck_assert_msg(strstr(err.reason, reason_part), "mask \"%s\": reason \"%s\" lacks \"%s\"", in, err.reason, reason_part);
}

START_TEST(test_mask) {
        assert_mask("ff,ffffffff", "0-39");
        assert_mask("f", "0-3");
        assert_mask("0", "");
        assert_mask("00000101\n", "0,8");
        assert_mask("0000ff00", "8-15");
        assert_mask("1,00000000", "32");
        assert_mask("80000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001", "0,255");
        assert_mask("FFFF", "0-15");

        assert_mask_rejected("", 0, "empty mask");
        assert_mask_rejected("ff,,ff", 3, "empty group");
        assert_mask_rejected("ff,", 3, "trailing comma");
        assert_mask_rejected("xyz", 0, "hex digit");
        assert_mask_rejected("0x1", 1, "hex digit");
        assert_mask_rejected("123456789", 8, "at most 8 hex digits");
        /* 257 groups: bit 8192 is one past the limit. */
        GString *big = g_string_new("1");
        for (int i = 0; i < 256; i++)
                g_string_append(big, ",00000000");
        assert_mask_rejected(big->str, 0, "beyond the limit");
        g_string_free(big, true);
}
END_TEST

START_TEST(test_format_mask) {
        CpuMask s = cs("0-15");
        g_autofree char *m16 = cpumask_format_mask(&s, 16);
        ck_assert_str_eq(m16, "ffff");

        CpuMask hk = cs("0,8");
        g_autofree char *m_hk = cpumask_format_mask(&hk, 16);
        ck_assert_str_eq(m_hk, "0101");

        CpuMask e = cs("");
        g_autofree char *m36 = cpumask_format_mask(&e, 36);
        ck_assert_str_eq(m36, "0,00000000");
        g_autofree char *m0 = cpumask_format_mask(&e, 0);
        ck_assert_str_eq(m0, "0");

        CpuMask all = cs("0-255");
        g_autofree char *m256 = cpumask_format_mask(&all, 256);
        ck_assert_str_eq(m256, "ffffffff,ffffffff,ffffffff,ffffffff,ffffffff,ffffffff,ffffffff,ffffffff");

        /* A set wider than nbits widens the mask rather than losing CPUs. */
        CpuMask wide = cs("40");
        g_autofree char *mw = cpumask_format_mask(&wide, 16);
        ck_assert_str_eq(mw, "100,00000000");

        /* Masks round-trip through the parser at the limit. */
        CpuMask edge = cs("0,4095,8191"), back;
        g_autofree char *me = cpumask_format_mask(&edge, 8192);
        ck_assert_int_eq(cpumask_parse_mask(me, &back, NULL), 0);
        ck_assert(cpumask_equal(&edge, &back));
}
END_TEST

START_TEST(test_operations) {
        CpuMask a = cs("0-7"), b = cs("4-11"), r;

        ck_assert_uint_eq(cpumask_count(&a), 8);
        cpumask_and(&r, &a, &b);
        ck_assert_cpus(&r, "4-7");
        cpumask_or(&r, &a, &b);
        ck_assert_cpus(&r, "0-11");
        cpumask_andnot(&r, &a, &b);
        ck_assert_cpus(&r, "0-3");
        ck_assert(cpumask_intersects(&a, &b));
        ck_assert(!cpumask_is_subset(&a, &b));
        /* Against b's used words only: the same answers as the whole masks. */
        CpuMask high = cs("64,8191"), low = cs("0-63"), far = cs("8191");
        ck_assert_uint_eq(cpumask_words_used(&b), 1);
        ck_assert_uint_eq(cpumask_words_used(&high), CPUMASK_WORDS);
        ck_assert_uint_eq(cpumask_words_used(&(CpuMask) {}), 0);
        ck_assert(cpumask_intersects_first(&a, &b, cpumask_words_used(&b)));
        ck_assert(!cpumask_intersects_first(&high, &low, cpumask_words_used(&low)));
        ck_assert(cpumask_intersects_first(&high, &far, cpumask_words_used(&far)));
        ck_assert(!cpumask_intersects_first(&a, &far, cpumask_words_used(&far)));
        CpuMask sub = cs("5-6");
        ck_assert(cpumask_is_subset(&sub, &a));
        ck_assert_int_eq(cpumask_first(&b), 4);
        ck_assert_int_eq(cpumask_last(&b), 11);
        ck_assert_int_eq(cpumask_next(&b, 7), 8);
        ck_assert_int_eq(cpumask_next(&b, 11), -1);
        ck_assert(!cpumask_has(&a, -1));
        ck_assert(!cpumask_has(&a, 100000));

        CpuMask sparse = cs("63,64,8191"), empty = cs("");
        int n = 0, seen[3];
        CPUMASK_FOREACH(cpu, &sparse)
                seen[n++] = cpu;
        ck_assert_int_eq(n, 3);
        ck_assert_int_eq(seen[0], 63);
        ck_assert_int_eq(seen[1], 64);
        ck_assert_int_eq(seen[2], 8191);
        ck_assert_int_eq(cpumask_first(&empty), -1);
        ck_assert_int_eq(cpumask_last(&empty), -1);
        ck_assert(cpumask_is_empty(&empty));
        cpumask_remove(&sparse, 64);
        ck_assert_cpus(&sparse, "63,8191");
}
END_TEST

int main(void) {
        Suite *s = suite_create("cpuset");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_list_valid);
        tcase_add_test(tc, test_list_malformed);
        tcase_add_test(tc, test_list_gerror);
        tcase_add_test(tc, test_mask);
        tcase_add_test(tc, test_format_mask);
        tcase_add_test(tc, test_operations);
        suite_add_tcase(s, tc);
        return test_run(s, NULL);
}
