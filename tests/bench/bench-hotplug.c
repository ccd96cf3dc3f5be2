/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hotplug reaction under umockdev, on a private bus (run by hotplug.sh under
 * umockdev-wrapper): for 200 uevents, the time from sending one to the new IRQ's file
 * holding its target, beside the time a bare libudev monitor in this process takes to
 * receive the same uevent; then a burst of 1000 devices: how many IRQs were pinned and
 * how long it took. Then (P1) the same reaction of isolatord beside the bare pinner's,
 * in alternating rounds: a process of this benchmark that does the same kernel work and
 * nothing else (receives the uevent, lists the IRQ folders, reads each new IRQ's
 * affinity and writes housekeeping's). Prints figures, asserts nothing. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <libudev.h>
#include <unistd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "umockdev-rig.h"

/* The bare pinner: the least a daemon that pins new IRQs at their uevent must do. */
static void pin_forever(const char *root, const char *want) {
        g_autofree char *irq_dir = g_build_filename(root, "proc/irq", NULL);
        g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
        struct udev *udev = udev_new();
        struct udev_monitor *mon = udev_monitor_new_from_netlink(udev, "kernel");
        if (!mon || udev_monitor_enable_receiving(mon) < 0)
                _exit(1);
        struct pollfd pfd = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };
        for (bool first = true;; first = false) {
                struct udev_device *dev;
                if (!first && poll(&pfd, 1, -1) <= 0)
                        continue;
                while ((dev = udev_monitor_receive_device(mon)))
                        udev_device_unref(dev);
                g_autoptr(GDir) d = g_dir_open(irq_dir, 0, NULL);
                const char *e;
                while (d && (e = g_dir_read_name(d))) {
                        unsigned n = (unsigned) atoi(e);
                        if (!n || g_hash_table_contains(seen, GUINT_TO_POINTER(n)))
                                continue;
                        g_hash_table_add(seen, GUINT_TO_POINTER(n));
                        char path[4096], buf[64];
                        snprintf(path, sizeof path, "%s/%s/smp_affinity_list", irq_dir, e);
                        int fd = open(path, O_RDONLY | O_CLOEXEC);
                        ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
                        if (fd >= 0)
                                close(fd);
                        if (first || len < 0 || (strncmp(buf, want, strlen(want)) == 0 && buf[strlen(want)] == '\n'))
                                continue;
                        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
                        if (fd >= 0) {
                                (void) !write(fd, want, strlen(want));
                                close(fd);
                        }
                }
        }
}

