/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "bus-error.h"
#include "macro.h"
#include "table.h"
#include "value.h"
#include "sd-glib.h"

/* Exit statuses, the contract of DESIGN.md. */
enum {
        EXIT_OK = 0,
        EXIT_FINDINGS = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
};

typedef struct Ctl {
        sd_bus *bus;
        bool json;
        bool color;
        bool refused_input_is_usage; /* the command passes the user's values on */
} Ctl;

static const char *paint(const Ctl *c, const char *state) {
        if (!c->color)
                return "";
        if (g_str_equal(state, "active") || g_str_equal(state, "ok"))
                return "\033[32m";
        if (g_str_equal(state, "degraded") || g_str_equal(state, "missing") || g_str_equal(state, "different"))
                return "\033[33m";
        return "\033[31m";
}

static const char *unpaint(const Ctl *c) {
        return c->color ? "\033[0m" : "";
}

/* What a failed call means for the user, and the exit status that says it. */
static int call_failed(const Ctl *c, const char *method, const sd_bus_error *e, int r) {
        const char *name = e && e->name ? e->name : "";
        const char *msg = e && e->message ? e->message : strerror(-r);

        if (g_str_equal(name, SD_BUS_ERROR_SERVICE_UNKNOWN) || g_str_equal(name, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
            g_str_equal(name, SD_BUS_ERROR_NO_REPLY) || g_str_equal(name, SD_BUS_ERROR_DISCONNECTED)) {
                fprintf(stderr, "isoctl: isolatord is not running: nothing owns %s on the system bus (%s)\n",
                        BUS_NAME, msg);
                return EXIT_UNREACHABLE;
        }
        if (g_str_equal(name, BUS_ERROR_PREFIX "NotAuthorized") || g_str_equal(name, SD_BUS_ERROR_ACCESS_DENIED)) {
                fprintf(stderr, "isoctl: isolatord refused %s: %s\n", method, msg);
                return EXIT_UNREACHABLE;
        }
        /* A value the user typed was wrong: a usage error, with the daemon's reason. */
        if (c->refused_input_is_usage && (g_str_equal(name, BUS_ERROR_PREFIX "InvalidCpuList") || g_str_equal(name, BUS_ERROR_PREFIX "UnknownGroup") ||
            g_str_equal(name, BUS_ERROR_PREFIX "Overlap") || g_str_equal(name, BUS_ERROR_PREFIX "InvalidPartition"))) {
                fprintf(stderr, "isoctl: %s\n", msg);
                return EXIT_USAGE;
        }
        fprintf(stderr, "isoctl: %s failed: %s%s%s%s\n", method, msg, *name ? " (" : "", name, *name ? ")" : "");
        return EXIT_FINDINGS;
}

/* Calls a method without arguments or with string arguments; *reply is positioned at
 * its first output. Returns an exit status. */
static int call(const Ctl *c, const char *method, sd_bus_message **reply, const char *a1, const char *a2) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r;

        if (a2)
                r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, method, &error, reply, "ss", a1, a2);
        else
                r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, method, &error, reply, NULL);
        if (r < 0)
                return call_failed(c, method, &error, r);
        return EXIT_OK;
}

/* Reads the reply's outputs into an object with the given names (NULL-terminated); a
 * single unnamed output is returned as itself. */
static int read_reply(sd_bus_message *reply, const char *const *names, Value **out) {
        g_autoptr(Value) obj = value_new_object();
        for (const char *const *n = names; *n; n++) {
                Value *v = NULL;
                int r = value_read(reply, &v);
                if (r < 0) {
                        fprintf(stderr, "isoctl: cannot read isolatord's answer: %s\n", strerror(-r));
                        return EXIT_UNREACHABLE;
                }
                value_object_add(obj, *n, v);
        }
        if (names[0] && !names[1]) {
                *out = g_ptr_array_steal_index(obj->items, 0);
                return EXIT_OK;
        }
        *out = g_steal_pointer(&obj);
        return EXIT_OK;
}

static void print_json(const Value *v) {
        g_autoptr(GString) s = g_string_new(NULL);
        value_to_json(v, s);
        puts(s->str);
}

static int fetch(const Ctl *c, const char *method, const char *const *names, Value **out) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r = call(c, method, &reply, NULL, NULL);
        if (r != EXIT_OK)
                return r;
        return read_reply(reply, names, out);
}

static const char *or_dash(const char *s) {
        return s && *s ? s : "-";
}

/* --- commands --- */

