/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "manager.h"

/* Runs isolatord: one sd-event loop for the bus, signals (SIGTERM/SIGINT exit, SIGHUP
 * reloads), the systemd watchdog and the periodic verify. Returns the exit status. */
int service_run(const ManagerOptions *o);
