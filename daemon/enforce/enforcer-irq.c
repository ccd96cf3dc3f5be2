/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "enforce/enforcer-irq.h"
#include "base/log.h"
#include "kernel/task.h"

typedef struct IrqState {
        GHashTable *unmovable; /* irq -> Unmovable: refused once, not retried */
        GHashTable *pinned;    /* irq -> CpuMask* we put it on */
        IrqSet seen;           /* every IRQ of the last scan, so a device event reads only new ones */
        IrqSet present;        /* the scan under way's, then swapped with seen */
        IrqNames *names;       /* handler names between scans */
        bool started;          /* the first pass is done: later pins are news */
} IrqState;

/* A refusal holds for the device that had the number then: a resume may give the number
 * to another one (virtio frees and requests its vectors again), told by its handlers. */
typedef struct Unmovable {
        char *name;   /* the IRQ's handlers when it was refused */
        char *reason;
} Unmovable;

static void unmovable_free(Unmovable *u) {
        g_free(u->name);
        g_free(u->reason);
        g_free(u);
}

static void *irq_state_new(void) {
        IrqState *st = g_new0(IrqState, 1);
        st->unmovable = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) unmovable_free);
        st->pinned = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        st->names = irq_names_new();
        return st;
}

static void irq_state_free(void *p) {
        IrqState *st = p;
        if (!st)
                return;
        g_hash_table_unref(st->unmovable);
        g_hash_table_unref(st->pinned);
        irq_set_free(&st->seen);
        irq_set_free(&st->present);
        irq_names_free(st->names);
        g_free(st);
}

#define IRQ_KEY(n) GUINT_TO_POINTER((n) + 1u)

/* Why the kernel refused to move irq, or NULL: not refused, or refused when its number
 * was another device's. */
static const char *unmovable_reason(const IrqState *st, const Irq *irq) {
        const Unmovable *u = g_hash_table_lookup(st->unmovable, IRQ_KEY(irq->num));
        return u && g_str_equal(u->name, irq->name) ? u->reason : NULL;
}

/* Forgets IRQs that are gone (a removed device's IRQ is no error); the scan's present
 * becomes what a device event compares with. */
static void forget_vanished(IrqState *st) {
        GHashTable *maps[] = { st->unmovable, st->pinned };
        GHashTableIter it;
        gpointer key;

        for (size_t m = 0; m < G_N_ELEMENTS(maps); m++) {
                g_hash_table_iter_init(&it, maps[m]);
                while (g_hash_table_iter_next(&it, &key, NULL))
                        if (!irq_set_has(&st->present, GPOINTER_TO_UINT(key) - 1u))
                                g_hash_table_iter_remove(&it);
        }
        IrqSet was = st->seen;
        st->seen = st->present;
        st->present = was;
}

static char *default_mask(const EnforcerContext *ctx) {
        return cpumask_format_mask(&ctx->config->housekeeping, ctx->topology->nr_cpus);
}

/* ThreadPriority=: on PREEMPT_RT each IRQ's handler runs in a kernel thread
 * "irq/N-name"; a rule can raise its SCHED_FIFO priority, as rtirq does. Its policy and
 * priority are saved first ("@irq thread PID START COMM"), so that a revert puts them
 * back on the same thread (and on no process that took its pid since). */
