/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The merged text (config-source.c) read into an immutable Config, one part at a time.
 * Every refusal names the file that gave the key, the section and the key; the steps run
 * in the same order as ever, so a file with two mistakes is told the same one first. */
#include <string.h>

#include "model/config-private.h"
#include "kernel/trust.h"
#include "base/error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GroupConfig, group_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(IrqRule, config_irq_rule_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ThreadRule, config_thread_rule_free)

static const char group_needs_cpus[] = "a group needs CPUs= (a CPU list such as 3-7,11-15)";

G_GNUC_PRINTF(5, 6)
static bool config_fail(GError **error, const ConfigSource *s, const char *section,
                        const char *key, const char *fmt, ...) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        if (key)
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "%s: [%s] %s=: %s",
                            config_source_origin(s, section, key), section, key, msg);
        else
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "[%s]: %s", section, msg);
        return false;
}

/* A CPU list; a refusal adds what else the key would take. */
static bool get_cpus(const ConfigSource *s, const char *section, const char *key, const char *text,
                     const char *alternatives, CpuMask *out, GError **error) {
        g_autoptr(GError) e = NULL;

        if (cpumask_parse_list_gerror(key, text, out, &e))
                return true;
        g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST, "%s: [%s] %s%s",
                    config_source_origin(s, section, key), section, e->message, alternatives);
        return false;
}

static bool get_uint(const ConfigSource *s, const char *section, const char *key,
                     unsigned min, unsigned max, unsigned *out, GError **error) {
        g_autofree char *v = g_key_file_get_value(s->merged, section, key, NULL);
        guint64 n;

        if (!v)
                return true; /* keep the default */
        if (!g_ascii_string_to_unsigned(g_strstrip(v), 10, min, max, &n, NULL))
                return config_fail(error, s, section, key, "\"%s\" is not a whole number from %u to %u",
                                   v, min, max);
        *out = (unsigned) n;
        return true;
}

static bool get_bool(const ConfigSource *s, const char *section, const char *key, bool *out, GError **error) {
        g_autoptr(GError) e = NULL;
        bool v = g_key_file_get_boolean(s->merged, section, key, &e);

        if (e)
                return config_fail(error, s, section, key, "expected true or false");
        *out = v;
        return true;
}

/* One of words, as the value it stands for; absent: *out stays. */
static bool get_word(const ConfigSource *s, const char *section, const char *key, const ConfigWords *words,
                     int *out, GError **error) {
        g_autofree char *v = g_key_file_get_string(s->merged, section, key, NULL);
        int value;

        if (!v)
                return true;
        value = config_words_find(words, g_strstrip(v));
        if (value < 0) {
                g_autofree char *list = config_words_text(words);
                return config_fail(error, s, section, key, "\"%s\" is not one of %s", v, list);
        }
        *out = value;
        return true;
}

/* A ';'-separated list whose every entry valid() accepts; an empty list when absent. */
static bool get_list(const ConfigSource *s, const char *section, const char *key, bool (*valid)(const char *),
                     const char *what, char ***out, GError **error) {
        *out = g_key_file_get_string_list(s->merged, section, key, NULL, NULL);
        if (!*out)
                *out = g_new0(char *, 1);
        for (char **e = *out; *e; e++)
                if (!valid(g_strstrip(*e)))
                        return config_fail(error, s, section, key, "\"%s\" is not %s", *e, what);
        return true;
}

/* Match= of a group or a rule: globs, none empty; an empty list when absent. */
static bool get_patterns(const ConfigSource *s, const char *section, char ***out, GError **error) {
        *out = g_key_file_get_string_list(s->merged, section, "Match", NULL, NULL);
        if (!*out)
                *out = g_new0(char *, 1);
        for (char **m = *out; *m; m++)
                if (!*g_strstrip(*m))
                        return config_fail(error, s, section, "Match",
                                           "an empty pattern matches nothing; separate patterns with ';'");
        return true;
}

