/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
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

/* A word of GRUB's script as grub-mkconfig quotes it: 'single' (a quote inside written
 * '\'' by grub_quote), "double" (with \ escapes) and \x, up to a blank or "{" outside
 * quotes; *end is set past it. NULL when there is no word or a quote is not closed. */
static char *grub_word(const char *p, const char **end) {
        GString *w = g_string_new(NULL);
        bool any = false;

        while (*p && isspace((unsigned char) *p))
                p++;
        while (*p && !isspace((unsigned char) *p) && *p != '{') {
                any = true;
                if (*p == '\'') {
                        const char *close = strchr(p + 1, '\'');
                        if (!close)
                                goto bad;
                        g_string_append_len(w, p + 1, close - p - 1);
                        p = close + 1;
                } else if (*p == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && p[1])
                                        p++;
                                g_string_append_c(w, *p);
                        }
                        if (*p != '"')
                                goto bad;
                        p++;
                } else {
                        if (*p == '\\' && p[1])
                                p++;
                        g_string_append_c(w, *p++);
                }
        }
        if (!any)
                goto bad;
        *end = p;
        return g_string_free(w, false);
bad:
        *end = p;
        g_string_free(w, true);
        return NULL;
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

/* The value of a menuentry's $menuentry_id_option or --id, in what follows its title. */
static char *menuentry_id(const char *p) {
        const char *end;
        while (*p) {
                g_autofree char *word = grub_word(p, &end);
                if (end == p)
                        break;
                p = end;
                if (!word)
                        return NULL;
                if (g_str_equal(word, "$menuentry_id_option") || g_str_equal(word, "--id"))
                        return grub_word(p, &end);
                if (g_str_has_prefix(word, "--id="))
                        return g_strdup(word + strlen("--id="));
        }
        return NULL;
}

/* Items of a menu read at most (a generated one has a few per kernel installed). */
#define GRUB_MENU_MAX 4096

/* One item of a grub.cfg's menu: a menuentry or a submenu. */
typedef struct MenuItem {
        char *title;
        char *id;
        int parent;    /* the submenu holding it (an index into the menu), -1 at the top */
        bool submenu;
        char *cmdline; /* a menuentry's first linux line's arguments; NULL when it has none */
} MenuItem;

static void menu_item_free(MenuItem *m) {
        g_free(m->title);
        g_free(m->id);
        g_free(m->cmdline);
        g_free(m);
}

/* A large text's lines one at a time, each copied into one reused buffer: a grub.cfg
 * may be megabytes, split whole it would be a string per line. */
typedef struct Lines {
        const char *at, *end;
        GString *line;
} Lines;

static Lines lines_of(const char *text) {
        return (Lines) { .at = text, .end = text + strlen(text), .line = g_string_new(NULL) };
}

static const char *lines_next(Lines *ls) {
        if (!ls->at)
                return NULL;
        const char *nl = memchr(ls->at, '\n', (size_t) (ls->end - ls->at));
        g_string_truncate(ls->line, 0);
        g_string_append_len(ls->line, ls->at, (nl ? nl : ls->end) - ls->at);
        ls->at = nl ? nl + 1 : NULL;
        return ls->line->str;
}

static void lines_clear(Lines *ls) {
        g_string_free(ls->line, true);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Lines, lines_clear)

/* The menu as grub-mkconfig writes it: every menuentry and submenu in order, with the
 * submenu that holds it (braces opened at a line's end, closed by a line of "}"). */
static GPtrArray *grub_menu(const char *text) {
        static const char *const linux_words[] = { "linux", "linux16", "linuxefi", NULL };
        GPtrArray *menu = g_ptr_array_new_with_free_func((GDestroyNotify) menu_item_free);
        /* Per brace open: the submenu its lines are in (-1: the top). */
        g_autoptr(GArray) open = g_array_new(false, false, sizeof(int));
        g_auto(Lines) lines = lines_of(text);
        MenuItem *current = NULL; /* the last menuentry, until its kernel */

        for (const char *l; (l = lines_next(&lines));) {
                const char *p = l;
                bool sub = false;
                size_t len;
                char *args;

                while (*p && isspace((unsigned char) *p))
                        p++;
                len = strlen(p);
                while (len > 0 && isspace((unsigned char) p[len - 1]))
                        len--;
                if (len == 1 && p[0] == '}') {
                        if (open->len > 0)
                                g_array_set_size(open, open->len - 1);
                        continue;
                }
                if (g_str_has_prefix(p, "menuentry ") || g_str_has_prefix(p, "menuentry\t") ||
                    (sub = g_str_has_prefix(p, "submenu ") || g_str_has_prefix(p, "submenu\t"))) {
                        const char *rest = p + (sub ? strlen("submenu") : strlen("menuentry")), *after;
                        int parent = open->len > 0 ? g_array_index(open, int, open->len - 1) : -1;
                        if (menu->len >= GRUB_MENU_MAX)
                                break; /* no menu is this long: what follows is not read */
                        MenuItem *m = g_new0(MenuItem, 1);
                        m->title = grub_word(rest, &after);
                        m->id = m->title ? menuentry_id(after) : NULL;
                        m->parent = parent;
                        m->submenu = sub;
                        g_ptr_array_add(menu, m);
                        current = sub || !m->title ? NULL : m;
                        if (len > 0 && p[len - 1] == '{') {
                                int inside = sub ? (int) menu->len - 1 : parent;
                                g_array_append_val(open, inside);
                        }
                        continue;
                }
                if (len > 0 && p[len - 1] == '{') {
                        int inside = open->len > 0 ? g_array_index(open, int, open->len - 1) : -1; /* a function */
                        g_array_append_val(open, inside);
                        continue;
                }
                if (!current || !(args = kernel_args(p, linux_words)))
                        continue;
                current->cmdline = args;
                current = NULL; /* one kernel per entry */
        }
        return menu;
}

