/* SPDX-License-Identifier: GPL-2.0-or-later */
/* For tools/demo: hosts isolatord under umockdev (so that a simulated USB DAC can be
 * plugged in) on the caller's private bus, prints "ready", then obeys lines on stdin:
 * "plug" plugs the DAC and tells what isolatord did, "quit" stops isolatord.
 * Usage (under umockdev-wrapper): demo-dac WORKDIR, with WORKDIR/root and
 * WORKDIR/isolatord.conf in place. */
#include <stdio.h>
#include <string.h>

#include "umockdev-rig.h"

int main(int argc, char *argv[]) {
        Rig rig = {};
        char line[64];

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 2 || !rig_start(&rig, argv[1], NULL)) {
                rig_print_log(&rig);
                return 1;
        }
        printf("ready %d\n", (int) rig.pid);
        while (fgets(line, sizeof line, stdin)) {
                if (g_str_has_prefix(line, "plug")) {
                        g_autofree char *path = rig_irq_path(&rig, 300);
                        rig_make_irq(&rig, 300, "snd_usb_audio");
                        printf("A USB DAC is plugged in: its driver requests IRQ 300 (snd_usb_audio), which the "
                               "kernel puts on CPUs 0-15.\n");
                        g_free(umockdev_testbed_add_device(rig.tb, "usb", "usb-dac", NULL, "idVendor", "20b1", "idProduct",
                                                    "3008", NULL, "ID_MODEL", "USB_Audio_DAC", NULL));
                        double took = rig_wait_file(path, "0,8", 5000);
                        if (took >= 0)
                                printf("isolatord pinned IRQ 300 to CPUs 0,8 %.1f ms after the uevent, with no Apply "
                                       "and no Verify.\n", took);
                        else
                                printf("IRQ 300 was NOT pinned within 5 s.\n");
                } else if (g_str_has_prefix(line, "quit")) {
                        break;
                }
        }
        bool clean = rig_stop(&rig);
        printf("isolatord %s.\n", clean ? "stopped cleanly (SIGTERM)" : "did not stop cleanly");
        return clean ? 0 : 1;
}
