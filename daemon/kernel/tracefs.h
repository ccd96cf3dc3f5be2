/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

#include "kernel/root.h"

/* Where the kernel's tracing folder is under the root: "sys/kernel/tracing", or
 * "sys/kernel/debug/tracing" where only debugfs is mounted. kernel_only: a mounted
 * tracefs only, because what is read there names the running kernel's own tracepoints
 * (perf_event_open takes their ids); otherwise a fake root's plain folder of the same
 * shape is taken too. NULL when there is none, with why (g_free). */
const char *tracefs_find(const Root *root, bool kernel_only, char **why);
