/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "enforcer-netdev.h"
#include "log.h"

/* Packet steering spreads receive (RPS) and transmit (XPS) work over CPUs: it belongs on
 * housekeeping, like the IRQs. Each queue's mask is a kernel mask file. */

typedef struct QueueFile {
        char *rel;     /* sys/class/net/IF/queues/rx-N/rps_cpus */
        char *object;  /* "IF rx-N" */
        bool rps;
} QueueFile;

static void queue_file_clear(QueueFile *q) {
        g_free(q->rel);
        g_free(q->object);
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
                        if (root_exists(root, f.rel))
                                g_array_append_val(out, f);
                        else
                                queue_file_clear(&f);
                }
        }
        return out;
}

static bool queue_ok(const EnforcerContext *ctx, const QueueFile *q, const CpuMask *want, char **have_text) {
        g_autofree char *line = NULL;
        CpuMask have;
        if (root_read_line(ctx->root, q->rel, &line) < 0)
                return true; /* vanished */
        if (have_text)
                *have_text = g_strdup(g_strstrip(line));
        return cpumask_parse_mask(line, &have, NULL) >= 0 && cpumask_equal(&have, want);
}

int netdev_apply_interface(const EnforcerContext *ctx, const char *ifname, GPtrArray *changes) {
        g_autoptr(GArray) queues = list_queues(ctx->root, ifname);
        g_autoptr(GArray) writes = g_array_new(false, true, sizeof(EnforcerWrite));
        g_autoptr(GPtrArray) objects = g_ptr_array_new();
        g_autofree int *results = NULL;
        int r;

        for (unsigned i = 0; i < queues->len; i++) {
                QueueFile *q = &g_array_index(queues, QueueFile, i);
                const CpuMask *want = config_net_cpus(ctx->config, q->rps);
                if (!want || queue_ok(ctx, q, want, NULL))
                        continue;
                EnforcerWrite w = { g_strdup(q->rel), cpumask_format_mask(want, ctx->topology->nr_cpus) };
                g_array_append_val(writes, w);
                g_ptr_array_add(objects, q);
        }
        results = g_new0(int, MAX(writes->len, 1u));
        r = enforcer_write_batch(ctx, (EnforcerWrite *) writes->data, writes->len, results);
        for (unsigned i = 0; r >= 0 && i < writes->len; i++) {
                EnforcerWrite *w = &g_array_index(writes, EnforcerWrite, i);
                const QueueFile *q = objects->pdata[i];
                if (results[i] == -ENOENT)
                        continue;
                if (results[i] < 0)
                        /* Some virtual devices take no steering mask: not worth more than debug. */
                        log_debug_errno(results[i], "cannot set %s to %s: %m", w->rel, w->value);
                else
                        g_ptr_array_add(changes, finding_new(q->rps ? "rps" : "xps", q->object, w->value, "", true, "set"));
        }
        for (unsigned i = 0; i < writes->len; i++) {
                g_free(g_array_index(writes, EnforcerWrite, i).rel);
                g_free(g_array_index(writes, EnforcerWrite, i).value);
        }
        return r;
}

static int netdev_apply(const EnforcerContext *ctx, GPtrArray *changes) {
        return netdev_apply_interface(ctx, NULL, changes);
}

static int netdev_verify(const EnforcerContext *ctx, GPtrArray *findings) {
        g_autoptr(GArray) queues = list_queues(ctx->root, NULL);

        for (unsigned i = 0; i < queues->len; i++) {
                QueueFile *q = &g_array_index(queues, QueueFile, i);
                const CpuMask *want = config_net_cpus(ctx->config, q->rps);
                g_autofree char *have = NULL;
                if (!want || queue_ok(ctx, q, want, &have))
                        continue;
                g_autofree char *mask = cpumask_format_mask(want, ctx->topology->nr_cpus);
                g_ptr_array_add(findings, finding_new(q->rps ? "rps" : "xps", q->object, mask, have, true,
                                                      q->rps ? "receive packet steering outside its CPUs"
                                                             : "transmit packet steering outside its CPUs"));
        }
        return 0;
}

const EnforcerOps enforcer_netdev = {
        .name = "netdev",
        .verify = netdev_verify,
        .apply = netdev_apply,
};
