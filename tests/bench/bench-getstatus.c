/* SPDX-License-Identifier: GPL-2.0-or-later */
/* GetStatus round trips against a running isolatord on the system bus
 * (DBUS_SYSTEM_BUS_ADDRESS): calls per second and latency percentiles. Prints figures;
 * it asserts nothing, CI machines are noisy. Usage: bench-getstatus [CALLS] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "bench.h"

static int call_once(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(bus, "org.rtaudio.Isolator", "/org/rtaudio/Isolator", "org.rtaudio.Isolator1",
                                   "GetStatus", &error, &reply, NULL);
        if (r < 0)
                fprintf(stderr, "GetStatus failed: %s\n", error.message ? error.message : "?");
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned n = argc > 1 ? (unsigned) atoi(argv[1]) : 5000;
        uint64_t *lat = g_new(uint64_t, n);
        sd_bus *bus = NULL;

        if (sd_bus_open_system(&bus) < 0) {
                fprintf(stderr, "no system bus\n");
                return 1;
        }
        for (unsigned i = 0; i < 200; i++) /* warm up */
                if (call_once(bus) < 0)
                        return 1;
        uint64_t start = now_ns();
        for (unsigned i = 0; i < n; i++) {
                uint64_t t = now_ns();
                if (call_once(bus) < 0)
                        return 1;
                lat[i] = now_ns() - t;
        }
        uint64_t total = now_ns() - start;
        bench_sort(lat, n);
        printf("GetStatus: %u calls in %.3f s: %.0f calls/s\n", n, total / 1e9, n / (total / 1e9));
        printf("GetStatus latency (us): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
               lat[n / 2] / 1e3, lat[n * 9 / 10] / 1e3, lat[n * 99 / 100] / 1e3, lat[n * 999 / 1000] / 1e3,
               lat[n - 1] / 1e3);
        sd_bus_flush_close_unref(bus);
        g_free(lat);
        return 0;
}
