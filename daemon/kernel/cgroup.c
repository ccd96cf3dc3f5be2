/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "kernel/cgroup.h"
#include "base/error.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/sd-glib.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
/* A manager that takes longer than this to say where a unit runs is stalled: the loop
 * (and every bus caller) is not held for it. Changes (a job, AllowedCPUs=) may wait on a
 * busy manager at boot a while longer. */
#define READ_TIMEOUT_USEC (1 * G_USEC_PER_SEC)
#define WRITE_TIMEOUT_USEC (10 * G_USEC_PER_SEC)
/* After a call timed out, the manager is asked no question for this long (each would
 * hold the loop for the timeout again), until it shows life (an answer to a change, a
 * job's end). Changes (apply, revert) are always tried. */
#define STALLED_PAUSE_USEC (15 * G_USEC_PER_SEC)

/* A process on its way into a scope: StartTransientUnit queued a job, and the process
 * is in the scope once systemd says the job ended (JobRemoved). */
typedef struct Move {
        Cgroups *owner;
        pid_t pid;
        char *scope;
        char *job;           /* the job's object path, once the call answered */
        sd_bus_slot *call;   /* StartTransientUnit while it has not answered */
        bool wait;           /* the caller waits for the end (no loop): nobody is told */
        bool ended;
        int error;
        char *why;
} Move;

struct Cgroups {
        sd_bus *bus;
        char *address;   /* what bus is connected to */
        char *error;     /* why the last connection failed */
        int v1;          /* auto: whether cpuset is on a v1 hierarchy (-1: not looked yet) */
        sd_event *event; /* the loop the connection joins, or NULL */
        sd_bus_slot *job_removed;
        GPtrArray *moves; /* Move*: queued, not ended */
        Move *waiting;    /* the move a caller without a loop waits for, not in moves */
        int64_t stalled_until; /* CLOCK_MONOTONIC: no question before, the last timed out */
        CgroupsMoved moved;
        void *moved_userdata;
};

static void move_free(Move *mv) {
        sd_bus_slot_unref(mv->call);
        g_free(mv->scope);
        g_free(mv->job);
        g_free(mv->why);
        g_free(mv);
}

Cgroups *cgroups_new(void) {
        Cgroups *cg = g_new0(Cgroups, 1);
        cg->v1 = -1;
        cg->moves = g_ptr_array_new_with_free_func((GDestroyNotify) move_free);
        return cg;
}

void cgroups_set_event(Cgroups *cg, sd_event *event) {
        cg->event = event;
        if (cg->bus && event && !sd_bus_get_event(cg->bus))
                (void) sd_bus_attach_event(cg->bus, event, SD_EVENT_PRIORITY_NORMAL);
}

void cgroups_set_moved(Cgroups *cg, CgroupsMoved moved, void *userdata) {
        cg->moved = moved;
        cg->moved_userdata = userdata;
}

/* A move is over: told to the listener (unless its caller waits for it), and forgotten. */
static void move_end(Move *mv, int error, const char *why) {
        Cgroups *cg = mv->owner;
        pid_t pid = mv->pid;

        mv->ended = true;
        mv->error = error;
        g_free(mv->why);
        mv->why = g_strdup(why);
        mv->call = sd_bus_slot_unref(mv->call);
        if (mv->wait)
                return; /* the caller reads it */
        g_autofree char *scope = g_strdup(mv->scope);
        g_ptr_array_remove(cg->moves, mv);
        if (cg->moved)
                cg->moved(pid, scope, error, why, cg->moved_userdata);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Cgroups *cg = userdata;
        const char *job, *unit, *result;
        uint32_t id;

        cg->stalled_until = 0; /* it speaks */
        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
                return 0;
        for (unsigned i = 0; i <= cg->moves->len; i++) {
                Move *mv = i < cg->moves->len ? cg->moves->pdata[i] : cg->waiting;
                if (!mv)
                        break;
                if (!mv->job || !g_str_equal(mv->job, job))
                        continue;
                if (g_str_equal(result, "done"))
                        move_end(mv, 0, NULL);
                else {
                        g_autofree char *why = g_strdup_printf("systemd's job for %s ended \"%s\"", unit, result);
                        move_end(mv, -EIO, why);
                }
                break;
        }
        return 0;
}

