/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/root.h"

struct Root {
        char *dir; /* without a trailing slash; "" for the real root */
        int fd;    /* O_PATH of dir: every write is resolved beneath it; -1 if dir was missing */
};

Root *root_new(const char *dir) {
        Root *root = g_new0(Root, 1);
        size_t len;

        assert(dir);
        len = strlen(dir);
        while (len > 0 && dir[len - 1] == '/')
                len--;
        root->dir = g_strndup(dir, len);
        root->fd = open(root_dir(root), O_PATH | O_DIRECTORY | O_CLOEXEC);
        return root;
}

void root_free(Root *root) {
        if (!root)
                return;
        if (root->fd >= 0)
                close(root->fd);
        g_free(root->dir);
        g_free(root);
}

const char *root_dir(const Root *root) {
        assert(root);
        return root->dir[0] ? root->dir : "/";
}

bool root_is_host(const Root *root) {
        return root->dir[0] == '\0';
}

int root_fd(const Root *root) {
        return root->fd;
}

char *root_path(const Root *root, const char *rel) {
        assert(root);
        assert(rel);
        assert(rel[0] != '/');
        return g_strconcat(root->dir, "/", rel, NULL);
}

char *root_pathf(const Root *root, const char *fmt, ...) {
        va_list ap;
        g_autofree char *rel = NULL;

        va_start(ap, fmt);
        rel = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        return root_path(root, rel);
}

bool root_exists(const Root *root, const char *rel) {
        g_autofree char *path = root_path(root, rel);
        return access(path, F_OK) == 0;
}

int root_read(const Root *root, const char *rel, char **out, size_t *len) {
        _cleanup_close_ int fd = -1;
        GString *buf;
        char chunk[4096];

        assert(out);
        assert(rel[0] != '/');
        /* Kernel files report size 0 and are read until EOF; not g_file_get_contents,
         * which would hide the errno we want to report. Relative to the root's folder:
         * a scan of thousands of files walks the root's own path once. */
        if (root->fd >= 0)
                fd = openat(root->fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        else {
                g_autofree char *path = root_path(root, rel);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        }
        if (fd < 0)
                return negative_errno();
        buf = g_string_sized_new(64);
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = negative_errno();
                        g_string_free(buf, true);
                        return r;
                }
                g_string_append_len(buf, chunk, n);
                /* A short read that ends a line is all of a kernel file (it produces
                 * whole lines into the reader's buffer) and of a fake root's file. */
                if (n == 0 || ((size_t) n < sizeof chunk && chunk[n - 1] == '\n'))
                        break;
        }
        if (len)
                *len = buf->len;
        *out = g_string_free(buf, false);
        return 0;
}

int root_open_read(const Root *root, const char *rel, int extra_flags) {
        int fd;
        assert(rel[0] != '/');
        if (root->fd >= 0)
                fd = openat(root->fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | extra_flags);
        else {
                g_autofree char *path = root_path(root, rel);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | extra_flags);
        }
        return fd < 0 ? negative_errno() : fd;
}

long root_fs_type(const Root *root, const char *rel) {
        g_autofree char *path = root_path(root, rel);
        struct statfs fs;
        if (statfs(path, &fs) < 0)
                return negative_errno();
        return (long) fs.f_type;
}

int root_open_dir(const Root *root, const char *rel) {
        g_autofree char *path = root->fd >= 0 ? NULL : root_path(root, rel);
        int fd = root->fd >= 0 ? openat(root->fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                               : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

void dir_list_open(DirList *l, int fd, size_t size) {
        *l = (DirList) { .fd = fd, .buf = g_malloc(size), .size = size };
}

const struct dirent64 *dir_list_next(DirList *l) {
        for (;;) {
                if (l->at >= l->len) {
                        ssize_t n;
                        if (l->fd < 0 || l->error)
                                return NULL;
                        do
                                n = getdents64(l->fd, l->buf, l->size);
                        while (n < 0 && errno == EINTR);
                        if (n <= 0) {
                                l->error = n < 0 ? negative_errno() : 0;
                                l->fd = -1; /* the end: not read again */
                                return NULL;
                        }
                        l->len = (size_t) n;
                        l->at = 0;
                }
                const struct dirent64 *de = (const struct dirent64 *) (l->buf + l->at);
                l->at += de->d_reclen;
                if (!(de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))))
                        return de;
        }
}

void dir_list_close(DirList *l) {
        g_clear_pointer(&l->buf, g_free);
}

