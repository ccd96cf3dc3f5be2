/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "trigger.h"

/* The kernel's process events (the netlink proc connector, through libnl-3), on the
 * loop: each exec, new thread and exit is handed over at once, not coalesced: a process
 * is placed before it gets far (TRIGGER_EXEC, _FORK, _THREAD, _EXIT; _LOST when the
 * kernel dropped events). Root in the initial network and PID namespaces only;
 * elsewhere proc_source_new fails and placement falls back to the periodic scan. */
typedef struct ProcSource ProcSource;

int proc_source_new(sd_event *event, const TriggerSink *sink, ProcSource **out);
ProcSource *proc_source_free(ProcSource *s);