void irq_set_thread_priorities(const EnforcerContext *ctx, const GPtrArray *irqs) {
        for (unsigned i = 0; i < irqs->len; i++) {
                const Irq *irq = irqs->pdata[i];
                const IrqRule *rule = irq_match_rule(ctx->config, irq);
                if (!rule || rule->thread_priority <= 0)
                        continue;
                g_autofree char *prefix = g_strdup_printf("irq/%u-", irq->num);
                g_autoptr(GArray) pids = task_find_kthreads(ctx->root, prefix);
                for (unsigned j = 0; j < pids->len; j++) {
                        pid_t pid = g_array_index(pids, pid_t, j);
                        int policy, priority;
                        TaskStat st;
                        if (task_read_stat(ctx->root, pid, 0, &st) < 0 ||
                            task_get_sched(ctx->root, pid, &policy, &priority) < 0 ||
                            (policy == SCHED_FIFO && priority == rule->thread_priority))
                                continue;
                        g_autofree char *what = enforcer_task_entry("thread", pid, st.start_time, st.comm);
                        g_autofree char *was = g_strdup_printf("%d %d", policy, priority);
                        if (enforcer_save_original(ctx, &enforcer_irq, what, was) < 0)
                                continue;
                        int r = ctx->dry_run ? 0 : task_set_sched(ctx->root, pid, SCHED_FIFO, rule->thread_priority);
                        if (ctx->dry_run)
                                log_info("dry run: would set IRQ thread %d (%s) to SCHED_FIFO %d", (int) pid, st.comm,
                                         rule->thread_priority);
                        else if (r < 0)
                                log_warning_errno(r, "cannot set IRQ thread %d (%s) to SCHED_FIFO %d: %m", (int) pid,
                                                  st.comm, rule->thread_priority);
                        else
                                log_info("IRQ thread %d (%s, %s) now SCHED_FIFO %d", (int) pid, st.comm, irq->name,
                                         rule->thread_priority);
                }
        }
}

static int irq_restore(const EnforcerContext *ctx, const char *what, const char *value);

/* IRQ threads raised by a rule that no longer takes their IRQ (a Driver= device went,
 * the rule was removed, the IRQ is gone) get their saved scheduling back. */
static void irq_give_back_threads(const EnforcerContext *ctx, const GPtrArray *irqs) {
        g_autoptr(GHashTable) raised = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_autoptr(GHashTable) gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GError) e = NULL;

        for (unsigned i = 0; i < irqs->len; i++) {
                const Irq *irq = irqs->pdata[i];
                const IrqRule *rule = irq_match_rule(ctx->config, irq);
                if (rule && rule->thread_priority > 0)
                        g_hash_table_add(raised, GUINT_TO_POINTER(irq->num + 1u));
        }
        for (guint i = 0; i < originals_count(ctx->originals); i++) {
                const char *key = originals_path(ctx->originals, i);
                g_autofree char *kind = NULL, *comm = NULL;
                unsigned num;
                /* Every pass looks through every original, an affinity and a name per
                 * IRQ: only the threads' entries are parsed. */
                if (!g_str_has_prefix(key, "@irq thread ") ||
                    !enforcer_parse_task_entry(key + strlen("@irq "), &kind, NULL, NULL, &comm) ||
                    !g_str_equal(kind, "thread") || sscanf(comm, "irq/%u-", &num) != 1 ||
                    g_hash_table_contains(raised, GUINT_TO_POINTER(num + 1u)))
                        continue;
                int r = ctx->dry_run ? 0 : irq_restore(ctx, key + strlen("@irq "), originals_value(ctx->originals, i));
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "cannot give IRQ thread %s its scheduling back: %m", comm);
                else if (r == 0)
                        log_info("IRQ thread %s: no rule raises it now; its scheduling given back", comm);
                g_hash_table_add(gone, g_strdup(key));
        }
        if (g_hash_table_size(gone) > 0 && !ctx->dry_run && originals_forget(ctx->originals, gone, &e) < 0)
                log_warning("%s", e->message);
}

typedef struct IrqObservation {
        GPtrArray *irqs;       /* Irq*: every IRQ, or on a device event those not seen before */
        bool every;            /* irqs holds every IRQ */
        char *default_line;    /* proc/irq/default_smp_affinity, NULL when absent */
} IrqObservation;

static void irq_observation_free(void *p) {
        IrqObservation *o = p;
        g_ptr_array_unref(o->irqs);
        g_free(o->default_line);
        g_free(o);
}

/* A pass and a link (its queue IRQs may have been re-spread) read every IRQ; a device
 * event reads only the numbers not seen before, which is what a device brings; an IRQ
 * seen firing on an audio CPU is read alone. */
