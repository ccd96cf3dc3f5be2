/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <stdarg.h>

#include "base/macro.h"
#include "model/partition.h"

void diagnostic_free(Diagnostic *d) {
        if (!d)
                return;
        g_free(d->group);
        g_free(d->message);
        g_free(d);
}

const char *diag_severity_to_string(DiagSeverity s) {
        return s == DIAG_ERROR ? "error" : "warning";
}

G_GNUC_PRINTF(6, 7)
static void diag_add(GPtrArray *diags, DiagSeverity severity, const char *rule, const char *group,
                     const CpuMask *cpus, const char *fmt, ...) {
        Diagnostic *d = g_new0(Diagnostic, 1);
        va_list ap;

        d->severity = severity;
        d->rule = rule;
        d->group = g_strdup(group);
        if (cpus)
                d->cpus = *cpus;
        va_start(ap, fmt);
        d->message = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_ptr_array_add(diags, d);
}

/* "group hqplayer", "housekeeping" or "irq rule usb": how messages name a part. */
static char *part_label(const char *group) {
        if (g_str_equal(group, "housekeeping") || g_str_has_prefix(group, "irq rule "))
                return g_strdup(group);
        return g_strdup_printf("group %s", group);
}

static const char *cpus_word(const CpuMask *s) {
        return cpumask_count(s) == 1 ? "CPU" : "CPUs";
}

/* Existence and online checks for one part of the partition. */
static void check_cpus_exist(GPtrArray *diags, const char *group, const CpuMask *cpus, const Topology *t) {
        g_autofree char *label = part_label(group);
        CpuMask missing, offline, present_offline;

        cpumask_andnot(&missing, cpus, &t->possible);
        if (!cpumask_is_empty(&missing)) {
                g_autofree char *m = cpumask_format_list(&missing);
                g_autofree char *have = cpumask_format_list(&t->possible);
                diag_add(diags, DIAG_ERROR, "cpu-missing", group, &missing,
                         "%s: %s %s %s not exist on this machine, which has CPUs %s",
                         label, cpus_word(&missing), m, cpumask_count(&missing) == 1 ? "does" : "do", have);
        }
        cpumask_andnot(&offline, cpus, &t->online);
        cpumask_andnot(&present_offline, &offline, &missing);
        if (!cpumask_is_empty(&present_offline)) {
                g_autofree char *o = cpumask_format_list(&present_offline);
                diag_add(diags, DIAG_ERROR, "cpu-offline", group, &present_offline,
                         "%s: %s %s %s offline; bring %s online (echo 1 > /sys/devices/system/cpu/cpuN/online) or leave %s out",
                         label, cpus_word(&present_offline), o, cpumask_count(&present_offline) == 1 ? "is" : "are",
                         cpumask_count(&present_offline) == 1 ? "it" : "them", cpumask_count(&present_offline) == 1 ? "it" : "them");
        }
}

typedef struct Part {
        const char *name;
        const CpuMask *cpus;
} Part;

/* Who owns a CPU: an index into parts, or -1 for nobody. */
static int owner_of(const Part *parts, unsigned n, int cpu) {
        for (unsigned i = 0; i < n; i++)
                if (cpumask_has(parts[i].cpus, cpu))
                        return (int) i;
        return -1;
}

static void check_smt_split(GPtrArray *diags, const Part *parts, unsigned nparts, const Topology *t) {
        for (unsigned ci = 0; ci < t->cores->len; ci++) {
                const CpuMask *core = &g_array_index(t->cores, TopologyGroup, ci).cpus;
                CpuMask online_core;
                int first_owner = -2;
                bool split = false;

                cpumask_and(&online_core, core, &t->online);
                if (cpumask_count(&online_core) < 2)
                        continue;
                CPUMASK_FOREACH(cpu, &online_core) {
                        int o = owner_of(parts, nparts, cpu);
                        if (first_owner == -2)
                                first_owner = o;
                        else if (o != first_owner)
                                split = true;
                }
                if (!split)
                        continue;

                g_autoptr(GString) who = g_string_new(NULL);
                const char *group = NULL;
                CPUMASK_FOREACH(cpu, &online_core) {
                        int o = owner_of(parts, nparts, cpu);
                        if (o >= 0 && !group && !g_str_equal(parts[o].name, "housekeeping"))
                                group = parts[o].name;
                        g_string_append_printf(who, "%sCPU %d in %s", who->len ? ", " : "", cpu,
                                               o < 0 ? "no group" : parts[o].name);
                }
                g_autofree char *list = cpumask_format_list(&online_core);
                diag_add(diags, DIAG_WARNING, "smt-split", group ? group : parts[0].name, &online_core,
                         "SMT siblings %s share one core but are split: %s; siblings share execution units, "
                         "so load on one disturbs the other (give the whole core to one group)",
                         list, who->str);
        }
}

static void check_l3(GPtrArray *diags, const GroupConfig *g, const Topology *t) {
        g_autoptr(GString) domains = g_string_new(NULL);
        unsigned n = 0;

        for (unsigned i = 0; i < t->l3s->len; i++) {
                const CpuMask *l3 = &g_array_index(t->l3s, TopologyGroup, i).cpus;
                CpuMask part;
                cpumask_and(&part, &g->cpus, l3);
                if (cpumask_is_empty(&part))
                        continue;
                g_autofree char *p = cpumask_format_list(&part);
                g_string_append_printf(domains, "%s%s", n++ ? " | " : "", p);
        }
        if (n > 1) {
                g_autofree char *cpus = cpumask_format_list(&g->cpus);
                diag_add(diags, DIAG_WARNING, "l3-straddle", g->name, &g->cpus,
                         "group %s: CPUs %s span %u L3 cache domains (%s); a group inside one L3 keeps its "
                         "working set in one cache and its threads' communication on-die",
                         g->name, cpus, n, domains->str);
        }
}