static bool parse_housekeeping(const ConfigSource *s, Config *c, GError **error) {
        g_autofree char *hk = g_key_file_get_string(s->merged, "Partition", "Housekeeping", NULL);
        return get_cpus(s, "Partition", "Housekeeping", hk ? hk : "", "", &c->housekeeping, error);
}

static bool parse_group_cpus(const ConfigSource *s, const char *section, GroupConfig *g, GError **error) {
        g_autofree char *cpus = g_key_file_get_string(s->merged, section, "CPUs", NULL);

        if (!cpus)
                return config_fail(error, s, section, NULL, "%s", group_needs_cpus);
        return get_cpus(s, section, "CPUs", cpus, "", &g->cpus, error);
}

static bool parse_group_slice(const ConfigSource *s, const char *section, GroupConfig *g, GError **error) {
        g->slice = g_key_file_get_string(s->merged, section, "Slice", NULL);
        if (g->slice) {
                if (!config_slice_name_valid(g->slice))
                        return config_fail(error, s, section, "Slice",
                                           "\"%s\" is not a slice unit name (letters, digits, \":-_.\\\", ending in .slice, "
                                           "not starting or ending with '-', no \"--\")", g->slice);
                return true;
        }
        g->slice = g_strconcat(g->name, ".slice", NULL);
        if (!config_slice_name_valid(g->slice))
                return config_fail(error, s, section, NULL,
                                   "the group's slice would be %s, which systemd does not take as a slice of its own "
                                   "(a name may not start or end with '-' or hold \"--\"): rename the group or set Slice=",
                                   g->slice);
        return true;
}

/* SchedPolicy= and SchedPriority= of a group or a thread rule (words: the policies it
 * takes): a priority with fifo or rr, and only then. A later file that sets a policy
 * without a priority (other, keep) replaces the pair of an earlier one (or of the
 * defaults: hqplayer's rr 99), rather than be refused for a priority it never wrote. */
static bool parse_sched(const ConfigSource *s, const char *section, const ConfigWords *words, SchedPolicy *policy_out,
                        int *priority_out, GError **error) {
        bool has_prio = g_key_file_has_key(s->merged, section, "SchedPriority", NULL);
        int policy = SCHED_POLICY_UNSET;
        unsigned prio = 0;

        if (!get_word(s, section, "SchedPolicy", words, &policy, error))
                return false;
        bool realtime = policy == SCHED_POLICY_FIFO || policy == SCHED_POLICY_RR;
        if (!realtime && has_prio &&
            config_source_rank(s, section, "SchedPriority") < config_source_rank(s, section, "SchedPolicy"))
                has_prio = false;
        if (has_prio && !get_uint(s, section, "SchedPriority", 1, 99, &prio, error))
                return false;
        if (realtime && !has_prio)
                return config_fail(error, s, section, "SchedPolicy", "%s needs SchedPriority= (1-99)",
                                   sched_policy_to_string(policy));
        if (!realtime && has_prio)
                return config_fail(error, s, section, "SchedPriority", "a priority applies only with SchedPolicy=fifo or rr");
        *policy_out = policy;
        *priority_out = (int) prio;
        return true;
}

static bool parse_group_sched(const ConfigSource *s, const char *section, GroupConfig *g, GError **error) {
        return parse_sched(s, section, &config_sched_policy_words, &g->sched_policy, &g->sched_priority, error);
}

/* Governor=: a governor's name; empty or "keep" leaves the CPUs' own. */
static bool parse_group_governor(const ConfigSource *s, const char *section, GroupConfig *g, GError **error) {
        g->governor = g_key_file_get_string(s->merged, section, "Governor", NULL);
        if (g->governor && (!*g_strstrip(g->governor) || g_str_equal(g->governor, "keep")))
                g_clear_pointer(&g->governor, g_free);
        if (g->governor && !config_governor_valid(g->governor))
                return config_fail(error, s, section, "Governor",
                                   "\"%s\" is not a governor name (such as performance), or keep", g->governor);
        return true;
}

