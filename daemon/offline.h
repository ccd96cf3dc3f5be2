/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* The verbs isolatord answers without a bus: each reads the machine under root and the
 * configuration, prints for people on out, and returns the process exit status
 * (0 fine, 1 findings or errors). The bus methods of the daemon call the same core. */
typedef struct OfflineOptions {
        const char *root;
        const char *config;      /* NULL: the default file, which may be absent */
        const char *default_config;
} OfflineOptions;

int offline_check_config(const OfflineOptions *o, FILE *out);
int offline_plan(const OfflineOptions *o, FILE *out);
int offline_boot_params(const OfflineOptions *o, FILE *out);
int offline_kernel_audit(const OfflineOptions *o, FILE *out);
int offline_kconfig_fragment(FILE *out);
