/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>

#include "base/macro.h"
#include "kernel/task.h"
#include "kernel/trust.h"

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

/* Folders found trusted, each watched from before it was checked (inotify). Such a
 * folder and its entries can only be changed by root; when a folder on a kept chain
 * is (its mode or owner, or its name: the entry that names it in the folder above,
 * created, removed, renamed or changed), the kernel says so and every folder is checked
 * again. Other entries of those folders may come and go (files in /tmp, beside a
 * player's folder) without costing a walk: an executable itself is compared with the
 * file the process runs at every check. A change inotify does not report (a mount) is
 * the caller's to flush for (trust_cache_flush at each full pass). */
struct TrustCache {
        int fd;                 /* inotify, non-blocking; -1 until a folder is kept */
        GHashTable *folders;    /* path of a folder whose whole chain is trusted */
        GHashTable *watched;    /* wd -> the path of the folder it watches */
        GHashTable *on_chain;   /* the paths of every folder watched (a set) */
        unsigned walks;         /* chains walked from / (a kept one costs none) */
};

#define CHANGED_FILE "the file at its path is not the one it runs (replaced or renamed)"
#define TRUST_CACHE_MAX 256     /* folders; then it starts again */
#define WATCH_MASK                                                                                               \
        (IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |       \
         IN_ONLYDIR)

TrustCache *trust_cache_new(void) {
        TrustCache *c = g_new0(TrustCache, 1);
        c->fd = -1;
        c->folders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->watched = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        c->on_chain = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        return c;
}

void trust_cache_flush(TrustCache *c) {
        if (!c)
                return;
        if (c->fd >= 0)
                close(c->fd); /* its watches go with it */
        c->fd = -1;
        g_hash_table_remove_all(c->folders);
        g_hash_table_remove_all(c->watched);
        g_hash_table_remove_all(c->on_chain);
}

unsigned trust_cache_walks(const TrustCache *c) {
        return c ? c->walks : 0;
}

void trust_cache_free(TrustCache *c) {
        if (!c)
                return;
        trust_cache_flush(c);
        g_hash_table_unref(c->folders);
        g_hash_table_unref(c->watched);
        g_hash_table_unref(c->on_chain);
        g_free(c);
}

/* Whether an event changes a folder on a kept chain: the watched folder itself (its
 * attributes, its removal or move; no name), an entry that is itself on a chain, or an
 * event the kernel could not keep. */
static bool event_touches_chain(TrustCache *c, const struct inotify_event *ev) {
        const char *folder;
        g_autofree char *entry = NULL;
        if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT) || ev->len == 0 ||
            !ev->name[0])
                return true;
        folder = g_hash_table_lookup(c->watched, GINT_TO_POINTER(ev->wd));
        if (!folder)
                return true;
        entry = g_strconcat(g_str_equal(folder, "/") ? "" : folder, "/", ev->name, NULL);
        return g_hash_table_contains(c->on_chain, entry);
}

/* Whether folder is kept, after what the kernel reported since (a change on a chain:
 * all go). */
static bool cache_has(TrustCache *c, const char *folder) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool flush = false;
        if (!c || c->fd < 0)
                return false;
        for (;;) {
                ssize_t n = read(c->fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        flush = true;
                        break;
                }
                for (ssize_t at = 0; at < n && !flush;) {
                        const struct inotify_event *ev = (const struct inotify_event *) (buf + at);
                        flush = event_touches_chain(c, ev);
                        at += (ssize_t) (sizeof *ev + ev->len);
                }
                if (flush)
                        break;
        }
        if (flush) {
                trust_cache_flush(c);
                return false;
        }
        return g_hash_table_contains(c->folders, folder);
}

/* Ready to watch the folders of one walk (none of them lost to a flush midway). */
static bool cache_ready(TrustCache *c) {
        if (c->fd < 0 || g_hash_table_size(c->folders) >= TRUST_CACHE_MAX) {
                trust_cache_flush(c);
                c->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        }
        return c->fd >= 0;
}

/* Watches the folder open as dirfd (O_PATH), through the host's /proc/self/fd (the very
 * folder, whatever its name now), before it is checked; false when it cannot. */
static bool cache_watch(TrustCache *c, const Root *host, int dirfd, const char *path) {
        g_autofree char *self = root_pathf(host, "proc/self/fd/%d", dirfd);
        int wd = inotify_add_watch(c->fd, self, WATCH_MASK);
        if (wd < 0)
                return false;
        g_hash_table_replace(c->watched, GINT_TO_POINTER(wd), g_strdup(path));
        g_hash_table_add(c->on_chain, g_strdup(path));
        return true;
}