static int on_attach_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Move *mv = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *job;

        if (!sd_bus_error_has_name(e, SD_BUS_ERROR_TIMEOUT) && !sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY))
                mv->owner->stalled_until = 0; /* it answered */
        if (e) {
                int err = sd_bus_message_get_errno(reply);
                move_end(mv, err > 0 ? -err : -EIO, e->message);
        } else if (sd_bus_message_read(reply, "o", &job) < 0)
                move_end(mv, -EBADMSG, "StartTransientUnit answered something else than a job");
        else {
                mv->job = g_strdup(job);
                mv->call = sd_bus_slot_unref(mv->call);
        }
        return 0;
}

/* Moves queued on a connection that went away never hear of their jobs. */
static void moves_fail(Cgroups *cg, const char *why) {
        while (cg->moves->len > 0)
                move_end(cg->moves->pdata[cg->moves->len - 1], -ECONNRESET, why);
        if (cg->waiting && !cg->waiting->ended)
                move_end(cg->waiting, -ECONNRESET, why); /* its caller reads and frees it */
}

/* The layout is the boot's (systemd.unified_cgroup_hierarchy=): looked at once. */
static bool cpuset_on_v1(Cgroups *cg, const Root *root) {
        g_autofree char *controllers = NULL;
        if (cg->v1 < 0) {
                g_auto(GStrv) words = NULL;
                bool v2 = false;
                if (root_read_line(root, "sys/fs/cgroup/cgroup.controllers", &controllers) >= 0) {
                        words = g_strsplit(controllers, " ", -1);
                        v2 = g_strv_contains((const char *const *) words, "cpuset");
                }
                cg->v1 = !v2 && root_exists(root, CGROUP_V1_CPUSET "/cpuset.cpus");
        }
        return cg->v1 > 0;
}

void cgroups_free(Cgroups *cg) {
        if (!cg)
                return;
        g_ptr_array_unref(cg->moves);
        sd_bus_slot_unref(cg->job_removed);
        sd_bus_flush_close_unref(cg->bus);
        g_free(cg->address);
        g_free(cg->error);
        g_free(cg);
}

/* The manager's private socket speaks D-Bus peer to peer, as systemctl does as root. */
static int systemd_connect(Cgroups *cg, const char *address) {
        sd_bus *bus = NULL;
        int r;

        if (cg->bus && sd_bus_is_open(cg->bus) > 0 && g_strcmp0(cg->address, address) == 0)
                return 0;
        moves_fail(cg, "the connection to the systemd manager was lost");
        cg->job_removed = sd_bus_slot_unref(cg->job_removed);
        cg->bus = sd_bus_flush_close_unref(cg->bus);
        g_clear_pointer(&cg->error, g_free);
        g_free(cg->address);
        cg->address = g_strdup(address);
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                cg->error = g_strdup_printf("cannot connect to the systemd manager at %s: %s", address, g_strerror(-r));
                sd_bus_unref(bus);
                return r;
        }
        /* The manager sends its signals to every connection of its private socket: no
         * Subscribe, and no sender to match (a peer-to-peer connection has none). */
        r = sd_bus_match_signal(bus, &cg->job_removed, NULL, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, cg);
        if (r >= 0)
                r = sd_bus_set_method_call_timeout(bus, READ_TIMEOUT_USEC);
        if (r >= 0 && cg->event)
                r = sd_bus_attach_event(bus, cg->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                cg->error = g_strdup_printf("cannot watch the systemd manager's jobs at %s: %s", address, g_strerror(-r));
                cg->job_removed = sd_bus_slot_unref(cg->job_removed);
                sd_bus_flush_close_unref(bus);
                return r;
        }
        cg->bus = bus;
        return 0;
}

