/* SPDX-License-Identifier: GPL-2.0-or-later */
/* isolator-tray: isolatord at a glance in the desktop's tray. An Ayatana AppIndicator
 * (a StatusNotifierItem) whose status, icon and title follow the daemon's State on the
 * system bus; a menu with the partition, the last spike's cause, each group's worst latency, Verify, the latency
 * window, Apply and Revert; desktop notifications for LatencyExceeded and
 * DriftCorrected, at most one of each kind every NOTIFY_GAP_S. Only the bus API: the
 * tray never reads /proc or /sys, and a refused change is shown, not swallowed. */
#include <gtk/gtk.h>
#include <libayatana-appindicator/app-indicator.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BUS_NAME "org.rtaudio.Isolator"
#define BUS_PATH "/org/rtaudio/Isolator"
#define BUS_INTERFACE "org.rtaudio.Isolator1"
#define NOTIFY_GAP_S 30
#define REFRESH_MS 2000

typedef struct Group {
        char *name;
        char *cpus;
        double worst_p99_us, worst_max_us;
        bool measured;
} Group;

typedef struct Tray {
        AppIndicator *indicator;
        GDBusProxy *proxy;
        GDBusConnection *session;
        GtkWidget *menu, *state_item, *counts_item, *spike_item;
        GPtrArray *group_items;         /* GtkWidget*: one insensitive line per group */
        GtkWidget *latency_window, *latency_area;
        GHashTable *histograms;         /* cpu -> GArray of guint32, for the window */
        GPtrArray *groups;              /* Group* */
        gint64 last_notified[2];        /* LatencyExceeded, DriftCorrected (monotonic us) */
} Tray;

static void group_free(Group *g) {
        g_free(g->name);
        g_free(g->cpus);
        g_free(g);
}

/* --- what the daemon says --- */

static GVariant *call_sync(Tray *t, const char *method, GVariant *args, GError **error) {
        if (!g_dbus_proxy_get_name_owner(t->proxy)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "isolatord is not running");
                return NULL;
        }
        return g_dbus_proxy_call_sync(t->proxy, method, args, G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION, 120000,
                                      NULL, error);
}

/* "0-2,8" -> true for each CPU in it. */
static bool cpu_in_list(const char *list, unsigned cpu) {
        g_auto(GStrv) parts = g_strsplit(list ? list : "", ",", -1);
        for (char **p = parts; *p; p++) {
                unsigned a, b;
                int n = sscanf(*p, "%u-%u", &a, &b);
                if (n == 1)
                        b = a;
                if (n >= 1 && cpu >= a && cpu <= b)
                        return true;
        }
        return false;
}

static const char *icon_for(const char *state) {
        if (g_str_equal(state, "active"))
                return "emblem-default";
        if (g_str_equal(state, "degraded"))
                return "dialog-warning";
        if (g_str_equal(state, "reverted"))
                return "edit-undo";
        if (g_str_equal(state, "inactive"))
                return "dialog-information";
        return "process-stop"; /* not running */
}

static void set_label(GtkWidget *item, const char *text) {
        gtk_menu_item_set_label(GTK_MENU_ITEM(item), text);
}

/* "Last spike: CPU 1, 412 µs: irq 56 xhci_hcd 310 µs (movable)", from GetSpikes. */
static char *last_spike_line(Tray *t) {
        g_autoptr(GVariant) reply = call_sync(t, "GetSpikes", g_variant_new("(u)", 1u), NULL);
        g_autoptr(GVariant) spikes = reply ? g_variant_get_child_value(reply, 0) : NULL;
        if (!spikes || !g_variant_is_of_type(spikes, G_VARIANT_TYPE("aa{sv}")) || g_variant_n_children(spikes) == 0)
                return g_strdup("Last spike: none");
        g_autoptr(GVariant) spike = g_variant_get_child_value(spikes, 0);
        g_autoptr(GVariant) causes = g_variant_lookup_value(spike, "causes", G_VARIANT_TYPE("aa{sv}"));
        uint32_t cpu = 0;
        uint64_t late = 0;
        const char *source = "";
        g_variant_lookup(spike, "cpu", "u", &cpu);
        g_variant_lookup(spike, "latency_us", "t", &late);
        g_variant_lookup(spike, "source", "&s", &source);
        if (!causes || g_variant_n_children(causes) == 0)
                return g_strdup_printf("Last spike: CPU %u, %" G_GUINT64_FORMAT " µs: %s", cpu, late,
                                       g_str_equal(source, "counters") ? "no counter moved" : "nothing traced ran");
        g_autoptr(GVariant) first = g_variant_get_child_value(causes, 0);
        const char *kind = "", *name = "";
        double time_us = -1, rate = -1;
        gboolean movable = false;
        g_variant_lookup(first, "kind", "&s", &kind);
        g_variant_lookup(first, "name", "&s", &name);
        g_variant_lookup(first, "time_us", "d", &time_us);
        g_variant_lookup(first, "per_second", "d", &rate);
        g_variant_lookup(first, "movable", "b", &movable);
        g_autofree char *amount = time_us >= 0 ? g_strdup_printf("%.0f µs", time_us) : g_strdup_printf("%.0f/s", rate);
        return g_strdup_printf("Last spike: CPU %u, %" G_GUINT64_FORMAT " µs: %s %s %s%s", cpu, late, kind, name, amount,
                               movable ? " (isolatord moves it)" : "");
}

