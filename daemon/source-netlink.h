/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

/* A libnl-3 route socket subscribed to link events, on the loop. A link that appears
 * or goes up may request queue IRQs and has queues to steer: the interfaces named in
 * RTM_NEWLINK are collected and handed over once per loop iteration. */
typedef struct NetlinkSource NetlinkSource;

int netlink_source_new(sd_event *event, void (*links_up)(GPtrArray *ifnames, void *userdata), void *userdata,
                       NetlinkSource **out);
NetlinkSource *netlink_source_free(NetlinkSource *s);
