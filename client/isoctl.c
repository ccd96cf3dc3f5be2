/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "bus-error.h"
#include "base/table.h"

/* Exit statuses, the contract of DESIGN.md. */
enum {
        EXIT_OK = 0,
        EXIT_FINDINGS = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
};

typedef struct Ctl {
        GDBusConnection *bus;
        bool json;
        bool color;
        bool refused_input_is_usage; /* the command passes the user's values on */
        bool ask_password;           /* polkit may ask the user (--no-ask-password: never) */
        bool interactive;            /* a change, and polkit may ask: it may wait for a person */
        int timeout_ms;              /* -1: GDBus's 25 s */
} Ctl;

/* A change that runs the bootloader's tools (update-grub, kernel-install) waits for
 * them: as long as the helper's unit may take (TimeoutStartSec=5min), and a little. */
#define BOOTLINE_TIMEOUT_MS (330 * 1000)
/* A change polkit may ask a password for waits, on top of its own time, as long as
 * isolatord lets polkit ask (120 s), and a little. */
#define INTERACTIVE_EXTRA_MS (130 * 1000)
#define DEFAULT_TIMEOUT_MS (25 * 1000)
#define POLKIT_AGENT "/usr/bin/pkttyagent"
/* How long a stopped agent may take to end before it is killed. */
#define AGENT_STOP_MS 2000

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

/* Nothing answers for isolatord: no owner, an owner that left without answering, or no
 * bus any more. */
static bool daemon_absent(const GError *e) {
        return g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
               g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
               g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
               g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
               g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

/* What a failed call means for the user, and the exit status that says it. */
static int call_failed(const Ctl *c, const char *method, GError *e) {
        g_autofree char *name = g_dbus_error_get_remote_error(e);

        if (name)
                g_dbus_error_strip_remote_error(e); /* the daemon's message, without GDBus's prefix */
        else if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT)) {
                /* GDBus checked the answer against the type the interface documents. */
                fprintf(stderr, "isoctl: cannot read isolatord's answer: %s\n", e->message);
                return EXIT_UNREACHABLE;
        }
        if (daemon_absent(e)) {
                fprintf(stderr, "isoctl: isolatord is not running: nothing owns %s on the system bus (%s)\n",
                        BUS_NAME, e->message);
                return EXIT_UNREACHABLE;
        }
        if (g_strcmp0(name, BUS_ERROR_PREFIX "NotAuthorized") == 0 || g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED)) {
                fprintf(stderr, "isoctl: isolatord refused %s: %s\n", method, e->message);
                return EXIT_UNREACHABLE;
        }
        /* A value the user typed was wrong: a usage error, with the daemon's reason. */
        if (c->refused_input_is_usage && name &&
            (g_str_equal(name, BUS_ERROR_PREFIX "InvalidCpuList") || g_str_equal(name, BUS_ERROR_PREFIX "UnknownGroup") ||
             g_str_equal(name, BUS_ERROR_PREFIX "Overlap") || g_str_equal(name, BUS_ERROR_PREFIX "InvalidPartition"))) {
                fprintf(stderr, "isoctl: %s\n", e->message);
                return EXIT_USAGE;
        }
        fprintf(stderr, "isoctl: %s failed: %s%s%s%s\n", method, e->message, name ? " (" : "", name ? name : "",
                name ? ")" : "");
        return EXIT_FINDINGS;
}

/* Calls a method of isolatord's object; *reply holds its outputs, of reply_type (GDBus
 * refuses an answer of another type). what names the call in messages. Returns an exit
 * status. */
static int call_interface(const Ctl *c, const char *interface, const char *method, const char *what, GVariant *args,
                          const char *reply_type, GVariant **reply) {
        g_autoptr(GError) error = NULL;

        GDBusCallFlags flags = c->interactive ? G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION
                                              : G_DBUS_CALL_FLAGS_NONE;
        int timeout_ms = !c->interactive ? c->timeout_ms
                         : (c->timeout_ms < 0 ? DEFAULT_TIMEOUT_MS : c->timeout_ms) + INTERACTIVE_EXTRA_MS;
        *reply = g_dbus_connection_call_sync(c->bus, BUS_NAME, BUS_PATH, interface, method, args,
                                             G_VARIANT_TYPE(reply_type), flags, timeout_ms, NULL, &error);
        return *reply ? EXIT_OK : call_failed(c, what, error);
}

static int call(const Ctl *c, const char *method, GVariant *args, const char *reply_type, GVariant **reply) {
        return call_interface(c, BUS_INTERFACE, method, method, args, reply_type, reply);
}

/* Compact JSON text. json-glib (1.6) escapes every control character but U+001F (its
 * test is "< 0x1f"), which would make the document invalid; that byte only occurs inside
 * strings, so it is escaped here. */
static char *json_write(JsonNode *node) {
        g_autofree char *text = json_to_string(node, false);
        g_auto(GStrv) parts = g_strsplit(text, "\x1f", -1);
        return g_strjoinv("\\u001f", parts);
}

/* One D-Bus value as JSON: dictionaries as objects in the daemon's key order, variants
 * as their content, structs and other arrays as lists. */
static char *json_text(GVariant *v) {
        g_autoptr(JsonNode) node = json_gvariant_serialize(v);
        return json_write(node);
}

/* --json: a method's outputs as one document: the only one as itself, several as an
 * object under the interface's argument names. */
static void print_json(GVariant *reply, const char *const *names) {
        g_autoptr(JsonNode) node = NULL;

        if (!names[1]) {
                g_autoptr(GVariant) only = g_variant_get_child_value(reply, 0);
                node = json_gvariant_serialize(only);
        } else {
                g_autoptr(JsonObject) obj = json_object_new();
                for (gsize i = 0; names[i]; i++) {
                        g_autoptr(GVariant) out = g_variant_get_child_value(reply, i);
                        json_object_set_member(obj, names[i], json_gvariant_serialize(out));
                }
                node = json_node_init_object(json_node_alloc(), obj);
        }
        g_autofree char *text = json_write(node);
        puts(text);
}

/* A record's field, of the type the interface documents; a field the daemon does not
 * send reads as empty, zero or false. */
static const char *field_str(GVariant *rec, const char *key) {
        const char *s;
        return g_variant_lookup(rec, key, "&s", &s) ? s : "";
}

static guint32 field_u32(GVariant *rec, const char *key) {
        guint32 u;
        return g_variant_lookup(rec, key, "u", &u) ? u : 0;
}

static guint64 field_u64(GVariant *rec, const char *key) {
        guint64 t;
        return g_variant_lookup(rec, key, "t", &t) ? t : 0;
}

static double field_double(GVariant *rec, const char *key) {
        double d;
        return g_variant_lookup(rec, key, "d", &d) ? d : 0;
}

static bool field_bool(GVariant *rec, const char *key) {
        gboolean b;
        return g_variant_lookup(rec, key, "b", &b) && b;
}

/* A list of strings (as) joined by sep. */
static char *field_join(GVariant *rec, const char *key, const char *sep) {
        g_autofree const char **strv = NULL;
        return g_variant_lookup(rec, key, "^a&s", &strv) ? g_strjoinv(sep, (char **) strv) : g_strdup("");
}