/* Reads the status and the latency, and makes the icon, title and menu say it. */
static void refresh(Tray *t) {
        g_autoptr(GVariant) status = NULL, latency = NULL;
        g_autofree char *title = NULL, *counts = NULL;
        const char *state = "not running";
        uint32_t findings = 0, required = 0;
        uint64_t drift = 0;

        g_ptr_array_set_size(t->groups, 0);
        if (g_dbus_proxy_get_name_owner(t->proxy)) {
                g_autoptr(GVariant) reply = call_sync(t, "GetStatus", NULL, NULL);
                if (reply)
                        status = g_variant_get_child_value(reply, 0);
                g_autoptr(GVariant) lreply = status ? call_sync(t, "GetLatency", NULL, NULL) : NULL;
                if (lreply)
                        latency = g_variant_get_child_value(lreply, 0);
        }
        if (status) {
                g_variant_lookup(status, "state", "&s", &state);
                g_variant_lookup(status, "findings_count", "u", &findings);
                g_variant_lookup(status, "required_findings", "u", &required);
                g_variant_lookup(status, "drift_corrections", "t", &drift);
                g_autoptr(GVariant) groups = g_variant_lookup_value(status, "groups", G_VARIANT_TYPE("aa{sv}"));
                for (gsize i = 0; groups && i < g_variant_n_children(groups); i++) {
                        g_autoptr(GVariant) gv = g_variant_get_child_value(groups, i);
                        Group *g = g_new0(Group, 1);
                        g_variant_lookup(gv, "name", "s", &g->name);
                        g_variant_lookup(gv, "cpus", "s", &g->cpus);
                        g_ptr_array_add(t->groups, g);
                }
        }
        /* Each group's worst p99 and max over its measured CPUs. */
        for (gsize i = 0; latency && i < g_variant_n_children(latency); i++) {
                g_autoptr(GVariant) lv = g_variant_get_child_value(latency, i);
                uint32_t cpu = 0;
                gboolean measured = false;
                double p99 = 0, max = 0;
                g_variant_lookup(lv, "cpu", "u", &cpu);
                g_variant_lookup(lv, "measured", "b", &measured);
                g_variant_lookup(lv, "p99_us", "d", &p99);
                g_variant_lookup(lv, "max_us", "d", &max);
                for (unsigned k = 0; measured && k < t->groups->len; k++) {
                        Group *g = t->groups->pdata[k];
                        if (!cpu_in_list(g->cpus, cpu))
                                continue;
                        g->measured = true;
                        g->worst_p99_us = MAX(g->worst_p99_us, p99);
                        g->worst_max_us = MAX(g->worst_max_us, max);
                }
        }

        bool running = status != NULL;
        app_indicator_set_status(t->indicator, !running                         ? APP_INDICATOR_STATUS_PASSIVE
                                               : g_str_equal(state, "degraded") ? APP_INDICATOR_STATUS_ATTENTION
                                                                                : APP_INDICATOR_STATUS_ACTIVE);
        app_indicator_set_icon_full(t->indicator, icon_for(running ? state : "not running"), state);
        app_indicator_set_attention_icon_full(t->indicator, icon_for("degraded"), "degraded");
        counts = running ? g_strdup_printf("%u finding(s), %u required; %" G_GUINT64_FORMAT " drift correction(s)",
                                           findings, required, drift)
                         : g_strdup("isolatord is not running");
        title = g_strdup_printf("isolatord: %s — %s", state, counts);
        app_indicator_set_title(t->indicator, title);

        g_autofree char *state_line = g_strdup_printf("State: %s", state);
        set_label(t->state_item, state_line);
        set_label(t->counts_item, counts);
        g_autofree char *spike_line = running ? last_spike_line(t) : g_strdup("Last spike: -");
        set_label(t->spike_item, spike_line);
        for (unsigned i = 0; i < t->group_items->len; i++)
                gtk_widget_destroy(t->group_items->pdata[i]);
        g_ptr_array_set_size(t->group_items, 0);
        for (unsigned i = 0; i < t->groups->len; i++) {
                Group *g = t->groups->pdata[i];
                g_autofree char *line = g->measured
                        ? g_strdup_printf("%s: CPUs %s — worst p99 %.0f µs, max %.0f µs", g->name, g->cpus,
                                          g->worst_p99_us, g->worst_max_us)
                        : g_strdup_printf("%s: CPUs %s — not measured", g->name, g->cpus);
                GtkWidget *item = gtk_menu_item_new_with_label(line);
                gtk_widget_set_sensitive(item, false);
                gtk_menu_shell_insert(GTK_MENU_SHELL(t->menu), item, 3 + (int) i);
                gtk_widget_show(item);
                g_ptr_array_add(t->group_items, item);
        }
}