static void *irq_observe(const EnforcerContext *ctx, const Trigger *scope) {
        IrqState *st = ctx->state;
        IrqObservation *o = g_new0(IrqObservation, 1);
        g_auto(GStrv) drivers = config_irq_drivers(ctx->config);
        /* A device that binds a Driver= (a DAC on a controller already there) changes
         * what an old IRQ is: every IRQ is read then. */
        bool only_new = scope && scope->kind == TRIGGER_DEVICE && st->started && !drivers[0];
        o->every = !only_new;

        /* Devices that come or go may take or add handlers of a shared IRQ without
         * changing how many it has: the next full scan reads every name again. */
        if (scope && scope->kind == TRIGGER_DEVICE)
                irq_names_forget(st->names);
        if (scope && scope->kind == TRIGGER_IRQ) {
                Irq *irq = irq_read_one(ctx->root, scope->irq, drivers);
                o->irqs = g_ptr_array_new_with_free_func((GDestroyNotify) irq_free);
                if (irq)
                        g_ptr_array_add(o->irqs, irq);
                return o; /* the others are not looked at: nothing of them is forgotten */
        }
        irq_set_clear(&st->present);
        if (!scope && ctx->inputs && ctx->inputs->irqs) {
                /* A pass: the manager's scan of every IRQ, which the audits read too. */
                o->irqs = g_ptr_array_ref((GPtrArray *) ctx->inputs->irqs);
                for (unsigned i = 0; i < o->irqs->len; i++)
                        irq_set_add(&st->present, ((const Irq *) o->irqs->pdata[i])->num);
        } else
                o->irqs = irq_scan_except(ctx->root, &(IrqScan) { .skip = only_new ? &st->seen : NULL,
                                                                  .present = &st->present,
                                                                  .names = only_new ? NULL : st->names,
                                                                  .drivers = drivers });
        forget_vanished(st);
        /* The default is for IRQs yet to come: a device event pins its own new ones, and
         * leaves the default to every pass. */
        if (!only_new && root_read_line(ctx->root, "proc/irq/default_smp_affinity", &o->default_line) >= 0)
                g_strstrip(o->default_line);
        return o;
}

/* Whether the IRQ may fire only on its CPUs: its affinity, and where the kernel says it
 * delivers it, lie within them. */
