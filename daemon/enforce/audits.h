/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "model/config.h"
#include "kernel/root.h"

/* What the running kernel was booted and built with, against what the partition needs:
 * the boot parameters (compared with /proc/cmdline), the running kernel's isolation in
 * sysfs, and the kernel build options. None of it changes before a reboot: computed once
 * per configuration (at start and reload), read by the enforcers, the bus methods and
 * the offline verbs alike. */
typedef struct Audits {
        GPtrArray *boot_params;     /* AuditItem*, compared with the command line */
        GPtrArray *live;            /* AuditItem*: the running kernel's isolated, nohz_full */
        char *required_line;        /* the parameters to add, required ones */
        char *full_line;            /* ... and the recommended ones */
        char *cmdline_error;        /* why /proc/cmdline could not be read, or NULL */
        GPtrArray *kernel_config;   /* AuditItem*, or NULL when it could not be read */
        char *kconfig_source;       /* where the kernel configuration was read */
        char *kconfig_error;        /* why it could not be, or NULL */
        char **cmdline;             /* the command line's parameters (never NULL) */
        GHashTable *kconfig;        /* option -> value ("n" when not set), or NULL */
} Audits;

/* A parameter of the command line: its value ("" for a bare flag), or NULL when absent. */
const char *audits_cmdline_value(const Audits *a, const char *key);
/* A kernel build option's value, or NULL when unknown (or the configuration unread). */
const char *audits_kconfig_value(const Audits *a, const char *option);

Audits *audits_new(const Config *c, const Root *root);
void audits_free(Audits *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Audits, audits_free)
