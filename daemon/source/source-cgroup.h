/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

#include "kernel/root.h"
#include "source/trigger.h"

/* inotify on the folders the enforcers ask for (a cpuset file written in them, a folder
 * removed from their parent), each event published as a TRIGGER_CGROUP as it comes, named
 * with the path that changed (relative to the root); unnamed when events were lost. */
typedef struct CgroupWatch CgroupWatch;

/* relevant says whether an entry name in a watched folder concerns anyone. */
int cgroup_watch_new(sd_event *event, const Root *root, bool (*relevant)(const char *name, void *userdata),
                     const TriggerSink *sink, CgroupWatch **out);
/* Watches exactly these folders (relative to the root) from now on. */
void cgroup_watch_set(CgroupWatch *w, const GPtrArray *dirs);
CgroupWatch *cgroup_watch_free(CgroupWatch *w);
