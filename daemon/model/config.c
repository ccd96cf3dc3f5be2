/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Config's life: made empty, from the defaults or from files, copied and freed, and the
 * questions the rest of the daemon asks it. What a file may say is config-schema.c; how the
 * files are merged, config-source.c; how the merged text is read, config-parse.c; how a
 * Config is written back, config-text.c. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "base/text.h"
#include "model/config-private.h"

GroupConfig *group_config_copy(const GroupConfig *g) {
        GroupConfig *copy = g_memdup2(g, sizeof *g);
        copy->name = g_strdup(g->name);
        copy->slice = g_strdup(g->slice);
        copy->match = g_strdupv(g->match);
        copy->users = g_strdupv(g->users);
        copy->units = g_strdupv(g->units);
        copy->governor = g_strdup(g->governor);
        return copy;
}

void group_config_free(GroupConfig *g) {
        if (!g)
                return;
        g_free(g->name);
        g_free(g->slice);
        g_strfreev(g->match);
        g_strfreev(g->users);
        g_strfreev(g->units);
        g_free(g->governor);
        g_free(g);
}

void config_irq_rule_free(IrqRule *r) {
        if (!r)
                return;
        g_free(r->name);
        g_strfreev(r->match);
        g_strfreev(r->drivers);
        g_free(r->group);
        g_free(r);
}

static IrqRule *irq_rule_copy(const IrqRule *r) {
        IrqRule *copy = g_memdup2(r, sizeof *r);
        copy->name = g_strdup(r->name);
        copy->match = g_strdupv(r->match);
        copy->drivers = g_strdupv(r->drivers);
        copy->group = g_strdup(r->group);
        return copy;
}

void config_thread_rule_free(ThreadRule *r) {
        if (!r)
                return;
        g_free(r->name);
        g_free(r->group);
        g_strfreev(r->match);
        g_free(r);
}

static ThreadRule *thread_rule_copy(const ThreadRule *r) {
        ThreadRule *copy = g_memdup2(r, sizeof *r);
        copy->name = g_strdup(r->name);
        copy->group = g_strdup(r->group);
        copy->match = g_strdupv(r->match);
        return copy;
}

Config *config_new_empty(void) {
        Config *c = g_new0(Config, 1);
        c->groups = g_ptr_array_new_with_free_func((GDestroyNotify) group_config_free);
        c->irq_rules = g_ptr_array_new_with_free_func((GDestroyNotify) config_irq_rule_free);
        c->thread_rules = g_ptr_array_new_with_free_func((GDestroyNotify) config_thread_rule_free);
        c->sources = g_new0(char *, 1);
        c->audio_paths = g_new0(char *, 1);
        c->cpu_dma_latency_us = -1;
        return c;
}

Config *config_copy(const Config *c) {
        Config *copy = config_new_empty();
        copy->housekeeping = c->housekeeping;
        copy->sampler = c->sampler;
        copy->daemon = c->daemon;
        copy->network = c->network;
        copy->cpu_dma_latency_us = c->cpu_dma_latency_us;
        g_strfreev(copy->audio_paths);
        copy->audio_paths = g_strdupv(c->audio_paths);
        copy->daemon.udev_monitor = g_strdup(c->daemon.udev_monitor);
        copy->daemon.systemd_address = g_strdup(c->daemon.systemd_address);
        copy->metrics = c->metrics;
        copy->metrics.textfile_dir = g_strdup(c->metrics.textfile_dir);
        g_strfreev(copy->sources);
        copy->sources = g_strdupv(c->sources);
        for (unsigned i = 0; i < c->groups->len; i++)
                g_ptr_array_add(copy->groups, group_config_copy(c->groups->pdata[i]));
        for (unsigned i = 0; i < c->irq_rules->len; i++)
                g_ptr_array_add(copy->irq_rules, irq_rule_copy(c->irq_rules->pdata[i]));
        for (unsigned i = 0; i < c->thread_rules->len; i++)
                g_ptr_array_add(copy->thread_rules, thread_rule_copy(c->thread_rules->pdata[i]));
        return copy;
}

void config_free(Config *c) {
        if (!c)
                return;
        if (c->groups)
                g_ptr_array_unref(c->groups);
        if (c->irq_rules)
                g_ptr_array_unref(c->irq_rules);
        if (c->thread_rules)
                g_ptr_array_unref(c->thread_rules);
        g_strfreev(c->sources);
        g_strfreev(c->audio_paths);
        g_free(c->daemon.udev_monitor);
        g_free(c->daemon.systemd_address);
        g_free(c->metrics.textfile_dir);
        g_free(c);
}

/* The merged text read into a Config; the user's groups, if any, replace the defaults'. */
static int config_finish(ConfigSource *s, Config **out, GError **error) {
        config_source_drop_replaced_groups(s);
        return config_parse(s, out, error) ? 0 : -EINVAL;
}

Config *config_new_default(void) {
        g_auto(ConfigSource) s = { 0 };
        g_autoptr(GError) e = NULL;
        Config *c = NULL;

        config_source_init(&s);
        if (config_finish(&s, &c, &e) < 0)
                g_error("built-in configuration is invalid: %s", e->message);
        return c;
}

int config_load(const char *path, bool must_exist, Config **out, GError **error) {
        g_auto(ConfigSource) s = { 0 };

        assert(path);
        assert(out);

        config_source_init(&s);
        if (!config_source_merge_file(&s, path, must_exist, error) || !config_source_merge_dropins(&s, path, error))
                return -EINVAL;
        return config_finish(&s, out, error);
}