static bool is_kernel_entry(const MenuItem *m) {
        return !m->submenu && m->cmdline;
}

GPtrArray *bootline_grub_cfg_entries(const char *text) {
        GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify) boot_entry_free);
        g_autoptr(GPtrArray) menu = grub_menu(text);

        for (unsigned i = 0; i < menu->len; i++) {
                MenuItem *m = menu->pdata[i];
                if (!is_kernel_entry(m))
                        continue;
                BootEntry *e = g_new0(BootEntry, 1);
                e->title = g_strdup(m->title);
                e->cmdline = g_strdup(m->cmdline);
                e->recovery = strstr(m->title, "recovery mode") != NULL;
                g_ptr_array_add(entries, e);
        }
        return entries;
}

char **bootline_grub_cfg_titles(const char *text) {
        GPtrArray *titles = g_ptr_array_new();
        g_autoptr(GPtrArray) menu = grub_menu(text);

        for (unsigned i = 0; i < menu->len; i++) {
                MenuItem *m = menu->pdata[i];
                if (!m->submenu && m->title)
                        g_ptr_array_add(titles, g_strdup(m->title));
        }
        g_ptr_array_add(titles, NULL);
        return (char **) g_ptr_array_free(titles, false);
}

/* A variable of grubenv's text ("name=value" lines): NULL when unset or empty. */
static char *grubenv_get(const char *grubenv, const char *name) {
        g_auto(GStrv) lines = g_strsplit(grubenv ? grubenv : "", "\n", -1);
        size_t n = strlen(name);
        for (char **l = lines; *l; l++)
                if (strncmp(*l, name, n) == 0 && (*l)[n] == '=' && (*l)[n + 1])
                        return g_strdup(*l + n + 1);
        return NULL;
}

/* The value of a "set default=..." line, quotes removed. */
static char *set_default_value(const char *p) {
        size_t len;
        if (!g_str_has_prefix(p, "set default="))
                return NULL;
        p += strlen("set default=");
        len = strlen(p);
        while (len > 0 && isspace((unsigned char) p[len - 1]))
                len--;
        if (len >= 2 && (p[0] == '"' || p[0] == '\'') && p[len - 1] == p[0])
                return g_strndup(p + 1, len - 2);
        return g_strndup(p, len);
}

/* A default's path split at each ">" that is not ">>" (GRUB's escape of a ">" in a
 * title). */
static char **default_parts(const char *path) {
        GPtrArray *parts = g_ptr_array_new();
        GString *part = g_string_new(NULL);
        for (const char *p = path;; p++) {
                if (*p == '>' && p[1] == '>') {
                        g_string_append_c(part, '>');
                        p++;
                } else if (*p == '>' || !*p) {
                        g_ptr_array_add(parts, g_string_free(part, false));
                        if (!*p)
                                break;
                        part = g_string_new(NULL);
                } else
                        g_string_append_c(part, *p);
        }
        g_ptr_array_add(parts, NULL);
        return (char **) g_ptr_array_free(parts, false);
}

/* The nth item in the submenu parent (-1: the top), or -1. */
static int menu_child(GPtrArray *menu, int parent, long nth) {
        for (unsigned i = 0, seen = 0; i < menu->len; i++)
                if (((MenuItem *) menu->pdata[i])->parent == parent && seen++ == nth)
                        return (int) i;
        return -1;
}

/* The item GRUB boots for a default path ("2", "1>2", "Advanced options...>Debian...,
 * with Linux 6.1", an id, or a mix), as it reads one: a number when the part starts with
 * digits (strtoul, base 0), else a title or an id; one level at a time, the rest handed
 * to the submenu entered, which boots its first item when the rest names none; a path
 * that goes on past an entry boots that entry. -1 when the top names nothing. */