static const char *or_dash(const char *s) {
        return s && *s ? s : "-";
}

/* --- commands --- */

static int cmd_status(Ctl *c, char **args) {
        static const char *const names[] = { "status", NULL };
        g_autoptr(GVariant) reply = NULL;
        int r = call(c, "GetStatus", NULL, "(a{sv})", &reply);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(reply, names);
                return EXIT_OK;
        }

        g_autoptr(GVariant) st = g_variant_get_child_value(reply, 0);
        const char *state = field_str(st, "state");
        g_autofree char *sources = field_join(st, "config_sources", ", ");
        guint64 last = field_u64(st, "last_verify_usec");
        printf("State:         %s%s%s (%u finding(s), %u required)\n", paint(c, state), state, unpaint(c),
               field_u32(st, "findings_count"), field_u32(st, "required_findings"));
        printf("Housekeeping:  %s\n", field_str(st, "housekeeping"));
        printf("Isolated:      %s\n", or_dash(field_str(st, "isolated")));
        printf("Machine:       CPUs %s online, under %s%s\n", field_str(st, "online"), field_str(st, "root"),
               field_bool(st, "dry_run") ? " (dry run: nothing is written)" : "");
        printf("Config:        %s\n", *sources ? sources : "built-in defaults");
        printf("Verified:      %" G_GUINT64_FORMAT " time(s), every %u s", field_u64(st, "verify_count"),
               field_u32(st, "verify_interval_sec"));
        if (last > 0) {
                time_t t = (time_t) (last / 1000000u);
                char when[64];
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
                printf("; last at %s", when);
        }
        printf("\nDrift:         %" G_GUINT64_FORMAT " correction(s)\n", field_u64(st, "drift_corrections"));
        printf("Starvation:    %" G_GUINT64_FORMAT " boost(s) of starving threads; guard %s\n", field_u64(st, "boost_count"),
               or_dash(field_str(st, "starvation_guard")));
        if (field_bool(st, "sampler_running"))
                printf("Latency:       %" G_GUINT64_FORMAT " sample(s) above %u us since the last reset (isoctl latency)\n",
                       field_u64(st, "latency_exceeded"), field_u32(st, "latency_threshold_us"));
        else
                printf("Latency:       the sampler is not running (isoctl sampler start)\n");
        const char *attribution = field_str(st, "attribution");
        if (*attribution && g_str_equal(attribution, "counters"))
                printf("Causes:        from counters only, which cannot say what ran when: %s\n",
                       field_str(st, "attribution_fallback"));
        else if (*attribution)
                printf("Causes:        from the kernel's tracepoints (isoctl latency --why)%s%s\n",
                       *field_str(st, "attribution_missing") ? "; this kernel has no " : "",
                       field_str(st, "attribution_missing"));
        printf("\n");

        g_autoptr(Table) t = table_new("GROUP", "CPUS", "COUNT", "SLICE", "MATCH", "SCHED", NULL);
        g_autoptr(GVariant) groups = g_variant_lookup_value(st, "groups", G_VARIANT_TYPE("aa{sv}"));
        for (gsize i = 0; groups && i < g_variant_n_children(groups); i++) {
                g_autoptr(GVariant) g = g_variant_get_child_value(groups, i);
                g_autofree char *count = g_strdup_printf("%u", field_u32(g, "count"));
                g_autofree char *match = field_join(g, "match", " ");
                const char *policy = field_str(g, "sched_policy");
                guint32 priority = field_u32(g, "sched_priority");
                g_autofree char *sched = *policy && priority ? g_strdup_printf("%s %u", policy, priority) : g_strdup(policy);
                table_add_row(t, field_str(g, "name"), field_str(g, "cpus"), count, field_str(g, "slice"), or_dash(match),
                              or_dash(sched));
        }
        table_print(t, stdout);
        return EXIT_OK;
}

static int cmd_verify(Ctl *c, char **args) {
        static const char *const names[] = { "findings", NULL };
        g_autoptr(GVariant) reply = NULL;
        unsigned required = 0;
        int r = call(c, "Verify", NULL, "(aa{sv})", &reply);
        if (r != EXIT_OK)
                return r;

        g_autoptr(GVariant) findings = g_variant_get_child_value(reply, 0);
        gsize n = g_variant_n_children(findings);
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) f = g_variant_get_child_value(findings, i);
                required += field_bool(f, "required");
        }
        if (c->json) {
                print_json(reply, names);
                return required > 0 ? EXIT_FINDINGS : EXIT_OK;
        }
        if (n == 0) {
                printf("No findings: the partition holds.\n");
                return EXIT_OK;
        }
        g_autoptr(Table) t = table_new("KIND", "OBJECT", "EXPECTED", "FOUND", "LEVEL", NULL);
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) f = g_variant_get_child_value(findings, i);
                table_add_row(t, field_str(f, "kind"), field_str(f, "object"), or_dash(field_str(f, "expected")),
                              or_dash(field_str(f, "actual")), field_bool(f, "required") ? "required" : "advice");
        }
        table_print(t, stdout);
        printf("\n%zu finding(s), %u required%s\n", n, required,
               required ? ": the partition does not hold (details: isoctl verify --json)" : "");
        return required > 0 ? EXIT_FINDINGS : EXIT_OK;
}

/* The items of boot-params and kernel-audit (aa{sv}). */
static void print_audit_table(const Ctl *c, GVariant *items, const char *first_header) {
        g_autoptr(Table) t = table_new(first_header, "WANTED", "RUNNING", "STATE", "LEVEL", NULL);
        for (gsize i = 0; i < g_variant_n_children(items); i++) {
                g_autoptr(GVariant) it = g_variant_get_child_value(items, i);
                const char *state = field_str(it, "state");
                const char *actual = field_str(it, "actual");
                const char *expected = field_str(it, "expected");
                g_autofree char *shown_state = g_strdup_printf("%s%s%s", paint(c, state), state, unpaint(c));
                table_add_row(t, field_str(it, "name"), *expected ? expected : "(flag)",
                              field_bool(it, "present") ? (*actual ? actual : "(set)") : "-", shown_state,
                              field_bool(it, "required") ? "required" : "recommended");
        }
        table_print(t, stdout);
}

static unsigned count_required_problems(GVariant *items) {
        unsigned n = 0;
        for (gsize i = 0; i < g_variant_n_children(items); i++) {
                g_autoptr(GVariant) it = g_variant_get_child_value(items, i);
                n += field_bool(it, "required") && !g_str_equal(field_str(it, "state"), "ok");
        }
        return n;
}

