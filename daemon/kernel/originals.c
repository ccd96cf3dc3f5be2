/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/macro.h"
#include "kernel/originals.h"

/* The file is a journal, appended to and replayed in order:
 *   isolatord-originals 3
 *   identity <escaped identity>
 *   +<TAB><escaped key><TAB><escaped value>     an original saved
 *   -<TAB><escaped key>                         an original forgotten
 * A placement appends three lines instead of rewriting the whole file (which made
 * 2000 placements quadratic); the file is rewritten only to compact it.
 *
 * Torn lines. A crash in the middle of an append, or a write that fails midway (a full
 * runtime folder), leaves a last line without its newline. Replay ignores it, and it is
 * cut off the file before the next append (a failed append is cut back at once), so that
 * nothing is ever glued to it. Should a fragment still be glued to a later line, replay
 * refuses the result rather than read another key or value into it: fields are escaped
 * (g_strescape: no raw TAB, newline or backslash inside one) and accepted only in
 * exactly the form the writer gives them; a "+" line has exactly two TABs and a "-"
 * line one, so a fragment holding a TAB glued to a "+" line has too many; and a key
 * never ends with a raw '-' (version 3 writes it "\055"), so the one glue that keeps
 * the count of a "+" line, a fragment "+<TAB>KEY-PREFIX" before a "-" line, ends its key
 * with that line's '-' and is refused. Version 2 (the same lines, a trailing '-' raw) is
 * still read, then written anew as version 3 at the next flush. */
#define MAGIC "isolatord-originals 3"
#define MAGIC_V2 "isolatord-originals 2"
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
        bool rewrite;       /* the file must be written anew (compaction, filter, a tear
                             * that could not be cut off, a version 2 file) */
        int fd;             /* the journal, open for appends; -1 until needed */
        dev_t dev;          /* the file open as fd */
        ino_t ino;
        off_t end;          /* the length of its whole lines: where the next append goes */
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

/* A field escaped for the journal: g_strescape's form, and for a key a last '-' as
 * "\055" (see the top of the file). */
static char *escape_field(const char *text, bool key) {
        char *escaped = g_strescape(text, NULL);
        size_t len = strlen(escaped);
        if (!key || len == 0 || escaped[len - 1] != '-')
                return escaped;
        escaped[len - 1] = '\0';
        char *with = g_strconcat(escaped, "\\055", NULL);
        g_free(escaped);
        return with;
}

/* A field of the journal decoded, or NULL unless it is exactly what escape_field()
 * writes: no raw TAB or control byte, no escape it would not write (a backslash at the
 * end, "\0" that would cut the text short, "\q"). */
static char *unescape_field(const char *field, bool key) {
        g_autoptr(GString) text = g_string_new(NULL);
        for (const char *p = field; *p; p++) {
                if (*p != '\\') {
                        g_string_append_c(text, *p);
                        continue;
                }
                const char *from = "bfnrtv\\\"", *to = "\b\f\n\r\t\v\\\"";
                const char *c = *++p ? strchr(from, *p) : NULL;
                if (c)
                        g_string_append_c(text, to[c - from]);
                else if (p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
                        char byte = (char) ((p[0] - '0') << 6 | (p[1] - '0') << 3 | (p[2] - '0'));
                        if (byte == '\0')
                                return NULL;
                        g_string_append_c(text, byte);
                        p += 2;
                } else
                        return NULL;
        }
        g_autofree char *again = escape_field(text->str, key);
        if (!g_str_equal(again, field))
                return NULL;
        return g_string_free(g_steal_pointer(&text), false);
}

/* Replays a journal of whole lines (data ends with a newline); false when it is not
 * one of ours for this identity. A line that is not exactly one the writer writes (a
 * hostile one, or fragments glued together) counts for nothing. */
