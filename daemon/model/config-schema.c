/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a configuration file may say: the built-in defaults, the sections and their keys
 * with what each means, the words an enumerated key takes, and which single values are
 * valid. Nothing here reads a file: config-source.c merges the files, config-parse.c reads
 * the values. */
#include <string.h>

#include "model/config-private.h"

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
        "Source=auto\n"
        "IntervalUs=1000\n"
        "ThresholdUs=50\n"
        "Priority=98\n"
        "PmQos=false\n"
        "HistogramMaxUs=1000\n"
        "\n"
        "[Daemon]\n"
        "VerifyIntervalSec=30\n"
        "UdevMonitor=auto\n"
        "CgroupBackend=auto\n"
        "SystemdAddress=unix:path=/run/systemd/private\n"
        "RestoreOnExit=false\n"
        "DriftBurst=5\n"
        "IrqBalance=ban\n"
        "StarvationGuard=auto\n"
        "StarvationSec=5\n"
        "\n"
        "[Metrics]\n"
        "TextfileDir=\n"
        "IntervalSec=15\n";

typedef struct ConfigKey {
        const char *section;        /* "Group NAME": every [Group x]; "Irq NAME": every [Irq x] */
        const char *key;
        const char *meaning;
} ConfigKey;

/* Every key a file may hold, section by section, in the order messages list them. Adding a
 * key is a row here, its default above when it has one, and its reading in config-parse.c;
 * isolatord.conf(5) says the rest. */
static const ConfigKey config_keys[] = {
        { "Partition",  "Housekeeping",      "CPUs of IRQs, system services, unbound kernel threads, isolatord" },
        { "Partition",  "CpuDmaLatencyUs",   "/dev/cpu_dma_latency held at this while running; unset: off" },
        { "Partition",  "AudioPaths",        "where the music is read from: checked, never written" },
        { "Group NAME", "CPUs",              "the group's CPUs, apart from housekeeping and the other groups" },
        { "Group NAME", "Slice",             "its systemd slice; NAME.slice when unset" },
        { "Group NAME", "Match",             "globs on a trusted executable's path or file name" },
        { "Group NAME", "User",              "names or uids Match= and Unit= are limited to; empty: any user" },
        { "Group NAME", "Unit",              "system units whose processes belong to the group" },
        { "Group NAME", "SchedPolicy",       "other, fifo or rr for the group's threads; keep leaves each thread's own" },
        { "Group NAME", "SchedPriority",     "1-99, with fifo or rr only" },
        { "Group NAME", "Partition",         "member, or isolated: the slice an isolated cpuset partition" },
        { "Group NAME", "Governor",          "cpufreq governor of the group's CPUs; keep leaves it" },
        { "Irq NAME",   "Match",             "globs on the names of an IRQ's handlers; the first rule wins" },
        { "Irq NAME",   "Driver",            "drivers (snd-usb-audio): the IRQs of the controllers that carry their devices" },
        { "Irq NAME",   "CPUs",              "housekeeping, a group's name (its CPUs, as they change) or a CPU list" },
        { "Irq NAME",   "ThreadPriority",    "SCHED_FIFO priority of the IRQ's thread; unset: left alone" },
        { "Thread NAME", "Group",            "the group whose processes' threads the rule concerns" },
        { "Thread NAME", "Match",            "globs on the thread's name (comm) as the program sets it; the first rule wins" },
        { "Thread NAME", "CPUs",             "a subset of the group's CPUs; the group's when unset" },
        { "Thread NAME", "SchedPolicy",      "other, fifo or rr, within the group's; the group's when unset" },
        { "Thread NAME", "SchedPriority",    "1-99 with fifo or rr, at most the group's" },
        { "Network",    "RpsCpus",           "receive packet steering: housekeeping, keep or a CPU list" },
        { "Network",    "XpsCpus",           "transmit packet steering: housekeeping, keep or a CPU list" },
        { "Sampler",    "Enabled",           "measure the wake-up latency of the group CPUs" },
        { "Sampler",    "Source",            "who measures: auto, timerlat (the kernel's tracer), thread" },
        { "Sampler",    "IntervalUs",        "how often each sampler thread wakes" },
        { "Sampler",    "ThresholdUs",       "the latency above which a sample is reported" },
        { "Sampler",    "CPUs",              "the CPUs measured; every group CPU when unset" },
        { "Sampler",    "Priority",          "SCHED_FIFO priority of the sampler threads" },
        { "Sampler",    "PmQos",             "hold /dev/cpu_dma_latency at 0 while sampling" },
        { "Sampler",    "HistogramMaxUs",    "1 us buckets below this; a slower wake-up is an overflow" },
        { "Daemon",     "VerifyIntervalSec", "the full verify that catches what no event announces" },
        { "Daemon",     "UdevMonitor",       "where device events come from: auto, udev or kernel" },
        { "Daemon",     "CgroupBackend",     "who sets the slices' CPUs: auto, systemd, cgroupfs, cgroupfs-v1" },
        { "Daemon",     "SystemdAddress",    "the system manager's private bus" },
        { "Daemon",     "RestoreOnExit",     "restore every original when isolatord stops" },
        { "Daemon",     "DriftBurst",        "corrections of one cpuset within 10 s before backing off" },
        { "Daemon",     "IrqBalance",        "an irqbalance that would move IRQs in: ban, stop or leave" },
        { "Daemon",     "StarvationGuard",   "boost threads starving on the audio CPUs: auto (a group runs real-time, no stalld), on, off" },
        /* 5 s: a thread runnable that long behind a real-time hog is starving, not waiting
         * out a burst; it is boosted well before RCU warns of a stall (21 s) or the kernel
         * of a hung task (120 s), and a boost costs the audio CPU only 20 us a second. */
        { "Daemon",     "StarvationSec",     "seconds runnable without running before a boost: under RCU's 21 s stall warning" },
        { "Metrics",    "TextfileDir",       "the folder isolatord.prom is written to; empty: no file" },
        { "Metrics",    "IntervalSec",       "how often that file is written" },
};

