/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pace of the reads that scan the machine (read-pace.c). The turns alone: at most
 * READ_PACE_WAITING calls per user that is not root, counted until answered; root's
 * turn first, then the users round-robin; a turn takes every call of its read, every
 * user's. Then the pace on a real sd-event loop and an in-process bus (a socket pair):
 * one build answers every call of a turn with the same answer, over the limit is
 * LimitsExceeded at once, an error of the read goes to every call, a loop kept busy
 * does not starve the reads. */
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "base/sd-glib.h"
#include "read-pace.h"
#include "testlib.h"

static int read_x(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return 0;
}

static int read_y(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return 0;
}

static bool add(ReadTurns *t, uid_t uid, PacedRead read) {
        return read_turns_add(t, &(ReadCall) { .uid = uid, .read = read });
}

/* The users of a turn's calls, in order, as "1000 1001 0". */
static char *uids_of(const GPtrArray *calls) {
        GString *s = g_string_new(NULL);
        for (unsigned i = 0; i < calls->len; i++)
                g_string_append_printf(s, "%s%u", i ? " " : "", (unsigned) ((ReadCall *) calls->pdata[i])->uid);
        return g_string_free(s, false);
}

static void answer_all(ReadTurns *t, const GPtrArray *calls) {
        for (unsigned i = 0; i < calls->len; i++)
                read_turns_answered(t, ((ReadCall *) calls->pdata[i])->uid);
}

START_TEST(test_limit_per_user_until_answered) {
        g_autoptr(ReadTurns) t = read_turns_new();
        for (int i = 0; i < READ_PACE_WAITING; i++)
                ck_assert(add(t, 1000, read_x));
        ck_assert(!add(t, 1000, read_y)); /* whatever the read, and whichever connection */
        ck_assert(add(t, 1001, read_x));  /* another user has its own */
        for (int i = 0; i < 50; i++)
                ck_assert(add(t, 0, read_y)); /* root is not limited */
        ck_assert_uint_eq(read_turns_waiting(t, 1000), READ_PACE_WAITING);

        /* Taken by a turn, not answered yet: still waiting, still counted. */
        g_autoptr(GPtrArray) roots = read_turns_next(t);
        ck_assert_uint_eq(roots->len, 50);
        g_autoptr(GPtrArray) turn = read_turns_next(t);
        ck_assert_uint_eq(turn->len, READ_PACE_WAITING + 1);
        ck_assert_uint_eq(read_turns_queued(t, 1000), 0);
        ck_assert_uint_eq(read_turns_waiting(t, 1000), READ_PACE_WAITING);
        ck_assert(!add(t, 1000, read_x));
        answer_all(t, turn);
        answer_all(t, roots);
        ck_assert_uint_eq(read_turns_waiting(t, 1000), 0);
        ck_assert(add(t, 1000, read_x));
        ck_assert_uint_eq(read_turns_total(t), 1);
}
END_TEST

START_TEST(test_root_first_then_users_in_turn) {
        g_autoptr(ReadTurns) t = read_turns_new();
        /* 1000 asks x then y; 1001 y; 1002 x; root, last, y. */
        ck_assert(add(t, 1000, read_x));
        ck_assert(add(t, 1000, read_y));
        ck_assert(add(t, 1001, read_y));
        ck_assert(add(t, 1002, read_x));
        ck_assert(add(t, 0, read_y));

        /* Root's turn first: y, for root and for everyone who asked y. */
        g_autoptr(GPtrArray) first = read_turns_next(t);
        ck_assert_ptr_eq(((ReadCall *) first->pdata[0])->read, read_y);
        g_autofree char *u1 = uids_of(first);
        ck_assert_str_eq(u1, "0 1000 1001");
        /* Then 1000's turn, with its oldest: x, shared with 1002. */
        g_autoptr(GPtrArray) second = read_turns_next(t);
        ck_assert_ptr_eq(((ReadCall *) second->pdata[0])->read, read_x);
        g_autofree char *u2 = uids_of(second);
        ck_assert_str_eq(u2, "1000 1002");
        ck_assert_ptr_null(read_turns_next(t));
        ck_assert_uint_eq(read_turns_total(t), 0);
        answer_all(t, first);
        answer_all(t, second);
}
END_TEST