static bool within(const Irq *irq, const CpuMask *target) {
        return !cpumask_is_empty(&irq->affinity) && cpumask_is_subset(&irq->affinity, target) &&
               (!irq->has_effective || cpumask_is_subset(&irq->effective, target));
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
                const char *reason = unmovable_reason(st, irq);
                if (!reason && cpumask_equal(&irq->affinity, target))
                        continue;
                if (reason && within(irq, target))
                        continue; /* the kernel keeps it where it may be anyway */
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
 * once, here, since an unmovable IRQ is not tried again. A managed IRQ that the kernel
 * keeps within its CPUs anyway (a queue IRQ of CPU 0 when housekeeping is 0-1) is
 * nothing to report. */
static void mark_unmovable(IrqState *st, Difference *d, const Irq *irq, const CpuMask *target, char *reason,
                           unsigned *said) {
        Finding *f = d->finding;
        if (within(irq, target)) {
                log_debug("IRQ %s stays on CPUs %s, within %s: %s", f->object, f->actual, f->expected, reason);
                d->repaired = true;
        } else if ((*said)++ < REFUSALS_LOGGED)
                log_info("IRQ %s stays on CPUs %s: %s", f->object, f->actual, reason);
        d->finding = finding_new("irq-unmovable", f->object, f->expected, f->actual, false, reason);
        finding_free(f);
        Unmovable *u = g_new0(Unmovable, 1);
        u->name = g_strdup(irq->name);
        u->reason = reason;
        g_hash_table_replace(st->unmovable, IRQ_KEY(irq->num), u);
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

        /* Which device each IRQ number was when its original was saved: a resume may
         * renumber them (virtio frees and requests its vectors again), and a revert gives
         * each device its own back (irq_revert). The original affinity is the one the
         * observation has just read, in this same turn of the loop: the batch below then
         * reads no file again, and stores names and affinities in one write. */
        g_autoptr(GHashTable) saved_here = g_hash_table_new(g_str_hash, g_str_equal);
        for (unsigned i = 0; i < planned->len; i++) {
                const Difference *d = planned->pdata[i];
                const EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                if (d->object == o || originals_has(ctx->originals, w->rel))
                        continue;
                const Irq *irq = d->object;
                g_autofree char *name_key = g_strdup_printf("@%s name %u", enforcer_irq.name, irq->num);
                g_autofree char *was = cpumask_format_list(&irq->affinity);
                originals_remember(ctx->originals, name_key, irq->name);
                if (originals_remember(ctx->originals, w->rel, was))
                        g_hash_table_add(saved_here, w->rel);
        }
        results = g_new0(int, MAX(writes->len, 1u));
        r = enforcer_write_batch(ctx, (EnforcerWrite *) writes->data, writes->len, results);
        if (r >= 0 && !ctx->dry_run) {
                /* A refused write changed nothing: a revert must not put back what was
                 * never taken away (as the batch does for what it saved itself). */
                g_autoptr(GHashTable) untaken = g_hash_table_new(g_str_hash, g_str_equal);
                g_autoptr(GPtrArray) name_keys = g_ptr_array_new_with_free_func(g_free);
                g_autoptr(GError) e = NULL;
                for (unsigned i = 0; i < writes->len; i++) {
                        const EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                        const Difference *d = planned->pdata[i];
                        if (results[i] < 0 && g_hash_table_contains(saved_here, w->rel)) {
                                g_hash_table_add(untaken, w->rel);
                                /* And the device the number was: once the number is another
                                 * device's (a resume renumbers), its original must be saved
                                 * under that device's name, not this one's. */
                                if (d->object != o) {
                                        char *key = g_strdup_printf("@%s name %u", enforcer_irq.name,
                                                                    ((const Irq *) d->object)->num);
                                        g_ptr_array_add(name_keys, key);
                                        g_hash_table_add(untaken, key);
                                }
                        }
                }
                if (g_hash_table_size(untaken) > 0 && originals_forget(ctx->originals, untaken, &e) < 0)
                        log_warning("%s", e->message);
        }
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
                        mark_unmovable(st, d, irq, target, g_strdup(enforcer_refusal(res)), &refused);
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
                        mark_unmovable(st, d, irq, target,
                                       g_strdup_printf("the kernel kept CPUs %s when given %s", got, w->value), &refused);
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
        if (o->every)
                irq_give_back_threads(ctx, o->irqs);
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

static int compare_uint(gconstpointer a, gconstpointer b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return (x > y) - (x < y);
}

/* Before the originals are restored: each saved IRQ number whose device now has another
 * number (a resume renumbered it) takes its original along, and one whose device is gone
 * drops it, so that no device gets another's. Devices are told by their handlers' names;
 * where several IRQs share one (MSI vectors of one device), in order of number. */
static void irq_follow_devices(const EnforcerContext *ctx) {
        g_autoptr(GHashTable) saved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
        g_autoptr(GHashTable) now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
        g_autoptr(GHashTable) moves = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GPtrArray) irqs = irq_scan(ctx->root);
        GHashTableIter it;
        gpointer name, value;

        for (guint i = 0; i < originals_count(ctx->originals); i++) {
                const char *key = originals_path(ctx->originals, i);
                guint64 num;
                if (!g_str_has_prefix(key, "@irq name ") ||
                    !g_ascii_string_to_unsigned(key + strlen("@irq name "), 10, 0, G_MAXUINT32, &num, NULL))
                        continue;
                GArray *list = g_hash_table_lookup(saved, originals_value(ctx->originals, i));
                if (!list) {
                        list = g_array_new(false, false, sizeof(unsigned));
                        g_hash_table_insert(saved, g_strdup(originals_value(ctx->originals, i)), list);
                }
                unsigned n = (unsigned) num;
                g_array_append_val(list, n);
        }
        for (unsigned i = 0; i < irqs->len; i++) {
                const Irq *irq = irqs->pdata[i];
                GArray *list = g_hash_table_lookup(now, irq->name);
                if (!list) {
                        list = g_array_new(false, false, sizeof(unsigned));
                        g_hash_table_insert(now, g_strdup(irq->name), list);
                }
                g_array_append_val(list, irq->num);
        }
        g_hash_table_iter_init(&it, saved);
        while (g_hash_table_iter_next(&it, &name, &value)) {
                GArray *was = value, *is = g_hash_table_lookup(now, name);
                g_array_sort(was, compare_uint);
                if (is)
                        g_array_sort(is, compare_uint);
                for (unsigned i = 0; i < was->len; i++) {
                        unsigned from = g_array_index(was, unsigned, i);
                        bool found = is && i < is->len;
                        unsigned to = found ? g_array_index(is, unsigned, i) : 0;
                        if (found && to == from)
                                continue;
                        g_hash_table_insert(moves, g_strdup_printf("proc/irq/%u/smp_affinity_list", from),
                                            found ? g_strdup_printf("proc/irq/%u/smp_affinity_list", to) : NULL);
                        g_hash_table_insert(moves, g_strdup_printf("@irq name %u", from),
                                            found ? g_strdup_printf("@irq name %u", to) : NULL);
                        if (found)
                                log_info("IRQ %s is %u now, was %u: its original goes with it", (char *) name, to, from);
                        else
                                log_info("IRQ %u %s is gone: its original is dropped", from, (char *) name);
                }
        }
        (void) enforcer_move_originals(ctx, moves);
}

static int irq_revert(const EnforcerContext *ctx) {
        IrqState *st = ctx->state;
        irq_follow_devices(ctx);
        g_hash_table_remove_all(st->pinned);
        g_hash_table_remove_all(st->unmovable);
        irq_set_clear(&st->seen);
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

GPtrArray *irq_report(const EnforcerContext *ctx) {
        IrqState *st = ctx->state;
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) irq_report_free);
        g_auto(GStrv) drivers = config_irq_drivers(ctx->config);
        g_autoptr(GPtrArray) irqs = irq_scan_except(ctx->root, &(IrqScan) { .effective = true, .drivers = drivers });
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
                r->reason = g_strdup(unmovable_reason(st, r->irq));
                /* One the kernel keeps (a managed queue IRQ) but keeps within its target is
                 * where it belongs: nothing to do about it. */
                bool kept_within = r->reason && within(r->irq, &r->target);
                r->state = r->reason && !kept_within ? "unmovable"
                           : !kept_within && !cpumask_equal(&r->irq->affinity, &r->target) ? "foreign"
                           : rule ? "ruled" : "pinned";
                g_snprintf(row, sizeof row, "%u", r->irq->num);
                r->isolated_count = interrupts_sum(counts, row, &isolated);
                g_ptr_array_add(out, r);
        }
        return out;
}