GKeyFile *config_defaults_keyfile(void) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) e = NULL;

        if (!g_key_file_load_from_data(kf, default_config, sizeof default_config - 1, G_KEY_FILE_NONE, &e))
                g_error("built-in configuration does not parse: %s", e->message);
        return g_steal_pointer(&kf);
}

/* [Group diretta] is a "Group NAME" section. */
static bool section_is(const char *section, const char *kind) {
        if (g_str_has_suffix(kind, " NAME"))
                return strncmp(section, kind, strlen(kind) - strlen("NAME")) == 0;
        return g_str_equal(section, kind);
}

/* The row of section's key; with key NULL, the section's first. */
static const ConfigKey *schema_find(const char *section, const char *key) {
        for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++)
                if (section_is(section, config_keys[i].section) && (!key || g_str_equal(key, config_keys[i].key)))
                        return &config_keys[i];
        return NULL;
}

bool config_section_known(const char *section) {
        return schema_find(section, NULL);
}

bool config_key_known(const char *section, const char *key) {
        return schema_find(section, key);
}

char *config_section_keys_text(const char *section) {
        GString *out = g_string_new(NULL);

        for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++)
                if (section_is(section, config_keys[i].section))
                        g_string_append_printf(out, "%s%s", out->len ? ", " : "", config_keys[i].key);
        return g_string_free(out, false);
}

static const char *const sched_policy_words[] = {
        [SCHED_POLICY_OTHER] = "other",
        [SCHED_POLICY_FIFO] = "fifo",
        [SCHED_POLICY_RR] = "rr",
        [SCHED_POLICY_KEEP] = "keep",
};
/* A thread rule sets a policy or leaves its group's: it has no keep of its own. */
static const char *const thread_sched_policy_words[] = {
        [SCHED_POLICY_OTHER] = "other",
        [SCHED_POLICY_FIFO] = "fifo",
        [SCHED_POLICY_RR] = "rr",
};
static const char *const partition_words[] = { [false] = "member", [true] = "isolated" };
static const char *const cgroup_backend_words[] = {
        [CGROUP_BACKEND_AUTO] = "auto",
        [CGROUP_BACKEND_SYSTEMD] = "systemd",
        [CGROUP_BACKEND_CGROUPFS] = "cgroupfs",
        [CGROUP_BACKEND_CGROUPFS_V1] = "cgroupfs-v1",
};
static const char *const sampler_source_words[] = {
        [SAMPLER_SOURCE_AUTO] = "auto",
        [SAMPLER_SOURCE_TIMERLAT] = "timerlat",
        [SAMPLER_SOURCE_THREAD] = "thread",
};
static const char *const irqbalance_words[] = {
        [IRQBALANCE_BAN] = "ban",
        [IRQBALANCE_STOP] = "stop",
        [IRQBALANCE_LEAVE] = "leave",
};
static const char *const udev_monitor_words[] = { "auto", "udev", "kernel" };
static const char *const starvation_guard_words[] = {
        [STARVATION_GUARD_AUTO] = "auto",
        [STARVATION_GUARD_ON] = "on",
        [STARVATION_GUARD_OFF] = "off",
};

