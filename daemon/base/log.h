/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-daemon.h>

#include "base/macro.h"

/* Priorities are syslog's (SD_ERR = 3 ... SD_DEBUG = 7). Messages go to stderr; when
 * stderr is the journal (JOURNAL_STREAM is set) each line carries the "<N>" prefix
 * that journald reads as the priority. */
void log_set_max_level(int level);
int log_get_max_level(void);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) G_GNUC_PRINTF(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define log_debug(...)   log_full_errno(7, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(6, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(5, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(4, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(3, 0, __VA_ARGS__)

/* These return -abs(error) so that "return log_error_errno(r, ...);" reads naturally.
 * "%m" in the format expands to strerror(error). */
#define log_debug_errno(error, ...)   log_full_errno(7, (error), __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(6, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(4, (error), __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(3, (error), __VA_ARGS__)