/* What the next boot will have, under the table of boot-params. */
static void print_boot_loader(const Ctl *c, GVariant *bl, const char *required_line) {
        const char *kind = field_str(bl, "kind");
        g_autofree char *lacks = field_join(bl, "next_boot_lacks", " ");
        g_auto(GStrv) required = g_strsplit(required_line, " ", -1);
        g_auto(GStrv) lacking = g_strsplit(lacks, " ", -1);
        bool has_required = *field_str(bl, "next_boot_line") != '\0';

        for (char **p = required; *p && has_required; p++)
                has_required = !g_strv_contains((const char *const *) lacking, *p);
        if (g_str_equal(kind, "unknown"))
                printf("\nBootloader:  none isolatord writes for (%s):\n             add the line to its kernel "
                       "command line by hand, then reboot.\n", field_str(bl, "why"));
        else
                printf("\nBootloader:  %s (isoctl boot-params --write writes the line; isoctl revert takes it back)\n", kind);
        if (*field_str(bl, "next_boot_line"))
                printf("Next boot:   %s%s%s (\"%s\", /%s)\n", paint(c, has_required ? "ok" : "missing"),
                       has_required ? "has the required line" : "lacks required parameters", unpaint(c),
                       field_str(bl, "next_boot_title"), field_str(bl, "next_boot_source"));
        else if (*field_str(bl, "next_boot_error") && !g_str_equal(kind, "unknown"))
                printf("Next boot:   unknown (%s)\n", field_str(bl, "next_boot_error"));
        if (*field_str(bl, "next_boot_chosen"))
                printf("             the default: %s\n", field_str(bl, "next_boot_chosen"));
        if (*lacks && *field_str(bl, "next_boot_line"))
                printf("             it lacks: %s\n", lacks);
        if (field_bool(bl, "written"))
                printf("Written:     %s\n", field_str(bl, "written_line"));
        if (*field_str(bl, "state_error"))
                printf("Written:     %s\n", field_str(bl, "state_error"));
}

static int cmd_boot_params_write(Ctl *c, bool all) {
        g_autoptr(GVariant) reply = NULL;
        const char *message;
        c->timeout_ms = BOOTLINE_TIMEOUT_MS;
        int r = call(c, "WriteBootParameters", g_variant_new("(b)", all), "(s)", &reply);
        if (r != EXIT_OK)
                return r;
        g_variant_get(reply, "(&s)", &message);
        if (c->json) {
                g_autoptr(JsonBuilder) b = json_builder_new();
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "message");
                json_builder_add_string_value(b, message);
                json_builder_end_object(b);
                g_autoptr(JsonNode) node = json_builder_get_root(b);
                g_autofree char *text = json_write(node);
                puts(text);
        } else
                printf("%s\n", message);
        return EXIT_OK;
}

static int cmd_boot_params(Ctl *c, char **args) {
        g_autoptr(GVariant) reply = NULL, bl_reply = NULL;
        g_autoptr(GVariant) params = NULL, bl = NULL;
        const char *required_line, *full_line;
        bool write = false, all = false;

        for (char **a = args; *a; a++) {
                if (g_str_equal(*a, "--write"))
                        write = true;
                else if (g_str_equal(*a, "--all"))
                        all = true;
                else {
                        fprintf(stderr, "isoctl: boot-params takes --write and --all, not \"%s\"\n", *a);
                        return EXIT_USAGE;
                }
        }
        if (all && !write) {
                fprintf(stderr, "isoctl: --all goes with --write\n");
                return EXIT_USAGE;
        }
        if (write)
                return cmd_boot_params_write(c, all);

        int r = call(c, "GetBootParameters", NULL, "(aa{sv}ss)", &reply);
        if (r != EXIT_OK)
                return r;
        g_variant_get(reply, "(@aa{sv}&s&s)", &params, &required_line, &full_line);
        if (call(c, "GetBootLoader", NULL, "(a{sv})", &bl_reply) == EXIT_OK)
                g_variant_get(bl_reply, "(@a{sv})", &bl);
        unsigned problems = count_required_problems(params);
        if (c->json) {
                g_autoptr(JsonObject) obj = json_object_new();
                json_object_set_member(obj, "parameters", json_gvariant_serialize(params));
                json_object_set_string_member(obj, "required_line", required_line);
                json_object_set_string_member(obj, "full_line", full_line);
                if (bl)
                        json_object_set_member(obj, "bootloader", json_gvariant_serialize(bl));
                g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);
                g_autofree char *text = json_write(node);
                puts(text);
                return problems ? EXIT_FINDINGS : EXIT_OK;
        }
        print_audit_table(c, params, "PARAMETER");
        printf("\nKernel command line the partition needs:\n  %s\n"
               "With the recommended ones (isoctl boot-params --write --all):\n  %s\n",
               required_line, full_line);
        if (bl)
                print_boot_loader(c, bl, required_line);
        printf("\n%u required setting(s) of the running kernel missing or different.\n", problems);
        return problems ? EXIT_FINDINGS : EXIT_OK;
}

static int cmd_kernel_audit(Ctl *c, char **args) {
        static const char *const names[] = { "source", "options", "fragment", NULL };
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) options = NULL;
        const char *source;
        int r = call(c, "GetKernelAudit", NULL, "(saa{sv}s)", &reply);
        if (r != EXIT_OK)
                return r;
        g_variant_get(reply, "(&s@aa{sv}s)", &source, &options, NULL);
        unsigned problems = count_required_problems(options);
        if (c->json) {
                print_json(reply, names);
                return problems ? EXIT_FINDINGS : EXIT_OK;
        }
        printf("Kernel configuration: %s\n\n", source);
        print_audit_table(c, options, "OPTION");
        printf("\n%u required option(s) missing or different.%s\n", problems,
               problems ? " A Kconfig fragment for your own kernel: isoctl kernel-audit --json (\"fragment\")" : "");
        return problems ? EXIT_FINDINGS : EXIT_OK;
}

static int cmd_plan(Ctl *c, char **args) {
        static const char *const names[] = { "config", "notes", NULL };
        g_autoptr(GVariant) reply = NULL;
        g_autofree const char **notes = NULL;
        const char *config;
        int r = call(c, "Plan", NULL, "(sas)", &reply);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(reply, names);
                return EXIT_OK;
        }
        g_variant_get(reply, "(&s^a&s)", &config, &notes);
        for (const char **note = notes; *note; note++)
                printf("# Note: %s.\n", *note);
        fputs(config, stdout);
        return EXIT_OK;
}

static int cmd_irqs(Ctl *c, char **args) {
        static const char *const names[] = { "irqs", NULL };
        g_autoptr(GVariant) reply = NULL;
        unsigned hot = 0, unmovable = 0, foreign = 0;
        int r = call(c, "GetIrqs", NULL, "(aa{sv})", &reply);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(reply, names);
                return EXIT_OK;
        }
        g_autoptr(GVariant) irqs = g_variant_get_child_value(reply, 0);
        gsize n = g_variant_n_children(irqs);
        g_autoptr(Table) t = table_new("IRQ", "NAME", "CPUS", "EFFECTIVE", "TARGET", "STATE", "ON ISOLATED", NULL);
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) q = g_variant_get_child_value(irqs, i);
                const char *state = field_str(q, "state");
                guint64 isolated = field_u64(q, "isolated_count");
                g_autofree char *num = g_strdup_printf("%u", field_u32(q, "irq"));
                /* "!": the IRQ has fired on isolated CPUs (since boot): worth a look. */
                g_autofree char *count = isolated ? g_strdup_printf("%" G_GUINT64_FORMAT " !", isolated) : g_strdup("0");
                g_autofree char *shown_state = g_strdup_printf("%s%s%s",
                                                               g_str_equal(state, "pinned") || g_str_equal(state, "ruled")
                                                                       ? paint(c, "ok") : paint(c, "degraded"),
                                                               state, unpaint(c));
                hot += isolated > 0;
                unmovable += g_str_equal(state, "unmovable");
                foreign += g_str_equal(state, "foreign");
                table_add_row(t, num, or_dash(field_str(q, "name")), field_str(q, "cpus"),
                              or_dash(field_str(q, "effective")), field_str(q, "target"), shown_state, count);
        }
        table_print(t, stdout);
        printf("\n%zu IRQ(s): %u unmovable, %u not on their CPUs; %u have fired on isolated CPUs since boot (!)\n",
               n, unmovable, foreign, hot);
        return EXIT_OK;
}

