/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "model/audit.h"

/* Something the live system does differently from the partition: a stable kind
 * ("boot-parameter", "kernel-config", "partition", later "irq", "cpuset"...), the object
 * (a parameter, an IRQ, a unit), what was expected and what was found. */
typedef struct Finding {
        char *kind;
        char *object;
        char *expected;
        char *actual;
        bool required;   /* false: advice; the partition holds without it */
        char *message;
} Finding;

Finding *finding_new(const char *kind, const char *object, const char *expected, const char *actual,
                     bool required, const char *message);
void finding_free(Finding *f);
Finding *finding_copy(const Finding *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Finding, finding_free)
GPtrArray *findings_new(void);
/* Appends a finding for every item that is not ok. */
void findings_add_audit(GPtrArray *findings, const char *kind, const GPtrArray *items);
unsigned findings_count_required(const GPtrArray *findings);
