/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once
#include <stdbool.h>

/* A string from outside (a process's name, a file name a user chose) made fit for a log
 * line and the bus: invalid UTF-8 becomes U+FFFD (sd-bus refuses to send it, which would
 * fail the whole reply) and control characters become '?' (a newline would forge a log
 * line). Valid text comes back unchanged. g_free the result. */
char *text_printable(const char *s);

/* Whether text matches glob, as g_pattern_match_simple() says (the glob language of
 * Match=: '*' any run of characters, '?' one UTF-8 character, every other byte itself)
 * without compiling the glob: no allocation for a test made at every exec, IRQ and
 * thread. */
bool text_glob_match(const char *glob, const char *text);

/* The file name of a path, in place: what follows its last '/' (an executable's path
 * as the kernel gives it, which never ends in one). */
const char *text_file_name(const char *path);
