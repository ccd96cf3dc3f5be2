/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "enforcer.h"
#include "log.h"

const EnforcerOps *const enforcers[] = {
        &enforcer_boot_params,
        &enforcer_kernel_config,
        &enforcer_irq,
        &enforcer_netdev,
        NULL,
};

int enforcer_write_batch(const EnforcerContext *ctx, const EnforcerWrite *writes, size_t n, int *results) {
        g_autoptr(GError) e = NULL;

        /* Originals first, all of them, in one write of the store: a crash between here
         * and the last write still leaves every original on disk. */
        for (size_t i = 0; i < n; i++) {
                g_autofree char *original = NULL;
                if (originals_has(ctx->originals, writes[i].rel))
                        continue;
                if (root_read(ctx->root, writes[i].rel, &original, NULL) < 0)
                        continue; /* vanished; its write will say so */
                g_strchomp(original);
                originals_remember(ctx->originals, writes[i].rel, original);
        }
        if (ctx->dry_run) {
                for (size_t i = 0; i < n; i++) {
                        log_info("dry run: would write \"%s\" to %s", writes[i].value, writes[i].rel);
                        results[i] = 0;
                }
                return 0;
        }
        if (originals_flush(ctx->originals, &e) < 0)
                return log_error_errno(EIO, "%s; nothing written", e->message);
        for (size_t i = 0; i < n; i++)
                results[i] = root_write(ctx->root, writes[i].rel, writes[i].value);
        return 0;
}