ssize_t root_read_small_at(int dirfd, const char *name, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t len = 0;

        assert(size > 1);
        if (fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                len += (size_t) n;
                /* A short first read of a kernel file is all of it; a regular file of a
                 * fake root says so with the next read's 0. */
                if (n == 0 || len == size - 1 || (len > 0 && buf[len - 1] == '\n'))
                        break;
        }
        if (len == size - 1)
                return -EFBIG;
        while (len > 0 && buf[len - 1] == '\n')
                len--;
        buf[len] = '\0';
        return (ssize_t) len;
}

ssize_t root_read_small(const Root *root, const char *rel, char *buf, size_t size) {
        if (root->fd >= 0)
                return root_read_small_at(root->fd, rel, buf, size);
        g_autofree char *path = root_path(root, rel);
        return root_read_small_at(AT_FDCWD, path, buf, size);
}

ssize_t root_readlink(const Root *root, const char *rel, char *buf, size_t size) {
        g_autofree char *path = root->fd >= 0 ? NULL : root_path(root, rel);
        ssize_t n = root->fd >= 0 ? readlinkat(root->fd, rel, buf, size) : readlink(path, buf, size);
        if (n < 0)
                return negative_errno();
        if ((size_t) n >= size)
                return -ENAMETOOLONG;
        buf[n] = '\0';
        return n;
}

int root_stat(const Root *root, const char *rel, struct stat *out) {
        g_autofree char *path = root->fd >= 0 ? NULL : root_path(root, rel);
        int r = root->fd >= 0 ? fstatat(root->fd, rel, out, 0) : stat(path, out);
        return r < 0 ? negative_errno() : 0;
}

int root_read_line(const Root *root, const char *rel, char **out) {
        char *text;
        int r = root_read(root, rel, &text, NULL);
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = '\0';
        *out = text;
        return 0;
}

int root_read_int(const Root *root, const char *rel, long *out) {
        g_autofree char *line = NULL;
        char *end;
        int r = root_read_line(root, rel, &line);
        if (r < 0)
                return r;
        errno = 0;
        long v = strtol(g_strstrip(line), &end, 10);
        if (errno || end == line || *end)
                return -EBADMSG;
        *out = v;
        return 0;
}

/* --- writes: beneath the root's fd, through no symlink but the kernel's own --- */

bool root_rel_valid(const char *rel) {
        if (!rel || !*rel || rel[0] == '/' || strlen(rel) >= 4096)
                return false;
        g_auto(GStrv) parts = g_strsplit(rel, "/", -1);
        for (char **p = parts; *p; p++)
                if (!**p || g_str_equal(*p, ".") || g_str_equal(*p, ".."))
                        return false;
        return true;
}

/* The root's fd, or (the folder did not exist at root_new) a new one in *owned. */
static int anchor(const Root *root, int *owned) {
        *owned = -1;
        if (root->fd >= 0)
                return root->fd;
        *owned = open(root_dir(root), O_PATH | O_DIRECTORY | O_CLOEXEC);
        return *owned >= 0 ? *owned : negative_errno();
}

static int openat2_beneath(int dirfd, const char *rel, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC | O_NOCTTY),
                .mode = (flags & O_CREAT) ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
        return fd < 0 ? negative_errno() : (int) fd;
}

static void close_all(GArray *fds) {
        for (unsigned i = 0; i < fds->len; i++)
                close(g_array_index(fds, int, i));
        g_array_set_size(fds, 0);
}

/* The folder of rel (an O_PATH fd) and its last name, found one folder at a time
 * from the root. A symlink is followed only where the kernel made it: in sysfs
 * (/sys/class/net/eth0, cpuN/cpufreq), relative, and staying inside the root's sys/.
 * Any other symlink, a fake root's included, is -ELOOP: a write never lands elsewhere. */