CgroupBackend cgroups_backend(Cgroups *cg, const Root *root, const Config *c) {
        switch (c->daemon.cgroup_backend) {
        case CGROUP_BACKEND_CGROUPFS:
                return CGROUP_BACKEND_CGROUPFS;
        case CGROUP_BACKEND_CGROUPFS_V1:
                return CGROUP_BACKEND_CGROUPFS_V1;
        case CGROUP_BACKEND_SYSTEMD:
                (void) systemd_connect(cg, c->daemon.systemd_address);
                return CGROUP_BACKEND_SYSTEMD;
        case CGROUP_BACKEND_AUTO:
                /* systemd sets AllowedCPUs= on v2 only: a hybrid host's cpusets are v1's. */
                if (cpuset_on_v1(cg, root))
                        return CGROUP_BACKEND_CGROUPFS_V1;
                /* A fake root describes another machine: never its host's systemd. */
                if (root_is_host(root) && systemd_connect(cg, c->daemon.systemd_address) >= 0)
                        return CGROUP_BACKEND_SYSTEMD;
                return CGROUP_BACKEND_CGROUPFS;
        }
        return CGROUP_BACKEND_CGROUPFS;
}

/* unit's folder appended to path, a folder at a time: "a-b-c.slice" nests in
 * "a-b.slice" in "a.slice"; other units are top-level here (init.scope) or named with
 * their slice by the caller. With chain, each folder on the way is added to it, as
 * path holds it from from on. */
static void append_unit_folders(GString *path, size_t from, const char *unit, GPtrArray *chain) {
        if (g_str_has_suffix(unit, ".slice")) {
                const char *stem_end = unit + strlen(unit) - strlen(".slice");
                for (const char *dash = unit; (dash = memchr(dash, '-', (size_t) (stem_end - dash))); dash++) {
                        if (path->len > from)
                                g_string_append_c(path, '/');
                        g_string_append_len(path, unit, dash - unit);
                        g_string_append(path, ".slice");
                        if (chain)
                                g_ptr_array_add(chain, g_strdup(path->str + from));
                }
        }
        if (path->len > from)
                g_string_append_c(path, '/');
        g_string_append(path, unit);
        if (chain)
                g_ptr_array_add(chain, g_strdup(path->str + from));
}

GPtrArray *cgroup_unit_chain(const char *unit) {
        GPtrArray *chain = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) path = g_string_new(NULL);
        append_unit_folders(path, 0, unit, chain);
        return chain;
}

const char *cgroup_base(CgroupBackend backend) {
        return backend == CGROUP_BACKEND_CGROUPFS_V1 ? CGROUP_V1_CPUSET : "sys/fs/cgroup";
}

/* The chain's last folder, built in one string: every cgroup event asks it of each unit
 * the cpusets keep. */
char *cgroup_unit_rel(CgroupBackend backend, const char *unit) {
        GString *path = g_string_new(cgroup_base(backend));
        g_string_append_c(path, '/');
        append_unit_folders(path, path->len, unit, NULL);
        return g_string_free(path, false);
}

static const char *unit_interface(const char *unit) {
        if (g_str_has_suffix(unit, ".scope"))
                return "org.freedesktop.systemd1.Scope";
        if (g_str_has_suffix(unit, ".service"))
                return "org.freedesktop.systemd1.Service";
        if (g_str_has_suffix(unit, ".socket"))
                return "org.freedesktop.systemd1.Socket";
        return "org.freedesktop.systemd1.Slice";
}

static int bus_fail(Cgroups *cg, GError **error, int r, const sd_bus_error *e, const char *what, const char *unit) {
        if (r == -ETIMEDOUT)
                cg->stalled_until = g_get_monotonic_time() + STALLED_PAUSE_USEC;
        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "systemd: %s %s: %s", what, unit,
                    e && sd_bus_error_is_set(e) ? e->message : g_strerror(-r));
        return r < 0 ? r : -EIO;
}