/* n devices, each with a new IRQ: the time from its uevent to the IRQ on housekeeping. */
static unsigned measure(Rig *rig, unsigned first_irq, unsigned n, const char *prefix, double *out) {
        unsigned measured = 0;
        for (unsigned i = 0; i < n; i++) {
                g_autofree char *name = g_strdup_printf("%s%u", prefix, i);
                g_autofree char *path = rig_irq_path(rig, first_irq + i);
                rig_make_irq(rig, first_irq + i, "snd_usb_audio");
                double t0 = rig_now_ms();
                g_free(umockdev_testbed_add_device(rig->tb, "usb", name, NULL, "idVendor", "20b1", NULL, "ID_MODEL", "DAC", NULL));
                if (rig_wait_file(path, "0,8", 5000) < 0)
                        continue;
                out[measured++] = rig_now_ms() - t0;
        }
        return measured;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static void summary(const char *what, double *v, unsigned n, double *median) {
        qsort(v, n, sizeof *v, compare_double);
        *median = v[n / 2];
        printf("%-40s median %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", what, v[n / 2], v[n * 99 / 100], v[n - 1]);
}

int main(int argc, char *argv[]) {
        enum { N = 200, BURST = 1000 };
        Rig rig = {};
        double floor_ms[N], pin_ms[N], floor_median, pin_median;
        unsigned measured = 0;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (!rig_start(&rig, argv[1], "[Daemon]\nVerifyIntervalSec=3600\nUdevMonitor=kernel\n")) {
                rig_print_log(&rig);
                return 1;
        }
        /* Seen here: a monitor in this process on the same file descriptor number as the
         * daemon's takes its place under umockdev (the daemon then gets no uevent). Ours
         * is moved to a higher number. */
        int spare[8];
        for (unsigned i = 0; i < G_N_ELEMENTS(spare); i++)
                spare[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct udev *udev = udev_new();
        struct udev_monitor *mon = udev_monitor_new_from_netlink(udev, "kernel");
        for (unsigned i = 0; i < G_N_ELEMENTS(spare); i++)
                close(spare[i]);
        udev_monitor_enable_receiving(mon);
        struct pollfd pfd = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };

        for (unsigned i = 0; i < N; i++) {
                g_autofree char *name = g_strdup_printf("dac%u", i);
                g_autofree char *path = rig_irq_path(&rig, 1000 + i);
                struct udev_device *dev;
                rig_make_irq(&rig, 1000 + i, "snd_usb_audio");
                double t0 = rig_now_ms();
                g_free(umockdev_testbed_add_device(rig.tb, "usb", name, NULL, "idVendor", "20b1", NULL, "ID_MODEL", "DAC", NULL));
                if (i % 20 == 0)
                        fprintf(stderr, "hotplug benchmark: uevent %u of %u\n", i, N);
                if (poll(&pfd, 1, 5000) <= 0) {
                        fprintf(stderr, "uevent %u: the bare monitor got nothing in 5 s\n", i);
                        continue;
                }
                double floor_at = rig_now_ms() - t0;
                while ((dev = udev_monitor_receive_device(mon)))
                        udev_device_unref(dev);
                if (rig_wait_file(path, "0,8", 5000) < 0)
                        continue;
                floor_ms[measured] = floor_at;
                pin_ms[measured] = rig_now_ms() - t0;
                measured++;
        }
        printf("hotplug reaction, %u of %u uevents measured:\n", measured, N);
        summary("  bare libudev monitor receives it", floor_ms, measured, &floor_median);
        summary("  isolatord has the IRQ on its CPUs", pin_ms, measured, &pin_median);
        printf("  ratio of medians: %.2f (pinned / received)\n", pin_median / floor_median);

        /* The floor's monitor goes: nothing would drain it during the burst, and umockdev
         * aborts when a listener's socket is full. */
        udev_monitor_unref(mon);
        udev_unref(udev);

        /* The burst: every device's IRQ made first, then 1000 uevents back to back. */
        uint64_t rescans_before = rig_status_uint(&rig, "rescan_count");
        for (unsigned i = 0; i < BURST; i++)
                rig_make_irq(&rig, 5000 + i, "xhci_hcd");
        double t0 = rig_now_ms();
        for (unsigned i = 0; i < BURST; i++) {
                g_autofree char *name = g_strdup_printf("burst%u", i);
                g_free(umockdev_testbed_add_device(rig.tb, "usb", name, NULL, "idVendor", "1d6b", NULL, "ID_MODEL", "HUB", NULL));
        }
        double sent = rig_now_ms() - t0;
        unsigned pinned = 0;
        for (unsigned i = 0; i < BURST; i++) {
                g_autofree char *path = rig_irq_path(&rig, 5000 + i);
                pinned += rig_wait_file(path, "0,8", 30000) >= 0;
        }
        double all = rig_now_ms() - t0;
        printf("burst of %u uevents (sent in %.1f ms): %u of %u new IRQs pinned, all within %.1f ms, in %" G_GUINT64_FORMAT
               " rescans\n", BURST, sent, pinned, BURST, all, rig_status_uint(&rig, "rescan_count") - rescans_before);

        /* P1: isolatord and the bare pinner (the least a daemon that pins new IRQs at their
         * uevent must do) on the same testbed and fake root, in alternating rounds of 50
         * uevents so that both meet the same load: the one not measured is stopped
         * (SIGSTOP), its uevents wait in its socket, and it catches up after SIGCONT
         * before its own round starts. No other monitor of this process is woken. */
        g_autofree char *root = g_strdup(rig.root);
        /* The bare pinner runs where isolatord pinned itself (its housekeeping CPUs on
         * this machine), as P2's repairer and P3's placer do: one free to run on any CPU
         * would dodge this harness's polling, which isolatord has to share a CPU with. */
        cpu_set_t daemon_cpus;
        bool same_cpus = sched_getaffinity(rig.pid, sizeof daemon_cpus, &daemon_cpus) == 0;
        if (!same_cpus)
                printf("isolatord's CPUs unknown (%s): the bare pinner runs on any\n", g_strerror(errno));
        pid_t pinner = fork();
        if (pinner < 0) {
                perror("fork");
                return 1;
        }
        if (pinner == 0) {
                if (same_cpus)
                        (void) sched_setaffinity(0, sizeof daemon_cpus, &daemon_cpus);
                pin_forever(root, "0,8");
        }
        g_usleep(300000); /* its monitor in place and the IRQs there now read */
        kill(pinner, SIGSTOP);
        enum { ROUNDS = 4, PER_ROUND = N / ROUNDS };
        double clean_ms[N], bare_ms[N], clean_median, bare_median;
        unsigned clean_n = 0, bare_n = 0;
        for (unsigned r = 0; r < ROUNDS; r++) {
                g_autofree char *mine = g_strdup_printf("dac-clean%u-", r), *bare = g_strdup_printf("bare%u-", r);
                clean_n += measure(&rig, 3000 + r * PER_ROUND, PER_ROUND, mine, clean_ms + clean_n);
                kill(rig.pid, SIGSTOP);
                kill(pinner, SIGCONT);
                g_usleep(300000);
                bare_n += measure(&rig, 9000 + r * PER_ROUND, PER_ROUND, bare, bare_ms + bare_n);
                kill(pinner, SIGSTOP);
                kill(rig.pid, SIGCONT);
                g_usleep(300000);
        }
        kill(pinner, SIGKILL);
        waitpid(pinner, NULL, 0);
        printf("hotplug reaction, rounds of %u uevents alternating: isolatord %u and the bare pinner %u of %u measured:\n",
               PER_ROUND, clean_n, bare_n, N);
        summary("  isolatord has the IRQ on its CPUs", clean_ms, clean_n, &clean_median);
        summary("  the bare pinner has the IRQ on its CPUs", bare_ms, bare_n, &bare_median);
        printf("P1 hotplug -> pinned: isolatord %.3f ms / bare %.3f ms = %.2f (goal <= 1.3: %s)\n", clean_median,
               bare_median, clean_median / bare_median, clean_median / bare_median <= 1.3 ? "met" : "NOT met");
        kill(rig.pid, SIGTERM);
        waitpid(rig.pid, NULL, 0);
        rig.pid = 0;
        sd_bus_flush_close_unref(rig.bus);
        g_clear_object(&rig.tb);
        rig_remove_run(&rig);
        return 0;
}