/* "fifo 10" from a record's policy and priority, "-" when it has no policy. */
static char *field_sched(GVariant *rec) {
        const char *policy = field_str(rec, "policy");
        gint32 priority = 0;
        g_variant_lookup(rec, "priority", "i", &priority);
        if (!*policy)
                return g_strdup("-");
        return priority ? g_strdup_printf("%s %d", policy, priority) : g_strdup(policy);
}

/* The threads of one workload record as rows; how many. */
static gsize add_thread_rows(Table *t, const char *pid, GVariant *workload) {
        g_autoptr(GVariant) threads = g_variant_lookup_value(workload, "threads", G_VARIANT_TYPE("aa{sv}"));
        gsize n = threads ? g_variant_n_children(threads) : 0;
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) th = g_variant_get_child_value(threads, i);
                g_autofree char *tid = g_strdup_printf("%u", field_u32(th, "tid"));
                g_autofree char *sched = field_sched(th);
                table_add_row(t, pid, tid, field_str(th, "comm"), or_dash(field_str(th, "rule")),
                              or_dash(field_str(th, "cpus")), sched);
        }
        return n;
}

static int cmd_workloads(Ctl *c, char **args) {
        static const char *const names[] = { "workloads", NULL };
        g_autoptr(GVariant) reply = NULL;
        int r = call(c, "GetWorkloads", NULL, "(aa{sv})", &reply);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(reply, names);
                return EXIT_OK;
        }
        g_autoptr(GVariant) ws = g_variant_get_child_value(reply, 0);
        gsize n = g_variant_n_children(ws);
        g_autoptr(Table) t = table_new("GROUP", "PID", "COMM", "CPUS", "POLICY", "PLACED", NULL);
        g_autoptr(Table) threads = table_new("PID", "TID", "THREAD", "RULE", "CPUS", "POLICY", NULL);
        gsize nthreads = 0;
        for (gsize i = 0; i < n; i++) {
                g_autoptr(GVariant) w = g_variant_get_child_value(ws, i);
                g_autofree char *sched = field_sched(w);
                g_autofree char *pid = g_strdup_printf("%u", field_u32(w, "pid"));
                g_autoptr(GDateTime) at = g_date_time_new_from_unix_local((gint64) (field_u64(w, "placed_at") / 1000000u));
                g_autofree char *when = at ? g_date_time_format(at, "%H:%M:%S") : g_strdup("-");
                table_add_row(t, field_str(w, "group"), pid, field_str(w, "comm"), or_dash(field_str(w, "cpus")), sched,
                              when);
                nthreads += add_thread_rows(threads, pid, w);
        }
        table_print(t, stdout);
        if (nthreads > 0) {
                printf("\n");
                table_print(threads, stdout);
        }
        printf("\n%zu placed process(es), %zu thread(s); RULE \"-\": the group's CPUs and scheduling\n", n, nthreads);
        return EXIT_OK;
}

static int simple_change(Ctl *c, const char *method, const char *what);

/* cyclictest -h's output, so that existing plotting scripts read it: one line per 1 us
 * bucket with a column per CPU, then the totals. cpus: the measured CPUs' records. */
static void print_cyclictest(const GPtrArray *cpus) {
        g_autoptr(GPtrArray) histograms = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        gsize rows = 0;
        for (unsigned c = 0; c < cpus->len; c++) {
                GVariant *h = g_variant_lookup_value(cpus->pdata[c], "histogram", G_VARIANT_TYPE("au"));
                if (!h)
                        h = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE_UINT32, NULL, 0));
                rows = MAX(rows, g_variant_n_children(h));
                g_ptr_array_add(histograms, h);
        }
        printf("# Histogram\n");
        for (gsize i = 0; i < rows; i++) {
                printf("%06zu", i);
                for (unsigned c = 0; c < cpus->len; c++) {
                        gsize len;
                        const guint32 *counts = g_variant_get_fixed_array(histograms->pdata[c], &len, sizeof(guint32));
                        printf("\t%06u", i < len ? counts[i] : 0);
                }
                printf("\n");
        }
        static const struct { const char *title, *key; bool count; int width; } totals[] = {
                { "# Total:", "samples", true, 9 },
                { "# Min Latencies:", "min_us", false, 5 },
                { "# Avg Latencies:", "avg_us", false, 5 },
                { "# Max Latencies:", "max_us", false, 5 },
                { "# Histogram Overflows:", "overflows", true, 5 },
        };
        for (size_t t = 0; t < G_N_ELEMENTS(totals); t++) {
                printf("%s", totals[t].title);
                for (unsigned c = 0; c < cpus->len; c++) {
                        GVariant *cpu = cpus->pdata[c];
                        double d = totals[t].count ? (double) field_u64(cpu, totals[t].key) : field_double(cpu, totals[t].key);
                        printf(" %0*.0f", totals[t].width, d);
                }
                printf("\n");
        }
        printf("# Histogram Overflow at cycle number:\n");
        for (unsigned c = 0; c < cpus->len; c++)
                printf("# Thread %u: (CPU %u)\n", c, field_u32(cpus->pdata[c], "cpu"));
}

/* A terminal bar chart of one CPU's histogram, counts log-scaled so that rare slow
 * samples still show. */
static int print_histogram(Ctl *c, const char *cpu_text) {
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) counts_v = NULL;
        guint32 bucket;
        guint64 overflows, max = 0, total = 0;
        guint64 cpu;
        gsize n;

        if (!g_ascii_string_to_unsigned(cpu_text, 10, 0, 8191, &cpu, NULL)) {
                fprintf(stderr, "isoctl: --histogram takes a CPU number, not \"%s\"\n", cpu_text);
                return EXIT_USAGE;
        }
        int r = call(c, "GetHistogram", g_variant_new("(u)", (guint32) cpu), "(uaut)", &reply);
        if (r != EXIT_OK)
                return r;
        g_variant_get(reply, "(u@aut)", &bucket, &counts_v, &overflows);
        const guint32 *counts = g_variant_get_fixed_array(counts_v, &n, sizeof(guint32));
        for (gsize i = 0; i < n; i++) {
                max = MAX(max, counts[i]);
                total += counts[i];
        }
        max = MAX(max, overflows);
        printf("Latency histogram of CPU %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " samples, %u us buckets, log-scaled\n\n",
               cpu, total + overflows, bucket);
        for (gsize i = 0; i < n; i++) {
                if (!counts[i])
                        continue;
                int len = (int) (log10((double) counts[i] + 1) / log10((double) max + 1) * 50 + 0.5);
                printf("%5zu us |%.*s %u\n", i * bucket, MAX(len, 1),
                       "##################################################", counts[i]);
        }
        if (overflows) {
                int len = (int) (log10((double) overflows + 1) / log10((double) max + 1) * 50 + 0.5);
                printf(">%4zu us |%.*s %" G_GUINT64_FORMAT "\n", n * bucket, MAX(len, 1),
                       "##################################################", overflows);
        }
        return EXIT_OK;
}

