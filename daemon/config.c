/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "config.h"
#include "trust.h"
#include "error.h"
#include "log.h"
#include "macro.h"

/* The defaults are the seed guide's partition, written as the file a user would write. */
static const char default_config[] =
        "[Partition]\n"
        "Housekeeping=0,8\n"
        "\n"
        "[Group diretta]\n"
        "CPUs=1-2,9-10\n"
        "Slice=diretta.slice\n"
        "Match=syncAlsa*\n"
        "Governor=performance\n"
        "\n"
        "[Group hqplayer]\n"
        "CPUs=3-7,11-15\n"
        "Slice=hqplayer.slice\n"
        "Match=hqplayerd\n"
        "SchedPolicy=rr\n"
        "SchedPriority=99\n"
        "Governor=performance\n"
        "\n"
        "[Sampler]\n"
        "Enabled=true\n"
        "IntervalUs=1000\n"
        "ThresholdUs=50\n"
        "Priority=98\n"
        "PmQos=false\n"
        "HistogramMaxUs=1000\n"
        "\n"
        "[Daemon]\n"
        "VerifyIntervalSec=10\n"
        "UdevMonitor=auto\n"
        "CgroupBackend=auto\n"
        "SystemdAddress=unix:path=/run/systemd/private\n"
        "RestoreOnExit=false\n"
        "DriftBurst=5\n"
        "IrqBalance=ban\n"
        "\n"
        "[Metrics]\n"
        "TextfileDir=\n"
        "IntervalSec=15\n";

#define GROUP_PREFIX "Group "

/* The schema: which keys each section takes. Adding a key is adding it here and
 * reading it in the parser below. */
static const char *const partition_keys[] = { "Housekeeping", "CpuDmaLatencyUs", "AudioPaths", NULL };
static const char *const group_keys[] = { "CPUs", "Slice", "Match", "User", "Unit", "SchedPolicy", "SchedPriority",
                                          "Partition", "Governor", NULL };
static const char *const sampler_keys[] = { "Enabled", "IntervalUs", "ThresholdUs", "CPUs", "Priority", "PmQos",
                                            "HistogramMaxUs", NULL };
static const char *const daemon_keys[] = { "VerifyIntervalSec", "UdevMonitor", "CgroupBackend", "SystemdAddress",
                                           "RestoreOnExit", "DriftBurst", "IrqBalance", NULL };
static const char *const irq_keys[] = { "Match", "CPUs", "ThreadPriority", NULL };
static const char *const network_keys[] = { "RpsCpus", "XpsCpus", NULL };
static const char *const metrics_keys[] = { "TextfileDir", "IntervalSec", NULL };

#define IRQ_PREFIX "Irq "

static const char *const *section_keys(const char *section) {
        if (g_str_equal(section, "Partition"))
                return partition_keys;
        if (g_str_equal(section, "Sampler"))
                return sampler_keys;
        if (g_str_equal(section, "Daemon"))
                return daemon_keys;
        if (g_str_equal(section, "Network"))
                return network_keys;
        if (g_str_equal(section, "Metrics"))
                return metrics_keys;
        if (g_str_has_prefix(section, GROUP_PREFIX))
                return group_keys;
        if (g_str_has_prefix(section, IRQ_PREFIX))
                return irq_keys;
        return NULL;
}

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

static void irq_rule_free(IrqRule *r) {
        if (!r)
                return;
        g_free(r->name);
        g_strfreev(r->match);
        g_free(r->group);
        g_free(r);
}

static IrqRule *irq_rule_copy(const IrqRule *r) {
        IrqRule *copy = g_memdup2(r, sizeof *r);
        copy->name = g_strdup(r->name);
        copy->match = g_strdupv(r->match);
        copy->group = g_strdup(r->group);
        return copy;
}

Config *config_new_empty(void) {
        Config *c = g_new0(Config, 1);
        c->groups = g_ptr_array_new_with_free_func((GDestroyNotify) group_config_free);
        c->irq_rules = g_ptr_array_new_with_free_func((GDestroyNotify) irq_rule_free);
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
        return copy;
}

void config_free(Config *c) {
        if (!c)
                return;
        if (c->groups)
                g_ptr_array_unref(c->groups);
        if (c->irq_rules)
                g_ptr_array_unref(c->irq_rules);
        g_strfreev(c->sources);
        g_strfreev(c->audio_paths);
        g_free(c->daemon.udev_monitor);
        g_free(c->daemon.systemd_address);
        g_free(c->metrics.textfile_dir);
        g_free(c);
}

/* The text being merged, and which file each key came from (for messages). */
typedef struct ConfigSource {
        GKeyFile *merged;
        GHashTable *origin; /* "section\nkey" -> file name */
        GPtrArray *files;
        GPtrArray *declared; /* "Group x" sections the user files declare, even empty */
} ConfigSource;

