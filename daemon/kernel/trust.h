/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "kernel/root.h"

/* Whether a process may earn what isolatord hands out (a slice, isolated CPUs, real-time
 * scheduling). A process's name is its own to choose (exec through a symlink, a copy,
 * prctl(PR_SET_NAME)): only what root controls counts. */

/* The executable a process runs, as the kernel holds it: /proc/PID/exe's target (the
 * file itself, not its name), and its path as the kernel shows that file.
 * trusted is true when the file is a regular file owned by root, writable by nobody
 * else, and so is every folder above it (a sticky folder such as /tmp counts, since
 * only root may then rename the root-owned entry in it): then only root could have
 * put it there. why says what failed otherwise. -ESRCH/-ENOENT: gone, or a kernel
 * thread. */
typedef struct TrustedExe {
        char *path;     /* where the kernel says the running file is */
        dev_t dev;      /* the running file (when the call returned 0) */
        ino_t ino;
        bool trusted;
        char *why;      /* NULL when trusted */
} TrustedExe;

/* Folders found trusted, kept while the kernel reports no change to them (inotify):
 * the exec of a program in a kept folder costs one stat of its path instead of a walk
 * from /. Only root can change a trusted folder, and such a change empties it; so does
 * trust_cache_flush (a full pass: a mount is not reported). */
typedef struct TrustCache TrustCache;
TrustCache *trust_cache_new(void);
void trust_cache_free(TrustCache *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TrustCache, trust_cache_free)
void trust_cache_flush(TrustCache *c);
/* How many chains were walked from / (for tests and figures). */
unsigned trust_cache_walks(const TrustCache *c);

/* cache: NULL to walk every folder every time. path: what /proc/PID/exe read just
 * before, or NULL to read it here. */
int trust_check_exe(const Root *host, TrustCache *cache, pid_t pid, const char *path, TrustedExe *out);
void trusted_exe_clear(TrustedExe *e);

/* The same checks on a path (for a file a process is not running yet). */
bool trust_check_path(const Root *host, TrustCache *cache, const char *path, char **why);

/* The real and effective user of a process (/proc/PID/status "Uid:"). */
int trust_read_uids(const Root *host, pid_t pid, uid_t *ruid, uid_t *euid);
/* A User= entry: a user name or a number. False when it is neither. */
bool trust_user_entry_valid(const char *entry);
/* Whether uid is named by one of entries (names resolved now, so a user added later
 * counts). */
bool trust_user_listed(char *const *entries, uid_t uid);
