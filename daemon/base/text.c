/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <glib.h>
#include <string.h>

#include "base/text.h"

char *text_printable(const char *s) {
        char *out = g_utf8_make_valid(s ? s : "", -1);
        for (char *p = out; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return out;
}

const char *text_file_name(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

/* Past the UTF-8 character at p: its first byte and the continuation bytes after it (in
 * invalid text, a run of stray continuation bytes counts as one character). */
static const char *next_char(const char *p) {
        p++;
        while ((*p & 0xC0) == 0x80)
                p++;
        return p;
}

bool text_glob_match(const char *glob, const char *text) {
        /* The last '*' seen and where the text is taken up again when what follows it
         * fails: one character further each time, so a '*' never ends inside one. */
        const char *after_star = NULL, *retry = NULL;

        for (;;) {
                if (*glob == '*') {
                        after_star = ++glob;
                        retry = text;
                } else if (!*text)
                        return !*glob; /* what the glob still wants, a shorter run cannot give */
                else if (*glob == '?') {
                        glob++;
                        text = next_char(text);
                } else if (*glob && *glob == *text) {
                        glob++;
                        text++;
                } else if (after_star) {
                        retry = next_char(retry);
                        text = retry;
                        glob = after_star;
                } else
                        return false;
        }
}