static int cmd_status(Ctl *c, char **args) {
        static const char *const names[] = { "status", NULL };
        g_autoptr(Value) st = NULL;
        int r = fetch(c, "GetStatus", names, &st);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(st);
                return EXIT_OK;
        }

        const char *state = value_get_str(st, "state");
        g_autofree char *sources = value_join(value_get(st, "config_sources"), ", ");
        uint64_t last = value_get_uint(st, "last_verify_usec");
        printf("State:         %s%s%s (%" PRIu64 " finding(s), %" PRIu64 " required)\n", paint(c, state), state,
               unpaint(c), value_get_uint(st, "findings_count"), value_get_uint(st, "required_findings"));
        printf("Housekeeping:  %s\n", value_get_str(st, "housekeeping"));
        printf("Isolated:      %s\n", or_dash(value_get_str(st, "isolated")));
        printf("Machine:       CPUs %s online, under %s%s\n", value_get_str(st, "online"), value_get_str(st, "root"),
               value_get_bool(st, "dry_run") ? " (dry run: nothing is written)" : "");
        printf("Config:        %s\n", *sources ? sources : "built-in defaults");
        printf("Verified:      %" PRIu64 " time(s), every %" PRIu64 " s", value_get_uint(st, "verify_count"),
               value_get_uint(st, "verify_interval_sec"));
        if (last > 0) {
                time_t t = (time_t) (last / 1000000u);
                char when[64];
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
                printf("; last at %s", when);
        }
        printf("\nDrift:         %" PRIu64 " correction(s)\n", value_get_uint(st, "drift_corrections"));
        if (value_get_bool(st, "sampler_running"))
                printf("Latency:       %" PRIu64 " sample(s) above %" PRIu64 " us since the last reset (isoctl latency)\n",
                       value_get_uint(st, "latency_exceeded"), value_get_uint(st, "latency_threshold_us"));
        else
                printf("Latency:       the sampler is not running (isoctl sampler start)\n");
        printf("\n");

        g_autoptr(Table) t = table_new("GROUP", "CPUS", "COUNT", "SLICE", "MATCH", "SCHED", NULL);
        const Value *groups = value_get(st, "groups");
        for (unsigned i = 0; groups && i < groups->items->len; i++) {
                const Value *g = groups->items->pdata[i];
                g_autofree char *count = g_strdup_printf("%" PRIu64, value_get_uint(g, "count"));
                g_autofree char *match = value_join(value_get(g, "match"), " ");
                const char *policy = value_get_str(g, "sched_policy");
                g_autofree char *sched = *policy && value_get_uint(g, "sched_priority")
                        ? g_strdup_printf("%s %" PRIu64, policy, value_get_uint(g, "sched_priority"))
                        : g_strdup(policy);
                table_add_row(t, value_get_str(g, "name"), value_get_str(g, "cpus"), count,
                              value_get_str(g, "slice"), or_dash(match), or_dash(sched));
        }
        table_print(t, stdout);
        return EXIT_OK;
}

static int cmd_verify(Ctl *c, char **args) {
        static const char *const names[] = { "findings", NULL };
        g_autoptr(Value) findings = NULL;
        unsigned required = 0;
        int r = fetch(c, "Verify", names, &findings);
        if (r != EXIT_OK)
                return r;

        for (unsigned i = 0; i < findings->items->len; i++)
                required += value_get_bool(findings->items->pdata[i], "required");
        if (c->json) {
                print_json(findings);
                return required > 0 ? EXIT_FINDINGS : EXIT_OK;
        }
        if (findings->items->len == 0) {
                printf("No findings: the partition holds.\n");
                return EXIT_OK;
        }
        g_autoptr(Table) t = table_new("KIND", "OBJECT", "EXPECTED", "FOUND", "LEVEL", NULL);
        for (unsigned i = 0; i < findings->items->len; i++) {
                const Value *f = findings->items->pdata[i];
                table_add_row(t, value_get_str(f, "kind"), value_get_str(f, "object"),
                              or_dash(value_get_str(f, "expected")), or_dash(value_get_str(f, "actual")),
                              value_get_bool(f, "required") ? "required" : "advice");
        }
        table_print(t, stdout);
        printf("\n%u finding(s), %u required%s\n", findings->items->len, required,
               required ? ": the partition does not hold (details: isoctl verify --json)" : "");
        return required > 0 ? EXIT_FINDINGS : EXIT_OK;
}

