/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* What woke the manager: the one event type that the sources (udev, rtnetlink, inotify,
 * the proc connector, the watch on the audio CPUs) publish into manager_event(). It names the objects it concerns,
 * so that an enforcer looks at those and not at the whole machine. */
typedef enum TriggerKind {
        TRIGGER_DEVICE,  /* devices came, changed, bound or went: IRQs may have appeared or gone */
        TRIGGER_LINK,    /* name: an interface appeared or came up (queues to steer, queue IRQs) */
        TRIGGER_CGROUP,  /* a watched cgroup folder changed (name: the entry, NULL when unknown) */
        TRIGGER_EXEC,    /* pid executed a program */
        TRIGGER_FORK,    /* parent forked the new process pid */
        TRIGGER_THREAD,  /* process parent started the thread pid */
        TRIGGER_COMM,    /* thread pid of process parent took another name */
        TRIGGER_EXIT,    /* process pid ended */
        TRIGGER_LOST,    /* process events were lost: every process again */
        TRIGGER_CPU,     /* a CPU went offline or came online (the manager's: the partition re-validated) */
        TRIGGER_MOVED,   /* pid's move into the scope name ended (systemd's job): error 0 or why not */
        TRIGGER_IRQ,     /* irq fired on an audio CPU (the attribution's watch saw it there) */
        _TRIGGER_MAX,
} TriggerKind;

#define TRIGGER_BIT(k) (1u << (k))

typedef struct Trigger {
        TriggerKind kind;
        const char *name;
        pid_t pid, parent;
        unsigned count;      /* how many source events it stands for (a coalesced burst); 0: one */
        int error;           /* TRIGGER_MOVED: 0, or the negative errno of a move that failed */
        unsigned irq;        /* TRIGGER_IRQ */
        bool folders;        /* TRIGGER_CGROUP: a folder may have come or gone, not just a file changed */
} Trigger;

/* Where a source publishes what it saw: the service hands the manager every trigger. */
typedef struct TriggerSink {
        void (*publish)(const Trigger *t, void *userdata);
        void *userdata;
} TriggerSink;

static inline void trigger_publish(const TriggerSink *sink, const Trigger *t) {
        sink->publish(t, sink->userdata);
}