static void config_source_clear(ConfigSource *s) {
        if (s->merged)
                g_key_file_unref(s->merged);
        if (s->origin)
                g_hash_table_unref(s->origin);
        if (s->files)
                g_ptr_array_unref(s->files);
        if (s->declared)
                g_ptr_array_unref(s->declared);
}

static const char *origin_of(const ConfigSource *s, const char *section, const char *key) {
        g_autofree char *k = g_strconcat(section, "\n", key, NULL);
        const char *f = g_hash_table_lookup(s->origin, k);
        return f ? f : "built-in defaults";
}

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
                            origin_of(s, section, key), section, key, msg);
        else
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "[%s]: %s", section, msg);
        return false;
}

static bool valid_name(const char *name) {
        size_t len = strlen(name);
        if (len == 0 || len > 64)
                return false;
        for (const char *p = name; *p; p++)
                if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
                        return false;
        return true;
}

static bool valid_group_name(const char *name) {
        return valid_name(name) && !g_str_equal(name, "housekeeping");
}

/* As systemd takes a slice's name: '-' nests (a-b.slice is inside a.slice), so a name
 * that starts or ends with '-' or holds "--" names no slice, and "-.slice" is the root
 * slice itself, which no group may take. */
static bool valid_slice_name(const char *slice) {
        size_t len = strlen(slice), stem = len - strlen(".slice");
        if (len <= strlen(".slice") || len > 255 || !g_str_has_suffix(slice, ".slice"))
                return false;
        for (const char *p = slice; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr(":-_.\\", *p))
                        return false;
        return slice[0] != '-' && slice[0] != '.' && slice[stem - 1] != '-' && !strstr(slice, "--");
}

/* Adds one file's keys over what is merged so far; checks sections and keys. */
static bool merge_keyfile(ConfigSource *s, GKeyFile *kf, const char *name, GError **error) {
        g_auto(GStrv) sections = g_key_file_get_groups(kf, NULL);

        for (char **sec = sections; *sec; sec++) {
                const char *const *known = section_keys(*sec);
                g_auto(GStrv) keys = NULL;

                if (!known) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                                    "%s: unknown section [%s] (known: [Partition], [Group NAME], [Irq NAME], [Network], [Sampler], [Daemon])",
                                    name, *sec);
                        return false;
                }
                if (g_str_has_prefix(*sec, GROUP_PREFIX)) {
                        if (!valid_group_name(*sec + strlen(GROUP_PREFIX))) {
                                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                                            "%s: [%s]: a group name is 1-64 letters, digits, '_' or '-', and not \"housekeeping\"",
                                            name, *sec);
                                return false;
                        }
                        if (!g_ptr_array_find_with_equal_func(s->declared, *sec, g_str_equal, NULL))
                                g_ptr_array_add(s->declared, g_strdup(*sec));
                }
                if (g_str_has_prefix(*sec, IRQ_PREFIX) && !valid_name(*sec + strlen(IRQ_PREFIX))) {
                        g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                                    "%s: [%s]: a rule name is 1-64 letters, digits, '_' or '-'", name, *sec);
                        return false;
                }
                keys = g_key_file_get_keys(kf, *sec, NULL, NULL);
                for (char **key = keys; key && *key; key++) {
                        if (!g_strv_contains(known, *key)) {
                                g_autofree char *list = g_strjoinv(", ", (char **) known);
                                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                                            "%s: [%s]: unknown key %s (known: %s)", name, *sec, *key, list);
                                return false;
                        }
                        g_autofree char *value = g_key_file_get_value(kf, *sec, *key, NULL);
                        /* Never a silent default: g_key_file_get_string() would answer NULL. */
                        if (!value || !g_utf8_validate(value, -1, NULL)) {
                                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG,
                                            "%s: [%s] %s=: the value is not valid UTF-8", name, *sec, *key);
                                return false;
                        }
                        g_key_file_set_value(s->merged, *sec, *key, value);
                        g_hash_table_replace(s->origin, g_strconcat(*sec, "\n", *key, NULL), g_strdup(name));
                }
        }
        return true;
}

/* "line N, [Section] Key=" for a byte of a file's text, as far as the text says. */
static char *locate(const char *data, const char *at) {
        g_autofree char *section = NULL;
        const char *line_start = data;
        unsigned line = 1;

        for (const char *p = data; p < at; p++)
                if (p == data || p[-1] == '\n') {
                        line += p != data;
                        line_start = p;
                        if (*line_start == '[') {
                                const char *close = memchr(line_start, ']', (size_t) (at - line_start));
                                if (close) {
                                        g_free(section);
                                        section = g_strndup(line_start, (size_t) (close - line_start + 1));
                                }
                        }
                }
        const char *eq = memchr(line_start, '=', (size_t) (at - line_start));
        g_autofree char *key = eq ? g_strstrip(g_strndup(line_start, (size_t) (eq - line_start))) : NULL;
        g_autoptr(GString) out = g_string_new(NULL);
        g_string_append_printf(out, "line %u", line);
        if (section)
                g_string_append_printf(out, ", %s", section);
        if (key && g_utf8_validate(key, -1, NULL))
                g_string_append_printf(out, " %s=", key);
        return g_string_free(g_steal_pointer(&out), false);
}

