/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "enforcer-cpuset.h"
#include "log.h"

/* The CPUs of the units the partition names: init.scope, system.slice and user.slice on
 * housekeeping, each group's slice on its CPUs. Through systemd (AllowedCPUs at runtime,
 * a drop-in for daemon-reload and the next boot, the kernel's effective cpuset checked)
 * or by writing cgroupfs where no manager runs. Someone who rewrites a cpuset again and
 * again is not fought in a loop: after [Daemon] DriftBurst= corrections within BACKOFF_WINDOW
 * the unit is left alone for a while, doubling each time, and reported. */

#define BACKOFF_WINDOW_USEC (10 * G_USEC_PER_SEC)
#define BACKOFF_FIRST_SEC 2
#define BACKOFF_MAX_SEC 300
#define DROPIN_NAME "50-isolatord.conf"

static const char *const housekeeping_units[] = { "init.scope", "system.slice", "user.slice", NULL };

typedef struct UnitState {
        bool applied;              /* isolatord set it to want: a later difference is drift */
        CpuMask want;
        int64_t window_start;      /* monotonic usec */
        unsigned in_window;
        int64_t backoff_until;
        unsigned backoff_sec;
} UnitState;

typedef struct CpusetState {
        GHashTable *units;         /* unit name -> UnitState */
} CpusetState;

typedef struct Want {
        const char *unit;
        CpuMask cpus;
        bool group;
        bool isolated;
} Want;

static void *cpuset_state_new(void) {
        CpusetState *s = g_new0(CpusetState, 1);
        s->units = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        return s;
}

static void cpuset_state_free(void *p) {
        CpusetState *s = p;
        if (!s)
                return;
        g_hash_table_unref(s->units);
        g_free(s);
}

static UnitState *unit_state(CpusetState *s, const char *unit) {
        UnitState *u = g_hash_table_lookup(s->units, unit);
        if (!u) {
                u = g_new0(UnitState, 1);
                g_hash_table_insert(s->units, g_strdup(unit), u);
        }
        return u;
}

static GArray *wanted(const Config *c) {
        GArray *out = g_array_new(false, true, sizeof(Want));
        for (size_t i = 0; housekeeping_units[i]; i++) {
                Want w = { housekeeping_units[i], c->housekeeping, false, false };
                g_array_append_val(out, w);
        }
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                Want w = { g->slice, g->cpus, true, g->partition_isolated };
                g_array_append_val(out, w);
        }
        return out;
}

bool cpuset_event_is_relevant(const char *name) {
        return !name || !*name || g_str_equal(name, "cpuset.cpus") || g_str_equal(name, "cpuset.cpus.partition") ||
               g_str_has_suffix(name, ".slice") || g_str_has_suffix(name, ".scope");
}

GPtrArray *cpuset_watch_dirs(const EnforcerContext *ctx) {
        g_autoptr(GArray) want = wanted(ctx->config);
        GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

        for (unsigned i = 0; i < want->len; i++) {
                g_autofree char *rel = cgroup_unit_rel(g_array_index(want, Want, i).unit);
                char *parent = g_path_get_dirname(rel);
                char *own = g_strdup(rel);
                for (char **d = (char *[]) { parent, own, NULL }; *d; d++) {
                        if (!g_hash_table_contains(seen, *d) && root_exists(ctx->root, *d)) {
                                g_hash_table_add(seen, *d);
                                g_ptr_array_add(dirs, *d);
                        } else
                                g_free(*d);
                }
        }
        return dirs;
}

/* true: correct it now; false: backing off. */
static bool count_drift(const EnforcerContext *ctx, const char *unit, UnitState *u,
                        const char *expected, const char *actual) {
        int64_t now = g_get_monotonic_time();

        if (now < u->backoff_until)
                return false;
        if (now - u->window_start > BACKOFF_WINDOW_USEC) {
                if (now - u->window_start > 6 * BACKOFF_WINDOW_USEC)
                        u->backoff_sec = 0; /* quiet for a minute: forgiven */
                u->window_start = now;
                u->in_window = 0;
        }
        if (++u->in_window > ctx->config->daemon.drift_burst) {
                u->backoff_sec = u->backoff_sec ? MIN(u->backoff_sec * 2, BACKOFF_MAX_SEC) : BACKOFF_FIRST_SEC;
                u->backoff_until = now + (int64_t) u->backoff_sec * G_USEC_PER_SEC;
                u->window_start = u->backoff_until;
                u->in_window = 0;
                log_warning("%s: its cpuset was rewritten %u times within %d s by something else; isolatord leaves it "
                            "for %u s instead of fighting (see isoctl verify)",
                            unit, ctx->config->daemon.drift_burst + 1, (int) (BACKOFF_WINDOW_USEC / G_USEC_PER_SEC), u->backoff_sec);
                return false;
        }
        g_autoptr(Finding) f = finding_new("cpuset", unit, expected, actual, true, "cpuset changed by something else");
        enforcer_emit(ctx, &(Event) { .kind = EVENT_DRIFT_CORRECTED, .finding = f });
        return true;
}

