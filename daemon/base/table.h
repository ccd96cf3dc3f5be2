/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdio.h>

/* A plain text table for people: a header row, columns padded to their widest cell. */
typedef struct Table Table;

Table *table_new(const char *first_header, ...) G_GNUC_NULL_TERMINATED;
void table_free(Table *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Table, table_free)

/* Exactly as many cells as headers; NULL prints as "-". */
void table_add_row(Table *t, ...);
void table_print(const Table *t, FILE *f);
