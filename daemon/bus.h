/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "finding.h"
#include "manager.h"

/* org.rtaudio.Isolator1 on /org/rtaudio/Isolator: maps methods, properties and signals
 * onto the manager. Reads are open to everyone; every method that changes anything
 * passes auth_check() first. */
typedef struct Bus Bus;

/* Takes the bus (already connected) and serves the object on it; does not request the
 * name, so tests can serve on a socketpair. */
int bus_serve(sd_bus *bus, Manager *manager, Bus **out);
Bus *bus_free(Bus *b);

/* PropertiesChanged for whatever changed since the last call; the owner calls it after
 * it changed the manager behind the adapter's back (the periodic verify). */
void bus_notify_changes(Bus *b);