static char *format_time_usec(guint64 usec) {
        time_t t = (time_t) (usec / 1000000u);
        char when[32];
        strftime(when, sizeof when, "%H:%M:%S", localtime(&t));
        return g_strdup_printf("%s.%03u", when, (unsigned) (usec % 1000000u / 1000u));
}

/* A cause's size in the window (traced) or its rate (counters). */
static char *cause_amount(GVariant *cause) {
        double t = field_double(cause, "time_us"), rate = field_double(cause, "per_second");
        if (t >= 0)
                return g_strdup_printf("%.0f us x%u", t, field_u32(cause, "count"));
        return rate >= 0 ? g_strdup_printf("%.0f/s", rate) : g_strdup("-");
}

static void add_cause_row(Table *t, GVariant *spike, GVariant *cause, bool first) {
        g_autofree char *when = first ? format_time_usec(field_u64(spike, "at_usec")) : g_strdup("");
        g_autofree char *cpu = first ? g_strdup_printf("%u", field_u32(spike, "cpu")) : g_strdup("");
        g_autofree char *late = first ? g_strdup_printf("%" G_GUINT64_FORMAT " us%s", field_u64(spike, "latency_us"),
                                                        field_bool(spike, "partial") ? "*" : "")
                                      : g_strdup("");
        g_autofree char *amount = cause ? cause_amount(cause) : g_strdup("-");
        g_autofree char *who = NULL;
        if (!cause)
                who = g_strdup(g_str_equal(field_str(spike, "source"), "counters") ? "no counter moved"
                                                                                   : "nothing traced ran");
        else if (g_str_equal(field_str(cause, "kind"), "thread"))
                who = g_strdup_printf("%s [%u]", field_str(cause, "name"), field_u32(cause, "id"));
        else
                who = g_strdup(field_str(cause, "name"));
        table_add_row(t, when, cpu, late, cause ? field_str(cause, "kind") : "-", who, amount,
                      cause ? or_dash(field_str(cause, "sched")) : "-", cause ? or_dash(field_str(cause, "group")) : "-",
                      cause && field_bool(cause, "movable") ? "yes" : "no");
}

/* isoctl latency --why: the last spikes, each with what ran in its window. */
static int print_spikes(Ctl *c, guint32 count) {
        static const char *const names[] = { "spikes", NULL };
        g_autoptr(GVariant) reply = NULL;
        int r = call(c, "GetSpikes", g_variant_new("(u)", count), "(aa{sv})", &reply);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(reply, names);
                return EXIT_OK;
        }
        g_autoptr(GVariant) spikes = g_variant_get_child_value(reply, 0);
        if (g_variant_n_children(spikes) == 0) {
                printf("No spike above the threshold since the start or the last reset.\n");
                return EXIT_OK;
        }
        g_autoptr(Table) t = table_new("TIME", "CPU", "LATE", "KIND", "CAUSE", "IN WINDOW", "SCHED", "GROUP", "MOVABLE",
                                       NULL);
        g_autoptr(GString) notes = g_string_new(NULL);
        const char *source = "";
        bool partial = false;
        for (gsize i = 0; i < g_variant_n_children(spikes); i++) {
                g_autoptr(GVariant) spike = g_variant_get_child_value(spikes, i);
                partial |= field_bool(spike, "partial");
                g_autoptr(GVariant) causes = g_variant_lookup_value(spike, "causes", G_VARIANT_TYPE("aa{sv}"));
                gsize n = causes ? g_variant_n_children(causes) : 0;
                g_variant_lookup(spike, "source", "&s", &source);
                if (n == 0)
                        add_cause_row(t, spike, NULL, true);
                for (gsize k = 0; k < n; k++) {
                        g_autoptr(GVariant) cause = g_variant_get_child_value(causes, k);
                        add_cause_row(t, spike, cause, k == 0);
                        if (field_bool(cause, "movable") && !strstr(notes->str, field_str(cause, "note")))
                                g_string_append_printf(notes, "  %s %s: %s\n", field_str(cause, "kind"),
                                                       field_str(cause, "name"), field_str(cause, "note"));
                }
        }
        printf("The last spikes on the audio CPUs and what ran in each one's window (%s):\n\n",
               g_str_equal(source, "counters") ? "from counters: what moved in the second before, not what ran when"
                                               : "from the kernel's tracepoints, the longest first");
        table_print(t, stdout);
        if (partial)
                printf("\n* Part of this window was not traced (records the kernel lost to a full ring, or older "
                       "than isolatord keeps): what ran there is missing.\n");
        if (notes->len)
                printf("\nWhat isolatord moves:\n%s", notes->str);
        return EXIT_OK;
}