static int resolve_parent(const Root *root, const char *rel, int *out_fd, char **out_name) {
        g_autoptr(GArray) fds = g_array_new(false, false, sizeof(int)); /* one per folder below the root */
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free); /* parallel to fds */
        g_autoptr(GQueue) todo = g_queue_new();
        const char *slash = strrchr(rel, '/');
        unsigned links = 0;
        int owned, top, r;

        if (!root_rel_valid(rel))
                return -EINVAL;
        top = anchor(root, &owned);
        if (top < 0)
                return top;
        if (slash) {
                g_autofree char *dir = g_strndup(rel, (size_t) (slash - rel));
                g_auto(GStrv) parts = g_strsplit(dir, "/", -1);
                for (char **p = parts; *p; p++)
                        g_queue_push_tail(todo, g_strdup(*p));
        }
        r = 0;
        while (r == 0 && !g_queue_is_empty(todo)) {
                g_autofree char *name = g_queue_pop_head(todo);
                int here = fds->len ? g_array_index(fds, int, fds->len - 1) : top;
                struct stat st;

                if (!*name || g_str_equal(name, "."))
                        continue;
                if (g_str_equal(name, "..")) { /* only from a followed sysfs link */
                        if (fds->len == 0)
                                r = -EXDEV;
                        else {
                                close(here);
                                g_array_set_size(fds, fds->len - 1);
                                g_ptr_array_set_size(names, names->len - 1);
                        }
                        continue;
                }
                if (fstatat(here, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = negative_errno();
                        continue;
                }
                if (S_ISLNK(st.st_mode)) {
                        struct statfs fs;
                        char target[4096];
                        ssize_t n;
                        if (fstatfs(here, &fs) < 0 || fs.f_type != SYSFS_MAGIC || ++links > 32) {
                                r = -ELOOP;
                                continue;
                        }
                        n = readlinkat(here, name, target, sizeof target - 1);
                        if (n <= 0 || target[0] == '/') {
                                r = -ELOOP;
                                continue;
                        }
                        target[n] = '\0';
                        g_auto(GStrv) parts = g_strsplit(target, "/", -1);
                        for (guint i = g_strv_length(parts); i-- > 0;)
                                g_queue_push_head(todo, g_strdup(parts[i]));
                        continue;
                }
                int next = openat(here, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0) {
                        r = negative_errno();
                        continue;
                }
                g_array_append_val(fds, next);
                g_ptr_array_add(names, g_steal_pointer(&name));
        }
        g_queue_clear_full(todo, g_free); /* what a failed walk did not reach */
        /* A followed link must have kept to sys/. */
        if (r == 0 && links > 0 && (names->len == 0 || !g_str_equal(names->pdata[0], "sys")))
                r = -ELOOP;
        if (r == 0) {
                *out_fd = fds->len ? g_array_index(fds, int, fds->len - 1)
                                   : fcntl(top, F_DUPFD_CLOEXEC, 3);
                if (fds->len)
                        g_array_set_size(fds, fds->len - 1);
                if (*out_fd < 0)
                        r = negative_errno();
                else
                        *out_name = g_strdup(slash ? slash + 1 : rel);
        }
        close_all(fds);
        if (owned >= 0)
                close(owned);
        return r;
}

/* Opens rel beneath the root: openat2 in one call, the walk where it refuses a
 * symlink (the kernel's, in sysfs) or does not exist (before Linux 5.6). */
static int open_beneath(const Root *root, const char *rel, int flags, mode_t mode) {
        g_autofree char *name = NULL;
        int owned, top, fd, dirfd;

        if (!root_rel_valid(rel))
                return -EINVAL;
        top = anchor(root, &owned);
        if (top < 0)
                return top;
        fd = openat2_beneath(top, rel, flags, mode);
        if (owned >= 0)
                close(owned);
        if (fd != -ELOOP && fd != -ENOSYS && fd != -EXDEV)
                return fd;
        int r = resolve_parent(root, rel, &dirfd, &name);
        if (r < 0)
                return r;
        fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
        r = fd < 0 ? negative_errno() : fd;
        close(dirfd);
        return r;
}

static int write_all(int fd, const char *data, size_t len) {
        size_t done = 0;
        while (done < len) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                done += (size_t) n;
        }
        return 0;
}

int root_write(const Root *root, const char *rel, const char *value) {
        g_autofree char *line = g_strconcat(value, "\n", NULL);
        int fd, r;

        /* O_TRUNC matters for the regular files of a fake root; procfs and sysfs ignore it. */
        fd = open_beneath(root, rel, O_WRONLY | O_TRUNC, 0);
        if (fd < 0)
                return fd;
        r = write_all(fd, line, strlen(line));
        /* sysfs may report a refused value only at close. */
        if (close(fd) < 0 && r == 0)
                r = negative_errno();
        return r;
}

int root_rewrite_file(const Root *root, const char *rel, const char *content) {
        int fd, r;
        if (!root_rel_valid(rel))
                return -EINVAL;
        fd = open_beneath(root, rel, O_WRONLY | O_TRUNC, 0);
        if (fd < 0)
                return fd;
        r = write_all(fd, content, strlen(content));
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
        if (close(fd) < 0 && r == 0)
                r = negative_errno();
        return r;
}

struct RootFile {
        const Root *root;
        char *rel;
        int fd; /* -1 until written */
};

