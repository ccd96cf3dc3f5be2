/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bus-error.h"
#include "base/error.h"

int bus_error_set_gerror(sd_bus_error *error, const GError *e) {
        g_autofree char *name = g_strconcat(BUS_ERROR_PREFIX,
                                            e->domain == ISO_ERROR ? iso_error_name(e->code) : "Failed", NULL);
        return sd_bus_error_set(error, name, e->message);
}
