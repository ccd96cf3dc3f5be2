/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

/* A unit of the system manager started for isolatord, and its end heard: how the daemon
 * has its helpers run (isolatord-bootline@write.service) with the permissions its own
 * sandbox leaves out, as systemd's own daemons have theirs started. StartUnit goes over
 * the manager's private socket (root only, as systemctl does as root and as
 * kernel/cgroup.c talks to it); JobRemoved says how the job ended. On the loop: nothing
 * waits for the helper. */
typedef struct UnitJob UnitJob;

/* result: systemd's word for the job's end ("done", "failed", "canceled"...), or NULL
 * with error a negative errno when the manager could not be asked or went away. */
typedef void (*UnitJobDone)(int error, const char *result, void *userdata);

/* Starts unit (mode "replace"); done is called once, from the loop. */
int unit_job_start(sd_event *event, const char *address, const char *unit, UnitJobDone done, void *userdata,
                   UnitJob **out, GError **error);
/* Forgets it: done is never called. */
void unit_job_free(UnitJob *j);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UnitJob, unit_job_free)
