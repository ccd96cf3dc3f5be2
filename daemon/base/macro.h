/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <unistd.h>

/* Only what glib lacks. Everything else is glib's vocabulary: g_autoptr, g_autofree,
 * g_auto, g_steal_pointer, g_str_equal, G_N_ELEMENTS, G_GNUC_PRINTF; sd-bus types get
 * theirs in sd-glib.h. */

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
/* A file descriptor closed when it leaves scope. */
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* errno is positive; functions here return it negated. Never 0 for a failure. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