static bool merge_data(ConfigSource *s, const char *data, size_t len, const char *name, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) e = NULL;
        const char *nul = memchr(data, '\0', len);

        /* GKeyFile would end the value, or the file, at a NUL byte without a word. */
        if (nul) {
                g_autofree char *where = locate(data, nul);
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "%s: %s: a NUL byte; a configuration file is text",
                            name, where);
                return false;
        }
        if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "%s: %s", name, e->message);
                return false;
        }
        return merge_keyfile(s, kf, name, error);
}

static bool merge_file(ConfigSource *s, const char *path, bool must_exist, GError **error) {
        g_autofree char *data = NULL;
        g_autoptr(GError) e = NULL;
        size_t len;

        if (!g_file_get_contents(path, &data, &len, &e)) {
                if (!must_exist && g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return true;
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CONFIG, "cannot read %s: %s", path, e->message);
                return false;
        }
        g_ptr_array_add(s->files, g_strdup(path));
        return merge_data(s, data, len, path, error);
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

bool config_unit_name_valid(const char *unit) {
        static const char *const suffixes[] = { ".service", ".scope", ".socket", ".slice" };
        size_t len = strlen(unit);
        bool suffix = false;
        for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++)
                suffix |= g_str_has_suffix(unit, suffixes[i]) && len > strlen(suffixes[i]);
        if (!suffix || len > 255 || unit[0] == '-' || unit[0] == '.')
                return false;
        for (const char *p = unit; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr(":-_.\\@", *p))
                        return false;
        return true;
}

