/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* The boot line as isolatord writes it for a bootloader, and as it reads it back: pure
 * text in, text out. The writer (isolatord-bootline, kernel/bootloader.c) takes every
 * input as hostile, so a line is only ever built from parameters bootparams_valid()
 * accepts, and the files isolatord owns are recognised by their exact form.
 *
 * Debian's GRUB: /etc/default/grub.d/isolatord.cfg, sourced by grub-mkconfig after
 * /etc/default/grub, appends to GRUB_CMDLINE_LINUX_DEFAULT (the default entries, not the
 * recovery ones, as tuned leaves rescue entries alone). kernel-install (systemd-boot):
 * /etc/kernel/cmdline is the whole command line of the entries it writes, so isolatord's
 * parameters replace any of the same keys in it and the rest is kept as it was. */

/* The most a line of parameters may hold (the kernel's COMMAND_LINE_SIZE is 2048). */
#define BOOTLINE_MAX 1024
/* The first line of the grub.d snippet: what makes a file isolatord's own. */
#define BOOTLINE_GRUB_MARKER "# Written by isolatord (isoctl boot-params --write); isoctl revert removes it."

/* Splits and checks a line of parameters ("isolcpus=... nohz_full=... nosoftlockup"):
 * at most BOOTLINE_MAX bytes of [a-z0-9_=,:/-] and single spaces, each token
 * accepted by bootparams_valid(), each key once, at least one. NULL with the reason
 * (ISO_ERROR_INVALID_CONFIG) otherwise. */
char **bootline_parse(const char *text, GError **error);

/* The grub.d snippet for params (from bootline_parse()). */
char *bootline_grub_render(char *const *params);
/* The parameters of a snippet bootline_grub_render() wrote, exactly in that form (its
 * comments, one assignment); NULL with why when it is anything else. */
char **bootline_grub_parse(const char *text, GError **error);

/* A command line as a file keeps it: tokens split on whitespace, double quotes kept
 * (so foo="a b" stays one token, written back as it was). */
char **bootline_split_raw(const char *text);
/* A raw token's key: what stands before '=', quotes removed. */
char *bootline_token_key(const char *token);
/* /etc/kernel/cmdline with params: base's tokens as they were, less those of a key in
 * params, then params (before a "--", which ends the kernel's part); one line. */
char *bootline_cmdline_merge(const char *base, char *const *params);
/* What kernel-install takes as the command line when no /etc/kernel/cmdline exists:
 * /proc/cmdline less BOOT_IMAGE= and initrd= (90-loaderentry.install). */
char *bootline_cmdline_from_proc(const char *proc_cmdline);

/* One boot entry of a generated grub.cfg, or of a Boot Loader Specification entry. */
typedef struct BootEntry {
        char *title;
        char *cmdline;        /* the kernel's arguments after the image */
        bool recovery;
} BootEntry;
void boot_entry_free(BootEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BootEntry, boot_entry_free)

/* The entries of a grub.cfg, in order: each menuentry's linux (linux16, linuxefi) line.
 * A recovery entry is one whose title says "recovery mode", as Debian's 10_linux names
 * them. Returns BootEntry*. */
GPtrArray *bootline_grub_cfg_entries(const char *text);
/* Which of bootline_grub_cfg_entries(cfg) GRUB boots by default, as grub-mkconfig's
 * header decides: grub-reboot's next_entry (from grubenv's text, which may be NULL) when
 * set, else `set default=`: a number, a title or an id at each level of "a>b", with
 * "${saved_entry}" (GRUB_DEFAULT=saved) read from grubenv; the first entry when that
 * names none, and a submenu's first entry. *how says which (g_free). -1 when the default
 * boots no Linux kernel (another system, the firmware's settings) or the menu is empty. */
int bootline_grub_default(const char *cfg, const char *grubenv, char **how);
/* Whether cfg's default depends on grubenv (grub-reboot's next_entry, or
 * GRUB_DEFAULT=saved). */
bool bootline_grub_default_reads_env(const char *cfg);
/* Every menuentry's title of a grub.cfg, whatever it boots (another system's too). */
char **bootline_grub_cfg_titles(const char *text);
/* A BLS type 1 entry's title and options (several options lines are joined). NULL when
 * it has no linux line. */
BootEntry *bootline_bls_entry(const char *text);

/* Which of params cmdline lacks, as bootparams_compare() reads it (CPU lists as sets,
 * the last occurrence wins): the missing or different ones, as "key=value" (g_strfreev;
 * empty when it holds them all). */
char **bootline_lacks(char *const *params, const char *cmdline);
