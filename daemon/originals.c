/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "macro.h"
#include "originals.h"

/* The file is a journal, appended to and replayed in order:
 *   isolatord-originals 2
 *   identity <escaped identity>
 *   +<TAB><escaped key><TAB><escaped value>     an original saved
 *   -<TAB><escaped key>                         an original forgotten
 * A placement appends three lines instead of rewriting the whole file (which made
 * 2000 placements quadratic); the file is rewritten only to compact it. A last line
 * cut short by a crash has no newline and is ignored. */
#define MAGIC "isolatord-originals 2"
/* Forgotten entries tolerated before a rewrite, beyond one per live entry. */
#define COMPACT_SLACK 256

typedef struct Entry {
        char *rel;
        char *value;
        bool on_disk;       /* its "+" line is in the file */
} Entry;

struct Originals {
        char *dir;
        char *file;
        char *identity;
        char *set_aside;    /* where a file of another root or boot went, or NULL */
        GQueue order;       /* Entry*, oldest first */
        GHashTable *index;  /* rel -> GList* link in order */
        GPtrArray *snapshot; /* Entry* in order, for originals_path(i); NULL when stale */
        GPtrArray *forgotten; /* rels forgotten since the last append whose "+" is on disk */
        guint dead_lines;   /* lines in the file that no longer count */
        bool rewrite;       /* the file must be written anew (compaction, filter) */
        int fd;             /* the journal, open for appends; -1 until needed */
        bool headed;        /* the journal open in fd has its header line */
};

static void entry_free(Entry *e) {
        g_free(e->rel);
        g_free(e->value);
        g_free(e);
}

static void add(Originals *o, const char *rel, const char *value, bool on_disk) {
        Entry *e = g_new0(Entry, 1);
        e->rel = g_strdup(rel);
        e->value = g_strdup(value);
        e->on_disk = on_disk;
        g_queue_push_tail(&o->order, e);
        g_hash_table_insert(o->index, e->rel, o->order.tail);
        g_clear_pointer(&o->snapshot, g_ptr_array_unref);
}

/* Drops an entry; a tombstone is owed when its "+" line is on disk. */
static void drop(Originals *o, GList *link, bool tombstone) {
        Entry *e = link->data;
        if (tombstone && e->on_disk)
                g_ptr_array_add(o->forgotten, g_strdup(e->rel));
        g_hash_table_remove(o->index, e->rel);
        g_queue_delete_link(&o->order, link);
        entry_free(e);
        g_clear_pointer(&o->snapshot, g_ptr_array_unref);
}

static void drop_all(Originals *o) {
        g_hash_table_remove_all(o->index);
        g_queue_clear_full(&o->order, (GDestroyNotify) entry_free);
        g_clear_pointer(&o->snapshot, g_ptr_array_unref);
}

static const Entry *nth(Originals *o, guint i) {
        if (!o->snapshot) {
                o->snapshot = g_ptr_array_sized_new(o->order.length);
                for (GList *l = o->order.head; l; l = l->next)
                        g_ptr_array_add(o->snapshot, l->data);
        }
        return o->snapshot->pdata[i];
}

/* Replays a journal; false when it is not one of ours for this identity. */
static bool replay(Originals *o, char *data, const char **why) {
        g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
        guint n = g_strv_length(lines);

        if (n < 3 || !g_str_equal(lines[0], MAGIC) || !g_str_has_prefix(lines[1], "identity ")) {
                *why = "it is not a journal of this isolatord version";
                return false;
        }
        g_autofree char *identity = g_strcompress(lines[1] + strlen("identity "));
        if (!g_str_equal(identity, o->identity)) {
                *why = "it was written for another root or another boot";
                return false;
        }
        /* lines[n - 1] follows the last newline: empty, or a line a crash cut short. */
        for (guint i = 2; i + 1 < n; i++) {
                g_auto(GStrv) f = g_strsplit(lines[i], "\t", 3);
                guint fields = g_strv_length(f);
                if (fields == 3 && g_str_equal(f[0], "+")) {
                        g_autofree char *rel = g_strcompress(f[1]);
                        g_autofree char *value = g_strcompress(f[2]);
                        if (!g_hash_table_contains(o->index, rel))
                                add(o, rel, value, true);
                        else
                                o->dead_lines++;
                } else if (fields == 2 && g_str_equal(f[0], "-")) {
                        g_autofree char *rel = g_strcompress(f[1]);
                        GList *link = g_hash_table_lookup(o->index, rel);
                        if (link)
                                drop(o, link, false);
                        o->dead_lines += 2;
                } else
                        o->dead_lines++; /* unreadable: dropped at the next rewrite */
        }
        return true;
}

