/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "enforcer.h"
#include "log.h"
#include "task.h"
#include "text.h"
#include "trust.h"

/* Other tools that change what the partition sets: each found by its executable (not by
 * the name a process gives itself; on the host only a trusted one, trust.h) or by the
 * name it owns on the system bus, and reported with its fix. What each rewrites is
 * published for the pass (EnforcerContext.fighters), so that a drift corrected again and
 * again on that kind of object is said to be that tool's doing (manager.c), and the
 * tool's finding lists what it re-wrote. isolatord changes no other program, except
 * irqbalance as [Daemon] IrqBalance= says: its banned CPU list written to
 * /etc/default/irqbalance (Debian's EnvironmentFile=) and the service restarted, or the
 * service stopped; each original saved, and a revert puts it back. */

#define IRQBALANCE_DEFAULTS "etc/default/irqbalance"
#define IRQBALANCE_UNIT "irqbalance.service"

typedef struct Tool {
        const char *name;
        const char *const *programs;   /* executables' file names, or scripts run by an interpreter */
        const char *const *bus_names;  /* well-known names it owns on the system bus */
        const char *const *fights;     /* the finding kinds of what it rewrites */
        bool required;                 /* the partition cannot hold while it runs as it is */
        const char *does;
        const char *fix;
} Tool;

#define STRV(...) ((const char *const[]) { __VA_ARGS__, NULL })

static const Tool tools[] = {
        { "irqbalance", STRV("irqbalance"), NULL, STRV("irq"), true,
          "moves IRQs every 10 s by its own rules, onto the audio CPUs too",
          "stop it (systemctl disable --now irqbalance), or ban the isolated CPUs with "
          "IRQBALANCE_BANNED_CPULIST=%s in /etc/default/irqbalance and restart it" },
        { "tuned", STRV("tuned"), STRV("com.redhat.tuned"), STRV("governor", "irq", "cpuset"), false,
          "applies its active profile's governor, IRQ and CPU settings, and again on its own events",
          "tuned-adm off, or a profile that leaves CPUs %s alone" },
        { "power-profiles-daemon", STRV("power-profiles-daemon", "tuned-ppd"),
          STRV("net.hadess.PowerProfiles", "org.freedesktop.UPower.PowerProfiles"), STRV("governor"), false,
          "switches the CPUs' governor and energy preference with the desktop's power profile",
          "systemctl mask --now power-profiles-daemon (or tuned-ppd) on an audio machine, "
          "or keep the profile at performance; isolatord sets the governor of CPUs %s back at each verify" },
        { "system76-scheduler", STRV("system76-scheduler"), STRV("com.system76.Scheduler"), STRV("workload"), false,
          "re-prioritizes and re-nices processes by its own rules, the players too",
          "systemctl disable --now com.system76.Scheduler, or exclude the players from its rules "
          "(CPUs %s belong to isolatord's groups)" },
        { "ananicy", STRV("ananicy-cpp", "ananicy"), NULL, STRV("workload"), false,
          "changes processes' nice, scheduling class and I/O priority by its rules, the players too",
          "systemctl disable --now ananicy-cpp, or remove its rules for the players (CPUs %s)" },
        { "gamemode", STRV("gamemoded"), STRV("com.feralinteractive.GameMode"), STRV("governor"), false,
          "switches every CPU's governor while a game runs, and back afterwards",
          "disable its governor change (desiredgov= in gamemode.ini), or remove it; CPUs %s" },
        { "rtkit", STRV("rtkit-daemon"), STRV("org.freedesktop.RealtimeKit1"), STRV("workload"), false,
          "grants real-time scheduling to any desktop process that asks, which then competes with the "
          "players wherever it runs",
          "keep real-time scheduling to the groups on CPUs %s: remove rtkit, or cap it "
          "(rtkit-daemon --max-realtime-priority=) below the groups' priority" },
};

typedef struct Found {
        const Tool *tool;
        pid_t pid;          /* 0 when found by its bus name */
        char *bus_name;     /* the name it owns, or NULL */
        char *detail;       /* what makes it a conflict: irqbalance's banned CPUs, tuned's profile */
} Found;

