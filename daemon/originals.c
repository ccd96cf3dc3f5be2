/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "error.h"
#include "originals.h"

struct Originals {
        char *dir;
        char *file;
        GPtrArray *paths;   /* char*, in order */
        GPtrArray *values;  /* char*, parallel to paths */
        GHashTable *index;  /* path -> nothing, for originals_has() */
        bool dirty;
};

static void add(Originals *o, const char *rel, const char *value) {
        g_ptr_array_add(o->paths, g_strdup(rel));
        g_ptr_array_add(o->values, g_strdup(value));
        g_hash_table_add(o->index, o->paths->pdata[o->paths->len - 1]);
}

int originals_open(const char *dir, Originals **out, GError **error) {
        g_autoptr(Originals) o = g_new0(Originals, 1);
        g_autofree char *data = NULL;
        g_autoptr(GError) e = NULL;

        assert(dir);
        o->dir = g_strdup(dir);
        o->file = g_build_filename(dir, "originals", NULL);
        o->paths = g_ptr_array_new_with_free_func(g_free);
        o->values = g_ptr_array_new_with_free_func(g_free);
        o->index = g_hash_table_new(g_str_hash, g_str_equal);

        if (!g_file_get_contents(o->file, &data, NULL, &e)) {
                if (!g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot read the saved originals %s: %s",
                                    o->file, e->message);
                        return -EIO;
                }
        } else {
                /* One entry a line: escaped path, a tab, escaped value. */
                g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
                for (char **l = lines; *l; l++) {
                        char *tab = strchr(*l, '\t');
                        if (!**l || !tab)
                                continue;
                        *tab = '\0';
                        g_autofree char *rel = g_strcompress(*l);
                        g_autofree char *value = g_strcompress(tab + 1);
                        if (!g_hash_table_contains(o->index, rel))
                                add(o, rel, value);
                }
        }
        *out = g_steal_pointer(&o);
        return 0;
}

void originals_free(Originals *o) {
        if (!o)
                return;
        g_hash_table_unref(o->index);
        g_ptr_array_unref(o->paths);
        g_ptr_array_unref(o->values);
        g_free(o->dir);
        g_free(o->file);
        g_free(o);
}

bool originals_remember(Originals *o, const char *rel, const char *value) {
        if (g_hash_table_contains(o->index, rel))
                return false;
        add(o, rel, value);
        o->dirty = true;
        return true;
}

bool originals_has(const Originals *o, const char *rel) {
        return g_hash_table_contains(o->index, rel);
}

int originals_flush(Originals *o, GError **error) {
        g_autoptr(GString) data = g_string_new(NULL);
        g_autoptr(GError) e = NULL;

        if (!o->dirty)
                return 0;
        if (o->paths->len == 0) {
                if (g_unlink(o->file) < 0 && errno != ENOENT) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot remove %s: %s", o->file, g_strerror(errno));
                        return -errno;
                }
                o->dirty = false;
                return 0;
        }
        for (guint i = 0; i < o->paths->len; i++) {
                g_autofree char *rel = g_strescape(o->paths->pdata[i], NULL);
                g_autofree char *value = g_strescape(o->values->pdata[i], NULL);
                g_string_append_printf(data, "%s\t%s\n", rel, value);
        }
        if (g_mkdir_with_parents(o->dir, 0755) < 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot create %s: %s", o->dir, g_strerror(errno));
                return -EIO;
        }
        /* Written to a new file and renamed over the old: a crash leaves one or the other. */
        if (!g_file_set_contents_full(o->file, data->str, (gssize) data->len, G_FILE_SET_CONTENTS_CONSISTENT,
                                      0644, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot save the originals to %s: %s", o->file, e->message);
                return -EIO;
        }
        o->dirty = false;
        return 0;
}

guint originals_count(const Originals *o) {
        return o->paths->len;
}

const char *originals_path(const Originals *o, guint i) {
        return o->paths->pdata[i];
}

const char *originals_value(const Originals *o, guint i) {
        return o->values->pdata[i];
}

const char *originals_file(const Originals *o) {
        return o->file;
}

int originals_forget(Originals *o, GHashTable *restored, GError **error) {
        for (guint i = o->paths->len; i-- > 0;) {
                if (!g_hash_table_contains(restored, o->paths->pdata[i]))
                        continue;
                g_hash_table_remove(o->index, o->paths->pdata[i]);
                g_ptr_array_remove_index(o->paths, i);
                g_ptr_array_remove_index(o->values, i);
                o->dirty = true;
        }
        return originals_flush(o, error);
}
