/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "config.h"
#include "finding.h"
#include "root.h"
#include "topology.h"

/* What an enforcer sees: the machine and the desired partition. */
typedef struct EnforcerContext {
        const Root *root;
        const Config *config;
        const Topology *topology;
        bool dry_run;
} EnforcerContext;

/* One domain of the live system (IRQs, cpusets, kernel threads...), all with the same
 * shape. verify observes the live state and appends a Finding for every difference from
 * the desired state. apply makes the live state match, saving each original before its
 * first write, and appends a Finding for what it changed or could not change; NULL for
 * a read-only domain. revert restores the saved originals; NULL when nothing is written.
 * All return 0 or a negative errno for a failure of the enforcer itself (a kernel file
 * that refuses a value is a finding, not a failure). Adding an enforcer is adding a file
 * and a line in enforcer.c. */
typedef struct EnforcerOps {
        const char *name;
        int (*verify)(const EnforcerContext *ctx, GPtrArray *findings);
        int (*apply)(const EnforcerContext *ctx, GPtrArray *changes);
        int (*revert)(const EnforcerContext *ctx);
} EnforcerOps;

/* NULL-terminated, in the order they run. */
extern const EnforcerOps *const enforcers[];

extern const EnforcerOps enforcer_boot_params;
extern const EnforcerOps enforcer_kernel_config;
