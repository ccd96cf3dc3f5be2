/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "manager.h"

/* When full passes run, decided in one place: the periodic verify every [Daemon]
 * VerifyIntervalSec= (the backstop for changes no event announces), and Verify calls.
 * A pass scans every IRQ, process and cgroup (a tenth of a second on a 256-CPU
 * machine), so callers share passes: every request waiting when a pass runs gets that
 * pass's answer. Root's requests repair (as the periodic pass does) and get a pass at
 * once; everyone else's observe only, at most one pass a second: a request within a
 * second of the last pass waits for the next. A periodic pass is skipped when a
 * repairing pass ran less than a second ago. Events (a device, an exec) are not passes:
 * the manager reconciles what they name at once. */
typedef struct Passes Passes;

/* The pass that answers a request has run: its findings are manager_status()'s. */
typedef void (*PassAnswer)(Manager *m, void *userdata);
/* Every pass this runs is followed by it (the service refreshes its watches). */
typedef void (*PassAfter)(void *userdata);

/* event: the loop; NULL runs every request's pass at once (a test's in-process bus). */
Passes *passes_new(Manager *m, sd_event *event);
Passes *passes_free(Passes *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Passes, passes_free)

void passes_set_after(Passes *p, PassAfter after, void *userdata);
/* (Re)arms the periodic verify at the configured interval (a reload may change it). */
int passes_arm(Passes *p);
/* A Verify: repair is root's. answer is called once, after the pass; destroy (may be
 * NULL) frees userdata then, or when the passes are freed first. */
void passes_request(Passes *p, bool repair, PassAnswer answer, void *userdata, GDestroyNotify destroy);
