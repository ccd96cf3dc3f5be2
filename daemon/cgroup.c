/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "cgroup.h"
#include "error.h"
#include "log.h"
#include "macro.h"
#include "sd-glib.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

struct Cgroups {
        sd_bus *bus;
        char *address;   /* what bus is connected to */
        char *error;     /* why the last connection failed */
        int v1;          /* auto: whether cpuset is on a v1 hierarchy (-1: not looked yet) */
};

Cgroups *cgroups_new(void) {
        Cgroups *cg = g_new0(Cgroups, 1);
        cg->v1 = -1;
        return cg;
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

GPtrArray *cgroup_unit_chain(const char *unit) {
        GPtrArray *chain = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) path = g_string_new(NULL);

        /* "a-b-c.slice" nests in "a-b.slice" in "a.slice"; other units are top-level
         * here (init.scope) or named with their slice by the caller. */
        if (g_str_has_suffix(unit, ".slice")) {
                g_autofree char *stem = g_strndup(unit, strlen(unit) - strlen(".slice"));
                for (char *dash = strchr(stem, '-'); dash; dash = strchr(dash + 1, '-')) {
                        g_autofree char *prefix = g_strndup(stem, (gsize) (dash - stem));
                        g_string_append_printf(path, "%s%s.slice", path->len ? "/" : "", prefix);
                        g_ptr_array_add(chain, g_strdup(path->str));
                }
        }
        g_string_append_printf(path, "%s%s", path->len ? "/" : "", unit);
        g_ptr_array_add(chain, g_strdup(path->str));
        return chain;
}

const char *cgroup_base(CgroupBackend backend) {
        return backend == CGROUP_BACKEND_CGROUPFS_V1 ? CGROUP_V1_CPUSET : "sys/fs/cgroup";
}

char *cgroup_unit_rel(CgroupBackend backend, const char *unit) {
        g_autoptr(GPtrArray) chain = cgroup_unit_chain(unit);
        return g_strconcat(cgroup_base(backend), "/", chain->pdata[chain->len - 1], NULL);
}

static const char *unit_interface(const char *unit) {
        if (g_str_has_suffix(unit, ".scope"))
                return "org.freedesktop.systemd1.Scope";
        if (g_str_has_suffix(unit, ".service"))
                return "org.freedesktop.systemd1.Service";
        return "org.freedesktop.systemd1.Slice";
}

static int bus_fail(GError **error, int r, const sd_bus_error *e, const char *what, const char *unit) {
        g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "systemd: %s %s: %s", what, unit,
                    e && sd_bus_error_is_set(e) ? e->message : g_strerror(-r));
        return r < 0 ? r : -EIO;
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

        if ((r = need_bus(cg, error)) < 0)
                return r;
        /* LoadUnit: a slice nobody started yet is loaded (and empty) rather than unknown. */
        r = sd_bus_call_method(cg->bus, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit", &e, &reply, "s", unit);
        if (r < 0) {
                bus_fail(error, r, &e, "cannot load", unit);
                goto out;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                goto out;
        object = g_strdup(path);
        reply = sd_bus_message_unref(reply);
        r = sd_bus_get_property(cg->bus, SD_DEST, object, unit_interface(unit), "AllowedCPUs", &e, &reply, "ay");
        if (r < 0) {
                bus_fail(error, r, &e, "cannot read AllowedCPUs of", unit);
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
                bus_fail(error, r, &e, "unexpected reply for", unit);
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        return r;
}

int cgroups_systemd_unit_job(Cgroups *cg, const char *method, const char *unit, GError **error) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        int r;
        if ((r = need_bus(cg, error)) < 0)
                return r;
        r = sd_bus_call_method(cg->bus, SD_DEST, SD_PATH, SD_MANAGER, method, &e, NULL, "ss", unit, "replace");
        if (r < 0)
                bus_fail(error, r, &e, method, unit);
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
                r = sd_bus_call(cg->bus, m, 0, &e, NULL);
        if (r < 0)
                bus_fail(error, r, &e, "cannot set AllowedCPUs of", unit);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        return r < 0 ? r : 0;
}

int cgroups_systemd_attach(Cgroups *cg, const char *slice, const char *name, pid_t pid, GError **error) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if ((r = need_bus(cg, error)) < 0)
                return r;
        r = sd_bus_call_method(cg->bus, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit", &e, NULL,
                               "ssa(sv)a(sa(sv))", name, "fail", 3,
                               "Slice", "s", slice,
                               "Description", "s", "placed by isolatord",
                               "PIDs", "au", 1, (uint32_t) pid,
                               0);
        if (r < 0)
                bus_fail(error, r, &e, "cannot start a scope in", slice);
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}