#define WORDS(w) { w, G_N_ELEMENTS(w) }
const ConfigWords config_sched_policy_words = WORDS(sched_policy_words);
const ConfigWords config_thread_sched_policy_words = WORDS(thread_sched_policy_words);
const ConfigWords config_partition_words = WORDS(partition_words);
const ConfigWords config_cgroup_backend_words = WORDS(cgroup_backend_words);
const ConfigWords config_irqbalance_words = WORDS(irqbalance_words);
const ConfigWords config_sampler_source_words = WORDS(sampler_source_words);
const ConfigWords config_udev_monitor_words = WORDS(udev_monitor_words);
const ConfigWords config_starvation_guard_words = WORDS(starvation_guard_words);

int config_words_find(const ConfigWords *w, const char *word) {
        for (size_t i = 0; i < w->n; i++)
                if (w->words[i] && g_str_equal(w->words[i], word))
                        return (int) i;
        return -1;
}

char *config_words_text(const ConfigWords *w) {
        GString *out = g_string_new(NULL);

        for (size_t i = 0; i < w->n; i++)
                if (w->words[i])
                        g_string_append_printf(out, "%s%s", out->len ? ", " : "", w->words[i]);
        return g_string_free(out, false);
}

/* The word of value, or NULL. */
static const char *word_of(const ConfigWords *w, int value) {
        return value >= 0 && (size_t) value < w->n ? w->words[value] : NULL;
}

const char *sched_policy_to_string(SchedPolicy p) {
        return word_of(&config_sched_policy_words, p);
}

const char *irqbalance_mode_to_string(IrqBalanceMode m) {
        const char *w = word_of(&config_irqbalance_words, m);
        return w ? w : "ban";
}

const char *starvation_guard_to_string(StarvationGuardMode m) {
        const char *w = word_of(&config_starvation_guard_words, m);
        return w ? w : "auto";
}

const char *sampler_source_to_string(SamplerSource s) {
        const char *w = word_of(&config_sampler_source_words, s);
        return w ? w : "auto";
}

const char *cgroup_backend_to_string(CgroupBackend b) {
        const char *w = word_of(&config_cgroup_backend_words, b);
        return w ? w : "auto";
}

static bool name_chars_valid(const char *name) {
        for (const char *p = name; *p; p++)
                if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
                        return false;
        return true;
}

/* A group's or a rule's name. */
bool config_name_valid(const char *name) {
        size_t len = strlen(name);
        return len > 0 && len <= 64 && name_chars_valid(name);
}

bool config_group_name_valid(const char *name) {
        return config_name_valid(name) && !g_str_equal(name, "housekeeping");
}

/* As systemd takes a slice's name: '-' nests (a-b.slice is inside a.slice), so a name
 * that starts or ends with '-' or holds "--" names no slice, and "-.slice" is the root
 * slice itself, which no group may take. */
bool config_slice_name_valid(const char *slice) {
        size_t len = strlen(slice), stem = len - strlen(".slice");
        if (len <= strlen(".slice") || len > 255 || !g_str_has_suffix(slice, ".slice"))
                return false;
        for (const char *p = slice; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr(":-_.\\", *p))
                        return false;
        return slice[0] != '-' && slice[0] != '.' && slice[stem - 1] != '-' && !strstr(slice, "--");
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

/* A cpufreq governor's name, as in scaling_available_governors. */
bool config_governor_valid(const char *governor) {
        return name_chars_valid(governor);
}

bool config_text_has_control(const char *text) {
        for (const char *p = text; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

bool config_audio_path_valid(const char *path) {
        g_auto(GStrv) parts = NULL;
        if (path[0] != '/' || strlen(path) > 4096 || config_text_has_control(path))
                return false;
        parts = g_strsplit(path, "/", -1);
        for (char **e = parts; *e; e++)
                if (g_str_equal(*e, ".."))
                        return false;
        return true;
}
