/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "enforcer.h"

/* Sets the RPS and XPS masks of one interface's queues (a link that just came up);
 * what enforcer_netdev's apply does for all of them. */
int netdev_apply_interface(const EnforcerContext *ctx, const char *ifname, GPtrArray *changes);
