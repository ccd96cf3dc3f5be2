/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "model/config.h"
#include "model/cpumask.h"
#include "kernel/root.h"

/* Who owns the cgroup tree. On a systemd machine systemd does, and rewrites unit
 * cpusets on daemon-reload: slice CPUs go through its API (SetUnitProperties
 * AllowedCPUs) and processes into transient scopes. Without a manager isolatord writes
 * cgroupfs itself. One Cgroups lives as long as the daemon and keeps the connection to
 * the manager's private bus. */
typedef struct Cgroups Cgroups;

Cgroups *cgroups_new(void);
void cgroups_free(Cgroups *cg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Cgroups, cgroups_free)

/* Where the cpuset controller's v1 hierarchy is mounted on a hybrid host (Debian 10,
 * systemd.unified_cgroup_hierarchy=0): the only place the v1 backend looks. */
#define CGROUP_V1_CPUSET "sys/fs/cgroup/cpuset"

/* SYSTEMD, CGROUPFS or CGROUPFS_V1 for this configuration: "auto" takes CGROUPFS_V1
 * when v2 has no cpuset controller and the v1 hierarchy is there, else systemd when the
 * root is the host's and the manager answers at SystemdAddress; a configured "systemd"
 * that does not answer stays SYSTEMD, and its calls fail (findings say so). */
CgroupBackend cgroups_backend(Cgroups *cg, const Root *root, const Config *c);

/* The top of the cgroup tree the backend writes, relative to the root. */
const char *cgroup_base(CgroupBackend backend);
/* The cgroupfs folder of a unit, relative to the root, as systemd lays slices out:
 * "a-b.slice" is "sys/fs/cgroup/a.slice/a-b.slice" (under the v1 cpuset hierarchy's
 * top for CGROUPFS_V1). */
char *cgroup_unit_rel(CgroupBackend backend, const char *unit);
/* The folders from the top to the unit's own: "a.slice", "a.slice/a-b.slice". */
GPtrArray *cgroup_unit_chain(const char *unit);

/* systemd: the unit's AllowedCPUs (empty: not set) and its control group path. */
int cgroups_systemd_get_cpus(Cgroups *cg, const char *unit, CpuMask *out, char **control_group, GError **error);
/* Runtime only (the manager's system.control/ drop-in); empty resets it. */
int cgroups_systemd_set_cpus(Cgroups *cg, const char *unit, const CpuMask *cpus, GError **error);
/* A job on a unit: method is StartUnit, StopUnit or RestartUnit (mode "replace"). */
int cgroups_systemd_unit_job(Cgroups *cg, const char *method, const char *unit, GError **error);
/* A transient scope NAME in slice holding pid: how a process joins a slice under systemd.
 * StartTransientUnit only queues a job: the process is in the scope when systemd says the
 * job ended (JobRemoved). With a loop (cgroups_set_event) the call returns once the job
 * is queued and the listener hears its end; the loop never waits on PID 1. Without one
 * (tests, offline verbs) it waits for the job, at most a few seconds. */
int cgroups_systemd_attach(Cgroups *cg, const char *slice, const char *name, pid_t pid, GError **error);
/* The loop the manager's connection joins; NULL: none. */
void cgroups_set_event(Cgroups *cg, sd_event *event);
/* Who hears that a move ended: the process, the scope, 0 or a negative errno with
 * systemd's word for it. */
typedef void (*CgroupsMoved)(pid_t pid, const char *scope, int error, const char *why, void *userdata);
void cgroups_set_moved(Cgroups *cg, CgroupsMoved moved, void *userdata);
/* The control group of a loaded unit as the systemd manager at address reports it
 * ("/system.slice/hqplayerd.service"): what Unit= trusts. -ENOENT when the manager has
 * no such unit or it has no control group (not running); -ENOTCONN without a manager. */
int cgroups_systemd_unit_cgroup(Cgroups *cg, const char *address, const char *unit, char **out, GError **error);
