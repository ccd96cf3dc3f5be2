/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "enforce/audits.h"
#include "enforce/enforcer.h"
#include "kernel/irq.h"
#include "base/log.h"
#include "base/text.h"

/* The audio community's checklist (rtcqs, realtimeconfigquickscan) that no other
 * enforcer already answers, evaluated for the workloads: the kernel's preemption model,
 * CPU side-channel mitigations, swapping, sound and USB IRQs that share a line, deep
 * idle states on the audio CPUs, and the file systems the music is read from. Read-only:
 * each is advice with its fix, because the partition holds without it. The rest of the
 * list lives where it is enforced: the governor (cpufreq), high-resolution timers and
 * NO_HZ_FULL (kernel-config), nohz_full (boot-parameter), the real-time limits of the
 * placed processes (workload). */

/* An idle state whose exit takes longer than this is "deep": C1 takes 1-2 us, C6 tens
 * to hundreds. */
#define DEEP_IDLE_US 20
/* The PM QoS request nobody holds (the kernel's PM_QOS_CPU_LATENCY_DEFAULT_VALUE). */
#define PM_QOS_DEFAULT_US 2000000000

static void add(GPtrArray *findings, const char *object, const char *expected, const char *found, const char *why) {
        g_ptr_array_add(findings, finding_new("checklist", object, expected, found, false, why));
}

/* rtcqs "Preempt RT": a PREEMPT_RT kernel, or at least threaded IRQs on a fully
 * preemptible one. The kernel-config audit asks for PREEMPT_RT; this says what a stock
 * kernel can do until then. */
static void check_preemption(const EnforcerContext *ctx, GPtrArray *findings) {
        const Audits *a = ctx->audits;
        const char *rt = audits_kconfig_value(a, "PREEMPT_RT");
        const char *threadirqs = audits_cmdline_value(a, "threadirqs");
        const char *preempt = audits_cmdline_value(a, "preempt");
        const char *full = audits_kconfig_value(a, "PREEMPT");
        g_autofree char *found = NULL;

        if (!a->kconfig || (rt && g_str_equal(rt, "y")))
                return; /* unknown (the kernel-config audit says why), or real-time */
        if (threadirqs && ((preempt && g_str_equal(preempt, "full")) || (full && g_str_equal(full, "y"))))
                return;
        found = g_strdup_printf("not PREEMPT_RT, preempt=%s, %s", preempt ? preempt : "(default)",
                                threadirqs ? "threadirqs" : "no threadirqs");
        add(findings, "preemption", "PREEMPT_RT, or threadirqs and preempt=full", found,
            "interrupt handlers that are not threads run before any audio thread, however high its priority "
            "(rtcqs: Preempt RT); fix: a PREEMPT_RT kernel, or boot with threadirqs preempt=full "
            "(a PREEMPT_DYNAMIC kernel such as Debian's)");
}

/* rtcqs "Spectre/Meltdown mitigations": advice, with its price. */
static void check_mitigations(const EnforcerContext *ctx, GPtrArray *findings) {
        const char *m = audits_cmdline_value(ctx->audits, "mitigations");
        if (m && g_str_equal(m, "off"))
                return;
        add(findings, "mitigations", "off", m ? m : "(absent: on)",
            "the CPU side-channel mitigations add to every kernel entry and context switch (rtcqs); fix: "
            "mitigations=off on the kernel command line, which reopens Spectre/Meltdown-class leaks between "
            "processes: only for a machine that runs no untrusted code (no browser)");
}

/* rtcqs "Swappiness": vm.swappiness <= 10, or no swap at all. */
static void check_swappiness(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autofree char *swaps = NULL;
        g_autofree char *found = NULL;
        long swappiness;
        unsigned devices = 0;

        if (root_read_int(ctx->root, "proc/sys/vm/swappiness", &swappiness) < 0 || swappiness <= 10)
                return;
        if (root_read(ctx->root, "proc/swaps", &swaps, NULL) >= 0) {
                g_auto(GStrv) lines = g_strsplit(swaps, "\n", -1);
                for (char **l = lines; *l; l++)
                        devices += l != lines && **l; /* the first line is the header */
        }
        if (devices == 0)
                return;
        found = g_strdup_printf("%ld, %u swap device%s", swappiness, devices, devices == 1 ? "" : "s");
        add(findings, "vm.swappiness", "<= 10, or no swap", found,
            "a swapped-out page of the player stalls it for a disk read (rtcqs: Swappiness); fix: "
            "vm.swappiness=10 in /etc/sysctl.d/, or swapoff -a");
}

