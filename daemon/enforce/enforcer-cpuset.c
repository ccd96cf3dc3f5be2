/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "enforce/enforcer.h"
#include "base/log.h"

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
        int backend;               /* the CgroupBackend last used, -1 before; said when it changes */
} CpusetState;

typedef struct Want {
        const char *unit;
        const CpuMask *cpus;    /* the configuration's (a mask is 1 KiB: not copied per event) */
        bool group;
        bool isolated;
} Want;

static void *cpuset_state_new(void) {
        CpusetState *s = g_new0(CpusetState, 1);
        s->backend = -1;
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

/* On cgroup v1 systemd makes no folders in the cpuset hierarchy: only the groups'
 * slices, which isolatord makes, are there to confine. */
static GArray *wanted(const Config *c, CgroupBackend backend) {
        GArray *out = g_array_sized_new(false, true, sizeof(Want), G_N_ELEMENTS(housekeeping_units) + c->groups->len);
        for (size_t i = 0; backend != CGROUP_BACKEND_CGROUPFS_V1 && housekeeping_units[i]; i++) {
                Want w = { housekeeping_units[i], &c->housekeeping, false, false };
                g_array_append_val(out, w);
        }
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                Want w = { g->slice, &g->cpus, true, g->partition_isolated };
                g_array_append_val(out, w);
        }
        return out;
}

static bool cpuset_event_is_relevant(const char *name) {
        return !name || !*name || g_str_equal(name, "cpuset.cpus") || g_str_equal(name, "cpuset.cpus.partition") ||
               g_str_equal(name, "cpuset.cpu_exclusive") ||
               g_str_has_suffix(name, ".slice") || g_str_has_suffix(name, ".scope");
}

