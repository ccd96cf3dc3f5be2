/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "enforce/workload-classify.h"
#include "base/text.h"
#include "kernel/task.h"
#include "kernel/trust.h"

/* How long the manager's word on a unit's control group is taken without asking again. */
#define UNIT_CGROUP_TTL_USEC G_USEC_PER_SEC
/* A manager that did not answer in time is not asked again for a while: a user who
 * starts processes named like a Unit= would otherwise hold the loop once a second. */
#define UNIT_CGROUP_STALLED_TTL_USEC (15 * G_USEC_PER_SEC)

/* What the system manager said of a unit's control group, and when. */
typedef struct UnitCgroup {
        char *path;       /* NULL: none (why says why) */
        char *why;
        int64_t at;       /* CLOCK_MONOTONIC, of the answer */
        bool stalled;     /* no answer in time */
} UnitCgroup;

struct Classifier {
        TrustCache *trust;        /* folders of executables found trusted */
        GHashTable *unit_cgroups; /* unit -> UnitCgroup */
};

static void unit_cgroup_free(UnitCgroup *u) {
        g_free(u->path);
        g_free(u->why);
        g_free(u);
}

Classifier *classifier_new(void) {
        Classifier *cl = g_new0(Classifier, 1);
        cl->trust = trust_cache_new();
        cl->unit_cgroups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) unit_cgroup_free);
        return cl;
}

void classifier_free(Classifier *cl) {
        if (!cl)
                return;
        trust_cache_free(cl->trust);
        g_hash_table_unref(cl->unit_cgroups);
        g_free(cl);
}

static gboolean answered(gpointer key, gpointer value, gpointer userdata) {
        return !((UnitCgroup *) value)->stalled;
}

/* A pass asks again, except a manager that did not answer: its pause holds. */
void classifier_forget(Classifier *cl) {
        trust_cache_flush(cl->trust);
        g_hash_table_foreach_remove(cl->unit_cgroups, answered, NULL);
}

/* Every exec on the machine comes here: without a Match= or Unit= anywhere there is
 * nothing to read. */
bool workload_any_match(const Config *c) {
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                if (g->match[0] || g->units[0])
                        return true;
        }
        return false;
}

static bool any_unit(const Config *c) {
        for (unsigned i = 0; i < c->groups->len; i++)
                if (((const GroupConfig *) c->groups->pdata[i])->units[0])
                        return true;
        return false;
}

static bool globs_match(char *const *globs, const char *text) {
        for (char *const *m = globs; text && *m; m++)
                if (text_glob_match(*m, text))
                        return true;
        return false;
}

/* Match= names an executable by its path or its file name. */
static bool exe_matches(const GroupConfig *g, const char *path) {
        return path && (globs_match(g->match, path) || globs_match(g->match, text_file_name(path)));
}

bool workload_any_exe_match(const Config *c, const char *path) {
        for (unsigned i = 0; path && i < c->groups->len; i++)
                if (exe_matches(c->groups->pdata[i], path))
                        return true;
        return false;
}

bool workload_cgroup_within(const char *cgroup, const char *unit_cgroup) {
        size_t n = strlen(unit_cgroup);
        if (n == 0 || unit_cgroup[0] != '/' || g_str_equal(unit_cgroup, "/"))
                return false; /* the root cgroup is no unit's */
        return g_str_has_prefix(cgroup, unit_cgroup) && (cgroup[n] == '\0' || cgroup[n] == '/');
}

static bool path_has_component(const char *cgroup, const char *name) {
        size_t n = strlen(name);
        for (const char *p = strstr(cgroup, name); p; p = strstr(p + 1, name))
                if ((p == cgroup || p[-1] == '/') && (p[n] == '\0' || p[n] == '/'))
                        return true;
        return false;
}

/* Whether a component of the cgroup path carries one of the units' names: the cheap
 * test that spares the question to the manager for every other process. A name proves
 * nothing by itself. */
static const char *unit_named(const char *cgroup, char *const *units) {
        for (char *const *u = units; u && *u; u++)
                if (path_has_component(cgroup, *u))
                        return *u;
        return NULL;
}

