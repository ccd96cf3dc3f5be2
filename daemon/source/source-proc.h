/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "source/trigger.h"

/* The kernel's process events (the netlink proc connector, read straight from its
 * socket), on the loop: each exec, new thread and exit is handed over at once, not
 * coalesced: a process is placed before it gets far (TRIGGER_EXEC, _FORK, _THREAD,
 * _EXIT; _LOST when the kernel dropped events). Root in the initial network and PID namespaces only;
 * elsewhere proc_source_new fails and placement falls back to the periodic scan. */
typedef struct ProcSource ProcSource;

int proc_source_new(sd_event *event, const TriggerSink *sink, ProcSource **out);
ProcSource *proc_source_free(ProcSource *s);

/* The classic BPF program attached to the connector socket: it passes what dispatch()
 * uses (exec, fork, comm, a process's exit, the listen's ack, anything that is not a
 * proc event) and drops the rest in the kernel. Static: unit tests attach it to a
 * socket of their own. */
struct sock_fprog;
void proc_source_filter(struct sock_fprog *out);