static bool audio_path_valid(const char *path) {
        g_auto(GStrv) parts = NULL;
        if (path[0] != '/' || strlen(path) > 4096)
                return false;
        for (const char *p = path; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        parts = g_strsplit(path, "/", -1);
        for (char **e = parts; *e; e++)
                if (g_str_equal(*e, ".."))
                        return false;
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

static bool parse_group(const ConfigSource *s, const char *section, GroupConfig **out, GError **error) {
        g_autoptr(GError) e = NULL;
        GroupConfig *g = g_new0(GroupConfig, 1);
        g_autofree char *cpus = NULL, *policy = NULL, *partition = NULL;
        unsigned prio = 0;
        bool has_prio;

        g->name = g_strdup(section + strlen(GROUP_PREFIX));

        cpus = g_key_file_get_string(s->merged, section, "CPUs", NULL);
        if (!cpus) {
                config_fail(error, s, section, NULL, "a group needs CPUs= (a CPU list such as 3-7,11-15)");
                goto fail;
        }
        if (!cpumask_parse_list_gerror("CPUs", cpus, &g->cpus, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST, "%s: [%s] %s",
                            origin_of(s, section, "CPUs"), section, e->message);
                goto fail;
        }

        g->slice = g_key_file_get_string(s->merged, section, "Slice", NULL);
        if (!g->slice) {
                g->slice = g_strconcat(g->name, ".slice", NULL);
                if (!valid_slice_name(g->slice)) {
                        config_fail(error, s, section, NULL,
                                    "the group's slice would be %s, which systemd does not take as a slice of its own "
                                    "(a name may not start or end with '-' or hold \"--\"): rename the group or set Slice=",
                                    g->slice);
                        goto fail;
                }
        } else if (!valid_slice_name(g->slice)) {
                config_fail(error, s, section, "Slice",
                            "\"%s\" is not a slice unit name (letters, digits, \":-_.\\\", ending in .slice, "
                            "not starting or ending with '-', no \"--\")", g->slice);
                goto fail;
        }

        g->match = g_key_file_get_string_list(s->merged, section, "Match", NULL, NULL);
        if (!g->match)
                g->match = g_new0(char *, 1);
        for (char **m = g->match; *m; m++) {
                g_strstrip(*m);
                if (!**m) {
                        config_fail(error, s, section, "Match", "an empty pattern matches nothing; separate patterns with ';'");
                        goto fail;
                }
        }

        if (!get_list(s, section, "User", trust_user_entry_valid, "a user name or a number", &g->users, error) ||
            !get_list(s, section, "Unit", config_unit_name_valid, "a systemd unit name such as hqplayerd.service", &g->units,
                      error))
                goto fail;

        policy = g_key_file_get_string(s->merged, section, "SchedPolicy", NULL);
        if (!policy)
                g->sched_policy = SCHED_POLICY_UNSET;
        else if (g_str_equal(g_strstrip(policy), "other"))
                g->sched_policy = SCHED_POLICY_OTHER;
        else if (g_str_equal(policy, "fifo"))
                g->sched_policy = SCHED_POLICY_FIFO;
        else if (g_str_equal(policy, "rr"))
                g->sched_policy = SCHED_POLICY_RR;
        else {
                config_fail(error, s, section, "SchedPolicy", "\"%s\" is not one of other, fifo, rr", policy);
                goto fail;
        }

        has_prio = g_key_file_has_key(s->merged, section, "SchedPriority", NULL);
        if (!get_uint(s, section, "SchedPriority", 1, 99, &prio, error))
                goto fail;
        bool realtime = g->sched_policy == SCHED_POLICY_FIFO || g->sched_policy == SCHED_POLICY_RR;
        if (realtime && !has_prio) {
                config_fail(error, s, section, "SchedPolicy", "%s needs SchedPriority= (1-99)", policy);
                goto fail;
        }
        if (!realtime && has_prio) {
                config_fail(error, s, section, "SchedPriority", "a priority applies only with SchedPolicy=fifo or rr");
                goto fail;
        }
        g->sched_priority = (int) prio;

        partition = g_key_file_get_string(s->merged, section, "Partition", NULL);
        if (partition && !g_str_equal(g_strstrip(partition), "member") && !g_str_equal(partition, "isolated")) {
                config_fail(error, s, section, "Partition", "\"%s\" is not one of member, isolated", partition);
                goto fail;
        }
        g->partition_isolated = partition && g_str_equal(partition, "isolated");

        g->governor = g_key_file_get_string(s->merged, section, "Governor", NULL);
        if (g->governor && (!*g_strstrip(g->governor) || g_str_equal(g->governor, "keep")))
                g_clear_pointer(&g->governor, g_free);
        else if (g->governor) {
                for (const char *p = g->governor; *p; p++)
                        if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-') {
                                config_fail(error, s, section, "Governor",
                                            "\"%s\" is not a governor name (such as performance), or keep", g->governor);
                                goto fail;
                        }
        }

        *out = g;
        return true;
fail:
        group_config_free(g);
        return false;
}

static bool parse_net_cpus(const ConfigSource *s, const char *key, NetCpusMode *mode, CpuMask *cpus, GError **error) {
        g_autofree char *v = g_key_file_get_string(s->merged, "Network", key, NULL);
        g_autoptr(GError) e = NULL;

        if (!v || g_str_equal(g_strstrip(v), "housekeeping"))
                *mode = NET_CPUS_HOUSEKEEPING;
        else if (g_str_equal(v, "keep"))
                *mode = NET_CPUS_KEEP;
        else if (cpumask_parse_list_gerror(key, v, cpus, &e))
                *mode = NET_CPUS_LIST;
        else {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST, "%s: [Network] %s; or \"housekeeping\", \"keep\"",
                            origin_of(s, "Network", key), e->message);
                return false;
        }
        return true;
}

/* CPUs= of a rule: a group's name (its CPUs, as they change) or a CPU list. */
static bool parse_irq_rule(const ConfigSource *s, const Config *c, const char *section, IrqRule **out,
                           GError **error) {
        g_autoptr(GError) e = NULL;
        IrqRule *rule = g_new0(IrqRule, 1);
        g_autofree char *cpus = NULL;
        unsigned prio = 0;

        rule->name = g_strdup(section + strlen(IRQ_PREFIX));
        rule->match = g_key_file_get_string_list(s->merged, section, "Match", NULL, NULL);
        if (!rule->match || !rule->match[0]) {
                config_fail(error, s, section, NULL, "a rule needs Match= (globs on IRQ action names, such as xhci_hcd)");
                goto fail;
        }
        for (char **m = rule->match; *m; m++) {
                g_strstrip(*m);
                if (!**m) {
                        config_fail(error, s, section, "Match", "an empty pattern matches nothing; separate patterns with ';'");
                        goto fail;
                }
        }
        cpus = g_key_file_get_string(s->merged, section, "CPUs", NULL);
        if (!cpus) {
                config_fail(error, s, section, NULL, "a rule needs CPUs= (a group's name or a CPU list)");
                goto fail;
        }
        g_strstrip(cpus);
        if (config_find_group(c, cpus))
                rule->group = g_strdup(cpus);
        else if (!cpumask_parse_list_gerror("CPUs", cpus, &rule->cpus, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST, "%s: [%s] %s, nor the name of a group",
                            origin_of(s, section, "CPUs"), section, e->message);
                goto fail;
        }
        if (!get_uint(s, section, "ThreadPriority", 1, 99, &prio, error))
                goto fail;
        rule->thread_priority = (int) prio;
        *out = rule;
        return true;
fail:
        irq_rule_free(rule);
        return false;
}