static GPtrArray *cpuset_watch_dirs(const EnforcerContext *ctx) {
        CgroupBackend backend = cgroups_backend(ctx->cgroups, ctx->root, ctx->config);
        g_autoptr(GArray) want = wanted(ctx->config, backend);
        GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

        for (unsigned i = 0; i < want->len; i++) {
                g_autofree char *rel = cgroup_unit_rel(backend, g_array_index(want, Want, i).unit);
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

/* --- observe and diff --- */

/* One unit as it is now. */
typedef struct UnitObs {
        Want want;
        char *dir;              /* its cgroup folder, relative to the root (cgroupfs) */
        bool exists;            /* cgroupfs: the folder is there */
        char *have;             /* cpuset.cpus (cgroupfs) or AllowedCPUs= (systemd); NULL: unreadable */
        char *error;            /* systemd: why AllowedCPUs= could not be read */
        char *partition;        /* cpuset.cpus.partition (v1: cpuset.cpu_exclusive), NULL when the kernel has none */
        char *cgpath;           /* systemd: the unit's control group */
        char *dropin;           /* systemd: the drop-in's text, NULL when absent */
        bool has_effective;
        CpuMask effective;      /* systemd: the kernel's cpuset.cpus.effective for the unit */
} UnitObs;

typedef struct CpusetObservation {
        CgroupBackend backend;
        bool whole;             /* every unit observed (a pass), not one an event named */
        GArray *units;          /* UnitObs */
} CpusetObservation;

static void unit_obs_clear(UnitObs *u) {
        g_free(u->dir);
        g_free(u->have);
        g_free(u->error);
        g_free(u->partition);
        g_free(u->cgpath);
        g_free(u->dropin);
}

static void cpuset_observation_free(void *p) {
        CpusetObservation *o = p;
        g_array_unref(o->units);
        g_free(o);
}

static char *read_stripped(const Root *root, const char *rel) {
        char *line = NULL;
        return root_read_line(root, rel, &line) >= 0 ? g_strstrip(line) : NULL;
}

/* The first words of every drop-in isolatord writes. */
#define DROPIN_MARK "# Written by isolatord"

static char *dropin_rel(const char *unit) {
        return g_strdup_printf("etc/systemd/system/%s.d/" DROPIN_NAME, unit);
}

static char *dropin_text(const char *unit, const CpuMask *cpus) {
        g_autofree char *list = cpumask_format_list(cpus);
        const char *section = g_str_has_suffix(unit, ".scope") ? "Scope" : g_str_has_suffix(unit, ".service") ? "Service"
                                                                                                               : "Slice";
        return g_strdup_printf(DROPIN_MARK ": the partition's CPUs for %s, kept across daemon-reload\n"
                               "# and reboots. isoctl revert removes it.\n[%s]\nAllowedCPUs=%s\n",
                               unit, section, list);
}

/* What makes a slice's CPUs its own: an isolated partition on v2, an exclusive cpuset
 * on v1 (which has no partitions). */
static const char *partition_file(CgroupBackend backend) {
        return backend == CGROUP_BACKEND_CGROUPFS_V1 ? "cpuset.cpu_exclusive" : "cpuset.cpus.partition";
}

static const char *partition_want(CgroupBackend backend) {
        return backend == CGROUP_BACKEND_CGROUPFS_V1 ? "1" : "isolated";
}

static void observe_cgroupfs(const EnforcerContext *ctx, CgroupBackend backend, UnitObs *u) {
        g_autofree char *cpus_rel = g_strconcat(u->dir, "/cpuset.cpus", NULL);
        u->have = read_stripped(ctx->root, cpus_rel);
        u->exists = u->have || root_exists(ctx->root, u->dir);
        if (u->want.isolated) {
                g_autofree char *part_rel = g_strconcat(u->dir, "/", partition_file(backend), NULL);
                u->partition = read_stripped(ctx->root, part_rel);
        }
}

static void observe_systemd(const EnforcerContext *ctx, UnitObs *u) {
        g_autoptr(GError) e = NULL;
        g_autofree char *drop = dropin_rel(u->want.unit);
        CpuMask have;

        if (cgroups_systemd_get_cpus(ctx->cgroups, u->want.unit, &have, &u->cgpath, &e) < 0) {
                u->error = g_strdup(e->message);
                return;
        }
        u->have = cpumask_format_list(&have);
        if (root_read(ctx->root, drop, &u->dropin, NULL) < 0)
                g_clear_pointer(&u->dropin, g_free);
        if (u->cgpath && *u->cgpath) {
                g_autofree char *eff_rel = g_strdup_printf("sys/fs/cgroup%s/cpuset.cpus.effective", u->cgpath);
                u->has_effective = root_read_cpulist(ctx->root, eff_rel, &u->effective) >= 0;
        }
}

/* A cgroup event names a path: the unit's folder (created, removed, or in its parent's
 * listing) or a file in it; NULL, every unit, as on a pass. */
static bool in_scope(const Trigger *scope, const char *scope_parent, const char *dir) {
        if (!scope || !scope->name)
                return true;
        return g_str_equal(scope->name, dir) || g_str_equal(scope_parent, dir);
}

static void *cpuset_observe(const EnforcerContext *ctx, const Trigger *scope) {
        CpusetObservation *o = g_new0(CpusetObservation, 1);
        g_autoptr(GArray) want = NULL;

        o->backend = cgroups_backend(ctx->cgroups, ctx->root, ctx->config);
        want = wanted(ctx->config, o->backend);
        if ((int) o->backend != ((CpusetState *) ctx->state)->backend) {
                ((CpusetState *) ctx->state)->backend = (int) o->backend;
                log_info("cpusets through %s (%s)", cgroup_backend_to_string(o->backend),
                         o->backend == CGROUP_BACKEND_SYSTEMD ? "AllowedCPUs=" : cgroup_base(o->backend));
        }
        o->units = g_array_new(false, true, sizeof(UnitObs));
        o->whole = !scope || !scope->name;
        g_autofree char *scope_parent = o->whole ? NULL : g_path_get_dirname(scope->name);
        g_array_set_clear_func(o->units, (GDestroyNotify) unit_obs_clear);
        for (unsigned i = 0; i < want->len; i++) {
                UnitObs u = { .want = g_array_index(want, Want, i) };
                u.dir = cgroup_unit_rel(o->backend, u.want.unit);
                if (!in_scope(scope, scope_parent, u.dir)) {
                        unit_obs_clear(&u);
                        continue;
                }
                if (o->backend == CGROUP_BACKEND_SYSTEMD)
                        observe_systemd(ctx, &u);
                else
                        observe_cgroupfs(ctx, o->backend, &u);
                g_array_append_val(o->units, u);
        }
        return o;
}

static void backoff_finding(const UnitState *u, const char *unit, const char *expected, const char *actual,
                            Difference *d) {
        g_autofree char *msg = g_strdup_printf("rewritten again and again by something else; isolatord backs off "
                                               "(%u s) instead of fighting: find the writer (systemd-cgls, a tuning tool)",
                                               u->backoff_sec);
        /* expected and actual may be the old finding's own: the new one first. */
        Finding *f = finding_new("cpuset", unit, expected, actual, true, msg);
        finding_free(d->finding);
        d->finding = f;
        d->repairable = false;
}

/* The CPUs differ: repairable unless isolatord is backing off from a fight. */
static void diff_cpus(CpusetState *s, const UnitObs *u, const char *want, const char *have, const char *why,
                      GPtrArray *diffs) {
        UnitState *us = unit_state(s, u->want.unit);
        Difference *d = difference_add(diffs, finding_new("cpuset", u->want.unit, want, have, true, why), true, u);
        if (g_get_monotonic_time() < us->backoff_until)
                backoff_finding(us, u->want.unit, want, have, d);
}

static void diff_cgroupfs(const EnforcerContext *ctx, CgroupBackend backend, CpusetState *s, const UnitObs *u,
                          GPtrArray *diffs) {
        CpuMask cur;
        bool held = u->have && *u->have && cpumask_parse_list(u->have, &cur, NULL) >= 0 &&
                    cpumask_equal(&cur, u->want.cpus);
        /* The wanted CPUs as text only for a finding: at every event the unit that holds
         * them (the echo of a repair) needs none. */
        g_autofree char *want = held ? NULL : cpumask_format_list(u->want.cpus);

        if (!u->exists) {
                if (u->want.group)
                        diff_cpus(s, u, want, "absent", "the slice's cgroup folder is missing", diffs);
                else
                        difference_add(diffs, finding_new("cpuset", u->want.unit, want, "absent", false,
                                                          "no such cgroup on this machine"),
                                       false, u);
                return;
        }
        if (!u->have) {
                difference_add(diffs, finding_new("cpuset", u->want.unit, want, "no cpuset.cpus", true,
                                                  "the cpuset controller is not enabled here (cgroup.subtree_control "
                                                  "of the parent, or cgroup v1)"),
                               false, u);
                return;
        }
        if (!held)
                diff_cpus(s, u, want, *u->have ? u->have : "(all)", "the unit may run on other CPUs", diffs);
        if (!u->want.isolated)
                return;
        if (backend == CGROUP_BACKEND_CGROUPFS_V1) {
                if (!u->partition || !g_str_equal(u->partition, "1"))
                        difference_add(diffs, finding_new("cpuset-partition", u->want.unit, "cpu_exclusive 1",
                                                          u->partition ? u->partition : "unreadable", true,
                                                          "cgroup v1 has no isolated partitions: an exclusive cpuset "
                                                          "keeps sibling cpusets off the slice's CPUs"),
                                       u->partition != NULL, u);
                return;
        }
        if (!u->partition)
                difference_add(diffs, finding_new("cpuset-partition", u->want.unit, "isolated", "unsupported", false,
                                                  "this kernel has no cpuset partitions (Linux 6.1+ for isolated); the "
                                                  "slice's CPUs are still set"),
                               false, u);
        else if (!g_str_equal(u->partition, "isolated"))
                difference_add(diffs, finding_new("cpuset-partition", u->want.unit, "isolated", u->partition, true,
                                                  "not an isolated partition (the kernel says why after \"invalid\")"),
                               !g_str_has_prefix(u->partition, "isolated"), u);
}

static void diff_systemd(const EnforcerContext *ctx, CpusetState *s, const UnitObs *u, GPtrArray *diffs) {
        g_autofree char *want = cpumask_format_list(u->want.cpus);
        g_autofree char *drop = dropin_rel(u->want.unit), *drop_want = dropin_text(u->want.unit, u->want.cpus);
        CpuMask want_eff, have;

        if (u->error) {
                difference_add(diffs, finding_new("cpuset", u->want.unit, want, "unknown", true, u->error), false, u);
                return;
        }
        if (cpumask_parse_list(u->have, &have, NULL) < 0 || !cpumask_equal(&have, u->want.cpus))
                diff_cpus(s, u, want, *u->have ? u->have : "(all)", "systemd's AllowedCPUs= differs", diffs);
        if (!u->dropin || !g_str_equal(u->dropin, drop_want))
                difference_add(diffs, finding_new("cpuset-dropin", u->want.unit, drop, "missing or changed", false,
                                                  "AllowedCPUs= would not survive a reboot"),
                               true, u);
        /* What the kernel enforces: the unit's cpuset.cpus.effective. */
        cpumask_and(&want_eff, u->want.cpus, &ctx->topology->online);
        if (!u->has_effective && (!u->cgpath || !*u->cgpath))
                ; /* no cgroup yet: nothing runs in the unit, and AllowedCPUs= holds when it starts */
        else if (!u->has_effective)
                difference_add(diffs, finding_new("cpuset-effective", u->want.unit, want, "unknown", false,
                                                  "no cpuset.cpus.effective for the unit: the cpuset controller is not "
                                                  "on cgroup v2 here, so AllowedCPUs= is not enforced"),
                               false, u);
        else if (!cpumask_equal(&u->effective, &want_eff)) {
                g_autofree char *eff_text = cpumask_format_list(&u->effective);
                /* Not repairable by itself: it follows AllowedCPUs=, and is read again
                 * when apply sets that. */
                difference_add(diffs, finding_new("cpuset-effective", u->want.unit, want, eff_text, true,
                                                  "systemd has AllowedCPUs= but the kernel's effective cpuset differs"),
                               false, u);
        }
}

static void cpuset_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const CpusetObservation *o = obs;
        for (unsigned i = 0; i < o->units->len; i++) {
                const UnitObs *u = &g_array_index(o->units, UnitObs, i);
                if (o->backend == CGROUP_BACKEND_SYSTEMD)
                        diff_systemd(ctx, ctx->state, u, diffs);
                else
                        diff_cgroupfs(ctx, o->backend, ctx->state, u, diffs);
        }
        if (o->backend == CGROUP_BACKEND_CGROUPFS_V1 && o->whole)
                difference_add(diffs, finding_new("cpuset", "housekeeping units", "confined to housekeeping",
                                                  "not confined (cgroup v1)", false,
                                                  "on a v1 cpuset hierarchy systemd makes no folders for init.scope, "
                                                  "system.slice and user.slice, so only the groups' slices are "
                                                  "confined; isolcpus= keeps the scheduler's balancing off the group "
                                                  "CPUs; fix: boot with systemd.unified_cgroup_hierarchy=1"),
                               false, NULL);
}

/* --- apply --- */

/* true: correct it now; false: backing off (the difference then says so). */
static bool count_drift(const EnforcerContext *ctx, const UnitObs *uo, UnitState *u, Difference *d) {
        int64_t now = g_get_monotonic_time();
        const char *unit = uo->want.unit;

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
                backoff_finding(u, unit, d->finding->expected, d->finding->actual, d);
                return false;
        }
        return true;
}