static bool audio_action(const char *action) {
        return g_str_has_prefix(action, "snd_") || g_str_has_prefix(action, "xhci_hcd") ||
               g_str_has_prefix(action, "ehci_hcd");
}

static void add_shared(GPtrArray *findings, unsigned num, char **actions) {
        bool audio = false;
        for (char **a = actions; *a; a++)
                audio |= audio_action(*a);
        if (!audio || g_strv_length(actions) < 2)
                return;
        g_autofree char *object = g_strdup_printf("IRQ %u", num);
        g_autofree char *found = g_strjoinv(", ", actions);
        add(findings, object, "not shared", found,
            "a sound or USB audio interrupt shared with another device waits for that device's handler "
            "(rtcqs: IRQs); fix: move one of the devices to another slot or port, or use its MSI mode");
}

/* rtcqs "IRQs": a sound card's or USB controller's IRQ line shared with another device
 * runs the other's handler too. The IRQ enforcer's scan of the pass, when there was
 * one; else the rows of /proc/interrupts name the candidates and only their folders
 * are read. */
static void check_shared_irqs(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        if (ctx->inputs && ctx->inputs->irqs) {
                for (unsigned i = 0; i < ctx->inputs->irqs->len; i++) {
                        const Irq *irq = ctx->inputs->irqs->pdata[i];
                        add_shared(findings, irq->num, irq->actions);
                }
                return;
        }
        if (root_read(ctx->root, "proc/interrupts", &text, NULL) < 0)
                return;
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                guint64 num;
                char *colon = strchr(*l, ':');
                g_autofree char *head = NULL;
                if (!colon || (!strstr(*l, "snd_") && !strstr(*l, "xhci_hcd") && !strstr(*l, "ehci_hcd")))
                        continue;
                head = g_strstrip(g_strndup(*l, (gsize) (colon - *l)));
                if (!g_ascii_string_to_unsigned(head, 10, 0, UINT32_MAX, &num, NULL))
                        continue;
                g_auto(GStrv) actions = irq_read_actions(ctx->root, (unsigned) num);
                add_shared(findings, (unsigned) num, actions);
        }
}

/* The PM QoS target now: what /dev/cpu_dma_latency reads (an s32), or the default. */
static long pm_qos_target(const EnforcerContext *ctx) {
        g_autofree char *data = NULL;
        size_t len = 0;
        int32_t v;
        if (root_read(ctx->root, "dev/cpu_dma_latency", &data, &len) < 0 || len != sizeof v)
                return PM_QOS_DEFAULT_US;
        memcpy(&v, data, sizeof v);
        return v;
}

/* A CPU's idle states deeper than DEEP_IDLE_US: their exit latencies and names are the
 * driver's and do not change while the CPU stays online, so they are read once; only
 * whether each is disabled is read at every pass. */
typedef struct DeepState {
        unsigned index;
        long latency_us;
        char name[32];
} DeepState;

typedef struct ChecklistState {
        CpuMask online;          /* what the cache was read for */
        GHashTable *deep;        /* cpu + 1 -> GArray of DeepState */
} ChecklistState;

static void *checklist_state_new(void) {
        ChecklistState *s = g_new0(ChecklistState, 1);
        s->deep = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) g_array_unref);
        return s;
}

static void checklist_state_free(void *p) {
        ChecklistState *s = p;
        if (!s)
                return;
        g_hash_table_unref(s->deep);
        g_free(s);
}

static long read_long_at(int dirfd, const char *rel) {
        char buf[32];
        guint64 v;
        if (root_read_small_at(dirfd, rel, buf, sizeof buf) < 0 || !g_ascii_string_to_unsigned(g_strstrip(buf), 10, 0, G_MAXINT32, &v, NULL))
                return -1;
        return (long) v;
}

