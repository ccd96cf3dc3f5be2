/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>

#include "macro.h"
#include "trust.h"

void trusted_exe_clear(TrustedExe *e) {
        g_clear_pointer(&e->path, g_free);
        g_clear_pointer(&e->why, g_free);
        e->trusted = false;
}

/* Writable by someone other than root: by others, or by a group that is not root's. */
static bool foreign_writable(const struct stat *st) {
        return (st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0);
}

/* Why st (a folder on the way, or the file) lets a user change what runs, or NULL. */
static const char *owner_problem(const struct stat *st, bool folder) {
        if (st->st_uid != 0)
                return folder ? "a folder above it is not owned by root" : "it is not owned by root";
        /* A sticky folder lets others add entries but not rename or remove root's. */
        if (foreign_writable(st) && !(folder && (st->st_mode & S_ISVTX)))
                return folder ? "a folder above it is writable by others than root"
                              : "it is writable by others than root";
        return NULL;
}

/* Walks path from "/" one folder at a time, without following symlinks, checking each
 * folder, and that the last name is the very file in st. top: "/" opened O_PATH and
 * kept by the caller (the host root's), or -1 to open it here. */
static bool check_chain(int top, const char *path, const struct stat *file, char **why) {
        g_auto(GStrv) parts = NULL;
        int dirfd;
        struct stat st;
        const char *problem = NULL;

        if (path[0] != '/') {
                *why = g_strdup("the kernel shows no path for it (another mount namespace?)");
                return false;
        }
        dirfd = top >= 0 ? top : open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                *why = g_strdup_printf("cannot open /: %s", g_strerror(errno));
                return false;
        }
        parts = g_strsplit(path + 1, "/", -1);
        guint n = g_strv_length(parts);
        for (guint i = 0; i < n && !problem; i++) {
                if (fstat(dirfd, &st) < 0) {
                        problem = "a folder above it cannot be read";
                        break;
                }
                if ((problem = owner_problem(&st, true)))
                        break;
                if (i + 1 == n) {
                        if (fstatat(dirfd, parts[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != file->st_dev ||
                            st.st_ino != file->st_ino)
                                problem = "the file at its path is not the one it runs (replaced or renamed)";
                        break;
                }
                int next = openat(dirfd, parts[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0) {
                        problem = "its path changed while it was checked";
                        break;
                }
                if (dirfd != top)
                        close(dirfd);
                dirfd = next;
        }
        if (dirfd != top)
                close(dirfd);
        if (problem) {
                *why = g_strdup(problem);
                return false;
        }
        return true;
}

static bool check_file(const struct stat *st, char **why) {
        const char *problem = !S_ISREG(st->st_mode) ? "it is not a regular file" : owner_problem(st, false);
        if (problem)
                *why = g_strdup(problem);
        return !problem;
}

int trust_check_exe(const Root *host, pid_t pid, TrustedExe *out) {
        g_autofree char *exe = root_pathf(host, "proc/%d/exe", (int) pid);
        _cleanup_close_ int fd = -1;
        struct stat st;

        *out = (TrustedExe) {};
        /* Opening the magic link opens the running file itself, whatever its name now. */
        fd = open(exe, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        g_autofree char *self = root_pathf(host, "proc/self/fd/%d", fd);
        out->path = g_file_read_link(self, NULL);
        if (!out->path)
                return -ESRCH;
        if (g_str_has_suffix(out->path, " (deleted)"))
                out->why = g_strdup("the file it runs was deleted or replaced");
        else if (check_file(&st, &out->why))
                check_chain(root_is_host(host) ? root_fd(host) : -1, out->path, &st, &out->why);
        out->trusted = out->why == NULL;
        return 0;
}

bool trust_check_path(const char *path, char **why) {
        struct stat st;
        if (stat(path, &st) < 0) {
                *why = g_strdup_printf("%s", g_strerror(errno));
                return false;
        }
        return check_file(&st, why) && check_chain(-1, path, &st, why);
}

int trust_read_uids(const Root *host, pid_t pid, uid_t *ruid, uid_t *euid) {
        g_autofree char *rel = g_strdup_printf("proc/%d/status", (int) pid), *data = NULL;
        int r = root_read(host, rel, &data, NULL);
        if (r < 0)
                return r;
        const char *line = strstr(data, "\nUid:");
        unsigned long real, effective;
        if (!line || sscanf(line + strlen("\nUid:"), "%lu %lu", &real, &effective) != 2)
                return -EBADMSG;
        *ruid = (uid_t) real;
        *euid = (uid_t) effective;
        return 0;
}

bool trust_user_entry_valid(const char *entry) {
        guint64 n;
        if (g_ascii_string_to_unsigned(entry, 10, 0, G_MAXUINT32 - 1, &n, NULL))
                return true;
        /* useradd's NAME_REGEX: a letter or '_' first, then letters, digits, '_', '-', '.'; '$' last. */
        size_t len = strlen(entry);
        if (len == 0 || len > 32 || !(g_ascii_islower(entry[0]) || entry[0] == '_'))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!g_ascii_isalnum(entry[i]) && !strchr("_-.", entry[i]) && !(entry[i] == '$' && i + 1 == len))
                        return false;
        return true;
}

bool trust_user_listed(char *const *entries, uid_t uid) {
        for (char *const *e = entries; e && *e; e++) {
                guint64 n;
                if (g_ascii_string_to_unsigned(*e, 10, 0, G_MAXUINT32 - 1, &n, NULL)) {
                        if ((uid_t) n == uid)
                                return true;
                        continue;
                }
                struct passwd pw, *found = NULL;
                char buf[4096];
                if (getpwnam_r(*e, &pw, buf, sizeof buf, &found) == 0 && found && found->pw_uid == uid)
                        return true;
        }
        return false;
}

bool trust_cgroup_in_units(const char *cgroup, char *const *units) {
        g_auto(GStrv) parts = g_strsplit(cgroup, "/", -1);
        for (char **p = parts; *p; p++)
                for (char *const *u = units; u && *u; u++)
                        if (**p && g_str_equal(*p, *u))
                                return true;
        return false;
}
