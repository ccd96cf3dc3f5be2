/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <ctype.h>
#include <string.h>

#include "base/error.h"
#include "model/audit.h"
#include "model/bootline.h"
#include "model/bootparams.h"

#define GRUB_ASSIGN_PREFIX "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT "

static bool param_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '=' || c == ',' || c == ':' ||
               c == '/' || c == '-';
}

char **bootline_parse(const char *text, GError **error) {
        g_autoptr(GPtrArray) params = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        size_t len;

        assert(text);
        len = strlen(text);
        if (len > 0 && text[len - 1] == '\n')
                len--; /* a request file's one line */
        if (len == 0 || len > BOOTLINE_MAX) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                            "refused: a boot line holds 1 to %d bytes; this one %zu", BOOTLINE_MAX, len);
                return NULL;
        }
        for (size_t i = 0; i < len; i++) {
                char c = text[i];
                /* Nothing a shell, GRUB's script or a loader entry would read as syntax:
                 * no quote, $, backslash, newline; words apart by one space. */
                if (param_char(c) || (c == ' ' && i > 0 && i + 1 < len && text[i + 1] != ' '))
                        continue;
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                            "refused: byte %zu of the boot line (0x%02x) is not one a parameter isolatord writes holds", i,
                            (unsigned char) c);
                return NULL;
        }
        g_autofree char *copy = g_strndup(text, len);
        g_auto(GStrv) tokens = g_strsplit(copy, " ", -1);
        for (char **t = tokens; *t; t++) {
                g_autofree char *why = NULL;
                const char *eq = strchr(*t, '=');
                g_autofree char *key = eq ? g_strndup(*t, (gsize) (eq - *t)) : g_strdup(*t);

                if (!bootparams_valid(key, eq ? eq + 1 : NULL, &why)) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "refused: %s", why);
                        return NULL;
                }
                if (!g_hash_table_add(keys, g_steal_pointer(&key))) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "refused: %s is given twice", *t);
                        return NULL;
                }
                g_ptr_array_add(params, g_strdup(*t));
        }
        g_ptr_array_add(params, NULL);
        return (char **) g_ptr_array_free(g_steal_pointer(&params), false);
}

char *bootline_grub_render(char *const *params) {
        g_autofree char *line = g_strjoinv(" ", (char **) params);
        return g_strdup_printf("%s\n"
                               "# The kernel parameters isolatord's CPU partition needs, added to the default\n"
                               "# entries (not the recovery ones). Change the partition, not this file.\n"
                               GRUB_ASSIGN_PREFIX "%s\"\n",
                               BOOTLINE_GRUB_MARKER, line);
}

char **bootline_grub_parse(const char *text, GError **error) {
        g_auto(GStrv) lines = NULL;
        const char *assignment = NULL;
        size_t n;

        assert(text);
        lines = g_strsplit(text, "\n", -1);
        n = g_strv_length(lines);
        if (n > 0 && !*lines[n - 1])
                n--; /* the last newline */
        if (n == 0 || !g_str_equal(lines[0], BOOTLINE_GRUB_MARKER)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_NOT_FOUND, "its first line is not isolatord's");
                return NULL;
        }
        for (size_t i = 1; i < n; i++) {
                if (lines[i][0] == '#')
                        continue;
                if (assignment || !g_str_has_prefix(lines[i], GRUB_ASSIGN_PREFIX) || !g_str_has_suffix(lines[i], "\"")) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_NOT_FOUND, "line %zu is not one isolatord writes", i + 1);
                        return NULL;
                }
                assignment = lines[i];
        }
        if (!assignment) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_NOT_FOUND, "it sets nothing");
                return NULL;
        }
        g_autofree char *line = g_strndup(assignment + strlen(GRUB_ASSIGN_PREFIX),
                                          strlen(assignment) - strlen(GRUB_ASSIGN_PREFIX) - 1);
        return bootline_parse(line, error);
}

char **bootline_split_raw(const char *text) {
        GPtrArray *tokens = g_ptr_array_new();
        const char *p = text;

        for (;;) {
                const char *start;
                bool quoted = false;

                while (*p && isspace((unsigned char) *p))
                        p++;
                if (!*p)
                        break;
                for (start = p; *p && (quoted || !isspace((unsigned char) *p)); p++)
                        if (*p == '"')
                                quoted = !quoted;
                g_ptr_array_add(tokens, g_strndup(start, (gsize) (p - start)));
        }
        g_ptr_array_add(tokens, NULL);
        return (char **) g_ptr_array_free(tokens, false);
}

char *bootline_token_key(const char *token) {
        GString *key = g_string_new(NULL);
        for (const char *p = token; *p && *p != '='; p++)
                if (*p != '"')
                        g_string_append_c(key, *p);
        return g_string_free(key, false);
}

static bool has_key(char *const *params, const char *key) {
        for (char *const *p = params; *p; p++) {
                g_autofree char *k = bootline_token_key(*p);
                if (g_str_equal(k, key))
                        return true;
        }
        return false;
}

char *bootline_cmdline_merge(const char *base, char *const *params) {
        g_auto(GStrv) tokens = bootline_split_raw(base ? base : "");
        GString *out = g_string_new(NULL);
        bool placed = false;

        for (char **t = tokens; *t; t++) {
                g_autofree char *key = bootline_token_key(*t);
                if (!placed && g_str_equal(*t, "--")) {
                        /* What follows "--" is init's: the kernel's parameters go before it. */
                        for (char *const *p = params; *p; p++)
                                g_string_append_printf(out, "%s%s", out->len ? " " : "", *p);
                        placed = true;
                } else if (!placed && has_key(params, key))
                        continue;
                g_string_append_printf(out, "%s%s", out->len ? " " : "", *t);
        }
        for (char *const *p = params; !placed && *p; p++)
                g_string_append_printf(out, "%s%s", out->len ? " " : "", *p);
        g_string_append_c(out, '\n');
        return g_string_free(out, false);
}