static const GArray *deep_states(ChecklistState *s, int cpudir, int cpu) {
        GArray *states = g_hash_table_lookup(s->deep, GINT_TO_POINTER(cpu + 1));
        if (states)
                return states;
        states = g_array_new(false, true, sizeof(DeepState));
        for (unsigned i = 0;; i++) {
                g_autofree char *base = g_strdup_printf("cpu%d/cpuidle/state%u", cpu, i);
                g_autofree char *lat_rel = g_strconcat(base, "/latency", NULL), *name_rel = g_strconcat(base, "/name", NULL);
                DeepState d = { .index = i, .latency_us = read_long_at(cpudir, lat_rel) };
                if (d.latency_us < 0)
                        break;
                if (d.latency_us <= DEEP_IDLE_US)
                        continue;
                if (root_read_small_at(cpudir, name_rel, d.name, sizeof d.name) < 0)
                        g_snprintf(d.name, sizeof d.name, "state%u", i);
                g_array_append_val(states, d);
        }
        g_hash_table_insert(s->deep, GINT_TO_POINTER(cpu + 1), states);
        return states;
}

/* rtcqs "Power management": a deep idle state an audio CPU may enter takes up to its
 * exit latency to answer an interrupt. Fine when PM QoS forbids it (isolatord's own
 * CpuDmaLatencyUs=, or another holder of /dev/cpu_dma_latency) or it is disabled. */
static void check_idle_states(const EnforcerContext *ctx, GPtrArray *findings) {
        ChecklistState *s = ctx->state;
        CpuMask isolated, deep;
        long target;
        long worst_us = 0;
        char worst_name[32] = "";
        int cpudir;

        if (ctx->config->cpu_dma_latency_us >= 0)
                return; /* the pm-qos enforcer holds it, or says it cannot */
        if (!cpumask_equal(&s->online, &ctx->topology->online)) {
                g_hash_table_remove_all(s->deep); /* CPUs came or went: read again */
                s->online = ctx->topology->online;
        }
        target = pm_qos_target(ctx);
        config_isolated_cpus(ctx->config, &isolated);
        cpumask_and(&isolated, &isolated, &ctx->topology->online);
        cpumask_zero(&deep);
        if ((cpudir = root_open_dir(ctx->root, "sys/devices/system/cpu")) < 0)
                return;
        for (int cpu = cpumask_next(&isolated, -1); cpu >= 0; cpu = cpumask_next(&isolated, cpu)) {
                const GArray *states = deep_states(s, cpudir, cpu);
                for (unsigned i = 0; i < states->len; i++) {
                        const DeepState *d = &g_array_index(states, DeepState, i);
                        g_autofree char *dis_rel = g_strdup_printf("cpu%d/cpuidle/state%u/disable", cpu, d->index);
                        if (d->latency_us > target || read_long_at(cpudir, dis_rel) > 0)
                                continue;
                        cpumask_add(&deep, (unsigned) cpu);
                        if (d->latency_us > worst_us) {
                                worst_us = d->latency_us;
                                g_strlcpy(worst_name, d->name, sizeof worst_name);
                        }
                }
        }
        close(cpudir);
        if (cpumask_is_empty(&deep))
                return;
        g_autofree char *cpus = cpumask_format_list(&deep);
        g_autofree char *expected = g_strdup_printf("no idle state deeper than %d us on the audio CPUs", DEEP_IDLE_US);
        g_autofree char *found = g_strdup_printf("%s (%ld us to leave) on CPUs %s", worst_name, worst_us, cpus);
        add(findings, "idle-states", expected, found,
            "an audio CPU in a deep idle state answers its interrupt that much later (rtcqs: Power management); "
            "fix: [Partition] CpuDmaLatencyUs=0 holds /dev/cpu_dma_latency while isolatord runs, or disable "
            "the state (cpupower idle-set -D 20)");
}

/* tuned's network-latency: transparent huge pages "never". A fault of the player may
 * then have to compact memory to find a huge page; "madvise" leaves it to programs that
 * ask, which players do not. */
