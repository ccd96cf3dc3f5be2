/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <ctype.h>
#include <string.h>

#include "model/bootparams.h"
#include "base/macro.h"

typedef enum ValueKind {
        VALUE_FLAG,     /* present or not */
        VALUE_STRING,   /* compared as text */
        VALUE_CPULIST,  /* compared as a set of CPUs */
        VALUE_ISOLCPUS, /* flags,cpulist */
} ValueKind;

/* What isolatord asks of the command line. The CPU lists come from the partition. */
typedef enum CpusFrom { CPUS_NONE, CPUS_ISOLATED, CPUS_HOUSEKEEPING } CpusFrom;

static const struct {
        const char *key;
        ValueKind kind;
        CpusFrom cpus;
        const char *value; /* fixed value, or flags before the CPU list for isolcpus */
        bool required;
        const char *reason;
} boot_rules[] = {
        { "isolcpus", VALUE_ISOLCPUS, CPUS_ISOLATED, "managed_irq,domain", true,
          "takes the audio CPUs out of scheduler load balancing and keeps managed IRQs off them" },
        { "nohz_full", VALUE_CPULIST, CPUS_ISOLATED, NULL, true,
          "stops the periodic tick on an audio CPU that runs a single task" },
        { "rcu_nocbs", VALUE_CPULIST, CPUS_ISOLATED, NULL, true,
          "moves RCU callbacks off the audio CPUs onto housekeeping" },
        { "irqaffinity", VALUE_CPULIST, CPUS_HOUSEKEEPING, NULL, true,
          "IRQs start on housekeeping from boot, before isolatord runs" },
        { "kthread_cpus", VALUE_CPULIST, CPUS_HOUSEKEEPING, NULL, true,
          "kernel threads start on housekeeping" },
        { "skew_tick", VALUE_STRING, CPUS_NONE, "1", true,
          "offsets the per-CPU ticks so they do not contend for the same locks at once" },
        { "nosoftlockup", VALUE_FLAG, CPUS_NONE, NULL, true,
          "a real-time thread that holds its CPU is not a lockup; no watchdog wakeups" },
        { "nohz", VALUE_STRING, CPUS_NONE, "on", false,
          "tickless idle, the default; the seed guide sets it explicitly" },
        { "rcu_nocb_poll", VALUE_FLAG, CPUS_NONE, NULL, false,
          "the offloaded RCU threads poll instead of being woken from the audio CPUs" },
        { "nmi_watchdog", VALUE_STRING, CPUS_NONE, "0", false,
          "no periodic NMI on every CPU" },
        { "nowatchdog", VALUE_FLAG, CPUS_NONE, NULL, false,
          "no lockup-detector timers on the audio CPUs" },
        { "audit", VALUE_STRING, CPUS_NONE, "0", false,
          "no audit records on every system call (the seed guide's setting)" },
};

GPtrArray *bootparams_plan(const Config *c) {
        GPtrArray *items = g_ptr_array_new_with_free_func((GDestroyNotify) audit_item_free);
        g_autofree char *hk = cpumask_format_list(&c->housekeeping);
        g_autofree char *iso = NULL;
        CpuMask isolated;

        config_isolated_cpus(c, &isolated);
        iso = cpumask_format_list(&isolated);

        for (size_t i = 0; i < G_N_ELEMENTS(boot_rules); i++) {
                g_autofree char *value = NULL;
                switch (boot_rules[i].cpus) {
                case CPUS_ISOLATED:
                        if (cpumask_is_empty(&isolated))
                                continue; /* nothing to isolate */
                        value = boot_rules[i].value ? g_strconcat(boot_rules[i].value, ",", iso, NULL) : g_strdup(iso);
                        break;
                case CPUS_HOUSEKEEPING:
                        value = g_strdup(hk);
                        break;
                case CPUS_NONE:
                        value = g_strdup(boot_rules[i].value);
                        break;
                }
                g_ptr_array_add(items, audit_item_new(boot_rules[i].key, value, boot_rules[i].required,
                                                      boot_rules[i].reason));
        }
        return items;
}

