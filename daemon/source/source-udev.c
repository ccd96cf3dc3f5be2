/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <glib.h>
#include <libudev.h>
#include <string.h>
#include <unistd.h>

#include "base/coalesce.h"
#include "base/log.h"
#include "source/source-udev.h"

struct UdevSource {
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *io;
        Coalescer *coalescer;
        char *name;
        unsigned pending;
        TriggerSink sink;
};

/* A device that comes, changes or binds a driver may have requested IRQs; one that goes
 * may have freed them. */
static bool action_matters(const char *action) {
        static const char *const actions[] = { "add", "change", "bind", "remove", "online", NULL };
        return action && g_strv_contains(actions, action);
}

static void flush(void *userdata) {
        UdevSource *s = userdata;
        unsigned n = s->pending;

        s->pending = 0;
        trigger_publish(&s->sink, &(Trigger) { .kind = TRIGGER_DEVICE, .count = n });
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        UdevSource *s = userdata;
        struct udev_device *dev;
        unsigned matter = 0;

        /* Drain everything queued: the rescan below covers all of it. */
        unsigned cpus = 0;
        while ((dev = udev_monitor_receive_device(s->monitor))) {
                const char *action = udev_device_get_action(dev);
                const char *subsystem = udev_device_get_subsystem(dev);
                if (subsystem && g_str_equal(subsystem, "cpu")) {
                        /* A CPU going offline or coming online changes the partition, not
                         * the IRQs: the manager validates it again. */
                        if (action && g_strv_contains((const char *const[]) { "online", "offline", "add", "remove", NULL },
                                                      action)) {
                                cpus++;
                                log_debug("uevent %s %s", action, udev_device_get_syspath(dev));
                        }
                } else if (action_matters(action)) {
                        matter++;
                        log_debug("uevent %s %s", action, udev_device_get_syspath(dev));
                }
                udev_device_unref(dev);
        }
        if (cpus > 0)
                trigger_publish(&s->sink, &(Trigger) { .kind = TRIGGER_CPU, .count = cpus });
        if (matter > 0) {
                s->pending += matter;
                coalescer_poke(s->coalescer);
        }
        return 0;
}

/* udevd announces itself with its control socket. */
static bool udevd_running(void) {
        return access("/run/udev/control", F_OK) == 0;
}

int udev_source_new(sd_event *event, const char *name, const TriggerSink *sink, UdevSource **out) {
        UdevSource *s = g_new0(UdevSource, 1);
        int r;

        s->sink = *sink;
        s->name = g_strdup(g_str_equal(name, "auto") ? (udevd_running() ? "udev" : "kernel") : name);
        s->udev = udev_new();
        if (!s->udev) {
                r = -ENOMEM;
                goto fail;
        }
        s->monitor = udev_monitor_new_from_netlink(s->udev, s->name);
        if (!s->monitor) {
                r = log_error_errno(errno ? errno : EINVAL, "cannot open the %s udev monitor: %m", s->name);
                goto fail;
        }
        /* A burst (a hub with many devices, a driver reload) must not overflow the socket. */
        udev_monitor_set_receive_buffer_size(s->monitor, 8 * 1024 * 1024);
        r = udev_monitor_enable_receiving(s->monitor);
        if (r < 0) {
                log_error_errno(r, "cannot receive from the %s udev monitor: %m", s->name);
                goto fail;
        }
        r = sd_event_add_io(event, &s->io, udev_monitor_get_fd(s->monitor), EPOLLIN, on_io, s);
        if (r < 0)
                goto fail;
        r = coalescer_new(event, flush, s, &s->coalescer);
        if (r < 0)
                goto fail;
        log_info("watching %s uevents for devices that bring IRQs", s->name);
        *out = s;
        return 0;
fail:
        udev_source_free(s);
        return r;
}

UdevSource *udev_source_free(UdevSource *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        coalescer_free(s->coalescer);
        udev_monitor_unref(s->monitor);
        udev_unref(s->udev);
        g_free(s->name);
        g_free(s);
        return NULL;
}

const char *udev_source_name(const UdevSource *s) {
        return s->name;
}
