/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <dirent.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "model/cpumask.h"

/* The one place that turns a kernel path into a file name. Every /proc, /sys and
 * cgroupfs path in isolatord is written relative ("proc/cmdline",
 * "sys/devices/system/cpu/online") and resolved here under the configured root, so
 * the real daemon runs unchanged on a generated fake machine (--root). */
typedef struct Root Root;

Root *root_new(const char *dir);
void root_free(Root *root);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Root, root_free)

const char *root_dir(const Root *root);
/* The real machine's root ("/"): process IDs read under it are real processes, safe
 * to act on. Under a fake root they name whatever runs here. */
bool root_is_host(const Root *root);
/* The root's folder opened O_PATH, owned by root (not to be closed); -1 if missing. */
int root_fd(const Root *root);

/* An open folder's entries, read with getdents64 straight into one buffer of size
 * bytes: no DIR, whose fdopendir costs an fstat and two fcntl per folder (a device
 * event lists the folder of every new IRQ). The descriptor stays the caller's; error
 * holds a negative errno when a read failed. */
typedef struct DirList {
        int fd;
        char *buf;
        size_t size, len, at;
        int error;
} DirList;
void dir_list_open(DirList *l, int fd, size_t size);
/* The next entry (not "." or ".."), NULL at the end or on an error. */
const struct dirent64 *dir_list_next(DirList *l);
void dir_list_close(DirList *l);
/* rel must not start with '/'. Returns a newly allocated path (g_free). */
char *root_path(const Root *root, const char *rel);
char *root_pathf(const Root *root, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

bool root_exists(const Root *root, const char *rel);
/* Whole file; returns 0 or a negative errno. *out is g_free'd by the caller. */
int root_read(const Root *root, const char *rel, char **out, size_t *len);
/* A file under the root opened for reading and kept by the caller (a file read again and
 * again at offsets, a pipe read as it fills); extra_flags: O_NONBLOCK. An fd to close, or
 * a negative errno. */
int root_open_read(const Root *root, const char *rel, int extra_flags);
/* The filesystem's magic number (statfs f_type) of a path under the root, or a negative
 * errno: whether a folder is the kernel's own (tracefs) or a fake root's. */
long root_fs_type(const Root *root, const char *rel);
/* First line without its newline. */
int root_read_line(const Root *root, const char *rel, char **out);
/* A folder under the root opened for reading what is in it (O_DIRECTORY); a negative
 * errno. For scans of thousands of small files: each is then opened relative to it. */
int root_open_dir(const Root *root, const char *rel);
/* A small kernel file in the folder dirfd, NUL-terminated and without its trailing
 * newline, in one read where it fits (a kernel file of one line is produced whole by
 * its first read); its length, or a negative errno (-EFBIG: it does not fit). */
ssize_t root_read_small_at(int dirfd, const char *name, char *buf, size_t size);
/* root_read_small_at() beneath the root's folder. */
ssize_t root_read_small(const Root *root, const char *rel, char *buf, size_t size);
/* A symlink's target, NUL-terminated, in buf: its length, or a negative errno
 * (-ENAMETOOLONG when it does not fit). */
ssize_t root_readlink(const Root *root, const char *rel, char *buf, size_t size);
/* stat(2) of a file under the root, its symlinks followed: 0 or a negative errno. */
int root_stat(const Root *root, const char *rel, struct stat *out);
int root_read_int(const Root *root, const char *rel, long *out);
/* The writes below resolve rel beneath the root's folder, opened once (openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a rel that is absolute, empty or holds ".."
 * is -EINVAL, and a symlink on the way is -ELOOP, except the kernel's own in sysfs,
 * followed while they stay in the root's sys/. */
bool root_rel_valid(const char *rel);
/* Writes value (a newline is added) to an existing file: never creates one in a kernel
 * folder. Returns 0 or the negative errno the kernel gave at open, write or close (a
 * managed IRQ answers EIO, or EPERM since Linux 6.12; an immutable file EPERM). */
int root_write(const Root *root, const char *rel, const char *value);
/* Replaces an existing regular file's content in place, exactly (no newline added): for
 * a file the unit may write alone (ReadWritePaths=), which cannot be renamed over. */
int root_rewrite_file(const Root *root, const char *rel, const char *content);
/* A kernel file written again and again (a slice's cgroup.procs at every exec), opened
 * once beneath the root like root_write's and kept open: a write then costs one call,
 * not a path walk. Opened again when what it names was removed meanwhile (cgroupfs
 * answers ENODEV; a fake root's file has no link left). Same returns as root_write. */
typedef struct RootFile RootFile;
RootFile *root_file_new(const Root *root, const char *rel);
void root_file_free(RootFile *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RootFile, root_file_free)
int root_file_write(RootFile *f, const char *value);
/* A cpulist file ("0-3,8\n"); the kernel writes "(null)" in nohz_full when it is unset. */
int root_read_cpulist(const Root *root, const char *rel, CpuMask *out);

/* A new cgroup folder. cgroupfs fills it with its interface files; on a fake root this
 * writes the ones isolatord reads (cgroup.procs, cpuset.cpus, cpuset.cpus.effective
 * from the parent's, cpuset.cpus.partition, cpuset.mems), as the kernel would. */
int root_cgroup_mkdir(const Root *root, const char *rel);
/* Removes an (empty) cgroup folder; on a fake root its interface files first. */
int root_cgroup_rmdir(const Root *root, const char *rel);
/* A configuration file isolatord owns (a systemd drop-in): created with its folders,
 * replaced atomically. Not for kernel files. */
int root_put_file(const Root *root, const char *rel, const char *content);
/* The same with content of len bytes (any bytes) and the file's mode; the rename is
 * synced with its folder, so a crash after the return keeps the new file. */
int root_replace_file(const Root *root, const char *rel, const char *content, size_t len, mode_t mode);
/* A regular file read whole, at most max bytes (-EFBIG beyond), resolved like the
 * writes (a symlink on the way is -ELOOP, never followed): for files that are not the
 * kernel's and may have been planted. Its mode when mode is not NULL. */
int root_read_regular(const Root *root, const char *rel, size_t max, char **out, size_t *len, mode_t *mode);
/* A folder the kernel makes something of (a tracing instance), beneath the root like the
 * writes; -EEXIST when it is there. */
int root_mkdir(const Root *root, const char *rel);
/* Removes a file, or an empty folder. */
int root_remove(const Root *root, const char *rel);
