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
        GHashTable *seen;      /* irq: every IRQ of the last scan, so a device event reads only new ones */
        IrqNames *names;       /* handler names between scans */
        bool started;          /* the first pass is done: later pins are news */
} IrqState;

static void *irq_state_new(void) {
        IrqState *st = g_new0(IrqState, 1);
        st->unmovable = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        st->pinned = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        st->seen = g_hash_table_new(g_direct_hash, g_direct_equal);
        st->names = irq_names_new();
        return st;
}

static void irq_state_free(void *p) {
        IrqState *st = p;
        if (!st)
                return;
        g_hash_table_unref(st->unmovable);
        g_hash_table_unref(st->pinned);
        g_hash_table_unref(st->seen);
        irq_names_free(st->names);
        g_free(st);
}

#define IRQ_KEY(n) GUINT_TO_POINTER((n) + 1u)

/* Forgets IRQs that are gone (a removed device's IRQ is no error); present becomes
 * what a device event compares with. */
static void forget_vanished(IrqState *st, GHashTable *present) {
        GHashTable *maps[] = { st->unmovable, st->pinned };
        GHashTableIter it;
        gpointer key;

        for (size_t m = 0; m < G_N_ELEMENTS(maps); m++) {
                g_hash_table_iter_init(&it, maps[m]);
                while (g_hash_table_iter_next(&it, &key, NULL))
                        if (!g_hash_table_contains(present, key))
                                g_hash_table_iter_remove(&it);
        }
        g_hash_table_unref(st->seen);
        st->seen = g_hash_table_ref(present);
}

static char *default_mask(const EnforcerContext *ctx) {
        return cpumask_format_mask(&ctx->config->housekeeping, ctx->topology->nr_cpus);
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

typedef struct IrqObservation {
        GPtrArray *irqs;       /* Irq*: every IRQ, or on a device event those not seen before */
        char *default_line;    /* proc/irq/default_smp_affinity, NULL when absent */
} IrqObservation;

static void irq_observation_free(void *p) {
        IrqObservation *o = p;
        g_ptr_array_unref(o->irqs);
        g_free(o->default_line);
        g_free(o);
}

/* A pass and a link (its queue IRQs may have been re-spread) read every IRQ; a device
 * event reads only the numbers not seen before, which is what a device brings. */
static void *irq_observe(const EnforcerContext *ctx, const Trigger *scope) {
        IrqState *st = ctx->state;
        IrqObservation *o = g_new0(IrqObservation, 1);
        g_autoptr(GHashTable) present = g_hash_table_new(g_direct_hash, g_direct_equal);
        bool only_new = scope && scope->kind == TRIGGER_DEVICE && st->started;

        /* Devices that come or go may take or add handlers of a shared IRQ without
         * changing how many it has: the next full scan reads every name again. */
        if (scope && scope->kind == TRIGGER_DEVICE)
                irq_names_forget(st->names);
        o->irqs = irq_scan_except(ctx->root, &(IrqScan) { .skip = only_new ? st->seen : NULL, .present = present,
                                                          .names = only_new ? NULL : st->names });
        forget_vanished(st, present);
        /* A pass's scan of every IRQ, for the enforcers after it (the checklist's shared lines). */
        if (!scope && ctx->shared && !ctx->shared->irqs)
                ctx->shared->irqs = g_ptr_array_ref(o->irqs);
        if (root_read_line(ctx->root, "proc/irq/default_smp_affinity", &o->default_line) >= 0)
                g_strstrip(o->default_line);
        return o;
}

static void irq_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const IrqObservation *o = obs;
        IrqState *st = ctx->state;
        CpuMask have;

        if (o->default_line &&
            (cpumask_parse_mask(o->default_line, &have, NULL) < 0 || !cpumask_equal(&have, &ctx->config->housekeeping))) {
                g_autofree char *mask = default_mask(ctx);
                difference_add(diffs, finding_new("irq", "default_smp_affinity", mask, o->default_line, true,
                                                  "new IRQs start outside housekeeping"),
                               true, o);
        }
        for (unsigned i = 0; i < o->irqs->len; i++) {
                const Irq *irq = o->irqs->pdata[i];
                const CpuMask *target = irq_target(ctx->config, irq, NULL);
                const char *reason = g_hash_table_lookup(st->unmovable, IRQ_KEY(irq->num));
                if (!reason && cpumask_equal(&irq->affinity, target))
                        continue;
                g_autofree char *want = cpumask_format_list(target);
                g_autofree char *was = cpumask_format_list(&irq->affinity);
                g_autofree char *object = g_strdup_printf("%u %s", irq->num, irq->name);
                if (reason)
                        /* Advice: the kernel keeps managed IRQs where it must; refused
                         * once, not retried every pass. */
                        difference_add(diffs, finding_new("irq-unmovable", object, want, was, false, reason), false, irq);
                else
                        difference_add(diffs, finding_new("irq", object, want, was, true, "the IRQ is not on its CPUs"),
                                       true, irq);
        }
}

/* How many refusals an apply names in the log; the rest are counted (isoctl irqs and
 * verify list them all). */
#define REFUSALS_LOGGED 3

/* The kernel refused: the difference stays, as advice that says why; said in the log
 * once, here, since an unmovable IRQ is not tried again. */
static void mark_unmovable(IrqState *st, Difference *d, const Irq *irq, char *reason, unsigned *said) {
        Finding *f = d->finding;
        if ((*said)++ < REFUSALS_LOGGED)
                log_info("IRQ %s stays on CPUs %s: %s", f->object, f->actual, reason);
        d->finding = finding_new("irq-unmovable", f->object, f->expected, f->actual, false, reason);
        finding_free(f);
        g_hash_table_replace(st->unmovable, IRQ_KEY(irq->num), reason);
}