char **bootparams_tokenize(const char *cmdline) {
        GPtrArray *tokens = g_ptr_array_new();
        const char *p = cmdline;

        for (;;) {
                GString *tok;
                bool quoted = false;

                while (*p && isspace((unsigned char) *p))
                        p++;
                if (!*p)
                        break;
                tok = g_string_new(NULL);
                for (; *p && (quoted || !isspace((unsigned char) *p)); p++) {
                        if (*p == '"')
                                quoted = !quoted;
                        else
                                g_string_append_c(tok, *p);
                }
                if (g_str_equal(tok->str, "--")) {
                        /* What follows goes to init, not to the kernel. */
                        g_string_free(tok, true);
                        break;
                }
                g_ptr_array_add(tokens, g_string_free(tok, false));
        }
        g_ptr_array_add(tokens, NULL);
        return (char **) g_ptr_array_free(tokens, false);
}

/* isolcpus=[flag,...,]cpulist: the flags are the leading non-numeric elements. With
 * no flag the kernel implies "domain". */
static bool split_isolcpus(const char *value, GPtrArray *flags, CpuMask *cpus) {
        g_auto(GStrv) parts = g_strsplit(value, ",", -1);
        g_autoptr(GString) list = g_string_new(NULL);

        for (char **p = parts; *p; p++) {
                if (list->len == 0 && **p && !isdigit((unsigned char) **p)) {
                        g_ptr_array_add(flags, g_strdup(*p));
                        continue;
                }
                g_string_append_printf(list, "%s%s", list->len ? "," : "", *p);
        }
        if (flags->len == 0)
                g_ptr_array_add(flags, g_strdup("domain"));
        return cpumask_parse_list(list->str, cpus, NULL) >= 0;
}

static bool isolcpus_equal(const char *want, const char *have) {
        g_autoptr(GPtrArray) wf = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) hf = g_ptr_array_new_with_free_func(g_free);
        CpuMask wc, hc;

        if (!split_isolcpus(want, wf, &wc) || !split_isolcpus(have, hf, &hc))
                return false;
        if (!cpumask_equal(&wc, &hc) || wf->len != hf->len)
                return false;
        for (unsigned i = 0; i < wf->len; i++)
                if (!g_ptr_array_find_with_equal_func(hf, wf->pdata[i], g_str_equal, NULL))
                        return false;
        return true;
}

static bool value_equal(ValueKind kind, const char *want, const char *have) {
        CpuMask a, b;

        switch (kind) {
        case VALUE_FLAG:
                return true;
        case VALUE_STRING:
                return have && g_str_equal(want, have);
        case VALUE_CPULIST:
                return have && cpumask_parse_list(want, &a, NULL) >= 0 &&
                       cpumask_parse_list(have, &b, NULL) >= 0 && cpumask_equal(&a, &b);
        case VALUE_ISOLCPUS:
                return have && isolcpus_equal(want, have);
        }
        return false;
}

/* The kernel's isolcpus= flags (kernel/sched/isolation.c). */
static const char *const isolcpus_flags[] = { "nohz", "domain", "managed_irq", NULL };

bool bootparams_valid(const char *key, const char *value, char **why) {
        g_autoptr(GPtrArray) flags = NULL;
        CpuMask cpus;
        size_t i;

        assert(key);
        for (i = 0; i < G_N_ELEMENTS(boot_rules); i++)
                if (g_str_equal(boot_rules[i].key, key))
                        break;
        if (i == G_N_ELEMENTS(boot_rules)) {
                *why = g_strdup_printf("\"%s\" is not a parameter isolatord plans", key);
                return false;
        }
        if (boot_rules[i].kind == VALUE_FLAG) {
                if (value) {
                        *why = g_strdup_printf("%s is a flag and takes no value", key);
                        return false;
                }
                return true;
        }
        if (!value || !*value) {
                *why = g_strdup_printf("%s needs a value", key);
                return false;
        }
        switch (boot_rules[i].kind) {
        case VALUE_STRING:
                if (!g_str_equal(value, boot_rules[i].value)) {
                        *why = g_strdup_printf("%s=%s: isolatord only ever sets %s=%s", key, value, key, boot_rules[i].value);
                        return false;
                }
                return true;
        case VALUE_CPULIST:
                if (cpumask_parse_list(value, &cpus, NULL) < 0 || cpumask_is_empty(&cpus)) {
                        *why = g_strdup_printf("%s=%s: not a CPU list", key, value);
                        return false;
                }
                return true;
        case VALUE_ISOLCPUS:
                flags = g_ptr_array_new_with_free_func(g_free);
                if (strstr(value, ",,") || value[0] == ',' || g_str_has_suffix(value, ",") ||
                    !split_isolcpus(value, flags, &cpus) || cpumask_is_empty(&cpus)) {
                        *why = g_strdup_printf("%s=%s: not flags and a CPU list", key, value);
                        return false;
                }
                for (unsigned f = 0; f < flags->len; f++)
                        if (!g_strv_contains(isolcpus_flags, flags->pdata[f])) {
                                *why = g_strdup_printf("%s=%s: \"%s\" is not a flag of isolcpus=", key, value,
                                                       (char *) flags->pdata[f]);
                                return false;
                        }
                return true;
        case VALUE_FLAG:
                break;
        }
        return true;
}