static void print_audit_table(const Ctl *c, const Value *items, const char *first_header) {
        g_autoptr(Table) t = table_new(first_header, "WANTED", "RUNNING", "STATE", "LEVEL", NULL);
        for (unsigned i = 0; i < items->items->len; i++) {
                const Value *it = items->items->pdata[i];
                const char *state = value_get_str(it, "state");
                const char *actual = value_get_str(it, "actual");
                g_autofree char *shown_state = g_strdup_printf("%s%s%s", paint(c, state), state, unpaint(c));
                const char *expected = value_get_str(it, "expected");
                table_add_row(t, value_get_str(it, "name"), *expected ? expected : "(flag)",
                              value_get_bool(it, "present") ? (*actual ? actual : "(set)") : "-", shown_state,
                              value_get_bool(it, "required") ? "required" : "recommended");
        }
        table_print(t, stdout);
}

static unsigned count_required_problems(const Value *items) {
        unsigned n = 0;
        for (unsigned i = 0; i < items->items->len; i++) {
                const Value *it = items->items->pdata[i];
                n += value_get_bool(it, "required") && !g_str_equal(value_get_str(it, "state"), "ok");
        }
        return n;
}

static int cmd_boot_params(Ctl *c, char **args) {
        static const char *const names[] = { "parameters", "required_line", "full_line", NULL };
        g_autoptr(Value) bp = NULL;
        int r = fetch(c, "GetBootParameters", names, &bp);
        if (r != EXIT_OK)
                return r;
        const Value *params = value_get(bp, "parameters");
        unsigned problems = count_required_problems(params);
        if (c->json) {
                print_json(bp);
                return problems ? EXIT_FINDINGS : EXIT_OK;
        }
        print_audit_table(c, params, "PARAMETER");
        printf("\nKernel command line (GRUB_CMDLINE_LINUX, then update-grub and reboot):\n  %s\n"
               "With the recommended ones:\n  %s\n\n%u required setting(s) missing or different.\n",
               value_get_str(bp, "required_line"), value_get_str(bp, "full_line"), problems);
        return problems ? EXIT_FINDINGS : EXIT_OK;
}

static int cmd_kernel_audit(Ctl *c, char **args) {
        static const char *const names[] = { "source", "options", "fragment", NULL };
        g_autoptr(Value) ka = NULL;
        int r = fetch(c, "GetKernelAudit", names, &ka);
        if (r != EXIT_OK)
                return r;
        const Value *options = value_get(ka, "options");
        unsigned problems = count_required_problems(options);
        if (c->json) {
                print_json(ka);
                return problems ? EXIT_FINDINGS : EXIT_OK;
        }
        printf("Kernel configuration: %s\n\n", value_get_str(ka, "source"));
        print_audit_table(c, options, "OPTION");
        printf("\n%u required option(s) missing or different.%s\n", problems,
               problems ? " A Kconfig fragment for your own kernel: isoctl kernel-audit --json (\"fragment\")" : "");
        return problems ? EXIT_FINDINGS : EXIT_OK;
}

static int cmd_plan(Ctl *c, char **args) {
        static const char *const names[] = { "config", "notes", NULL };
        g_autoptr(Value) plan = NULL;
        int r = fetch(c, "Plan", names, &plan);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(plan);
                return EXIT_OK;
        }
        const Value *notes = value_get(plan, "notes");
        for (unsigned i = 0; i < notes->items->len; i++)
                printf("# Note: %s.\n", ((Value *) notes->items->pdata[i])->s);
        fputs(value_get_str(plan, "config"), stdout);
        return EXIT_OK;
}

static int cmd_irqs(Ctl *c, char **args) {
        static const char *const names[] = { "irqs", NULL };
        g_autoptr(Value) irqs = NULL;
        unsigned hot = 0, unmovable = 0, foreign = 0;
        int r = fetch(c, "GetIrqs", names, &irqs);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(irqs);
                return EXIT_OK;
        }
        g_autoptr(Table) t = table_new("IRQ", "NAME", "CPUS", "EFFECTIVE", "TARGET", "STATE", "ON ISOLATED", NULL);
        for (unsigned i = 0; i < irqs->items->len; i++) {
                const Value *q = irqs->items->pdata[i];
                const char *state = value_get_str(q, "state");
                uint64_t isolated = value_get_uint(q, "isolated_count");
                g_autofree char *num = g_strdup_printf("%" PRIu64, value_get_uint(q, "irq"));
                /* "!": the IRQ has fired on isolated CPUs (since boot): worth a look. */
                g_autofree char *count = isolated ? g_strdup_printf("%" PRIu64 " !", isolated) : g_strdup("0");
                g_autofree char *shown_state = g_strdup_printf("%s%s%s",
                                                               g_str_equal(state, "pinned") || g_str_equal(state, "ruled")
                                                                       ? paint(c, "ok") : paint(c, "degraded"),
                                                               state, unpaint(c));
                hot += isolated > 0;
                unmovable += g_str_equal(state, "unmovable");
                foreign += g_str_equal(state, "foreign");
                table_add_row(t, num, or_dash(value_get_str(q, "name")), value_get_str(q, "cpus"),
                              or_dash(value_get_str(q, "effective")), value_get_str(q, "target"), shown_state, count);
        }
        table_print(t, stdout);
        printf("\n%u IRQ(s): %u unmovable, %u not on their CPUs; %u have fired on isolated CPUs since boot (!)\n",
               irqs->items->len, unmovable, foreign, hot);
        return EXIT_OK;
}

