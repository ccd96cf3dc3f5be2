/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "enforce/enforcer.h"
#include "base/log.h"

/* Packet steering spreads receive (RPS) and transmit (XPS) work over CPUs: it belongs on
 * housekeeping, like the IRQs. Each queue's mask is a kernel mask file. */

typedef struct QueueFile {
        char *rel;     /* sys/class/net/IF/queues/rx-N/rps_cpus */
        char *object;  /* "IF rx-N" */
        bool rps;
        char *have;    /* its mask as observed; NULL: vanished */
} QueueFile;

static void queue_file_clear(QueueFile *q) {
        g_free(q->rel);
        g_free(q->object);
        g_free(q->have);
}

/* The queue files of one interface, or of all (ifname NULL); the loopback has none
 * worth steering. */
static GArray *list_queues(const Root *root, const char *ifname) {
        GArray *out = g_array_new(false, true, sizeof(QueueFile));
        g_autofree char *net_path = root_path(root, "sys/class/net");
        g_autoptr(GDir) net = g_dir_open(net_path, 0, NULL);
        const char *iface;

        g_array_set_clear_func(out, (GDestroyNotify) queue_file_clear);
        while (net && (iface = g_dir_read_name(net))) {
                if (g_str_equal(iface, "lo") || (ifname && !g_str_equal(iface, ifname)))
                        continue;
                g_autofree char *q_path = g_build_filename(net_path, iface, "queues", NULL);
                g_autoptr(GDir) queues = g_dir_open(q_path, 0, NULL);
                const char *q;
                while (queues && (q = g_dir_read_name(queues))) {
                        bool rps = g_str_has_prefix(q, "rx-");
                        if (!rps && !g_str_has_prefix(q, "tx-"))
                                continue;
                        QueueFile f = {
                                g_strdup_printf("sys/class/net/%s/queues/%s/%s", iface, q, rps ? "rps_cpus" : "xps_cpus"),
                                g_strdup_printf("%s %s", iface, q),
                                rps,
                        };
                        g_array_append_val(out, f); /* a file that is absent is not observed */
                }
        }
        return out;
}

/* The interface of "sys/class/net/IF/...", or NULL. */
static char *iface_of(const char *rel) {
        if (!g_str_has_prefix(rel, "sys/class/net/"))
                return NULL;
        const char *name = rel + strlen("sys/class/net/");
        return g_strndup(name, strcspn(name, "/"));
}

typedef struct NetdevObservation {
        GArray *queues;        /* QueueFile, with the mask each has now */
} NetdevObservation;

static void netdev_observation_free(void *p) {
        NetdevObservation *o = p;
        g_array_unref(o->queues);
        g_free(o);
}

/* Every interface's queues on a pass; the one a link event names. */
static void *netdev_observe(const EnforcerContext *ctx, const Trigger *scope) {
        NetdevObservation *o = g_new0(NetdevObservation, 1);
        o->queues = list_queues(ctx->root, scope ? scope->name : NULL);
        for (unsigned i = 0; i < o->queues->len; i++) {
                QueueFile *q = &g_array_index(o->queues, QueueFile, i);
                if (root_read_line(ctx->root, q->rel, &q->have) >= 0)
                        g_strstrip(q->have);
        }
        return o;
}

static void netdev_diff(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        const NetdevObservation *o = obs;

        for (unsigned i = 0; i < o->queues->len; i++) {
                const QueueFile *q = &g_array_index(o->queues, QueueFile, i);
                const CpuMask *want = config_net_cpus(ctx->config, q->rps);
                CpuMask have;
                if (!want || !q->have || (cpumask_parse_mask(q->have, &have, NULL) >= 0 && cpumask_equal(&have, want)))
                        continue; /* kept, vanished, or right */
                g_autofree char *mask = cpumask_format_mask(want, ctx->topology->nr_cpus);
                difference_add(diffs, finding_new(q->rps ? "rps" : "xps", q->object, mask, q->have, true,
                                                  q->rps ? "receive packet steering outside its CPUs"
                                                         : "transmit packet steering outside its CPUs"),
                               true, q);
        }
}

