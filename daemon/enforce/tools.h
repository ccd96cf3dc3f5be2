/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "kernel/root.h"
#include "model/config.h"

/* Other tools that change what the partition sets: each found by its executable (not by
 * the name a process gives itself; on the host only a trusted one, trust.h) or by the
 * name it owns on the system bus. The manager finds them once a pass, before any
 * enforcer runs: the conflicts enforcer reports them (and acts on irqbalance as
 * [Daemon] IrqBalance= says), and a drift corrected again and again on an object of a
 * kind one of them rewrites is said to be its doing. */
typedef struct Tool {
        const char *name;
        const char *const *programs;   /* executables' file names, or scripts run by an interpreter */
        const char *const *bus_names;  /* well-known names it owns on the system bus */
        const char *const *fights;     /* the finding kinds of what it rewrites */
        bool required;                 /* the partition cannot hold while it runs as it is */
        const char *does;
        const char *fix;               /* %s: the isolated CPUs */
} Tool;

typedef struct RunningTool {
        const Tool *tool;
        pid_t pid;          /* 0 when found by its bus name */
        char *bus_name;     /* the name it owns, or NULL */
        char *detail;       /* what makes it a conflict: irqbalance's banned CPUs, tuned's profile */
} RunningTool;

typedef struct RunningTools {
        GArray *found;      /* RunningTool */
        GHashTable *fights; /* finding kind -> who rewrites it ("irqbalance pid 42, ...") */
} RunningTools;

/* The tools running on the machine of root that conflict with the partition of c:
 * among tasks (Task, task.h), and by their names on the bus (NULL: not known yet). */
RunningTools *tools_find(const Root *root, const Config *c, const GArray *tasks, GHashTable *bus_names);
void running_tools_free(RunningTools *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RunningTools, running_tools_free)
/* Whether the tool of that name ("stalld") was found running. */
bool tools_running(const RunningTools *t, const char *name);
/* Who rewrites objects of this finding kind ("irqbalance pid 42"), or NULL. */
const char *tools_fighting(const RunningTools *t, const char *kind);
/* "irqbalance pid 42" or "tuned (bus name com.redhat.tuned)". */
char *running_tool_who(const RunningTool *r);