static int cmd_workloads(Ctl *c, char **args) {
        static const char *const names[] = { "workloads", NULL };
        g_autoptr(Value) ws = NULL;
        int r = fetch(c, "GetWorkloads", names, &ws);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(ws);
                return EXIT_OK;
        }
        g_autoptr(Table) t = table_new("GROUP", "PID", "COMM", "CPUS", "POLICY", "PLACED", NULL);
        for (unsigned i = 0; i < ws->items->len; i++) {
                const Value *w = ws->items->pdata[i];
                const char *policy = value_get_str(w, "policy");
                const Value *prio = value_get(w, "priority");
                g_autofree char *pid = g_strdup_printf("%" PRIu64, value_get_uint(w, "pid"));
                g_autofree char *sched = *policy ? g_strdup_printf("%s %" PRId64, policy, prio ? prio->i : 0)
                                                 : g_strdup("-");
                g_autoptr(GDateTime) at = g_date_time_new_from_unix_local((gint64) (value_get_uint(w, "placed_at") / 1000000u));
                g_autofree char *when = at ? g_date_time_format(at, "%H:%M:%S") : g_strdup("-");
                table_add_row(t, value_get_str(w, "group"), pid, value_get_str(w, "comm"), or_dash(value_get_str(w, "cpus")),
                              sched, when);
        }
        table_print(t, stdout);
        printf("\n%u placed process(es)\n", ws->items->len);
        return EXIT_OK;
}

static int simple_change(Ctl *c, const char *method, const char *what);

static double value_get_double(const Value *obj, const char *key) {
        const Value *v = value_get(obj, key);
        return v && v->kind == VALUE_DOUBLE ? v->d : 0;
}

/* cyclictest -h's output, so that existing plotting scripts read it: one line per 1 us
 * bucket with a column per CPU, then the totals. */
static void print_cyclictest(const Value *cpus) {
        unsigned rows = 0, n = cpus->items->len;
        for (unsigned c = 0; c < n; c++) {
                const Value *h = value_get(cpus->items->pdata[c], "histogram");
                rows = MAX(rows, h ? h->items->len : 0);
        }
        printf("# Histogram\n");
        for (unsigned i = 0; i < rows; i++) {
                printf("%06u", i);
                for (unsigned c = 0; c < n; c++) {
                        const Value *h = value_get(cpus->items->pdata[c], "histogram");
                        uint64_t count = h && i < h->items->len ? ((Value *) h->items->pdata[i])->u : 0;
                        printf("\t%06" PRIu64, count);
                }
                printf("\n");
        }
        static const struct { const char *title, *key; int width; } totals[] = {
                { "# Total:", "samples", 9 },
                { "# Min Latencies:", "min_us", 5 },
                { "# Avg Latencies:", "avg_us", 5 },
                { "# Max Latencies:", "max_us", 5 },
                { "# Histogram Overflows:", "overflows", 5 },
        };
        for (size_t t = 0; t < G_N_ELEMENTS(totals); t++) {
                printf("%s", totals[t].title);
                for (unsigned c = 0; c < n; c++) {
                        const Value *cpu = cpus->items->pdata[c];
                        const Value *v = value_get(cpu, totals[t].key);
                        double d = !v ? 0 : v->kind == VALUE_DOUBLE ? v->d : (double) v->u;
                        printf(" %0*.0f", totals[t].width, d);
                }
                printf("\n");
        }
        printf("# Histogram Overflow at cycle number:\n");
        for (unsigned c = 0; c < n; c++)
                printf("# Thread %u: (CPU %" PRIu64 ")\n", c, value_get_uint(cpus->items->pdata[c], "cpu"));
}

/* A terminal bar chart of one CPU's histogram, counts log-scaled so that rare slow
 * samples still show. */
