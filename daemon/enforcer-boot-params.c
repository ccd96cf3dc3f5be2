/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "audits.h"
#include "enforcer.h"

/* The boot command line is fixed until the next boot: this enforcer only reports what
 * the shared audit found (audits.c); the user fixes it (isoctl boot-params prints the
 * line to add). */
static int boot_params_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        findings_add_audit(findings, "boot-parameter", ctx->audits->boot_params);
        findings_add_audit(findings, "kernel-isolation", ctx->audits->live);
        return 0;
}

const EnforcerOps enforcer_boot_params = {
        .name = "boot-params",
        .verify = boot_params_verify,
};
