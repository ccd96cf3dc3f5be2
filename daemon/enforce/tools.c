/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "base/text.h"
#include "enforce/tools.h"
#include "kernel/task.h"
#include "kernel/trust.h"

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
        { "stalld", STRV("stalld"), NULL, STRV("starvation"), false,
          "boosts threads starving behind real-time ones, the job of isolatord's starvation guard",
          "keep one of the two on CPUs %s: systemctl disable --now stalld, or [Daemon] StarvationGuard=off" },
};

static void found_clear(RunningTool *f) {
        g_free(f->bus_name);
        g_free(f->detail);
}

static bool interpreter(const char *base) {
        return g_str_has_prefix(base, "python") || g_str_has_prefix(base, "perl");
}

/* The script an interpreter runs: its first argument that is not an option. */
static char *read_script(const Root *root, pid_t pid) {
        TaskPath p;
        const char *rel = task_path(&p, pid, 0, "cmdline");
        g_autofree char *data = NULL;
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
static char *irqbalance_banned(const Root *root, pid_t pid, CpuMask *out) {
        TaskPath p;
        const char *rel = task_path(&p, pid, 0, "environ");
        g_autofree char *env = NULL;
        size_t len = 0;
        cpumask_zero(out);
        if (root_read(root, rel, &env, &len) >= 0)
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
                if (root_read_cpulist(root, *f, &m) >= 0)
                        cpumask_or(out, out, &m);
        }
        return cpumask_format_list(out);
}

/* Whether a tool found running fights the partition as it is set up: irqbalance that
 * keeps off the audio CPUs does not, nor does tuned without an active profile. */
static bool conflicting(const Root *root, const Config *c, const CpuMask *isolated, RunningTool *f) {
        if (g_str_equal(f->tool->name, "irqbalance")) {
                CpuMask banned;
                g_autofree char *list = irqbalance_banned(root, f->pid, &banned);
                f->detail = g_strdup_printf("banned CPUs %s", *list ? list : "none");
                return !cpumask_is_subset(isolated, &banned);
        }
        if (g_str_equal(f->tool->name, "tuned")) {
                g_autofree char *profile = NULL;
                if (root_read_line(root, "etc/tuned/active_profile", &profile) < 0 || !*g_strstrip(profile))
                        return false; /* tuned-adm off */
                g_autofree char *shown = text_printable(profile);
                f->detail = g_strdup_printf("profile %s", shown);
        }
        if (g_str_equal(f->tool->name, "stalld")) {
                /* Two boosters would save and restore the same threads' scheduling over each
                 * other: auto steps aside (and says so), on boosts beside it, off leaves it
                 * the job. */
                if (c->daemon.starvation_guard == STARVATION_GUARD_OFF)
                        return false;
                f->detail = g_strdup(c->daemon.starvation_guard == STARVATION_GUARD_AUTO
                                             ? "isolatord's starvation guard steps aside while it runs"
                                             : "isolatord's starvation guard boosts too (StarvationGuard=on)");
        }
        return true;
}

RunningTools *tools_find(const Root *root, const Config *c, const GArray *tasks, GHashTable *bus_names) {
        RunningTools *out = g_new0(RunningTools, 1);
        GArray *found = g_array_new(false, true, sizeof(RunningTool));
        CpuMask isolated;

        out->found = found;
        out->fights = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_array_set_clear_func(found, (GDestroyNotify) found_clear);
        config_isolated_cpus(c, &isolated);
        for (unsigned i = 0; i < tasks->len; i++) {
                const Task *t = &g_array_index(tasks, Task, i);
                if (t->stat.flags & TASK_PF_KTHREAD)
                        continue;
                g_autofree char *exe = task_read_exe(root, t->pid);
                g_autofree char *base = exe ? g_path_get_basename(exe) : NULL;
                g_autofree char *script = base && interpreter(base) ? read_script(root, t->pid) : NULL;
                g_autofree char *script_base = script ? g_path_get_basename(script) : NULL;
                const Tool *tool = base ? tool_of(script_base ? script_base : base) : NULL;
                if (!tool || !trusted(root, t->pid, exe, script) || !system_instance(root, t->pid, tool, script))
                        continue;
                RunningTool f = { .tool = tool, .pid = t->pid };
                if (!conflicting(root, c, &isolated, &f)) {
                        found_clear(&f);
                        continue;
                }
                g_array_append_val(found, f);
        }
        /* Those that own their name on the bus, and were not found running. */
        for (size_t i = 0; bus_names && i < G_N_ELEMENTS(tools); i++) {
                bool running = false;
                for (unsigned j = 0; j < found->len; j++)
                        running |= g_array_index(found, RunningTool, j).tool == &tools[i];
                for (const char *const *n = tools[i].bus_names; n && *n && !running; n++)
                        if (g_hash_table_contains(bus_names, *n)) {
                                RunningTool f = { .tool = &tools[i], .bus_name = g_strdup(*n) };
                                g_array_append_val(found, f);
                                break;
                        }
        }
        for (unsigned i = 0; i < found->len; i++) {
                const RunningTool *f = &g_array_index(found, RunningTool, i);
                g_autofree char *who = running_tool_who(f);
                for (const char *const *kind = f->tool->fights; *kind; kind++) {
                        const char *had = g_hash_table_lookup(out->fights, *kind);
                        g_hash_table_replace(out->fights, g_strdup(*kind),
                                             had ? g_strdup_printf("%s, %s", had, who) : g_strdup(who));
                }
        }
        return out;
}

void running_tools_free(RunningTools *t) {
        if (!t)
                return;
        g_array_unref(t->found);
        g_hash_table_unref(t->fights);
        g_free(t);
}

bool tools_running(const RunningTools *t, const char *name) {
        for (unsigned i = 0; t && i < t->found->len; i++)
                if (g_str_equal(g_array_index(t->found, RunningTool, i).tool->name, name))
                        return true;
        return false;
}

const char *tools_fighting(const RunningTools *t, const char *kind) {
        return t ? g_hash_table_lookup(t->fights, kind) : NULL;
}

char *running_tool_who(const RunningTool *r) {
        return r->pid ? g_strdup_printf("%s pid %d", r->tool->name, (int) r->pid)
                      : g_strdup_printf("%s (bus name %s)", r->tool->name, r->bus_name);
}
