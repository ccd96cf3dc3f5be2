/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "audits.h"
#include "enforcer.h"

/* The running kernel's build cannot change before a reboot: this enforcer only reports
 * the shared audit (audits.c); isoctl kernel-audit lists the options to build with. */
static void kernel_config_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        g_autoptr(GPtrArray) findings = findings_new();
        if (!ctx->audits->kernel_config)
                g_ptr_array_add(findings, finding_new("kernel-config", "config", "a readable kernel configuration",
                                                      "(absent)", false, ctx->audits->kconfig_error));
        else
                findings_add_audit(findings, "kernel-config", ctx->audits->kernel_config);
        differences_add_findings(diffs, findings);
}

const EnforcerOps enforcer_kernel_config = {
        .name = "kernel-config",
        .diff = kernel_config_diff,
};