static bool config_from_source(ConfigSource *s, Config **out, GError **error) {
        g_autoptr(Config) c = config_new_empty();
        g_auto(GStrv) sections = NULL;
        g_autofree char *hk = NULL;
        g_autoptr(GError) e = NULL;
        gboolean enabled;

        hk = g_key_file_get_string(s->merged, "Partition", "Housekeeping", NULL);
        if (!cpumask_parse_list_gerror("Housekeeping", hk ? hk : "", &c->housekeeping, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST, "%s: [Partition] %s",
                            origin_of(s, "Partition", "Housekeeping"), e->message);
                return false;
        }

        /* The user's groups in the order they were declared, else the defaults. */
        sections = g_key_file_get_groups(s->merged, NULL);
        for (unsigned i = 0; i < s->declared->len; i++)
                if (!g_key_file_has_group(s->merged, s->declared->pdata[i]))
                        return config_fail(error, s, s->declared->pdata[i], NULL,
                                           "a group needs CPUs= (a CPU list such as 3-7,11-15)");
        for (char **sec = sections; *sec; sec++) {
                GroupConfig *g;
                if (!g_str_has_prefix(*sec, GROUP_PREFIX))
                        continue;
                if (!parse_group(s, *sec, &g, error))
                        return false;
                g_ptr_array_add(c->groups, g);
        }

        /* Rules after groups: CPUs= may name one. */
        for (char **sec = sections; *sec; sec++) {
                IrqRule *rule;
                if (!g_str_has_prefix(*sec, IRQ_PREFIX))
                        continue;
                if (!parse_irq_rule(s, c, *sec, &rule, error))
                        return false;
                g_ptr_array_add(c->irq_rules, rule);
        }

        if (!parse_net_cpus(s, "RpsCpus", &c->network.rps_mode, &c->network.rps, error) ||
            !parse_net_cpus(s, "XpsCpus", &c->network.xps_mode, &c->network.xps, error))
                return false;

        enabled = g_key_file_get_boolean(s->merged, "Sampler", "Enabled", &e);
        if (e)
                return config_fail(error, s, "Sampler", "Enabled", "expected true or false");
        c->sampler.enabled = enabled;
        g_clear_error(&e);
        c->sampler.pm_qos = g_key_file_get_boolean(s->merged, "Sampler", "PmQos", &e);
        if (e)
                return config_fail(error, s, "Sampler", "PmQos", "expected true or false");
        g_autofree char *sampler_cpus = g_key_file_get_string(s->merged, "Sampler", "CPUs", NULL);
        c->sampler.has_cpus = sampler_cpus && *g_strstrip(sampler_cpus);
        if (c->sampler.has_cpus && !cpumask_parse_list_gerror("CPUs", sampler_cpus, &c->sampler.cpus, &e)) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST, "%s: [Sampler] %s",
                            origin_of(s, "Sampler", "CPUs"), e->message);
                return false;
        }
        if (!get_uint(s, "Sampler", "Priority", 1, 99, &c->sampler.priority, error) ||
            !get_uint(s, "Sampler", "HistogramMaxUs", 1, 100000, &c->sampler.hist_max_us, error))
                return false;
        if (!get_uint(s, "Sampler", "IntervalUs", 50, 1000000, &c->sampler.interval_us, error) ||
            !get_uint(s, "Sampler", "ThresholdUs", 1, 10000000, &c->sampler.threshold_us, error) ||
            !get_uint(s, "Daemon", "VerifyIntervalSec", 1, 86400, &c->daemon.verify_interval_sec, error) ||
            !get_uint(s, "Daemon", "DriftBurst", 1, 1000000, &c->daemon.drift_burst, error))
                return false;
        g_autofree char *dma = g_key_file_get_string(s->merged, "Partition", "CpuDmaLatencyUs", NULL);
        c->cpu_dma_latency_us = -1;
        if (dma && *g_strstrip(dma)) {
                unsigned us;
                if (!get_uint(s, "Partition", "CpuDmaLatencyUs", 0, 2000000000, &us, error))
                        return false;
                c->cpu_dma_latency_us = (int) us;
        }
        g_strfreev(c->audio_paths);
        if (!get_list(s, "Partition", "AudioPaths", audio_path_valid, "an absolute path without \"..\"",
                      &c->audio_paths, error))
                return false;
        g_autofree char *backend = g_strstrip(g_key_file_get_string(s->merged, "Daemon", "CgroupBackend", NULL));
        if (g_str_equal(backend, "auto"))
                c->daemon.cgroup_backend = CGROUP_BACKEND_AUTO;
        else if (g_str_equal(backend, "systemd"))
                c->daemon.cgroup_backend = CGROUP_BACKEND_SYSTEMD;
        else if (g_str_equal(backend, "cgroupfs"))
                c->daemon.cgroup_backend = CGROUP_BACKEND_CGROUPFS;
        else if (g_str_equal(backend, "cgroupfs-v1"))
                c->daemon.cgroup_backend = CGROUP_BACKEND_CGROUPFS_V1;
        else
                return config_fail(error, s, "Daemon", "CgroupBackend",
                                   "\"%s\" is not one of auto, systemd, cgroupfs, cgroupfs-v1", backend);
        g_autofree char *irqbalance = g_strstrip(g_key_file_get_string(s->merged, "Daemon", "IrqBalance", NULL));
        if (g_str_equal(irqbalance, "ban"))
                c->daemon.irqbalance = IRQBALANCE_BAN;
        else if (g_str_equal(irqbalance, "stop"))
                c->daemon.irqbalance = IRQBALANCE_STOP;
        else if (g_str_equal(irqbalance, "leave"))
                c->daemon.irqbalance = IRQBALANCE_LEAVE;
        else
                return config_fail(error, s, "Daemon", "IrqBalance", "\"%s\" is not one of ban, stop, leave", irqbalance);
        c->daemon.systemd_address = g_strstrip(g_key_file_get_string(s->merged, "Daemon", "SystemdAddress", NULL));
        if (!g_str_has_prefix(c->daemon.systemd_address, "unix:"))
                return config_fail(error, s, "Daemon", "SystemdAddress",
                                   "\"%s\" is not a D-Bus address such as unix:path=/run/systemd/private",
                                   c->daemon.systemd_address);
        c->daemon.restore_on_exit = g_key_file_get_boolean(s->merged, "Daemon", "RestoreOnExit", &e);
        if (e)
                return config_fail(error, s, "Daemon", "RestoreOnExit", "expected true or false");
        c->daemon.udev_monitor = g_strstrip(g_key_file_get_string(s->merged, "Daemon", "UdevMonitor", NULL));
        if (!g_strv_contains((const char *const[]) { "auto", "udev", "kernel", NULL }, c->daemon.udev_monitor))
                return config_fail(error, s, "Daemon", "UdevMonitor", "\"%s\" is not one of auto, udev, kernel",
                                   c->daemon.udev_monitor);

        /* A folder root writes a file into: absolute, no "..", no control characters. */
        c->metrics.textfile_dir = g_strstrip(g_key_file_get_string(s->merged, "Metrics", "TextfileDir", NULL));
        const char *dir = c->metrics.textfile_dir;
        if (*dir && (dir[0] != '/' || strstr(dir, "/../") || g_str_has_suffix(dir, "/..") || strlen(dir) > 1024))
                return config_fail(error, s, "Metrics", "TextfileDir", "\"%s\" is not an absolute folder name", dir);
        for (const char *ch = dir; *ch; ch++)
                if ((unsigned char) *ch < 0x20 || *ch == 0x7f)
                        return config_fail(error, s, "Metrics", "TextfileDir", "a folder name holds no control character");
        if (!get_uint(s, "Metrics", "IntervalSec", 1, 3600, &c->metrics.interval_sec, error))
                return false;

        g_ptr_array_add(s->files, NULL);
        g_strfreev(c->sources);
        c->sources = (char **) g_ptr_array_steal(s->files, NULL);
        s->files = NULL;
        *out = g_steal_pointer(&c);
        return true;
}

