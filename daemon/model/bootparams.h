/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "model/audit.h"
#include "model/config.h"
#include "kernel/root.h"

/* The kernel command line a partition needs: isolcpus=managed_irq,domain,<isolated>,
 * nohz_full, rcu_nocbs, irqaffinity, kthread_cpus, skew_tick=1, nosoftlockup (required)
 * and what the guides recommend beside them (nohz=on, rcu_nocb_poll, nmi_watchdog=0,
 * nowatchdog, audit=0). Returns AuditItem*, all in state "missing". */
GPtrArray *bootparams_plan(const Config *c);

/* Fills actual and state from a command line (as in /proc/cmdline). CPU lists compare
 * as sets ("1-3" equals "1,2,3"); isolcpus compares its flags as a set too. The last
 * occurrence of a parameter wins, as in the kernel; "--" ends the kernel's part. */
void bootparams_compare(GPtrArray *items, const char *cmdline);

/* What the running kernel made of it: sys/devices/system/cpu/{isolated,nohz_full}
 * against the partition's isolated CPUs. Returns AuditItem*. */
GPtrArray *bootparams_compare_live(const Config *c, const Root *root);

/* The planned parameters as one line to append to GRUB_CMDLINE_LINUX; required ones
 * only, or all. */
char *bootparams_line(const GPtrArray *items, bool include_recommended);

/* Whether "key" (value NULL) or "key=value" is one of the parameters bootparams_plan()
 * could have planned, with a value it could have given: a key of the plan, a bare flag
 * without a value, a CPU list in the kernel's strict syntax, isolcpus= with the kernel's
 * own flags before its list, a fixed value for the others. false with why (g_free)
 * otherwise. What a boot line may hold when isolatord writes it for the bootloader. */
bool bootparams_valid(const char *key, const char *value, char **why);

/* Splits a command line into key/value pairs, honouring double quotes. Returns a
 * NULL-terminated array of "key" or "key=value" strings (g_strfreev). */
char **bootparams_tokenize(const char *cmdline);
