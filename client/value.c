/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "value.h"

void value_free(Value *v) {
        if (!v)
                return;
        g_free(v->s);
        if (v->items)
                g_ptr_array_unref(v->items);
        if (v->keys)
                g_ptr_array_unref(v->keys);
        g_free(v);
}

static Value *value_new(ValueKind kind) {
        Value *v = g_new0(Value, 1);
        v->kind = kind;
        if (kind == VALUE_LIST || kind == VALUE_OBJECT)
                v->items = g_ptr_array_new_with_free_func((GDestroyNotify) value_free);
        if (kind == VALUE_OBJECT)
                v->keys = g_ptr_array_new_with_free_func(g_free);
        return v;
}

Value *value_new_object(void) {
        return value_new(VALUE_OBJECT);
}

Value *value_new_list(void) {
        return value_new(VALUE_LIST);
}

Value *value_new_string(const char *s) {
        Value *v = value_new(VALUE_STRING);
        v->s = g_strdup(s);
        return v;
}

void value_object_add(Value *obj, const char *key, Value *v) {
        g_ptr_array_add(obj->keys, g_strdup(key));
        g_ptr_array_add(obj->items, v);
}

static int read_basic(sd_bus_message *m, char type, Value **out) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
        } x;
        Value *v;
        int r = sd_bus_message_read_basic(m, type, &x);
        if (r < 0)
                return r;
        switch (type) {
        case 'b': v = value_new(VALUE_BOOL); v->b = x.b; break;
        case 'y': v = value_new(VALUE_UINT); v->u = x.y; break;
        case 'q': v = value_new(VALUE_UINT); v->u = x.q; break;
        case 'u': v = value_new(VALUE_UINT); v->u = x.u; break;
        case 't': v = value_new(VALUE_UINT); v->u = x.t; break;
        case 'n': v = value_new(VALUE_INT); v->i = x.n; break;
        case 'i': v = value_new(VALUE_INT); v->i = x.i; break;
        case 'x': v = value_new(VALUE_INT); v->i = x.x; break;
        case 'h': v = value_new(VALUE_INT); v->i = x.i; break;
        case 'd': v = value_new(VALUE_DOUBLE); v->d = x.d; break;
        case 's': case 'o': case 'g': v = value_new_string(x.s); break;
        default: return -EBADMSG;
        }
        *out = v;
        return 0;
}

int value_read(sd_bus_message *m, Value **out) {
        g_autoptr(Value) v = NULL;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        switch (type) {
        case SD_BUS_TYPE_VARIANT:
                r = sd_bus_message_enter_container(m, type, contents);
                if (r >= 0)
                        r = value_read(m, &v);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                break;
        case SD_BUS_TYPE_ARRAY: {
                /* a{s...}: an object keyed by the strings. */
                bool object = contents[0] == '{' && contents[1] == 's';
                v = value_new(object ? VALUE_OBJECT : VALUE_LIST);
                r = sd_bus_message_enter_container(m, type, contents);
                while (r >= 0 && (r = sd_bus_message_at_end(m, false)) == 0) {
                        Value *item = NULL;
                        if (object) {
                                const char *key;
                                g_autofree char *entry = g_strndup(contents + 1, strlen(contents) - 2);
                                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, entry);
                                if (r >= 0) r = sd_bus_message_read_basic(m, 's', &key);
                                if (r >= 0) r = value_read(m, &item);
                                if (r >= 0) {
                                        value_object_add(v, key, item);
                                        r = sd_bus_message_exit_container(m);
                                }
                        } else {
                                r = value_read(m, &item);
                                if (r >= 0)
                                        g_ptr_array_add(v->items, item);
                        }
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                break;
        }
        case SD_BUS_TYPE_STRUCT:
                v = value_new(VALUE_LIST);
                r = sd_bus_message_enter_container(m, type, contents);
                while (r >= 0 && (r = sd_bus_message_at_end(m, false)) == 0) {
                        Value *item = NULL;
                        r = value_read(m, &item);
                        if (r >= 0)
                                g_ptr_array_add(v->items, item);
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                break;
        default:
                r = read_basic(m, type, &v);
                break;
        }
        if (r < 0)
                return r;
        *out = g_steal_pointer(&v);
        return 0;
}

const Value *value_get(const Value *obj, const char *key) {
        if (!obj || obj->kind != VALUE_OBJECT)
                return NULL;
        for (unsigned i = 0; i < obj->keys->len; i++)
                if (g_str_equal(obj->keys->pdata[i], key))
                        return obj->items->pdata[i];
        return NULL;
}

const char *value_get_str(const Value *obj, const char *key) {
        const Value *v = value_get(obj, key);
        return v && v->kind == VALUE_STRING ? v->s : "";
}

uint64_t value_get_uint(const Value *obj, const char *key) {
        const Value *v = value_get(obj, key);
        if (!v)
                return 0;
        return v->kind == VALUE_UINT ? v->u : v->kind == VALUE_INT && v->i > 0 ? (uint64_t) v->i : 0;
}

bool value_get_bool(const Value *obj, const char *key) {
        const Value *v = value_get(obj, key);
        return v && v->kind == VALUE_BOOL && v->b;
}

char *value_join(const Value *list, const char *sep) {
        GString *s = g_string_new(NULL);
        for (unsigned i = 0; list && list->items && i < list->items->len; i++) {
                const Value *item = list->items->pdata[i];
                if (item->kind == VALUE_STRING)
                        g_string_append_printf(s, "%s%s", s->len ? sep : "", item->s);
        }
        return g_string_free(s, false);
}

static void json_string(const char *s, GString *out) {
        g_string_append_c(out, '"');
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                switch (*p) {
                case '"': g_string_append(out, "\\\""); break;
                case '\\': g_string_append(out, "\\\\"); break;
                case '\n': g_string_append(out, "\\n"); break;
                case '\t': g_string_append(out, "\\t"); break;
                case '\r': g_string_append(out, "\\r"); break;
                default:
                        if (*p < 0x20)
                                g_string_append_printf(out, "\\u%04x", *p);
                        else
                                g_string_append_c(out, (char) *p);
                }
        }
        g_string_append_c(out, '"');
}

void value_to_json(const Value *v, GString *out) {
        switch (v->kind) {
        case VALUE_BOOL: g_string_append(out, v->b ? "true" : "false"); break;
        case VALUE_INT: g_string_append_printf(out, "%" G_GINT64_FORMAT, v->i); break;
        case VALUE_UINT: g_string_append_printf(out, "%" G_GUINT64_FORMAT, v->u); break;
        case VALUE_DOUBLE: {
                char buf[G_ASCII_DTOSTR_BUF_SIZE];
                g_string_append(out, g_ascii_dtostr(buf, sizeof buf, v->d));
                break;
        }
        case VALUE_STRING: json_string(v->s, out); break;
        case VALUE_LIST:
        case VALUE_OBJECT:
                g_string_append_c(out, v->kind == VALUE_LIST ? '[' : '{');
                for (unsigned i = 0; i < v->items->len; i++) {
                        if (i)
                                g_string_append_c(out, ',');
                        if (v->kind == VALUE_OBJECT) {
                                json_string(v->keys->pdata[i], out);
                                g_string_append_c(out, ':');
                        }
                        value_to_json(v->items->pdata[i], out);
                }
                g_string_append_c(out, v->kind == VALUE_LIST ? ']' : '}');
                break;
        }
}
