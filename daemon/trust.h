/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "root.h"

/* Whether a process may earn what isolatord hands out (a slice, isolated CPUs, real-time
 * scheduling). A process's name is its own to choose (exec through a symlink, a copy,
 * prctl(PR_SET_NAME)): only what root controls counts. */

/* The executable a process runs, as the kernel holds it: opened through /proc/PID/exe
 * (the file itself, not its name), then its path as the kernel shows that open file.
 * trusted is true when the file is a regular file owned by root, writable by nobody
 * else, and so is every folder above it (a sticky folder such as /tmp counts, since
 * only root may then rename the root-owned entry in it): then only root could have
 * put it there. why says what failed otherwise. -ESRCH/-ENOENT: gone, or a kernel
 * thread. */
typedef struct TrustedExe {
        char *path;     /* where the kernel says the running file is */
        bool trusted;
        char *why;      /* NULL when trusted */
} TrustedExe;

int trust_check_exe(const Root *host, pid_t pid, TrustedExe *out);
void trusted_exe_clear(TrustedExe *e);

/* The same checks on a path (for a file a process is not running yet). */
bool trust_check_path(const char *path, char **why);

/* The real and effective user of a process (/proc/PID/status "Uid:"). */
int trust_read_uids(const Root *host, pid_t pid, uid_t *ruid, uid_t *euid);
/* A User= entry: a user name or a number. False when it is neither. */
bool trust_user_entry_valid(const char *entry);
/* Whether uid is named by one of entries (names resolved now, so a user added later
 * counts). */
bool trust_user_listed(char *const *entries, uid_t uid);
/* Whether a cgroup path ("/system.slice/hqplayerd.service/x") lies in one of units. */
bool trust_cgroup_in_units(const char *cgroup, char *const *units);