int originals_open(const char *dir, const char *identity, Originals **out, GError **error) {
        g_autoptr(Originals) o = g_new0(Originals, 1);
        g_autofree char *data = NULL;
        g_autoptr(GError) e = NULL;
        size_t len;

        assert(dir);
        assert(identity);
        o->dir = g_strdup(dir);
        o->file = g_build_filename(dir, "originals", NULL);
        o->identity = g_strdup(identity);
        g_queue_init(&o->order);
        o->index = g_hash_table_new(g_str_hash, g_str_equal);
        o->forgotten = g_ptr_array_new_with_free_func(g_free);
        o->fd = -1;

        if (!g_file_get_contents(o->file, &data, &len, &e)) {
                if (!g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot read the saved originals %s: %s",
                                    o->file, e->message);
                        return -EIO;
                }
        } else {
                const char *why = NULL;
                if (memchr(data, '\0', len))
                        why = "it holds a NUL byte";
                if (why || !replay(o, data, &why)) {
                        /* Never applied here: kept aside for a person to read. */
                        drop_all(o);
                        o->dead_lines = 0;
                        g_autofree char *aside = g_strdup_printf("%s.foreign-%lld", o->file, (long long) time(NULL));
                        if (g_rename(o->file, aside) < 0) {
                                g_set_error(error, ISO_ERROR, ISO_ERROR_IO,
                                            "the saved originals %s are not this machine's (%s) and cannot be moved aside: %s",
                                            o->file, why, g_strerror(errno));
                                return -EIO;
                        }
                        o->set_aside = g_strdup_printf("%s: %s", aside, why);
                }
        }
        *out = g_steal_pointer(&o);
        return 0;
}

void originals_free(Originals *o) {
        if (!o)
                return;
        drop_all(o);
        g_hash_table_unref(o->index);
        g_ptr_array_unref(o->forgotten);
        if (o->fd >= 0)
                close(o->fd);
        g_free(o->dir);
        g_free(o->file);
        g_free(o->identity);
        g_free(o->set_aside);
        g_free(o);
}

const char *originals_set_aside(const Originals *o) {
        return o->set_aside;
}

bool originals_remember(Originals *o, const char *rel, const char *value) {
        if (g_hash_table_contains(o->index, rel))
                return false;
        add(o, rel, value, false);
        return true;
}

const char *originals_get(const Originals *o, const char *rel) {
        GList *link = g_hash_table_lookup(o->index, rel);
        return link ? ((Entry *) link->data)->value : NULL;
}

bool originals_has(const Originals *o, const char *rel) {
        return g_hash_table_contains(o->index, rel);
}

static void append_entry(GString *s, const char *rel, const char *value) {
        g_autofree char *k = g_strescape(rel, NULL);
        if (value) {
                g_autofree char *v = g_strescape(value, NULL);
                g_string_append_printf(s, "+\t%s\t%s\n", k, v);
        } else
                g_string_append_printf(s, "-\t%s\n", k);
}

static void append_header(const Originals *o, GString *s) {
        g_autofree char *id = g_strescape(o->identity, NULL);
        g_string_append_printf(s, MAGIC "\nidentity %s\n", id);
}

static int fail_io(const Originals *o, GError **error, const char *what, int err) {
        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot %s the originals in %s: %s", what, o->file, g_strerror(err));
        return -err;
}

static void close_journal(Originals *o) {
        if (o->fd >= 0)
                close(o->fd);
        o->fd = -1;
}