RootFile *root_file_new(const Root *root, const char *rel) {
        RootFile *f = g_new0(RootFile, 1);
        f->root = root;
        f->rel = g_strdup(rel);
        f->fd = -1;
        return f;
}

void root_file_free(RootFile *f) {
        if (!f)
                return;
        if (f->fd >= 0)
                close(f->fd);
        g_free(f->rel);
        g_free(f);
}

/* One write of line to the kept file; -ESTALE when what it names is gone. */
static int file_write_once(RootFile *f, const char *line, size_t len) {
        if (root_is_host(f->root)) {
                ssize_t n = write(f->fd, line, len);
                if (n < 0)
                        return errno == ENODEV || errno == ENOENT ? -ESTALE : negative_errno();
                return (size_t) n == len ? 0 : -EIO; /* the kernel takes a pid whole */
        }
        /* A fake root's regular file: what O_TRUNC and a write would leave. */
        struct stat st;
        if (fstat(f->fd, &st) < 0)
                return negative_errno();
        if (st.st_nlink == 0)
                return -ESTALE;
        if (pwrite(f->fd, line, len, 0) != (ssize_t) len || ftruncate(f->fd, (off_t) len) < 0)
                return negative_errno();
        return 0;
}

int root_file_write(RootFile *f, const char *value) {
        g_autofree char *line = g_strconcat(value, "\n", NULL);
        int r = -ESTALE;

        for (int attempt = 0; attempt < 2 && r == -ESTALE; attempt++) {
                if (f->fd < 0) {
                        int fd = open_beneath(f->root, f->rel, O_WRONLY, 0);
                        if (fd < 0)
                                return fd;
                        f->fd = fd;
                }
                r = file_write_once(f, line, strlen(line));
                if (r < 0) {
                        close(f->fd); /* opened again for the next write */
                        f->fd = -1;
                }
        }
        return r == -ESTALE ? -ENOENT : r;
}

/* A file created beneath the root (a fake cgroup's interface file). */
static int create_file_at(int dirfd, const char *name, const char *content) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        return write_all(fd, content, strlen(content));
}

int root_read_cpulist(const Root *root, const char *rel, CpuMask *out) {
        g_autofree char *line = NULL;
        int r = root_read_line(root, rel, &line);
        if (r < 0)
                return r;
        if (strcmp(g_strstrip(line), "(null)") == 0) {
                cpumask_zero(out);
                return 0;
        }
        r = cpumask_parse_list(line, out, NULL);
        return r < 0 ? -EBADMSG : 0;
}

/* The interface files of a new cgroup that isolatord reads, with what the kernel puts
 * in them; NULL: the parent's effective CPUs. A v1 cpuset (its parent has "tasks") has
 * the second set. */
static const struct {
        const char *name;
        const char *content;
} fake_cgroup_files[] = {
        { "cgroup.procs", "" },
        { "cpuset.cpus", "\n" },
        { "cpuset.cpus.effective", NULL },
        { "cpuset.cpus.partition", "member\n" },
        { "cpuset.mems", "\n" },
}, fake_cgroup_v1_files[] = {
        { "cgroup.procs", "" },
        { "tasks", "" },
        { "cpuset.cpus", "\n" },
        { "cpuset.effective_cpus", NULL },
        { "cpuset.cpu_exclusive", "0\n" },
        { "cpuset.mems", "\n" },
};

int root_cgroup_mkdir(const Root *root, const char *rel) {
        g_autofree char *name = NULL;
        _cleanup_close_ int dirfd = -1, newfd = -1;
        int r = resolve_parent(root, rel, &dirfd, &name);
        if (r < 0)
                return r;
        if (mkdirat(dirfd, name, 0755) < 0)
                return negative_errno();
        if (root_is_host(root))
                return 0;
        g_autofree char *parent = g_path_get_dirname(rel);
        g_autofree char *tasks_rel = g_strconcat(parent, "/tasks", NULL);
        bool v1 = root_exists(root, tasks_rel);
        const typeof(fake_cgroup_files[0]) *files = v1 ? fake_cgroup_v1_files : fake_cgroup_files;
        size_t nfiles = v1 ? G_N_ELEMENTS(fake_cgroup_v1_files) : G_N_ELEMENTS(fake_cgroup_files);
        g_autofree char *effective_rel = g_strconcat(parent, v1 ? "/cpuset.effective_cpus" : "/cpuset.cpus.effective", NULL);
        g_autofree char *effective = NULL;
        if (root_read_line(root, effective_rel, &effective) < 0)
                effective = g_strdup("");
        g_autofree char *effective_text = g_strconcat(effective, "\n", NULL);
        newfd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (newfd < 0)
                return negative_errno();
        for (size_t i = 0; i < nfiles; i++) {
                const char *content = files[i].content ? files[i].content : effective_text;
                if ((r = create_file_at(newfd, files[i].name, content)) < 0)
                        return r;
        }
        return 0;
}