/* Starts the merge with the defaults; user files then override key by key. */
static void config_source_init(ConfigSource *s) {
        g_autoptr(GError) e = NULL;

        *s = (ConfigSource) {
                .merged = g_key_file_new(),
                .origin = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                .files = g_ptr_array_new_with_free_func(g_free),
                .declared = g_ptr_array_new_with_free_func(g_free),
        };
        if (!g_key_file_load_from_data(s->merged, default_config, sizeof default_config - 1, G_KEY_FILE_NONE, &e))
                g_error("built-in configuration does not parse: %s", e->message);
}

/* The user's groups replace the default ones wholesale; a mix would surprise. */
static void drop_default_groups_if_declared(ConfigSource *s, GKeyFile *defaults_only) {
        g_auto(GStrv) sections = g_key_file_get_groups(defaults_only, NULL);
        for (char **sec = sections; *sec; sec++) {
                if (!g_str_has_prefix(*sec, GROUP_PREFIX))
                        continue;
                g_auto(GStrv) keys = g_key_file_get_keys(s->merged, *sec, NULL, NULL);
                bool from_user = false;
                for (char **k = keys; k && *k; k++) {
                        g_autofree char *id = g_strconcat(*sec, "\n", *k, NULL);
                        from_user |= g_hash_table_contains(s->origin, id);
                }
                if (!from_user)
                        g_key_file_remove_group(s->merged, *sec, NULL);
        }
}

