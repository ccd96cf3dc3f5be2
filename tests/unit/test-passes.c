/* SPDX-License-Identifier: GPL-2.0-or-later */
/* When passes run (passes.c), on a manager over a fake machine and a real sd-event loop,
 * without any bus: users' Verify calls share one pass and get at most one a second,
 * root's get one at once that repairs, the periodic pass runs at its interval and is
 * skipped right after a root's. */
#include <systemd/sd-event.h>

#include "manager.h"
#include "passes.h"
#include "testlib.h"

typedef struct Fixture {
        char *dir, *root;
        Manager *m;
        sd_event *event;
        Passes *passes;
        unsigned answered, afters;
        GArray *answered_at;   /* verify_count seen by each answer */
} Fixture;

static void fixture_start(Fixture *f, unsigned interval_sec) {
        g_autoptr(GError) e = NULL;
        g_autofree char *conf = NULL;
        f->dir = fixture_tmpdir();
        f->root = fixture_new_root("mini-2cpu");
        g_autofree char *text = g_strdup_printf("[Partition]\nHousekeeping=0\n[Group audio]\nCPUs=1\n[Sampler]\n"
                                                "Enabled=false\n[Daemon]\nCgroupBackend=cgroupfs\nVerifyIntervalSec=%u\n",
                                                interval_sec);
        fixture_write(f->dir, "isolatord.conf", text);
        conf = g_build_filename(f->dir, "isolatord.conf", NULL);
        g_autofree char *run = g_build_filename(f->dir, "run", NULL);
        ManagerOptions o = { .root = f->root, .config_path = conf, .config_must_exist = true, .runtime_dir = run };
        ck_assert_msg(manager_new(&o, &f->m, &e) && manager_start(f->m, &e), "%s", e ? e->message : "");
        ck_assert_int_ge(sd_event_new(&f->event), 0);
        f->passes = passes_new(f->m, f->event);
        ck_assert_ptr_nonnull(f->passes);
        f->answered_at = g_array_new(false, false, sizeof(uint64_t));
}

static void fixture_stop(Fixture *f) {
        passes_free(f->passes);
        sd_event_unref(f->event);
        manager_free(f->m);
        fixture_remove(f->dir);
        fixture_remove(f->root);
        g_free(f->dir);
        g_free(f->root);
        g_array_unref(f->answered_at);
}

static uint64_t passes_run(Fixture *f) {
        return manager_counter(manager_status(f->m), "verify_count");
}

static void on_answer(Manager *m, void *userdata) {
        Fixture *f = userdata;
        uint64_t n = manager_counter(manager_status(m), "verify_count");
        f->answered++;
        g_array_append_val(f->answered_at, n);
}

static void on_after(void *userdata) {
        ((Fixture *) userdata)->afters++;
}

/* Runs the loop for ms milliseconds. */
static void run_for(Fixture *f, unsigned ms) {
        int64_t end = g_get_monotonic_time() + (int64_t) ms * 1000;
        for (int64_t left; (left = end - g_get_monotonic_time()) > 0;)
                ck_assert_int_ge(sd_event_run(f->event, (uint64_t) left), 0);
}

START_TEST(test_users_share_one_pass_a_second) {
        Fixture f = {};
        fixture_start(&f, 3600);
        passes_set_after(f.passes, on_after, &f);
        uint64_t before = passes_run(&f);
        /* The apply at start was a pass less than a second ago: ten users wait for the
         * next, a second after it, and share it. */
        for (int i = 0; i < 10; i++)
                passes_request(f.passes, false, on_answer, &f, NULL);
        run_for(&f, 300);
        ck_assert_uint_eq(f.answered, 0);
        run_for(&f, 1200);
        ck_assert_uint_eq(f.answered, 10);
        ck_assert_uint_eq(passes_run(&f), before + 1);
        ck_assert_uint_eq(f.afters, 1);
        ck_assert(!manager_status(f.m)->last_pass_repaired); /* users observe */
        /* Ten more at once, within the second: one more pass, a second after that one. */
        for (int i = 0; i < 10; i++)
                passes_request(f.passes, false, on_answer, &f, NULL);
        run_for(&f, 1200);
        ck_assert_uint_eq(f.answered, 20);
        ck_assert_uint_eq(passes_run(&f), before + 2);
        fixture_stop(&f);
}
END_TEST

START_TEST(test_root_repairs_at_once) {
        Fixture f = {};
        fixture_start(&f, 3600);
        uint64_t before = passes_run(&f);
        passes_request(f.passes, false, on_answer, &f, NULL);
        passes_request(f.passes, true, on_answer, &f, NULL);
        /* Not a second later: root's request runs a pass at the next loop iteration, and
         * the user's waiting request shares it. */
        run_for(&f, 50);
        ck_assert_uint_eq(f.answered, 2);
        ck_assert_uint_eq(passes_run(&f), before + 1);
        ck_assert(manager_status(f.m)->last_pass_repaired);
        fixture_stop(&f);
}
END_TEST

START_TEST(test_periodic_pass) {
        Fixture f = {};
        fixture_start(&f, 1);
        passes_set_after(f.passes, on_after, &f);
        uint64_t before = passes_run(&f);
        ck_assert_int_ge(passes_arm(f.passes), 0);
        run_for(&f, 2600);
        ck_assert_uint_ge(passes_run(&f), before + 2);
        ck_assert_uint_eq(f.afters, passes_run(&f) - before);
        ck_assert(manager_status(f.m)->last_pass_repaired); /* the backstop repairs */
        /* Right after a root's pass the periodic one is skipped: nothing new to find. */
        run_for(&f, 700);
        uint64_t now = passes_run(&f);
        passes_request(f.passes, true, on_answer, &f, NULL);
        run_for(&f, 450); /* the timer fires within this, a root pass less than a second before */
        ck_assert_uint_eq(passes_run(&f), now + 1);
        fixture_stop(&f);
}
END_TEST

START_TEST(test_without_a_loop) {
        Fixture f = {};
        fixture_start(&f, 3600);
        g_autoptr(Passes) p = passes_new(f.m, NULL);
        uint64_t before = passes_run(&f);
        passes_request(p, false, on_answer, &f, NULL);
        ck_assert_uint_eq(f.answered, 1); /* at once */
        ck_assert_uint_eq(passes_run(&f), before + 1);
        fixture_stop(&f);
}
END_TEST

int main(void) {
        Suite *s = suite_create("passes");
        TCase *tc = tcase_create("passes");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_users_share_one_pass_a_second);
        tcase_add_test(tc, test_root_repairs_at_once);
        tcase_add_test(tc, test_periodic_pass);
        tcase_add_test(tc, test_without_a_loop);
        suite_add_tcase(s, tc);
        return test_run(s, (const char *const[]) { "mini-2cpu", NULL });
}