static int cmd_latency(Ctl *c, char **args) {
        static const char *const names[] = { "cpus", NULL };
        g_autoptr(GVariant) reply = NULL;
        bool cyclictest = false;
        const char *histogram = NULL;
        gint64 why = -1;

        for (char **a = args; *a; a++) {
                if (g_str_equal(*a, "--format=cyclictest"))
                        cyclictest = true;
                else if (g_str_equal(*a, "--why"))
                        why = 10;
                else if (g_str_has_prefix(*a, "--why=")) {
                        guint64 n;
                        if (!g_ascii_string_to_unsigned(*a + strlen("--why="), 10, 0, 32, &n, NULL)) {
                                fprintf(stderr, "isoctl: --why= takes how many spikes, 0 to 32, not \"%s\"\n", *a + 6);
                                return EXIT_USAGE;
                        }
                        why = (gint64) n;
                }
                else if (g_str_equal(*a, "--histogram") && a[1])
                        histogram = *++a;
                else if (g_str_has_prefix(*a, "--histogram="))
                        histogram = *a + strlen("--histogram=");
                else {
                        fprintf(stderr, "isoctl: latency takes --json, --why[=N], --histogram CPU or --format=cyclictest, "
                                        "not \"%s\"\n", *a);
                        return EXIT_USAGE;
                }
        }
        if (why >= 0)
                return print_spikes(c, (guint32) why);
        if (histogram)
                return print_histogram(c, histogram);
        int r = call(c, "GetLatency", NULL, "(aa{sv})", &reply);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(reply, names);
                return EXIT_OK;
        }
        g_autoptr(GVariant) cpus = g_variant_get_child_value(reply, 0);
        if (g_variant_n_children(cpus) == 0) {
                printf("The sampler is not running (isoctl sampler start).\n");
                return EXIT_OK;
        }
        g_autoptr(GPtrArray) measured = g_ptr_array_new_with_free_func((GDestroyNotify) g_variant_unref);
        g_autoptr(GString) not_measured = g_string_new(NULL);
        for (gsize i = 0; i < g_variant_n_children(cpus); i++) {
                GVariant *cpu = g_variant_get_child_value(cpus, i);
                if (field_bool(cpu, "measured")) {
                        g_ptr_array_add(measured, cpu);
                        continue;
                }
                g_string_append_printf(not_measured, "%s%u", not_measured->len ? "," : "", field_u32(cpu, "cpu"));
                g_variant_unref(cpu);
        }
        if (cyclictest) {
                print_cyclictest(measured);
                return EXIT_OK;
        }
        /* The kernel's timerlat tracer measures the timer IRQ's latency apart. */
        bool timerlat = measured->len > 0 && g_strcmp0(field_str(measured->pdata[0], "source"), "timerlat") == 0;
        g_autoptr(Table) t = timerlat ? table_new("CPU", "SAMPLES", "MIN", "AVG", "P50", "P99", "P99.9", "MAX",
                                                  "IRQ AVG", "IRQ MAX", "OVERFLOWS", "LOST", "OVER THRESHOLD",
                                                  "OWN WAKEUPS/S", "OWN CPU", NULL)
                                      : table_new("CPU", "SAMPLES", "MIN", "AVG", "P50", "P99", "P99.9", "MAX",
                                                  "OVERFLOWS", "OVERRUNS", "OVER THRESHOLD", "OWN WAKEUPS/S",
                                                  "OWN CPU", NULL);
        for (unsigned i = 0; i < measured->len; i++) {
                GVariant *cpu = measured->pdata[i];
                g_autofree char *n = g_strdup_printf("%u", field_u32(cpu, "cpu"));
                g_autofree char *samples = g_strdup_printf("%" G_GUINT64_FORMAT, field_u64(cpu, "samples"));
                g_autofree char *mn = g_strdup_printf("%.1f", field_double(cpu, "min_us"));
                g_autofree char *avg = g_strdup_printf("%.1f", field_double(cpu, "avg_us"));
                g_autofree char *p50 = g_strdup_printf("%.0f", field_double(cpu, "p50_us"));
                g_autofree char *p99 = g_strdup_printf("%.0f", field_double(cpu, "p99_us"));
                g_autofree char *p999 = g_strdup_printf("%.0f", field_double(cpu, "p999_us"));
                g_autofree char *mx = g_strdup_printf("%.1f", field_double(cpu, "max_us"));
                g_autofree char *of = g_strdup_printf("%" G_GUINT64_FORMAT, field_u64(cpu, "overflows"));
                g_autofree char *ov = g_strdup_printf("%" G_GUINT64_FORMAT, field_u64(cpu, "overruns"));
                g_autofree char *ex = g_strdup_printf("%" G_GUINT64_FORMAT, field_u64(cpu, "exceeded"));
                double wakeups = field_double(cpu, "own_wakeups_per_s"), own = field_double(cpu, "own_cpu_percent");
                g_autofree char *ow = wakeups >= 0 ? g_strdup_printf("%.0f", wakeups) : g_strdup("?");
                g_autofree char *oc = own >= 0 ? g_strdup_printf("%.2f%%", own) : g_strdup("?");
                g_autofree char *irq_avg = g_strdup_printf("%.1f", field_double(cpu, "irq_avg_us"));
                g_autofree char *irq_max = g_strdup_printf("%.1f", field_double(cpu, "irq_max_us"));
                if (timerlat)
                        table_add_row(t, n, samples, mn, avg, p50, p99, p999, mx, irq_avg, irq_max, of, ov, ex, ow, oc);
                else
                        table_add_row(t, n, samples, mn, avg, p50, p99, p999, mx, of, ov, ex, ow, oc);
        }
        if (timerlat)
                printf("Wake-up latency in microseconds, measured by the kernel's timerlat tracer: its thread's per\n"
                       "measured CPU (the histogram), the timer IRQ's apart (IRQ AVG, IRQ MAX), beside what measuring\n"
                       "costs (the tracer's thread; isoctl latency --why: what caused the spikes):\n\n");
        else
                printf("Wake-up latency in microseconds, per measured CPU, beside what measuring costs it (the sampler's\n"
                       "own wake-ups and share of the CPU since it started; isoctl latency --why: what caused the spikes):\n\n");
        table_print(t, stdout);
        if (not_measured->len)
                printf("\nNot measured (not on this machine, or no real-time thread): CPUs %s\n", not_measured->str);
        return EXIT_OK;
}

static char *rate_text(double rate) {
        return rate < 0 ? g_strdup("?") : g_strdup_printf("%.0f", rate);
}

/* The first sources of a CPU: "kworker/3:1 12/s 3.1%; 56 xhci_hcd 2/s". */
static char *sources_text(GVariant *cpu) {
        g_autoptr(GVariant) sources = g_variant_lookup_value(cpu, "sources", G_VARIANT_TYPE("aa{sv}"));
        g_autoptr(GString) out = g_string_new(NULL);
        if (!sources)
                return field_join(cpu, "top_sources", "; ");
        for (gsize i = 0; i < g_variant_n_children(sources) && i < 4; i++) {
                g_autoptr(GVariant) s = g_variant_get_child_value(sources, i);
                double share = field_double(s, "share");
                g_string_append_printf(out, "%s%s %.0f/s", out->len ? "; " : "", field_str(s, "name"),
                                       field_double(s, "per_second"));
                if (share >= 0)
                        g_string_append_printf(out, " %.1f%%", share * 100);
        }
        return g_string_free(g_steal_pointer(&out), false);
}

static int cmd_noise(Ctl *c, char **args) {
        static const char *const names[] = { "cpus", NULL };
        g_autoptr(GVariant) reply = NULL;
        int r = call(c, "GetNoise", NULL, "(aa{sv})", &reply);
        if (r != EXIT_OK)
                return r;
        if (c->json) {
                print_json(reply, names);
                return EXIT_OK;
        }
        g_autoptr(GVariant) cpus = g_variant_get_child_value(reply, 0);
        g_autoptr(Table) t = table_new("CPU", "LOC/s", "RES/s", "CAL/s", "TLB/s", "DEVICES/s", "SWITCHES/s",
                                       "TOP SOURCES", NULL);
        const char *source = "counters";
        double seconds = 0;
        g_autoptr(GString) lost = g_string_new(NULL);
        for (gsize i = 0; i < g_variant_n_children(cpus); i++) {
                g_autoptr(GVariant) cpu = g_variant_get_child_value(cpus, i);
                if (field_double(cpu, "lost") > 0)
                        g_string_append_printf(lost, "%sCPU %u %.0f/s", lost->len ? ", " : "", field_u32(cpu, "cpu"),
                                               field_double(cpu, "lost"));
                g_autofree char *n = g_strdup_printf("%u", field_u32(cpu, "cpu"));
                g_autofree char *loc = rate_text(field_double(cpu, "loc"));
                g_autofree char *res = rate_text(field_double(cpu, "res"));
                g_autofree char *cal = rate_text(field_double(cpu, "cal"));
                g_autofree char *tlb = rate_text(field_double(cpu, "tlb"));
                g_autofree char *dev = rate_text(field_double(cpu, "devices"));
                g_autofree char *swt = rate_text(field_double(cpu, "switches"));
                g_autofree char *top = sources_text(cpu);
                g_variant_lookup(cpu, "source", "&s", &source);
                g_variant_lookup(cpu, "seconds", "d", &seconds);
                table_add_row(t, n, loc, res, cal, tlb, dev, swt, or_dash(top));
        }
        g_autofree char *window = seconds >= 1.5 ? g_strdup_printf("the last %.0f s", seconds) : g_strdup("the last second");
        printf("What still reaches each audio CPU, per second over %s (%s):\n\n", window,
               g_str_equal(source, "tracepoints") ? "from the kernel's tracepoints; a source's share of the CPU's time"
                                                  : "from counters: device IRQs only, no threads");
        table_print(t, stdout);
        if (lost->len)
                printf("\nTrace records the kernel dropped (a full ring: the sources above are incomplete): %s\n",
                       lost->str);
        return EXIT_OK;
}