static void found_clear(Found *f) {
        g_free(f->bus_name);
        g_free(f->detail);
}

static bool interpreter(const char *base) {
        return g_str_has_prefix(base, "python") || g_str_has_prefix(base, "perl");
}

/* The script an interpreter runs: its first argument that is not an option. */
static char *read_script(const Root *root, pid_t pid) {
        g_autofree char *rel = g_strdup_printf("proc/%d/cmdline", (int) pid), *data = NULL;
        size_t len = 0;
        if (root_read(root, rel, &data, &len) < 0)
                return NULL;
        for (size_t at = strlen(data) + 1; at < len; at += strlen(data + at) + 1)
                if (data[at] && data[at] != '-')
                        return g_strdup(data + at);
        return NULL;
}

/* The tool whose program this is, or NULL; *path is the file that must be trusted. */
static const Tool *tool_of(const char *base) {
        for (size_t i = 0; i < G_N_ELEMENTS(tools); i++)
                for (const char *const *p = tools[i].programs; *p; p++)
                        if (g_str_equal(base, *p))
                                return &tools[i];
        return NULL;
}

static bool trusted(const Root *root, pid_t pid, const char *exe, const char *script) {
        if (!root_is_host(root))
                return true; /* a fake root's processes are what the test wrote */
        if (script) {
                g_autofree char *why = NULL;
                return g_path_is_absolute(script) && trust_check_path(root, NULL, script, &why);
        }
        TrustedExe t;
        bool ok = trust_check_exe(root, NULL, pid, exe, &t) >= 0 && t.trusted;
        trusted_exe_clear(&t);
        return ok;
}

/* Anyone may run a trusted program, or name a trusted script in an interpreter's
 * arguments. irqbalance (whose finding isolatord acts on: IrqBalance=ban, stop) and the
 * script-run tools count only as root's, as their services run them; the others are
 * advice, and some run as their own users (rtkit, gamemoded). */
static bool system_instance(const Root *root, pid_t pid, const Tool *tool, const char *script) {
        uid_t ruid, euid;
        if (!root_is_host(root) || (!script && !g_str_equal(tool->name, "irqbalance")))
                return true;
        return trust_read_uids(root, pid, &ruid, &euid) >= 0 && euid == 0;
}

/* irqbalance keeps IRQs off IRQBALANCE_BANNED_CPULIST (or _CPUS, a mask) from its
 * environment, or when neither is set, off the kernel's isolated and nohz_full CPUs. */
static char *irqbalance_banned(const EnforcerContext *ctx, pid_t pid, CpuMask *out) {
        g_autofree char *rel = g_strdup_printf("proc/%d/environ", (int) pid), *env = NULL;
        size_t len = 0;
        cpumask_zero(out);
        if (root_read(ctx->root, rel, &env, &len) >= 0)
                for (size_t at = 0; at < len; at += strlen(env + at) + 1) {
                        const char *v = env + at;
                        if (g_str_has_prefix(v, "IRQBALANCE_BANNED_CPULIST=") &&
                            cpumask_parse_list(v + strlen("IRQBALANCE_BANNED_CPULIST="), out, NULL) >= 0)
                                return cpumask_format_list(out);
                        if (g_str_has_prefix(v, "IRQBALANCE_BANNED_CPUS=") &&
                            cpumask_parse_mask(v + strlen("IRQBALANCE_BANNED_CPUS="), out, NULL) >= 0)
                                return cpumask_format_list(out);
                }
        for (const char *const *f = STRV("sys/devices/system/cpu/isolated", "sys/devices/system/cpu/nohz_full"); *f; f++) {
                CpuMask m;
                if (root_read_cpulist(ctx->root, *f, &m) >= 0)
                        cpumask_or(out, out, &m);
        }
        return cpumask_format_list(out);
}

/* Whether a tool found running fights the partition as it is set up: irqbalance that
 * keeps off the audio CPUs does not, nor does tuned without an active profile. */
