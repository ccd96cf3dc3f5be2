/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The text a Config is read from: the built-in defaults, then each file's keys over them in
 * the order the files are read, and which file gave each key, so that a message names it.
 * Sections and keys are checked against the schema as they arrive; the values wait for the
 * parser (config-parse.c). */
#include <string.h>

#include "model/config-private.h"
#include "base/error.h"

/* Starts the merge with the defaults; user files then override key by key. */
void config_source_init(ConfigSource *s) {
        *s = (ConfigSource) {
                .merged = config_defaults_keyfile(),
                .origin = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                .files = g_ptr_array_new_with_free_func(g_free),
                .declared = g_ptr_array_new_with_free_func(g_free),
        };
}

void config_source_clear(ConfigSource *s) {
        if (s->merged)
                g_key_file_unref(s->merged);
        if (s->origin)
                g_hash_table_unref(s->origin);
        if (s->files)
                g_ptr_array_unref(s->files);
        if (s->declared)
                g_ptr_array_unref(s->declared);
}

static char *origin_key(const char *section, const char *key) {
        return g_strconcat(section, "\n", key, NULL);
}

const char *config_source_origin(const ConfigSource *s, const char *section, const char *key) {
        g_autofree char *k = origin_key(section, key);
        const char *f = g_hash_table_lookup(s->origin, k);
        return f ? f : "built-in defaults";
}

int config_source_rank(const ConfigSource *s, const char *section, const char *key) {
        g_autofree char *k = origin_key(section, key);
        const char *file = g_hash_table_lookup(s->origin, k);
        guint i;

        if (!file)
                return -1;
        /* A text merged without a file (config_load_data) comes after every file. */
        return g_ptr_array_find_with_equal_func(s->files, file, g_str_equal, &i) ? (int) i : G_MAXINT;
}

/* A section the schema knows, with a valid name; a group's is remembered as declared. */
static bool merge_section(ConfigSource *s, const char *section, const char *name, GError **error) {
        if (!config_section_known(section)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                            "%s: unknown section [%s] (known: [Partition], [Group NAME], [Irq NAME], [Thread NAME], [Network], "
                            "[Sampler], [Daemon], [Metrics])",
                            name, section);
                return false;
        }
        if (g_str_has_prefix(section, GROUP_PREFIX)) {
                if (!config_group_name_valid(section + strlen(GROUP_PREFIX))) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                                    "%s: [%s]: a group name is 1-64 letters, digits, '_' or '-', and not \"housekeeping\"",
                                    name, section);
                        return false;
                }
                if (!g_ptr_array_find_with_equal_func(s->declared, section, g_str_equal, NULL))
                        g_ptr_array_add(s->declared, g_strdup(section));
        }
        if ((g_str_has_prefix(section, IRQ_PREFIX) && !config_name_valid(section + strlen(IRQ_PREFIX))) ||
            (g_str_has_prefix(section, THREAD_PREFIX) && !config_name_valid(section + strlen(THREAD_PREFIX)))) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                            "%s: [%s]: a rule name is 1-64 letters, digits, '_' or '-'", name, section);
                return false;
        }
        return true;
}

/* One key the schema knows, its value over the one merged so far. */
static bool merge_key(ConfigSource *s, GKeyFile *kf, const char *section, const char *key, const char *name,
                      GError **error) {
        g_autofree char *value = NULL;

        if (!config_key_known(section, key)) {
                g_autofree char *list = config_section_keys_text(section);
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "%s: [%s]: unknown key %s (known: %s)", name,
                            section, key, list);
                return false;
        }
        value = g_key_file_get_value(kf, section, key, NULL);
        /* Never a silent default: g_key_file_get_string() would answer NULL. */
        if (!value || !g_utf8_validate(value, -1, NULL)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "%s: [%s] %s=: the value is not valid UTF-8",
                            name, section, key);
                return false;
        }
        g_key_file_set_value(s->merged, section, key, value);
        g_hash_table_replace(s->origin, origin_key(section, key), g_strdup(name));
        return true;
}

/* Adds one file's keys over what is merged so far. */
static bool merge_keyfile(ConfigSource *s, GKeyFile *kf, const char *name, GError **error) {
        g_auto(GStrv) sections = g_key_file_get_groups(kf, NULL);

        for (char **sec = sections; *sec; sec++) {
                g_auto(GStrv) keys = NULL;

                if (!merge_section(s, *sec, name, error))
                        return false;
                keys = g_key_file_get_keys(kf, *sec, NULL, NULL);
                for (char **key = keys; key && *key; key++)
                        if (!merge_key(s, kf, *sec, *key, name, error))
                                return false;
        }
        return true;
}

