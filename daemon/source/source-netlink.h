/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

#include "source/trigger.h"

/* A libnl-3 route socket subscribed to link events, on the loop. A link that appears
 * or goes up may request queue IRQs and has queues to steer: the interfaces named in
 * RTM_NEWLINK are collected and published as one TRIGGER_LINK per loop iteration (named
 * when it is one interface). */
typedef struct NetlinkSource NetlinkSource;

int netlink_source_new(sd_event *event, const TriggerSink *sink, NetlinkSource **out);
NetlinkSource *netlink_source_free(NetlinkSource *s);
