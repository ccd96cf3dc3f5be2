/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "enforcer-irq.h"
#include "log.h"
#include "task.h"

typedef struct IrqState {
        GHashTable *unmovable; /* irq -> reason: refused once, not retried */
        GHashTable *pinned;    /* irq -> CpuMask* we put it on */
        bool started;          /* the first pass is done: later pins are news */
} IrqState;

static void *irq_state_new(void) {
        IrqState *st = g_new0(IrqState, 1);
        st->unmovable = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        st->pinned = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        return st;
}

static void irq_state_free(void *p) {
        IrqState *st = p;
        if (!st)
                return;
        g_hash_table_unref(st->unmovable);
        g_hash_table_unref(st->pinned);
        g_free(st);
}

#define IRQ_KEY(n) GUINT_TO_POINTER((n) + 1u)

/* Why the kernel refuses an affinity, for the user. */
static char *unmovable_reason(int r) {
        switch (-r) {
        case EIO:
                return g_strdup("the kernel manages this IRQ's affinity (EIO); isolcpus=managed_irq keeps it off "
                                "isolated CPUs where it can");
        case EPERM:
                return g_strdup("the kernel refuses a new affinity (EPERM: a managed IRQ since Linux 6.12, or an "
                                "immutable file)");
        case EINVAL:
                return g_strdup("the kernel rejects this affinity for this IRQ (EINVAL: its chip cannot route it "
                                "to these CPUs)");
        default:
                return g_strdup_printf("writing its affinity failed: %s", g_strerror(-r));
        }
}

static bool is_unmovable_error(int r) {
        return r == -EIO || r == -EPERM || r == -EINVAL;
}

/* Forgets IRQs that are gone: a removed device's IRQ is no error. */
static void forget_vanished(IrqState *st, const GPtrArray *irqs) {
        g_autoptr(GHashTable) present = g_hash_table_new(g_direct_hash, g_direct_equal);
        GHashTableIter it;
        gpointer key;

        for (unsigned i = 0; i < irqs->len; i++)
                g_hash_table_add(present, IRQ_KEY(((Irq *) irqs->pdata[i])->num));
        GHashTable *maps[] = { st->unmovable, st->pinned };
        for (size_t m = 0; m < G_N_ELEMENTS(maps); m++) {
                g_hash_table_iter_init(&it, maps[m]);
                while (g_hash_table_iter_next(&it, &key, NULL))
                        if (!g_hash_table_contains(present, key))
                                g_hash_table_iter_remove(&it);
        }
}

static char *default_mask(const EnforcerContext *ctx) {
        return cpumask_format_mask(&ctx->config->housekeeping, ctx->topology->nr_cpus);
}

static bool default_affinity_ok(const EnforcerContext *ctx, char **current) {
        g_autofree char *line = NULL;
        CpuMask have;
        if (root_read_line(ctx->root, "proc/irq/default_smp_affinity", &line) < 0)
                return true; /* nothing to set */
        if (current)
                *current = g_strdup(g_strstrip(line));
        return cpumask_parse_mask(line, &have, NULL) >= 0 && cpumask_equal(&have, &ctx->config->housekeeping);
}

/* ThreadPriority=: on PREEMPT_RT each IRQ's handler runs in a kernel thread
 * "irq/N-name"; a rule can raise its SCHED_FIFO priority, as rtirq does. Only on the
 * real machine: under a fake root the PIDs would be unrelated real processes. */
void irq_set_thread_priorities(const EnforcerContext *ctx, const GPtrArray *irqs) {
        if (!root_is_host(ctx->root))
                return;
        for (unsigned i = 0; i < irqs->len; i++) {
                const Irq *irq = irqs->pdata[i];
                const IrqRule *rule = irq_match_rule(ctx->config, irq);
                if (!rule || rule->thread_priority <= 0)
                        continue;
                g_autofree char *prefix = g_strdup_printf("irq/%u-", irq->num);
                g_autoptr(GArray) pids = task_find_kthreads(ctx->root, prefix);
                for (unsigned j = 0; j < pids->len; j++) {
                        pid_t pid = g_array_index(pids, pid_t, j);
                        struct sched_param have = {}, want = { .sched_priority = rule->thread_priority };
                        if (sched_getscheduler(pid) == SCHED_FIFO && sched_getparam(pid, &have) >= 0 &&
                            have.sched_priority == want.sched_priority)
                                continue;
                        if (ctx->dry_run)
                                log_info("dry run: would set IRQ thread %d (%s) to SCHED_FIFO %d", pid, prefix,
                                         want.sched_priority);
                        else if (sched_setscheduler(pid, SCHED_FIFO, &want) < 0)
                                log_warning_errno(errno, "cannot set IRQ thread %d (%s) to SCHED_FIFO %d: %m", pid,
                                                  prefix, want.sched_priority);
                        else
                                log_info("IRQ thread %d (%s%s) now SCHED_FIFO %d", pid, prefix, irq->name,
                                         want.sched_priority);
                }
        }
}

