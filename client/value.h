/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* A D-Bus value read generically, to print as JSON or to pick fields from: a{s*} becomes
 * an object, other arrays and structs lists, variants their content. */
typedef enum ValueKind {
        VALUE_BOOL,
        VALUE_INT,
        VALUE_UINT,
        VALUE_DOUBLE,
        VALUE_STRING,
        VALUE_LIST,
        VALUE_OBJECT,
} ValueKind;

typedef struct Value {
        ValueKind kind;
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        char *s;
        GPtrArray *items; /* Value*, for lists and objects */
        GPtrArray *keys;  /* char*, for objects */
} Value;

void value_free(Value *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Value, value_free)

/* Reads one complete value at the message's position. */
int value_read(sd_bus_message *m, Value **out);
Value *value_new_object(void);
Value *value_new_list(void);
Value *value_new_string(const char *s);
void value_object_add(Value *obj, const char *key, Value *v);

const Value *value_get(const Value *obj, const char *key);
const char *value_get_str(const Value *obj, const char *key);  /* "" if absent */
uint64_t value_get_uint(const Value *obj, const char *key);    /* 0 if absent */
bool value_get_bool(const Value *obj, const char *key);
/* "a, b" for a list of strings. */
char *value_join(const Value *list, const char *sep);

void value_to_json(const Value *v, GString *out);
