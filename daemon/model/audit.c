/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "model/audit.h"

AuditItem *audit_item_new(const char *name, const char *expected, bool required, const char *reason) {
        AuditItem *item = g_new0(AuditItem, 1);
        item->name = g_strdup(name);
        item->expected = g_strdup(expected);
        item->state = AUDIT_MISSING;
        item->required = required;
        item->reason = reason;
        return item;
}

void audit_item_free(AuditItem *item) {
        if (!item)
                return;
        g_free(item->name);
        g_free(item->expected);
        g_free(item->actual);
        g_free(item);
}

const char *audit_state_to_string(AuditState s) {
        switch (s) {
        case AUDIT_OK: return "ok";
        case AUDIT_MISSING: return "missing";
        case AUDIT_DIFFERENT: return "different";
        }
        return "unknown";
}

const AuditItem *audit_find(const GPtrArray *items, const char *name) {
        for (unsigned i = 0; i < items->len; i++) {
                const AuditItem *it = items->pdata[i];
                if (g_str_equal(it->name, name))
                        return it;
        }
        return NULL;
}

unsigned audit_count_problems(const GPtrArray *items) {
        unsigned n = 0;
        for (unsigned i = 0; i < items->len; i++) {
                const AuditItem *it = items->pdata[i];
                n += it->required && it->state != AUDIT_OK;
        }
        return n;
}
