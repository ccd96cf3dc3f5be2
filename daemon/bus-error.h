/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#define BUS_NAME "org.rtaudio.Isolator"
#define BUS_PATH "/org/rtaudio/Isolator"
#define BUS_INTERFACE "org.rtaudio.Isolator1"
#define BUS_ERROR_PREFIX BUS_INTERFACE ".Error."

/* org.rtaudio.Isolator1.Error.<Name> from an ISO_ERROR, with its message; other errors
 * become ...Error.Failed. Returns the negative errno sd-bus expects from a handler. */
int bus_error_set_gerror(sd_bus_error *error, const GError *e);