/* The control group the system manager runs unit in, asked at most once a second (once
 * in 15 s of a manager that did not answer). */
static const UnitCgroup *unit_cgroup(const EnforcerContext *ctx, Classifier *cl, const char *unit, bool fresh) {
        UnitCgroup *u = g_hash_table_lookup(cl->unit_cgroups, unit);
        int64_t now = g_get_monotonic_time();
        g_autoptr(GError) e = NULL;

        if (u && (!fresh || now - u->at < (u->stalled ? UNIT_CGROUP_STALLED_TTL_USEC : UNIT_CGROUP_TTL_USEC)))
                return u;
        u = g_new0(UnitCgroup, 1);
        int r = cgroups_systemd_unit_cgroup(ctx->cgroups, ctx->config->daemon.systemd_address, unit, &u->path, &e);
        if (r < 0)
                u->why = g_strdup(e->message);
        u->stalled = r == -ETIMEDOUT;
        u->at = g_get_monotonic_time();
        g_hash_table_replace(cl->unit_cgroups, g_strdup(unit), u);
        return u;
}

/* Unit=: the process runs in one of the units as the system manager reports them (its
 * cgroup is the unit's control group or below it). A cgroup path component with the
 * unit's name is not enough: user@UID.service is delegated to its user, whose own
 * manager makes units of any name under it ("systemd-run --user --unit=player.service").
 * false with why when it names a unit and does not run in it. */
static bool runs_in_unit(const EnforcerContext *ctx, Classifier *cl, const char *cgroup, char *const *units, char **why) {
        const char *named = NULL;
        for (char *const *unit = units; *unit; unit++) {
                if (!path_has_component(cgroup, *unit))
                        continue;
                named = named ? named : *unit;
                for (int fresh = 0; fresh < 2; fresh++) {
                        const UnitCgroup *u = unit_cgroup(ctx, cl, *unit, fresh);
                        if (u->path && workload_cgroup_within(cgroup, u->path))
                                return true;
                }
        }
        if (!named)
                return false;
        const UnitCgroup *u = unit_cgroup(ctx, cl, named, false);
        g_free(*why);
        if (u->path)
                *why = g_strdup_printf("its cgroup %s is named like Unit=%s, but the system manager runs that unit in %s",
                                       cgroup, named, u->path);
        else
                *why = g_strdup_printf("its cgroup %s is named like Unit=%s, which the system manager does not run "
                                       "there: %s", cgroup, named, u->why);
        return false;
}


void verdict_clear(Verdict *v) {
        g_free(v->why);
        g_free(v->exe);
}

/* The trust rule (doc/security.md): a process belongs to a group when it runs in one
 * of the group's Unit= (a unit of the system manager, which root configures), or when
 * the executable the kernel runs for it matches Match= and only root could have put it
 * there; and, with User=, when it runs as one of those users. A name alone (comm,
 * prctl(PR_SET_NAME), a symlink, a user's copy, a user's own unit) is never enough: it
 * is a finding. */