static bool conflicting(const EnforcerContext *ctx, const CpuMask *isolated, Found *f) {
        if (g_str_equal(f->tool->name, "irqbalance")) {
                CpuMask banned;
                g_autofree char *list = irqbalance_banned(ctx, f->pid, &banned);
                f->detail = g_strdup_printf("banned CPUs %s", *list ? list : "none");
                return !cpumask_is_subset(isolated, &banned);
        }
        if (g_str_equal(f->tool->name, "tuned")) {
                g_autofree char *profile = NULL;
                if (root_read_line(ctx->root, "etc/tuned/active_profile", &profile) < 0 || !*g_strstrip(profile))
                        return false; /* tuned-adm off */
                g_autofree char *shown = text_printable(profile);
                f->detail = g_strdup_printf("profile %s", shown);
        }
        return true;
}

static void *conflicts_observe(const EnforcerContext *ctx, const Trigger *scope) {
        const GArray *table = enforcer_tasks(ctx);
        GArray *found = g_array_new(false, true, sizeof(Found));
        CpuMask isolated;

        g_array_set_clear_func(found, (GDestroyNotify) found_clear);
        config_isolated_cpus(ctx->config, &isolated);
        for (unsigned i = 0; i < table->len; i++) {
                const Task *t = &g_array_index(table, Task, i);
                if (t->stat.flags & TASK_PF_KTHREAD)
                        continue;
                g_autofree char *exe = task_read_exe(ctx->root, t->pid);
                g_autofree char *base = exe ? g_path_get_basename(exe) : NULL;
                g_autofree char *script = base && interpreter(base) ? read_script(ctx->root, t->pid) : NULL;
                g_autofree char *script_base = script ? g_path_get_basename(script) : NULL;
                const Tool *tool = base ? tool_of(script_base ? script_base : base) : NULL;
                if (!tool || !trusted(ctx->root, t->pid, exe, script) ||
                    !system_instance(ctx->root, t->pid, tool, script))
                        continue;
                Found f = { .tool = tool, .pid = t->pid };
                if (!conflicting(ctx, &isolated, &f)) {
                        found_clear(&f);
                        continue;
                }
                g_array_append_val(found, f);
        }
        /* Those that own their name on the bus, and were not found running. */
        for (size_t i = 0; ctx->bus_names && i < G_N_ELEMENTS(tools); i++) {
                bool running = false;
                for (unsigned j = 0; j < found->len; j++)
                        running |= g_array_index(found, Found, j).tool == &tools[i];
                for (const char *const *n = tools[i].bus_names; n && *n && !running; n++)
                        if (g_hash_table_contains(ctx->bus_names, *n)) {
                                Found f = { .tool = &tools[i], .bus_name = g_strdup(*n) };
                                g_array_append_val(found, f);
                                break;
                        }
        }
        return found;
}

static void conflicts_observation_free(void *p) {
        g_array_unref(p);
}

/* What the fight has cost: the objects of its kinds corrected more than once. */
static char *rewritten(const EnforcerContext *ctx, const Tool *tool) {
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GList) keys = NULL;
        if (!ctx->rewrites)
                return NULL;
        keys = g_list_sort(g_hash_table_get_keys(ctx->rewrites), (GCompareFunc) g_strcmp0);
        for (GList *k = keys; k; k = k->next) {
                unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(ctx->rewrites, k->data));
                for (const char *const *kind = tool->fights; *kind && n >= 2; kind++) {
                        size_t len = strlen(*kind);
                        if (strncmp(k->data, *kind, len) == 0 && ((char *) k->data)[len] == ' ') {
                                g_string_append_printf(out, "%s%s (%u times)", out->len ? ", " : "", (char *) k->data, n);
                                break;
                        }
                }
        }
        return out->len ? g_string_free(g_steal_pointer(&out), false) : NULL;
}