static bool parse_group(const ConfigSource *s, const char *section, GroupConfig **out, GError **error) {
        g_autoptr(GroupConfig) g = g_new0(GroupConfig, 1);
        int isolated = false;

        g->name = g_strdup(section + strlen(GROUP_PREFIX));
        if (!parse_group_cpus(s, section, g, error) ||
            !parse_group_slice(s, section, g, error) ||
            !get_patterns(s, section, &g->match, error) ||
            !get_list(s, section, "User", trust_user_entry_valid, "a user name or a number", &g->users, error) ||
            !get_list(s, section, "Unit", config_unit_name_valid, "a systemd unit name such as hqplayerd.service",
                      &g->units, error) ||
            !parse_group_sched(s, section, g, error) ||
            !get_word(s, section, "Partition", &config_partition_words, &isolated, error) ||
            !parse_group_governor(s, section, g, error))
                return false;
        g->partition_isolated = isolated;
        *out = g_steal_pointer(&g);
        return true;
}

/* The groups in the order of the merged text: the user's when a file declares one, else
 * the defaults (config_source_drop_replaced_groups()). */
static bool parse_groups(const ConfigSource *s, Config *c, GError **error) {
        g_auto(GStrv) sections = g_key_file_get_groups(s->merged, NULL);

        /* A [Group x] without a key never reaches the merged text. */
        for (unsigned i = 0; i < s->declared->len; i++)
                if (!g_key_file_has_group(s->merged, s->declared->pdata[i]))
                        return config_fail(error, s, s->declared->pdata[i], NULL, "%s", group_needs_cpus);
        for (char **sec = sections; *sec; sec++) {
                GroupConfig *g = NULL;
                if (!g_str_has_prefix(*sec, GROUP_PREFIX))
                        continue;
                if (!parse_group(s, *sec, &g, error))
                        return false;
                g_ptr_array_add(c->groups, g);
        }
        return true;
}

/* CPUs= of a rule: a group's name (its CPUs, as they change) or a CPU list. */
static bool parse_irq_rule_cpus(const ConfigSource *s, const Config *c, const char *section, IrqRule *rule,
                                GError **error) {
        g_autofree char *cpus = g_key_file_get_string(s->merged, section, "CPUs", NULL);

        if (!cpus)
                return config_fail(error, s, section, NULL,
                                   "a rule needs CPUs= (housekeeping, a group's name or a CPU list)");
        g_strstrip(cpus);
        if (g_str_equal(cpus, "housekeeping")) {
                rule->housekeeping = true;
                return true;
        }
        if (config_find_group(c, cpus)) {
                rule->group = g_strdup(cpus);
                return true;
        }
        return get_cpus(s, section, "CPUs", cpus, ", nor \"housekeeping\" or the name of a group", &rule->cpus, error);
}

static bool get_drivers(const ConfigSource *s, const char *section, char ***out, GError **error) {
        *out = g_key_file_get_string_list(s->merged, section, "Driver", NULL, NULL);
        if (!*out)
                *out = g_new0(char *, 1);
        for (char **d = *out; *d; d++)
                if (!config_driver_name_valid(g_strstrip(*d)))
                        return config_fail(error, s, section, "Driver",
                                           "\"%s\" is not a kernel driver's name (letters, digits, '_', '-', '.'; as in "
                                           "/sys/bus/*/drivers, such as snd-usb-audio)", *d);
        return true;
}