static int irq_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const IrqObservation *o = obs;
        IrqState *st = ctx->state;
        g_autoptr(GArray) writes = g_array_new(false, true, sizeof(EnforcerWrite));
        g_autoptr(GPtrArray) planned = g_ptr_array_new();
        g_autofree int *results = NULL;
        unsigned pinned_now = 0, refused = 0;
        int r;

        /* What is already right is remembered as ours: a later difference is drift. */
        for (unsigned i = 0; i < o->irqs->len; i++) {
                const Irq *irq = o->irqs->pdata[i];
                const CpuMask *target = irq_target(ctx->config, irq, NULL);
                const CpuMask *had = g_hash_table_lookup(st->pinned, IRQ_KEY(irq->num));
                if (cpumask_equal(&irq->affinity, target) && (!had || !cpumask_equal(had, target)))
                        g_hash_table_replace(st->pinned, IRQ_KEY(irq->num), g_memdup2(target, sizeof *target));
        }
        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                if (!d->repairable)
                        continue;
                EnforcerWrite w = { d->object == o ? g_strdup("proc/irq/default_smp_affinity")
                                                   : g_strdup_printf("proc/irq/%u/smp_affinity_list",
                                                                     ((const Irq *) d->object)->num),
                                    d->object == o ? default_mask(ctx) : g_strdup(d->finding->expected) };
                g_array_append_val(writes, w);
                g_ptr_array_add(planned, d);
        }

        results = g_new0(int, MAX(writes->len, 1u));
        r = enforcer_write_batch(ctx, (EnforcerWrite *) writes->data, writes->len, results);
        for (unsigned i = 0; r >= 0 && i < planned->len; i++) {
                Difference *d = planned->pdata[i];
                const EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                int res = results[i];

                if (d->object == o) {
                        if (res < 0 && enforcer_refusal_new(ctx, w->rel, res))
                                log_warning("cannot set %s to %s: %s", w->rel, w->value,
                                            enforcer_refusal(res) ? enforcer_refusal(res) : g_strerror(-res));
                        else if (res >= 0)
                                enforcer_refusal_clear(ctx, w->rel);
                        d->repaired = res >= 0;
                        continue;
                }
                const Irq *irq = d->object;
                const CpuMask *target = irq_target(ctx->config, irq, NULL);
                const CpuMask *had = g_hash_table_lookup(st->pinned, IRQ_KEY(irq->num));
                bool drift = had && cpumask_equal(had, target);

                if (res == -ENOENT) {
                        d->repaired = true; /* the IRQ went away meanwhile: nothing to report */
                        continue;
                }
                if (enforcer_refusal(res)) {
                        mark_unmovable(st, d, irq, g_strdup(enforcer_refusal(res)), &refused);
                        continue;
                }
                if (res < 0) {
                        log_warning_errno(res, "cannot pin IRQ %s to CPUs %s: %m", d->finding->object, w->value);
                        continue;
                }
                d->repaired = true;
                if (ctx->dry_run)
                        continue;
                /* Read back: the kernel may keep part of what it was given. */
                CpuMask now;
                if (root_read_cpulist(ctx->root, w->rel, &now) >= 0 && !cpumask_equal(&now, target)) {
                        g_autofree char *got = cpumask_format_list(&now);
                        d->repaired = false;
                        mark_unmovable(st, d, irq, g_strdup_printf("the kernel kept CPUs %s when given %s", got, w->value),
                                       &refused);
                        continue;
                }
                g_hash_table_replace(st->pinned, IRQ_KEY(irq->num), g_memdup2(target, sizeof *target));
                pinned_now++;
                if (drift) {
                        g_autoptr(Finding) f = finding_new("irq", d->finding->object, w->value, d->finding->actual, true,
                                                           "a foreign change of the IRQ's affinity, repaired");
                        enforcer_emit(ctx, &(Event) { .kind = EVENT_DRIFT_CORRECTED, .finding = f });
                } else if (st->started)
                        enforcer_emit(ctx, &(Event) { .kind = EVENT_IRQ_PINNED, .irq = irq->num, .name = irq->name,
                                                      .cpus = target });
        }
        if (refused > REFUSALS_LOGGED)
                log_info("%u more IRQs stay where they are, refused by the kernel (isoctl irqs says why)",
                         refused - REFUSALS_LOGGED);
        irq_set_thread_priorities(ctx, o->irqs);
        if (!st->started && pinned_now > 0)
                log_info("pinned %u of %u IRQs; %u unmovable", pinned_now, o->irqs->len, g_hash_table_size(st->unmovable));
        st->started = true;

        for (unsigned i = 0; i < writes->len; i++) {
                EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                g_free(w->rel);
                g_free(w->value);
        }
        return r;
}

static int irq_revert(const EnforcerContext *ctx) {
        IrqState *st = ctx->state;
        g_hash_table_remove_all(st->pinned);
        g_hash_table_remove_all(st->unmovable);
        g_hash_table_remove_all(st->seen);
        irq_names_forget(st->names);
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

static GPtrArray *irq_report(const EnforcerContext *ctx) {
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
        .triggers = TRIGGER_BIT(TRIGGER_DEVICE) | TRIGGER_BIT(TRIGGER_LINK),
        .observe = irq_observe,
        .observation_free = irq_observation_free,
        .diff = irq_diff,
        .apply = irq_apply,
        .revert = irq_revert,
        .report = irq_report,
};
