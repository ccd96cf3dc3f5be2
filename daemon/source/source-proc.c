/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "source/source-proc.h"

/* Bursts of execs (a build, a login) come faster than a default socket buffer drains;
 * root sets it past net.core.rmem_max (SO_RCVBUFFORCE). */
#define RCVBUF (8 * 1024 * 1024)
/* Any user can overflow it anyway (threads cost nothing): a rescan of every process at
 * most this often, however often the kernel drops events, and a line a minute. */
#define LOST_RESCAN_GAP_USEC (100 * 1000)
#define LOST_SAY_GAP_USEC (60 * 1000 * 1000)

struct ProcSource {
        int fd;
        sd_event_source *io;
        sd_event_source *rescan;  /* a rescan due for lost events, not yet run */
        sd_event *event;
        TriggerSink sink;
        uint64_t rescanned_at;    /* CLOCK_MONOTONIC usec of the last rescan */
        uint64_t said_at;         /* of the last line about lost events (0: never) */
        uint64_t lost_unsaid;     /* overflows since that line */
        uint64_t rescans_unsaid;  /* rescans since that line */
};

static void dispatch(ProcSource *s, const struct proc_event *ev) {
        Trigger t;

        switch (ev->what) {
        case PROC_EVENT_EXEC:
                t = (Trigger) { .kind = TRIGGER_EXEC, .pid = ev->event_data.exec.process_tgid };
                break;
        /* A name is the program's to choose (prctl) and earns nothing: the workload
         * enforcer looks at a rename only in a process it placed by the trust rule,
         * where it selects among the [Thread] rules root wrote for its group. */
        case PROC_EVENT_COMM:
                t = (Trigger) { .kind = TRIGGER_COMM, .parent = ev->event_data.comm.process_tgid,
                                .pid = ev->event_data.comm.process_pid };
                break;
        case PROC_EVENT_FORK:
                if (ev->event_data.fork.child_pid != ev->event_data.fork.child_tgid)
                        t = (Trigger) { .kind = TRIGGER_THREAD, .parent = ev->event_data.fork.child_tgid,
                                        .pid = ev->event_data.fork.child_pid };
                else
                        t = (Trigger) { .kind = TRIGGER_FORK, .parent = ev->event_data.fork.parent_tgid,
                                        .pid = ev->event_data.fork.child_tgid };
                break;
        case PROC_EVENT_EXIT:
                if (ev->event_data.exit.process_pid != ev->event_data.exit.process_tgid)
                        return;
                t = (Trigger) { .kind = TRIGGER_EXIT, .pid = ev->event_data.exit.process_tgid };
                break;
        default:
                return;
        }
        trigger_publish(&s->sink, &t);
}

/* Where a connector message's fields sit in the datagram the filter sees: the netlink
 * header, the cn_msg, then the proc_event (8-byte aligned inside itself, not in the
 * datagram). */
#define AT_EVENT (NLMSG_HDRLEN + sizeof(struct cn_msg))
#define AT_CN_IDX (NLMSG_HDRLEN + offsetof(struct cn_msg, id.idx))
#define AT_CN_VAL (NLMSG_HDRLEN + offsetof(struct cn_msg, id.val))
#define AT_WHAT (AT_EVENT + offsetof(struct proc_event, what))
#define AT_EXIT_PID (AT_EVENT + offsetof(struct proc_event, event_data.exit.process_pid))
#define AT_EXIT_TGID (AT_EVENT + offsetof(struct proc_event, event_data.exit.process_tgid))
/* Classic BPF loads words in network order: a host word is compared as its bytes
 * swapped on a little-endian machine (htonl, which is no constant), and two host words
 * compare equal as loaded. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NET32(x) __builtin_bswap32(x)
#else
#define NET32(x) (x)
#endif
#define FILTER_KEEP BPF_STMT(BPF_RET | BPF_K, 0xffffffffu)
#define FILTER_DROP BPF_STMT(BPF_RET | BPF_K, 0)

/* The kernel hands every fork, exec, exit and id change of the machine to every
 * listener, and each one woke the loop. dispatch() uses the process events, every fork
 * and rename, and a process's exit, not a thread's: the rest (thread exits, uid, gid,
 * sid, ptrace, coredump) is dropped here, in the kernel, before it is queued. Lost
 * events are still told: the kernel counts an overrun only for what the filter passed.
 * Anything that is not a proc event of a known type passes (the listen's ack is
 * PROC_EVENT_NONE). The kernel's own event filter (proc_input) needs 6.6. */
static const struct sock_filter proc_filter[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, AT_EXIT_TGID + 4, 0, 10),   /* short: 12 */
        /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, AT_CN_IDX),
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NET32(CN_IDX_PROC), 0, 8),
        /* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, AT_CN_VAL),
        /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NET32(CN_VAL_PROC), 0, 6),
        /* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, AT_WHAT),
        /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NET32(PROC_EVENT_EXEC), 4, 0),
        /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NET32(PROC_EVENT_FORK), 3, 0),
        /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NET32(PROC_EVENT_COMM), 2, 0),
        /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NET32(PROC_EVENT_NONE), 1, 0),
        /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NET32(PROC_EVENT_EXIT), 1, 6),
        /* 12 */ FILTER_KEEP,
        /* 13 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, AT_EXIT_TGID),
        /* 14 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
        /* 15 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, AT_EXIT_PID),
        /* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, 1),                     /* a thread's: 18 */
        /* 17 */ FILTER_KEEP,
        /* 18 */ FILTER_DROP,
};

void proc_source_filter(struct sock_fprog *out) {
        *out = (struct sock_fprog) { .len = G_N_ELEMENTS(proc_filter), .filter = (struct sock_filter *) proc_filter };
}

