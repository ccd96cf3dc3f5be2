/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <unistd.h>
#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus-error.h"
#include "bus.h"
#include "log.h"
#include "metrics.h"
#include "sd-glib.h"
#include "service.h"
#include "source-netlink.h"
#include "source-cgroup.h"
#include "source-proc.h"
#include "source-udev.h"

typedef struct Service {
        sd_event *event;
        sd_bus *bus;
        Manager *manager;
        Bus *adapter;
        sd_event_source *verify_timer;
        uint64_t passes_at_arm;     /* the manager's verify_count when the timer was armed */
        UdevSource *udev;
        NetlinkSource *netlink;
        ProcSource *proc;
        CgroupWatch *cgroup_watch;
        sd_event_source *sampler_io;
        sd_event_source *noise_timer;
        sd_event_source *metrics_timer;
        char *metrics_dir;          /* where isolatord.prom is written; NULL: nowhere */
        bool metrics_failed;        /* the last write failed (said once) */
} Service;

static void service_status(Service *s) {
        const Manager *m = s->manager;
        sd_notifyf(false, "STATUS=%s: %u finding(s), %u required; %" PRIu64 " drift correction(s)",
                   manager_state_to_string(m->state), m->findings->len, findings_count_required(m->findings),
                   m->drift_corrections);
}

static int arm_verify_timer(Service *s) {
        uint64_t usec = (uint64_t) s->manager->config->daemon.verify_interval_sec * 1000000u;
        int r = sd_event_source_set_time_relative(s->verify_timer, usec);
        s->passes_at_arm = s->manager->verify_count;
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s->verify_timer, SD_EVENT_ONESHOT);
}

static void refresh_cgroup_watch(Service *s) {
        g_autoptr(GPtrArray) dirs = manager_watch_dirs(s->manager);
        cgroup_watch_set(s->cgroup_watch, dirs);
}

static bool watch_relevant(const char *name, void *userdata) {
        return manager_watch_relevant(((Service *) userdata)->manager, name);
}

/* Every source publishes here; the manager runs the enforcers that declared the
 * trigger. Process events come by the thousand and change no property. */
static void on_trigger(const Trigger *t, void *userdata) {
        Service *s = userdata;

        manager_event(s->manager, t);
        if (t->kind == TRIGGER_CGROUP || t->kind == TRIGGER_CPU)
                refresh_cgroup_watch(s); /* a folder may have been recreated */
        if (t->kind == TRIGGER_DEVICE || t->kind == TRIGGER_LINK || t->kind == TRIGGER_CGROUP || t->kind == TRIGGER_CPU)
                bus_notify_changes(s->adapter);
}

/* A sampler thread saw a sample above the threshold. */
static int on_sampler_event(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Service *s = userdata;
        uint64_t n;
        while (read(fd, &n, sizeof n) > 0)
                ;
        manager_latency_check(s->manager);
        return 0;
}

/* The noise monitor: a reading a second, on the loop. */
static int on_noise_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;
        manager_noise_tick(s->manager, usec * 1000u);
        sd_event_source_set_time_relative(source, 1000000u);
        return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
}

/* [Metrics] TextfileDir=: isolatord.prom written now and every IntervalSec=. */
static void metrics_write(Service *s) {
        g_autoptr(GError) e = NULL;
        if (metrics_write_textfile(s->manager, s->metrics_dir, &e) < 0) {
                if (!s->metrics_failed)
                        log_warning("%s", e->message);
                s->metrics_failed = true;
        } else if (s->metrics_failed) {
                log_info("metrics written to %s again", s->metrics_dir);
                s->metrics_failed = false;
        }
        sd_event_source_set_time_relative(s->metrics_timer,
                                          (uint64_t) s->manager->config->metrics.interval_sec * 1000000u);
        sd_event_source_set_enabled(s->metrics_timer, SD_EVENT_ONESHOT);
}

static int on_metrics_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        metrics_write(userdata);
        return 0;
}

/* The folder as the configuration now says (a reload may change it): a file left in
 * another folder is removed, and none is written while no folder is set. */
static void metrics_sync(Service *s) {
        const char *dir = s->manager->config->metrics.textfile_dir;
        if (dir && !*dir)
                dir = NULL;
        if (s->metrics_dir && (!dir || !g_str_equal(dir, s->metrics_dir))) {
                metrics_remove_textfile(s->metrics_dir);
                g_clear_pointer(&s->metrics_dir, g_free);
                sd_event_source_set_enabled(s->metrics_timer, SD_EVENT_OFF);
        }
        if (dir && !s->metrics_dir) {
                s->metrics_dir = g_strdup(dir);
                s->metrics_failed = false;
                metrics_write(s);
        }
}