static int menu_find(GPtrArray *menu, const char *path, bool *fell_back) {
        g_auto(GStrv) parts = default_parts(path);
        int parent = -1, found = -1;

        *fell_back = false;
        for (char **part = parts; *part; part++) {
                const char *p = *part;
                char *end;
                while (isspace((unsigned char) *p))
                        p++;
                unsigned long long n = g_ascii_strtoull(p, &end, 0);
                found = -1;
                if (end != p)
                        found = n < G_MAXINT ? menu_child(menu, parent, (long) n) : -1;
                else
                        for (unsigned i = 0; i < menu->len && found < 0; i++) {
                                MenuItem *m = menu->pdata[i];
                                if (m->parent == parent && ((m->title && g_str_equal(m->title, *part)) ||
                                                            (m->id && g_str_equal(m->id, *part))))
                                        found = (int) i;
                        }
                if (found < 0 && parent < 0)
                        return -1;
                if (found < 0) {
                        *fell_back = true;
                        return menu_child(menu, parent, 0);
                }
                if (!((MenuItem *) menu->pdata[found])->submenu)
                        return found;
                parent = found;
        }
        return found;
}

/* grub-mkconfig's header: whether it boots next_entry (grub-reboot's, once) when set,
 * and the configured default ("${saved_entry}" for GRUB_DEFAULT=saved; NULL: none). */
static char *grub_header_default(const char *cfg, bool *honours_next) {
        g_auto(Lines) lines = lines_of(cfg);
        char *value = NULL;
        int depth = 0;

        *honours_next = false;
        for (const char *l; (l = lines_next(&lines));) {
                const char *p = l;
                size_t len;
                while (*p && isspace((unsigned char) *p))
                        p++;
                len = strlen(p);
                while (len > 0 && isspace((unsigned char) p[len - 1]))
                        len--;
                if (len == 1 && p[0] == '}')
                        depth -= depth > 0;
                else if (len > 0 && p[len - 1] == '{')
                        depth++;
                else if (depth == 0) {
                        g_autofree char *v = set_default_value(p);
                        if (v && g_str_equal(v, "${next_entry}"))
                                *honours_next = true;
                        else if (v)
                                g_free(value), value = g_steal_pointer(&v);
                }
        }
        return value;
}

bool bootline_grub_default_reads_env(const char *cfg) {
        bool honours_next;
        g_autofree char *value = grub_header_default(cfg, &honours_next);
        return honours_next || (value && g_str_equal(value, "${saved_entry}"));
}

int bootline_grub_default(const char *cfg, const char *grubenv, char **how) {
        g_autoptr(GPtrArray) menu = grub_menu(cfg);
        g_autofree char *next = NULL, *path = NULL;
        bool honours_next;
        g_autofree char *value = grub_header_default(cfg, &honours_next);
        int at, index;

        if (honours_next && (next = grubenv_get(grubenv, "next_entry"))) {
                path = g_strdup(next);
                *how = g_strdup_printf("grub-reboot's next_entry \"%s\" in grubenv, for one boot", next);
        } else if (!value) {
                path = g_strdup("0");
                *how = g_strdup("no default set: the first entry");
        } else if (g_str_equal(value, "${saved_entry}")) {
                g_autofree char *saved = grubenv_get(grubenv, "saved_entry");
                path = g_strdup(saved ? saved : "0");
                *how = saved ? g_strdup_printf("GRUB_DEFAULT=saved: saved_entry \"%s\" in grubenv", saved)
                             : g_strdup("GRUB_DEFAULT=saved, and grubenv saves no entry: the first entry");
        } else if (strchr(value, '$')) {
                path = g_strdup("0");
                *how = g_strdup_printf("a default of \"%s\" is not read: the first entry", value);
        } else {
                path = g_strdup(value);
                *how = g_strdup_printf("GRUB_DEFAULT=%s", value);
        }
        bool fell_back;
        at = menu_find(menu, path, &fell_back);
        if (fell_back) {
                g_autofree char *was = g_steal_pointer(how);
                *how = g_strdup_printf("%s names no entry in its submenu: the submenu's first", was);
        }
        if (at < 0) {
                /* GRUB boots the first entry when its default names none. */
                g_autofree char *was = g_steal_pointer(how);
                *how = g_strdup_printf("%s names no entry: the first entry", was);
                at = menu->len > 0 ? 0 : -1;
        }
        /* A submenu boots its first entry. */
        for (bool deeper = true; at >= 0 && deeper && ((MenuItem *) menu->pdata[at])->submenu;) {
                deeper = false;
                for (unsigned i = (unsigned) at + 1; i < menu->len; i++)
                        if (((MenuItem *) menu->pdata[i])->parent == at) {
                                at = (int) i;
                                deeper = true;
                                break;
                        }
        }
        if (at >= 0 && !is_kernel_entry(menu->pdata[at])) {
                g_autofree char *was = g_steal_pointer(how);
                MenuItem *m = menu->pdata[at];
                *how = g_strdup_printf("%s: \"%s\" boots no Linux kernel", was, m->title ? m->title : "?");
        }
        if (at < 0 || !is_kernel_entry(menu->pdata[at]))
                return -1;
        index = 0;
        for (int i = 0; i < at; i++)
                index += is_kernel_entry(menu->pdata[i]);
        return index;
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