static int print_histogram(Ctl *c, const char *cpu_text) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        const uint32_t *counts;
        size_t size;
        uint32_t bucket;
        uint64_t overflows, max = 0, total = 0;
        guint64 cpu;

        if (!g_ascii_string_to_unsigned(cpu_text, 10, 0, 8191, &cpu, NULL)) {
                fprintf(stderr, "isoctl: --histogram takes a CPU number, not \"%s\"\n", cpu_text);
                return EXIT_USAGE;
        }
        int r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "GetHistogram", &error, &reply, "u",
                                   (uint32_t) cpu);
        if (r < 0)
                return call_failed(c, "GetHistogram", &error, r);
        if (sd_bus_message_read(reply, "u", &bucket) < 0 ||
            sd_bus_message_read_array(reply, 'u', (const void **) &counts, &size) < 0 ||
            sd_bus_message_read(reply, "t", &overflows) < 0)
                return EXIT_UNREACHABLE;
        size_t n = size / sizeof(uint32_t);
        for (size_t i = 0; i < n; i++) {
                max = MAX(max, counts[i]);
                total += counts[i];
        }
        max = MAX(max, overflows);
        printf("Latency histogram of CPU %" G_GUINT64_FORMAT ": %" PRIu64 " samples, %u us buckets, log-scaled\n\n",
               cpu, total + overflows, bucket);
        for (size_t i = 0; i < n; i++) {
                if (!counts[i])
                        continue;
                int len = (int) (log10((double) counts[i] + 1) / log10((double) max + 1) * 50 + 0.5);
                printf("%5zu us |%.*s %u\n", i * bucket, MAX(len, 1),
                       "##################################################", counts[i]);
        }
        if (overflows) {
                int len = (int) (log10((double) overflows + 1) / log10((double) max + 1) * 50 + 0.5);
                printf(">%4zu us |%.*s %" PRIu64 "\n", n * bucket, MAX(len, 1),
                       "##################################################", overflows);
        }
        return EXIT_OK;
}

static int cmd_latency(Ctl *c, char **args) {
        static const char *const names[] = { "cpus", NULL };
        g_autoptr(Value) cpus = NULL;
        bool cyclictest = false;
        const char *histogram = NULL;

        for (char **a = args; *a; a++) {
                if (g_str_equal(*a, "--format=cyclictest"))
                        cyclictest = true;
                else if (g_str_equal(*a, "--histogram") && a[1])
                        histogram = *++a;
                else if (g_str_has_prefix(*a, "--histogram="))
                        histogram = *a + strlen("--histogram=");
                else {
                        fprintf(stderr, "isoctl: latency takes --json, --histogram CPU or --format=cyclictest, not \"%s\"\n", *a);
                        return EXIT_USAGE;
                }
        }
        if (histogram)
                return print_histogram(c, histogram);
        int r = fetch(c, "GetLatency", names, &cpus);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(cpus);
                return EXIT_OK;
        }
        if (cpus->items->len == 0) {
                printf("The sampler is not running (isoctl sampler start).\n");
                return EXIT_OK;
        }
        g_autoptr(Value) measured = value_new_list();
        for (unsigned i = 0; i < cpus->items->len; i++) {
                Value *cpu = cpus->items->pdata[i];
                if (value_get_bool(cpu, "measured"))
                        g_ptr_array_add(measured->items, g_steal_pointer(&cpus->items->pdata[i]));
        }
        if (cyclictest) {
                print_cyclictest(measured);
                return EXIT_OK;
        }
        g_autoptr(Table) t = table_new("CPU", "SAMPLES", "MIN", "AVG", "P50", "P99", "P99.9", "MAX", "OVERFLOWS",
                                       "OVERRUNS", "OVER THRESHOLD", NULL);
        GString *not_measured = g_string_new(NULL);
        for (unsigned i = 0; i < cpus->items->len; i++) {
                const Value *cpu = cpus->items->pdata[i];
                if (!cpu) /* moved to measured */
                        continue;
                g_string_append_printf(not_measured, "%s%" PRIu64, not_measured->len ? "," : "", value_get_uint(cpu, "cpu"));
        }
        for (unsigned i = 0; i < measured->items->len; i++) {
                const Value *cpu = measured->items->pdata[i];
                g_autofree char *n = g_strdup_printf("%" PRIu64, value_get_uint(cpu, "cpu"));
                g_autofree char *samples = g_strdup_printf("%" PRIu64, value_get_uint(cpu, "samples"));
                g_autofree char *mn = g_strdup_printf("%.1f", value_get_double(cpu, "min_us"));
                g_autofree char *avg = g_strdup_printf("%.1f", value_get_double(cpu, "avg_us"));
                g_autofree char *p50 = g_strdup_printf("%.0f", value_get_double(cpu, "p50_us"));
                g_autofree char *p99 = g_strdup_printf("%.0f", value_get_double(cpu, "p99_us"));
                g_autofree char *p999 = g_strdup_printf("%.0f", value_get_double(cpu, "p999_us"));
                g_autofree char *mx = g_strdup_printf("%.1f", value_get_double(cpu, "max_us"));
                g_autofree char *of = g_strdup_printf("%" PRIu64, value_get_uint(cpu, "overflows"));
                g_autofree char *ov = g_strdup_printf("%" PRIu64, value_get_uint(cpu, "overruns"));
                g_autofree char *ex = g_strdup_printf("%" PRIu64, value_get_uint(cpu, "exceeded"));
                table_add_row(t, n, samples, mn, avg, p50, p99, p999, mx, of, ov, ex);
        }
        printf("Wake-up latency in microseconds, per measured CPU:\n\n");
        table_print(t, stdout);
        if (not_measured->len)
                printf("\nNot measured (not on this machine, or no real-time thread): CPUs %s\n", not_measured->str);
        g_string_free(not_measured, true);
        return EXIT_OK;
}