static void drift_corrected(const EnforcerContext *ctx, const Difference *d) {
        g_autoptr(Finding) f = finding_new("cpuset", d->finding->object, d->finding->expected, d->finding->actual, true,
                                           "cpuset changed by something else");
        enforcer_emit(ctx, &(Event) { .kind = EVENT_DRIFT_CORRECTED, .finding = f });
}

/* Creates the missing folders of a group's slice, saving each as created first. A v1
 * cpuset takes no process before its memory nodes are set: its parent's. */
static int cgroupfs_create(const EnforcerContext *ctx, CgroupBackend backend, const char *unit) {
        g_autoptr(GPtrArray) chain = cgroup_unit_chain(unit);
        for (unsigned i = 0; i < chain->len; i++) {
                g_autofree char *rel = g_strconcat(cgroup_base(backend), "/", chain->pdata[i], NULL);
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
                if (backend == CGROUP_BACKEND_CGROUPFS_V1) {
                        g_autofree char *parent = g_path_get_dirname(rel);
                        g_autofree char *from = g_strconcat(parent, "/cpuset.mems", NULL), *mems = NULL;
                        g_autofree char *to = g_strconcat(rel, "/cpuset.mems", NULL);
                        /* The folder is isolatord's and goes with a revert: nothing to save. */
                        if (root_read_line(ctx->root, from, &mems) < 0 || (r = root_write(ctx->root, to, g_strstrip(mems))) < 0)
                                return log_warning_errno(r < 0 ? r : -EIO, "cannot give %s its memory nodes: %m", rel);
                }
        }
        return 0;
}

