/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "model/cpumask.h"

typedef enum SchedPolicy {
        SCHED_POLICY_UNSET,
        SCHED_POLICY_OTHER,
        SCHED_POLICY_FIFO,
        SCHED_POLICY_RR,
        SCHED_POLICY_KEEP,          /* the application's own: isolatord writes none */
} SchedPolicy;

typedef struct GroupConfig {
        char *name;
        CpuMask cpus;
        char *slice;
        char **match;               /* globs on a trusted executable's path or file name; may be empty */
        char **users;               /* User=: names or uids whose processes may be placed; empty: any */
        char **units;               /* Unit=: systemd units whose processes belong to the group */
        SchedPolicy sched_policy;
        int sched_priority;         /* 1-99 with fifo/rr, 0 otherwise */
        bool partition_isolated;    /* Partition=isolated: cpuset.cpus.partition of the slice */
        char *governor;             /* scaling_governor of the group's CPUs; NULL: leave it */
} GroupConfig;

/* [Irq NAME]: IRQs whose action names match go to CPUs other than housekeeping. */
typedef struct IrqRule {
        char *name;
        char **match;               /* globs on the IRQ's action names */
        char **drivers;             /* Driver=: kernel drivers of devices the IRQ serves */
        bool housekeeping;          /* CPUs=housekeeping: the partition's, whatever it becomes */
        char *group;                /* CPUs= named a group: its CPUs, whatever they become */
        CpuMask cpus;                /* CPUs= was a CPU list */
        int thread_priority;        /* 1-99: SCHED_FIFO of the irq/N-name thread; 0 leaves it */
} IrqRule;

/* [Thread NAME]: threads of a group's processes, told by the name the program gives each
 * (its comm), get CPUs and scheduling of their own within the group's. The first rule of
 * the group that matches wins; a thread no rule matches gets the group's. */
typedef struct ThreadRule {
        char *name;
        char *group;                /* the group whose processes' threads it concerns */
        char **match;               /* globs on the thread's comm */
        bool has_cpus;              /* CPUs= given (a subset of the group's); else the group's */
        CpuMask cpus;
        SchedPolicy sched_policy;   /* SCHED_POLICY_UNSET: the group's */
        int sched_priority;         /* 1-99 with fifo/rr, at most the group's */
} ThreadRule;

/* [Network] RpsCpus= / XpsCpus=: the CPUs that steer receive and transmit work. */
typedef enum NetCpusMode {
        NET_CPUS_HOUSEKEEPING,      /* the default */
        NET_CPUS_KEEP,              /* leave the kernel's value alone */
        NET_CPUS_LIST,
} NetCpusMode;

typedef struct NetworkConfig {
        NetCpusMode rps_mode, xps_mode;
        CpuMask rps, xps;
} NetworkConfig;

/* [Sampler] Source=: who measures. The kernel's timerlat tracer (its own per-CPU
 * threads, IRQ and thread latency apart, as rtla reports them) where the kernel has it,
 * or isolatord's threads (as cyclictest). */
typedef enum SamplerSource {
        SAMPLER_SOURCE_AUTO,        /* timerlat where tracefs offers it, else the threads */
        SAMPLER_SOURCE_TIMERLAT,    /* timerlat only: not measured where the kernel lacks it */
        SAMPLER_SOURCE_THREAD,
} SamplerSource;

typedef struct SamplerConfig {
        bool enabled;
        SamplerSource source;
        unsigned interval_us;
        unsigned threshold_us;
        bool has_cpus;              /* CPUs= given; else every group CPU */
        CpuMask cpus;
        unsigned priority;          /* SCHED_FIFO of the sampler threads */
        bool pm_qos;
        unsigned hist_max_us;
} SamplerConfig;

typedef enum CgroupBackend {
        CGROUP_BACKEND_AUTO,        /* cgroupfs-v1 when v2 has no cpuset controller and a v1 cpuset
                                     * hierarchy is mounted; else systemd when its manager answers
                                     * (and the root is /); else cgroupfs */
        CGROUP_BACKEND_SYSTEMD,
        CGROUP_BACKEND_CGROUPFS,
        CGROUP_BACKEND_CGROUPFS_V1, /* the v1 cpuset hierarchy at sys/fs/cgroup/cpuset, written directly */
} CgroupBackend;

/* [Daemon] IrqBalance=: what isolatord does about an irqbalance that would move IRQs onto
 * the audio CPUs. */
typedef enum IrqBalanceMode {
        IRQBALANCE_BAN,             /* write its banned CPU list (/etc/default/irqbalance), restart it */
        IRQBALANCE_STOP,            /* stop irqbalance.service while the partition is applied */
        IRQBALANCE_LEAVE,           /* only report it */
} IrqBalanceMode;

/* [Daemon] StarvationGuard=: whether threads starving on the audio CPUs are boosted. */
typedef enum StarvationGuardMode {
        STARVATION_GUARD_AUTO,      /* while a group runs real-time and stalld does not */
        STARVATION_GUARD_ON,        /* while the partition is applied, whatever the groups */
        STARVATION_GUARD_OFF,
} StarvationGuardMode;

