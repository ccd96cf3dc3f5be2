/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The saved-originals store under placements: N processes placed (three entries each,
 * one synced append per placement, as the workload enforcer saves them), then the same
 * N ending (forgotten), for N = 500, 1000, 2000, 4000 on the runtime folder's file
 * system (TMPDIR). Beside it, in the same run, the bare equivalent: the same lines
 * appended with write() + fdatasync() by hand. Time and size per placement stay flat
 * when the store is linear. Prints figures; asserts nothing. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "kernel/originals.h"

static off_t size_of(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? 0 : st.st_size;
}

static void key(char *buf, size_t len, const char *kind, unsigned i) {
        snprintf(buf, len, "@workload %s %u hqplayerd-%u", kind, 100000 + i, i);
}

static const char *const kinds[] = { "cgroup", "affinity", "sched" };
static const char *const values[] = { "/system.slice/hqplayerd.service", "0-15", "0 0" };

static void run(unsigned n) {
        g_autofree char *dir = g_dir_make_tmp("isolatord-bench-originals-XXXXXX", NULL);
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        g_autoptr(GHashTable) gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        Originals *o = NULL;
        char k[128];

        originals_open(dir, "root=/ boot=bench", &o, NULL);
        uint64_t t0 = now_ns();
        for (unsigned i = 0; i < n; i++) {
                for (unsigned j = 0; j < 3; j++) {
                        key(k, sizeof k, kinds[j], i);
                        originals_remember(o, k, values[j]);
                }
                originals_flush(o, NULL);
        }
        uint64_t placed = now_ns() - t0;
        off_t size = size_of(file);
        t0 = now_ns();
        for (unsigned i = 0; i < n; i++) {
                g_hash_table_remove_all(gone);
                for (unsigned j = 0; j < 3; j++) {
                        key(k, sizeof k, kinds[j], i);
                        g_hash_table_add(gone, g_strdup(k));
                }
                originals_forget(o, gone, NULL);
        }
        uint64_t ended = now_ns() - t0;
        off_t size_after = size_of(file);
        originals_free(o);
        g_unlink(file);

        /* The floor: the same placement lines appended and synced by hand. */
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        t0 = now_ns();
        for (unsigned i = 0; i < n; i++) {
                char line[512];
                size_t len = 0;
                for (unsigned j = 0; j < 3; j++) {
                        key(k, sizeof k, kinds[j], i);
                        len += (size_t) snprintf(line + len, sizeof line - len, "+\t%s\t%s\n", k, values[j]);
                }
                if (write(fd, line, len) < 0 || fdatasync(fd) < 0)
                        perror("bare append");
        }
        uint64_t bare = now_ns() - t0;
        close(fd);
        g_unlink(file);
        g_rmdir(dir);
        printf("%5u placements: %8.1f ms (%5.1f us each), file %7lld bytes (%3lld each); bare append %8.1f ms "
               "(%5.1f us each, ratio %.2f); %5u exits %8.1f ms (%5.1f us each), file after %lld bytes\n",
               n, placed / 1e6, placed / 1e3 / n, (long long) size, (long long) size / n, bare / 1e6, bare / 1e3 / n,
               (double) placed / (double) bare, n, ended / 1e6, ended / 1e3 / n, (long long) size_after);
}

int main(void) {
        for (unsigned n = 500; n <= 4000; n *= 2)
                run(n);
        return 0;
}