/* "line N, [Section] Key=" for a byte of a file's text, as far as the text says. */
static char *locate(const char *data, const char *at) {
        g_autofree char *section = NULL;
        const char *line_start = data;
        unsigned line = 1;

        for (const char *p = data; p < at; p++)
                if (p == data || p[-1] == '\n') {
                        line += p != data;
                        line_start = p;
                        if (*line_start == '[') {
                                const char *close = memchr(line_start, ']', (size_t) (at - line_start));
                                if (close) {
                                        g_free(section);
                                        section = g_strndup(line_start, (size_t) (close - line_start + 1));
                                }
                        }
                }
        const char *eq = memchr(line_start, '=', (size_t) (at - line_start));
        g_autofree char *key = eq ? g_strstrip(g_strndup(line_start, (size_t) (eq - line_start))) : NULL;
        g_autoptr(GString) out = g_string_new(NULL);
        g_string_append_printf(out, "line %u", line);
        if (section)
                g_string_append_printf(out, ", %s", section);
        if (key && g_utf8_validate(key, -1, NULL))
                g_string_append_printf(out, " %s=", key);
        return g_string_free(g_steal_pointer(&out), false);
}

bool config_source_merge_data(ConfigSource *s, const char *data, size_t len, const char *name, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) e = NULL;
        const char *nul = memchr(data, '\0', len);

        /* GKeyFile would end the value, or the file, at a NUL byte without a word. */
        if (nul) {
                g_autofree char *where = locate(data, nul);
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "%s: %s: a NUL byte; a configuration file is text",
                            name, where);
                return false;
        }
        if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "%s: %s", name, e->message);
                return false;
        }
        return merge_keyfile(s, kf, name, error);
}

bool config_source_merge_file(ConfigSource *s, const char *path, bool must_exist, GError **error) {
        g_autofree char *data = NULL;
        g_autoptr(GError) e = NULL;
        size_t len;

        if (!g_file_get_contents(path, &data, &len, &e)) {
                if (!must_exist && g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return true;
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "cannot read %s: %s", path, e->message);
                return false;
        }
        g_ptr_array_add(s->files, g_strdup(path));
        return config_source_merge_data(s, data, len, path, error);
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

bool config_source_merge_dropins(ConfigSource *s, const char *path, GError **error) {
        g_autofree char *dropin_dir = g_strconcat(path, ".d", NULL);
        g_autoptr(GDir) dir = g_dir_open(dropin_dir, 0, NULL);
        g_autoptr(GPtrArray) dropins = g_ptr_array_new_with_free_func(g_free);
        const char *name;

        while (dir && (name = g_dir_read_name(dir)))
                if (g_str_has_suffix(name, ".conf"))
                        g_ptr_array_add(dropins, g_build_filename(dropin_dir, name, NULL));
        g_ptr_array_sort(dropins, compare_strings);
        for (unsigned i = 0; i < dropins->len; i++)
                if (!config_source_merge_file(s, dropins->pdata[i], true, error))
                        return false;
        return true;
}

/* The user's groups replace the default ones wholesale; a mix would surprise. A default
 * group stays when no user file declares a group, or when a user file sets one of its keys
 * (it is then the user's). */
void config_source_drop_replaced_groups(ConfigSource *s) {
        g_autoptr(GKeyFile) defaults = NULL;
        g_auto(GStrv) sections = NULL;

        if (s->declared->len == 0)
                return;
        defaults = config_defaults_keyfile();
        sections = g_key_file_get_groups(defaults, NULL);
        for (char **sec = sections; *sec; sec++) {
                g_auto(GStrv) keys = NULL;
                bool from_user = false;

                if (!g_str_has_prefix(*sec, GROUP_PREFIX))
                        continue;
                keys = g_key_file_get_keys(s->merged, *sec, NULL, NULL);
                for (char **k = keys; k && *k; k++) {
                        g_autofree char *id = origin_key(*sec, *k);
                        from_user |= g_hash_table_contains(s->origin, id);
                }
                if (!from_user)
                        g_key_file_remove_group(s->merged, *sec, NULL);
        }
}
