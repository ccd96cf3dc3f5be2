/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>

#include "base/macro.h"
#include "model/plan.h"

typedef struct Domain {
        GArray *free_cores; /* CpuMask of each free core, in CPU order */
} Domain;

/* Core counts by largest remainder, every group at least one core while cores last. */
static void plan_sizes(const Config *tmpl, unsigned ncores, unsigned *sizes, GPtrArray *notes) {
        unsigned n = tmpl->groups->len, total_w = 0, given = 0;
        g_autofree double *rem = g_new0(double, MAX(n, 1u));

        for (unsigned i = 0; i < n; i++) {
                const GroupConfig *g = tmpl->groups->pdata[i];
                total_w += MAX(cpumask_count(&g->cpus), 1u);
        }
        for (unsigned i = 0; i < n; i++) {
                const GroupConfig *g = tmpl->groups->pdata[i];
                double exact = (double) ncores * MAX(cpumask_count(&g->cpus), 1u) / total_w;
                sizes[i] = (unsigned) exact;
                rem[i] = exact - sizes[i];
                given += sizes[i];
        }
        while (given < ncores) {
                unsigned best = 0;
                for (unsigned i = 1; i < n; i++)
                        if (rem[i] > rem[best])
                                best = i;
                sizes[best]++;
                rem[best] = -1;
                given++;
        }
        /* Too few cores for all groups: the lightest give theirs up. */
        for (unsigned i = 0; i < n; i++) {
                if (sizes[i] > 0)
                        continue;
                unsigned donor = n;
                for (unsigned j = 0; j < n; j++)
                        if (sizes[j] > 1 && (donor == n || sizes[j] > sizes[donor]))
                                donor = j;
                if (donor < n) {
                        sizes[donor]--;
                        sizes[i]++;
                } else {
                        const GroupConfig *g = tmpl->groups->pdata[i];
                        g_ptr_array_add(notes, g_strdup_printf(
                                "group %s gets no CPUs: the machine has %u core%s beside housekeeping for %u groups",
                                g->name, ncores, ncores == 1 ? "" : "s", n));
                }
        }
}

/* Takes n free cores from one domain into out. */
static void take_cores(Domain *d, unsigned n, CpuMask *out) {
        for (unsigned k = 0; k < n; k++)
                cpumask_or(out, out, &g_array_index(d->free_cores, CpuMask, k));
        g_array_remove_range(d->free_cores, 0, n);
}

static void place_group(Domain *domains, unsigned ndomains, unsigned need, CpuMask *out) {
        while (need > 0) {
                Domain *fit = NULL, *largest = NULL;
                for (unsigned i = 0; i < ndomains; i++) {
                        unsigned f = domains[i].free_cores->len;
                        if (f >= need && (!fit || f < fit->free_cores->len))
                                fit = &domains[i];
                        if (f > 0 && (!largest || f > largest->free_cores->len))
                                largest = &domains[i];
                }
                if (fit) {
                        take_cores(fit, need, out);
                        return;
                }
                if (!largest)
                        return;
                need -= largest->free_cores->len;
                take_cores(largest, largest->free_cores->len, out);
        }
}

Config *plan_partition(const Topology *t, const Config *tmpl, GPtrArray **notes_out) {
        g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
        Config *c = config_new_empty();
        g_autofree unsigned *sizes = NULL;
        g_autofree Domain *domains = NULL;
        unsigned ndomains, ncores = 0;
        const CpuMask *boot_core;

        assert(t);
        assert(tmpl);

        c->sampler = tmpl->sampler;
        c->daemon = tmpl->daemon;
        c->daemon.udev_monitor = g_strdup(tmpl->daemon.udev_monitor);
        c->daemon.systemd_address = g_strdup(tmpl->daemon.systemd_address);
        c->cpu_dma_latency_us = tmpl->cpu_dma_latency_us;
        c->network = tmpl->network;
        c->metrics = tmpl->metrics;
        c->metrics.textfile_dir = g_strdup(tmpl->metrics.textfile_dir);

        boot_core = topology_core_of(t, 0);
        cpumask_zero(&c->housekeeping);
        if (boot_core)
                cpumask_and(&c->housekeeping, boot_core, &t->online);
        cpumask_add(&c->housekeeping, 0);

        /* One domain per L3, plus one for CPUs whose L3 is unknown. */
        ndomains = t->l3s->len + 1;
        domains = g_new0(Domain, ndomains);
        for (unsigned i = 0; i < ndomains; i++)
                domains[i].free_cores = g_array_new(false, false, sizeof(CpuMask));
        for (unsigned ci = 0; ci < t->cores->len; ci++) {
                CpuMask core;
                cpumask_and(&core, &g_array_index(t->cores, TopologyGroup, ci).cpus, &t->online);
                int first = cpumask_first(&core);
                if (first < 0 || cpumask_intersects(&core, &c->housekeeping))
                        continue;
                int l3 = t->cpus[first].l3;
                g_array_append_val(domains[l3 >= 0 ? (unsigned) l3 : ndomains - 1].free_cores, core);
                ncores++;
        }

        sizes = g_new0(unsigned, MAX(tmpl->groups->len, 1u));
        plan_sizes(tmpl, ncores, sizes, notes);

        for (unsigned i = 0; i < tmpl->groups->len; i++) {
                if (sizes[i] == 0)
                        continue;
                GroupConfig *g = group_config_copy(tmpl->groups->pdata[i]);
                cpumask_zero(&g->cpus);
                place_group(domains, ndomains, sizes[i], &g->cpus);
                g_ptr_array_add(c->groups, g);
        }

        for (unsigned i = 0; i < ndomains; i++)
                g_array_unref(domains[i].free_cores);
        if (notes_out)
                *notes_out = g_steal_pointer(&notes);
        return c;
}
