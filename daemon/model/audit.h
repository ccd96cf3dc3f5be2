/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* One checked setting of the running system against what the partition needs: a boot
 * parameter, a kernel config option, a live sysfs value. The shape of a finding:
 * name (the object), expected, actual, a state and the reason it matters. */
typedef enum AuditState {
        AUDIT_OK,
        AUDIT_MISSING,
        AUDIT_DIFFERENT,
} AuditState;

typedef struct AuditItem {
        char *name;
        char *expected;   /* NULL for a bare flag such as "nosoftlockup" */
        char *actual;     /* NULL when absent */
        AuditState state;
        bool required;    /* false: recommended, the partition works without it */
        const char *reason;
} AuditItem;

AuditItem *audit_item_new(const char *name, const char *expected, bool required, const char *reason);
void audit_item_free(AuditItem *item);
const char *audit_state_to_string(AuditState s);
/* The item of that name, or NULL. */
const AuditItem *audit_find(const GPtrArray *items, const char *name);
/* Items that are required and not ok. */
unsigned audit_count_problems(const GPtrArray *items);