/* Prometheus's text format, as the daemon makes it (the same text as its textfile). */
static int cmd_metrics(Ctl *c, char **args) {
        g_autoptr(GVariant) reply = NULL;
        const char *text;
        int r = call(c, "GetMetrics", NULL, "(s)", &reply);
        if (r != EXIT_OK)
                return r;
        g_variant_get(reply, "(&s)", &text);
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
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) value = NULL;
        int r = call_interface(c, "org.freedesktop.DBus.Properties", "Get", "State",
                               g_variant_new("(ss)", BUS_INTERFACE, "State"), "(v)", &reply);
        if (r != EXIT_OK)
                return r;
        g_variant_get(reply, "(v)", &value);
        if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING)) {
                fprintf(stderr, "isoctl: cannot read isolatord's answer: State is of type %s\n", g_variant_get_type_string(value));
                return EXIT_UNREACHABLE;
        }
        const char *s = g_variant_get_string(value, NULL);
        printf("%s; isolatord is %s%s%s.\n", what, paint(c, s), s, unpaint(c));
        return EXIT_OK;
}

static int simple_change(Ctl *c, const char *method, const char *what) {
        g_autoptr(GVariant) reply = NULL;
        int r = call(c, method, NULL, "()", &reply);
        return r != EXIT_OK ? r : after_change(c, what);
}

static int cmd_apply(Ctl *c, char **args) {
        return simple_change(c, "Apply", "Applied");
}

static int cmd_reload(Ctl *c, char **args) {
        return simple_change(c, "Reload", "Configuration reloaded");
}

static int cmd_revert(Ctl *c, char **args) {
        c->timeout_ms = BOOTLINE_TIMEOUT_MS; /* a boot line written is taken back too */
        return simple_change(c, "Revert", "Every original value restored");
}

static int cmd_set(Ctl *c, char **args) {
        g_autoptr(GVariant) reply = NULL;
        g_autofree char *what = g_strdup_printf("Group %s moved to CPUs %s", args[0], args[1]);
        c->refused_input_is_usage = true;
        int r = call(c, "SetGroupCpus", g_variant_new("(ss)", args[0], args[1]), "()", &reply);
        return r != EXIT_OK ? r : after_change(c, what);
}

/* One line per signal: with --json an object of the time, the signal's name and its
 * arguments; otherwise PropertiesChanged as name=value pairs and the others as their
 * arguments, each in JSON. */
static void on_signal(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                      const char *member, GVariant *args, void *userdata) {
        const Ctl *c = userdata;
        g_autoptr(GString) line = g_string_new(NULL);
        char when[32];
        time_t now = time(NULL);

        strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
        if (c->json) {
                g_autoptr(JsonBuilder) b = json_builder_new();
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "time");
                json_builder_add_string_value(b, when);
                json_builder_set_member_name(b, "signal");
                json_builder_add_string_value(b, member);
                json_builder_set_member_name(b, "args");
                json_builder_add_value(b, json_gvariant_serialize(args));
                json_builder_end_object(b);
                g_autoptr(JsonNode) event = json_builder_get_root(b);
                g_autofree char *text = json_write(event);
                g_string_append(line, text);
        } else if (g_str_equal(member, "PropertiesChanged") && g_variant_is_of_type(args, G_VARIANT_TYPE("(sa{sv}as)"))) {
                g_autoptr(GVariantIter) changed = NULL;
                g_autofree const char **invalidated = NULL;
                const char *name;
                GVariant *value;

                g_variant_get(args, "(&sa{sv}^a&s)", NULL, &changed, &invalidated);
                g_string_append_printf(line, "%s  changed:", when);
                while (g_variant_iter_loop(changed, "{&sv}", &name, &value)) {
                        g_autofree char *text = json_text(value);
                        g_string_append_printf(line, " %s=%s", name, text);
                }
                g_autofree char *inval = g_strjoinv(",", (char **) invalidated);
                if (*inval)
                        g_string_append_printf(line, " (invalidated: %s)", inval);
        } else {
                g_string_append_printf(line, "%s  %s", when, member);
                for (gsize i = 0; i < g_variant_n_children(args); i++) {
                        g_autoptr(GVariant) arg = g_variant_get_child_value(args, i);
                        g_autofree char *text = json_text(arg);
                        g_string_append_printf(line, " %s", text);
                }
        }
        puts(line->str);
        fflush(stdout);
}

static void on_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *error, void *userdata) {
        GMainLoop *loop = userdata;
        fprintf(stderr, "isoctl: lost the bus: %s\n", error ? error->message : "the connection was closed");
        g_main_loop_quit(loop);
}

static int cmd_watch(Ctl *c, char **args) {
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, false);
        g_autoptr(GVariant) reply = NULL;

        /* Signals from isolatord, whatever interface: its own and PropertiesChanged. */
        guint subscription = g_dbus_connection_signal_subscribe(c->bus, BUS_NAME, NULL, NULL, BUS_PATH, NULL,
                                                                G_DBUS_SIGNAL_FLAGS_NONE, on_signal, c, NULL);
        g_signal_connect(c->bus, "closed", G_CALLBACK(on_closed), loop);
        /* Fail early, and say so, when the daemon is not there. The bus handles the
         * subscription's AddMatch before this call, so nothing sent after it is missed. */
        int r = call_interface(c, "org.freedesktop.DBus.Peer", "Ping", "Ping", NULL, "()", &reply);
        if (r == EXIT_OK) {
                fprintf(stderr, "Watching %s; Ctrl-C to stop.\n", BUS_NAME);
                g_main_loop_run(loop);
                r = EXIT_UNREACHABLE;
        }
        g_signal_handlers_disconnect_by_func(c->bus, on_closed, loop);
        g_dbus_connection_signal_unsubscribe(c->bus, subscription);
        return r;
}

typedef struct Command {
        const char *name;
        int nargs;
        int (*run)(Ctl *c, char **args);
        const char *args_help;
        const char *help;
        bool change;    /* root's or polkit's: a password may be asked */
} Command;