/* --- notifications (org.freedesktop.Notifications on the session bus) --- */

static void notify(Tray *t, unsigned kind, const char *summary, const char *body) {
        gint64 now = g_get_monotonic_time();
        if (t->last_notified[kind] && now - t->last_notified[kind] < NOTIFY_GAP_S * G_USEC_PER_SEC)
                return;
        t->last_notified[kind] = now;
        if (!t->session)
                return;
        /* Servers may read markup in a body; an object can carry a process's own name. */
        g_autofree char *escaped = g_markup_escape_text(body, -1);
        g_dbus_connection_call(t->session, "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                               "org.freedesktop.Notifications", "Notify",
                               g_variant_new("(susssasa{sv}i)", "isolatord", 0u, "dialog-warning", summary, escaped, NULL,
                                             NULL, -1),
                               NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
}

static void on_signal(GDBusProxy *proxy, const char *sender, const char *signal, GVariant *params, gpointer data) {
        Tray *t = data;
        if (g_str_equal(signal, "LatencyExceeded") && g_variant_is_of_type(params, G_VARIANT_TYPE("(utt)"))) {
                uint32_t cpu;
                uint64_t us, threshold;
                g_variant_get(params, "(utt)", &cpu, &us, &threshold);
                g_autofree char *body = g_strdup_printf("CPU %u woke %" G_GUINT64_FORMAT " µs late (threshold %" G_GUINT64_FORMAT " µs)",
                                                        cpu, us, threshold);
                notify(t, 0, "Audio CPU latency exceeded", body);
        } else if (g_str_equal(signal, "DriftCorrected") && g_variant_n_children(params) >= 2) {
                const char *kind = NULL, *object = NULL;
                g_variant_get_child(params, 0, "&s", &kind);
                g_variant_get_child(params, 1, "&s", &object);
                g_autofree char *body = g_strdup_printf("%s %s was changed by another program and put back", kind, object);
                notify(t, 1, "Partition drift corrected", body);
                refresh(t);
        }
}

/* --- menu actions --- */

static void show_error(const char *what, const GError *e) {
        GtkWidget *d = gtk_message_dialog_new(NULL, 0, GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE, "%s failed", what);
        gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(d), "%s", e->message);
        gtk_window_set_title(GTK_WINDOW(d), "isolatord");
        g_signal_connect(d, "response", G_CALLBACK(gtk_widget_destroy), NULL);
        gtk_widget_show(d);
}

static void run_method(Tray *t, const char *method) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) reply = call_sync(t, method, NULL, &e);
        if (!reply) {
                g_dbus_error_strip_remote_error(e);
                show_error(method, e);
        }
        refresh(t);
}

static void on_verify(GtkMenuItem *item, Tray *t) { run_method(t, "Verify"); }
static void on_apply(GtkMenuItem *item, Tray *t) { run_method(t, "Apply"); }
static void on_revert(GtkMenuItem *item, Tray *t) { run_method(t, "Revert"); }