static int compare_severity(gconstpointer a, gconstpointer b) {
        const Diagnostic *x = *(Diagnostic *const *) a, *y = *(Diagnostic *const *) b;
        return (int) x->severity - (int) y->severity;
}

GPtrArray *partition_validate(const Config *c, const Topology *t) {
        GPtrArray *diags = g_ptr_array_new_with_free_func((GDestroyNotify) diagnostic_free);
        g_autofree Part *parts = g_new(Part, c->groups->len + 1);
        unsigned nparts = 0;
        CpuMask all;

        assert(c);
        assert(t);

        parts[nparts++] = (Part) { "housekeeping", &c->housekeeping };
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                parts[nparts++] = (Part) { g->name, &g->cpus };
        }

        if (cpumask_is_empty(&c->housekeeping))
                diag_add(diags, DIAG_ERROR, "housekeeping-empty", "housekeeping", NULL,
                         "housekeeping: no CPUs; IRQs, system services and kernel threads need at least one "
                         "(Housekeeping= in [Partition], usually the first core and its sibling)");
        if (!cpumask_has(&c->housekeeping, 0)) {
                CpuMask zero;
                cpumask_zero(&zero);
                cpumask_add(&zero, 0);
                int o = owner_of(parts, nparts, 0);
                g_autofree char *hk = cpumask_format_list(&c->housekeeping);
                diag_add(diags, DIAG_ERROR, "boot-cpu", o > 0 ? parts[o].name : "housekeeping", &zero,
                         "CPU 0 is the boot CPU and must stay in housekeeping (which is \"%s\")%s%s: "
                         "nohz_full cannot take the boot CPU and it keeps the timekeeping duty",
                         hk, o > 0 ? "; group " : "", o > 0 ? parts[o].name : "");
        }

        for (unsigned i = 0; i < nparts; i++) {
                if (i > 0 && cpumask_is_empty(parts[i].cpus))
                        diag_add(diags, DIAG_ERROR, "group-empty", parts[i].name, NULL,
                                 "group %s: no CPUs; give it CPUs= or remove the group", parts[i].name);
                check_cpus_exist(diags, parts[i].name, parts[i].cpus, t);
                for (unsigned j = i + 1; j < nparts; j++) {
                        CpuMask both;
                        cpumask_and(&both, parts[i].cpus, parts[j].cpus);
                        if (cpumask_is_empty(&both))
                                continue;
                        g_autofree char *b = cpumask_format_list(&both);
                        g_autofree char *li = part_label(parts[i].name);
                        diag_add(diags, DIAG_ERROR, "overlap", parts[j].name, &both,
                                 "%s and group %s both claim %s %s; a CPU belongs to exactly one part of the partition",
                                 li, parts[j].name, cpus_word(&both), b);
                }
        }

        /* Rules are checked like groups: their CPUs exist and are online. */
        for (unsigned i = 0; i < c->irq_rules->len; i++) {
                const IrqRule *rule = c->irq_rules->pdata[i];
                const CpuMask *cpus = config_irq_rule_cpus(c, rule);
                g_autofree char *label = g_strdup_printf("irq rule %s", rule->name);
                if (cpumask_is_empty(cpus))
                        diag_add(diags, DIAG_ERROR, "rule-empty", label, NULL,
                                 "irq rule %s: no CPUs; give it CPUs= (a group or a CPU list)", rule->name);
                else
                        check_cpus_exist(diags, label, cpus, t);
        }

        /* A thread rule stays within its group; checked when the files are read, and
         * again here for a group moved at runtime (SetGroupCpus). */
        for (unsigned i = 0; i < c->thread_rules->len; i++) {
                const ThreadRule *rule = c->thread_rules->pdata[i];
                const char *key;
                g_autofree char *why = config_thread_rule_check(c, rule, &key);
                g_autofree char *label = g_strdup_printf("thread rule %s", rule->name);
                if (why)
                        diag_add(diags, DIAG_ERROR, "thread-rule", label, rule->has_cpus ? &rule->cpus : NULL,
                                 "[Thread %s] %s=: %s", rule->name, key, why);
        }

        check_smt_split(diags, parts, nparts, t);
        for (unsigned i = 0; i < c->groups->len; i++)
                check_l3(diags, c->groups->pdata[i], t);

        cpumask_zero(&all);
        for (unsigned i = 0; i < nparts; i++)
                cpumask_or(&all, &all, parts[i].cpus);
        CpuMask unassigned;
        cpumask_andnot(&unassigned, &t->online, &all);
        if (!cpumask_is_empty(&unassigned)) {
                g_autofree char *u = cpumask_format_list(&unassigned);
                diag_add(diags, DIAG_WARNING, "cpu-unassigned", NULL, &unassigned,
                         "%s %s %s in no group and not housekeeping: they stay idle; add them to a group or to Housekeeping=",
                         cpus_word(&unassigned), u, cpumask_count(&unassigned) == 1 ? "is" : "are");
        }

        g_ptr_array_sort(diags, compare_severity);
        return diags;
}

unsigned diagnostics_count(const GPtrArray *diags, DiagSeverity severity) {
        unsigned n = 0;
        for (unsigned i = 0; i < diags->len; i++)
                if (((const Diagnostic *) diags->pdata[i])->severity == severity)
                        n++;
        return n;
}