/* The backstop for changes that no event announces. */
static int on_verify_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;

        /* A Verify that repaired less than a second ago, since the timer was armed, already
         * did this pass's work. (Not the timer's own last pass: the relative time counts
         * from the loop iteration that ran it, so it may end less than a second ago.) */
        if (s->manager->verify_count == s->passes_at_arm || !manager_pass_fresh(s->manager, true))
                manager_verify(s->manager);
        refresh_cgroup_watch(s);
        bus_notify_changes(s->adapter);
        service_status(s);
        metrics_sync(s); /* a Reload on the bus may have changed [Metrics] */
        return arm_verify_timer(s);
}

/* logind announces sleep (true) and wake-up (false): on wake-up the partition is
 * applied again. Only root can own org.freedesktop.login1, and an apply is idempotent. */
static int on_prepare_for_sleep(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        int going = 0;
        if (sd_bus_message_read(msg, "b", &going) < 0 || going)
                return 0;
        if (manager_resume(s->manager)) {
                refresh_cgroup_watch(s);
                bus_notify_changes(s->adapter);
                service_status(s);
        }
        return 0;
}

/* Who owns which well-known name: conflicting tools are found by theirs. */
static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        const char *name, *old_owner, *new_owner;
        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) >= 0)
                manager_bus_name(s->manager, name, new_owner && *new_owner);
        return 0;
}

static int watch_bus_names(Service *s) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        const char *name;
        int r = sd_bus_match_signal(s->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                    "NameOwnerChanged", on_name_owner_changed, s);
        if (r >= 0)
                r = sd_bus_call_method(s->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "ListNames", &error, &reply, "");
        if (r >= 0) {
                manager_bus_name(s->manager, NULL, false); /* known now, even when empty */
                r = sd_bus_message_enter_container(reply, 'a', "s");
        }
        while (r >= 0 && (r = sd_bus_message_read(reply, "s", &name)) > 0)
                manager_bus_name(s->manager, name, true);
        return r;
}

static int on_sighup(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Service *s = userdata;
        g_autoptr(GError) e = NULL;

        sd_notify(false, "RELOADING=1");
        if (!manager_reload(s->manager, &e))
                log_warning("reload refused, the old configuration stays: %s", e->message);
        else
                log_info("configuration reloaded from %s", s->manager->config_path);
        bus_notify_changes(s->adapter);
        arm_verify_timer(s); /* the interval may have changed */
        metrics_sync(s);
        sd_notify(false, "READY=1");
        service_status(s);
        return 0;
}

/* isolatord's own loop belongs on housekeeping. The CPUs are the real machine's even
 * under --root: a fake root describes another machine, so only the housekeeping CPUs
 * that this process may actually run on count. */
static void pin_self(const Manager *m) {
        cpu_set_t allowed, want;
        unsigned n = 0;

        if (sched_getaffinity(0, sizeof allowed, &allowed) < 0) {
                log_warning_errno(errno, "cannot read my own CPU affinity: %m");
                return;
        }
        CPU_ZERO(&want);
        CPUMASK_FOREACH(cpu, &m->config->housekeeping)
                if (cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed)) {
                        CPU_SET(cpu, &want);
                        n++;
                }
        if (n == 0) {
                log_warning("none of the housekeeping CPUs is available to this process; staying where I am");
                return;
        }
        if (sched_setaffinity(0, sizeof want, &want) < 0)
                log_warning_errno(errno, "cannot pin myself to the housekeeping CPUs: %m");
        else
                log_debug("pinned to %u housekeeping CPU(s)", n);
}

static void service_clear(Service *s) {
        sd_event_source_disable_unref(s->sampler_io);
        sd_event_source_disable_unref(s->noise_timer);
        sd_event_source_disable_unref(s->metrics_timer);
        g_free(s->metrics_dir);
        udev_source_free(s->udev);
        netlink_source_free(s->netlink);
        proc_source_free(s->proc);
        cgroup_watch_free(s->cgroup_watch);
        sd_event_source_unref(s->verify_timer);
        bus_free(s->adapter);
        sd_bus_flush_close_unref(s->bus);
        manager_free(s->manager);
        sd_event_unref(s->event);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Service, service_clear)