/* -ETIMEDOUT while a manager that did not answer is left alone. */
static int stalled(Cgroups *cg, GError **error) {
        int64_t left = cg->stalled_until - g_get_monotonic_time();
        if (left <= 0)
                return 0;
        g_set_error(error, ISO_ERROR, ISO_ERROR_IO,
                    "the systemd manager did not answer within %d s; it is asked again in %" G_GINT64_FORMAT " s",
                    (int) (READ_TIMEOUT_USEC / G_USEC_PER_SEC), (left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
        return -ETIMEDOUT;
}

static int need_bus(Cgroups *cg, GError **error) {
        if (cg->bus)
                return 0;
        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "%s", cg->error ? cg->error : "no systemd manager");
        return -ENOTCONN;
}

static void cpus_to_bytes(const CpuMask *cpus, GByteArray *out) {
        int last = cpumask_last(cpus);
        for (int b = 0; last >= 0 && b <= last / 8; b++) {
                guint8 byte = 0;
                for (int bit = 0; bit < 8; bit++)
                        if (cpumask_has(cpus, b * 8 + bit))
                                byte |= (guint8) (1u << bit);
                g_byte_array_append(out, &byte, 1);
        }
}

int cgroups_systemd_get_cpus(Cgroups *cg, const char *unit, CpuMask *out, char **control_group, GError **error) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        g_autofree char *object = NULL;
        const char *path;
        const void *bytes;
        size_t n;
        int r;

        if ((r = need_bus(cg, error)) < 0 || (r = stalled(cg, error)) < 0)
                return r;
        /* LoadUnit: a slice nobody started yet is loaded (and empty) rather than unknown. */
        r = sd_bus_call_method(cg->bus, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit", &e, &reply, "s", unit);
        if (r < 0) {
                bus_fail(cg, error, r, &e, "cannot load", unit);
                goto out;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                goto out;
        object = g_strdup(path);
        reply = sd_bus_message_unref(reply);
        r = sd_bus_get_property(cg->bus, SD_DEST, object, unit_interface(unit), "AllowedCPUs", &e, &reply, "ay");
        if (r < 0) {
                bus_fail(cg, error, r, &e, "cannot read AllowedCPUs of", unit);
                goto out;
        }
        r = sd_bus_message_read_array(reply, 'y', &bytes, &n);
        if (r < 0)
                goto out;
        cpumask_zero(out);
        for (size_t i = 0; i < n; i++)
                for (unsigned bit = 0; bit < 8; bit++)
                        if (((const guint8 *) bytes)[i] & (1u << bit))
                                cpumask_add(out, (unsigned) (i * 8 + bit));
        if (control_group) {
                char *cgpath = NULL;
                reply = sd_bus_message_unref(reply);
                if (sd_bus_get_property_string(cg->bus, SD_DEST, object, unit_interface(unit), "ControlGroup", &e,
                                               &cgpath) >= 0) {
                        *control_group = g_strdup(cgpath);
                        free(cgpath);
                } else
                        *control_group = NULL;
                sd_bus_error_free(&e);
        }
        r = 0;
out:
        if (r < 0 && error && !*error)
                bus_fail(cg, error, r, &e, "unexpected reply for", unit);
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return r;
}

int cgroups_systemd_unit_job(Cgroups *cg, const char *method, const char *unit, GError **error) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        int r;
        if ((r = need_bus(cg, error)) < 0)
                return r;
        g_autoptr(sd_bus_message) m = NULL;
        r = sd_bus_message_new_method_call(cg->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, method);
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r >= 0)
                r = sd_bus_call(cg->bus, m, WRITE_TIMEOUT_USEC, &e, NULL);
        if (r >= 0)
                cg->stalled_until = 0; /* it answered */
        if (r < 0)
                bus_fail(cg, error, r, &e, method, unit);
        return r < 0 ? r : 0;
}

int cgroups_systemd_set_cpus(Cgroups *cg, const char *unit, const CpuMask *cpus, GError **error) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        g_autoptr(GByteArray) bytes = g_byte_array_new();
        int r;

        if ((r = need_bus(cg, error)) < 0)
                return r;
        cpus_to_bytes(cpus, bytes);
        r = sd_bus_message_new_method_call(cg->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "SetUnitProperties");
        if (r >= 0)
                r = sd_bus_message_append(m, "sb", unit, 1);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "AllowedCPUs");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', bytes->data, bytes->len);
        for (int i = 0; r >= 0 && i < 3; i++)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_call(cg->bus, m, WRITE_TIMEOUT_USEC, &e, NULL);
        if (r >= 0)
                cg->stalled_until = 0; /* it answered */
        if (r < 0)
                bus_fail(cg, error, r, &e, "cannot set AllowedCPUs of", unit);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        return r < 0 ? r : 0;
}

