/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "model/finding.h"
#include "manager.h"
#include "passes.h"

/* org.rtaudio.Isolator1 on /org/rtaudio/Isolator: maps methods, properties and signals
 * onto the manager. Reads are open to everyone; every method that changes anything
 * passes auth_check() first. */
typedef struct Bus Bus;

/* Takes the bus (already connected) and serves the object on it; Verify asks passes.
 * Does not request the name, so tests can serve on a socketpair. */
int bus_serve(sd_bus *bus, Manager *manager, Passes *passes, Bus **out);
Bus *bus_free(Bus *b);

/* PropertiesChanged for what the manager says changed (manager_set_changed()). */
void bus_changed(Bus *b, unsigned what);