typedef struct DaemonConfig {
        unsigned verify_interval_sec;
        char *udev_monitor;         /* "auto", "udev" or "kernel" */
        CgroupBackend cgroup_backend;
        char *systemd_address;      /* the manager's private bus */
        bool restore_on_exit;
        unsigned drift_burst;       /* corrections of one unit within 10 s before backing off */
        IrqBalanceMode irqbalance;
        StarvationGuardMode starvation_guard;
        unsigned starvation_sec;    /* runnable without running this long: starving */
} DaemonConfig;

/* [Metrics]: the Prometheus text file node-exporter's textfile collector reads. */
typedef struct MetricsConfig {
        char *textfile_dir;         /* absolute; NULL or "": no file */
        unsigned interval_sec;      /* how often it is written */
} MetricsConfig;

/* Immutable once loaded: a reload builds a new Config and swaps it only when valid. */
typedef struct Config {
        CpuMask housekeeping;
        int cpu_dma_latency_us;     /* [Partition] CpuDmaLatencyUs=: held while running; -1: off */
        char **audio_paths;         /* [Partition] AudioPaths=: where the music is read from (checked, never written) */
        GPtrArray *groups;          /* GroupConfig*, in the order of the files */
        GPtrArray *irq_rules;       /* IrqRule*, in the order of the files: the first match wins */
        GPtrArray *thread_rules;    /* ThreadRule*, in the order of the files: the first match wins */
        SamplerConfig sampler;
        DaemonConfig daemon;
        NetworkConfig network;
        MetricsConfig metrics;
        char **sources;             /* the files read, in order; empty for the defaults */
} Config;

/* A Config with no groups and zeroed settings, to be filled by a planner. */
Config *config_new_empty(void);
void config_free(Config *c);
Config *config_copy(const Config *c);
GroupConfig *group_config_copy(const GroupConfig *g);
void group_config_free(GroupConfig *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Config, config_free)

/* The seed's partition: housekeeping 0,8, diretta 1-2,9-10, hqplayer 3-7,11-15. */
Config *config_new_default(void);

/* Reads FILE, then FILE.d/ *.conf in name order; a later file overrides single keys of an
 * earlier one. A missing FILE is an error only with must_exist. Keys not given keep the
 * defaults; when no file declares a [Group ...], the default groups are kept. Errors
 * (ISO_ERROR_INVALID_CONFIG, ISO_ERROR_INVALID_CPU_LIST) name the file, section and key. */
int config_load(const char *path, bool must_exist, Config **out, GError **error);
/* The same rules for one text; name is used in messages. */
int config_load_data(const char *data, const char *name, Config **out, GError **error);
/* The same for len bytes, which may hold NUL (an error naming its line, as invalid UTF-8 is). */
int config_load_bytes(const char *data, size_t len, const char *name, Config **out, GError **error);

const GroupConfig *config_find_group(const Config *c, const char *name);
/* The CPUs a rule sends its IRQs to: housekeeping, its group's, or its own list. */
const CpuMask *config_irq_rule_cpus(const Config *c, const IrqRule *rule);
/* The first rule of group that matches a thread named comm, or NULL. */
const ThreadRule *config_thread_rule_match(const Config *c, const char *group, const char *comm);
/* Whether any rule concerns group's threads. */
bool config_group_has_thread_rules(const Config *c, const char *group);
/* NULL when rule stays within its group (CPUs a subset of the group's, no real-time the
 * group does not give, no priority above the group's); else why not (g_free), and in
 * *key the key at fault. */
char *config_thread_rule_check(const Config *c, const ThreadRule *rule, const char **key);
/* Every Driver= of the IRQ rules, each once (NULL-terminated; empty when none). */
char **config_irq_drivers(const Config *c);
/* Whether s is a kernel driver's name as Driver= takes it. */
bool config_driver_name_valid(const char *s);
/* The CPUs for RPS (rps true) or XPS queues, or NULL to leave them alone. */
const CpuMask *config_net_cpus(const Config *c, bool rps);
/* Every group's CPUs together: what the boot parameters isolate. */
void config_isolated_cpus(const Config *c, CpuMask *out);

/* A systemd unit name isolatord takes (Unit=, a saved unit): letters, digits, ":-_.\\@",
 * ending in .service, .scope, .socket or .slice. */
bool config_unit_name_valid(const char *unit);
const char *sched_policy_to_string(SchedPolicy p);
const char *cgroup_backend_to_string(CgroupBackend b);
const char *sampler_source_to_string(SamplerSource s);
const char *irqbalance_mode_to_string(IrqBalanceMode m);
const char *starvation_guard_to_string(StarvationGuardMode m);
/* A config file that loads back into an equal Config; header is written as comments. */
char *config_to_text(const Config *c, const char *header);
