/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/root.h"

/* Each CPU's idle time as /proc/stat's "cpuN" lines give it: idle + iowait, in USER_HZ
 * ticks (the kernel computes them from its idle accounting, live even on a tickless
 * CPU). A CPU whose idle time grew went idle, and so ran everything runnable on it.
 * out[cpu] and known[cpu] for cpu < n; known[] false for a CPU the text does not name.
 * -EBADMSG when no cpuN line parses. */
int cpustat_parse_idle(const char *text, uint64_t *out, bool *known, size_t n);
int cpustat_read_idle(const Root *root, uint64_t *out, bool *known, size_t n);
