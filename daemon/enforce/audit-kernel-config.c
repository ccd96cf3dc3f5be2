/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "enforce/audits.h"
#include "enforce/enforcer.h"

/* The running kernel's build cannot change before a reboot: this audit only reports the
 * shared audit (audits.c); isoctl kernel-audit lists the options to build with. */
static void kernel_config_audit(const EnforcerContext *ctx, GPtrArray *findings) {
        if (!ctx->audits->kernel_config)
                g_ptr_array_add(findings, finding_new("kernel-config", "config", "a readable kernel configuration",
                                                      "(absent)", false, ctx->audits->kconfig_error));
        else
                findings_add_audit(findings, "kernel-config", ctx->audits->kernel_config);
}

const AuditOps audit_kernel_config = {
        .name = "kernel-config",
        .audit = kernel_config_audit,
};
