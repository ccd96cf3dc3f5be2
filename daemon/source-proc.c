/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <glib.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <string.h>

#include "log.h"
#include "source-proc.h"

/* Bursts of execs (a build, a login) come faster than a default socket buffer drains. */
#define RCVBUF (8 * 1024 * 1024)

struct ProcSource {
        struct nl_sock *sock;
        sd_event_source *io;
        TriggerSink sink;
};

static void dispatch(ProcSource *s, const struct proc_event *ev) {
        Trigger t;

        switch (ev->what) {
        case PROC_EVENT_EXEC:
                t = (Trigger) { .kind = TRIGGER_EXEC, .pid = ev->event_data.exec.process_tgid };
                break;
        /* No PROC_EVENT_COMM: a process's name is its own to choose (prctl), and earns
         * nothing. */
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

/* The connector's messages carry NLMSG_DONE as their type: NL_CB_VALID never sees
 * them, NL_CB_MSG_IN sees every one. */
static int on_message(struct nl_msg *msg, void *arg) {
        struct nlmsghdr *h = nlmsg_hdr(msg);
        struct cn_msg *cn = nlmsg_data(h);

        if (nlmsg_datalen(h) >= (int) (sizeof *cn + sizeof(struct proc_event)) && cn->id.idx == CN_IDX_PROC &&
            cn->id.val == CN_VAL_PROC) {
                /* cn->data sits 20 bytes in: copied out for the event's 8-byte alignment. */
                struct proc_event ev;
                memcpy(&ev, cn->data, sizeof ev);
                dispatch(arg, &ev);
        }
        return NL_SKIP;
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ProcSource *s = userdata;
        int r;
        while ((r = nl_recvmsgs_default(s->sock)) >= 0)
                ;
        if (r != -NLE_AGAIN) {
                /* ENOBUFS: the kernel dropped events. */
                log_warning("process events were lost (%s); looking at every process again", nl_geterror(r));
                trigger_publish(&s->sink, &(Trigger) { .kind = TRIGGER_LOST });
        }
        return 0;
}

static int subscribe(ProcSource *s, enum proc_cn_mcast_op op) {
        struct {
                struct cn_msg msg;
                enum proc_cn_mcast_op op;
        } __attribute__((packed)) req;

        memset(&req, 0, sizeof req);
        req.msg.id.idx = CN_IDX_PROC;
        req.msg.id.val = CN_VAL_PROC;
        req.msg.len = sizeof req.op;
        req.op = op;
        int r = nl_send_simple(s->sock, NLMSG_DONE, 0, &req, sizeof req);
        return r < 0 ? -EIO : 0;
}

int proc_source_new(sd_event *event, const TriggerSink *sink, ProcSource **out) {
        ProcSource *s = g_new0(ProcSource, 1);
        int r;

        s->sink = *sink;
        s->sock = nl_socket_alloc();
        if (!s->sock) {
                proc_source_free(s);
                return -ENOMEM;
        }
        nl_socket_disable_seq_check(s->sock);
        nl_socket_disable_auto_ack(s->sock);
        nl_join_groups(s->sock, CN_IDX_PROC);
        nl_socket_modify_cb(s->sock, NL_CB_MSG_IN, NL_CB_CUSTOM, on_message, s);
        r = nl_connect(s->sock, NETLINK_CONNECTOR);
        if (r < 0) {
                log_warning("cannot open the proc connector: %s", nl_geterror(r));
                proc_source_free(s);
                return -EPERM;
        }
        (void) nl_socket_set_buffer_size(s->sock, RCVBUF, 0);
        /* A connector message is under 100 bytes: a buffer that holds any of them spares
         * libnl the peek it otherwise makes before every receive. */
        nl_socket_disable_msg_peek(s->sock);
        (void) nl_socket_set_msg_buf_size(s->sock, 16384);
        r = nl_socket_set_nonblocking(s->sock);
        if (r >= 0)
                r = subscribe(s, PROC_CN_MCAST_LISTEN);
        if (r >= 0)
                r = sd_event_add_io(event, &s->io, nl_socket_get_fd(s->sock), EPOLLIN, on_io, s);
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
        if (s->sock)
                nl_socket_free(s->sock);
        g_free(s);
        return NULL;
}