static void backoff_finding(const UnitState *u, const char *unit, const char *expected, const char *actual,
                            GPtrArray *findings) {
        g_autofree char *msg = g_strdup_printf("rewritten again and again by something else; isolatord backs off "
                                               "(%u s) instead of fighting: find the writer (systemd-cgls, a tuning tool)",
                                               u->backoff_sec);
        g_ptr_array_add(findings, finding_new("cpuset", unit, expected, actual, true, msg));
}

/* --- cgroupfs --- */

/* Creates the missing folders of a group's slice, saving each as created first. */
static int cgroupfs_create(const EnforcerContext *ctx, const char *unit, GPtrArray *changes) {
        g_autoptr(GPtrArray) chain = cgroup_unit_chain(unit);
        for (unsigned i = 0; i < chain->len; i++) {
                g_autofree char *rel = g_strconcat("sys/fs/cgroup/", chain->pdata[i], NULL);
                g_autofree char *what = g_strconcat("mkdir ", rel, NULL);
                if (root_exists(ctx->root, rel))
                        continue;
                if (enforcer_save_original(ctx, &enforcer_cpuset, what, "") < 0)
                        return -EIO;
                if (ctx->dry_run) {
                        log_info("dry run: would create %s", rel);
                        continue;
                }
                int r = root_cgroup_mkdir(ctx->root, rel);
                if (r < 0 && r != -EEXIST)
                        return log_warning_errno(r, "cannot create %s: %m", rel);
                g_ptr_array_add(changes, finding_new("cpuset", unit, "created", "", true, "slice folder created"));
        }
        return 0;
}

static int cgroupfs_apply_one(const EnforcerContext *ctx, CpusetState *s, const Want *w, GPtrArray *changes) {
        g_autofree char *dir = cgroup_unit_rel(w->unit);
        g_autofree char *cpus_rel = g_strconcat(dir, "/cpuset.cpus", NULL);
        g_autofree char *want = cpumask_format_list(&w->cpus);
        g_autofree char *have = NULL;
        UnitState *u = unit_state(s, w->unit);
        bool drift = false;
        CpuMask cur;

        if (!root_exists(ctx->root, dir)) {
                if (!w->group)
                        return 0; /* no such unit on this machine; verify says so */
                if (cgroupfs_create(ctx, w->unit, changes) < 0)
                        return 0;
                drift = u->applied && cpumask_equal(&u->want, &w->cpus); /* someone removed it */
        }
        if (root_read_line(ctx->root, cpus_rel, &have) < 0)
                return 0; /* no cpuset controller here; verify says so */
        g_strstrip(have);
        if (!drift && cpumask_parse_list(have, &cur, NULL) >= 0 && *have && cpumask_equal(&cur, &w->cpus))
                goto partition;
        if (u->applied && cpumask_equal(&u->want, &w->cpus) &&
            !count_drift(ctx, w->unit, u, want, drift ? "removed" : have))
                return 0;
        EnforcerWrite write = { cpus_rel, want };
        int result;
        if (enforcer_write_batch(ctx, &write, 1, &result) < 0)
                return -EIO;
        if (result < 0) {
                g_autofree char *msg = g_strdup_printf("the kernel refused the cpuset: %s", g_strerror(-result));
                g_ptr_array_add(changes, finding_new("cpuset", w->unit, want, have, true, msg));
                return 0;
        }
        g_ptr_array_add(changes, finding_new("cpuset", w->unit, want, have, true, "set"));
partition:
        u->applied = true;
        u->want = w->cpus;
        if (w->isolated) {
                g_autofree char *prel = g_strconcat(dir, "/cpuset.cpus.partition", NULL), *pv = NULL;
                if (root_read_line(ctx->root, prel, &pv) >= 0 && !g_str_has_prefix(g_strstrip(pv), "isolated")) {
                        EnforcerWrite pw = { prel, (char *) "isolated" };
                        int pr;
                        if (enforcer_write_batch(ctx, &pw, 1, &pr) >= 0 && pr < 0)
                                log_warning_errno(pr, "%s refuses to become an isolated partition: %m", w->unit);
                }
        }
        return 0;
}