/* true when the slice is an isolated partition (v1: an exclusive cpuset) now. */
static bool cgroupfs_set_partition(const EnforcerContext *ctx, CgroupBackend backend, const UnitObs *uo) {
        g_autofree char *rel = g_strconcat(uo->dir, "/", partition_file(backend), NULL), *now = NULL;
        const char *want = partition_want(backend);
        EnforcerWrite pw = { rel, (char *) want };
        int pr;
        if (enforcer_write_batch(ctx, &pw, 1, &pr) < 0)
                return false;
        if (pr < 0) {
                log_warning_errno(pr, "%s refuses to become an isolated partition: %m", uo->want.unit);
                return false;
        }
        /* The kernel may take the word and still refuse: "isolated invalid (...)". */
        now = ctx->dry_run ? g_strdup(want) : read_stripped(ctx->root, rel);
        return now && g_str_equal(now, want);
}

static void cgroupfs_set_cpus(const EnforcerContext *ctx, CgroupBackend backend, const UnitObs *uo, Difference *d) {
        g_autofree char *cpus_rel = g_strconcat(uo->dir, "/cpuset.cpus", NULL);
        EnforcerWrite write = { cpus_rel, d->finding->expected };
        int result;

        if (!uo->exists && cgroupfs_create(ctx, backend, uo->want.unit) < 0)
                return;
        if (enforcer_write_batch(ctx, &write, 1, &result) < 0)
                return;
        if (result < 0) {
                g_autofree char *msg = g_strdup_printf("the kernel refused the cpuset: %s", g_strerror(-result));
                g_free(d->finding->message);
                d->finding->message = g_steal_pointer(&msg);
                return;
        }
        d->repaired = true;
        /* A folder just created was not observed: its partition is set here too. */
        if (!uo->exists && uo->want.isolated)
                (void) cgroupfs_set_partition(ctx, backend, uo);
}