/* "name N": which device IRQ N was when its affinity was saved (nothing to restore);
 * "thread PID START COMM": an IRQ thread's policy and priority before ThreadPriority=. */
static char *irq_check_original(const char *what, const char *value) {
        g_autofree char *kind = NULL;
        int policy, priority;
        guint64 num;
        if (g_str_has_prefix(what, "name ") &&
            g_ascii_string_to_unsigned(what + strlen("name "), 10, 0, G_MAXUINT32, &num, NULL))
                return NULL;
        if (enforcer_parse_task_entry(what, &kind, NULL, NULL, NULL) && g_str_equal(kind, "thread"))
                return task_sched_parse(value, &policy, &priority) ? NULL
                                                                  : g_strdup("the saved scheduling is not a policy and priority");
        return g_strdup("not an IRQ entry (name N, thread PID START NAME)");
}

static int irq_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        g_autofree char *kind = NULL;
        int policy, priority;
        uint64_t start;
        TaskStat st;
        pid_t pid;
        if (g_str_has_prefix(what, "name "))
                return 0;
        if (!enforcer_parse_task_entry(what, &kind, &pid, &start, NULL) || !task_sched_parse(value, &policy, &priority))
                return -EINVAL;
        /* The same kernel thread: a process can neither be one nor choose its start. */
        if (task_read_stat(ctx->root, pid, 0, &st) < 0 || !(st.flags & TASK_PF_KTHREAD) || st.start_time != start)
                return -ENOENT;
        return task_set_sched(ctx->root, pid, policy, priority);
}

static const EnforcerOriginals irq_originals = { irq_restore, irq_check_original };

const EnforcerOps enforcer_irq = {
        .name = "irq",
        .state_new = irq_state_new,
        .state_free = irq_state_free,
        .triggers = TRIGGER_BIT(TRIGGER_DEVICE) | TRIGGER_BIT(TRIGGER_LINK) | TRIGGER_BIT(TRIGGER_IRQ),
        .observe = irq_observe,
        .observation_free = irq_observation_free,
        .diff = irq_diff,
        .apply = irq_apply,
        .revert = irq_revert,
        .originals = &irq_originals,
};
