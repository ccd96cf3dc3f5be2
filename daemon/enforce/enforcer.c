/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "enforce/enforcer.h"
#include "base/log.h"
#include "kernel/task.h"

const EnforcerOps *const enforcers[] = {
        &enforcer_conflicts,
        &enforcer_irq,
        &enforcer_netdev,
        &enforcer_cpuset,
        &enforcer_kthread,
        &enforcer_tunables,
        &enforcer_cpufreq,
        &enforcer_pm_qos,
        &enforcer_workload,
        &enforcer_starvation,
        NULL,
};

const AuditOps *const audit_checks[] = {
        &audit_boot_params,
        &audit_kernel_config,
        &audit_checklist,
        NULL,
};

int enforcer_write_batch(const EnforcerContext *ctx, const EnforcerWrite *writes, size_t n, int *results) {
        g_autoptr(GError) e = NULL;
        g_autofree bool *saved_now = g_new0(bool, MAX(n, 1u));
        g_autoptr(GHashTable) untaken = NULL;

        /* Originals first, all of them, in one write of the store: a crash between here
         * and the last write still leaves every original on disk. */
        for (size_t i = 0; i < n; i++) {
                g_autofree char *original = NULL;
                if (originals_has(ctx->originals, writes[i].rel))
                        continue;
                if (root_read(ctx->root, writes[i].rel, &original, NULL) < 0)
                        continue; /* vanished; its write will say so */
                g_strchomp(original);
                saved_now[i] = originals_remember(ctx->originals, writes[i].rel, original);
        }
        if (ctx->dry_run) {
                for (size_t i = 0; i < n; i++) {
                        log_info("dry run: would write \"%s\" to %s", writes[i].value, writes[i].rel);
                        results[i] = 0;
                }
                return 0;
        }
        if (originals_flush(ctx->originals, &e) < 0)
                return log_error_errno(EIO, "%s; nothing written", e->message);
        for (size_t i = 0; i < n; i++) {
                results[i] = root_write(ctx->root, writes[i].rel, writes[i].value);
                if (results[i] >= 0 || !saved_now[i])
                        continue;
                /* A read-only /proc/irq in a container, a managed IRQ: nothing changed,
                 * and a revert must not try to put back what was never taken away. */
                if (!untaken)
                        untaken = g_hash_table_new(g_str_hash, g_str_equal);
                g_hash_table_add(untaken, writes[i].rel);
        }
        if (untaken && originals_forget(ctx->originals, untaken, &e) < 0)
                log_warning("%s", e->message);
        return 0;
}

const char *enforcer_refusal(int err) {
        switch (err < 0 ? -err : err) {
        case EROFS:
                return "read-only (EROFS): in a container, or under a unit's ProtectKernelTunables=, the kernel's "
                       "files cannot be written; run isolatord on the host, or let it write there";
        case EACCES:
                return "permission denied (EACCES): isolatord does not run as root, the file is not writable by "
                       "its owner, or a security module refuses";
        case EPERM:
                return "not permitted (EPERM): the kernel keeps this one (a managed IRQ since Linux 6.12, a kernel "
                       "thread bound to its CPU), the file is immutable, or a capability is missing";
        case EIO:
                return "refused by the kernel (EIO): it manages this IRQ's affinity itself; isolcpus=managed_irq keeps "
                       "managed IRQs off isolated CPUs where it can";
        case EINVAL:
                return "rejected by the kernel (EINVAL): not a value it takes here (an IRQ whose chip cannot route "
                       "it to these CPUs, a governor the driver lacks)";
        case ENOSPC:
                return "no room (ENOSPC): the CPUs have no interrupt vectors left for this IRQ; widen housekeeping, "
                       "or leave this IRQ where it is";
        case EBUSY:
                return "busy (EBUSY): the kernel refuses the change while the object is in use";
        default:
                return NULL;
        }
}

bool enforcer_refusal_new(const EnforcerContext *ctx, const char *object, int err) {
        gpointer had;
        if (!ctx->refusals)
                return true;
        had = g_hash_table_lookup(ctx->refusals, object);
        if (had && GPOINTER_TO_INT(had) == (err < 0 ? -err : err) + 1)
                return false;
        g_hash_table_replace(ctx->refusals, g_strdup(object), GINT_TO_POINTER((err < 0 ? -err : err) + 1));
        return true;
}