static void systemd_set_cpus(const EnforcerContext *ctx, GPtrArray *diffs, const UnitObs *uo, Difference *d) {
        g_autoptr(GError) e = NULL;
        g_autofree char *what = g_strconcat("systemd ", uo->want.unit, NULL);

        if (enforcer_save_original(ctx, &enforcer_cpuset, what, uo->have) < 0)
                return;
        if (ctx->dry_run)
                log_info("dry run: would set AllowedCPUs=%s on %s", d->finding->expected, uo->want.unit);
        else if (cgroups_systemd_set_cpus(ctx->cgroups, uo->want.unit, uo->want.cpus, &e) < 0) {
                g_free(d->finding->message);
                d->finding->message = g_strdup(e->message);
                return;
        }
        d->repaired = true;
        /* The effective cpuset follows: read again what this unit's difference said. */
        for (unsigned i = 0; !ctx->dry_run && i < diffs->len; i++) {
                Difference *eff = diffs->pdata[i];
                CpuMask now, want_eff;
                if (eff->object != uo || !g_str_equal(eff->finding->kind, "cpuset-effective") || !uo->cgpath)
                        continue;
                g_autofree char *rel = g_strdup_printf("sys/fs/cgroup%s/cpuset.cpus.effective", uo->cgpath);
                cpumask_and(&want_eff, uo->want.cpus, &ctx->topology->online);
                eff->repaired = root_read_cpulist(ctx->root, rel, &now) >= 0 && cpumask_equal(&now, &want_eff);
        }
}

