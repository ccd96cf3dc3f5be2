/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The cgroup v1 backend against this machine's own cpuset hierarchy, read-only: "auto"
 * must choose it on a hybrid host, and the cpuset enforcer's observation and diff (no
 * apply) must read the real files and report the group's slice as missing, while not a
 * file under sys/fs/cgroup/cpuset changes (names, modification times, and the values
 * of the top's cpuset files). Exits 77 on a host without a v1 cpuset hierarchy. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kernel/cgroup.h"
#include "model/config.h"
#include "enforce/enforcer.h"
#include "model/finding.h"
#include "kernel/root.h"
#include "model/topology.h"

static GString *snapshot;

static int note(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        g_string_append_printf(snapshot, "%s %ld.%09ld\n", path, (long) st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        return 0;
}

static char *take_snapshot(void) {
        static const char *const values[] = { "cpuset.cpus", "cpuset.mems", "cpuset.cpu_exclusive", "cgroup.procs" };
        snapshot = g_string_new(NULL);
        if (nftw("/sys/fs/cgroup/cpuset", note, 16, FTW_PHYS) < 0)
                g_string_append_printf(snapshot, "walk failed: %s\n", g_strerror(errno));
        for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
                g_autofree char *path = g_strconcat("/sys/fs/cgroup/cpuset/", values[i], NULL), *text = NULL;
                if (g_file_get_contents(path, &text, NULL, NULL))
                        g_string_append_printf(snapshot, "%s=%s", values[i], text);
        }
        return g_string_free(snapshot, false);
}

static int checks, failures;
#define CHECK(cond, ...)                                                                 \
        do {                                                                             \
                checks++;                                                                \
                if (!(cond)) {                                                           \
                        failures++;                                                      \
                        fprintf(stderr, "FAIL: " __VA_ARGS__);                           \
                        fputc('\n', stderr);                                             \
                }                                                                        \
        } while (0)

int main(void) {
        g_autoptr(Root) root = root_new("/");
        g_autoptr(Cgroups) cgroups = cgroups_new();
        g_autoptr(Config) config = NULL;
        g_autoptr(Topology) topology = NULL;
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) findings = findings_new();
        g_autofree char *before = NULL, *after = NULL, *conf = NULL, *last = NULL, *online = NULL;
        g_auto(PassInputs) inputs = { .root = root };
        const Finding *slice = NULL, *housekeeping = NULL;
        int ncpus;

        if (!root_exists(root, CGROUP_V1_CPUSET "/cpuset.cpus")) {
                printf("SKIP: this machine has no cgroup v1 cpuset hierarchy at /sys/fs/cgroup/cpuset\n");
                return 77;
        }
        if (topology_load(root, &topology, &e) < 0) {
                fprintf(stderr, "FAIL: %s\n", e->message);
                return 1;
        }
        ncpus = cpumask_last(&topology->online);
        if (ncpus < 1) {
                printf("SKIP: one CPU online: no partition to observe\n");
                return 77;
        }
        /* Housekeeping the first CPU, a group on the last: valid on any machine. */
        online = cpumask_format_list(&topology->online);
        conf = g_strdup_printf("[Partition]\nHousekeeping=0\n[Group v1test]\nCPUs=%d\nSlice=isolatord-v1test.slice\n"
                               "Partition=isolated\n[Daemon]\nCgroupBackend=auto\n",
                               ncpus);
        if (config_load_data(conf, "cgroup-v1-host.conf", &config, &e) < 0) {
                fprintf(stderr, "FAIL: %s\n", e->message);
                return 1;
        }
        before = take_snapshot();
        CHECK(cgroups_backend(cgroups, root, config) == CGROUP_BACKEND_CGROUPFS_V1,
              "auto did not choose cgroupfs-v1 on this hybrid host");

        void *state = enforcer_cpuset.state_new();
        EnforcerContext ctx = { .root = root, .host = root, .cgroups = cgroups, .config = config,
                                .topology = topology, .dry_run = true, .inputs = &inputs, .state = state };
        unsigned repaired = enforcer_reconcile(&ctx, &enforcer_cpuset, NULL, false, findings);
        enforcer_cpuset.state_free(state);
        CHECK(repaired == 0, "a read-only reconcile repaired %u", repaired);
        for (unsigned i = 0; i < findings->len; i++) {
                const Finding *f = findings->pdata[i];
                printf("finding: %s %s expected %s found %s\n", f->kind, f->object, f->expected, f->actual);
                if (g_str_equal(f->object, "isolatord-v1test.slice"))
                        slice = f;
                if (g_str_equal(f->object, "housekeeping units"))
                        housekeeping = f;
        }
        CHECK(slice && g_str_equal(slice->actual, "absent") && slice->required,
              "the group's slice is not reported missing from the real v1 hierarchy");
        CHECK(housekeeping && !housekeeping->required, "no advice that v1 leaves the housekeeping units unconfined");

        after = take_snapshot();
        CHECK(g_str_equal(before, after), "the real cpuset hierarchy changed:\n--- before\n%s--- after\n%s", before, after);
        last = g_strdup_printf("%d", ncpus);
        printf("%d checks, %d failed (CPUs %s online, group on CPU %s, %zu bytes of the hierarchy compared)\n", checks,
               failures, online, last, strlen(before));
        return failures ? 1 : 0;
}
