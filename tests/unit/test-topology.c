/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "base/error.h"
#include "testlib.h"
#include "model/topology.h"

static const CpuMask *l3_of(const Topology *t, unsigned cpu) {
        return &topology_group(t->l3s, t->cpus[cpu].l3)->cpus;
}

START_TEST(test_ryzen) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));

        ck_assert_uint_eq(t->nr_cpus, 16);
        ck_assert_cpus(&t->online, "0-15");
        ck_assert_uint_eq(t->cores->len, 8);
        ck_assert_uint_eq(t->l3s->len, 1);
        ck_assert_uint_eq(t->nodes->len, 1);
        ck_assert_uint_eq(t->packages->len, 1);
        /* The seed's numbering: siblings n and n+8. */
        ck_assert_cpus(topology_core_of(t, 3), "3,11");
        ck_assert_cpus(topology_core_of(t, 8), "0,8");
        ck_assert_cpus(l3_of(t, 5), "0-15");
        ck_assert_int_eq(t->cpus[3].core, t->cpus[11].core);
        ck_assert_int_ne(t->cpus[3].core, t->cpus[4].core);
}
END_TEST

START_TEST(test_mini) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("mini-2cpu"));

        ck_assert_uint_eq(t->nr_cpus, 2);
        ck_assert_cpus(&t->online, "0-1");
        ck_assert_uint_eq(t->cores->len, 2);
        ck_assert_cpus(topology_core_of(t, 1), "1");
        ck_assert_uint_eq(t->l3s->len, 1);
        ck_assert_cpus(l3_of(t, 0), "0-1");
}
END_TEST

START_TEST(test_server) {
        g_autoptr(Topology) t = fixture_topology(fixture_root("server-256"));

        ck_assert_uint_eq(t->nr_cpus, 256);
        ck_assert_uint_eq(cpumask_count(&t->online), 256);
        ck_assert_uint_eq(t->cores->len, 128);
        ck_assert_uint_eq(t->l3s->len, 16);
        ck_assert_uint_eq(t->nodes->len, 2);
        ck_assert_uint_eq(t->packages->len, 2);
        ck_assert_cpus(topology_core_of(t, 130), "2,130");
        ck_assert_cpus(l3_of(t, 0), "0-7,128-135");
        ck_assert_cpus(l3_of(t, 200), "72-79,200-207");
        ck_assert_cpus(&topology_group(t->nodes, t->cpus[70].node)->cpus, "64-127,192-255");
        ck_assert_int_eq(topology_group(t->nodes, t->cpus[70].node)->id, 1);
        ck_assert_int_eq(topology_group(t->packages, t->cpus[192].package)->id, 1);
        ck_assert_int_eq(topology_group(t->packages, t->cpus[128].package)->id, 0);
}
END_TEST

START_TEST(test_offline_cpu) {
        g_autofree char *dir = fixture_new_root("ryzen-7700x");
        g_autoptr(Root) root = root_new(dir);
        g_autoptr(Topology) t = NULL;

        /* An offline CPU keeps its place among the possible CPUs and loses its topology. */
        fixture_write(dir, "sys/devices/system/cpu/online", "0-13\n");
        ck_assert_int_eq(topology_load(root, &t, NULL), 0);
        ck_assert_cpus(&t->online, "0-13");
        ck_assert_cpus(&t->possible, "0-15");
        ck_assert(!t->cpus[15].online);
        ck_assert(t->cpus[15].present);
        ck_assert_int_eq(t->cpus[15].core, -1);
        /* CPU 7's sibling 15 is offline, but the kernel still lists it as a sibling. */
        ck_assert_cpus(topology_core_of(t, 7), "7,15");
        fixture_remove(dir);
}
END_TEST

START_TEST(test_missing_root) {
        g_autoptr(Root) root = root_new("/nonexistent/isolatord-test");
        g_autoptr(GError) e = NULL;
        Topology *t = NULL;

        ck_assert_int_lt(topology_load(root, &t, &e), 0);
        ck_assert_ptr_null(t);
        ck_assert(g_error_matches(e, ISO_ERROR, ISO_ERROR_IO));
        ck_assert_msg(strstr(e->message, "/nonexistent/isolatord-test/sys/devices/system/cpu/possible"), "%s", e->message);
}
END_TEST

START_TEST(test_pure_build) {
        g_autoptr(Topology) t = topology_new(8);
        CpuMask l3a = cs("0-1,4-5"), l3b = cs("2-3,6-7");

        /* CPUs arrive in any order; siblings and L3s group by content. */
        for (unsigned cpu = 8; cpu-- > 0;) {
                CpuMask sib;
                cpumask_zero(&sib);
                cpumask_add(&sib, cpu % 4);
                cpumask_add(&sib, cpu % 4 + 4);
                topology_add_cpu(t, cpu, &sib, cpu % 4 < 2 ? &l3a : &l3b, 0);
        }
        ck_assert_uint_eq(t->cores->len, 4);
        ck_assert_uint_eq(t->l3s->len, 2);
        ck_assert_cpus(topology_core_of(t, 6), "2,6");
        ck_assert_int_eq(t->cpus[0].l3, t->cpus[5].l3);
        ck_assert_int_ne(t->cpus[0].l3, t->cpus[2].l3);

        /* No sibling information: one thread per core. */
        g_autoptr(Topology) u = topology_new(2);
        topology_add_cpu(u, 0, NULL, NULL, -1);
        topology_add_cpu(u, 1, NULL, NULL, -1);
        ck_assert_uint_eq(u->cores->len, 2);
        ck_assert_int_eq(u->cpus[1].l3, -1);
        ck_assert_int_eq(u->cpus[1].package, -1);
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", "server-256", NULL };
        Suite *s = suite_create("topology");
        TCase *tc = tcase_create("load");

        tcase_add_test(tc, test_ryzen);
        tcase_add_test(tc, test_mini);
        tcase_add_test(tc, test_server);
        tcase_add_test(tc, test_offline_cpu);
        tcase_add_test(tc, test_missing_root);
        tcase_add_test(tc, test_pure_build);
        suite_add_tcase(s, tc);
        return test_run(s, machines);
}
