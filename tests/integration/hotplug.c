/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hotplug under umockdev: isolatord runs with the umockdev preload, so its udev monitor
 * receives the testbed's uevents; its --root is a fake 7700X where the harness makes the
 * IRQ a new device would request. A device added with a new IRQ gets it pinned without
 * any Apply or Verify (the periodic verify is an hour away); a removed device's IRQ
 * vanishing is no error; a burst of uevents is coalesced into fewer rescans; a group CPU
 * going offline (a cpu uevent and the online file) is a finding, and back online it goes.
 * Usage (under umockdev-wrapper, on a private bus): hotplug WORKDIR */
#include <signal.h>
#include <stdio.h>

#include "umockdev-rig.h"

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

int main(int argc, char *argv[]) {
        Rig rig = {};

        if (argc < 2)
                g_error("usage: ISOLATORD=... hotplug WORKDIR (under umockdev-wrapper)");
        CHECK(rig_start(&rig, argv[1], "[Daemon]\nVerifyIntervalSec=3600\nUdevMonitor=kernel\n"),
              "isolatord did not come up");

        /* A USB DAC is plugged in: its IRQ appears, then the uevent. */
        rig_make_irq(&rig, 300, "snd_usb_audio");
        g_autofree char *irq300 = rig_irq_path(&rig, 300);
        g_free(umockdev_testbed_add_device(rig.tb, "usb", "dac0", NULL, "idVendor", "20b1", "idProduct", "3008", NULL,
                                    "ID_MODEL", "USB_DAC", NULL));
        double took = rig_wait_file(irq300, "0,8", 5000);
        CHECK(took >= 0, "the DAC's IRQ 300 was not pinned within 5 s of its uevent");
        if (took >= 0)
                printf("hotplugged IRQ pinned %.1f ms after the uevent was sent\n", took);

        /* It is unplugged: the IRQ goes, and that is no error. */
        g_autofree char *rm = g_strdup_printf("rm -rf '%s/proc/irq/300'", rig.root);
        g_spawn_command_line_sync(rm, NULL, NULL, NULL, NULL);
        umockdev_testbed_uevent(rig.tb, "/sys/devices/dac0", "remove");
        umockdev_testbed_remove_device(rig.tb, "/sys/devices/dac0");
        g_usleep(200000);
        CHECK(kill(rig.pid, 0) == 0, "isolatord died after a device was removed");
        CHECK(rig_status_uint(&rig, "event_count") >= 2, "the removal was not seen");

        /* A burst: 50 devices with an IRQ each, sent while the daemon is stopped so that
         * they are all queued when it reads (how fast a burst arrives is otherwise up to
         * the machine). All pinned, in one drain and so one rescan, or two if the first
         * read raced the last send. */
        uint64_t events_before = rig_status_uint(&rig, "event_count");
        uint64_t rescans_before = rig_status_uint(&rig, "rescan_count");
        kill(rig.pid, SIGSTOP);
        for (unsigned i = 0; i < 50; i++) {
                g_autofree char *name = g_strdup_printf("hub%u", i);
                rig_make_irq(&rig, 400 + i, "xhci_hcd");
                g_free(umockdev_testbed_add_device(rig.tb, "usb", name, NULL, "idVendor", "1d6b", NULL, "ID_MODEL", "HUB", NULL));
        }
        kill(rig.pid, SIGCONT);
        unsigned all = 0;
        for (unsigned i = 0; i < 50; i++) {
                g_autofree char *path = rig_irq_path(&rig, 400 + i);
                all += rig_wait_file(path, "0,8", 5000) >= 0;
        }
        CHECK(all == 50, "%u of 50 IRQs of a burst pinned", all);
        g_usleep(100000);
        uint64_t events = rig_status_uint(&rig, "event_count") - events_before;
        uint64_t rescans = rig_status_uint(&rig, "rescan_count") - rescans_before;
        CHECK(events == 50, "%" G_GUINT64_FORMAT " of 50 uevents of the burst counted", events);
        CHECK(rescans <= 2, "a burst of %" G_GUINT64_FORMAT " queued uevents cost %" G_GUINT64_FORMAT " rescans", events,
              rescans);
        printf("burst of %" G_GUINT64_FORMAT " uevents: %" G_GUINT64_FORMAT " rescans\n", events, rescans);

        /* CPU hotplug: CPU 3 (group hqplayer's) goes offline, as the kernel says it, a
         * changed online file and a cpu uevent. The partition is validated again and
         * kept (not ended): the offline CPU is one more required finding. Back online,
         * the finding goes. */
        uint64_t required = rig_status_uint(&rig, "required_findings");
        uint64_t cpu_events = rig_status_uint(&rig, "cpu_event_count");
        g_autofree char *online = g_build_filename(rig.root, "sys/devices/system/cpu/online", NULL);
        g_file_set_contents(online, "0-2,4-15\n", -1, NULL);
        g_free(umockdev_testbed_add_device(rig.tb, "cpu", "cpu3", NULL, "online", "0", NULL, NULL));
        umockdev_testbed_uevent(rig.tb, "/sys/devices/cpu3", "offline");
        bool seen = false;
        for (int i = 0; i < 100 && !seen; i++, g_usleep(50000))
                seen = rig_status_uint(&rig, "required_findings") == required + 1;
        CHECK(seen, "CPU 3 offline: required findings %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
              rig_status_uint(&rig, "required_findings"), required + 1);
        CHECK(rig_status_uint(&rig, "cpu_event_count") > cpu_events, "the cpu uevents were not counted");
        g_file_set_contents(online, "0-15\n", -1, NULL);
        umockdev_testbed_uevent(rig.tb, "/sys/devices/cpu3", "online");
        seen = false;
        for (int i = 0; i < 100 && !seen; i++, g_usleep(50000))
                seen = rig_status_uint(&rig, "required_findings") == required;
        CHECK(seen, "CPU 3 back online: required findings %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
              rig_status_uint(&rig, "required_findings"), required);
        umockdev_testbed_remove_device(rig.tb, "/sys/devices/cpu3");

        if (failed)
                rig_print_log(&rig);
        CHECK(rig_stop(&rig), "isolatord did not exit cleanly");
        printf("%u passed, %u failed\n", passed, failed);
        return failed ? 1 : 0;
}
