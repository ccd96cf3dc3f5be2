/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "model/topology.h"

Topology *topology_new(unsigned nr_cpus) {
        Topology *t = g_new0(Topology, 1);

        assert(nr_cpus <= CPUMASK_MAX);
        t->nr_cpus = nr_cpus;
        t->cpus = g_new(TopologyCpu, MAX(nr_cpus, 1u));
        for (unsigned i = 0; i < nr_cpus; i++)
                t->cpus[i] = (TopologyCpu) { .core = -1, .l3 = -1, .node = -1, .package = -1 };
        t->cores = g_array_new(false, false, sizeof(TopologyGroup));
        t->l3s = g_array_new(false, false, sizeof(TopologyGroup));
        t->nodes = g_array_new(false, false, sizeof(TopologyGroup));
        t->packages = g_array_new(false, false, sizeof(TopologyGroup));
        t->core_by_first_cpu = g_new(int, MAX(nr_cpus, 1u));
        t->l3_by_first_cpu = g_new(int, MAX(nr_cpus, 1u));
        for (unsigned i = 0; i < nr_cpus; i++)
                t->core_by_first_cpu[i] = t->l3_by_first_cpu[i] = -1;
        return t;
}

void topology_free(Topology *t) {
        if (!t)
                return;
        g_free(t->cpus);
        g_free(t->core_by_first_cpu);
        g_free(t->l3_by_first_cpu);
        g_array_unref(t->cores);
        g_array_unref(t->l3s);
        g_array_unref(t->nodes);
        g_array_unref(t->packages);
        g_free(t);
}

const TopologyGroup *topology_group(const GArray *groups, int index) {
        if (index < 0 || (unsigned) index >= groups->len)
                return NULL;
        return &g_array_index(groups, TopologyGroup, index);
}

const CpuMask *topology_core_of(const Topology *t, unsigned cpu) {
        if (cpu >= t->nr_cpus)
                return NULL;
        const TopologyGroup *g = topology_group(t->cores, t->cpus[cpu].core);
        return g ? &g->cpus : NULL;
}

/* Finds the group with this id, or appends it; CPUs are added to it. Used for
 * packages and nodes, which are few. */
static int group_find_or_add(GArray *groups, int id, const CpuMask *cpus) {
        for (unsigned i = groups->len; i-- > 0;) {
                TopologyGroup *g = &g_array_index(groups, TopologyGroup, i);
                if (g->id == id) {
                        cpumask_or(&g->cpus, &g->cpus, cpus);
                        return (int) i;
                }
        }
        TopologyGroup g = { .id = id, .cpus = *cpus };
        g_array_append_val(groups, g);
        return (int) groups->len - 1;
}

/* A CPU joins the core and L3 named by the lowest CPU of its sibling and L3 lists;
 * any CPU of the core finds the same group, whatever order CPUs are added in. */
static int group_by_first_cpu(GArray *groups, const CpuMask *cpus, int *index_of_first) {
        int first = cpumask_first(cpus);
        if (first < 0)
                return -1;
        if (index_of_first[first] < 0)
                index_of_first[first] = group_find_or_add(groups, first, cpus);
        return index_of_first[first];
}

void topology_add_cpu(Topology *t, unsigned cpu, const CpuMask *siblings, const CpuMask *l3,
                      int package_id) {
        CpuMask self;
        TopologyCpu *c;

        assert(t);
        assert(cpu < t->nr_cpus);
        c = &t->cpus[cpu];
        cpumask_zero(&self);
        cpumask_add(&self, cpu);

        /* Siblings always include the CPU itself; a kernel that omits the file is
         * treated as one thread per core. */
        CpuMask core = siblings ? *siblings : self;
        cpumask_add(&core, cpu);
        c->core = group_by_first_cpu(t->cores, &core, t->core_by_first_cpu);
        if (l3 && !cpumask_is_empty(l3))
                c->l3 = group_by_first_cpu(t->l3s, l3, t->l3_by_first_cpu);
        if (package_id >= 0)
                c->package = group_find_or_add(t->packages, package_id, &self);
}

void topology_add_node(Topology *t, int node_id, const CpuMask *cpus) {
        int index = group_find_or_add(t->nodes, node_id, cpus);
        CPUMASK_FOREACH(cpu, cpus)
                if ((unsigned) cpu < t->nr_cpus)
                        t->cpus[cpu].node = index;
}

/* The L3 is the cache index whose "level" is 3; index3 on every x86 kernel we know,
 * but the numbering is not an ABI. */