int config_load_data(const char *data, const char *name, Config **out, GError **error) {
        assert(data);
        return config_load_bytes(data, strlen(data), name, out, error);
}

int config_load_bytes(const char *data, size_t len, const char *name, Config **out, GError **error) {
        g_auto(ConfigSource) s = { 0 };

        assert(data);
        config_source_init(&s);
        if (!config_source_merge_data(&s, data, len, name, error))
                return -EINVAL;
        return config_finish(&s, out, error);
}

const GroupConfig *config_find_group(const Config *c, const char *name) {
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                if (g_str_equal(g->name, name))
                        return g;
        }
        return NULL;
}

const CpuMask *config_irq_rule_cpus(const Config *c, const IrqRule *rule) {
        if (rule->housekeeping)
                return &c->housekeeping;
        if (rule->group) {
                const GroupConfig *g = config_find_group(c, rule->group);
                /* A rule's group always exists: the parser resolved it against these groups. */
                assert(g);
                return &g->cpus;
        }
        return &rule->cpus;
}

const ThreadRule *config_thread_rule_match(const Config *c, const char *group, const char *comm) {
        for (unsigned i = 0; i < c->thread_rules->len; i++) {
                const ThreadRule *r = c->thread_rules->pdata[i];
                if (!g_str_equal(r->group, group))
                        continue;
                for (char **m = r->match; *m; m++)
                        if (text_glob_match(*m, comm))
                                return r;
        }
        return NULL;
}

bool config_group_has_thread_rules(const Config *c, const char *group) {
        for (unsigned i = 0; i < c->thread_rules->len; i++)
                if (g_str_equal(((const ThreadRule *) c->thread_rules->pdata[i])->group, group))
                        return true;
        return false;
}

static bool realtime_policy(SchedPolicy p) {
        return p == SCHED_POLICY_FIFO || p == SCHED_POLICY_RR;
}

/* A rule gives no more than its group: the group's CPUs or fewer, real-time only where the
 * group is real-time and no higher; a group that leaves scheduling alone (keep, or no
 * SchedPolicy=) leaves it for its rules too, since what isolatord never wrote it could
 * not give back. */
char *config_thread_rule_check(const Config *c, const ThreadRule *rule, const char **key) {
        const GroupConfig *g = config_find_group(c, rule->group);

        *key = "Group";
        if (!g)
                return g_strdup_printf("no group named \"%s\"", rule->group);
        *key = "CPUs";
        if (rule->has_cpus && !cpumask_is_subset(&rule->cpus, &g->cpus)) {
                CpuMask outside;
                cpumask_andnot(&outside, &rule->cpus, &g->cpus);
                g_autofree char *out_cpus = cpumask_format_list(&outside), *group_cpus = cpumask_format_list(&g->cpus);
                bool one = cpumask_count(&outside) == 1;
                return g_strdup_printf("%s %s %s outside group %s's CPUs (%s)", one ? "CPU" : "CPUs", out_cpus,
                                       one ? "is" : "are", g->name, group_cpus);
        }
        if (rule->sched_policy == SCHED_POLICY_UNSET)
                return NULL;
        *key = "SchedPolicy";
        if (g->sched_policy == SCHED_POLICY_UNSET || g->sched_policy == SCHED_POLICY_KEEP)
                return g_strdup_printf("group %s leaves scheduling to the application (SchedPolicy=%s): its thread rules "
                                       "set CPUs only", g->name, g->sched_policy == SCHED_POLICY_KEEP ? "keep" : "unset");
        if (realtime_policy(rule->sched_policy) && !realtime_policy(g->sched_policy))
                return g_strdup_printf("%s is real-time and group %s is not (SchedPolicy=%s)",
                                       sched_policy_to_string(rule->sched_policy), g->name,
                                       sched_policy_to_string(g->sched_policy));
        *key = "SchedPriority";
        if (rule->sched_priority > g->sched_priority)
                return g_strdup_printf("%d is above group %s's priority (%d)", rule->sched_priority, g->name,
                                       g->sched_priority);
        return NULL;
}

const CpuMask *config_net_cpus(const Config *c, bool rps) {
        NetCpusMode mode = rps ? c->network.rps_mode : c->network.xps_mode;
        switch (mode) {
        case NET_CPUS_HOUSEKEEPING: return &c->housekeeping;
        case NET_CPUS_LIST: return rps ? &c->network.rps : &c->network.xps;
        case NET_CPUS_KEEP: break;
        }
        return NULL;
}

void config_isolated_cpus(const Config *c, CpuMask *out) {
        cpumask_zero(out);
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                cpumask_or(out, out, &g->cpus);
        }
}

char **config_irq_drivers(const Config *c) {
        g_autoptr(GPtrArray) all = g_ptr_array_new();
        for (unsigned i = 0; i < c->irq_rules->len; i++) {
                const IrqRule *rule = c->irq_rules->pdata[i];
                for (char **d = rule->drivers; d && *d; d++)
                        if (!g_ptr_array_find_with_equal_func(all, *d, g_str_equal, NULL))
                                g_ptr_array_add(all, g_strdup(*d));
        }
        g_ptr_array_add(all, NULL);
        return (char **) g_ptr_array_free(g_steal_pointer(&all), false);
}

/* Module names as the kernel shows them in /sys/bus/x/drivers: letters, digits, '_',
 * '-' and '.', a path component never. */
bool config_driver_name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64 || g_str_equal(s, ".") || g_str_equal(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("_-.", *p))
                        return false;
        return true;
}
