/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "enforcer.h"

/* The folders (relative to the root) whose changes may undo a cpuset: each managed
 * unit's folder and its parent (a removal shows only there). */
GPtrArray *cpuset_watch_dirs(const EnforcerContext *ctx);
/* Whether an inotify event name in one of those folders concerns isolatord. */
bool cpuset_event_is_relevant(const char *name);