static void check_thp(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autofree char *line = NULL;
        const char *open_b, *close_b;
        if (root_read_line(ctx->root, "sys/kernel/mm/transparent_hugepage/enabled", &line) < 0 ||
            !(open_b = strchr(line, '[')) || !(close_b = strchr(open_b, ']')))
                return;
        g_autofree char *selected = g_strndup(open_b + 1, (gsize) (close_b - open_b - 1));
        if (!g_str_equal(selected, "always"))
                return;
        add(findings, "transparent_hugepage", "never or madvise", selected,
            "with huge pages always on, a page fault of the player may stall while the kernel compacts memory "
            "for one (tuned's network-latency sets never); fix: echo madvise > "
            "/sys/kernel/mm/transparent_hugepage/enabled, or transparent_hugepage=madvise on the command line");
}

static bool network_fs(const char *type) {
        static const char *const types[] = { "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "sshfs", "davfs", NULL };
        if (g_str_has_prefix(type, "fuse"))
                return true;
        for (size_t i = 0; types[i]; i++)
                if (g_str_equal(type, types[i]))
                        return true;
        return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_mount(const char *s) {
        GString *out = g_string_new(NULL);
        for (const char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
                        g_string_append_c(out, (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0')));
                        p += 3;
                } else
                        g_string_append_c(out, *p);
        }
        return g_string_free(out, false);
}

static bool path_under(const char *path, const char *mount) {
        size_t n = strlen(mount);
        if (g_str_equal(mount, "/"))
                return true;
        return strncmp(path, mount, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* rtcqs "Filesystems": music read over the network (or through FUSE) can stall for
 * longer than any buffer. The mounts of init's namespace, the longest that holds it. */
static void check_audio_paths(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        if (!ctx->config->audio_paths[0])
                return;
        if (root_read(ctx->root, "proc/1/mountinfo", &text, NULL) < 0 &&
            root_read(ctx->root, "proc/self/mountinfo", &text, NULL) < 0)
                return;
        lines = g_strsplit(text, "\n", -1);
        for (char **p = ctx->config->audio_paths; *p; p++) {
                g_autofree char *best = NULL, *type = NULL, *source = NULL;
                for (char **l = lines; *l; l++) {
                        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
                        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
                        char **dash = f;
                        while (*dash && !g_str_equal(*dash, "-"))
                                dash++;
                        if (g_strv_length(f) < 5 || !*dash || !dash[1])
                                continue;
                        g_autofree char *mount = unescape_mount(f[4]);
                        if (!path_under(*p, mount) || (best && strlen(mount) < strlen(best)))
                                continue;
                        g_free(best);
                        g_free(type);
                        g_free(source);
                        best = g_steal_pointer(&mount);
                        type = g_strdup(dash[1]);
                        source = dash[2] ? unescape_mount(dash[2]) : g_strdup("?");
                }
                if (!type || !network_fs(type))
                        continue;
                /* A user's FUSE mount names its own source: printable before it is said. */
                g_autofree char *raw = g_strdup_printf("%s from %s (mounted on %s)", type, source, best);
                g_autofree char *found = text_printable(raw);
                add(findings, *p, "a local file system", found,
                    "a network or FUSE file system can stall a read for longer than the player buffers "
                    "(rtcqs: Filesystems); fix: copy the music to a local disk, or give the player a large buffer");
        }
}

/* Every check, each a Finding when the machine falls short. */
static void checklist_audit(const EnforcerContext *ctx, GPtrArray *findings) {
        CpuMask isolated;

        config_isolated_cpus(ctx->config, &isolated);
        check_preemption(ctx, findings);
        check_mitigations(ctx, findings);
        check_swappiness(ctx, findings);
        check_shared_irqs(ctx, findings);
        if (!cpumask_is_empty(&isolated))
                check_idle_states(ctx, findings);
        check_audio_paths(ctx, findings);
        check_thp(ctx, findings);
}

const AuditOps audit_checklist = {
        .name = "checklist",
        .state_new = checklist_state_new,
        .state_free = checklist_state_free,
        .audit = checklist_audit,
};
