/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "base/table.h"

struct Table {
        unsigned ncols;
        GPtrArray *cells; /* row-major, header row first */
};

Table *table_new(const char *first_header, ...) {
        Table *t = g_new0(Table, 1);
        va_list ap;

        t->cells = g_ptr_array_new_with_free_func(g_free);
        va_start(ap, first_header);
        for (const char *h = first_header; h; h = va_arg(ap, const char *)) {
                g_ptr_array_add(t->cells, g_strdup(h));
                t->ncols++;
        }
        va_end(ap);
        return t;
}

void table_free(Table *t) {
        if (!t)
                return;
        g_ptr_array_unref(t->cells);
        g_free(t);
}

void table_add_row(Table *t, ...) {
        va_list ap;
        va_start(ap, t);
        for (unsigned i = 0; i < t->ncols; i++) {
                const char *c = va_arg(ap, const char *);
                g_ptr_array_add(t->cells, g_strdup(c ? c : "-"));
        }
        va_end(ap);
}

void table_print(const Table *t, FILE *f) {
        g_autofree size_t *width = g_new0(size_t, t->ncols);

        for (unsigned i = 0; i < t->cells->len; i++) {
                size_t w = g_utf8_strlen(t->cells->pdata[i], -1);
                width[i % t->ncols] = MAX(width[i % t->ncols], w);
        }
        for (unsigned i = 0; i < t->cells->len; i++) {
                unsigned col = i % t->ncols;
                const char *cell = t->cells->pdata[i];
                bool last = col == t->ncols - 1;
                fputs(cell, f);
                if (last)
                        fputc('\n', f);
                else
                        fprintf(f, "%*s", (int) (width[col] - g_utf8_strlen(cell, -1) + 2), "");
        }
}
