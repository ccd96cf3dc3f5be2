/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "audit.h"
#include "config.h"
#include "root.h"

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

/* Splits a command line into key/value pairs, honouring double quotes. Returns a
 * NULL-terminated array of "key" or "key=value" strings (g_strfreev). */
char **bootparams_tokenize(const char *cmdline);
