/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hotplug under umockdev: isolatord runs with the umockdev preload, so its udev monitor
 * receives the testbed's uevents; its --root is a fake 7700X where the harness makes the
 * IRQ a new device would request. A device added with a new IRQ gets it pinned without
 * any Apply or Verify (the periodic verify is an hour away); a removed device's IRQ
 * vanishing is no error; a burst of uevents is coalesced into fewer rescans.
 * Usage (under umockdev-wrapper, on a private bus): hotplug WORKDIR */
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <umockdev.h>

static unsigned passed, failed;

#define CHECK(cond, ...)                                         \
        do {                                                     \
                if (cond)                                        \
                        passed++;                                \
                else {                                           \
                        failed++;                                \
                        fprintf(stderr, "FAIL: " __VA_ARGS__);   \
                        fputc('\n', stderr);                     \
                }                                                \
        } while (0)

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *read_line(const char *path) {
        char *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, NULL))
                return g_strdup("");
        return g_strchomp(text);
}

/* The IRQ a device's driver requests: /proc/irq/N with its handler's folder. */
static void make_irq(const char *root, unsigned irq, const char *action) {
        g_autofree char *dir = g_strdup_printf("%s/proc/irq/%u/%s", root, irq, action);
        g_autofree char *aff = g_strdup_printf("%s/proc/irq/%u/smp_affinity_list", root, irq);
        g_mkdir_with_parents(dir, 0755);
        g_file_set_contents(aff, "0-15\n", -1, NULL);
}

static bool wait_for(const char *path, const char *want, double timeout_ms, double *took) {
        double start = now_ms();
        while (now_ms() - start < timeout_ms) {
                g_autofree char *have = read_line(path);
                if (g_str_equal(have, want)) {
                        if (took)
                                *took = now_ms() - start;
                        return true;
                }
                g_usleep(1000);
        }
        return false;
}

static uint64_t status_uint(sd_bus *bus, const char *key) {
        sd_bus_message *reply = NULL;
        uint64_t value = UINT64_MAX;
        const char *k;

        if (sd_bus_call_method(bus, "org.rtaudio.Isolator", "/org/rtaudio/Isolator", "org.rtaudio.Isolator1",
                               "GetStatus", NULL, &reply, NULL) < 0)
                return UINT64_MAX;
        sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                sd_bus_message_read(reply, "s", &k);
                if (g_str_equal(k, key))
                        sd_bus_message_read(reply, "v", "t", &value);
                else
                        sd_bus_message_skip(reply, "v");
                sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return value;
}

static bool name_owned(sd_bus *bus) {
        sd_bus_message *reply = NULL;
        int owned = 0;
        if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", "org.rtaudio.Isolator") >= 0)
                sd_bus_message_read(reply, "b", &owned);
        sd_bus_message_unref(reply);
        return owned;
}

