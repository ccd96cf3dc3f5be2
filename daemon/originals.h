/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* The values isolatord found before its first write to each file, kept under the runtime
 * directory ($RUNTIME_DIRECTORY, default /run/isolatord) so that a revert restores them
 * even after a crash and a restart. A path's original is saved once: a later save of the
 * same path is ignored, so a restarted daemon never takes its own values for originals. */
typedef struct Originals Originals;

/* Loads dir/originals when it exists; dir is created on the first flush. */
int originals_open(const char *dir, Originals **out, GError **error);
void originals_free(Originals *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Originals, originals_free)

/* Remembers rel's original value unless one is known; true when it was new. */
bool originals_remember(Originals *o, const char *rel, const char *value);
bool originals_has(const Originals *o, const char *rel);
/* Writes what is remembered to disk, atomically, when anything is new. Call it after
 * remembering a batch and before writing any of its files. */
int originals_flush(Originals *o, GError **error);

/* Paths in the order they were saved, and their values. */
guint originals_count(const Originals *o);
const char *originals_path(const Originals *o, guint i);
const char *originals_value(const Originals *o, guint i);
/* Drops every entry whose path is in restored (a GHashTable set), then flushes; the
 * file is removed when nothing is left. */
int originals_forget(Originals *o, GHashTable *restored, GError **error);
const char *originals_file(const Originals *o);