void workload_classify(const EnforcerContext *ctx, Classifier *cl, pid_t pid, const char *comm, const char *path,
                       Verdict *v) {
        g_autofree char *cgroup = NULL;
        const Config *c = ctx->config;
        uid_t ruid = (uid_t) -1;

        *v = (Verdict) { .uid = (uid_t) -1 };
        if (any_unit(c) && task_read_cgroup(ctx->host, pid, &cgroup) < 0)
                g_clear_pointer(&cgroup, g_free);
        for (unsigned i = 0; i < c->groups->len && !v->group; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                g_autofree char *unit_why = NULL;
                bool named_unit = cgroup && g->units[0] && unit_named(cgroup, g->units);
                bool by_unit = named_unit && runs_in_unit(ctx, cl, cgroup, g->units, &unit_why);
                bool by_exe = g->match[0] && exe_matches(g, path);
                if (!by_unit && !by_exe && !named_unit && !(g->match[0] && globs_match(g->match, comm)))
                        continue;
                v->group = g;
                v->by_unit = by_unit;
                v->exe = g_strdup(path ? path : "(none)");
                if (!by_unit && !by_exe && unit_why)
                        v->why = g_steal_pointer(&unit_why);
                else if (!by_unit && !by_exe)
                        v->why = g_strdup_printf("it is named %s, but its executable %s is not named by Match=", comm,
                                                 v->exe);
                else if (!by_unit) {
                        TrustedExe t;
                        int r = trust_check_exe(ctx->host, cl->trust, pid, path, &t);
                        if (r < 0)
                                v->why = g_strdup_printf("its executable cannot be checked: %s", g_strerror(-r));
                        else if (!t.trusted)
                                v->why = g_strdup_printf("its executable %s is not trusted: %s", t.path, t.why);
                        else if (!exe_matches(g, t.path)) /* it executed again meanwhile */
                                v->why = g_strdup_printf("its executable is now %s", t.path);
                        if (r >= 0) {
                                v->has_exe_id = true;
                                v->exe_dev = t.dev;
                                v->exe_ino = t.ino;
                        }
                        trusted_exe_clear(&t);
                }
                /* Its users where they decide (User=) or name a refusal: /proc/PID/status
                 * is not read for every trusted exec. */
                if (!v->why && !g->users[0])
                        break;
                if (trust_read_uids(ctx->host, pid, &ruid, &v->uid) < 0) {
                        v->uid = (uid_t) -1;
                        if (!v->why)
                                v->why = g_strdup("its user cannot be read");
                }
                if (!v->why && (!trust_user_listed(g->users, ruid) || !trust_user_listed(g->users, v->uid)))
                        v->why = g_strdup_printf("it runs as uid %u, not a User= of group %s", (unsigned) v->uid,
                                                 g->name);
        }
        if (v->group && !v->why)
                v->place = true;
}

/* A limit of /proc/PID/limits: its soft value ("unlimited" is G_MAXUINT64); false when
 * the line is not there. */
static bool limit_soft(const char *limits, const char *name, guint64 *out) {
        const char *line = strstr(limits, name);
        g_auto(GStrv) f = NULL;
        if (!line)
                return false;
        f = g_strsplit_set(line + strlen(name), " \t\n", 0);
        for (char **w = f; *w; w++) {
                if (!**w)
                        continue;
                if (g_str_equal(*w, "unlimited")) {
                        *out = G_MAXUINT64;
                        return true;
                }
                return g_ascii_string_to_unsigned(*w, 10, 0, G_MAXUINT64, out, NULL);
        }
        return false;
}

void workload_limits_advice(const char *object, int policy, int priority, const char *limits, GPtrArray *out) {
        guint64 rtprio, memlock;
        if ((policy == SCHED_FIFO || policy == SCHED_RR) && limit_soft(limits, "Max realtime priority", &rtprio) &&
            rtprio < (guint64) priority) {
                g_autofree char *want = g_strdup_printf("RLIMIT_RTPRIO >= %d", priority);
                g_autofree char *found = g_strdup_printf("%" G_GUINT64_FORMAT, rtprio);
                g_autofree char *why = g_strdup_printf(
                        "the process cannot raise its own threads to the group's priority %d (rtcqs: rtprio); fix: "
                        "LimitRTPRIO=%d in its unit, or \"@audio - rtprio %d\" in /etc/security/limits.d/ for its user",
                        priority, priority, priority);
                g_ptr_array_add(out, finding_new("rlimit", object, want, found, false, why));
        }
        if (limit_soft(limits, "Max locked memory", &memlock) && memlock != G_MAXUINT64) {
                g_autofree char *found = g_strdup_printf("%" G_GUINT64_FORMAT " bytes", memlock);
                g_ptr_array_add(out, finding_new("rlimit", object, "RLIMIT_MEMLOCK unlimited", found, false,
                                                 "the process cannot lock its audio buffers in memory, so a page of "
                                                 "them can be reclaimed and fault back in mid-period; fix: "
                                                 "LimitMEMLOCK=infinity in its unit, or \"@audio - memlock "
                                                 "unlimited\" in /etc/security/limits.d/ for its user"));
        }
}