static int cmd_noise(Ctl *c, char **args) {
        static const char *const names[] = { "cpus", NULL };
        g_autoptr(Value) cpus = NULL;
        int r = fetch(c, "GetNoise", names, &cpus);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(cpus);
                return EXIT_OK;
        }
        g_autoptr(Table) t = table_new("CPU", "LOC/s", "RES/s", "CAL/s", "TLB/s", "DEVICES/s", "SWITCHES/s",
                                       "TOP DEVICE IRQS", NULL);
        for (unsigned i = 0; i < cpus->items->len; i++) {
                const Value *cpu = cpus->items->pdata[i];
                g_autofree char *n = g_strdup_printf("%" PRIu64, value_get_uint(cpu, "cpu"));
                g_autofree char *loc = g_strdup_printf("%.0f", value_get_double(cpu, "loc"));
                g_autofree char *res = g_strdup_printf("%.0f", value_get_double(cpu, "res"));
                g_autofree char *cal = g_strdup_printf("%.0f", value_get_double(cpu, "cal"));
                g_autofree char *tlb = g_strdup_printf("%.0f", value_get_double(cpu, "tlb"));
                g_autofree char *dev = g_strdup_printf("%.0f", value_get_double(cpu, "devices"));
                double sw = value_get_double(cpu, "switches");
                g_autofree char *swt = sw < 0 ? g_strdup("?") : g_strdup_printf("%.0f", sw);
                g_autofree char *top = value_join(value_get(cpu, "top_sources"), "; ");
                table_add_row(t, n, loc, res, cal, tlb, dev, swt, or_dash(top));
        }
        printf("What still reaches each CPU, per second over the last second:\n\n");
        table_print(t, stdout);
        return EXIT_OK;
}

/* Prometheus's text format, as the daemon makes it (the same text as its textfile). */
static int cmd_metrics(Ctl *c, char **args) {
        g_autoptr(sd_bus_message) reply = NULL;
        const char *text;
        int r = call(c, "GetMetrics", &reply, NULL, NULL);
        if (r != EXIT_OK)
                return r;
        if (sd_bus_message_read(reply, "s", &text) < 0) {
                fprintf(stderr, "isoctl: cannot read isolatord's answer\n");
                return EXIT_UNREACHABLE;
        }
        fputs(text, stdout);
        return EXIT_OK;
}

static int cmd_reset_latency(Ctl *c, char **args) {
        return simple_change(c, "ResetLatency", "Latency statistics reset");
}

static int cmd_sampler(Ctl *c, char **args) {
        if (g_str_equal(args[0], "start"))
                return simple_change(c, "StartSampler", "Sampler started");
        if (g_str_equal(args[0], "stop"))
                return simple_change(c, "StopSampler", "Sampler stopped");
        fprintf(stderr, "isoctl: sampler takes start or stop, not \"%s\"\n", args[0]);
        return EXIT_USAGE;
}

/* The changes print what the daemon now says, so the user sees the effect. */
static int after_change(Ctl *c, const char *what) {
        g_autoptr(Value) state = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        char *s = NULL;
        int r = sd_bus_get_property_string(c->bus, BUS_NAME, BUS_PATH, BUS_INTERFACE, "State", &error, &s);
        if (r < 0)
                return call_failed(c, "State", &error, r);
        printf("%s; isolatord is %s%s%s.\n", what, paint(c, s), s, unpaint(c));
        free(s);
        return EXIT_OK;
}