static const Command commands[] = {
        { "status", 0, cmd_status, "", "the partition, its state and the groups" },
        { "verify", 0, cmd_verify, "", "check everything now; exit 1 when a required finding is found" },
        { "apply", 0, cmd_apply, "", "apply the partition (root or polkit)", true },
        { "reload", 0, cmd_reload, "", "re-read the configuration; an invalid one is refused (root or polkit)", true },
        { "set", 2, cmd_set, " GROUP CPUS", "move a group to other CPUs, kept across restarts (root or polkit)", true },
        { "revert", 0, cmd_revert, "", "restore every original value (root or polkit)", true },
        { "boot-params", -1, cmd_boot_params, " [--write [--all]]",
          "the boot line the partition needs and what the next boot has; --write: for the bootloader (root or polkit)" },
        { "kernel-audit", 0, cmd_kernel_audit, "", "the kernel build options real-time audio needs" },
        { "plan", 0, cmd_plan, "", "a partition proposed for this machine, as a configuration file" },
        { "workloads", 0, cmd_workloads, "", "the processes placed in their groups: slice, CPUs, scheduling" },
        { "irqs", 0, cmd_irqs, "", "every IRQ: where it is, where it belongs, whether it hits isolated CPUs" },
        { "latency", -1, cmd_latency, " [--why[=N]|--histogram CPU|--format=cyclictest]",
          "wake-up latency per measured CPU and what measuring costs; the last spikes' causes; a histogram" },
        { "reset-latency", 0, cmd_reset_latency, "", "zero the latency statistics (root or polkit)", true },
        { "sampler", 1, cmd_sampler, " start|stop", "start or stop the latency sampler (root or polkit)", true },
        { "noise", 0, cmd_noise, "", "what still reaches each audio CPU a second: interrupts, threads, by name" },
        { "metrics", 0, cmd_metrics, "", "every figure in Prometheus's text format (--json does not apply)" },
        { "watch", 0, cmd_watch, "", "print isolatord's signals and property changes until interrupted" },
};

/* --- polkit's agent on the terminal --- */

/* A change asked for by a user who is not root, from a terminal: polkit may want their
 * password (boot-params --write always does), and asks it through an agent. As
 * systemctl does, polkit's text agent is started for the call (--fallback: a desktop's
 * own agent, when the session has one, asks instead) and waited for until it has
 * registered, then stopped. Without a terminal, polkit can still ask through a
 * desktop's agent. Returns the agent's pid, or -1 when none was started. */
static pid_t agent_start(void) {
        /* The tests' stand-in; an absolute path, and not taken from a setuid caller's
         * environment (isoctl is not setuid; root never starts an agent anyway). */
        const char *agent = secure_getenv("ISOCTL_POLKIT_AGENT");
        char fd_text[16];
        int notify[2];

        if (!agent || agent[0] != '/')
                agent = POLKIT_AGENT;
        if (geteuid() == 0 || !isatty(STDIN_FILENO) || access(agent, X_OK) < 0 || pipe(notify) < 0)
                return -1;
        (void) fcntl(notify[0], F_SETFD, FD_CLOEXEC);
        g_snprintf(fd_text, sizeof fd_text, "%d", notify[1]);
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
                /* Signals as a new program expects them: an ignored SIGTERM (a script's
                 * trap) would make the agent unstoppable. It ends with isoctl, and keeps
                 * only the terminal and its notify fd. */
                sigset_t none;
                sigemptyset(&none);
                (void) sigprocmask(SIG_SETMASK, &none, NULL);
                for (int sig = 1; sig < NSIG; sig++)
                        if (sig != SIGKILL && sig != SIGSTOP)
                                (void) signal(sig, SIG_DFL);
                if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                        _exit(1);
                (void) close_range(3, (unsigned) notify[1] - 1, 0);
                (void) close_range((unsigned) notify[1] + 1, ~0u, 0);
                execl(agent, agent, "--notify-fd", fd_text, "--fallback", (char *) NULL);
                _exit(127);
        }
        close(notify[1]);
        if (pid > 0) {
                /* Registered when it closes its end (or ends): at most 10 s. */
                struct pollfd p = { .fd = notify[0], .events = POLLIN };
                (void) poll(&p, 1, 10 * 1000);
        }
        close(notify[0]);
        return pid;
}

/* Asked to end, and woken if a terminal stopped it (SIGTTOU in the background); killed
 * if it has not ended within AGENT_STOP_MS. */
static void agent_stop(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        (void) kill(pid, SIGCONT);
        for (int waited = 0; waited < AGENT_STOP_MS; waited += 10) {
                pid_t r = waitpid(pid, NULL, WNOHANG);
                if (r == pid || (r < 0 && errno != EINTR))
                        return;
                g_usleep(10 * 1000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

static void help(FILE *f) {
        fprintf(f, "Usage: isoctl [--json] [--no-color] [--no-ask-password] COMMAND [ARGS]\n"
                   "Talks to isolatord (%s on the system bus).\n\nCommands:\n", BUS_NAME);
        for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
                g_autofree char *name = g_strconcat(commands[i].name, commands[i].args_help, NULL);
                fprintf(f, "  %-18s %s\n", name, commands[i].help);
        }
        fprintf(f, "\nOptions:\n"
                   "  --json       one JSON document (watch: one per line)\n"
                   "  --no-color   no colour even on a terminal\n"
                   "  --no-ask-password\n"
                   "               a change polkit would ask a password for is refused instead\n"
                   "  -h, --help   this text\n"
                   "  --version    the version\n\n"
                   "Exit status: 0 fine, 1 findings or a failed change, 2 usage error (also a CPU list,\n"
                   "group or partition isolatord refuses), 3 isolatord unreachable or refused.\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100, ARG_NO_COLOR, ARG_NO_ASK_PASSWORD, ARG_VERSION };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "no-color", no_argument, NULL, ARG_NO_COLOR },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        Ctl c = { .timeout_ms = -1, .ask_password = true };
        const Command *cmd = NULL;
        int opt, r;

        const char *term = getenv("TERM");
        c.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && g_str_equal(term, "dumb"));

        /* "+": options end at the command, whose own arguments may look like options. */
        while ((opt = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (opt) {
                case ARG_JSON: c.json = true; break;
                case ARG_NO_COLOR: c.color = false; break;
                case ARG_NO_ASK_PASSWORD: c.ask_password = false; break;
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
                else if (g_str_equal(argv[i], "--no-ask-password"))
                        c.ask_password = false;
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
        bool change = cmd->change || (cmd->run == cmd_boot_params && g_strv_contains((const char *const *) args, "--write"));
        c.interactive = change && c.ask_password;
        /* Before the bus: no thread of GDBus's is running at the fork. */
        pid_t agent = c.interactive ? agent_start() : -1;

        g_autoptr(GError) error = NULL;
        c.bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
        if (!c.bus) {
                fprintf(stderr, "isoctl: cannot reach the system bus: %s\n", error->message);
                g_free(args);
                agent_stop(agent);
                return EXIT_UNREACHABLE;
        }
        /* A lost bus is the command's to report (watch says so), not a SIGTERM to itself. */
        g_dbus_connection_set_exit_on_close(c.bus, false);
        r = cmd->run(&c, args);
        g_free(args);
        g_object_unref(c.bus);
        agent_stop(agent);
        return r;
}