typedef struct PlannedIrq {
        Irq *irq;
        const CpuMask *target;
        bool drift;            /* we had pinned it there and someone moved it */
} PlannedIrq;

static int irq_apply(const EnforcerContext *ctx, GPtrArray *changes) {
        IrqState *st = ctx->state;
        g_autoptr(GPtrArray) irqs = irq_scan(ctx->root);
        g_autoptr(GArray) writes = g_array_new(false, true, sizeof(EnforcerWrite));
        g_autoptr(GArray) planned = g_array_new(false, true, sizeof(PlannedIrq));
        g_autofree int *results = NULL;
        g_autofree char *mask = default_mask(ctx);
        bool write_default = !default_affinity_ok(ctx, NULL);
        unsigned pinned_now = 0;
        int r;

        forget_vanished(st, irqs);
        if (write_default) {
                EnforcerWrite w = { g_strdup("proc/irq/default_smp_affinity"), g_strdup(mask) };
                g_array_append_val(writes, w);
        }
        for (unsigned i = 0; i < irqs->len; i++) {
                Irq *irq = irqs->pdata[i];
                const CpuMask *target = irq_target(ctx->config, irq, NULL);
                const CpuMask *had = g_hash_table_lookup(st->pinned, IRQ_KEY(irq->num));

                if (g_hash_table_contains(st->unmovable, IRQ_KEY(irq->num)))
                        continue; /* refused once: not retried every pass */
                if (cpumask_equal(&irq->affinity, target)) {
                        if (!had || !cpumask_equal(had, target))
                                g_hash_table_replace(st->pinned, IRQ_KEY(irq->num), g_memdup2(target, sizeof *target));
                        continue;
                }
                PlannedIrq p = { irq, target, had && cpumask_equal(had, target) };
                g_array_append_val(planned, p);
                EnforcerWrite w = { g_strdup_printf("proc/irq/%u/smp_affinity_list", irq->num), cpumask_format_list(target) };
                g_array_append_val(writes, w);
        }

        results = g_new0(int, MAX(writes->len, 1u));
        r = enforcer_write_batch(ctx, (EnforcerWrite *) writes->data, writes->len, results);
        if (r >= 0) {
                unsigned first = write_default ? 1 : 0;
                if (write_default && results[0] < 0)
                        log_warning_errno(results[0], "cannot set proc/irq/default_smp_affinity to %s: %m", mask);
                for (unsigned i = 0; i < planned->len; i++) {
                        PlannedIrq *p = &g_array_index(planned, PlannedIrq, i);
                        int res = results[first + i];
                        g_autofree char *want = cpumask_format_list(p->target);
                        g_autofree char *was = cpumask_format_list(&p->irq->affinity);
                        g_autofree char *object = g_strdup_printf("%u %s", p->irq->num, p->irq->name);

                        if (res == -ENOENT)
                                continue; /* the IRQ went away meanwhile */
                        if (is_unmovable_error(res)) {
                                char *reason = unmovable_reason(res);
                                log_info("IRQ %s stays on CPUs %s: %s", object, was, reason);
                                g_hash_table_replace(st->unmovable, IRQ_KEY(p->irq->num), reason);
                                continue;
                        }
                        if (res < 0) {
                                log_warning_errno(res, "cannot pin IRQ %s to CPUs %s: %m", object, want);
                                continue;
                        }
                        if (ctx->dry_run)
                                continue;
                        /* Read back: the kernel may keep part of what it was given. */
                        g_autofree char *rel = g_strdup_printf("proc/irq/%u/smp_affinity_list", p->irq->num);
                        CpuMask now;
                        if (root_read_cpulist(ctx->root, rel, &now) >= 0 && !cpumask_equal(&now, p->target)) {
                                g_autofree char *got = cpumask_format_list(&now);
                                g_hash_table_replace(st->unmovable, IRQ_KEY(p->irq->num),
                                                     g_strdup_printf("the kernel kept CPUs %s when given %s", got, want));
                                continue;
                        }
                        g_hash_table_replace(st->pinned, IRQ_KEY(p->irq->num), g_memdup2(p->target, sizeof *p->target));
                        pinned_now++;
                        Finding *f = finding_new("irq", object, want, was, true,
                                                 p->drift ? "a foreign change of the IRQ's affinity, repaired"
                                                          : "pinned");
                        if (p->drift)
                                enforcer_emit(ctx, &(Event) { .kind = EVENT_DRIFT_CORRECTED, .finding = f });
                        else if (st->started)
                                enforcer_emit(ctx, &(Event) { .kind = EVENT_IRQ_PINNED, .irq = p->irq->num,
                                                              .name = p->irq->name, .cpus = p->target });
                        g_ptr_array_add(changes, f);
                }
        }
        irq_set_thread_priorities(ctx, irqs);
        if (!st->started && pinned_now > 0)
                log_info("pinned %u of %u IRQs; %u unmovable", pinned_now, irqs->len, g_hash_table_size(st->unmovable));
        st->started = true;

        for (unsigned i = 0; i < writes->len; i++) {
                EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                g_free(w->rel);
                g_free(w->value);
        }
        return r;
}

