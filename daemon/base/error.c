/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/error.h"

G_DEFINE_QUARK(isolatord-error-quark, iso_error)

const char *iso_error_name(IsoError code) {
        static const char *const names[_ISO_ERROR_MAX] = {
                [ISO_ERROR_INVALID_CPU_LIST] = "InvalidCpuList",
                [ISO_ERROR_UNKNOWN_GROUP] = "UnknownGroup",
                [ISO_ERROR_OVERLAP] = "Overlap",
                [ISO_ERROR_INVALID_CONFIG] = "InvalidConfig",
                [ISO_ERROR_INVALID_PARTITION] = "InvalidPartition",
                [ISO_ERROR_NOT_FOUND] = "NotFound",
                [ISO_ERROR_IO] = "IOError",
                [ISO_ERROR_NOT_AUTHORIZED] = "NotAuthorized",
                [ISO_ERROR_BUSY] = "Busy",
                [ISO_ERROR_BOOT_LOADER] = "BootLoader",
        };
        if ((unsigned) code >= _ISO_ERROR_MAX)
                return "Failed";
        return names[code];
}
