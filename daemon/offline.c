/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>

#include "enforce/audits.h"
#include "model/bootparams.h"
#include "model/config.h"
#include "model/kconfig.h"
#include "base/log.h"
#include "offline.h"
#include "model/partition.h"
#include "model/plan.h"
#include "base/table.h"
#include "model/topology.h"

typedef struct Machine {
        Root *root;
        Topology *topology;
        Config *config;
} Machine;

static void machine_clear(Machine *m) {
        root_free(m->root);
        topology_free(m->topology);
        config_free(m->config);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Machine, machine_clear)

static bool machine_load(const OfflineOptions *o, Machine *m) {
        g_autoptr(GError) e = NULL;
        const char *path = o->config ? o->config : o->default_config;

        *m = (Machine) { .root = root_new(o->root) };
        if (topology_load(m->root, &m->topology, &e) < 0) {
                log_error("%s", e->message);
                return false;
        }
        if (config_load(path, o->config != NULL, &m->config, &e) < 0) {
                log_error("%s", e->message);
                return false;
        }
        return true;
}

static char *describe_sources(const Config *c) {
        if (!c->sources[0])
                return g_strdup("built-in defaults");
        return g_strjoinv(", ", c->sources);
}

static void print_machine(const Machine *m, FILE *out) {
        g_autofree char *online = cpumask_format_list(&m->topology->online);
        fprintf(out, "Machine under %s: CPUs %s online (%u), %u cores, %u L3 domain%s, %u NUMA node%s\n",
                root_dir(m->root), online, cpumask_count(&m->topology->online), m->topology->cores->len,
                m->topology->l3s->len, m->topology->l3s->len == 1 ? "" : "s",
                m->topology->nodes->len, m->topology->nodes->len == 1 ? "" : "s");
}

/* "fifo 70", "keep", or NULL when isolatord sets none. */
static char *sched_text(SchedPolicy policy, int priority) {
        if (policy == SCHED_POLICY_UNSET)
                return NULL;
        return priority ? g_strdup_printf("%s %d", sched_policy_to_string(policy), priority)
                        : g_strdup(sched_policy_to_string(policy));
}

static void print_partition(const Config *c, FILE *out) {
        g_autoptr(Table) t = table_new("PART", "CPUS", "COUNT", "SLICE", "MATCH", "SCHED", NULL);
        g_autofree char *hk = cpumask_format_list(&c->housekeeping);
        g_autofree char *hk_n = g_strdup_printf("%u", cpumask_count(&c->housekeeping));

        table_add_row(t, "housekeeping", hk, hk_n, "init.scope system.slice user.slice", NULL, NULL);
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                g_autofree char *cpus = cpumask_format_list(&g->cpus);
                g_autofree char *n = g_strdup_printf("%u", cpumask_count(&g->cpus));
                g_autofree char *match = g->match[0] ? g_strjoinv(" ", g->match) : NULL;
                g_autofree char *sched = sched_text(g->sched_policy, g->sched_priority);
                table_add_row(t, g->name, cpus, n, g->slice, match, sched);
        }
        table_print(t, out);
}

static void print_thread_rules(const Config *c, FILE *out) {
        if (c->thread_rules->len == 0)
                return;
        g_autoptr(Table) t = table_new("THREAD RULE", "GROUP", "MATCH", "CPUS", "SCHED", NULL);
        for (unsigned i = 0; i < c->thread_rules->len; i++) {
                const ThreadRule *r = c->thread_rules->pdata[i];
                g_autofree char *match = g_strjoinv(" ", r->match);
                g_autofree char *cpus = r->has_cpus ? cpumask_format_list(&r->cpus) : g_strdup("the group's");
                g_autofree char *sched = sched_text(r->sched_policy, r->sched_priority);
                table_add_row(t, r->name, r->group, match, cpus, sched ? sched : "the group's");
        }
        fputc('\n', out);
        table_print(t, out);
}

