/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "enforce/audits.h"
#include "model/bootparams.h"
#include "model/kconfig.h"

Audits *audits_new(const Config *c, const Root *root) {
        Audits *a = g_new0(Audits, 1);
        g_autoptr(GHashTable) kconfig = NULL;
        g_autoptr(GError) e = NULL;
        g_autofree char *cmdline = NULL;
        int r;

        a->boot_params = bootparams_plan(c);
        r = root_read_line(root, "proc/cmdline", &cmdline);
        if (r < 0)
                a->cmdline_error = g_strdup_printf("cannot read the kernel command line under %s: %s", root_dir(root),
                                                   g_strerror(-r));
        bootparams_compare(a->boot_params, cmdline ? cmdline : "");
        a->cmdline = bootparams_tokenize(cmdline ? cmdline : "");
        a->live = bootparams_compare_live(c, root);
        /* The lines to paste hold parameters only, not the live sysfs checks. */
        a->required_line = bootparams_line(a->boot_params, false);
        a->full_line = bootparams_line(a->boot_params, true);
        if (kconfig_load(root, &kconfig, &a->kconfig_source, &e) < 0)
                a->kconfig_error = g_strdup(e->message);
        else {
                a->kernel_config = kconfig_audit(kconfig);
                a->kconfig = g_steal_pointer(&kconfig);
        }
        return a;
}

void audits_free(Audits *a) {
        if (!a)
                return;
        g_ptr_array_unref(a->boot_params);
        g_ptr_array_unref(a->live);
        if (a->kernel_config)
                g_ptr_array_unref(a->kernel_config);
        g_free(a->required_line);
        g_free(a->full_line);
        g_free(a->cmdline_error);
        g_free(a->kconfig_source);
        g_free(a->kconfig_error);
        g_strfreev(a->cmdline);
        if (a->kconfig)
                g_hash_table_unref(a->kconfig);
        g_free(a);
}

const char *audits_cmdline_value(const Audits *a, const char *key) {
        size_t n = strlen(key);
        const char *found = NULL;
        /* The last one counts, as for the kernel. */
        for (char **t = a->cmdline; t && *t; t++)
                if (strncmp(*t, key, n) == 0 && ((*t)[n] == '=' || (*t)[n] == '\0'))
                        found = (*t)[n] ? *t + n + 1 : "";
        return found;
}

const char *audits_kconfig_value(const Audits *a, const char *option) {
        return a->kconfig ? g_hash_table_lookup(a->kconfig, option) : NULL;
}
