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

/* The running kernel's build cannot change before a reboot: it is read and gunzipped
 * once, not at every verify pass. */
typedef struct KconfigState {
        bool loaded;
        GHashTable *kconfig;   /* NULL when it could not be read */
        char *error;
} KconfigState;

static void *kconfig_state_new(void) {
        return g_new0(KconfigState, 1);
}

static void kconfig_state_free(void *p) {
        KconfigState *st = p;
        if (!st)
                return;
        if (st->kconfig)
                g_hash_table_unref(st->kconfig);
        g_free(st->error);
        g_free(st);
}

static int kernel_config_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        KconfigState *st = ctx->state;
        g_autoptr(GPtrArray) items = NULL;

        if (!st->loaded) {
                g_autoptr(GError) e = NULL;
                if (kconfig_load(ctx->root, &st->kconfig, NULL, &e) < 0)
                        st->error = g_strdup(e->message);
                st->loaded = true;
        }
        if (!st->kconfig) {
                g_ptr_array_add(findings, finding_new("kernel-config", "config", "a readable kernel configuration",
                                                      "(absent)", false, st->error));
                return 0;
        }
        items = kconfig_audit(st->kconfig);
        findings_add_audit(findings, "kernel-config", items);
        return 0;
}

const EnforcerOps enforcer_kernel_config = {
        .name = "kernel-config",
        .state_new = kconfig_state_new,
        .state_free = kconfig_state_free,
        .verify = kernel_config_verify,
};
