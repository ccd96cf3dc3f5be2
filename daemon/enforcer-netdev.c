/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "enforcer.h"
#include "log.h"

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
        results = g_new0(int, MAX(writes->len, 1u));
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

const EnforcerOps enforcer_netdev = {
        .name = "netdev",
        .triggers = TRIGGER_BIT(TRIGGER_LINK),
        .observe = netdev_observe,
        .observation_free = netdev_observation_free,
        .diff = netdev_diff,
        .apply = netdev_apply,
};