static void cgroupfs_verify_one(const EnforcerContext *ctx, CpusetState *s, const Want *w, GPtrArray *findings) {
        g_autofree char *dir = cgroup_unit_rel(w->unit);
        g_autofree char *cpus_rel = g_strconcat(dir, "/cpuset.cpus", NULL);
        g_autofree char *want = cpumask_format_list(&w->cpus);
        g_autofree char *have = NULL;
        UnitState *u = unit_state(s, w->unit);
        CpuMask cur;

        if (!root_exists(ctx->root, dir)) {
                g_ptr_array_add(findings, finding_new("cpuset", w->unit, want, "absent", w->group,
                                                      w->group ? "the slice's cgroup folder is missing"
                                                               : "no such cgroup on this machine"));
                return;
        }
        if (root_read_line(ctx->root, cpus_rel, &have) < 0) {
                g_ptr_array_add(findings, finding_new("cpuset", w->unit, want, "no cpuset.cpus", true,
                                                      "the cpuset controller is not enabled here (cgroup.subtree_control "
                                                      "of the parent, or cgroup v1)"));
                return;
        }
        g_strstrip(have);
        if (!*have || cpumask_parse_list(have, &cur, NULL) < 0 || !cpumask_equal(&cur, &w->cpus)) {
                if (g_get_monotonic_time() < u->backoff_until)
                        backoff_finding(u, w->unit, want, *have ? have : "(all)", findings);
                else
                        g_ptr_array_add(findings, finding_new("cpuset", w->unit, want, *have ? have : "(all)", true,
                                                              "the unit may run on other CPUs"));
        }
        if (w->isolated) {
                g_autofree char *prel = g_strconcat(dir, "/cpuset.cpus.partition", NULL), *pv = NULL;
                if (root_read_line(ctx->root, prel, &pv) < 0)
                        g_ptr_array_add(findings, finding_new("cpuset-partition", w->unit, "isolated", "unsupported", false,
                                                              "this kernel has no cpuset partitions (Linux 6.1+ for "
                                                              "isolated); the slice's CPUs are still set"));
                else if (!g_str_equal(g_strstrip(pv), "isolated"))
                        g_ptr_array_add(findings, finding_new("cpuset-partition", w->unit, "isolated", pv, true,
                                                              "not an isolated partition (the kernel says why after "
                                                              "\"invalid\")"));
        }
}

/* --- systemd --- */

static char *dropin_rel(const char *unit) {
        return g_strdup_printf("etc/systemd/system/%s.d/" DROPIN_NAME, unit);
}

static char *dropin_text(const char *unit, const CpuMask *cpus) {
        g_autofree char *list = cpumask_format_list(cpus);
        const char *section = g_str_has_suffix(unit, ".scope") ? "Scope" : g_str_has_suffix(unit, ".service") ? "Service"
                                                                                                               : "Slice";
        return g_strdup_printf("# Written by isolatord: the partition's CPUs for %s, kept across daemon-reload\n"
                               "# and reboots. isoctl revert removes it.\n[%s]\nAllowedCPUs=%s\n",
                               unit, section, list);
}

static int systemd_dropin(const EnforcerContext *ctx, const Want *w) {
        g_autofree char *rel = dropin_rel(w->unit), *text = dropin_text(w->unit, &w->cpus), *have = NULL;
        g_autofree char *dir = g_path_get_dirname(rel);

        if (root_read(ctx->root, rel, &have, NULL) >= 0 && g_str_equal(have, text))
                return 0;
        if (!have) {
                /* Every folder it will create, outermost first: a revert removes them
                 * innermost first. */
                g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
                g_autofree char *d = g_strdup(dir);
                while (!g_str_equal(d, ".") && !root_exists(ctx->root, d)) {
                        char *up = g_path_get_dirname(d);
                        g_ptr_array_insert(missing, 0, g_steal_pointer(&d));
                        d = up;
                }
                g_ptr_array_add(missing, g_strdup(rel));
                for (unsigned i = 0; i < missing->len; i++) {
                        g_autofree char *what = g_strconcat("created ", (char *) missing->pdata[i], NULL);
                        if (enforcer_save_original(ctx, &enforcer_cpuset, what, "") < 0)
                                return -EIO;
                }
        } else {
                g_autofree char *what = g_strconcat("file ", rel, NULL);
                if (enforcer_save_original(ctx, &enforcer_cpuset, what, have) < 0)
                        return -EIO;
        }
        if (ctx->dry_run) {
                log_info("dry run: would write %s", rel);
                return 0;
        }
        int r = root_put_file(ctx->root, rel, text);
        if (r < 0)
                log_warning_errno(r, "cannot write %s: %m", rel);
        return r;
}

