/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-event.h>

/* The kernel's process events (the netlink proc connector, through libnl-3), on the
 * loop: each exec, new thread and exit is handed over at once, not coalesced: a process
 * is placed before it gets far. Root in the initial network and PID namespaces only;
 * elsewhere proc_source_new fails and placement falls back to the periodic scan. */
typedef struct ProcSourceCallbacks {
        void (*exec)(pid_t pid, void *userdata);
        void (*thread)(pid_t tgid, pid_t tid, void *userdata);
        void (*child)(pid_t parent, pid_t pid, void *userdata); /* a new process */
        void (*exit)(pid_t pid, void *userdata);
        void (*lost)(void *userdata);                         /* events were dropped: rescan */
} ProcSourceCallbacks;

typedef struct ProcSource ProcSource;

int proc_source_new(sd_event *event, const ProcSourceCallbacks *cb, void *userdata, ProcSource **out);
ProcSource *proc_source_free(ProcSource *s);
