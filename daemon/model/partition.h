/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "model/config.h"
#include "model/topology.h"

typedef enum DiagSeverity {
        DIAG_ERROR,
        DIAG_WARNING,
} DiagSeverity;

/* One thing wrong (error) or worth knowing (warning) about a partition. rule is a stable
 * identifier ("overlap", "cpu-missing"...) that tools can match; message is for people
 * and names the group, the CPUs and the rule's reason. */
typedef struct Diagnostic {
        DiagSeverity severity;
        const char *rule;
        char *group;   /* "housekeeping", a group's name, or NULL for the whole partition */
        CpuMask cpus;
        char *message;
} Diagnostic;

void diagnostic_free(Diagnostic *d);

/* Rules: errors for an empty housekeeping set or group, CPUs claimed twice, CPUs that
 * do not exist or are offline, the boot CPU outside housekeeping; warnings for SMT
 * siblings split across groups, groups spanning L3 domains, and CPUs in no group.
 * Returns a GPtrArray of Diagnostic*, errors first. */
GPtrArray *partition_validate(const Config *c, const Topology *t);
unsigned diagnostics_count(const GPtrArray *diags, DiagSeverity severity);
const char *diag_severity_to_string(DiagSeverity s);