START_TEST(test_users_take_turns) {
        g_autoptr(ReadTurns) t = read_turns_new();
        /* A user with calls of two reads waiting goes to the end after its turn: the
         * others come before its second read. */
        ck_assert(add(t, 1000, read_x));
        ck_assert(add(t, 1000, read_y));
        ck_assert(add(t, 1001, read_x));
        ck_assert(add(t, 1002, read_y));
        ck_assert(add(t, 1003, read_x));

        g_autoptr(GPtrArray) a = read_turns_next(t); /* 1000: x, with 1001's and 1003's */
        g_autofree char *ua = uids_of(a);
        ck_assert_str_eq(ua, "1000 1001 1003");
        ck_assert(add(t, 1001, read_x));             /* 1001 asks again: behind 1002 and 1000 */
        g_autoptr(GPtrArray) b = read_turns_next(t); /* 1002: y, with 1000's */
        g_autofree char *ub = uids_of(b);
        ck_assert_str_eq(ub, "1002 1000");
        g_autoptr(GPtrArray) c = read_turns_next(t);
        g_autofree char *uc = uids_of(c);
        ck_assert_str_eq(uc, "1001");
        ck_assert_ptr_null(read_turns_next(t));

        /* Root arriving while users wait goes next, not at the end. */
        ck_assert(add(t, 1004, read_x));
        ck_assert(add(t, 1005, read_y));
        ck_assert(add(t, 0, read_y));
        g_autoptr(GPtrArray) d = read_turns_next(t);
        g_autofree char *ud = uids_of(d);
        ck_assert_str_eq(ud, "0 1005");
        answer_all(t, a);
        answer_all(t, b);
        answer_all(t, c);
        answer_all(t, d);
}
END_TEST

START_TEST(test_userdata_tells_reads_apart) {
        g_autoptr(ReadTurns) t = read_turns_new();
        int one, two;
        ck_assert(read_turns_add(t, &(ReadCall) { .uid = 1000, .read = read_x, .userdata = &one }));
        ck_assert(read_turns_add(t, &(ReadCall) { .uid = 1001, .read = read_x, .userdata = &two }));
        g_autoptr(GPtrArray) a = read_turns_next(t);
        g_autoptr(GPtrArray) b = read_turns_next(t);
        ck_assert_uint_eq(a->len, 1);
        ck_assert_uint_eq(b->len, 1);
        answer_all(t, a);
        answer_all(t, b);
}
END_TEST

/* --- the pace on a loop, over an in-process bus --- */

typedef struct Rig {
        sd_event *event;
        sd_bus *server, *client;
        sd_bus_slot *vtable;
        ReadPace *pace;
        unsigned builds;         /* times a read built its answer */
        bool fail;               /* the read fails with a named error */
        GPtrArray *answers;      /* "uid:answer" or "uid:error name", in the order received */
        unsigned expected;
} Rig;

static int read_counted(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Rig *r = userdata;
        r->builds++;
        if (r->fail)
                return sd_bus_error_set(error, "org.rtaudio.Isolator1.Error.NotFound", "nothing to read yet");
        g_autofree char *text = g_strdup_printf("build %u", r->builds);
        return sd_bus_message_append(reply, "s", text);
}

static int method_read(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Rig *r = userdata;
        uint32_t uid;
        int ret = sd_bus_message_read(msg, "u", &uid);
        if (ret < 0)
                return ret;
        return read_pace_submit(r->pace, msg, (uid_t) uid, read_counted, r);
}

static const sd_bus_vtable rig_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Read", "u", "s", method_read, 0),
        SD_BUS_VTABLE_END,
};

