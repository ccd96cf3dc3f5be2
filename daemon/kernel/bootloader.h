/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "kernel/root.h"

/* The bootloader of the machine under the root, the command line its next boot will
 * have, and the boot line isolatord wrote for it: read by the daemon (which may read
 * /boot but writes none of it), written only by isolatord-bootline, the small helper
 * its own unit runs (isolatord-bootline@.service) with the permissions the daemon's
 * sandbox leaves out. Every path is relative to the root, as everywhere in isolatord. */

typedef enum BootLoaderKind {
        BOOTLOADER_UNKNOWN,         /* nothing isolatord writes for: a finding, never a write */
        BOOTLOADER_GRUB,            /* Debian's GRUB: /etc/default/grub.d + update-grub */
        BOOTLOADER_KERNEL_INSTALL,  /* kernel-install's BLS entries (systemd-boot): /etc/kernel/cmdline */
} BootLoaderKind;

typedef struct BootLoader {
        BootLoaderKind kind;
        char *boot_root;            /* kernel-install: "efi", "boot" or "boot/efi" */
        char *why;                  /* UNKNOWN: what was looked for and found */
} BootLoader;

const char *bootloader_kind_to_string(BootLoaderKind kind);
/* What kind of bootloader the root has: GRUB when update-grub and a generated
 * boot/grub/grub.cfg are there; kernel-install when it is there with a loader/entries
 * folder under efi/, boot/ or boot/efi/ (its own search order) and its install.conf
 * does not name another layout; unknown otherwise, and when both are (which one boots
 * is then not a file's to say). */
BootLoader *bootloader_detect(const Root *root);
void bootloader_free(BootLoader *bl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BootLoader, bootloader_free)

/* The files isolatord writes for each. */
#define BOOTLOADER_GRUB_SNIPPET "etc/default/grub.d/isolatord.cfg"
#define BOOTLOADER_KERNEL_CMDLINE "etc/kernel/cmdline"
#define BOOTLOADER_GRUB_CFG "boot/grub/grub.cfg"
#define BOOTLOADER_GRUBENV "boot/grub/grubenv"
/* The helper's own folder (StateDirectory=isolatord/bootline): the saved originals and
 * what it last did. Persistent: a boot line outlives the boot that wrote it, and so must
 * what takes it back. */
#define BOOTLOADER_STATE_DIR "var/lib/isolatord/bootline"

/* What the next boot will have: the default entry's command line as the bootloader's
 * generated files say (grub.cfg's default, with grubenv's saved and next entries; the
 * newest BLS entry), and how many of the (non-recovery) entries hold params. */
typedef struct NextBoot {
        char *source;               /* the file read, relative to the root */
        char *title;                /* the default entry's title */
        char *chosen;               /* why that entry is the default (GRUB), or NULL */
        bool recovery;              /* the default is a recovery entry */
        char *cmdline;              /* its kernel command line; NULL when none was found */
        char **lacks;               /* of params, what the default entry lacks */
        unsigned entries;           /* non-recovery entries */
        unsigned entries_with;      /* ... holding every parameter of params */
        char *configured;           /* kernel-install: /etc/kernel/cmdline (NULL without one) */
        char *error;                /* why nothing could be read, or NULL */
        bool unknown;               /* GRUB's default cannot be told (its grubenv unreadable): error says why */
} NextBoot;

NextBoot *bootloader_next_boot(const Root *root, const BootLoader *bl, char *const *params);
/* Whether the next boot has the parameters it was read with: its default entry's line;
 * when the default boots no Linux kernel or a recovery entry, every (non-recovery)
 * entry's. */
bool bootloader_next_boot_has(const NextBoot *nb);
void next_boot_free(NextBoot *nb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NextBoot, next_boot_free)

/* What the helper saved and did, as the daemon reads it (read-only). */
typedef struct BootLineState {
        BootLoaderKind kind;        /* the bootloader written for */
        char **params;              /* the parameters written (NULL: none) */
        char **files;               /* the files whose originals are saved */
        int64_t written_usec;       /* CLOCK_REALTIME of the write */
} BootLineState;

/* NULL (and 0) when the helper never wrote anything, or took it all back. A negative
 * errno when the state is unreadable, or belongs to another machine (-EXDEV). */
int bootline_state_load(const Root *root, BootLineState **out, GError **error);
void bootline_state_free(BootLineState *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BootLineState, bootline_state_free)

/* The helper's work (isolatord-bootline). Exit codes of the helper, and returns here. */
typedef enum BootLineResult {
        BOOTLINE_OK = 0,
        BOOTLINE_FAILED = 1,        /* a tool or a file failed: everything is as it was before */
        BOOTLINE_REFUSED = 2,       /* the request (or a file isolatord would take over) is refused */
        BOOTLINE_UNKNOWN = 3,       /* no bootloader isolatord writes for: nothing written */
        BOOTLINE_CHANGED = 4,       /* revert: a file changed since isolatord wrote it, left as it is */
} BootLineResult;

const char *bootline_result_to_string(BootLineResult r);

/* Writes params (from bootline_parse()) for the root's bootloader: the original of the
 * file saved first (also a pre-existing isolatord.cfg, or its absence), the file replaced
 * atomically, the bootloader's tool run, and the generated files read back; when the
 * next boot does not carry every parameter, or the tool failed, the file is put back,
 * the tool run again, and BOOTLINE_FAILED says why. message (g_free) is for a person. */
BootLineResult bootline_write(const Root *root, char *const *params, char **message);
/* Takes it back: every saved file that still holds what isolatord wrote gets its
 * original (or is removed, when there was none), the tool runs again, and the state is
 * removed. A file changed since isolatord wrote it is left as it is (BOOTLINE_CHANGED,
 * its original kept in the state folder for the administrator). Nothing saved: OK. */
BootLineResult bootline_revert(const Root *root, char **message);
/* The helper's tools are the root's own (usr/sbin/update-grub, usr/bin/kernel-install),
 * run with a clean environment in the root's folder: on a test's fake root, the test's
 * stand-ins; on "/", Debian's. */

/* The helper's last word, in its state folder for the daemon to read once the job ended
 * ("result": the result's name, then the message). */
int bootline_result_save(const Root *root, BootLineResult r, const char *message);
int bootline_result_load(const Root *root, BootLineResult *r, char **message);
/* The helper's "status": the bootloader, what was written, what the next boot has. */
char *bootline_status_text(const Root *root);