void enforcer_refusal_clear(const EnforcerContext *ctx, const char *object) {
        if (ctx->refusals)
                g_hash_table_remove(ctx->refusals, object);
}

static void difference_free(Difference *d) {
        if (!d)
                return;
        finding_free(d->finding);
        g_free(d);
}

GPtrArray *differences_new(void) {
        return g_ptr_array_new_with_free_func((GDestroyNotify) difference_free);
}

Difference *difference_add(GPtrArray *diffs, Finding *f, bool repairable, const void *object) {
        Difference *d = g_new0(Difference, 1);
        d->finding = f;
        d->repairable = repairable;
        d->object = object;
        g_ptr_array_add(diffs, d);
        return d;
}

void differences_add_findings(GPtrArray *diffs, GPtrArray *findings) {
        for (unsigned i = 0; i < findings->len; i++)
                difference_add(diffs, g_steal_pointer(&findings->pdata[i]), false, NULL);
}

unsigned enforcer_reconcile(const EnforcerContext *ctx, const EnforcerOps *ops, const Trigger *scope, bool repair,
                            GPtrArray *findings) {
        g_autoptr(GPtrArray) diffs = differences_new();
        int64_t started = g_get_monotonic_time();
        void *obs = ops->observe ? ops->observe(ctx, scope) : NULL;
        unsigned repaired = 0;

        if (ops->diff)
                ops->diff(ctx, obs, diffs);
        if (repair && ops->apply) {
                int r = ops->apply(ctx, obs, diffs);
                if (r < 0)
                        log_warning_errno(r, "enforcer %s could not apply: %m", ops->name);
        }
        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                if (d->repaired) {
                        repaired++;
                        log_debug("%s %s: %s -> %s (%s)", d->finding->kind, d->finding->object, d->finding->actual,
                                  d->finding->expected, d->finding->message);
                } else if (findings)
                        g_ptr_array_add(findings, g_steal_pointer(&d->finding));
        }
        if (obs)
                ops->observation_free(obs);
        log_debug("%s: %u difference(s), %u repaired, in %" G_GINT64_FORMAT " us", ops->name, diffs->len, repaired,
                  g_get_monotonic_time() - started);
        return repaired;
}

void pass_inputs_clear(PassInputs *in) {
        if (in->tasks)
                g_array_unref(g_steal_pointer(&in->tasks));
}

const GArray *pass_inputs_tasks(const PassInputs *in) {
        assert(in);
        /* Read at the first ask, once for everyone of the pass or event: a cache of the
         * manager's, not something an enforcer leaves for another. */
        if (!in->tasks)
                ((PassInputs *) in)->tasks = task_table_read(in->root);
        return in->tasks;
}

void enforcer_emit(const EnforcerContext *ctx, const Event *e) {
        if (ctx->events && ctx->events->emit)
                ctx->events->emit(e, ctx->events->userdata);
}

static char *original_key(const EnforcerOps *ops, const char *what) {
        return g_strdup_printf("@%s %s", ops->name, what);
}

int enforcer_save_original(const EnforcerContext *ctx, const EnforcerOps *ops, const char *what, const char *value) {
        return enforcer_save_originals(ctx, ops, 1, &what, &value);
}

int enforcer_save_originals(const EnforcerContext *ctx, const EnforcerOps *ops, size_t n, const char *const *whats,
                            const char *const *values) {
        g_autoptr(GError) e = NULL;
        bool added = false;

        for (size_t i = 0; i < n; i++) {
                g_autofree char *key = original_key(ops, whats[i]);
                added |= originals_remember(ctx->originals, key, values[i]);
        }
        if (!added || ctx->dry_run)
                return 0;
        if (originals_flush(ctx->originals, &e) < 0)
                return log_error_errno(EIO, "%s; not changed", e->message);
        return 0;
}