static bool replay(Originals *o, const char *data, const char **why) {
        g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
        guint n = g_strv_length(lines);
        bool v2 = n > 0 && g_str_equal(lines[0], MAGIC_V2);

        if (n < 3 || !(v2 || g_str_equal(lines[0], MAGIC)) || !g_str_has_prefix(lines[1], "identity ")) {
                *why = "it is not a journal of this isolatord version";
                return false;
        }
        g_autofree char *identity = g_strescape(o->identity, NULL);
        if (!g_str_equal(lines[1] + strlen("identity "), identity)) {
                *why = "it was written for another root or another boot";
                return false;
        }
        /* lines[n - 1] follows the last newline: empty. */
        for (guint i = 2; i + 1 < n; i++) {
                g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
                guint fields = g_strv_length(f);
                g_autofree char *rel = fields >= 2 ? unescape_field(f[1], !v2) : NULL;
                g_autofree char *value = fields == 3 ? unescape_field(f[2], false) : NULL;
                if (value && rel && g_str_equal(f[0], "+")) {
                        if (!g_hash_table_contains(o->index, rel))
                                add(o, rel, value, true);
                        else
                                o->dead_lines++;
                } else if (fields == 2 && rel && g_str_equal(f[0], "-")) {
                        GList *link = g_hash_table_lookup(o->index, rel);
                        if (link)
                                drop(o, link, false);
                        o->dead_lines += 2;
                } else
                        o->dead_lines++; /* unreadable: dropped at the next rewrite */
        }
        if (v2)
                o->rewrite = true; /* never a version 3 line appended to it */
        return true;
}