static bool parse_irq_rule(const ConfigSource *s, const Config *c, const char *section, IrqRule **out,
                           GError **error) {
        g_autoptr(IrqRule) rule = g_new0(IrqRule, 1);
        unsigned prio = 0;

        rule->name = g_strdup(section + strlen(IRQ_PREFIX));
        if (!get_patterns(s, section, &rule->match, error) || !get_drivers(s, section, &rule->drivers, error))
                return false;
        if (!rule->match[0] && !rule->drivers[0])
                return config_fail(error, s, section, NULL,
                                   "a rule needs Match= (globs on IRQ action names, such as xhci_hcd) or Driver= (the "
                                   "driver of a device whose controller's IRQs it takes, such as snd-usb-audio)");
        if (!parse_irq_rule_cpus(s, c, section, rule, error) ||
            !get_uint(s, section, "ThreadPriority", 1, 99, &prio, error))
                return false;
        rule->thread_priority = (int) prio;
        *out = g_steal_pointer(&rule);
        return true;
}

/* After the groups: a rule's CPUs= may name one. */
static bool parse_irq_rules(const ConfigSource *s, Config *c, GError **error) {
        g_auto(GStrv) sections = g_key_file_get_groups(s->merged, NULL);

        for (char **sec = sections; *sec; sec++) {
                IrqRule *rule = NULL;
                if (!g_str_has_prefix(*sec, IRQ_PREFIX))
                        continue;
                if (!parse_irq_rule(s, c, *sec, &rule, error))
                        return false;
                g_ptr_array_add(c->irq_rules, rule);
        }
        return true;
}

/* Group= of a thread rule: a group of this configuration. */
static bool parse_thread_rule_group(const ConfigSource *s, const Config *c, const char *section, ThreadRule *rule,
                                    GError **error) {
        rule->group = g_key_file_get_string(s->merged, section, "Group", NULL);
        if (!rule->group)
                return config_fail(error, s, section, NULL, "a thread rule needs Group= (the group whose threads it concerns)");
        g_strstrip(rule->group);
        if (!config_find_group(c, rule->group)) {
                g_autoptr(GString) names = g_string_new(NULL);
                for (unsigned i = 0; i < c->groups->len; i++)
                        g_string_append_printf(names, "%s%s", i ? ", " : "", ((GroupConfig *) c->groups->pdata[i])->name);
                return config_fail(error, s, section, "Group", "no group named \"%s\" (the groups: %s)", rule->group,
                                   names->str);
        }
        return true;
}

/* CPUs= of a thread rule: a CPU list, one CPU at least; the group's when absent. */
static bool parse_thread_rule_cpus(const ConfigSource *s, const char *section, ThreadRule *rule, GError **error) {
        g_autofree char *cpus = g_key_file_get_string(s->merged, section, "CPUs", NULL);

        rule->has_cpus = cpus != NULL;
        if (!cpus)
                return true;
        if (!get_cpus(s, section, "CPUs", cpus, "", &rule->cpus, error))
                return false;
        if (cpumask_is_empty(&rule->cpus))
                return config_fail(error, s, section, "CPUs", "no CPU; leave CPUs= out for the group's");
        return true;
}

static bool parse_thread_rule(const ConfigSource *s, const Config *c, const char *section, ThreadRule **out,
                              GError **error) {
        g_autoptr(ThreadRule) rule = g_new0(ThreadRule, 1);
        g_autofree char *why = NULL;
        const char *key = NULL;

        rule->name = g_strdup(section + strlen(THREAD_PREFIX));
        if (!parse_thread_rule_group(s, c, section, rule, error) ||
            !get_patterns(s, section, &rule->match, error))
                return false;
        if (!rule->match[0])
                return config_fail(error, s, section, NULL,
                                   "a thread rule needs Match= (globs on the names the program gives its threads)");
        if (!parse_thread_rule_cpus(s, section, rule, error) ||
            !parse_sched(s, section, &config_thread_sched_policy_words, &rule->sched_policy, &rule->sched_priority, error))
                return false;
        why = config_thread_rule_check(c, rule, &key);
        if (why)
                return config_fail(error, s, section, key, "%s", why);
        *out = g_steal_pointer(&rule);
        return true;
}