static ValueKind kind_of(const char *key) {
        for (size_t i = 0; i < G_N_ELEMENTS(boot_rules); i++)
                if (g_str_equal(boot_rules[i].key, key))
                        return boot_rules[i].kind;
        return VALUE_STRING;
}

void bootparams_compare(GPtrArray *items, const char *cmdline) {
        g_auto(GStrv) tokens = bootparams_tokenize(cmdline);

        for (unsigned i = 0; i < items->len; i++) {
                AuditItem *it = items->pdata[i];
                size_t klen = strlen(it->name);
                const char *found = NULL;
                bool present = false;

                for (char **t = tokens; *t; t++) {
                        if (strncmp(*t, it->name, klen) != 0)
                                continue;
                        if ((*t)[klen] == '\0') {
                                present = true;
                                found = NULL;
                        } else if ((*t)[klen] == '=') {
                                present = true;
                                found = *t + klen + 1;
                        }
                }
                g_free(it->actual);
                it->actual = present ? g_strdup(found ? found : "") : NULL;
                if (!present)
                        it->state = AUDIT_MISSING;
                else if (!it->expected || value_equal(kind_of(it->name), it->expected, found))
                        it->state = AUDIT_OK;
                else
                        it->state = AUDIT_DIFFERENT;
        }
}

GPtrArray *bootparams_compare_live(const Config *c, const Root *root) {
        GPtrArray *items = g_ptr_array_new_with_free_func((GDestroyNotify) audit_item_free);
        static const struct {
                const char *file;
                const char *name;
                const char *reason;
        } live[] = {
                { "sys/devices/system/cpu/isolated", "isolated (running kernel)",
                  "the CPUs the running kernel took out of load balancing (isolcpus=)" },
                { "sys/devices/system/cpu/nohz_full", "nohz_full (running kernel)",
                  "the CPUs the running kernel runs tickless (nohz_full=); a CPU it refused is missing here" },
        };
        CpuMask isolated;
        g_autofree char *want = NULL;

        config_isolated_cpus(c, &isolated);
        want = cpumask_format_list(&isolated);
        for (size_t i = 0; i < G_N_ELEMENTS(live); i++) {
                AuditItem *it = audit_item_new(live[i].name, want, true, live[i].reason);
                CpuMask have;
                if (root_read_cpulist(root, live[i].file, &have) < 0) {
                        it->state = AUDIT_MISSING;
                } else {
                        it->actual = cpumask_format_list(&have);
                        it->state = cpumask_equal(&have, &isolated) ? AUDIT_OK
                                    : cpumask_is_empty(&have) ? AUDIT_MISSING : AUDIT_DIFFERENT;
                }
                g_ptr_array_add(items, it);
        }
        return items;
}

char *bootparams_line(const GPtrArray *items, bool include_recommended) {
        GString *line = g_string_new(NULL);

        for (unsigned i = 0; i < items->len; i++) {
                const AuditItem *it = items->pdata[i];
                if (!include_recommended && !it->required)
                        continue;
                g_string_append_printf(line, "%s%s%s%s", line->len ? " " : "", it->name,
                                       it->expected ? "=" : "", it->expected ? it->expected : "");
        }
        return g_string_free(line, false);
}
