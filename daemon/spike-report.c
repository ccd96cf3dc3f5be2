/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sched.h>
#include <string.h>

#include "enforce/enforcer-workload.h"
#include "kernel/irq.h"
#include "kernel/task.h"
#include "model/finding.h"
#include "spike-report.h"

char *spike_sched_text(int32_t prio) {
        if (prio < 0)
                return g_strdup("deadline");
        if (prio < 100)
                return g_strdup_printf("rt %d", 99 - prio);
        return g_strdup("normal");
}

/* "N name" as the findings name an IRQ: the last pass's advice that it cannot move. */
static const Finding *unmovable_finding(const SpikeJudge *j, unsigned irq) {
        g_autofree char *prefix = g_strdup_printf("%u ", irq);
        for (unsigned i = 0; j->findings && i < j->findings->len; i++) {
                const Finding *f = j->findings->pdata[i];
                if (g_str_equal(f->kind, "irq-unmovable") && g_str_has_prefix(f->object, prefix))
                        return f;
        }
        return NULL;
}

static void judge_irq(SpikeCause *c, const SpikeJudge *j, unsigned num) {
        g_autofree char *rel = g_strdup_printf("proc/irq/%u/smp_affinity_list", num);
        Irq irq = { .num = num };
        const IrqRule *rule = NULL;

        if (root_read_cpulist(j->root, rel, &irq.affinity) < 0) {
                spike_cause_set_note(c, false, "this IRQ is gone, or not this machine's");
                return;
        }
        irq.actions = irq_read_actions(j->root, num);
        irq.name = g_strjoinv(", ", irq.actions);
        GPtrArray *served = j->irq_drivers ? g_hash_table_lookup(j->irq_drivers, GUINT_TO_POINTER(num + 1u)) : NULL;
        if (served) { /* a Driver= rule's target */
                irq.drivers = g_new0(char *, served->len + 1);
                for (unsigned i = 0; i < served->len; i++)
                        irq.drivers[i] = g_strdup(served->pdata[i]);
        }
        const CpuMask *target = irq_target(j->config, &irq, &rule);
        g_autofree char *was = cpumask_format_list(&irq.affinity), *want = cpumask_format_list(target);
        g_autofree char *note = NULL;
        const Finding *unmovable = unmovable_finding(j, num);
        bool movable = false;

        if (unmovable)
                note = g_strdup_printf("the kernel keeps it on CPUs %s (%s): the finding irq-unmovable \"%s\"", was,
                                       unmovable->message, unmovable->object);
        else if (!cpumask_equal(&irq.affinity, target)) {
                movable = true;
                note = g_strdup_printf("allowed on CPUs %s, belongs on %s: isoctl verify (and every pass) puts it back, "
                                       "the finding irq \"%u %s\"", was, want, num, irq.name);
        } else if (j->irqs_put_back && g_hash_table_contains(j->irqs_put_back, GUINT_TO_POINTER(num + 1))) {
                /* The rates that name it are the last second's; the watch moved it since. */
                const char *before = g_hash_table_lookup(j->irqs_put_back, GUINT_TO_POINTER(num + 1));
                movable = true;
                note = g_strdup_printf("allowed on CPUs %s, belongs on %s: the watch on the audio CPUs put it back when "
                                       "it fired here, the finding irq \"%u %s\"", before, want, num, irq.name);
        } else if (rule)
                note = g_strdup_printf("placed on CPUs %s by [Irq %s]", want, rule->name);
        else
                note = g_strdup_printf("on CPUs %s already: it fired here before its move took effect", want);
        spike_cause_set_note(c, movable, note);
        g_strfreev(irq.actions);
        g_strfreev(irq.drivers);
        g_free(irq.name);
}

static int32_t tgid_of(const Root *host, int32_t tid) {
        g_autofree char *rel = g_strdup_printf("proc/%d/status", tid), *text = NULL;
        if (root_read(host, rel, &text, NULL) < 0)
                return 0;
        const char *line = strstr(text, "\nTgid:");
        return line ? (int32_t) g_ascii_strtoll(line + 6, NULL, 10) : 0;
}

static const Workload *workload_of(const SpikeJudge *j, int32_t pid) {
        for (unsigned i = 0; j->workloads && pid > 0 && i < j->workloads->len; i++) {
                const Workload *w = j->workloads->pdata[i];
                if (w->pid == pid)
                        return w;
        }
        return NULL;
}