static void rig_start(Rig *r, bool loop) {
        int fds[2];
        sd_id128_t id;
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        ck_assert_int_ge(sd_event_new(&r->event), 0);
        ck_assert_int_ge(sd_id128_randomize(&id), 0);
        ck_assert_int_ge(sd_bus_new(&r->server), 0);
        ck_assert_int_ge(sd_bus_set_fd(r->server, fds[0], fds[0]), 0);
        ck_assert_int_ge(sd_bus_set_server(r->server, 1, id), 0);
        ck_assert_int_ge(sd_bus_start(r->server), 0);
        ck_assert_int_ge(sd_bus_new(&r->client), 0);
        ck_assert_int_ge(sd_bus_set_fd(r->client, fds[1], fds[1]), 0);
        ck_assert_int_ge(sd_bus_start(r->client), 0);
        ck_assert_int_ge(sd_bus_attach_event(r->server, r->event, SD_EVENT_PRIORITY_NORMAL), 0);
        ck_assert_int_ge(sd_bus_attach_event(r->client, r->event, SD_EVENT_PRIORITY_NORMAL), 0);
        ck_assert_int_ge(sd_bus_add_object_vtable(r->server, &r->vtable, "/test", "org.test.Pace", rig_vtable, r), 0);
        r->pace = read_pace_new(loop ? r->event : NULL);
        r->answers = g_ptr_array_new_with_free_func(g_free);
        /* Both ends in this thread: the loop runs their handshake. Once it is done a call
         * is written to the socket as it is sent. */
        int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        while ((sd_bus_is_ready(r->client) <= 0 || sd_bus_is_ready(r->server) <= 0) && g_get_monotonic_time() < end)
                ck_assert_int_ge(sd_event_run(r->event, 100 * 1000), 0);
        ck_assert_int_gt(sd_bus_is_ready(r->client), 0);
}

static void rig_stop(Rig *r) {
        read_pace_free(r->pace);
        sd_bus_slot_unref(r->vtable);
        sd_bus_flush_close_unref(r->client);
        sd_bus_flush_close_unref(r->server);
        sd_event_unref(r->event);
        g_ptr_array_unref(r->answers);
}

typedef struct Pending {
        Rig *rig;
        uint32_t uid;
} Pending;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Pending *p = userdata;
        const char *text = NULL;
        if (sd_bus_message_is_method_error(m, NULL))
                g_ptr_array_add(p->rig->answers, g_strdup_printf("%u:%s", p->uid, sd_bus_message_get_error(m)->name));
        else {
                ck_assert_int_ge(sd_bus_message_read(m, "s", &text), 0);
                g_ptr_array_add(p->rig->answers, g_strdup_printf("%u:%s", p->uid, text));
        }
        g_free(p);
        return 0;
}

static void call_read(Rig *r, uint32_t uid) {
        Pending *p = g_new(Pending, 1);
        *p = (Pending) { r, uid };
        ck_assert_int_ge(sd_bus_call_method_async(r->client, NULL, NULL, "/test", "org.test.Pace", "Read", on_reply,
                                                  p, "u", uid),
                         0);
        r->expected++;
}

/* Runs the loop until every call has its answer (10 s at most). */
static void run_until_answered(Rig *r) {
        int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        while (r->answers->len < r->expected && g_get_monotonic_time() < end)
                ck_assert_int_ge(sd_event_run(r->event, 100 * 1000), 0);
        ck_assert_uint_eq(r->answers->len, r->expected);
}

static unsigned count_answers(const Rig *r, const char *answer) {
        unsigned n = 0;
        for (unsigned i = 0; i < r->answers->len; i++)
                n += g_str_equal(r->answers->pdata[i], answer);
        return n;
}

