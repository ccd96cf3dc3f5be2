/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

/* inotify on the folders of the managed cgroups (a cpuset file written in them, a
 * folder removed from their parent), coalesced: changed runs once per loop iteration. */
typedef struct CgroupWatch CgroupWatch;

int cgroup_watch_new(sd_event *event, void (*changed)(void *userdata), void *userdata, CgroupWatch **out);
/* Watches exactly these absolute folders from now on. */
void cgroup_watch_set(CgroupWatch *w, const GPtrArray *dirs);
CgroupWatch *cgroup_watch_free(CgroupWatch *w);
