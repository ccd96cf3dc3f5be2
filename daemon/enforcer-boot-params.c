/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "audits.h"
#include "enforcer.h"

/* The boot command line is fixed until the next boot: this enforcer only reports what
 * the shared audit found (audits.c); the user fixes it (isoctl boot-params prints the
 * line to add). */
static void boot_params_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        g_autoptr(GPtrArray) findings = findings_new();
        findings_add_audit(findings, "boot-parameter", ctx->audits->boot_params);
        findings_add_audit(findings, "kernel-isolation", ctx->audits->live);
        differences_add_findings(diffs, findings);
}

const EnforcerOps enforcer_boot_params = {
        .name = "boot-params",
        .diff = boot_params_diff,
};