/* One connector message (its type is NLMSG_DONE): a proc event, or something else
 * that is skipped. */
static void on_message(ProcSource *s, const struct nlmsghdr *h) {
        const struct cn_msg *cn = NLMSG_DATA(h);

        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof *cn + sizeof(struct proc_event)) && cn->id.idx == CN_IDX_PROC &&
            cn->id.val == CN_VAL_PROC) {
                /* cn->data sits 20 bytes in: copied out for the event's 8-byte alignment. */
                struct proc_event ev;
                memcpy(&ev, cn->data, sizeof ev);
                dispatch(s, &ev);
        }
}

static int on_rescan(sd_event_source *source, uint64_t usec, void *userdata) {
        ProcSource *s = userdata;
        s->rescan = sd_event_source_disable_unref(s->rescan);
        s->rescanned_at = usec;
        s->rescans_unsaid++;
        trigger_publish(&s->sink, &(Trigger) { .kind = TRIGGER_LOST });
        return 0;
}

/* The kernel dropped events (ENOBUFS): every process is looked at again, soon but not
 * for each overflow; said once, then counted once a minute. */
static void events_lost(ProcSource *s, const char *why) {
        uint64_t now = 0;
        (void) sd_event_now(s->event, CLOCK_MONOTONIC, &now);
        s->lost_unsaid++;
        if (s->said_at == 0 || now - s->said_at >= LOST_SAY_GAP_USEC) {
                if (s->said_at == 0)
                        log_warning("process events were lost (%s); looking at every process again", why);
                else
                        log_warning("process events were lost %" PRIu64 " time(s) in the last %" PRIu64
                                    " s; every process looked at again %" PRIu64 " time(s)",
                                    s->lost_unsaid, (now - s->said_at) / 1000000, s->rescans_unsaid);
                s->said_at = now;
                s->lost_unsaid = 0;
                s->rescans_unsaid = 0;
        }
        if (s->rescan)
                return; /* one is due */
        uint64_t at = s->rescanned_at + LOST_RESCAN_GAP_USEC;
        if (sd_event_add_time(s->event, &s->rescan, CLOCK_MONOTONIC, MAX(at, now), 0, on_rescan, s) < 0)
                on_rescan(NULL, now, s);
        else
                (void) sd_event_source_set_priority(s->rescan, SD_EVENT_PRIORITY_IMPORTANT);
}

/* Each event is a datagram of under 100 bytes, received straight into the stack: the
 * exec that wakes the loop is on its way to placement after one system call, with no
 * allocation (libnl took a 16 KiB buffer and a message object per event). Only the
 * kernel's (port 0) count: another sender is not the connector. */
static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ProcSource *s = userdata;
        union {
                struct nlmsghdr h;
                char bytes[4096];
        } buf;

        for (;;) {
                struct sockaddr_nl from = {};
                socklen_t from_len = sizeof from;
                ssize_t n = recvfrom(s->fd, &buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &from, &from_len);
                if (n < 0) {
                        int e = errno;
                        if (e == EINTR)
                                continue;
                        if (e == EAGAIN)
                                break;
                        events_lost(s, strerror(e));
                        if (e == ENOBUFS)
                                continue; /* the overflow is told once; what is queued now is good */
                        break;
                }
                if (from.nl_pid != 0)
                        continue;
                int left = (int) n; /* signed, as NLMSG_OK and NLMSG_NEXT count it down (n <= 4096) */
                for (const struct nlmsghdr *h = &buf.h; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left))
                        on_message(s, h);
        }
        return 0;
}

static int subscribe(ProcSource *s, enum proc_cn_mcast_op op) {
        struct {
                struct nlmsghdr h;
                struct cn_msg msg;
                enum proc_cn_mcast_op op;
        } __attribute__((packed)) req;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

        memset(&req, 0, sizeof req);
        req.h.nlmsg_len = sizeof req;
        req.h.nlmsg_type = NLMSG_DONE;
        req.h.nlmsg_pid = 0;
        req.msg.id.idx = CN_IDX_PROC;
        req.msg.id.val = CN_VAL_PROC;
        req.msg.len = sizeof req.op;
        req.op = op;
        if (sendto(s->fd, &req, sizeof req, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
                return -errno;
        return 0;
}

int proc_source_new(sd_event *event, const TriggerSink *sink, ProcSource **out) {
        ProcSource *s = g_new0(ProcSource, 1);
        struct sockaddr_nl self = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
        int r;

        s->fd = -1;
        s->sink = *sink;
        s->event = event;
        s->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
        if (s->fd < 0 || bind(s->fd, (struct sockaddr *) &self, sizeof self) < 0) {
                log_warning_errno(errno, "cannot open the proc connector: %m");
                proc_source_free(s);
                return -EPERM;
        }
        struct sock_fprog filter;
        proc_source_filter(&filter);
        if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &filter, sizeof filter) < 0)
                log_warning_errno(errno, "cannot filter the process events, every one wakes the loop: %m");
        int size = RCVBUF;
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
                (void) setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size); /* up to rmem_max */
        r = subscribe(s, PROC_CN_MCAST_LISTEN);
        if (r >= 0)
                r = sd_event_add_io(event, &s->io, s->fd, EPOLLIN, on_io, s);
        if (r < 0) {
                proc_source_free(s);
                return r;
        }
        /* Ahead of the bus and timers: placement is the latency that matters. */
        (void) sd_event_source_set_priority(s->io, SD_EVENT_PRIORITY_IMPORTANT);
        *out = s;
        return 0;
}

ProcSource *proc_source_free(ProcSource *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->rescan);
        if (s->fd >= 0)
                close(s->fd);
        g_free(s);
        return NULL;
}