/* --- the latency window: each measured CPU's histogram, log-scaled, live --- */

static void fetch_histograms(Tray *t) {
        g_autoptr(GVariant) lreply = call_sync(t, "GetLatency", NULL, NULL);
        g_hash_table_remove_all(t->histograms);
        if (!lreply)
                return;
        g_autoptr(GVariant) latency = g_variant_get_child_value(lreply, 0);
        for (gsize i = 0; i < g_variant_n_children(latency); i++) {
                g_autoptr(GVariant) lv = g_variant_get_child_value(latency, i);
                uint32_t cpu = 0;
                gboolean measured = false;
                g_variant_lookup(lv, "cpu", "u", &cpu);
                g_variant_lookup(lv, "measured", "b", &measured);
                if (!measured)
                        continue;
                g_autoptr(GVariant) h = call_sync(t, "GetHistogram", g_variant_new("(u)", cpu), NULL);
                if (!h)
                        continue;
                g_autoptr(GVariant) counts = g_variant_get_child_value(h, 1);
                gsize n = 0;
                const guint32 *data = g_variant_get_fixed_array(counts, &n, sizeof(guint32));
                GArray *a = g_array_sized_new(false, false, sizeof(guint32), (guint) n);
                g_array_append_vals(a, data, (guint) n);
                g_hash_table_insert(t->histograms, GUINT_TO_POINTER(cpu + 1), a);
        }
}

static gint by_number(gconstpointer a, gconstpointer b) {
        return (GPOINTER_TO_UINT(a) > GPOINTER_TO_UINT(b)) - (GPOINTER_TO_UINT(a) < GPOINTER_TO_UINT(b));
}

static gboolean on_draw(GtkWidget *area, cairo_t *cr, Tray *t) {
        const int row = 150, left = 50, bottom = 24;
        int width = gtk_widget_get_allocated_width(area);
        g_autoptr(GList) cpus = g_list_sort(g_hash_table_get_keys(t->histograms), by_number);
        int y0 = 0;

        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        if (!cpus) {
                cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
                cairo_move_to(cr, 16, 30);
                cairo_show_text(cr, "No CPU is measured (isoctl sampler start).");
                return false;
        }
        for (GList *l = cpus; l; l = l->next, y0 += row) {
                unsigned cpu = GPOINTER_TO_UINT(l->data) - 1;
                GArray *a = g_hash_table_lookup(t->histograms, l->data);
                guint last = 0, highest = 1;
                for (guint i = 0; i < a->len; i++) {
                        guint32 c = g_array_index(a, guint32, i);
                        if (c) {
                                last = i;
                                highest = MAX(highest, c);
                        }
                }
                double plot_w = width - left - 16, plot_h = row - bottom - 16, bar = plot_w / (last + 1);
                cairo_set_source_rgb(cr, 0, 0.4, 0.8);
                for (guint i = 0; i <= last && i < a->len; i++) {
                        guint32 c = g_array_index(a, guint32, i);
                        if (!c)
                                continue;
                        double h = MAX(1.0, plot_h * log10(c + 1.0) / log10(highest + 1.0));
                        cairo_rectangle(cr, left + i * bar, y0 + 8 + plot_h - h, MAX(1.0, bar - 0.5), h);
                }
                cairo_fill(cr);
                cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
                cairo_set_line_width(cr, 1);
                cairo_move_to(cr, left, y0 + 8);
                cairo_line_to(cr, left, y0 + 8 + plot_h);
                cairo_line_to(cr, left + plot_w, y0 + 8 + plot_h);
                cairo_stroke(cr);
                g_autofree char *caption = g_strdup_printf("CPU %u: 0 to %u µs, counts log-scaled (highest %u)", cpu,
                                                           last + 1, highest);
                cairo_move_to(cr, left, y0 + row - 6);
                cairo_show_text(cr, caption);
        }
        return false;
}

static gboolean on_latency_tick(gpointer data) {
        Tray *t = data;
        if (!t->latency_window)
                return G_SOURCE_REMOVE;
        fetch_histograms(t);
        gtk_widget_queue_draw(t->latency_area);
        return G_SOURCE_CONTINUE;
}

static void on_latency_closed(GtkWidget *w, Tray *t) {
        t->latency_window = NULL;
}