static void systemd_write_dropin(const EnforcerContext *ctx, const UnitObs *uo, Difference *d) {
        g_autofree char *rel = dropin_rel(uo->want.unit), *text = dropin_text(uo->want.unit, uo->want.cpus);
        g_autofree char *dir = g_path_get_dirname(rel);

        if (!uo->dropin) {
                /* Every folder it will create, outermost first: a revert removes them
                 * innermost first. */
                g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func(g_free);
                g_autofree char *p = g_strdup(dir);
                while (!g_str_equal(p, ".") && !root_exists(ctx->root, p)) {
                        char *up = g_path_get_dirname(p);
                        g_ptr_array_insert(missing, 0, g_steal_pointer(&p));
                        p = up;
                }
                g_ptr_array_add(missing, g_strdup(rel));
                for (unsigned i = 0; i < missing->len; i++) {
                        g_autofree char *what = g_strconcat("created ", (char *) missing->pdata[i], NULL);
                        if (enforcer_save_original(ctx, &enforcer_cpuset, what, "") < 0)
                                return;
                }
        } else {
                g_autofree char *what = g_strconcat("file ", rel, NULL);
                if (enforcer_save_original(ctx, &enforcer_cpuset, what, uo->dropin) < 0)
                        return;
        }
        if (ctx->dry_run) {
                log_info("dry run: would write %s", rel);
                d->repaired = true;
                return;
        }
        int r = root_put_file(ctx->root, rel, text);
        if (r < 0)
                log_warning_errno(r, "cannot write %s: %m", rel);
        d->repaired = r >= 0;
}

/* The originals saved before isolatord's first write live in /run and end with the boot;
 * its drop-ins in /etc do not. A drop-in of its own that no original of this boot
 * accounts for was written by isolatord in an earlier boot, and systemd applied it at
 * this one: it is adopted as isolatord's (removed by a revert, and the unit's CPUs reset,
 * as they were before it) before anything else is saved for the unit, so that a revert
 * after a reboot puts the machine back too. */