/* After the groups: a rule names one, and stays within it. */
static bool parse_thread_rules(const ConfigSource *s, Config *c, GError **error) {
        g_auto(GStrv) sections = g_key_file_get_groups(s->merged, NULL);

        for (char **sec = sections; *sec; sec++) {
                ThreadRule *rule = NULL;
                if (!g_str_has_prefix(*sec, THREAD_PREFIX))
                        continue;
                if (!parse_thread_rule(s, c, *sec, &rule, error))
                        return false;
                g_ptr_array_add(c->thread_rules, rule);
        }
        return true;
}

static bool parse_net_cpus(const ConfigSource *s, const char *key, NetCpusMode *mode, CpuMask *cpus, GError **error) {
        g_autofree char *v = g_key_file_get_string(s->merged, "Network", key, NULL);

        if (!v || g_str_equal(g_strstrip(v), "housekeeping"))
                *mode = NET_CPUS_HOUSEKEEPING;
        else if (g_str_equal(v, "keep"))
                *mode = NET_CPUS_KEEP;
        else {
                *mode = NET_CPUS_LIST;
                return get_cpus(s, "Network", key, v, "; or \"housekeeping\", \"keep\"", cpus, error);
        }
        return true;
}

static bool parse_network(const ConfigSource *s, Config *c, GError **error) {
        return parse_net_cpus(s, "RpsCpus", &c->network.rps_mode, &c->network.rps, error) &&
               parse_net_cpus(s, "XpsCpus", &c->network.xps_mode, &c->network.xps, error);
}

static bool parse_sampler(const ConfigSource *s, Config *c, GError **error) {
        SamplerConfig *sampler = &c->sampler;
        g_autofree char *cpus = NULL;
        int source = SAMPLER_SOURCE_AUTO;

        if (!get_bool(s, "Sampler", "Enabled", &sampler->enabled, error) ||
            !get_bool(s, "Sampler", "PmQos", &sampler->pm_qos, error) ||
            !get_word(s, "Sampler", "Source", &config_sampler_source_words, &source, error))
                return false;
        sampler->source = source;
        cpus = g_key_file_get_string(s->merged, "Sampler", "CPUs", NULL);
        sampler->has_cpus = cpus && *g_strstrip(cpus);
        if (sampler->has_cpus && !get_cpus(s, "Sampler", "CPUs", cpus, "", &sampler->cpus, error))
                return false;
        return get_uint(s, "Sampler", "Priority", 1, 99, &sampler->priority, error) &&
               get_uint(s, "Sampler", "HistogramMaxUs", 1, 100000, &sampler->hist_max_us, error) &&
               get_uint(s, "Sampler", "IntervalUs", 50, 1000000, &sampler->interval_us, error) &&
               get_uint(s, "Sampler", "ThresholdUs", 1, 10000000, &sampler->threshold_us, error);
}

/* How often the full verify runs, and how often one cpuset is corrected before backing off. */
static bool parse_verify(const ConfigSource *s, Config *c, GError **error) {
        return get_uint(s, "Daemon", "VerifyIntervalSec", 1, 86400, &c->daemon.verify_interval_sec, error) &&
               get_uint(s, "Daemon", "DriftBurst", 1, 1000000, &c->daemon.drift_burst, error);
}

/* What playback is given beside the CPUs: a PM QoS latency, and where the music is read from. */
static bool parse_audio(const ConfigSource *s, Config *c, GError **error) {
        g_autofree char *dma = g_key_file_get_string(s->merged, "Partition", "CpuDmaLatencyUs", NULL);
        unsigned us = 0;

        c->cpu_dma_latency_us = -1;
        if (dma && *g_strstrip(dma)) {
                if (!get_uint(s, "Partition", "CpuDmaLatencyUs", 0, 2000000000, &us, error))
                        return false;
                c->cpu_dma_latency_us = (int) us;
        }
        g_strfreev(c->audio_paths);
        return get_list(s, "Partition", "AudioPaths", config_audio_path_valid, "an absolute path without \"..\"",
                        &c->audio_paths, error);
}

