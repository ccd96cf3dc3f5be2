/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <glib.h>

#include "base/text.h"

char *text_printable(const char *s) {
        char *out = g_utf8_make_valid(s ? s : "", -1);
        for (char *p = out; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return out;
}
