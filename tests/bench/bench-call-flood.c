/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A flood of calls against a running isolatord (DBUS_SYSTEM_BUS_ADDRESS), as an
 * unprivileged user would send them: CONNS connections each keep one call in flight for
 * SECONDS, cycling through METHODs (default Verify), while another connection times a
 * GetStatus every 10 ms. GetStatus is timed alone first, in the same run, as the bare
 * figure. Prints figures; asserts nothing.
 * Usage: bench-call-flood [CONNS] [SECONDS] [METHOD...] */
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bench.h"

static atomic_bool flooding;
static atomic_ulong answers, refusals;
static char **methods;
static unsigned n_methods;

typedef struct Conn {
        sd_bus *bus;
        unsigned next;      /* the method it sends next */
} Conn;

static int send_call(Conn *c);

static int on_answer(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        if (sd_bus_message_is_method_error(m, NULL))
                atomic_fetch_add(&refusals, 1);
        else
                atomic_fetch_add(&answers, 1);
        if (atomic_load(&flooding))
                send_call(userdata);
        return 0;
}

static int send_call(Conn *c) {
        const char *method = methods[c->next++ % n_methods];
        return sd_bus_call_method_async(c->bus, NULL, "org.rtaudio.Isolator", "/org/rtaudio/Isolator",
                                        "org.rtaudio.Isolator1", method, on_answer, c, NULL);
}

static int stop_loop(sd_event_source *s, uint64_t usec, void *userdata) {
        atomic_store(&flooding, false);
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

typedef struct Flood {
        unsigned conns;
        unsigned seconds;
} Flood;

static void *flood_thread(void *p) {
        const Flood *f = p;
        sd_event *event = NULL;
        Conn *conns = g_new0(Conn, f->conns);

        sd_event_new(&event);
        for (unsigned i = 0; i < f->conns; i++) {
                conns[i].next = i; /* each starts on another method */
                if (sd_bus_open_system(&conns[i].bus) < 0 || sd_bus_attach_event(conns[i].bus, event, 0) < 0 ||
                    send_call(&conns[i]) < 0) {
                        fprintf(stderr, "cannot open flood connection %u\n", i);
                        exit(1);
                }
        }
        sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, (uint64_t) f->seconds * 1000000u, 0, stop_loop, NULL);
        sd_event_loop(event);
        for (unsigned i = 0; i < f->conns; i++)
                sd_bus_flush_close_unref(conns[i].bus);
        sd_event_unref(event);
        g_free(conns);
        return NULL;
}

/* GetStatus every 10 ms for seconds; latencies in ns into *out. */
static size_t time_getstatus(sd_bus *bus, unsigned seconds, uint64_t **out) {
        size_t cap = (size_t) seconds * 100 + 16, n = 0;
        uint64_t *lat = g_new(uint64_t, cap), end = now_ns() + (uint64_t) seconds * 1000000000u;
        while (now_ns() < end && n < cap) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                uint64_t t = now_ns();
                if (sd_bus_call_method(bus, "org.rtaudio.Isolator", "/org/rtaudio/Isolator", "org.rtaudio.Isolator1",
                                       "GetStatus", &error, &reply, NULL) < 0) {
                        fprintf(stderr, "GetStatus failed: %s\n", error.message ? error.message : "?");
                        exit(1);
                }
                lat[n++] = now_ns() - t;
                sd_bus_error_free(&error);
                sd_bus_message_unref(reply);
                g_usleep(10000);
        }
        bench_sort(lat, n);
        *out = lat;
        return n;
}

static void print_latency(const char *what, const uint64_t *lat, size_t n) {
        printf("%-28s %5zu calls  p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", what, n,
               bench_quantile_us(lat, n, 0.5) / 1000, bench_quantile_us(lat, n, 0.9) / 1000,
               bench_quantile_us(lat, n, 0.99) / 1000, (double) lat[n - 1] / 1e6);
}

int main(int argc, char *argv[]) {
        Flood f = { argc > 1 ? (unsigned) atoi(argv[1]) : 100, argc > 2 ? (unsigned) atoi(argv[2]) : 10 };
        static char *verify[] = { (char *) "Verify", NULL };
        methods = argc > 3 ? argv + 3 : verify;
        n_methods = argc > 3 ? (unsigned) argc - 3 : 1;
        g_autofree uint64_t *quiet = NULL, *loud = NULL;
        sd_bus *bus = NULL;
        pthread_t t;

        if (sd_bus_open_system(&bus) < 0) {
                fprintf(stderr, "no system bus\n");
                return 1;
        }
        size_t nq = time_getstatus(bus, 3, &quiet);
        print_latency("GetStatus, quiet (bare):", quiet, nq);

        atomic_store(&flooding, true);
        pthread_create(&t, NULL, flood_thread, &f);
        g_usleep(200000);
        size_t nl = time_getstatus(bus, f.seconds - 1, &loud);
        pthread_join(t, NULL);
        print_latency("GetStatus, under the flood:", loud, nl);
        g_autofree char *names = g_strjoinv("/", methods);
        printf("%s answers: %lu from %u connections in %u s (%.0f/s), %lu refused\n", names, atomic_load(&answers),
               f.conns, f.seconds, (double) atomic_load(&answers) / f.seconds, atomic_load(&refusals));
        printf("p50 ratio flood/quiet: %.2f\n", bench_quantile_us(loud, nl, 0.5) / bench_quantile_us(quiet, nq, 0.5));
        sd_bus_flush_close_unref(bus);
        return 0;
}