static void conflicts_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const GArray *found = obs;
        CpuMask isolated;
        g_autofree char *iso = NULL;

        config_isolated_cpus(ctx->config, &isolated);
        iso = cpumask_format_list(&isolated);
        if (ctx->fighters)
                g_hash_table_remove_all(ctx->fighters);
        for (unsigned i = 0; i < found->len; i++) {
                const Found *f = &g_array_index(found, Found, i);
                g_autofree char *who = f->pid ? g_strdup_printf("%s pid %d", f->tool->name, (int) f->pid)
                                              : g_strdup_printf("%s (bus name %s)", f->tool->name, f->bus_name);
                g_auto(GStrv) parts = g_strsplit(f->tool->fix, "%s", -1); /* the isolated CPUs go where it says %s */
                g_autofree char *fix = g_strjoinv(iso, parts);
                g_autofree char *fights = rewritten(ctx, f->tool);
                g_autofree char *why = g_strdup_printf("%s; fix: %s%s%s", f->tool->does, fix,
                                                       fights ? "; it has re-written " : "", fights ? fights : "");
                g_autofree char *found_text = f->detail ? g_strdup_printf("running, %s", f->detail)
                                                        : g_strdup(f->pid ? "running" : "on the bus");
                bool irqbalance = f->pid && g_str_equal(f->tool->name, "irqbalance");
                difference_add(diffs, finding_new("conflict", who, "not running", found_text, f->tool->required, why),
                               irqbalance && ctx->config->daemon.irqbalance != IRQBALANCE_LEAVE, f);
                for (const char *const *kind = f->tool->fights; ctx->fighters && *kind; kind++) {
                        const char *had = g_hash_table_lookup(ctx->fighters, *kind);
                        g_hash_table_replace(ctx->fighters, g_strdup(*kind),
                                             had ? g_strdup_printf("%s, %s", had, who) : g_strdup(who));
                }
        }
}

/* The defaults file with the banned list set to list, its other lines kept. */
static char *defaults_with_ban(const char *had, const char *list) {
        g_autoptr(GString) out = g_string_new(NULL);
        g_auto(GStrv) lines = g_strsplit(had ? had : "", "\n", -1);
        for (char **l = lines; *l; l++) {
                const char *t = *l + strspn(*l, " \t");
                if (g_str_has_prefix(t, "IRQBALANCE_BANNED_CPULIST=") || g_str_has_prefix(t, "IRQBALANCE_BANNED_CPUS=") ||
                    g_str_equal(*l, "# isolatord: irqbalance keeps IRQs off the audio CPUs") || (!l[1] && !**l))
                        continue;
                g_string_append_printf(out, "%s\n", *l);
        }
        g_string_append_printf(out, "# isolatord: irqbalance keeps IRQs off the audio CPUs\nIRQBALANCE_BANNED_CPULIST=%s\n",
                               list);
        return g_string_free(g_steal_pointer(&out), false);
}

/* What apply did or could not do, after the finding's own why and fix. */
static void add_note(Difference *d, char *note) {
        char *msg = g_strdup_printf("%s; %s", d->finding->message, note);
        g_free(note);
        g_free(d->finding->message);
        d->finding->message = msg;
}

static bool manager_answers(const EnforcerContext *ctx) {
        return cgroups_backend(ctx->cgroups, ctx->root, ctx->config) == CGROUP_BACKEND_SYSTEMD;
}