static int config_finish(ConfigSource *s, Config **out, GError **error) {
        if (s->declared->len > 0) {
                g_autoptr(GKeyFile) defaults = g_key_file_new();
                g_key_file_load_from_data(defaults, default_config, sizeof default_config - 1, G_KEY_FILE_NONE, NULL);
                drop_default_groups_if_declared(s, defaults);
        }
        return config_from_source(s, out, error) ? 0 : -EINVAL;
}

Config *config_new_default(void) {
        ConfigSource s;
        Config *c = NULL;
        g_autoptr(GError) e = NULL;

        config_source_init(&s);
        if (config_finish(&s, &c, &e) < 0)
                g_error("built-in configuration is invalid: %s", e->message);
        config_source_clear(&s);
        return c;
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int config_load(const char *path, bool must_exist, Config **out, GError **error) {
        ConfigSource s;
        g_autofree char *dropin_dir = NULL;
        g_autoptr(GDir) dir = NULL;
        g_autoptr(GPtrArray) dropins = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        int r = -EINVAL;

        assert(path);
        assert(out);

        config_source_init(&s);
        if (!merge_file(&s, path, must_exist, error))
                goto finish;

        dropin_dir = g_strconcat(path, ".d", NULL);
        dir = g_dir_open(dropin_dir, 0, NULL);
        while (dir && (name = g_dir_read_name(dir)))
                if (g_str_has_suffix(name, ".conf"))
                        g_ptr_array_add(dropins, g_build_filename(dropin_dir, name, NULL));
        g_ptr_array_sort(dropins, compare_strings);
        for (unsigned i = 0; i < dropins->len; i++)
                if (!merge_file(&s, dropins->pdata[i], true, error))
                        goto finish;

        r = config_finish(&s, out, error);
finish:
        config_source_clear(&s);
        return r;
}

int config_load_data(const char *data, const char *name, Config **out, GError **error) {
        assert(data);
        return config_load_bytes(data, strlen(data), name, out, error);
}

int config_load_bytes(const char *data, size_t len, const char *name, Config **out, GError **error) {
        ConfigSource s;
        int r = -EINVAL;

        assert(data);
        config_source_init(&s);
        if (merge_data(&s, data, len, name, error))
                r = config_finish(&s, out, error);
        config_source_clear(&s);
        return r;
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
        if (rule->group) {
                const GroupConfig *g = config_find_group(c, rule->group);
                /* A rule's group always exists: the parser resolved it against these groups. */
                assert(g);
                return &g->cpus;
        }
        return &rule->cpus;
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

static char *net_cpus_text(NetCpusMode mode, const CpuMask *cpus) {
        return mode == NET_CPUS_HOUSEKEEPING ? g_strdup("housekeeping")
               : mode == NET_CPUS_KEEP ? g_strdup("keep") : cpumask_format_list(cpus);
}

void config_isolated_cpus(const Config *c, CpuMask *out) {
        cpumask_zero(out);
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                cpumask_or(out, out, &g->cpus);
        }
}

const char *sched_policy_to_string(SchedPolicy p) {
        switch (p) {
        case SCHED_POLICY_OTHER: return "other";
        case SCHED_POLICY_FIFO: return "fifo";
        case SCHED_POLICY_RR: return "rr";
        case SCHED_POLICY_UNSET: break;
        }
        return NULL;
}

const char *irqbalance_mode_to_string(IrqBalanceMode m) {
        switch (m) {
        case IRQBALANCE_BAN: return "ban";
        case IRQBALANCE_STOP: return "stop";
        case IRQBALANCE_LEAVE: return "leave";
        }
        return "ban";
}

const char *cgroup_backend_to_string(CgroupBackend b) {
        switch (b) {
        case CGROUP_BACKEND_AUTO: return "auto";
        case CGROUP_BACKEND_SYSTEMD: return "systemd";
        case CGROUP_BACKEND_CGROUPFS: return "cgroupfs";
        case CGROUP_BACKEND_CGROUPFS_V1: return "cgroupfs-v1";
        }
        return "auto";
}

/* A value as GKeyFile reads it back unchanged ('\\', leading spaces, ';' in lists...). */
static char *escaped(const char *value) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_key_file_set_string(kf, "x", "k", value);
        return g_key_file_get_value(kf, "x", "k", NULL);
}

static char *escaped_list(char **values) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_key_file_set_string_list(kf, "x", "k", (const char *const *) values, g_strv_length(values));
        g_autofree char *v = g_key_file_get_value(kf, "x", "k", NULL);
        /* GKeyFile ends a list with ';'; the files here do not. */
        if (g_str_has_suffix(v, ";") && !g_str_has_suffix(v, "\\;"))
                v[strlen(v) - 1] = '\0';
        return g_steal_pointer(&v);
}