static void systemd_apply_one(const EnforcerContext *ctx, CpusetState *s, const Want *w, GPtrArray *changes) {
        g_autoptr(GError) e = NULL;
        g_autofree char *want = cpumask_format_list(&w->cpus), *have_text = NULL;
        UnitState *u = unit_state(s, w->unit);
        CpuMask have;

        if (cgroups_systemd_get_cpus(ctx->cgroups, w->unit, &have, NULL, &e) < 0) {
                log_warning("%s", e->message);
                return;
        }
        have_text = cpumask_format_list(&have);
        if (!cpumask_equal(&have, &w->cpus)) {
                g_autofree char *what = g_strconcat("systemd ", w->unit, NULL);
                if (u->applied && cpumask_equal(&u->want, &w->cpus) &&
                    !count_drift(ctx, w->unit, u, want, *have_text ? have_text : "(all)"))
                        return;
                if (enforcer_save_original(ctx, &enforcer_cpuset, what, have_text) < 0)
                        return;
                if (ctx->dry_run)
                        log_info("dry run: would set AllowedCPUs=%s on %s", want, w->unit);
                else if (cgroups_systemd_set_cpus(ctx->cgroups, w->unit, &w->cpus, &e) < 0) {
                        g_ptr_array_add(changes, finding_new("cpuset", w->unit, want, have_text, true, e->message));
                        return;
                }
                g_ptr_array_add(changes, finding_new("cpuset", w->unit, want, have_text, true, "AllowedCPUs set"));
        }
        u->applied = true;
        u->want = w->cpus;
        (void) systemd_dropin(ctx, w);
}

static void systemd_verify_one(const EnforcerContext *ctx, CpusetState *s, const Want *w, GPtrArray *findings) {
        g_autoptr(GError) e = NULL;
        g_autofree char *want = cpumask_format_list(&w->cpus), *have_text = NULL, *cgpath = NULL;
        g_autofree char *drop = dropin_rel(w->unit), *drop_want = dropin_text(w->unit, &w->cpus), *drop_have = NULL;
        UnitState *u = unit_state(s, w->unit);
        CpuMask have, eff, want_eff;

        if (cgroups_systemd_get_cpus(ctx->cgroups, w->unit, &have, &cgpath, &e) < 0) {
                g_ptr_array_add(findings, finding_new("cpuset", w->unit, want, "unknown", true, e->message));
                return;
        }
        have_text = cpumask_format_list(&have);
        if (!cpumask_equal(&have, &w->cpus)) {
                if (g_get_monotonic_time() < u->backoff_until)
                        backoff_finding(u, w->unit, want, have_text, findings);
                else
                        g_ptr_array_add(findings, finding_new("cpuset", w->unit, want, *have_text ? have_text : "(all)", true,
                                                              "systemd's AllowedCPUs= differs"));
        }
        if (root_read(ctx->root, drop, &drop_have, NULL) < 0 || !g_str_equal(drop_have, drop_want))
                g_ptr_array_add(findings, finding_new("cpuset-dropin", w->unit, drop, "missing or changed", false,
                                                      "AllowedCPUs= would not survive a reboot"));
        /* What the kernel enforces: the unit's cpuset.cpus.effective. */
        g_autofree char *eff_rel = g_strdup_printf("sys/fs/cgroup%s/cpuset.cpus.effective",
                                                   cgpath && *cgpath ? cgpath : "/");
        cpumask_and(&want_eff, &w->cpus, &ctx->topology->online);
        if (!cgpath || !*cgpath || root_read_cpulist(ctx->root, eff_rel, &eff) < 0)
                g_ptr_array_add(findings, finding_new("cpuset-effective", w->unit, want, "unknown", false,
                                                      "no cpuset.cpus.effective for the unit: the cpuset controller is "
                                                      "not on cgroup v2 here, so AllowedCPUs= is not enforced"));
        else if (!cpumask_equal(&eff, &want_eff)) {
                g_autofree char *eff_text = cpumask_format_list(&eff);
                g_ptr_array_add(findings, finding_new("cpuset-effective", w->unit, want, eff_text, true,
                                                      "systemd has AllowedCPUs= but the kernel's effective cpuset differs"));
        }
}

/* --- the enforcer --- */

