/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "base/error.h"
#include "model/kconfig.h"
#include "base/macro.h"

/* HZ is not a bool: at least this much is "ok". The seed script patches in HZ_2000;
 * stock kernels stop at 1000. */
#define HZ_WANTED 1000

static const struct {
        const char *option;
        const char *want;
        bool required;
        const char *reason;
        const char *fragment; /* lines for kconfig_fragment() */
} kconfig_rules[] = {
        { "PREEMPT_RT", "y", true,
          "a fully preemptible kernel: interrupt handlers run as threads and almost every section "
          "can be preempted, which bounds how long an audio thread waits for its CPU; distributions "
          "ship one (Debian: apt install linux-image-rt-amd64, or -rt-arm64), a build of your own takes "
          "isolatord --kconfig-fragment",
          "CONFIG_PREEMPT_RT=y\n" },
        /* Advice, not a requirement: an audio CPU under nohz_full that runs its one task has
         * its tick stopped, so HZ sets the timer granularity of housekeeping and of CPUs
         * that keep a tick. Debian's own RT kernel is HZ=250. */
        { "HZ", "1000", false,
          "the tick rate sets timer granularity on the CPUs that keep a tick (housekeeping; an audio "
          "CPU under nohz_full running one task has none); 1000 is the stock maximum, the seed's "
          "build script patches in 2000",
          "# HZ_2000 needs the seed script's kernel/Kconfig.hz patch; without it use HZ_1000.\n"
          "CONFIG_HZ_2000=y\nCONFIG_HZ=2000\n" },
        { "NO_HZ_FULL", "y", true,
          "without it nohz_full= is ignored and the audio CPUs keep their periodic tick",
          "CONFIG_NO_HZ_FULL=y\n" },
        { "RCU_NOCB_CPU", "y", true,
          "without it rcu_nocbs= is ignored and RCU callbacks run on the audio CPUs",
          "CONFIG_RCU_NOCB_CPU=y\n" },
        { "RCU_BOOST", "y", true,
          "boosts preempted RCU readers so that grace periods, and memory reclaim behind them, "
          "do not stall under real-time threads",
          "CONFIG_RCU_BOOST=y\n" },
        { "HIGH_RES_TIMERS", "y", true,
          "without it timers and nanosleep are tick-granular: a 1 ms period wakes up to a tick late",
          "CONFIG_HIGH_RES_TIMERS=y\n" },
        { "CPUSETS", "y", true,
          "cgroup cpusets confine the slices to their CPUs (AllowedCPUs=)",
          "CONFIG_CPUSETS=y\n" },
        { "PROC_EVENTS", "y", true,
          "the proc connector tells isolatord the moment a process starts, so it is placed at once",
          "CONFIG_PROC_EVENTS=y\n" },
        { "DEBUG_INFO_NONE", "y", false,
          "debug information only makes the kernel and its modules bigger; the seed script builds without it",
          "CONFIG_DEBUG_INFO_NONE=y\n# CONFIG_DEBUG_INFO_DWARF5 is not set\n# CONFIG_DEBUG_INFO_BTF is not set\n" },
};

GHashTable *kconfig_parse(const char *text) {
        GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

        for (char **l = lines; *l; l++) {
                char *line = g_strstrip(*l);
                if (g_str_has_prefix(line, "CONFIG_")) {
                        char *eq = strchr(line, '=');
                        if (!eq || eq == line + 7)
                                continue;
                        char *value = eq + 1;
                        size_t vlen = strlen(value);
                        /* Strings are quoted in .config; store them bare. */
                        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
                                value[vlen - 1] = '\0';
                                value++;
                        }
                        g_hash_table_replace(h, g_strndup(line + 7, (size_t) (eq - line - 7)), g_strdup(value));
                } else if (g_str_has_prefix(line, "# CONFIG_") && g_str_has_suffix(line, " is not set")) {
                        size_t len = strlen(line) - strlen("# CONFIG_") - strlen(" is not set");
                        if (len > 0)
                                g_hash_table_replace(h, g_strndup(line + 9, len), g_strdup("n"));
                }
        }
        return h;
}