static void adopt_dropin(const EnforcerContext *ctx, const UnitObs *uo) {
        g_autofree char *rel = dropin_rel(uo->want.unit);
        g_autofree char *dir = g_path_get_dirname(rel);
        g_autofree char *created = g_strdup_printf("@%s created %s", enforcer_cpuset.name, rel);
        g_autofree char *file = g_strdup_printf("@%s file %s", enforcer_cpuset.name, rel);
        g_autofree char *cpus = g_strdup_printf("@%s systemd %s", enforcer_cpuset.name, uo->want.unit);
        g_autofree char *dir_key = g_strdup_printf("@%s created %s", enforcer_cpuset.name, dir);
        g_autoptr(GPtrArray) whats = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) values = g_ptr_array_new();

        if (!uo->dropin || !g_str_has_prefix(uo->dropin, DROPIN_MARK) || originals_has(ctx->originals, created) ||
            originals_has(ctx->originals, file) || ctx->dry_run)
                return;
        /* Oldest first, as a revert restores newest first: the unit's CPUs, the folder
         * when the drop-in is all it holds, the drop-in. */
        if (!originals_has(ctx->originals, cpus)) {
                g_ptr_array_add(whats, g_strconcat("systemd ", uo->want.unit, NULL));
                g_ptr_array_add(values, (char *) "");
        }
        g_autofree char *path = root_path(ctx->root, dir);
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *entry;
        unsigned others = 0;
        while (d && (entry = g_dir_read_name(d)))
                others += !g_str_equal(entry, DROPIN_NAME);
        if (d && others == 0 && !originals_has(ctx->originals, dir_key)) {
                g_ptr_array_add(whats, g_strconcat("created ", dir, NULL));
                g_ptr_array_add(values, (char *) "");
        }
        g_ptr_array_add(whats, g_strconcat("created ", rel, NULL));
        g_ptr_array_add(values, (char *) "");
        if (enforcer_save_originals(ctx, &enforcer_cpuset, whats->len, (const char *const *) whats->pdata,
                                    (const char *const *) values->pdata) >= 0)
                log_info("%s was written by isolatord before this boot: a revert removes it", rel);
}

static int cpuset_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const CpusetObservation *o = obs;
        CpusetState *s = ctx->state;

        for (unsigned i = 0; o->backend == CGROUP_BACKEND_SYSTEMD && i < o->units->len; i++)
                adopt_dropin(ctx, &g_array_index(o->units, UnitObs, i));

        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                const UnitObs *uo = d->object;
                if (!d->repairable || d->repaired)
                        continue;
                if (g_str_equal(d->finding->kind, "cpuset")) {
                        UnitState *u = unit_state(s, uo->want.unit);
                        /* isolatord had set it: someone else changed it since. */
                        bool drift = u->applied && cpumask_equal(&u->want, uo->want.cpus);
                        if (drift && !count_drift(ctx, uo, u, d))
                                continue;
                        if (o->backend == CGROUP_BACKEND_SYSTEMD)
                                systemd_set_cpus(ctx, diffs, uo, d);
                        else
                                cgroupfs_set_cpus(ctx, o->backend, uo, d);
                        if (d->repaired && drift)
                                drift_corrected(ctx, d);
                } else if (g_str_equal(d->finding->kind, "cpuset-partition"))
                        d->repaired = cgroupfs_set_partition(ctx, o->backend, uo);
                else if (g_str_equal(d->finding->kind, "cpuset-dropin"))
                        systemd_write_dropin(ctx, uo, d);
        }
        /* What holds now is isolatord's: a later difference is drift. */
        for (unsigned i = 0; i < o->units->len; i++) {
                const UnitObs *uo = &g_array_index(o->units, UnitObs, i);
                bool differs = false;
                for (unsigned j = 0; j < diffs->len; j++) {
                        const Difference *d = diffs->pdata[j];
                        differs |= d->object == uo && !d->repaired && g_str_equal(d->finding->kind, "cpuset");
                }
                if (!differs && !uo->error && (uo->exists || o->backend == CGROUP_BACKEND_SYSTEMD)) {
                        UnitState *u = unit_state(s, uo->want.unit);
                        u->applied = true;
                        u->want = *uo->want.cpus;
                }
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

static const EnforcerWatch cpuset_watch = { cpuset_watch_dirs, cpuset_event_is_relevant };
static const EnforcerOriginals cpuset_originals = { cpuset_restore, cpuset_check_original };

const EnforcerOps enforcer_cpuset = {
        .name = "cpuset",
        .state_new = cpuset_state_new,
        .state_free = cpuset_state_free,
        .triggers = TRIGGER_BIT(TRIGGER_CGROUP),
        .observe = cpuset_observe,
        .observation_free = cpuset_observation_free,
        .diff = cpuset_diff,
        .apply = cpuset_apply,
        .watch = &cpuset_watch,
        .revert = cpuset_revert,
        .originals = &cpuset_originals,
};