static int cpuset_apply(const EnforcerContext *ctx, GPtrArray *changes) {
        CpusetState *s = ctx->state;
        g_autoptr(GArray) want = wanted(ctx->config);
        CgroupBackend b = cgroups_backend(ctx->cgroups, ctx->root, ctx->config);

        for (unsigned i = 0; i < want->len; i++) {
                const Want *w = &g_array_index(want, Want, i);
                if (b == CGROUP_BACKEND_SYSTEMD)
                        systemd_apply_one(ctx, s, w, changes);
                else if (cgroupfs_apply_one(ctx, s, w, changes) < 0)
                        return -EIO;
        }
        return 0;
}

static int cpuset_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        CpusetState *s = ctx->state;
        g_autoptr(GArray) want = wanted(ctx->config);
        CgroupBackend b = cgroups_backend(ctx->cgroups, ctx->root, ctx->config);

        for (unsigned i = 0; i < want->len; i++) {
                const Want *w = &g_array_index(want, Want, i);
                if (b == CGROUP_BACKEND_SYSTEMD)
                        systemd_verify_one(ctx, s, w, findings);
                else
                        cgroupfs_verify_one(ctx, s, w, findings);
        }
        return 0;
}

static int cpuset_revert(const EnforcerContext *ctx) {
        CpusetState *s = ctx->state;
        g_hash_table_remove_all(s->units);
        return 0;
}

static char *cpuset_check_original(const char *what, const char *value) {
        const char *rel = strchr(what, ' ') ? strchr(what, ' ') + 1 : "";
        bool ok;
        CpuMask cpus;

        if (g_str_has_prefix(what, "mkdir "))
                ok = g_str_has_prefix(rel, "sys/fs/cgroup/");
        else if (g_str_has_prefix(what, "created "))
                /* A drop-in, and the folders above it that a bare root lacked. */
                return g_str_equal(rel, "etc") || g_str_equal(rel, "etc/systemd") || g_str_equal(rel, "etc/systemd/system") ||
                                       (enforcer_path_writable(rel) && (g_str_has_prefix(rel, "etc/systemd/system/") ||
                                                                        g_str_has_prefix(rel, "sys/fs/cgroup/")))
                               ? NULL
                               : g_strdup("the path is not one the cpuset enforcer creates");
        else if (g_str_has_prefix(what, "file "))
                ok = g_str_has_prefix(rel, "etc/systemd/system/");
        else if (g_str_has_prefix(what, "systemd "))
                return config_unit_name_valid(rel) && cpumask_parse_list(value, &cpus, NULL) >= 0
                               ? NULL
                               : g_strdup("not a unit name with a CPU list");
        else
                return g_strdup("not a cpuset entry (mkdir, created, file, systemd)");
        return ok && enforcer_path_writable(rel) ? NULL
                                                 : g_strdup("the path is not one the cpuset enforcer creates or writes");
}

static int cpuset_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        if (g_str_has_prefix(what, "mkdir "))
                return root_cgroup_rmdir(ctx->root, what + strlen("mkdir "));
        if (g_str_has_prefix(what, "created "))
                return root_remove(ctx->root, what + strlen("created "));
        if (g_str_has_prefix(what, "file "))
                return root_put_file(ctx->root, what + strlen("file "), value);
        if (g_str_has_prefix(what, "systemd ")) {
                const char *unit = what + strlen("systemd ");
                g_autoptr(GError) e = NULL;
                CpuMask cpus;
                if (cpumask_parse_list(value, &cpus, NULL) < 0)
                        return -EINVAL;
                if (cgroups_backend(ctx->cgroups, ctx->root, ctx->config) != CGROUP_BACKEND_SYSTEMD)
                        return -ENOTCONN;
                /* Emptying AllowedCPUs leaves the live cpuset as it was (systemd #43846):
                 * widen it to every CPU first. */
                if (cpumask_is_empty(&cpus) &&
                    cgroups_systemd_set_cpus(ctx->cgroups, unit, &ctx->topology->online, &e) < 0) {
                        log_warning("%s", e->message);
                        return -EIO;
                }
                if (cgroups_systemd_set_cpus(ctx->cgroups, unit, &cpus, &e) < 0) {
                        log_warning("%s", e->message);
                        return -EIO;
                }
                return 0;
        }
        return -EINVAL;
}

const EnforcerOps enforcer_cpuset = {
        .name = "cpuset",
        .state_new = cpuset_state_new,
        .state_free = cpuset_state_free,
        .verify = cpuset_verify,
        .apply = cpuset_apply,
        .revert = cpuset_revert,
        .restore = cpuset_restore,
        .check_original = cpuset_check_original,
};