static int read_gzip(const char *path, char **out) {
        gzFile f = gzopen(path, "rb");
        GString *buf;
        char chunk[16384];
        int n;

        if (!f)
                return errno ? -errno : -ENOMEM;
        buf = g_string_new(NULL);
        while ((n = gzread(f, chunk, sizeof chunk)) > 0)
                g_string_append_len(buf, chunk, n);
        if (n < 0) {
                gzclose(f);
                g_string_free(buf, true);
                return -EBADMSG;
        }
        gzclose(f);
        *out = g_string_free(buf, false);
        return 0;
}

int kconfig_load(const Root *root, GHashTable **out, char **source, GError **error) {
        g_autofree char *gz = root_path(root, "proc/config.gz");
        g_autofree char *release = NULL;
        g_autofree char *text = NULL;
        g_autofree char *boot_rel = NULL;
        int r;

        assert(out);

        r = read_gzip(gz, &text);
        if (r >= 0) {
                *out = kconfig_parse(text);
                if (source)
                        *source = g_steal_pointer(&gz);
                return 0;
        }
        if (r != -ENOENT) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot read %s: %s", gz, g_strerror(-r));
                return r;
        }

        r = root_read_line(root, "proc/sys/kernel/osrelease", &release);
        if (r >= 0) {
                boot_rel = g_strdup_printf("boot/config-%s", g_strstrip(release));
                r = root_read(root, boot_rel, &text, NULL);
                if (r >= 0) {
                        *out = kconfig_parse(text);
                        if (source)
                                *source = root_path(root, boot_rel);
                        return 0;
                }
        }
        g_autofree char *boot = root_path(root, boot_rel ? boot_rel : "boot/config-RELEASE");
        g_set_error(error, ISO_ERROR, ISO_ERROR_NOT_FOUND,
                    "no kernel configuration found: neither %s (CONFIG_IKCONFIG_PROC, try modprobe configs) nor %s exists",
                    gz, boot);
        return -ENOENT;
}

GPtrArray *kconfig_audit(GHashTable *kconfig) {
        GPtrArray *items = g_ptr_array_new_with_free_func((GDestroyNotify) audit_item_free);

        for (size_t i = 0; i < G_N_ELEMENTS(kconfig_rules); i++) {
                AuditItem *it = audit_item_new(kconfig_rules[i].option, kconfig_rules[i].want,
                                               kconfig_rules[i].required, kconfig_rules[i].reason);
                const char *have = g_hash_table_lookup(kconfig, kconfig_rules[i].option);

                it->actual = g_strdup(have && g_str_equal(have, "n") ? "not set" : have);
                if (g_str_equal(it->name, "HZ")) {
                        guint64 hz;
                        if (!have)
                                it->state = AUDIT_MISSING;
                        else if (g_ascii_string_to_unsigned(have, 10, 1, 100000, &hz, NULL) && hz >= HZ_WANTED)
                                it->state = AUDIT_OK;
                        else
                                it->state = AUDIT_DIFFERENT;
                        g_free(it->expected);
                        it->expected = g_strdup_printf(">=%d", HZ_WANTED);
                } else if (!have || g_str_equal(have, "n")) {
                        it->state = AUDIT_MISSING;
                } else {
                        it->state = g_str_equal(have, kconfig_rules[i].want) ? AUDIT_OK : AUDIT_DIFFERENT;
                }
                g_ptr_array_add(items, it);
        }
        return items;
}

char *kconfig_fragment(void) {
        GString *out = g_string_new(
                "# Real-time options for an audio kernel, as isolatord audits them and the seed\n"
                "# build script sets them. Merge with scripts/kconfig/merge_config.sh .config FILE\n"
                "# or apply each line with scripts/config.\n");
        for (size_t i = 0; i < G_N_ELEMENTS(kconfig_rules); i++)
                g_string_append(out, kconfig_rules[i].fragment);
        return g_string_free(out, false);
}