int service_run(const ManagerOptions *o) {
        g_auto(Service) s = {};
        g_autoptr(GError) e = NULL;
        sigset_t mask;
        int r;

        /* sd-event takes signals through a signalfd: block them first. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&s.event);
        if (r < 0)
                return log_error_errno(r, "cannot create the event loop: %m"), 1;
        r = sd_event_set_signal_exit(s.event, true);
        if (r < 0)
                return log_error_errno(r, "cannot watch SIGTERM and SIGINT: %m"), 1;
        r = sd_event_add_signal(s.event, NULL, SIGHUP, on_sighup, &s);
        if (r < 0)
                return log_error_errno(r, "cannot watch SIGHUP: %m"), 1;
        r = sd_event_set_watchdog(s.event, true);
        if (r < 0)
                return log_error_errno(r, "cannot set up the watchdog: %m"), 1;

        if (!manager_new(o, &s.manager, &e)) {
                log_error("%s", e->message);
                return 1;
        }
        pin_self(s.manager);

        r = sd_bus_open_system(&s.bus);
        if (r < 0)
                return log_error_errno(r, "cannot connect to the system bus: %m"), 1;
        r = sd_bus_attach_event(s.bus, s.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "cannot attach the bus to the event loop: %m"), 1;
        r = bus_serve(s.bus, s.manager, &s.adapter);
        if (r < 0)
                return 1;
        r = sd_bus_request_name(s.bus, BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "cannot own %s on the system bus (is another isolatord running, "
                                          "and does the bus policy let this user own it?): %m", BUS_NAME), 1;

        r = sd_bus_match_signal(s.bus, NULL, "org.freedesktop.login1", "/org/freedesktop/login1",
                                "org.freedesktop.login1.Manager", "PrepareForSleep", on_prepare_for_sleep, &s);
        if (r < 0)
                log_warning_errno(r, "cannot watch logind's PrepareForSleep (%m): after a suspend, the partition is "
                                     "put back by the next verify only");
        r = watch_bus_names(&s);
        if (r < 0)
                log_warning_errno(r, "cannot list the names on the system bus (%m): conflicting tools are found by "
                                     "their executables only");

        r = sd_event_add_time_relative(s.event, &s.verify_timer, CLOCK_MONOTONIC,
                                       (uint64_t) s.manager->config->daemon.verify_interval_sec * 1000000u, 0,
                                       on_verify_timer, &s);
        if (r < 0)
                return log_error_errno(r, "cannot arm the verify timer: %m"), 1;

        TriggerSink sink = { on_trigger, &s };
        r = udev_source_new(s.event, s.manager->config->daemon.udev_monitor, &sink, &s.udev);
        if (r < 0)
                return log_error_errno(r, "cannot watch device events: %m"), 1;
        r = netlink_source_new(s.event, &sink, &s.netlink);
        if (r < 0)
                return log_error_errno(r, "cannot watch network links: %m"), 1;

        r = cgroup_watch_new(s.event, s.manager->root, watch_relevant, &sink, &s.cgroup_watch);
        if (r < 0)
                return log_error_errno(r, "cannot watch the cgroups: %m"), 1;
        refresh_cgroup_watch(&s);
        r = proc_source_new(s.event, &sink, &s.proc);
        if (r < 0)
                log_warning_errno(r, "no process events (%m): workloads are placed by the verify every %u s instead",
                                  s.manager->config->daemon.verify_interval_sec);
        /* Processes that started before the subscription. */
        manager_event(s.manager, &(Trigger) { .kind = TRIGGER_LOST });

        r = sd_event_add_io(s.event, &s.sampler_io, s.manager->sampler_event_fd, EPOLLIN, on_sampler_event, &s);
        if (r < 0)
                return log_error_errno(r, "cannot watch the sampler: %m"), 1;
        r = sd_event_add_time_relative(s.event, &s.noise_timer, CLOCK_MONOTONIC, 0, 0, on_noise_timer, &s);
        if (r < 0)
                return log_error_errno(r, "cannot arm the noise monitor: %m"), 1;
        if (s.manager->config->sampler.enabled)
                manager_sampler_start(s.manager);
        r = sd_event_add_time(s.event, &s.metrics_timer, CLOCK_MONOTONIC, 0, 0, on_metrics_timer, &s);
        if (r < 0)
                return log_error_errno(r, "cannot arm the metrics timer: %m"), 1;
        sd_event_source_set_enabled(s.metrics_timer, SD_EVENT_OFF);
        metrics_sync(&s);

        log_info("serving %s on the system bus; partition %s under %s", BUS_NAME,
                 manager_state_to_string(s.manager->state), root_dir(s.manager->root));
        sd_notify(false, "READY=1");
        service_status(&s);

        r = sd_event_loop(s.event);
        sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "event loop failed: %m"), 1;
        if (s.metrics_dir)
                metrics_remove_textfile(s.metrics_dir); /* stale figures would pass for a live daemon's */
        manager_stop(s.manager);
        log_info("stopping");
        return 0;
}