static char *header_text(const Originals *o) {
        g_autofree char *id = g_strescape(o->identity, NULL);
        return g_strdup_printf(MAGIC "\nidentity %s\n", id);
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
                g_autofree char *header = header_text(o);
                /* A header cut short: not one entry yet. */
                bool torn_header = len <= strlen(header) && memcmp(data, header, len) == 0;
                const char *newline = memrchr(data, '\n', len);
                /* The end of the last whole line: what follows was cut short by a crash
                 * or a failed write, is not read, and is cut off the file before the next
                 * append (journal_ready), not here, since a dry run writes nothing. */
                o->end = torn_header || !newline ? 0 : newline - data + 1;
                data[o->end] = '\0';
                if (memchr(data, '\0', (size_t) o->end))
                        why = "it holds a NUL byte";
                if (!torn_header && (why || !replay(o, data, &why))) {
                        /* Never applied here: kept aside for a person to read. */
                        drop_all(o);
                        o->dead_lines = 0;
                        o->rewrite = false;
                        o->end = 0;
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

/* Whether escape_field() would give text back unchanged: printable ASCII without a
 * backslash or quote, and a key that does not end in '-'. */
static bool field_plain(const char *text, bool key) {
        const char *p = text;
        for (; *p; p++)
                if (*p < 0x20 || *p > 0x7e || *p == '\\' || *p == '"')
                        return false;
        return !key || p == text || p[-1] != '-';
}

/* A field appended as escape_field() writes it; the keys and values of every placement
 * are plain, and copied as they are. */
static void append_field(GString *s, const char *text, bool key) {
        if (field_plain(text, key)) {
                g_string_append(s, text);
                return;
        }
        g_autofree char *escaped = escape_field(text, key);
        g_string_append(s, escaped);
}

static void append_entry(GString *s, const char *rel, const char *value) {
        g_string_append(s, value ? "+\t" : "-\t");
        append_field(s, rel, true);
        if (value) {
                g_string_append_c(s, '\t');
                append_field(s, value, false);
        }
        g_string_append_c(s, '\n');
}

static void append_header(const Originals *o, GString *s) {
        g_autofree char *header = header_text(o);
        g_string_append(s, header);
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
        o->end = (off_t) data->len;
        o->dead_lines = 0;
        o->rewrite = false;
        g_ptr_array_set_size(o->forgotten, 0);
        return 0;
}

/* The journal open for appending and ending with its last whole line: a line cut short
 * (by a crash, found at open, or by a failed write whose cut failed) is cut off first,
 * never glued to. When it cannot be, the file is marked to be written anew. */
static int journal_ready(Originals *o, GError **error) {
        struct stat st;

        if (o->fd < 0) {
                o->fd = open(o->file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (o->fd < 0)
                        return fail_io(o, error, "open", errno);
                if (fstat(o->fd, &st) < 0) {
                        int err = errno;
                        close_journal(o);
                        return fail_io(o, error, "open", err);
                }
                o->dev = st.st_dev;
                o->ino = st.st_ino;
        }
        /* The file was replaced or removed under the open journal (by hand, or by
         * another writer the runtime folder's lock did not stop): appending would write
         * into a file nobody reads. Written anew instead, whole. One look at the name
         * says it, before every append: it holds the very file open (which then has a
         * link, and the name's size is the journal's). */
        if (lstat(o->file, &st) < 0 || st.st_ino != o->ino || st.st_dev != o->dev) {
                close_journal(o);
                o->rewrite = true;
                return 0;
        }
        /* Shorter than what was written, or a tail that will not go: anew. */
        if (st.st_size < o->end || (st.st_size > o->end && ftruncate(o->fd, o->end) < 0))
                o->rewrite = true;
        return 0;
}

/* An append that failed midway (ENOSPC, EFBIG) left part of a line: cut back to the
 * last whole line at once, so that the batch (its entries still not on disk) is written
 * whole by the next flush. */
static int append_failed(Originals *o, int err, GError **error) {
        if (ftruncate(o->fd, o->end) < 0) {
                int cut = errno;
                o->rewrite = true;
                close_journal(o);
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO,
                            "cannot append to the originals in %s: %s; nor cut the part written off: %s (the file is "
                            "written anew at the next flush)",
                            o->file, g_strerror(err), g_strerror(cut));
                return -err;
        }
        return fail_io(o, error, "append to", err);
}

/* Nothing left to restore, with the journal open: it is emptied where it is, and the
 * next entry appends to it (header first), instead of the file going and the next
 * placement creating it again (its open, a new inode, a page and the header: about 40 us
 * of each placement on tmpfs when every player that ends takes the last entry with it).
 * The page that next append fills is taken now (tmpfs frees it with the size), at the
 * exit, not at the next player's start. False when it cannot be emptied: then the file
 * goes, as with no journal open. */
static bool empty_in_place(Originals *o) {
        g_autoptr(GError) e = NULL;

        if (o->fd < 0 || o->rewrite || journal_ready(o, &e) < 0 || o->rewrite || ftruncate(o->fd, 0) < 0)
                return false;
        (void) fallocate(o->fd, FALLOC_FL_KEEP_SIZE, 0, 4096); /* a hint: without it, the append takes the page */
        o->end = 0;
        o->dead_lines = 0;
        g_ptr_array_set_size(o->forgotten, 0);
        return true;
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
        if (o->order.length == 0 && empty_in_place(o))
                return 0;
        bool whole = o->dead_lines > o->order.length + COMPACT_SLACK || o->order.length == 0;
        if (!o->rewrite && !whole) {
                int r = journal_ready(o, error);
                if (r < 0)
                        return r;
        }
        if (o->rewrite || whole)
                return rewrite(o, error); /* nothing left to restore, no journal open: no file */
        if (o->end == 0)
                append_header(o, data);
        for (guint i = 0; i < o->forgotten->len; i++)
                append_entry(data, o->forgotten->pdata[i], NULL);
        for (GList *l = first_new; l; l = l->next)
                append_entry(data, ((Entry *) l->data)->rel, ((Entry *) l->data)->value);
        for (size_t done = 0; done < data->len;) {
                ssize_t n = write(o->fd, data->str + done, data->len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return append_failed(o, n < 0 ? errno : EIO, error);
                done += (size_t) n;
        }
        /* In the file (the page cache) before the write it stands for: what a crash of
         * isolatord leaves is read back. Not synced: what the entries restore does not
         * outlive the boot either, and the file is bound to its boot (identity), so
         * after a power loss there is nothing it could be used for. */
        o->end += (off_t) data->len;
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