char *bootline_cmdline_from_proc(const char *proc_cmdline) {
        g_auto(GStrv) tokens = bootline_split_raw(proc_cmdline ? proc_cmdline : "");
        GString *out = g_string_new(NULL);
        for (char **t = tokens; *t; t++)
                if (!g_str_has_prefix(*t, "BOOT_IMAGE=") && !g_str_has_prefix(*t, "initrd="))
                        g_string_append_printf(out, "%s%s", out->len ? " " : "", *t);
        return g_string_free(out, false);
}

void boot_entry_free(BootEntry *e) {
        if (!e)
                return;
        g_free(e->title);
        g_free(e->cmdline);
        g_free(e);
}

/* The first quoted word after a menuentry keyword: its title. */
static char *menuentry_title(const char *p) {
        char quote;
        const char *end;

        while (*p && isspace((unsigned char) *p))
                p++;
        if (*p != '\'' && *p != '"')
                return NULL;
        quote = *p++;
        end = strchr(p, quote);
        return end ? g_strndup(p, (gsize) (end - p)) : NULL;
}

/* "linux /vmlinuz-6.1 root=... ro quiet": the arguments after the keyword and the image. */
static char *kernel_args(const char *line, const char *const *keywords) {
        const char *p = line;
        while (*p && isspace((unsigned char) *p))
                p++;
        for (const char *const *k = keywords; *k; k++) {
                size_t n = strlen(*k);
                if (strncmp(p, *k, n) != 0 || !isspace((unsigned char) p[n]))
                        continue;
                p += n;
                while (*p && isspace((unsigned char) *p))
                        p++;
                while (*p && !isspace((unsigned char) *p))
                        p++; /* the image */
                while (*p && isspace((unsigned char) *p))
                        p++;
                return g_strchomp(g_strdup(p));
        }
        return NULL;
}

GPtrArray *bootline_grub_cfg_entries(const char *text) {
        static const char *const linux_words[] = { "linux", "linux16", "linuxefi", NULL };
        GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify) boot_entry_free);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        g_autofree char *title = NULL;

        for (char **l = lines; *l; l++) {
                const char *p = *l;
                char *args;
                while (*p && isspace((unsigned char) *p))
                        p++;
                if (g_str_has_prefix(p, "menuentry ") || g_str_has_prefix(p, "menuentry\t")) {
                        g_free(title);
                        title = menuentry_title(p + strlen("menuentry"));
                        continue;
                }
                if (!title || !(args = kernel_args(p, linux_words)))
                        continue;
                BootEntry *e = g_new0(BootEntry, 1);
                e->title = g_strdup(title);
                e->cmdline = args;
                e->recovery = strstr(title, "recovery mode") != NULL;
                g_ptr_array_add(entries, e);
                g_clear_pointer(&title, g_free); /* one kernel per entry */
        }
        return entries;
}

char **bootline_grub_cfg_titles(const char *text) {
        GPtrArray *titles = g_ptr_array_new();
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

        for (char **l = lines; *l; l++) {
                const char *p = *l;
                char *title;
                while (*p && isspace((unsigned char) *p))
                        p++;
                if ((g_str_has_prefix(p, "menuentry ") || g_str_has_prefix(p, "menuentry\t")) &&
                    (title = menuentry_title(p + strlen("menuentry"))))
                        g_ptr_array_add(titles, title);
        }
        g_ptr_array_add(titles, NULL);
        return (char **) g_ptr_array_free(titles, false);
}

BootEntry *bootline_bls_entry(const char *text) {
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        g_autoptr(GString) options = g_string_new(NULL);
        g_autoptr(BootEntry) e = g_new0(BootEntry, 1);
        bool has_linux = false;

        for (char **l = lines; *l; l++) {
                const char *p = *l;
                while (*p && isspace((unsigned char) *p))
                        p++;
                const char *value = p;
                while (*value && !isspace((unsigned char) *value))
                        value++;
                g_autofree char *key = g_strndup(p, (gsize) (value - p));
                while (*value && isspace((unsigned char) *value))
                        value++;
                if (g_str_equal(key, "title") && !e->title)
                        e->title = g_strchomp(g_strdup(value));
                else if (g_str_equal(key, "linux"))
                        has_linux = true;
                else if (g_str_equal(key, "options")) {
                        g_autofree char *v = g_strchomp(g_strdup(value));
                        g_string_append_printf(options, "%s%s", options->len ? " " : "", v);
                }
        }
        if (!has_linux)
                return NULL;
        e->cmdline = g_strdup(options->str);
        e->recovery = e->title && strstr(e->title, "recovery mode") != NULL;
        return g_steal_pointer(&e);
}

char **bootline_lacks(char *const *params, const char *cmdline) {
        g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) audit_item_free);
        GPtrArray *lacks = g_ptr_array_new();

        for (char *const *p = params; *p; p++) {
                const char *eq = strchr(*p, '=');
                g_autofree char *key = eq ? g_strndup(*p, (gsize) (eq - *p)) : g_strdup(*p);
                g_ptr_array_add(items, audit_item_new(key, eq ? eq + 1 : NULL, true, NULL));
        }
        bootparams_compare(items, cmdline ? cmdline : "");
        for (unsigned i = 0; i < items->len; i++)
                if (((AuditItem *) items->pdata[i])->state != AUDIT_OK)
                        g_ptr_array_add(lacks, g_strdup(params[i]));
        g_ptr_array_add(lacks, NULL);
        return (char **) g_ptr_array_free(lacks, false);
}
