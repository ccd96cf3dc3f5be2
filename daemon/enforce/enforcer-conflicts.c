/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "enforce/enforcer.h"
#include "base/log.h"
#include "kernel/task.h"
#include "base/text.h"
#include "enforce/tools.h"

/* Other tools that change what the partition sets (tools.h: the manager finds them each
 * pass), reported with their fixes; a tool's finding lists what it re-wrote. isolatord
 * changes no other program, except irqbalance as [Daemon] IrqBalance= says: its banned
 * CPU list written to /etc/default/irqbalance (Debian's EnvironmentFile=) and the
 * service restarted, or the service stopped; each original saved, and a revert puts it
 * back. */

#define IRQBALANCE_DEFAULTS "etc/default/irqbalance"
#define IRQBALANCE_UNIT "irqbalance.service"

/* What the fight has cost: the objects of its kinds corrected more than once. */
static char *rewritten(const EnforcerContext *ctx, const Tool *tool) {
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GList) keys = NULL;
        if (!ctx->inputs || !ctx->inputs->rewrites)
                return NULL;
        keys = g_list_sort(g_hash_table_get_keys(ctx->inputs->rewrites), (GCompareFunc) g_strcmp0);
        for (GList *k = keys; k; k = k->next) {
                unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(ctx->inputs->rewrites, k->data));
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
        const RunningTools *tools = ctx->inputs ? ctx->inputs->tools : NULL;
        CpuMask isolated;
        g_autofree char *iso = NULL;

        if (!tools)
                return; /* an event: the manager looks for tools once a pass */
        config_isolated_cpus(ctx->config, &isolated);
        iso = cpumask_format_list(&isolated);
        for (unsigned i = 0; i < tools->found->len; i++) {
                const RunningTool *f = &g_array_index(tools->found, RunningTool, i);
                g_autofree char *who = running_tool_who(f);
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

static const EnforcerOriginals conflicts_originals = { conflicts_restore, conflicts_check_original };

const EnforcerOps enforcer_conflicts = {
        .name = "conflicts",
        .diff = conflicts_diff,
        .apply = conflicts_apply,
        .originals = &conflicts_originals,
};
