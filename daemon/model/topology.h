/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "model/cpumask.h"
#include "kernel/root.h"

/* One group of CPUs that share something: a core (SMT siblings), an L3 cache, a NUMA
 * node or a package. id is the kernel's number where it has one (node, package), else
 * the group's lowest CPU. */
typedef struct TopologyGroup {
        int id;
        CpuMask cpus;
} TopologyGroup;

typedef struct TopologyCpu {
        bool present;
        bool online;
        int core;    /* index into Topology.cores, -1 if unknown (offline CPUs) */
        int l3;      /* index into Topology.l3s, -1 if the CPU has no L3 */
        int node;    /* index into Topology.nodes, -1 without NUMA information */
        int package; /* index into Topology.packages, -1 if unknown */
} TopologyCpu;

typedef struct Topology {
        CpuMask possible;
        CpuMask present;
        CpuMask online;
        unsigned nr_cpus; /* highest possible CPU + 1: the width of kernel masks */
        TopologyCpu *cpus; /* nr_cpus entries */
        GArray *cores;     /* TopologyGroup, in order of their lowest CPU */
        GArray *l3s;
        GArray *nodes;
        GArray *packages;
        /* private: lowest CPU of a core or L3 -> its index, so that adding thousands of
         * CPUs stays linear */
        int *core_by_first_cpu;
        int *l3_by_first_cpu;
} Topology;

Topology *topology_new(unsigned nr_cpus);
void topology_free(Topology *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Topology, topology_free)

/* Reads sys/devices/system/{cpu,node} under the root. Fails only when the CPU lists
 * themselves are unreadable; per-CPU details that are missing stay unknown (-1). */
int topology_load(const Root *root, Topology **out, GError **error);

/* Pure building blocks, used by topology_load() and by tests. A CPU joins the core and
 * L3 named by the lowest CPU of its sibling and L3 lists. */
void topology_add_cpu(Topology *t, unsigned cpu, const CpuMask *siblings, const CpuMask *l3,
                      int package_id);
void topology_add_node(Topology *t, int node_id, const CpuMask *cpus);

const TopologyGroup *topology_group(const GArray *groups, int index);
/* The core (sibling set) of a CPU, or NULL. */
const CpuMask *topology_core_of(const Topology *t, unsigned cpu);
