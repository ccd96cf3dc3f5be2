/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "audits.h"
#include "enforcer.h"

/* The running kernel's build cannot change before a reboot: this enforcer only reports
 * the shared audit (audits.c); isoctl kernel-audit lists the options to build with. */
static int kernel_config_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        if (!ctx->audits->kernel_config) {
                g_ptr_array_add(findings, finding_new("kernel-config", "config", "a readable kernel configuration",
                                                      "(absent)", false, ctx->audits->kconfig_error));
                return 0;
        }
        findings_add_audit(findings, "kernel-config", ctx->audits->kernel_config);
        return 0;
}

const EnforcerOps enforcer_kernel_config = {
        .name = "kernel-config",
        .verify = kernel_config_verify,
};
