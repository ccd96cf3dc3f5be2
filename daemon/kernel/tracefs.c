/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <glib.h>
#include <linux/magic.h>

#include "kernel/tracefs.h"

static const char *const places[] = { "sys/kernel/tracing", "sys/kernel/debug/tracing" };

const char *tracefs_find(const Root *root, bool kernel_only, char **why) {
        for (size_t i = 0; i < G_N_ELEMENTS(places); i++) {
                g_autofree char *events = g_strconcat(places[i], "/events", NULL);
                long type = root_fs_type(root, places[i]);
                if (type < 0 || !root_exists(root, events))
                        continue;
                if (kernel_only && type != TRACEFS_MAGIC && type != DEBUGFS_MAGIC)
                        continue;
                return places[i];
        }
        if (why)
                *why = g_strdup_printf("tracefs is not mounted at %s/%s (mount -t tracefs nodev %s/%s)",
                                       g_str_equal(root_dir(root), "/") ? "" : root_dir(root), places[0],
                                       g_str_equal(root_dir(root), "/") ? "" : root_dir(root), places[0]);
        return NULL;
}