int enforcer_move_originals(const EnforcerContext *ctx, GHashTable *moves) {
        g_autoptr(GHashTable) gone = g_hash_table_new(g_str_hash, g_str_equal);
        g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) e = NULL;
        GHashTableIter it;
        gpointer from, to;

        if (g_hash_table_size(moves) == 0 || ctx->dry_run)
                return 0;
        /* All taken out first, then put back under their new keys: a renumbering may
         * swap two keys. */
        g_hash_table_iter_init(&it, moves);
        while (g_hash_table_iter_next(&it, &from, &to)) {
                const char *value = originals_get(ctx->originals, from);
                if (!value)
                        continue;
                if (to) {
                        g_ptr_array_add(keys, g_strdup(to));
                        g_ptr_array_add(values, g_strdup(value));
                }
                g_hash_table_add(gone, from);
        }
        if (originals_forget(ctx->originals, gone, &e) < 0)
                return log_error_errno(EIO, "%s", e->message);
        for (unsigned i = 0; i < keys->len; i++)
                originals_remember(ctx->originals, keys->pdata[i], values->pdata[i]);
        if (originals_flush(ctx->originals, &e) < 0)
                return log_error_errno(EIO, "%s", e->message);
        return 0;
}

/* The enforcer of an "@NAME what" entry, and where what starts. */
static const EnforcerOps *entry_owner(const char *key, const char **what) {
        const char *space = strchr(key, ' ');
        if (key[0] != '@' || !space)
                return NULL;
        for (size_t i = 0; enforcers[i]; i++)
                if (enforcers[i]->originals && strlen(enforcers[i]->name) == (size_t) (space - key - 1) &&
                    strncmp(enforcers[i]->name, key + 1, (size_t) (space - key - 1)) == 0) {
                        *what = space + 1;
                        return enforcers[i];
                }
        return NULL;
}

/* The kernel and systemd files isolatord writes: nothing else is ever restored. */
static const char *const written_prefixes[] = { "proc/irq/", "proc/sys/", "sys/", "etc/systemd/system/" };

bool enforcer_path_writable(const char *rel) {
        if (!root_rel_valid(rel))
                return false;
        for (size_t i = 0; i < G_N_ELEMENTS(written_prefixes); i++)
                if (g_str_has_prefix(rel, written_prefixes[i]))
                        return true;
        return false;
}

char *enforcer_check_original(const char *key, const char *value, void *unused) {
        const EnforcerOps *ops;
        const char *what;

        if (!g_utf8_validate(key, -1, NULL) || !g_utf8_validate(value, -1, NULL))
                return g_strdup("not UTF-8");
        if (key[0] != '@')
                return enforcer_path_writable(key) ? NULL
                                                   : g_strdup("not a relative path under proc/irq/, proc/sys/, sys/ "
                                                              "or etc/systemd/system/ without \"..\"");
        ops = entry_owner(key, &what);
        if (!ops)
                return g_strdup("no enforcer saves such an entry");
        return ops->originals->check ? ops->originals->check(what, value) : NULL;
}

bool enforcer_parse_task_entry(const char *what, char **kind, pid_t *pid, uint64_t *start_time, char **comm) {
        g_auto(GStrv) f = g_strsplit(what, " ", 4);
        guint64 n, start;
        if (g_strv_length(f) < 4 || !g_ascii_string_to_unsigned(f[1], 10, 1, G_MAXINT32, &n, NULL) ||
            !g_ascii_string_to_unsigned(f[2], 10, 0, G_MAXUINT64, &start, NULL))
                return false;
        if (kind)
                *kind = g_strdup(f[0]);
        if (pid)
                *pid = (pid_t) n;
        if (start_time)
                *start_time = start;
        if (comm)
                *comm = g_strdup(f[3]);
        return true;
}

char *enforcer_task_entry(const char *kind, pid_t pid, uint64_t start_time, const char *comm) {
        return g_strdup_printf("%s %d %" G_GUINT64_FORMAT " %s", kind, (int) pid, start_time, comm);
}

int enforcer_restore(const EnforcerContext *ctx, const char *key, const char *value) {
        const EnforcerOps *ops;
        const char *what;
        g_autofree char *why = enforcer_check_original(key, value, NULL);

        if (why)
                return -EINVAL;
        if (key[0] != '@') {
                /* Already back (or never changed): nothing to write, which a read-only
                 * file could not take anyway. */
                g_autofree char *now = NULL;
                if (root_read(ctx->root, key, &now, NULL) >= 0 && g_str_equal(g_strchomp(now), value))
                        return 0;
                return root_write(ctx->root, key, value);
        }
        ops = entry_owner(key, &what);
        return ops->originals->restore(ctx, what, value);
}
