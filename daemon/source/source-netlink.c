/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "base/coalesce.h"
#include "base/log.h"
#include "source/source-netlink.h"

struct NetlinkSource {
        struct nl_sock *sock;
        sd_event_source *io;
        Coalescer *coalescer;
        GHashTable *pending; /* interface names seen since the last hand-over */
        TriggerSink sink;
};

/* RTM_NEWLINK comes for a link that appears and for every flag change (up among them):
 * either may bring queues and their IRQs. Only the name is read: no libnl-route (its
 * link objects and caches cost a third of a megabyte of memory for one attribute). */
static int on_message(struct nl_msg *msg, void *arg) {
        NetlinkSource *s = arg;
        struct nlmsghdr *h = nlmsg_hdr(msg);
        struct nlattr *tb[IFLA_MAX + 1];

        if (h->nlmsg_type != RTM_NEWLINK || nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0 ||
            !tb[IFLA_IFNAME] || nla_len(tb[IFLA_IFNAME]) < 2 || nla_len(tb[IFLA_IFNAME]) > IFNAMSIZ)
                return NL_OK;
        const struct ifinfomsg *ifi = nlmsg_data(h);
        g_autofree char *name = g_strndup(nla_data(tb[IFLA_IFNAME]), (gsize) nla_len(tb[IFLA_IFNAME]));
        log_debug("link %s %s", name, ifi->ifi_flags & IFF_UP ? "up" : "appeared or changed");
        g_hash_table_add(s->pending, g_steal_pointer(&name));
        coalescer_poke(s->coalescer);
        return NL_OK;
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        NetlinkSource *s = userdata;
        int r;
        /* Non-blocking: read until the socket is empty. */
        while ((r = nl_recvmsgs_default(s->sock)) >= 0)
                ;
        if (r != -NLE_AGAIN)
                log_debug("netlink: %s", nl_geterror(r));
        return 0;
}

static void flush(void *userdata) {
        NetlinkSource *s = userdata;
        unsigned n = g_hash_table_size(s->pending);
        GHashTableIter it;
        gpointer name = NULL;

        g_hash_table_iter_init(&it, s->pending);
        g_hash_table_iter_next(&it, &name, NULL);
        /* One link is named; several are all of them, in one rescan. */
        trigger_publish(&s->sink, &(Trigger) { .kind = TRIGGER_LINK, .name = n == 1 ? name : NULL, .count = n });
        g_hash_table_remove_all(s->pending);
}

int netlink_source_new(sd_event *event, const TriggerSink *sink, NetlinkSource **out) {
        NetlinkSource *s = g_new0(NetlinkSource, 1);
        int r;

        s->sink = *sink;
        s->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        s->sock = nl_socket_alloc();
        if (!s->sock) {
                r = -ENOMEM;
                goto fail;
        }
        nl_socket_disable_seq_check(s->sock);
        nl_socket_modify_cb(s->sock, NL_CB_VALID, NL_CB_CUSTOM, on_message, s);
        r = nl_connect(s->sock, NETLINK_ROUTE);
        if (r < 0) {
                r = log_error_errno(EIO, "cannot open a route netlink socket: %s", nl_geterror(r));
                goto fail;
        }
        r = nl_socket_add_membership(s->sock, RTNLGRP_LINK);
        if (r < 0) {
                r = log_error_errno(EIO, "cannot subscribe to link events: %s", nl_geterror(r));
                goto fail;
        }
        nl_socket_set_nonblocking(s->sock);
        r = sd_event_add_io(event, &s->io, nl_socket_get_fd(s->sock), EPOLLIN, on_io, s);
        if (r < 0)
                goto fail;
        r = coalescer_new(event, flush, s, &s->coalescer);
        if (r < 0)
                goto fail;
        *out = s;
        return 0;
fail:
        netlink_source_free(s);
        return r;
}

NetlinkSource *netlink_source_free(NetlinkSource *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        coalescer_free(s->coalescer);
        if (s->sock)
                nl_socket_free(s->sock);
        g_hash_table_unref(s->pending);
        g_free(s);
        return NULL;
}
