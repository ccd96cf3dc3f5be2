/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

/* The daemon's named errors. Each maps to org.rtaudio.Isolator1.Error.<Name> on the
 * bus and to a message a person can act on; never an in-band status integer. */
typedef enum IsoError {
        ISO_ERROR_INVALID_CPU_LIST,
        ISO_ERROR_UNKNOWN_GROUP,
        ISO_ERROR_OVERLAP,
        ISO_ERROR_INVALID_CONFIG,
        ISO_ERROR_INVALID_PARTITION,
        ISO_ERROR_NOT_FOUND,
        ISO_ERROR_IO,
        ISO_ERROR_NOT_AUTHORIZED,
        ISO_ERROR_BUSY,
        ISO_ERROR_BOOT_LOADER,
        _ISO_ERROR_MAX,
} IsoError;

#define ISO_ERROR (iso_error_quark())
GQuark iso_error_quark(void);

/* "InvalidCpuList" etc.; the D-Bus error name is the interface's prefix plus this. */
const char *iso_error_name(IsoError code);