static bool read_l3(const Root *root, unsigned cpu, CpuMask *out) {
        for (unsigned idx = 0; idx < 8; idx++) {
                g_autofree char *level = g_strdup_printf("sys/devices/system/cpu/cpu%u/cache/index%u/level", cpu, idx);
                g_autofree char *shared = g_strdup_printf("sys/devices/system/cpu/cpu%u/cache/index%u/shared_cpu_list", cpu, idx);
                long v;
                if (root_read_int(root, level, &v) < 0 || v != 3)
                        continue;
                return root_read_cpulist(root, shared, out) >= 0;
        }
        return false;
}

static void load_nodes(const Root *root, Topology *t) {
        g_autofree char *dir_path = root_path(root, "sys/devices/system/node");
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        const char *name;

        if (!dir)
                return; /* no NUMA support: nodes stay unknown */
        while ((name = g_dir_read_name(dir))) {
                char *end;
                if (!g_str_has_prefix(name, "node"))
                        continue;
                long id = strtol(name + 4, &end, 10);
                if (end == name + 4 || *end || id < 0)
                        continue;
                g_autofree char *rel = g_strdup_printf("sys/devices/system/node/%s/cpulist", name);
                CpuMask cpus;
                if (root_read_cpulist(root, rel, &cpus) < 0)
                        continue;
                topology_add_node(t, (int) id, &cpus);
        }
}

static int compare_group_id(gconstpointer a, gconstpointer b) {
        const TopologyGroup *x = a, *y = b;
        return (x->id > y->id) - (x->id < y->id);
}

static int read_required_cpulist(const Root *root, const char *rel, CpuMask *out, GError **error) {
        int r = root_read_cpulist(root, rel, out);
        if (r < 0) {
                g_autofree char *path = root_path(root, rel);
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot read the CPU list %s: %s", path, g_strerror(-r));
        }
        return r;
}

int topology_load(const Root *root, Topology **out, GError **error) {
        g_autoptr(Topology) t = NULL;
        CpuMask possible, present, online;
        int r;

        assert(root);
        assert(out);

        r = read_required_cpulist(root, "sys/devices/system/cpu/possible", &possible, error);
        if (r < 0)
                return r;
        r = read_required_cpulist(root, "sys/devices/system/cpu/online", &online, error);
        if (r < 0)
                return r;
        if (root_read_cpulist(root, "sys/devices/system/cpu/present", &present) < 0)
                present = possible;

        t = topology_new((unsigned) (cpumask_last(&possible) + 1));
        t->possible = possible;
        t->present = present;
        cpumask_and(&t->online, &online, &possible);

        CPUMASK_FOREACH(cpu, &possible) {
                g_autofree char *sib_rel = g_strdup_printf("sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
                g_autofree char *pkg_rel = g_strdup_printf("sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
                CpuMask siblings, l3;
                long package = -1;

                t->cpus[cpu].present = cpumask_has(&present, cpu);
                t->cpus[cpu].online = cpumask_has(&t->online, cpu);
                /* An offline CPU has no topology directory: it stays unknown. */
                if (!t->cpus[cpu].online)
                        continue;
                bool have_siblings = root_read_cpulist(root, sib_rel, &siblings) >= 0;
                bool have_l3 = read_l3(root, (unsigned) cpu, &l3);
                if (root_read_int(root, pkg_rel, &package) < 0)
                        package = -1;
                topology_add_cpu(t, (unsigned) cpu, have_siblings ? &siblings : NULL,
                                          have_l3 ? &l3 : NULL, (int) package);
        }
        load_nodes(root, t);
        g_array_sort(t->nodes, compare_group_id);
        g_array_sort(t->packages, compare_group_id);
        /* Sorting moved groups: point every CPU at its node and package again. */
        for (unsigned i = 0; i < t->nodes->len; i++)
                CPUMASK_FOREACH(cpu, &g_array_index(t->nodes, TopologyGroup, i).cpus)
                        if ((unsigned) cpu < t->nr_cpus)
                                t->cpus[cpu].node = (int) i;
        for (unsigned i = 0; i < t->packages->len; i++)
                CPUMASK_FOREACH(cpu, &g_array_index(t->packages, TopologyGroup, i).cpus)
                        if ((unsigned) cpu < t->nr_cpus)
                                t->cpus[cpu].package = (int) i;

        log_debug("topology under %s: %u CPUs possible, %u online, %u cores, %u L3, %u nodes",
                  root_dir(root), cpumask_count(&possible), cpumask_count(&t->online),
                  t->cores->len, t->l3s->len, t->nodes->len);
        *out = g_steal_pointer(&t);
        return 0;
}