static int simple_change(Ctl *c, const char *method, const char *what) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r = call(c, method, &reply, NULL, NULL);
        return r != EXIT_OK ? r : after_change(c, what);
}

static int cmd_apply(Ctl *c, char **args) {
        return simple_change(c, "Apply", "Applied");
}

static int cmd_reload(Ctl *c, char **args) {
        return simple_change(c, "Reload", "Configuration reloaded");
}

static int cmd_revert(Ctl *c, char **args) {
        return simple_change(c, "Revert", "Every original value restored");
}

static int cmd_set(Ctl *c, char **args) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_autofree char *what = g_strdup_printf("Group %s moved to CPUs %s", args[0], args[1]);
        c->refused_input_is_usage = true;
        int r = call(c, "SetGroupCpus", &reply, args[0], args[1]);
        return r != EXIT_OK ? r : after_change(c, what);
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const Ctl *c = userdata;
        g_autoptr(Value) event = value_new_object();
        g_autoptr(GString) line = g_string_new(NULL);
        const char *member = sd_bus_message_get_member(m);
        char when[32];
        time_t now = time(NULL);

        strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
        value_object_add(event, "time", value_new_string(when));
        value_object_add(event, "signal", value_new_string(member));
        /* Every signal's arguments as a list; PropertiesChanged's are its three. */
        Value *args = value_new_list();
        while (sd_bus_message_at_end(m, false) == 0) {
                Value *v = NULL;
                if (value_read(m, &v) < 0)
                        break;
                g_ptr_array_add(args->items, v);
        }
        value_object_add(event, "args", args);

        if (c->json) {
                value_to_json(event, line);
        } else if (g_str_equal(member, "PropertiesChanged") && args->items->len >= 2) {
                const Value *changed = args->items->pdata[1];
                g_string_append_printf(line, "%s  changed:", when);
                for (unsigned i = 0; i < changed->items->len; i++) {
                        g_string_append_printf(line, " %s=", (char *) changed->keys->pdata[i]);
                        value_to_json(changed->items->pdata[i], line);
                }
                if (args->items->len >= 3) {
                        g_autofree char *inval = value_join(args->items->pdata[2], ",");
                        if (*inval)
                                g_string_append_printf(line, " (invalidated: %s)", inval);
                }
        } else {
                g_string_append_printf(line, "%s  %s", when, member);
                for (unsigned i = 0; i < args->items->len; i++) {
                        g_string_append_c(line, ' ');
                        value_to_json(args->items->pdata[i], line);
                }
        }
        puts(line->str);
        fflush(stdout);
        return 0;
}

/* Is isolatord there at all? */
static int ping(const Ctl *c) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(c->bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &error, NULL, NULL);
        return r < 0 ? call_failed(c, "Ping", &error, r) : EXIT_OK;
}

static int cmd_watch(Ctl *c, char **args) {
        int r;

        /* Signals from isolatord, whatever interface: its own and PropertiesChanged. */
        r = sd_bus_match_signal(c->bus, NULL, BUS_NAME, BUS_PATH, NULL, NULL, on_signal, c);
        if (r < 0) {
                fprintf(stderr, "isoctl: cannot subscribe to isolatord's signals: %s\n", strerror(-r));
                return EXIT_UNREACHABLE;
        }
        /* Fail early, and say so, when the daemon is not there. */
        r = ping(c);
        if (r != EXIT_OK)
                return r;
        fprintf(stderr, "Watching %s; Ctrl-C to stop.\n", BUS_NAME);
        for (;;) {
                r = sd_bus_process(c->bus, NULL);
                if (r < 0) {
                        fprintf(stderr, "isoctl: lost the bus: %s\n", strerror(-r));
                        return EXIT_UNREACHABLE;
                }
                if (r > 0)
                        continue;
                r = sd_bus_wait(c->bus, UINT64_MAX);
                if (r < 0 && r != -EINTR) {
                        fprintf(stderr, "isoctl: lost the bus: %s\n", strerror(-r));
                        return EXIT_UNREACHABLE;
                }
        }
}

typedef struct Command {
        const char *name;
        int nargs;
        int (*run)(Ctl *c, char **args);
        const char *args_help;
        const char *help;
} Command;