int root_cgroup_rmdir(const Root *root, const char *rel) {
        g_autofree char *name = NULL;
        _cleanup_close_ int dirfd = -1;
        int r = resolve_parent(root, rel, &dirfd, &name);
        if (r < 0)
                return r;
        if (!root_is_host(root)) {
                _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                for (size_t i = 0; fd >= 0 && i < G_N_ELEMENTS(fake_cgroup_files); i++)
                        (void) unlinkat(fd, fake_cgroup_files[i].name, 0);
                for (size_t i = 0; fd >= 0 && i < G_N_ELEMENTS(fake_cgroup_v1_files); i++)
                        (void) unlinkat(fd, fake_cgroup_v1_files[i].name, 0);
        }
        return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? negative_errno() : 0;
}

/* Each missing folder of reldir, made beneath the root. */
static int mkdir_parents(const Root *root, const char *reldir) {
        g_auto(GStrv) parts = g_strsplit(reldir, "/", -1);
        g_autoptr(GString) path = g_string_new(NULL);
        for (char **p = parts; *p; p++) {
                g_autofree char *name = NULL;
                _cleanup_close_ int dirfd = -1;
                g_string_append_printf(path, "%s%s", path->len ? "/" : "", *p);
                int r = resolve_parent(root, path->str, &dirfd, &name);
                if (r < 0)
                        return r;
                if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
        }
        return 0;
}

int root_replace_file(const Root *root, const char *rel, const char *content, size_t len, mode_t mode) {
        g_autofree char *name = NULL, *dir = g_path_get_dirname(rel);
        g_autofree char *tmp = NULL;
        _cleanup_close_ int dirfd = -1, fd = -1;
        int r;

        if (!root_rel_valid(rel))
                return -EINVAL;
        if (!g_str_equal(dir, ".") && (r = mkdir_parents(root, dir)) < 0)
                return r;
        if ((r = resolve_parent(root, rel, &dirfd, &name)) < 0)
                return r;
        /* A new file renamed over the old: a crash leaves one or the other. */
        tmp = g_strdup_printf(".#%s.%08x", name, g_random_int());
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        r = write_all(fd, content, len);
        if (r == 0 && fchmod(fd, mode) < 0) /* the mode asked for, whatever the umask */
                r = negative_errno();
        if (r == 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        else {
                /* The rename itself on disk before the next step (the folder's fd is O_PATH). */
                _cleanup_close_ int folder = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (folder >= 0)
                        (void) fsync(folder);
        }
        return r;
}

int root_put_file(const Root *root, const char *rel, const char *content) {
        return root_replace_file(root, rel, content, strlen(content), 0644);
}

int root_read_regular(const Root *root, const char *rel, size_t max, char **out, size_t *len, mode_t *mode) {
        _cleanup_close_ int fd = -1;
        g_autoptr(GString) buf = NULL;
        struct stat st;
        char chunk[4096];

        /* O_NONBLOCK: a FIFO in its place opens at once, and is refused below, instead of
         * holding the loop until someone writes to it. */
        fd = open_beneath(root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        if ((size_t) st.st_size > max)
                return -EFBIG;
        buf = g_string_sized_new((gsize) st.st_size + 1);
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                if (buf->len + (size_t) n > max)
                        return -EFBIG; /* grew while read */
                g_string_append_len(buf, chunk, n);
        }
        if (len)
                *len = buf->len;
        if (mode)
                *mode = st.st_mode & 07777;
        *out = g_string_free(g_steal_pointer(&buf), false);
        return 0;
}

int root_mkdir(const Root *root, const char *rel) {
        g_autofree char *name = NULL;
        _cleanup_close_ int dirfd = -1;
        int r = resolve_parent(root, rel, &dirfd, &name);
        if (r < 0)
                return r;
        return mkdirat(dirfd, name, 0755) < 0 ? negative_errno() : 0;
}

int root_remove(const Root *root, const char *rel) {
        g_autofree char *name = NULL;
        _cleanup_close_ int dirfd = -1;
        int r = resolve_parent(root, rel, &dirfd, &name);
        if (r < 0)
                return r;
        if (unlinkat(dirfd, name, 0) < 0) {
                if (errno != EISDIR && errno != EPERM)
                        return negative_errno();
                if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
                        return negative_errno();
        }
        return 0;
}