/* The whole file anew, atomically: what is remembered, nothing forgotten. */
static int rewrite(Originals *o, GError **error) {
        g_autoptr(GString) data = g_string_new(NULL);
        g_autoptr(GError) e = NULL;

        close_journal(o); /* the rename replaces the file it has open */
        if (o->order.length == 0) {
                if (g_unlink(o->file) < 0 && errno != ENOENT)
                        return fail_io(o, error, "remove", errno);
        } else {
                append_header(o, data);
                for (GList *l = o->order.head; l; l = l->next)
                        append_entry(data, ((Entry *) l->data)->rel, ((Entry *) l->data)->value);
                if (!g_file_set_contents_full(o->file, data->str, (gssize) data->len, G_FILE_SET_CONTENTS_CONSISTENT,
                                              0600, &e)) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot save the originals to %s: %s", o->file,
                                    e->message);
                        return -EIO;
                }
        }
        for (GList *l = o->order.head; l; l = l->next)
                ((Entry *) l->data)->on_disk = true;
        o->dead_lines = 0;
        o->rewrite = false;
        g_ptr_array_set_size(o->forgotten, 0);
        return 0;
}

int originals_flush(Originals *o, GError **error) {
        g_autoptr(GString) data = g_string_new(NULL);
        GList *first_new = NULL;

        /* New entries are at the tail, after the last one on disk. */
        for (GList *l = o->order.tail; l && !((Entry *) l->data)->on_disk; l = l->prev)
                first_new = l;
        if (!o->rewrite && !first_new && o->forgotten->len == 0)
                return 0;
        if (o->fd < 0 && g_mkdir_with_parents(o->dir, 0755) < 0)
                return fail_io(o, error, "create the folder of", errno);
        if (o->rewrite || o->dead_lines > o->order.length + COMPACT_SLACK || o->order.length == 0)
                return rewrite(o, error); /* nothing left to restore: no file */
        if (o->fd < 0) {
                o->fd = open(o->file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (o->fd < 0)
                        return fail_io(o, error, "open", errno);
                struct stat st;
                if (fstat(o->fd, &st) < 0)
                        return fail_io(o, error, "open", errno);
                o->headed = st.st_size > 0;
        }
        if (!o->headed)
                append_header(o, data);
        for (guint i = 0; i < o->forgotten->len; i++)
                append_entry(data, o->forgotten->pdata[i], NULL);
        for (GList *l = first_new; l; l = l->next)
                append_entry(data, ((Entry *) l->data)->rel, ((Entry *) l->data)->value);
        for (size_t done = 0; done < data->len;) {
                ssize_t n = write(o->fd, data->str + done, data->len - done);
                if (n < 0 && errno != EINTR) {
                        int err = errno;
                        close_journal(o); /* opened again, its size read again */
                        return fail_io(o, error, "append to", err);
                }
                done += n > 0 ? (size_t) n : 0;
        }
        /* In the file (the page cache) before the write it stands for: what a crash of
         * isolatord leaves is read back. Not synced: what the entries restore does not
         * outlive the boot either, and the file is bound to its boot (identity), so
         * after a power loss there is nothing it could be used for. */
        o->headed = true;
        o->dead_lines += 2 * o->forgotten->len;
        g_ptr_array_set_size(o->forgotten, 0);
        for (GList *l = first_new; l; l = l->next)
                ((Entry *) l->data)->on_disk = true;
        return 0;
}

guint originals_count(const Originals *o) {
        return o->order.length;
}

const char *originals_path(Originals *o, guint i) {
        return nth(o, i)->rel;
}

const char *originals_value(Originals *o, guint i) {
        return nth(o, i)->value;
}

const char *originals_file(const Originals *o) {
        return o->file;
}

int originals_forget(Originals *o, GHashTable *restored, GError **error) {
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, restored);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
                GList *link = g_hash_table_lookup(o->index, key);
                if (link)
                        drop(o, link, true);
        }
        return originals_flush(o, error);
}

int originals_compact(Originals *o, GError **error) {
        o->rewrite = true;
        return originals_flush(o, error);
}

void originals_filter(Originals *o, OriginalsCheck check, void *userdata, GPtrArray *rejected) {
        for (GList *l = o->order.head, *next; l; l = next) {
                Entry *e = l->data;
                next = l->next;
                g_autofree char *why = check(e->rel, e->value, userdata);
                if (!why)
                        continue;
                g_autofree char *key = g_strescape(e->rel, NULL);
                g_ptr_array_add(rejected, g_strdup_printf("%s: %s", key, why));
                drop(o, l, false);
                o->rewrite = true;
        }
}