static const Command commands[] = {
        { "status", 0, cmd_status, "", "the partition, its state and the groups" },
        { "verify", 0, cmd_verify, "", "check everything now; exit 1 when a required finding is found" },
        { "apply", 0, cmd_apply, "", "apply the partition (root or polkit)" },
        { "reload", 0, cmd_reload, "", "re-read the configuration; an invalid one is refused (root or polkit)" },
        { "set", 2, cmd_set, " GROUP CPUS", "move a group to other CPUs, kept across restarts (root or polkit)" },
        { "revert", 0, cmd_revert, "", "restore every original value (root or polkit)" },
        { "boot-params", 0, cmd_boot_params, "", "the kernel command line the partition needs, and what is missing" },
        { "kernel-audit", 0, cmd_kernel_audit, "", "the kernel build options real-time audio needs" },
        { "plan", 0, cmd_plan, "", "a partition proposed for this machine, as a configuration file" },
        { "workloads", 0, cmd_workloads, "", "the processes placed in their groups: slice, CPUs, scheduling" },
        { "irqs", 0, cmd_irqs, "", "every IRQ: where it is, where it belongs, whether it hits isolated CPUs" },
        { "latency", -1, cmd_latency, " [--histogram CPU|--format=cyclictest]",
          "wake-up latency per measured CPU; a CPU's histogram; cyclictest -h output" },
        { "reset-latency", 0, cmd_reset_latency, "", "zero the latency statistics (root or polkit)" },
        { "sampler", 1, cmd_sampler, " start|stop", "start or stop the latency sampler (root or polkit)" },
        { "noise", 0, cmd_noise, "", "interrupts and context switches per second that still reach each CPU" },
        { "metrics", 0, cmd_metrics, "", "every figure in Prometheus's text format (--json does not apply)" },
        { "watch", 0, cmd_watch, "", "print isolatord's signals and property changes until interrupted" },
};

static void help(FILE *f) {
        fprintf(f, "Usage: isoctl [--json] [--no-color] COMMAND [ARGS]\n"
                   "Talks to isolatord (%s on the system bus).\n\nCommands:\n", BUS_NAME);
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *name = g_strconcat(commands[i].name, commands[i].args_help, NULL);
                fprintf(f, "  %-18s %s\n", name, commands[i].help);
        }
        fprintf(f, "\nOptions:\n"
                   "  --json       one JSON document (watch: one per line)\n"
                   "  --no-color   no colour even on a terminal\n"
                   "  -h, --help   this text\n"
                   "  --version    the version\n\n"
                   "Exit status: 0 fine, 1 findings or a failed change, 2 usage error (also a CPU list,\n"
                   "group or partition isolatord refuses), 3 isolatord unreachable or refused.\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100, ARG_NO_COLOR, ARG_VERSION };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "no-color", no_argument, NULL, ARG_NO_COLOR },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        Ctl c = {};
        const Command *cmd = NULL;
        int opt, r;

        const char *term = getenv("TERM");
        c.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && g_str_equal(term, "dumb"));

        /* "+": options end at the command, whose own arguments may look like options. */
        while ((opt = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (opt) {
                case ARG_JSON: c.json = true; break;
                case ARG_NO_COLOR: c.color = false; break;
                case 'h': help(stdout); return EXIT_OK;
                case ARG_VERSION: puts("isoctl " ISOLATORD_VERSION); return EXIT_OK;
                default: help(stderr); return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                help(stderr);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
                if (g_str_equal(argv[optind], commands[i].name))
                        cmd = &commands[i];
        if (!cmd) {
                fprintf(stderr, "isoctl: unknown command \"%s\"; see isoctl --help\n", argv[optind]);
                return EXIT_USAGE;
        }
        /* --json may also follow the command, as in "isoctl status --json". */
        int nargs = 0;
        char **args = g_new0(char *, argc);
        for (int i = optind + 1; i < argc; i++) {
                if (g_str_equal(argv[i], "--json"))
                        c.json = true;
                else if (g_str_equal(argv[i], "--no-color"))
                        c.color = false;
                else
                        args[nargs++] = argv[i];
        }
        if (cmd->nargs >= 0 && nargs != cmd->nargs) {
                fprintf(stderr, "isoctl: %s takes %d argument(s):%s\n", cmd->name, cmd->nargs,
                        *cmd->args_help ? cmd->args_help : " none");
                g_free(args);
                return EXIT_USAGE;
        }
        if (c.json)
                c.color = false;

        r = sd_bus_open_system(&c.bus);
        if (r < 0) {
                fprintf(stderr, "isoctl: cannot reach the system bus: %s\n", strerror(-r));
                g_free(args);
                return EXIT_UNREACHABLE;
        }
        r = cmd->run(&c, args);
        g_free(args);
        sd_bus_flush_close_unref(c.bus);
        return r;
}