static void on_latency(GtkMenuItem *item, Tray *t) {
        if (t->latency_window) {
                gtk_window_present(GTK_WINDOW(t->latency_window));
                return;
        }
        fetch_histograms(t);
        t->latency_window = gtk_window_new(GTK_WINDOW_TOPLEVEL);
        gtk_window_set_title(GTK_WINDOW(t->latency_window), "isolatord: wake-up latency");
        t->latency_area = gtk_drawing_area_new();
        int rows = MAX(1, (int) g_hash_table_size(t->histograms));
        gtk_widget_set_size_request(t->latency_area, 640, 150 * rows);
        g_signal_connect(t->latency_area, "draw", G_CALLBACK(on_draw), t);
        g_signal_connect(t->latency_window, "destroy", G_CALLBACK(on_latency_closed), t);
        gtk_container_add(GTK_CONTAINER(t->latency_window), t->latency_area);
        gtk_window_move(GTK_WINDOW(t->latency_window), 0, 0);
        gtk_widget_show_all(t->latency_window);
        g_timeout_add(1000, on_latency_tick, t);
}

/* --- the daemon coming and going, and changing --- */

static void on_properties(GDBusProxy *proxy, GVariant *changed, GStrv invalidated, Tray *t) {
        refresh(t);
}

static void on_owner(GObject *proxy, GParamSpec *pspec, Tray *t) {
        refresh(t); /* started, restarted after a crash, or gone */
}

static gboolean on_timer(gpointer data) {
        refresh(data);
        return G_SOURCE_CONTINUE;
}

static GtkWidget *add_item(Tray *t, const char *label, GCallback cb) {
        GtkWidget *item = gtk_menu_item_new_with_label(label);
        if (cb)
                g_signal_connect(item, "activate", cb, t);
        else
                gtk_widget_set_sensitive(item, false);
        gtk_menu_shell_append(GTK_MENU_SHELL(t->menu), item);
        return item;
}

int main(int argc, char **argv) {
        Tray t = { 0 };
        g_autoptr(GError) e = NULL;

        gtk_init(&argc, &argv);
        t.groups = g_ptr_array_new_with_free_func((GDestroyNotify) group_free);
        t.group_items = g_ptr_array_new();
        t.histograms = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) g_array_unref);
        t.session = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
        /* Not started by us: the tray shows "not running" rather than activate it. */
        t.proxy = g_dbus_proxy_new_for_bus_sync(G_BUS_TYPE_SYSTEM, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, NULL, BUS_NAME,
                                                BUS_PATH, BUS_INTERFACE, NULL, &e);
        if (!t.proxy) {
                g_printerr("isolator-tray: cannot reach the system bus: %s\n", e->message);
                return 1;
        }

        t.menu = gtk_menu_new();
        t.state_item = add_item(&t, "State: …", NULL);
        t.counts_item = add_item(&t, "…", NULL);
        t.spike_item = add_item(&t, "Last spike: …", NULL);
        gtk_menu_shell_append(GTK_MENU_SHELL(t.menu), gtk_separator_menu_item_new());
        add_item(&t, "Verify now", G_CALLBACK(on_verify));
        add_item(&t, "Latency window…", G_CALLBACK(on_latency));
        add_item(&t, "Apply", G_CALLBACK(on_apply));
        add_item(&t, "Revert", G_CALLBACK(on_revert));
        gtk_menu_shell_append(GTK_MENU_SHELL(t.menu), gtk_separator_menu_item_new());
        add_item(&t, "Quit", G_CALLBACK(gtk_main_quit));
        gtk_widget_show_all(t.menu);

        t.indicator = app_indicator_new("isolator-tray", "process-stop", APP_INDICATOR_CATEGORY_SYSTEM_SERVICES);
        app_indicator_set_menu(t.indicator, GTK_MENU(t.menu));
        g_signal_connect(t.proxy, "g-properties-changed", G_CALLBACK(on_properties), &t);
        g_signal_connect(t.proxy, "g-signal", G_CALLBACK(on_signal), &t);
        g_signal_connect(t.proxy, "notify::g-name-owner", G_CALLBACK(on_owner), &t);
        refresh(&t);
        g_timeout_add(REFRESH_MS * 5, on_timer, &t); /* the groups' latency figures */
        gtk_main();
        return 0;
}