/* Walks path from "/" one folder at a time, without following symlinks, checking each
 * folder, and that the last name is the very file in st; from the host root's open
 * folder. With cache (on the host root only): each folder
 * is watched before it is checked, and the chain kept when all of it is trusted; a
 * chain kept already costs one stat of the path. */
static bool check_chain(const Root *host, TrustCache *cache, const char *path, const struct stat *file, char **why) {
        int top = root_is_host(host) ? root_fd(host) : -1;
        g_auto(GStrv) parts = NULL;
        char folder[PATH_MAX];
        g_autoptr(GString) at = NULL; /* the path of the folder open as dirfd */
        int dirfd;
        struct stat st;
        const char *problem = NULL;
        bool watched;

        if (path[0] != '/') {
                *why = g_strdup("the kernel shows no path for it (another mount namespace?)");
                return false;
        }
        /* Its folder, in the stack: a chain kept costs no allocation (path, from the
         * kernel's link, is shorter than PATH_MAX). */
        size_t folder_len = MAX((size_t) (strrchr(path, '/') - path), (size_t) 1);
        if (folder_len >= sizeof folder) {
                *why = g_strdup("its path is too long");
                return false;
        }
        memcpy(folder, path, folder_len);
        folder[folder_len] = '\0';
        if (cache_has(cache, folder)) {
                /* Every folder on the way is one that was checked and has not changed. */
                if (fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == file->st_dev &&
                    st.st_ino == file->st_ino)
                        return true;
                *why = g_strdup(CHANGED_FILE);
                return false;
        }
        dirfd = top >= 0 ? top : open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                *why = g_strdup_printf("cannot open /: %s", g_strerror(errno));
                return false;
        }
        at = g_string_new("/");
        watched = cache && root_is_host(host) && cache_ready(cache);
        if (cache)
                cache->walks++;
        parts = g_strsplit(path + 1, "/", -1);
        guint n = g_strv_length(parts);
        for (guint i = 0; i < n && !problem; i++) {
                if (watched)
                        watched = cache_watch(cache, host, dirfd, at->str);
                if (fstat(dirfd, &st) < 0) {
                        problem = "a folder above it cannot be read";
                        break;
                }
                if ((problem = owner_problem(&st, true)))
                        break;
                if (i + 1 == n) {
                        if (fstatat(dirfd, parts[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != file->st_dev ||
                            st.st_ino != file->st_ino)
                                problem = CHANGED_FILE;
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
                if (at->len > 1)
                        g_string_append_c(at, '/');
                g_string_append(at, parts[i]);
        }
        if (dirfd != top)
                close(dirfd);
        if (problem) {
                *why = g_strdup(problem);
                return false;
        }
        if (watched)
                g_hash_table_add(cache->folders, g_strdup(folder));
        return true;
}

static bool check_file(const struct stat *st, char **why) {
        const char *problem = !S_ISREG(st->st_mode) ? "it is not a regular file" : owner_problem(st, false);
        if (problem)
                *why = g_strdup(problem);
        return !problem;
}

int trust_check_exe(const Root *host, TrustCache *cache, pid_t pid, const char *path, TrustedExe *out) {
        struct stat st;

        *out = (TrustedExe) {};
        for (int attempt = 0;; attempt++) {
                /* The link's target is the running file itself, whatever its name now; its
                 * path is where the kernel says that file is. Read in that order, a new exec
                 * between the two shows as a path that is not the file (then read again). */
                out->path = path && attempt == 0 ? g_strdup(path) : task_read_exe(host, pid);
                if (!out->path)
                        return -ESRCH;
                int r = task_stat_exe(host, pid, &st);
                if (r < 0)
                        return r;
                out->dev = st.st_dev;
                out->ino = st.st_ino;
                if (g_str_has_suffix(out->path, " (deleted)"))
                        out->why = g_strdup("the file it runs was deleted or replaced");
                else if (check_file(&st, &out->why))
                        check_chain(host, cache, out->path, &st, &out->why);
                if (attempt > 0 || !out->why || !g_str_equal(out->why, CHANGED_FILE))
                        break;
                trusted_exe_clear(out);
        }
        out->trusted = out->why == NULL;
        return 0;
}

bool trust_check_path(const Root *host, TrustCache *cache, const char *path, char **why) {
        struct stat st;
        if (stat(path, &st) < 0) {
                *why = g_strdup_printf("%s", g_strerror(errno));
                return false;
        }
        return check_file(&st, why) && check_chain(host, cache, path, &st, why);
}

int trust_read_uids(const Root *host, pid_t pid, uid_t *ruid, uid_t *euid) {
        TaskPath p;
        g_autofree char *data = NULL;
        int r = root_read(host, task_path(&p, pid, 0, "status"), &data, NULL);
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
