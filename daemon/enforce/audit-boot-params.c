/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "enforce/audits.h"
#include "enforce/enforcer.h"
#include "kernel/bootloader.h"
#include "model/bootline.h"

/* What to do about a running kernel that lacks the line: where its bootloader is one
 * isolatord writes for, isoctl boot-params --write (or a reboot, when the next boot has
 * the line already); elsewhere, by hand. Advice: the partition holds without it. Read
 * at each pass only while something is missing (one small generated file), since a
 * write changes the next boot without a new configuration. */
static void boot_loader_advice(const EnforcerContext *ctx, GPtrArray *findings) {
        const Audits *a = ctx->audits;
        g_autoptr(BootLoader) bl = bootloader_detect(ctx->root);
        g_auto(GStrv) params = bootline_parse(a->required_line, NULL);
        g_autofree char *message = NULL;
        const char *kind = bootloader_kind_to_string(bl->kind);

        if (!params)
                return;
        if (bl->kind == BOOTLOADER_UNKNOWN) {
                message = g_strdup_printf("isolatord does not write this machine's bootloader (%s): add the line to its "
                                          "kernel command line by hand, then reboot", bl->why);
                g_ptr_array_add(findings, finding_new("boot-loader", "unknown", a->required_line, NULL, false, message));
                return;
        }
        g_autoptr(NextBoot) nb = bootloader_next_boot(ctx->root, bl, params);
        g_autofree char *lacks = nb->lacks ? g_strjoinv(" ", nb->lacks) : NULL;
        bool has = bootloader_next_boot_has(nb);
        if (has && nb->cmdline && !nb->recovery)
                message = g_strdup_printf("the next boot has the line (/%s): reboot to take it", nb->source);
        else if (has)
                message = g_strdup_printf("every kernel entry has the line (/%s), but the next boot is %s%s%s: boot a "
                                          "normal entry to take it", nb->source, nb->cmdline ? "\"" : "",
                                          nb->cmdline ? nb->title : nb->error, nb->cmdline ? "\"" : "");
        else if (nb->unknown)
                message = g_strdup_printf("the next boot cannot be told (%s): isoctl boot-params --write writes the line "
                                          "for %s once it can", nb->error, kind);
        else
                message = g_strdup_printf("isoctl boot-params --write writes the line for %s, then reboot", kind);
        g_ptr_array_add(findings, finding_new("boot-loader", kind, a->required_line,
                                              has ? "(has the line)" : nb->cmdline && lacks && *lacks ? lacks : NULL,
                                              false, message));
}

/* The boot command line is fixed until the next boot: this audit reports what the
 * shared audit found (audits.c), and what isolatord can do about it. */
static void boot_params_audit(const EnforcerContext *ctx, GPtrArray *findings) {
        findings_add_audit(findings, "boot-parameter", ctx->audits->boot_params);
        findings_add_audit(findings, "kernel-isolation", ctx->audits->live);
        if (audit_count_problems(ctx->audits->boot_params) > 0)
                boot_loader_advice(ctx, findings);
}

const AuditOps audit_boot_params = {
        .name = "boot-params",
        .audit = boot_params_audit,
};
