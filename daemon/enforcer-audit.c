/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "bootparams.h"
#include "enforcer.h"
#include "kconfig.h"
#include "log.h"

/* The boot command line and the kernel build are fixed until the next boot: these two
 * enforcers only observe and report; what they find is fixed by the user (isoctl
 * boot-params prints the line to add, isoctl kernel-audit the options). */

static int boot_params_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autoptr(GPtrArray) params = bootparams_plan(ctx->config);
        g_autoptr(GPtrArray) live = NULL;
        g_autofree char *cmdline = NULL;
        int r;

        r = root_read_line(ctx->root, "proc/cmdline", &cmdline);
        if (r < 0)
                log_debug_errno(r, "cannot read the kernel command line: %m");
        bootparams_compare(params, cmdline ? cmdline : "");
        live = bootparams_compare_live(ctx->config, ctx->root);
        findings_add_audit(findings, "boot-parameter", params);
        findings_add_audit(findings, "kernel-isolation", live);
        return 0;
}

const EnforcerOps enforcer_boot_params = {
        .name = "boot-params",
        .verify = boot_params_verify,
};

static int kernel_config_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autoptr(GHashTable) kconfig = NULL;
        g_autoptr(GPtrArray) items = NULL;
        g_autoptr(GError) e = NULL;

        if (kconfig_load(ctx->root, &kconfig, NULL, &e) < 0) {
                g_ptr_array_add(findings, finding_new("kernel-config", "config", "a readable kernel configuration",
                                                      "(absent)", false, e->message));
                return 0;
        }
        items = kconfig_audit(kconfig);
        findings_add_audit(findings, "kernel-config", items);
        return 0;
}

const EnforcerOps enforcer_kernel_config = {
        .name = "kernel-config",
        .verify = kernel_config_verify,
};