int main(int argc, char *argv[]) {
        g_autoptr(UMockdevTestbed) tb = NULL;
        const char *work = argv[1], *isolatord = g_getenv("ISOLATORD");
        g_autofree char *root = g_build_filename(work, "root", NULL);
        g_autofree char *conf = g_build_filename(work, "isolatord.conf", NULL);
        g_autofree char *run = g_build_filename(work, "run", NULL);
        g_autofree char *log = g_build_filename(work, "daemon.log", NULL);
        g_autoptr(GError) e = NULL;
        sd_bus *bus = NULL;
        GPid pid;
        int status;

        if (argc < 2 || !isolatord)
                g_error("usage: ISOLATORD=... hotplug WORKDIR (under umockdev-wrapper)");
        tb = umockdev_testbed_new();
        g_file_set_contents(conf, "[Daemon]\nVerifyIntervalSec=3600\nUdevMonitor=kernel\n", -1, NULL);

        /* The daemon sees the testbed: UMOCKDEV_DIR is in our environment now, and the
         * preload came with umockdev-wrapper. */
        g_autofree char *cmd = g_strdup_printf("%s --root '%s' --config '%s' --runtime-dir '%s' -v", isolatord, root,
                                               conf, run);
        g_autofree char *shell = g_strdup_printf("exec %s >'%s' 2>&1", cmd, log);
        const char *daemon_argv[] = { "/bin/sh", "-c", shell, NULL };
        if (!g_spawn_async(NULL, (char **) daemon_argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &e))
                g_error("cannot start isolatord: %s", e->message);
        if (sd_bus_open_system(&bus) < 0)
                g_error("no private system bus");
        for (int i = 0; i < 200 && !name_owned(bus); i++)
                g_usleep(50000);
        CHECK(name_owned(bus), "isolatord did not come up");

        /* A USB DAC is plugged in: its IRQ appears, then the uevent. */
        make_irq(root, 300, "snd_usb_audio");
        g_autofree char *irq300 = g_build_filename(root, "proc/irq/300/smp_affinity_list", NULL);
        double took = 0;
        umockdev_testbed_add_device(tb, "usb", "dac0", NULL, "idVendor", "20b1", "idProduct", "3008", NULL,
                                    "ID_MODEL", "USB_DAC", NULL);
        bool pinned = wait_for(irq300, "0,8", 5000, &took);
        CHECK(pinned, "the DAC's IRQ 300 was not pinned within 5 s of its uevent (it is %s)", read_line(irq300));
        if (pinned)
                printf("hotplugged IRQ pinned %.1f ms after the uevent was sent\n", took);

        /* It is unplugged: the IRQ goes, and that is no error. */
        g_autofree char *dir300 = g_build_filename(root, "proc/irq/300", NULL);
        g_autofree char *rm = g_strdup_printf("rm -rf '%s'", dir300);
        g_spawn_command_line_sync(rm, NULL, NULL, NULL, NULL);
        umockdev_testbed_uevent(tb, "/sys/devices/dac0", "remove");
        umockdev_testbed_remove_device(tb, "/sys/devices/dac0");
        g_usleep(200000);
        CHECK(kill(pid, 0) == 0, "isolatord died after a device was removed");
        CHECK(status_uint(bus, "event_count") >= 2, "the removal was not seen");

        /* A burst: 50 devices with an IRQ each. All pinned, in fewer rescans than events. */
        uint64_t events_before = status_uint(bus, "event_count");
        uint64_t rescans_before = status_uint(bus, "rescan_count");
        for (unsigned i = 0; i < 50; i++) {
                g_autofree char *name = g_strdup_printf("hub%u", i);
                make_irq(root, 400 + i, "xhci_hcd");
                umockdev_testbed_add_device(tb, "usb", name, NULL, "idVendor", "1d6b", NULL, "ID_MODEL", "HUB", NULL);
        }
        unsigned all = 0;
        for (unsigned i = 0; i < 50; i++) {
                g_autofree char *path = g_strdup_printf("%s/proc/irq/%u/smp_affinity_list", root, 400 + i);
                all += wait_for(path, "0,8", 5000, NULL);
        }
        CHECK(all == 50, "%u of 50 IRQs of a burst pinned", all);
        g_usleep(100000);
        uint64_t events = status_uint(bus, "event_count") - events_before;
        uint64_t rescans = status_uint(bus, "rescan_count") - rescans_before;
        CHECK(events == 50, "%" G_GUINT64_FORMAT " of 50 uevents of the burst counted", events);
        CHECK(rescans < events, "a burst of %" G_GUINT64_FORMAT " uevents cost %" G_GUINT64_FORMAT " rescans", events,
              rescans);
        printf("burst of %" G_GUINT64_FORMAT " uevents: %" G_GUINT64_FORMAT " rescans\n", events, rescans);

        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "isolatord did not exit cleanly");
        if (failed) {
                g_autofree char *text = NULL;
                g_file_get_contents(log, &text, NULL, NULL);
                fprintf(stderr, "isolatord's log:\n%s\n", text ? text : "");
        }
        sd_bus_flush_close_unref(bus);
        printf("%u passed, %u failed\n", passed, failed);
        return failed ? 1 : 0;
}