static void print_diagnostics(const GPtrArray *diags, FILE *out) {
        for (unsigned i = 0; i < diags->len; i++) {
                const Diagnostic *d = diags->pdata[i];
                fprintf(out, "%s [%s]: %s\n", diag_severity_to_string(d->severity), d->rule, d->message);
        }
}

int offline_check_config(const OfflineOptions *o, FILE *out) {
        g_auto(Machine) m = {};
        g_autoptr(GPtrArray) diags = NULL;
        g_autofree char *sources = NULL;

        if (!machine_load(o, &m))
                return 1;
        diags = partition_validate(m.config, m.topology);
        sources = describe_sources(m.config);

        fprintf(out, "Configuration: %s\n", sources);
        print_machine(&m, out);
        fputc('\n', out);
        print_partition(m.config, out);
        print_thread_rules(m.config, out);
        if (diags->len > 0)
                fputc('\n', out);
        print_diagnostics(diags, out);

        unsigned errors = diagnostics_count(diags, DIAG_ERROR);
        unsigned warnings = diagnostics_count(diags, DIAG_WARNING);
        fputc('\n', out);
        if (errors > 0)
                fprintf(out, "The partition is invalid: %u error%s, %u warning%s.\n",
                        errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
        else
                fprintf(out, "The partition is valid (%u warning%s).\n", warnings, warnings == 1 ? "" : "s");
        return errors > 0 ? 1 : 0;
}

int offline_plan(const OfflineOptions *o, FILE *out) {
        g_auto(Machine) m = {};
        g_autoptr(Config) plan = NULL;
        g_autoptr(GPtrArray) notes = NULL, diags = NULL;
        g_autoptr(GString) header = g_string_new(NULL);
        g_autofree char *online = NULL, *text = NULL;

        if (!machine_load(o, &m))
                return 1;
        plan = plan_partition(m.topology, m.config, &notes);
        diags = partition_validate(plan, m.topology);

        online = cpumask_format_list(&m.topology->online);
        g_string_append_printf(header,
                               "isolatord partition proposed by isolatord --plan for a machine with CPUs %s:\n"
                               "%u cores, %u L3 domain(s), %u NUMA node(s). Housekeeping is CPU 0's core;\n"
                               "the groups share the other cores in proportion to their size in the\n"
                               "template configuration, whole cores, each kept inside one L3 where it fits.",
                               online, m.topology->cores->len, m.topology->l3s->len, m.topology->nodes->len);
        for (unsigned i = 0; i < notes->len; i++)
                g_string_append_printf(header, "\nNote: %s.", (char *) notes->pdata[i]);
        for (unsigned i = 0; i < diags->len; i++) {
                const Diagnostic *d = diags->pdata[i];
                g_string_append_printf(header, "\n%s [%s]: %s", diag_severity_to_string(d->severity), d->rule, d->message);
        }
        text = config_to_text(plan, header->str);
        fputs(text, out);
        return diagnostics_count(diags, DIAG_ERROR) > 0 ? 1 : 0;
}

static void print_audit_reasons(const GPtrArray *items, FILE *out) {
        for (unsigned i = 0; i < items->len; i++) {
                const AuditItem *it = items->pdata[i];
                if (it->state != AUDIT_OK)
                        fprintf(out, "  %s: %s\n", it->name, it->reason);
        }
}

static void add_audit_rows(Table *t, const GPtrArray *items) {
        for (unsigned i = 0; i < items->len; i++) {
                const AuditItem *it = items->pdata[i];
                const char *shown = it->actual && !*it->actual ? "(set)" : it->actual;
                table_add_row(t, it->name, it->expected ? it->expected : "(flag)", shown,
                              audit_state_to_string(it->state), it->required ? "required" : "recommended");
        }
}

int offline_boot_params(const OfflineOptions *o, FILE *out) {
        g_auto(Machine) m = {};
        g_autoptr(GPtrArray) diags = NULL;
        g_autoptr(Audits) audits = NULL;
        const GPtrArray *params, *live;
        g_autoptr(Table) t = NULL;
        g_autofree char *hk = NULL, *iso = NULL;
        CpuMask isolated;

        if (!machine_load(o, &m))
                return 1;
        diags = partition_validate(m.config, m.topology);
        if (diagnostics_count(diags, DIAG_ERROR) > 0) {
                print_diagnostics(diags, out);
                fprintf(out, "\nThe partition is invalid; boot parameters for it would be wrong. "
                             "Fix it first (isolatord --check-config).\n");
                return 1;
        }

        audits = audits_new(m.config, m.root);
        if (audits->cmdline_error)
                log_warning("%s; comparing with an empty one", audits->cmdline_error);
        params = audits->boot_params;
        live = audits->live;

        hk = cpumask_format_list(&m.config->housekeeping);
        config_isolated_cpus(m.config, &isolated);
        iso = cpumask_format_list(&isolated);
        fprintf(out, "Boot parameters for housekeeping %s and isolated CPUs %s\n", hk, iso);
        fprintf(out, "compared with the running kernel's command line and sysfs under %s\n\n", root_dir(m.root));

        t = table_new("PARAMETER", "WANTED", "RUNNING", "STATE", "LEVEL", NULL);
        add_audit_rows(t, params);
        add_audit_rows(t, live);
        table_print(t, out);

        unsigned problems = audit_count_problems(params) + audit_count_problems(live);
        if (problems > 0) {
                fprintf(out, "\nWhy they matter:\n");
                print_audit_reasons(params, out);
                print_audit_reasons(live, out);
        }
        fprintf(out, "\nisoctl boot-params --write writes it for GRUB or kernel-install. By hand: add it to\n"
                     "GRUB_CMDLINE_LINUX in /etc/default/grub (remove older isolcpus=, nohz_full=,\n"
                     "rcu_nocbs=, irqaffinity=, kthread_cpus=), run update-grub and reboot:\n  %s\n"
                     "With the recommended ones:\n  %s\n", audits->required_line, audits->full_line);
        fprintf(out, "\n%u required setting%s missing or different.\n", problems, problems == 1 ? "" : "s");
        return problems > 0 ? 1 : 0;
}

int offline_kernel_audit(const OfflineOptions *o, FILE *out) {
        g_autoptr(Root) root = root_new(o->root);
        g_autoptr(Config) defaults = config_new_default(); /* the kernel build does not depend on it */
        g_autoptr(Audits) audits = audits_new(defaults, root);
        g_autoptr(Table) t = NULL;
        const GPtrArray *items = audits->kernel_config;

        if (!items) {
                log_error("%s", audits->kconfig_error);
                return 1;
        }
        fprintf(out, "Kernel configuration: %s\n\n", audits->kconfig_source);
        t = table_new("OPTION", "WANTED", "RUNNING", "STATE", "LEVEL", NULL);
        add_audit_rows(t, items);
        table_print(t, out);

        unsigned problems = audit_count_problems(items);
        bool any_not_ok = false;
        for (unsigned i = 0; i < items->len; i++)
                any_not_ok |= ((const AuditItem *) items->pdata[i])->state != AUDIT_OK;
        if (any_not_ok) {
                fprintf(out, "\nWhy they matter:\n");
                print_audit_reasons(items, out);
        }
        fprintf(out, "\n%u required option%s missing or different.", problems, problems == 1 ? "" : "s");
        if (problems > 0)
                fprintf(out, " To build a kernel of your own: isolatord --kconfig-fragment > rt-audio.config");
        fputc('\n', out);
        return problems > 0 ? 1 : 0;
}

int offline_kconfig_fragment(FILE *out) {
        g_autofree char *text = kconfig_fragment();
        fputs(text, out);
        return 0;
}