static int irq_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        IrqState *st = ctx->state;
        g_autoptr(GPtrArray) irqs = irq_scan(ctx->root);
        g_autofree char *current = NULL;

        if (!default_affinity_ok(ctx, &current)) {
                g_autofree char *mask = default_mask(ctx);
                g_ptr_array_add(findings, finding_new("irq", "default_smp_affinity", mask, current, true,
                                                      "new IRQs start outside housekeeping"));
        }
        /* irqbalance moves IRQs every 10 s by its own rules: the two would fight. */
        g_autoptr(GArray) balancers = task_find_by_exe(ctx->root, "irqbalance");
        if (balancers->len > 0) {
                CpuMask isolated;
                config_isolated_cpus(ctx->config, &isolated);
                g_autofree char *iso = cpumask_format_list(&isolated);
                g_autofree char *pid = g_strdup_printf("pid %d", (int) g_array_index(balancers, pid_t, 0));
                g_autofree char *fix = g_strdup_printf(
                        "irqbalance and isolatord would fight over IRQ affinities: stop it (systemctl disable --now "
                        "irqbalance), or ban the isolated CPUs with IRQBALANCE_BANNED_CPULIST=%s in "
                        "/etc/default/irqbalance", iso);
                g_ptr_array_add(findings, finding_new("irqbalance", pid, "not running", "running", true, fix));
        }
        for (unsigned i = 0; i < irqs->len; i++) {
                const Irq *irq = irqs->pdata[i];
                const CpuMask *target = irq_target(ctx->config, irq, NULL);
                const char *reason = g_hash_table_lookup(st->unmovable, IRQ_KEY(irq->num));
                if (!reason && cpumask_equal(&irq->affinity, target))
                        continue;
                g_autofree char *want = cpumask_format_list(target);
                g_autofree char *have = cpumask_format_list(&irq->affinity);
                g_autofree char *object = g_strdup_printf("%u %s", irq->num, irq->name);
                if (reason)
                        /* Advice: the kernel keeps managed IRQs where it must. */
                        g_ptr_array_add(findings, finding_new("irq-unmovable", object, want, have, false, reason));
                else
                        g_ptr_array_add(findings, finding_new("irq", object, want, have, true,
                                                              "the IRQ is not on its CPUs"));
        }
        return 0;
}

static int irq_revert(const EnforcerContext *ctx) {
        IrqState *st = ctx->state;
        g_hash_table_remove_all(st->pinned);
        g_hash_table_remove_all(st->unmovable);
        st->started = false;
        return 0;
}

void irq_report_free(IrqReport *r) {
        if (!r)
                return;
        irq_free(r->irq);
        g_free(r->reason);
        g_free(r);
}

GPtrArray *irq_report(const EnforcerContext *ctx) {
        IrqState *st = ctx->state;
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) irq_report_free);
        g_autoptr(GPtrArray) irqs = irq_scan(ctx->root);
        g_autoptr(InterruptTable) counts = NULL;
        g_autofree char *text = NULL;
        CpuMask isolated;

        config_isolated_cpus(ctx->config, &isolated);
        if (root_read(ctx->root, "proc/interrupts", &text, NULL) >= 0)
                counts = interrupts_parse(text);
        for (unsigned i = 0; i < irqs->len; i++) {
                IrqReport *r = g_new0(IrqReport, 1);
                const IrqRule *rule = NULL;
                char row[16];

                r->irq = g_steal_pointer(&irqs->pdata[i]);
                r->target = *irq_target(ctx->config, r->irq, &rule);
                r->rule = rule ? rule->name : NULL;
                r->reason = g_strdup(g_hash_table_lookup(st->unmovable, IRQ_KEY(r->irq->num)));
                r->state = r->reason ? "unmovable"
                           : !cpumask_equal(&r->irq->affinity, &r->target) ? "foreign"
                           : rule ? "ruled" : "pinned";
                g_snprintf(row, sizeof row, "%u", r->irq->num);
                r->isolated_count = interrupts_sum(counts, row, &isolated);
                g_ptr_array_add(out, r);
        }
        return out;
}

const EnforcerOps enforcer_irq = {
        .name = "irq",
        .state_new = irq_state_new,
        .state_free = irq_state_free,
        .verify = irq_verify,
        .apply = irq_apply,
        .revert = irq_revert,
};
