/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "enforce/enforcer.h"

/* "on", or "off: " and why (StarvationGuard=off, no real-time group, stalld runs), as
 * the last pass decided; the manager adds whether the partition is applied. */
const char *starvation_guard_state(const EnforcerContext *ctx);