START_TEST(test_one_build_answers_a_flood) {
        Rig r = {};
        rig_start(&r, true);
        /* Six calls of one user (two over its limit), three of another, then root's: all
         * written before the loop runs again, so all wait when the first piece runs. */
        for (int i = 0; i < 6; i++)
                call_read(&r, 1000);
        for (int i = 0; i < 3; i++)
                call_read(&r, 1001);
        call_read(&r, 0);
        run_until_answered(&r);

        ck_assert_uint_eq(count_answers(&r, "1000:org.freedesktop.DBus.Error.LimitsExceeded"), 2);
        /* One turn, root's, built once: every waiting call has that one answer. */
        ck_assert_uint_eq(r.builds, 1);
        ck_assert_uint_eq(count_answers(&r, "1000:build 1"), 4);
        ck_assert_uint_eq(count_answers(&r, "1001:build 1"), 3);
        ck_assert_uint_eq(count_answers(&r, "0:build 1"), 1);
        /* Refusals come at once; of the answers, root's first. */
        for (unsigned i = 0; i < 2; i++)
                ck_assert_str_eq(r.answers->pdata[i], "1000:org.freedesktop.DBus.Error.LimitsExceeded");
        ck_assert_str_eq(r.answers->pdata[2], "0:build 1");

        /* Answered, the user may ask again, and the next turn builds anew. */
        call_read(&r, 1000);
        run_until_answered(&r);
        ck_assert_uint_eq(r.builds, 2);
        ck_assert_str_eq(r.answers->pdata[r.answers->len - 1], "1000:build 2");
        rig_stop(&r);
}
END_TEST

START_TEST(test_an_error_goes_to_every_call) {
        Rig r = {};
        rig_start(&r, true);
        r.fail = true;
        for (int i = 0; i < 3; i++)
                call_read(&r, 1000);
        call_read(&r, 1001);
        run_until_answered(&r);
        ck_assert_uint_eq(r.builds, 1);
        ck_assert_uint_eq(count_answers(&r, "1000:org.rtaudio.Isolator1.Error.NotFound"), 3);
        ck_assert_uint_eq(count_answers(&r, "1001:org.rtaudio.Isolator1.Error.NotFound"), 1);
        rig_stop(&r);
}
END_TEST

/* Due again at once, each time: always something at normal priority to do. */
static int on_busy(sd_event_source *s, uint64_t usec, void *userdata) {
        (*(unsigned *) userdata)++;
        ck_assert_int_ge(sd_event_source_set_time_relative(s, 0), 0);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

START_TEST(test_a_busy_loop_does_not_starve_reads) {
        Rig r = {};
        sd_event_source *busy = NULL;
        unsigned spins = 0;
        rig_start(&r, true);
        /* Something at normal priority always pending (a flood of calls, say): the idle
         * piece never gets its turn, and the late one runs it. */
        ck_assert_int_ge(sd_event_add_time_relative(r.event, &busy, CLOCK_MONOTONIC, 0, 0, on_busy, &spins), 0);
        int64_t start = g_get_monotonic_time();
        call_read(&r, 1000);
        run_until_answered(&r);
        int64_t took = g_get_monotonic_time() - start;
        ck_assert_str_eq(r.answers->pdata[0], "1000:build 1");
        ck_assert_int_ge(took, READ_PACE_LATE_USEC);
        ck_assert_int_lt(took, 5 * READ_PACE_LATE_USEC);
        ck_assert_uint_gt(spins, 0);
        sd_event_source_disable_unref(busy);
        rig_stop(&r);
}
END_TEST

START_TEST(test_without_a_loop) {
        Rig r = {};
        rig_start(&r, false);
        for (int i = 0; i < 6; i++)
                call_read(&r, 1000);
        run_until_answered(&r);
        /* Answered at once, each: nothing waits, nothing is refused. */
        ck_assert_uint_eq(r.builds, 6);
        ck_assert_uint_eq(count_answers(&r, "1000:org.freedesktop.DBus.Error.LimitsExceeded"), 0);
        rig_stop(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("read-pace");
        TCase *tc = tcase_create("read-pace");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_limit_per_user_until_answered);
        tcase_add_test(tc, test_root_first_then_users_in_turn);
        tcase_add_test(tc, test_users_take_turns);
        tcase_add_test(tc, test_userdata_tells_reads_apart);
        tcase_add_test(tc, test_one_build_answers_a_flood);
        tcase_add_test(tc, test_an_error_goes_to_every_call);
        tcase_add_test(tc, test_a_busy_loop_does_not_starve_reads);
        tcase_add_test(tc, test_without_a_loop);
        suite_add_tcase(s, tc);
        return test_run(s, NULL);
}
