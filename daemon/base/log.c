/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "base/log.h"

static int max_level = 6; /* SD_INFO */

void log_set_max_level(int level) {
        max_level = level < 0 ? 0 : level > 7 ? 7 : level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        int saved_errno = errno;
        int abs_error = error < 0 ? -error : error;

        if (level <= max_level) {
                static const char *const names[] = {
                        "emergency", "alert", "critical", "error",
                        "warning", "notice", "info", "debug",
                };
                char buf[2048];
                va_list ap;

                /* Let "%m" name the error we were given, not whatever errno holds. */
                errno = abs_error > 0 ? abs_error : saved_errno;
                va_start(ap, format);
                vsnprintf(buf, sizeof buf, format, ap);
                va_end(ap);

                if (getenv("JOURNAL_STREAM"))
                        fprintf(stderr, "<%d>%s\n", level, buf);
                else if (level <= 4 || max_level >= 7)
                        fprintf(stderr, "isolatord: %s: %s\n", names[level], buf);
                else
                        fprintf(stderr, "isolatord: %s\n", buf);
                if (max_level >= 7 && level == 7)
                        fprintf(stderr, "isolatord:   (%s:%d %s)\n", file, line, func);
        }

        errno = saved_errno;
        return -abs_error;
}