static void judge_thread(SpikeCause *c, const SpikeJudge *j, int32_t tid, bool running, int32_t prio) {
        TaskStat st;
        const Workload *w;
        bool alive = task_read_stat(j->host, tid, 0, &st) >= 0;

        if (alive && running && (st.policy == SCHED_FIFO || st.policy == SCHED_RR) && 99 - st.rt_priority < prio) {
                /* Still on the CPU: its switch-in record knew nothing of the higher
                 * priority it took since (a lower one is not taken: it had more then). */
                g_free(c->sched);
                c->sched = spike_sched_text(99 - st.rt_priority);
        }
        if (!c->pid)
                c->pid = tgid_of(j->host, tid);
        if ((w = workload_of(j, c->pid))) {
                g_free(c->group);
                c->group = g_strdup(w->group);
                spike_cause_set_note(c, false, "the group's own workload, placed here");
                return;
        }
        if (!alive) {
                spike_cause_set_note(c, false, "the thread has ended");
                return;
        }
        if (st.flags & TASK_PF_KTHREAD) {
                bool bound = st.flags & TASK_PF_NO_SETAFFINITY;
                spike_cause_set_note(c, !bound, bound ? "this CPU's own kernel thread, bound to it: nohz_full, rcu_nocbs "
                                                        "and threaded IRQs take its work elsewhere (isoctl boot-params)"
                                                      : "a kernel thread the kthread enforcer moves to housekeeping "
                                                        "(isoctl verify)");
                return;
        }
        g_autofree char *note = g_strdup_printf("a process of no group on an audio CPU: the finding unowned-process "
                                                "\"%d %s\" (isoctl verify); its slice's CPUs are put back when isolatord "
                                                "confines it, else move it or name it in a group", c->pid ? c->pid : tid,
                                                c->name);
        spike_cause_set_note(c, true, note);
}

static char *cause_name(const Cause *cause) {
        switch (cause->kind) {
        case CAUSE_IRQ:
                return cause->name[0] ? g_strdup_printf("%u %s", cause->id, cause->name) : g_strdup_printf("%u", cause->id);
        case CAUSE_SOFTIRQ:
                return g_strdup(trace_softirq_name(cause->id));
        case CAUSE_VECTOR:
                return g_strdup(trace_vector_name(cause->id));
        case CAUSE_NMI:
                return g_strdup("NMI");
        case CAUSE_THREAD:
        case _CAUSE_KIND_MAX:
                break;
        }
        return g_strndup(cause->name, sizeof cause->name);
}

static SpikeCause *traced_cause(const Cause *cause, const SpikeJudge *j) {
        g_autofree char *name = cause_name(cause);
        SpikeCause *c = spike_cause_new(cause_kind_to_string(cause->kind), name);

        c->id = cause->id;
        c->time_us = (double) cause->time_ns / 1e3;
        c->count = cause->count;
        switch (cause->kind) {
        case CAUSE_IRQ:
                judge_irq(c, j, cause->id);
                break;
        case CAUSE_THREAD:
                c->pid = cause->tgid;
                g_free(c->sched);
                c->sched = spike_sched_text(cause->prio);
                judge_thread(c, j, (int32_t) cause->id, cause->running, cause->prio);
                break;
        case CAUSE_SOFTIRQ:
                spike_cause_set_note(c, false, "softirq work of this CPU (its IRQs' and timers' bottom halves)");
                break;
        case CAUSE_VECTOR:
                spike_cause_set_note(c, false, cause->id == TRACE_VECTOR_LOCAL_TIMER
                                                       ? "the timer interrupt (the sampler's own wakes it too)"
                                                       : "an inter-processor interrupt another CPU sent");
                break;
        case CAUSE_NMI:
        case _CAUSE_KIND_MAX:
                spike_cause_set_note(c, false, "a non-maskable interrupt (perf, the watchdog: nmi_watchdog=0)");
                break;
        }
        return c;
}

/* Counters say what moved on the CPU in the last second, not what ran in the window. */
static void counter_causes(Spike *s, const SpikeJudge *j) {
        const NoiseCpu *n = j->rates;
        const struct {
                const char *name;
                double rate;
        } arch[] = { { "LOC", n ? n->loc : -1 }, { "RES", n ? n->res : -1 }, { "CAL", n ? n->cal : -1 },
                     { "TLB", n ? n->tlb : -1 } };

        for (unsigned i = 0; n && i < n->sources->len && i < ATTRIBUTION_CAUSES_MAX; i++) {
                const NoiseSource *src = n->sources->pdata[i];
                SpikeCause *c = spike_cause_new("irq", src->name);
                c->id = src->id;
                c->per_second = src->rate;
                judge_irq(c, j, src->id);
                g_ptr_array_add(s->causes, c);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(arch); i++) {
                if (arch[i].rate <= 0)
                        continue;
                SpikeCause *c = spike_cause_new("counter", arch[i].name);
                c->per_second = arch[i].rate;
                g_ptr_array_add(s->causes, c);
        }
}

Spike *spike_report(const RawSpike *r, const SpikeJudge *j) {
        uint64_t at_usec = (uint64_t) ((int64_t) (r->at_ns / 1000) + j->realtime_offset_us);
        Spike *s = spike_new((uint32_t) r->cpu, at_usec, r->latency_ns / 1000, j->threshold_us, j->source);

        if (!r->traced) {
                counter_causes(s, j);
                return s;
        }
        s->partial = r->why.partial;
        s->traced_us = (double) r->why.traced_ns / 1e3;
        for (unsigned i = 0; i < r->why.ncauses; i++)
                g_ptr_array_add(s->causes, traced_cause(&r->why.causes[i], j));
        return s;
}
