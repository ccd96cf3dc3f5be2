/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "model/audit.h"
#include "kernel/root.h"

/* A kernel .config as a table: option name without "CONFIG_" -> value; "# CONFIG_X is
 * not set" is stored as "n". */
GHashTable *kconfig_parse(const char *text);

/* Reads proc/config.gz, else boot/config-<proc/sys/kernel/osrelease>, under the root.
 * *source names the file read. ISO_ERROR_NOT_FOUND when neither exists. */
int kconfig_load(const Root *root, GHashTable **out, char **source, GError **error);

/* PREEMPT_RT, HZ, NO_HZ_FULL, RCU_NOCB_CPU, RCU_BOOST, HIGH_RES_TIMERS, CPUSETS,
 * PROC_EVENTS, DEBUG_INFO_NONE: each ok / missing / different, with why it matters. */
GPtrArray *kconfig_audit(GHashTable *kconfig);

/* A Kconfig fragment with the seed build script's real-time options, for
 * scripts/kconfig/merge_config.sh. */
char *kconfig_fragment(void);