char *config_to_text(const Config *c, const char *header) {
        GString *out = g_string_new(NULL);
        g_autofree char *hk = cpumask_format_list(&c->housekeeping);

        if (header) {
                g_auto(GStrv) lines = g_strsplit(header, "\n", -1);
                for (char **l = lines; *l; l++)
                        g_string_append_printf(out, "#%s%s\n", **l ? " " : "", *l);
                g_string_append_c(out, '\n');
        }
        g_string_append_printf(out, "[Partition]\nHousekeeping=%s\n", hk);
        if (c->cpu_dma_latency_us >= 0)
                g_string_append_printf(out, "CpuDmaLatencyUs=%d\n", c->cpu_dma_latency_us);
        if (c->audio_paths[0]) {
                g_autofree char *paths = escaped_list(c->audio_paths);
                g_string_append_printf(out, "AudioPaths=%s\n", paths);
        }
        for (unsigned i = 0; i < c->groups->len; i++) {
                const GroupConfig *g = c->groups->pdata[i];
                g_autofree char *cpus = cpumask_format_list(&g->cpus);
                g_autofree char *slice = escaped(g->slice);
                g_string_append_printf(out, "\n[Group %s]\nCPUs=%s\nSlice=%s\n", g->name, cpus, slice);
                /* Always, even empty: an empty Match= overrides a default group's. */
                g_autofree char *m = g->match[0] ? escaped_list(g->match) : g_strdup("");
                g_string_append_printf(out, "Match=%s\n", m);
                if (g->users[0]) {
                        g_autofree char *u = escaped_list(g->users);
                        g_string_append_printf(out, "User=%s\n", u);
                }
                if (g->units[0]) {
                        g_autofree char *u = escaped_list(g->units);
                        g_string_append_printf(out, "Unit=%s\n", u);
                }
                if (g->sched_policy != SCHED_POLICY_UNSET)
                        g_string_append_printf(out, "SchedPolicy=%s\n", sched_policy_to_string(g->sched_policy));
                if (g->sched_priority > 0)
                        g_string_append_printf(out, "SchedPriority=%d\n", g->sched_priority);
                if (g->partition_isolated)
                        g_string_append(out, "Partition=isolated\n");
                g_string_append_printf(out, "Governor=%s\n", g->governor ? g->governor : "keep");
        }
        for (unsigned i = 0; i < c->irq_rules->len; i++) {
                const IrqRule *r = c->irq_rules->pdata[i];
                g_autofree char *m = escaped_list(r->match);
                g_autofree char *cpus = r->group ? g_strdup(r->group) : cpumask_format_list(&r->cpus);
                g_string_append_printf(out, "\n[Irq %s]\nMatch=%s\nCPUs=%s\n", r->name, m, cpus);
                if (r->thread_priority > 0)
                        g_string_append_printf(out, "ThreadPriority=%d\n", r->thread_priority);
        }
        g_autofree char *rps = net_cpus_text(c->network.rps_mode, &c->network.rps);
        g_autofree char *xps = net_cpus_text(c->network.xps_mode, &c->network.xps);
        g_string_append_printf(out, "\n[Network]\nRpsCpus=%s\nXpsCpus=%s\n", rps, xps);
        g_string_append_printf(out, "\n[Sampler]\nEnabled=%s\nIntervalUs=%u\nThresholdUs=%u\n",
                               c->sampler.enabled ? "true" : "false", c->sampler.interval_us,
                               c->sampler.threshold_us);
        if (c->sampler.has_cpus) {
                g_autofree char *cpus = cpumask_format_list(&c->sampler.cpus);
                g_string_append_printf(out, "CPUs=%s\n", cpus);
        }
        g_string_append_printf(out, "Priority=%u\nPmQos=%s\nHistogramMaxUs=%u\n", c->sampler.priority,
                               c->sampler.pm_qos ? "true" : "false", c->sampler.hist_max_us);
        g_string_append_printf(out, "\n[Daemon]\nVerifyIntervalSec=%u\nUdevMonitor=%s\nCgroupBackend=%s\n"
                               "SystemdAddress=%s\nRestoreOnExit=%s\nDriftBurst=%u\nIrqBalance=%s\n",
                               c->daemon.verify_interval_sec, c->daemon.udev_monitor,
                               cgroup_backend_to_string(c->daemon.cgroup_backend), c->daemon.systemd_address,
                               c->daemon.restore_on_exit ? "true" : "false", c->daemon.drift_burst,
                               irqbalance_mode_to_string(c->daemon.irqbalance));
        g_string_append_printf(out, "\n[Metrics]\nTextfileDir=%s\nIntervalSec=%u\n",
                               c->metrics.textfile_dir ? c->metrics.textfile_dir : "", c->metrics.interval_sec);
        return g_string_free(out, false);
}
