/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* The values isolatord found before its first write to each file, kept under the runtime
 * directory ($RUNTIME_DIRECTORY, default /run/isolatord) so that a revert restores them
 * even after a crash and a restart. A path's original is saved once: a later save of the
 * same path is ignored, so a restarted daemon never takes its own values for originals. */
typedef struct Originals Originals;

/* Loads dir/originals when it exists; dir is created on the first flush. identity names
 * the machine the originals belong to (the root and its boot): a file written for
 * another is never loaded but moved aside (originals_set_aside() says where and why). */
int originals_open(const char *dir, const char *identity, Originals **out, GError **error);
void originals_free(Originals *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Originals, originals_free)

/* Remembers rel's original value unless one is known; true when it was new. */
bool originals_remember(Originals *o, const char *rel, const char *value);
bool originals_has(const Originals *o, const char *rel);
/* The value saved for rel, or NULL. */
const char *originals_get(const Originals *o, const char *rel);
/* Appends what was remembered or forgotten since the last flush to the journal on disk
 * with one write; compacts it (a new file renamed over the old) when forgotten lines
 * outnumber the live ones. Call it after remembering a batch and before writing any of
 * its files. When it fails (a full runtime folder), the part of the batch written is cut
 * off the file again and the next flush writes the whole batch. */
int originals_flush(Originals *o, GError **error);

/* Paths in the order they were saved, and their values (valid until the next change). */
guint originals_count(const Originals *o);
const char *originals_path(Originals *o, guint i);
const char *originals_value(Originals *o, guint i);
/* Drops every entry whose path is in restored (a GHashTable set), then flushes; when
 * nothing is left, the journal is emptied where it is (kept for the next entry), or the
 * file removed when it was not open. */
int originals_forget(Originals *o, GHashTable *restored, GError **error);
const char *originals_file(const Originals *o);
/* "FILE.foreign-TIME: why" when the file found at open was moved aside, else NULL. */
const char *originals_set_aside(const Originals *o);
/* Rewrites the file with only the live entries (after a revert, at exit). */
int originals_compact(Originals *o, GError **error);
/* NULL when a saved entry is one isolatord could have written; else why not (g_free). */
typedef char *(*OriginalsCheck)(const char *rel, const char *value, void *userdata);
/* Drops every entry check refuses, adding "key: why" to rejected (char*); the file is
 * rewritten without them at the next flush. */
void originals_filter(Originals *o, OriginalsCheck check, void *userdata, GPtrArray *rejected);
