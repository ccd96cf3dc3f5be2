/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The classic BPF program that the proc connector's socket carries (source-proc.c), run
 * by the kernel itself: attached to one end of a datagram socket pair (the kernel runs
 * a socket filter on unix sockets too, and drops silently what it refuses), with
 * connector messages laid out as the kernel sends them (netlink header, cn_msg,
 * proc_event) written to the other end. What dispatch() uses passes: exec, every fork,
 * a rename, a process's exit, the listen's ack, and anything that is not a proc event
 * (another connector, a short message); a thread's exit and the id, ptrace and coredump
 * events do not. */
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "source/source-proc.h"
#include "testlib.h"

typedef struct Pair {
        int tx, rx;
} Pair;

static Pair pair_new(void) {
        int fds[2];
        struct sock_fprog prog;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds), 0);
        proc_source_filter(&prog);
        ck_assert_msg(setsockopt(fds[1], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0,
                      "the kernel refused the filter: %s", g_strerror(errno));
        return (Pair) { .tx = fds[0], .rx = fds[1] };
}

static void pair_close(Pair *p) {
        close(p->tx);
        close(p->rx);
}

/* Sends len bytes and says whether they arrived, whole. */
static bool passes(const Pair *p, const void *buf, size_t len) {
        char got[512];

        ck_assert_int_eq(send(p->tx, buf, len, 0), (ssize_t) len);
        ssize_t n = recv(p->rx, got, sizeof got, MSG_DONTWAIT);
        if (n < 0) {
                ck_assert_int_eq(errno, EAGAIN);
                return false;
        }
        ck_assert_int_eq(n, (ssize_t) len);
        ck_assert(memcmp(got, buf, len) == 0);
        return true;
}

/* A connector message as the kernel lays it out: the proc_event sits 36 bytes in. */
typedef struct Message {
        size_t len;
        unsigned char bytes[NLMSG_HDRLEN + sizeof(struct cn_msg) + sizeof(struct proc_event)];
} Message;

static Message message(uint32_t idx, uint32_t val, const struct proc_event *ev) {
        Message m = { .len = sizeof m.bytes };
        struct nlmsghdr h = { .nlmsg_len = sizeof m.bytes, .nlmsg_type = NLMSG_DONE };
        struct cn_msg cn = { .id = { .idx = idx, .val = val }, .len = sizeof *ev };

        memcpy(m.bytes, &h, sizeof h);
        memcpy(m.bytes + NLMSG_HDRLEN, &cn, sizeof cn);
        memcpy(m.bytes + NLMSG_HDRLEN + sizeof cn, ev, sizeof *ev);
        return m;
}

static bool event_passes(const Pair *p, const struct proc_event *ev) {
        Message m = message(CN_IDX_PROC, CN_VAL_PROC, ev);
        return passes(p, m.bytes, m.len);
}

START_TEST(test_process_events_pass) {
        Pair p = pair_new();
        struct proc_event ev = { .what = PROC_EVENT_EXEC, .event_data.exec = { 4242, 4242 } };
        ck_assert(event_passes(&p, &ev));

        ev = (struct proc_event) { .what = PROC_EVENT_FORK, .event_data.fork = { 1, 1, 4243, 4243 } };
        ck_assert_msg(event_passes(&p, &ev), "a new process");
        ev = (struct proc_event) { .what = PROC_EVENT_FORK, .event_data.fork = { 4242, 4242, 4244, 4242 } };
        ck_assert_msg(event_passes(&p, &ev), "a new thread: a placed process's is placed");

        ev = (struct proc_event) { .what = PROC_EVENT_COMM, .event_data.comm = { 4244, 4242, "worker" } };
        ck_assert_msg(event_passes(&p, &ev), "a rename: it may select another thread rule");

        ev = (struct proc_event) { .what = PROC_EVENT_EXIT, .event_data.exit = { 4242, 4242, 0, 17, 1, 1 } };
        ck_assert_msg(event_passes(&p, &ev), "a process's exit");
        /* A thread whose id differs from its process's in one high byte only: the
         * whole words are compared. */
        ev = (struct proc_event) { .what = PROC_EVENT_EXIT, .event_data.exit = { 0x10000 + 4242, 4242, 0, -1, 1, 1 } };
        ck_assert_msg(!event_passes(&p, &ev), "pid and tgid compared as words");

        ev = (struct proc_event) { .what = PROC_EVENT_NONE, .event_data.ack = { 0 } };
        ck_assert_msg(event_passes(&p, &ev), "the listen's ack");
        pair_close(&p);
}
END_TEST

START_TEST(test_the_rest_is_dropped) {
        Pair p = pair_new();
        struct proc_event ev = { .what = PROC_EVENT_EXIT, .event_data.exit = { 4244, 4242, 0, -1, 4242, 4242 } };
        ck_assert_msg(!event_passes(&p, &ev), "a thread's exit");

        const uint32_t unused[] = { PROC_EVENT_UID, PROC_EVENT_GID, PROC_EVENT_SID, PROC_EVENT_PTRACE,
                                              PROC_EVENT_COREDUMP, 0x12345678 };
        for (size_t i = 0; i < G_N_ELEMENTS(unused); i++) {
                /* Fields that would make an exit pass: the type alone decides. */
                ev = (struct proc_event) { .what = unused[i], .event_data.exit = { 4242, 4242 } };
                ck_assert_msg(!event_passes(&p, &ev), "event 0x%x passed", (unsigned) unused[i]);
        }
        /* Still open for what comes after. */
        ev = (struct proc_event) { .what = PROC_EVENT_EXEC, .event_data.exec = { 4242, 4242 } };
        ck_assert(event_passes(&p, &ev));
        pair_close(&p);
}
END_TEST

START_TEST(test_what_is_no_proc_event_passes) {
        Pair p = pair_new();
        struct proc_event ev = { .what = PROC_EVENT_UID, .event_data.id = { 4242, 4242 } };

        Message m = message(CN_IDX_PROC + 1, CN_VAL_PROC, &ev);
        ck_assert_msg(passes(&p, m.bytes, m.len), "another connector's index");
        m = message(CN_IDX_PROC, CN_VAL_PROC + 1, &ev);
        ck_assert_msg(passes(&p, m.bytes, m.len), "another connector's value");
        /* Shorter than an exit's fields: the filter loads nothing past the end (a load
         * there would drop it), and dispatch() ignores it. */
        m = message(CN_IDX_PROC, CN_VAL_PROC, &ev);
        ck_assert_msg(passes(&p, m.bytes, NLMSG_HDRLEN + sizeof(struct cn_msg) + 4), "a short message");
        ck_assert_msg(passes(&p, m.bytes, 8), "a bare header");
        pair_close(&p);
}
END_TEST

int main(void) {
        Suite *s = suite_create("proc-filter");
        TCase *tc = tcase_create("proc-filter");
        tcase_add_test(tc, test_process_events_pass);
        tcase_add_test(tc, test_the_rest_is_dropped);
        tcase_add_test(tc, test_what_is_no_proc_event_passes);
        suite_add_tcase(s, tc);
        return test_run(s, NULL);
}