/* The starvation guard: whether it boosts, and after how long runnable without running.
 * At most 300 s: past RCU's 21 s stall warning the machine already suffers, and past
 * 120 s the kernel reports hung tasks. */
static bool parse_starvation(const ConfigSource *s, Config *c, GError **error) {
        int guard = STARVATION_GUARD_AUTO;

        if (!get_word(s, "Daemon", "StarvationGuard", &config_starvation_guard_words, &guard, error))
                return false;
        c->daemon.starvation_guard = guard;
        return get_uint(s, "Daemon", "StarvationSec", 1, 300, &c->daemon.starvation_sec, error);
}

/* How the daemon reaches the system: cgroups, irqbalance, systemd's bus, udev. */
static bool parse_daemon(const ConfigSource *s, Config *c, GError **error) {
        DaemonConfig *d = &c->daemon;
        int backend = CGROUP_BACKEND_AUTO, irqbalance = IRQBALANCE_BAN, monitor = 0;

        if (!get_word(s, "Daemon", "CgroupBackend", &config_cgroup_backend_words, &backend, error) ||
            !get_word(s, "Daemon", "IrqBalance", &config_irqbalance_words, &irqbalance, error))
                return false;
        d->cgroup_backend = backend;
        d->irqbalance = irqbalance;
        d->systemd_address = g_strstrip(g_key_file_get_string(s->merged, "Daemon", "SystemdAddress", NULL));
        if (!g_str_has_prefix(d->systemd_address, "unix:"))
                return config_fail(error, s, "Daemon", "SystemdAddress",
                                   "\"%s\" is not a D-Bus address such as unix:path=/run/systemd/private",
                                   d->systemd_address);
        if (!get_bool(s, "Daemon", "RestoreOnExit", &d->restore_on_exit, error) ||
            !get_word(s, "Daemon", "UdevMonitor", &config_udev_monitor_words, &monitor, error))
                return false;
        d->udev_monitor = g_strdup(config_udev_monitor_words.words[monitor]);
        return true;
}

/* TextfileDir= is a folder root writes a file into: absolute, no "..", no control characters. */
static bool parse_metrics(const ConfigSource *s, Config *c, GError **error) {
        const char *dir;

        c->metrics.textfile_dir = g_strstrip(g_key_file_get_string(s->merged, "Metrics", "TextfileDir", NULL));
        dir = c->metrics.textfile_dir;
        if (*dir && (dir[0] != '/' || strstr(dir, "/../") || g_str_has_suffix(dir, "/..") || strlen(dir) > 1024))
                return config_fail(error, s, "Metrics", "TextfileDir", "\"%s\" is not an absolute folder name", dir);
        if (config_text_has_control(dir))
                return config_fail(error, s, "Metrics", "TextfileDir", "a folder name holds no control character");
        return get_uint(s, "Metrics", "IntervalSec", 1, 3600, &c->metrics.interval_sec, error);
}

bool config_parse(const ConfigSource *s, Config **out, GError **error) {
        g_autoptr(Config) c = config_new_empty();

        if (!parse_housekeeping(s, c, error) ||
            !parse_groups(s, c, error) ||
            !parse_irq_rules(s, c, error) ||
            !parse_thread_rules(s, c, error) ||
            !parse_network(s, c, error) ||
            !parse_sampler(s, c, error) ||
            !parse_verify(s, c, error) ||
            !parse_audio(s, c, error) ||
            !parse_daemon(s, c, error) ||
            !parse_starvation(s, c, error) ||
            !parse_metrics(s, c, error))
                return false;

        g_strfreev(c->sources);
        c->sources = g_new0(char *, s->files->len + 1);
        for (unsigned i = 0; i < s->files->len; i++)
                c->sources[i] = g_strdup(s->files->pdata[i]);
        *out = g_steal_pointer(&c);
        return true;
}