static void irqbalance_ban(const EnforcerContext *ctx, Difference *d) {
        CpuMask isolated;
        g_autofree char *had = NULL, *list = NULL, *want = NULL;
        g_autoptr(GError) e = NULL;
        int r;

        config_isolated_cpus(ctx->config, &isolated);
        list = cpumask_format_list(&isolated);
        /* Debian's package ships the file; the unit may write it and nothing else in /etc/default. */
        if (root_read(ctx->root, IRQBALANCE_DEFAULTS, &had, NULL) < 0) {
                add_note(d, g_strdup_printf("there is no /%s for irqbalance's environment here; fix: start it with "
                                            "IRQBALANCE_BANNED_CPULIST=%s", IRQBALANCE_DEFAULTS, list));
                return;
        }
        want = defaults_with_ban(had, list);
        if (!g_str_equal(had, want)) {
                if (enforcer_save_original(ctx, &enforcer_conflicts, "file " IRQBALANCE_DEFAULTS, had) < 0)
                        return;
                if (ctx->dry_run) {
                        log_info("dry run: would write IRQBALANCE_BANNED_CPULIST=%s to /%s", list, IRQBALANCE_DEFAULTS);
                        d->repaired = true;
                        return;
                }
                if ((r = root_rewrite_file(ctx->root, IRQBALANCE_DEFAULTS, want)) < 0) {
                        add_note(d, g_strdup_printf("cannot write /%s: %s", IRQBALANCE_DEFAULTS, g_strerror(-r)));
                        return;
                }
                log_notice("irqbalance: IRQBALANCE_BANNED_CPULIST=%s written to /%s", list, IRQBALANCE_DEFAULTS);
        }
        /* It reads its environment once, at its start. */
        if (!manager_answers(ctx) ||
            cgroups_systemd_unit_job(ctx->cgroups, "RestartUnit", IRQBALANCE_UNIT, &e) < 0) {
                g_autofree char *msg = g_strdup_printf(
                        "IRQBALANCE_BANNED_CPULIST=%s is in /%s, but the running irqbalance started without it and "
                        "isolatord cannot restart it (%s); fix: systemctl restart irqbalance",
                        list, IRQBALANCE_DEFAULTS, e ? e->message : "no systemd manager");
                add_note(d, g_steal_pointer(&msg));
                return;
        }
        log_notice("irqbalance restarted with the audio CPUs banned");
        d->repaired = true;
}

static void irqbalance_stop(const EnforcerContext *ctx, Difference *d) {
        g_autoptr(GError) e = NULL;
        if (!manager_answers(ctx)) {
                add_note(d, g_strdup("IrqBalance=stop needs the systemd manager, which does not answer here; "
                                               "fix: systemctl disable --now irqbalance"));
                return;
        }
        if (enforcer_save_original(ctx, &enforcer_conflicts, "unit " IRQBALANCE_UNIT, "active") < 0)
                return;
        if (ctx->dry_run) {
                log_info("dry run: would stop %s", IRQBALANCE_UNIT);
                d->repaired = true;
                return;
        }
        if (cgroups_systemd_unit_job(ctx->cgroups, "StopUnit", IRQBALANCE_UNIT, &e) < 0) {
                add_note(d, g_strdup(e->message));
                return;
        }
        log_notice("irqbalance stopped while the partition is applied (IrqBalance=stop)");
        d->repaired = true;
}

static int conflicts_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                if (!d->repairable)
                        continue;
                if (ctx->config->daemon.irqbalance == IRQBALANCE_STOP)
                        irqbalance_stop(ctx, d);
                else
                        irqbalance_ban(ctx, d);
                if (d->repaired && ctx->fighters)
                        g_hash_table_remove(ctx->fighters, "irq");
        }
        return 0;
}

static char *conflicts_check_original(const char *what, const char *value) {
        if (g_str_equal(what, "file " IRQBALANCE_DEFAULTS))
                return NULL;
        if (g_str_equal(what, "unit " IRQBALANCE_UNIT))
                return g_str_equal(value, "active") ? NULL : g_strdup("not \"active\"");
        return g_strdup("not an entry of the conflicts enforcer (irqbalance's defaults file or unit)");
}

static int conflicts_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        g_autoptr(GError) e = NULL;
        int r;
        if (g_str_equal(what, "unit " IRQBALANCE_UNIT))
                r = cgroups_systemd_unit_job(ctx->cgroups, "StartUnit", IRQBALANCE_UNIT, &e);
        else {
                r = root_rewrite_file(ctx->root, IRQBALANCE_DEFAULTS, value);
                /* The running irqbalance keeps the list until it starts again. */
                if (r >= 0 && manager_answers(ctx) &&
                    cgroups_systemd_unit_job(ctx->cgroups, "TryRestartUnit", IRQBALANCE_UNIT, &e) < 0)
                        log_warning("%s", e->message);
                return r;
        }
        if (r < 0)
                log_warning("%s", e->message);
        return r;
}

const EnforcerOps enforcer_conflicts = {
        .name = "conflicts",
        .observe = conflicts_observe,
        .observation_free = conflicts_observation_free,
        .diff = conflicts_diff,
        .apply = conflicts_apply,
        .restore = conflicts_restore,
        .check_original = conflicts_check_original,
};