int cgroups_systemd_attach(Cgroups *cg, const char *slice, const char *name, pid_t pid, GError **error) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const char *job;
        int r;

        if ((r = need_bus(cg, error)) < 0)
                return r;
        Move *mv = g_new0(Move, 1);
        mv->owner = cg;
        mv->pid = pid;
        mv->scope = g_strdup(name);
        mv->wait = !sd_bus_get_event(cg->bus);
        g_autoptr(sd_bus_message) m = NULL;
        r = sd_bus_message_new_method_call(cg->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ssa(sv)a(sa(sv))", name, "fail", 3, "Slice", "s", slice, "Description", "s",
                                          "placed by isolatord", "PIDs", "au", 1, (uint32_t) pid, 0);
        if (r >= 0 && !mv->wait) {
                r = sd_bus_call_async(cg->bus, &mv->call, m, on_attach_reply, mv, WRITE_TIMEOUT_USEC);
                if (r < 0) {
                        move_free(mv);
                        return bus_fail(cg, error, r, NULL, "cannot start a scope in", slice);
                }
                g_ptr_array_add(cg->moves, mv);
                return 1;
        }
        if (r >= 0)
                r = sd_bus_call(cg->bus, m, WRITE_TIMEOUT_USEC, &e, &reply);
        if (r >= 0)
                cg->stalled_until = 0; /* it answered */
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &job);
        if (r < 0) {
                move_free(mv);
                return bus_fail(cg, error, r, &e, "cannot start a scope in", slice);
        }
        mv->job = g_strdup(job);
        cg->waiting = mv;
        for (int64_t end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC; !mv->ended;) {
                int64_t left = end - g_get_monotonic_time();
                if ((r = sd_bus_process(cg->bus, NULL)) > 0)
                        continue;
                if (r >= 0 && left <= 0)
                        r = -ETIMEDOUT;
                if (r >= 0)
                        r = sd_bus_wait(cg->bus, (uint64_t) left);
                if (r < 0)
                        break;
        }
        if (mv->ended)
                r = mv->error;
        if (r < 0)
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "systemd: cannot move %d into %s: %s", (int) pid, slice,
                            mv->why ? mv->why : g_strerror(-r));
        cg->waiting = NULL;
        move_free(mv);
        return r < 0 ? r : 0;
}

int cgroups_systemd_unit_cgroup(Cgroups *cg, const char *address, const char *unit, char **out, GError **error) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *object = NULL;
        char *path = NULL;
        const char *o;
        int r;

        if (systemd_connect(cg, address) < 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "%s", cg->error);
                return -ENOTCONN;
        }
        if ((r = stalled(cg, error)) < 0)
                return r;
        /* GetUnit, not LoadUnit: a unit the manager has not loaded runs nothing. */
        r = sd_bus_call_method(cg->bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &e, &reply, "s", unit);
        if (r < 0 && sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit")) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_NOT_FOUND, "the systemd manager runs no unit %s", unit);
                return -ENOENT;
        }
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &o);
        if (r < 0)
                return bus_fail(cg, error, r, &e, "cannot ask for", unit);
        object = g_strdup(o);
        r = sd_bus_get_property_string(cg->bus, SD_DEST, object, unit_interface(unit), "ControlGroup", &e, &path);
        if (r < 0)
                return bus_fail(cg, error, r, &e, "cannot read the control group of", unit);
        if (!path[0]) {
                free(path);
                g_set_error(error, ISO_ERROR, ISO_ERROR_NOT_FOUND, "unit %s runs no process", unit);
                return -ENOENT;
        }
        *out = g_strdup(path);
        free(path);
        return 0;
}