static int netdev_apply(const EnforcerContext *ctx, const void *obs, GPtrArray *diffs) {
        g_autoptr(GArray) writes = g_array_new(false, true, sizeof(EnforcerWrite));
        g_autoptr(GPtrArray) planned = g_ptr_array_new();
        g_autofree int *results = NULL;
        int r;

        for (unsigned i = 0; i < diffs->len; i++) {
                Difference *d = diffs->pdata[i];
                EnforcerWrite w = { ((const QueueFile *) d->object)->rel, d->finding->expected };
                g_array_append_val(writes, w);
                g_ptr_array_add(planned, d);
        }
        /* Which link each interface name was (its ifindex) when its first original was
         * saved: udev renames a new link (eth0 to ens5) right after it appears, and a revert
         * follows the link (netdev_revert). */
        g_autoptr(GPtrArray) whats = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
        for (unsigned i = 0; i < writes->len; i++) {
                const char *rel = g_array_index(writes, EnforcerWrite, i).rel;
                g_autofree char *iface = iface_of(rel), *key = g_strdup_printf("@netdev ifindex %s", iface);
                g_autofree char *index = NULL;
                if (!iface || originals_has(ctx->originals, key) || originals_has(ctx->originals, rel))
                        continue;
                g_autofree char *index_rel = g_strdup_printf("sys/class/net/%s/ifindex", iface);
                if (root_read_line(ctx->root, index_rel, &index) < 0)
                        continue;
                bool listed = false;
                for (unsigned k = 0; k < whats->len; k++)
                        listed |= g_str_equal((const char *) whats->pdata[k] + strlen("ifindex "), iface);
                if (listed)
                        continue;
                g_ptr_array_add(whats, g_strdup_printf("ifindex %s", iface));
                g_ptr_array_add(values, g_strdup(g_strstrip(index)));
        }
        r = enforcer_save_originals(ctx, &enforcer_netdev, whats->len, (const char *const *) whats->pdata,
                                    (const char *const *) values->pdata);
        results = g_new0(int, MAX(writes->len, 1u));
        if (r >= 0)
                r = enforcer_write_batch(ctx, (EnforcerWrite *) writes->data, writes->len, results);
        for (unsigned i = 0; r >= 0 && i < writes->len; i++) {
                Difference *d = planned->pdata[i];
                if (results[i] < 0 && results[i] != -ENOENT)
                        /* Some virtual devices take no steering mask: not worth more than debug. */
                        log_debug_errno(results[i], "cannot set %s to %s: %m", g_array_index(writes, EnforcerWrite, i).rel,
                                        d->finding->expected);
                else
                        d->repaired = true;
        }
        return r;
}

/* Before the originals are restored: the queues saved under a name that another link
 * holds now, or nobody, follow their link by its ifindex (udev renamed it), or are
 * dropped with it (gone), so that no link gets another's masks. */
static int netdev_revert(const EnforcerContext *ctx) {
        g_autoptr(GHashTable) moves = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autofree char *net_path = root_path(ctx->root, "sys/class/net");
        g_autoptr(GDir) net = g_dir_open(net_path, 0, NULL);
        const char *iface;

        while (net && (iface = g_dir_read_name(net))) {
                g_autofree char *rel = g_strdup_printf("sys/class/net/%s/ifindex", iface), *index = NULL;
                if (root_read_line(ctx->root, rel, &index) >= 0)
                        g_hash_table_replace(names, g_strdup(g_strstrip(index)), g_strdup(iface));
        }
        for (guint i = 0; i < originals_count(ctx->originals); i++) {
                const char *key = originals_path(ctx->originals, i);
                if (!g_str_has_prefix(key, "@netdev ifindex "))
                        continue;
                const char *was = key + strlen("@netdev ifindex ");
                const char *is = g_hash_table_lookup(names, originals_value(ctx->originals, i));
                if (is && g_str_equal(is, was))
                        continue;
                g_autofree char *from = g_strdup_printf("sys/class/net/%s/", was);
                for (guint k = 0; k < originals_count(ctx->originals); k++) {
                        const char *other = originals_path(ctx->originals, k);
                        if (g_str_has_prefix(other, from))
                                g_hash_table_insert(moves, g_strdup(other),
                                                    is ? g_strconcat("sys/class/net/", is, "/", other + strlen(from), NULL)
                                                       : NULL);
                }
                g_hash_table_insert(moves, g_strdup(key), is ? g_strdup_printf("@netdev ifindex %s", is) : NULL);
                if (is)
                        log_info("link %s is %s now: its originals go with it", was, is);
                else
                        log_info("link %s is gone: its originals are dropped", was);
        }
        return enforcer_move_originals(ctx, moves);
}

/* "ifindex IF": which link the name was when its queues were saved; nothing to restore. */
static char *netdev_check_original(const char *what, const char *value) {
        guint64 index;
        const char *iface = g_str_has_prefix(what, "ifindex ") ? what + strlen("ifindex ") : NULL;
        if (!iface || !*iface || strchr(iface, '/') || g_str_equal(iface, ".") || g_str_equal(iface, "..") ||
            !g_ascii_string_to_unsigned(value, 10, 1, G_MAXINT32, &index, NULL))
                return g_strdup("not a link entry (ifindex IF)");
        return NULL;
}

static int netdev_restore(const EnforcerContext *ctx, const char *what, const char *value) {
        return 0;
}

static const EnforcerOriginals netdev_originals = { netdev_restore, netdev_check_original };

const EnforcerOps enforcer_netdev = {
        .name = "netdev",
        .triggers = TRIGGER_BIT(TRIGGER_LINK),
        .observe = netdev_observe,
        .observation_free = netdev_observation_free,
        .diff = netdev_diff,
        .apply = netdev_apply,
        .revert = netdev_revert,
        .originals = &netdev_originals,
};
