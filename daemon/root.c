/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "root.h"

struct Root {
        char *dir; /* without a trailing slash; "" for the real root */
};

Root *root_new(const char *dir) {
        Root *root = g_new0(Root, 1);
        size_t len;

        assert(dir);
        len = strlen(dir);
        while (len > 0 && dir[len - 1] == '/')
                len--;
        root->dir = g_strndup(dir, len);
        return root;
}

void root_free(Root *root) {
        if (!root)
                return;
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
        g_autofree char *path = root_path(root, rel);
        _cleanup_close_ int fd = -1;
        GString *buf;
        char chunk[16384];

        assert(out);
        /* Kernel files report size 0 and are read until EOF; not g_file_get_contents,
         * which would hide the errno we want to report. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        buf = g_string_sized_new(256);
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = negative_errno();
                        g_string_free(buf, true);
                        return r;
                }
                if (n == 0)
                        break;
                g_string_append_len(buf, chunk, n);
        }
        if (len)
                *len = buf->len;
        *out = g_string_free(buf, false);
        return 0;
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

int root_write(const Root *root, const char *rel, const char *value) {
        g_autofree char *path = root_path(root, rel);
        g_autofree char *line = g_strconcat(value, "\n", NULL);
        size_t len = strlen(line), done = 0;
        int fd;

        /* O_TRUNC matters for the regular files of a fake root; procfs and sysfs ignore it. */
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        while (done < len) {
                ssize_t n = write(fd, line + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = negative_errno();
                        close(fd);
                        return r;
                }
                done += (size_t) n;
        }
        /* sysfs may report a refused value only at close. */
        if (close(fd) < 0)
                return negative_errno();
        return 0;
}

int root_read_cpulist(const Root *root, const char *rel, CpuSet *out) {
        g_autofree char *line = NULL;
        int r = root_read_line(root, rel, &line);
        if (r < 0)
                return r;
        if (strcmp(g_strstrip(line), "(null)") == 0) {
                cpuset_zero(out);
                return 0;
        }
        r = cpuset_parse_list(line, out, NULL);
        return r < 0 ? -EBADMSG : 0;
}

/* The interface files of a new cgroup that isolatord reads, with what the kernel puts
 * in them; NULL: the parent's cpuset.cpus.effective. */
static const struct {
        const char *name;
        const char *content;
} fake_cgroup_files[] = {
        { "cgroup.procs", "" },
        { "cpuset.cpus", "\n" },
        { "cpuset.cpus.effective", NULL },
        { "cpuset.cpus.partition", "member\n" },
        { "cpuset.mems", "\n" },
};

int root_cgroup_mkdir(const Root *root, const char *rel) {
        g_autofree char *path = root_path(root, rel);
        if (mkdir(path, 0755) < 0)
                return negative_errno();
        if (root_is_host(root))
                return 0;
        g_autofree char *parent = g_path_get_dirname(rel);
        g_autofree char *effective_rel = g_strconcat(parent, "/cpuset.cpus.effective", NULL), *effective = NULL;
        if (root_read_line(root, effective_rel, &effective) < 0)
                effective = g_strdup("");
        g_autofree char *effective_text = g_strconcat(effective, "\n", NULL);
        for (size_t i = 0; i < G_N_ELEMENTS(fake_cgroup_files); i++) {
                g_autofree char *file = g_build_filename(path, fake_cgroup_files[i].name, NULL);
                const char *content = fake_cgroup_files[i].content ? fake_cgroup_files[i].content : effective_text;
                if (!g_file_set_contents(file, content, -1, NULL))
                        return -EIO;
        }
        return 0;
}

int root_cgroup_rmdir(const Root *root, const char *rel) {
        g_autofree char *path = root_path(root, rel);
        if (!root_is_host(root))
                for (size_t i = 0; i < G_N_ELEMENTS(fake_cgroup_files); i++) {
                        g_autofree char *file = g_build_filename(path, fake_cgroup_files[i].name, NULL);
                        (void) unlink(file);
                }
        return rmdir(path) < 0 ? negative_errno() : 0;
}

int root_put_file(const Root *root, const char *rel, const char *content) {
        g_autofree char *path = root_path(root, rel);
        g_autofree char *dir = g_path_get_dirname(path);
        if (g_mkdir_with_parents(dir, 0755) < 0)
                return negative_errno();
        if (!g_file_set_contents_full(path, content, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, NULL))
                return -EIO;
        return 0;
}

int root_remove(const Root *root, const char *rel) {
        g_autofree char *path = root_path(root, rel);
        return remove(path) < 0 ? negative_errno() : 0;
}
