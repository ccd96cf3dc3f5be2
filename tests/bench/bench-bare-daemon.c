/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The bare equivalent of isolatord at rest, for its memory figure: the same libraries
 * loaded and initialised (glib, libsystemd's loop and system bus with isolatord's name, libudev,
 * libnl-3, zlib) and nothing else. It runs until killed. */
#include <glib.h>
#include <libudev.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <zlib.h>

int main(void) {
        sd_event *event = NULL;
        sd_bus *bus = NULL;
        struct udev *udev = udev_new();
        struct nl_sock *sock = nl_socket_alloc();
        g_autofree char *version = g_strdup_printf("zlib %s", zlibVersion());

        if (sd_event_default(&event) < 0 || sd_bus_open_system(&bus) < 0 || sd_bus_attach_event(bus, event, 0) < 0 ||
            sd_bus_request_name(bus, "org.rtaudio.Isolator", 0) < 0 || !udev || !sock || !version)
                return 1;
        return sd_event_loop(event) < 0;
}
