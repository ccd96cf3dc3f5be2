/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus-error.h"
#include "bus.h"
#include "passes.h"
#include "base/log.h"
#include "metrics.h"
#include "base/sd-glib.h"
#include "service.h"
#include "source/source-netlink.h"
#include "source/source-cgroup.h"
#include "source/source-proc.h"
#include "source/source-udev.h"

typedef struct Service {
        sd_event *event;
        sd_bus *bus;
        Manager *manager;
        Bus *adapter;
        Passes *passes;
        UdevSource *udev;
        NetlinkSource *netlink;
        ProcSource *proc;
        CgroupWatch *cgroup_watch;
        sd_event_source *sampler_io;
        sd_event_source *trace_io;
        sd_event_source *noise_timer;
        sd_event_source *tick_timer;    /* on while an enforcer has work on a clock (the starvation guard) */
        sd_event_source *metrics_timer;
        char *metrics_dir;          /* where isolatord.prom is written; NULL: nowhere */
        bool metrics_failed;        /* the last write failed (said once) */
        bool bus_lost;              /* the system bus went away: the loop ends */
        int sleep_lock;             /* logind's delay lock on sleep, or -1 */
        sd_bus_slot *sleep_lock_call;
        bool tracer_stopped;        /* the timerlat tracer stopped for a suspend, to start at resume */
} Service;

static void service_status(Service *s) {
        const ManagerStatus *st = manager_status(s->manager);
        sd_notifyf(false, "STATUS=%s: %u finding(s), %u required; %" PRIu64 " drift correction(s)",
                   manager_state_to_string(st->state), st->findings->len, st->required_findings,
                   st->drift_corrections);
}

/* The tick timer on while the manager has work on a clock, off otherwise: a second
 * from now when it turns on, the default accuracy letting it share the noise timer's
 * wake-ups. */
static void tick_sync(Service *s) {
        int on = SD_EVENT_OFF;
        if (!s->tick_timer || sd_event_source_get_enabled(s->tick_timer, &on) < 0)
                return;
        if (!manager_ticking(s->manager))
                sd_event_source_set_enabled(s->tick_timer, SD_EVENT_OFF);
        else if (on == SD_EVENT_OFF) {
                sd_event_source_set_time_relative(s->tick_timer, 1000000u);
                sd_event_source_set_enabled(s->tick_timer, SD_EVENT_ONESHOT);
        }
}

static int on_tick_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Service *s = userdata;
        manager_tick(s->manager);
        sd_event_source_set_enabled(source, SD_EVENT_OFF);
        tick_sync(s);
        return 0;
}

/* The manager's one listener: the bus's properties and the service's status line follow. */
static void on_changed(unsigned what, void *userdata) {
        Service *s = userdata;
        if (what & (MANAGER_CHANGED_PASS | MANAGER_CHANGED_STATE))
                tick_sync(s);
        if (s->adapter)
                bus_changed(s->adapter, what);
        if (what & (MANAGER_CHANGED_STATE | MANAGER_CHANGED_FINDINGS | MANAGER_CHANGED_DRIFT))
                service_status(s);
}

static bool same_dirs(const GPtrArray *a, const GPtrArray *b) {
        if (a->len != b->len)
                return false;
        for (unsigned i = 0; i < a->len; i++)
                if (!g_str_equal(a->pdata[i], b->pdata[i]))
                        return false;
        return true;
}

/* The folders are asked for, then watched: one made in between (systemd makes a slice
 * and its child slice back to back) is in no watch and told by no event. So they are
 * asked for once more after the watches are in place, and set again when they differ;
 * anything made after that is an event of a watched parent. */
static void refresh_cgroup_watch(Service *s) {
        g_autoptr(GPtrArray) dirs = manager_watch_dirs(s->manager);
        cgroup_watch_set(s->cgroup_watch, dirs);
        g_autoptr(GPtrArray) again = manager_watch_dirs(s->manager);
        if (!same_dirs(dirs, again))
                cgroup_watch_set(s->cgroup_watch, again);
}

static bool watch_relevant(const char *name, void *userdata) {
        return manager_watch_relevant(((Service *) userdata)->manager, name);
}

/* Every source publishes here; the manager runs the enforcers that declared the
 * trigger. Process events come by the thousand and change no property. */
static void on_trigger(const Trigger *t, void *userdata) {
        Service *s = userdata;

        manager_event(s->manager, t);
        /* A folder may have been made again; a file's write (the enforcers' own among
         * them, each echoed back) changes no folder. */
        if ((t->kind == TRIGGER_CGROUP && t->folders) || t->kind == TRIGGER_CPU)
                refresh_cgroup_watch(s);
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

/* A trace ring is half full: read before the kernel drops what a spike needs. */
static int on_trace_ring(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Service *s = userdata;
        manager_latency_drain(s->manager);
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
                                          (uint64_t) manager_status(s->manager)->config->metrics.interval_sec * 1000000u);
        sd_event_source_set_enabled(s->metrics_timer, SD_EVENT_ONESHOT);
}

static int on_metrics_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        metrics_write(userdata);
        return 0;
}

/* The folder as the configuration now says (a reload may change it): a file left in
 * another folder is removed, and none is written while no folder is set. */
static void metrics_sync(Service *s) {
        const char *dir = manager_status(s->manager)->config->metrics.textfile_dir;
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

/* After every full pass: folders may have been made again, and a Reload on the bus may
 * have changed [Metrics]. */
static void after_pass(void *userdata) {
        Service *s = userdata;
        refresh_cgroup_watch(s);
        metrics_sync(s);
}

/* logind announces sleep (true) and wake-up (false): on wake-up the partition is
 * applied again. Only root can own org.freedesktop.login1, and an apply is idempotent. */
/* The kernel's timerlat tracer does not run across a suspend: on Debian 12's RT kernel
 * (6.1) a resume with it running never completed (the VM test's guest stopped
 * answering). isolatord holds a delay lock on logind's sleep, which holds the suspend
 * (up to logind's InhibitDelayMaxSec=) until the tracer is stopped; the tracer starts
 * again at resume, and the lock is taken again. Without logind nothing of this happens. */
static int on_sleep_lock(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        int fd;
        s->sleep_lock_call = sd_bus_slot_unref(s->sleep_lock_call);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                log_debug("no delay lock on sleep from logind: %s", sd_bus_message_get_error(reply)->message);
                return 0;
        }
        if (sd_bus_message_read(reply, "h", &fd) < 0 || s->sleep_lock >= 0)
                return 0;
        s->sleep_lock = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return 0;
}

static void sleep_lock_take(Service *s) {
        if (s->sleep_lock >= 0 || s->sleep_lock_call)
                return;
        if (sd_bus_call_method_async(s->bus, &s->sleep_lock_call, "org.freedesktop.login1", "/org/freedesktop/login1",
                                     "org.freedesktop.login1.Manager", "Inhibit", on_sleep_lock, s, "ssss", "sleep",
                                     "isolatord", "stops the kernel's timerlat tracer before a suspend",
                                     "delay") < 0)
                log_debug("cannot ask logind for a delay lock on sleep");
}

static int on_prepare_for_sleep(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        int going = 0;
        if (sd_bus_message_read(msg, "b", &going) < 0)
                return 0;
        if (going) {
                const char *source = manager_status(s->manager)->sampler_source;
                if (source && g_str_equal(source, "timerlat")) {
                        log_info("suspending: the kernel's timerlat tracer stopped until the resume");
                        manager_sampler_stop(s->manager);
                        s->tracer_stopped = true;
                }
                if (s->sleep_lock >= 0) {
                        close(s->sleep_lock); /* the suspend may go on */
                        s->sleep_lock = -1;
                }
                return 0;
        }
        if (s->tracer_stopped) {
                s->tracer_stopped = false;
                manager_sampler_start(s->manager);
        }
        sleep_lock_take(s);
        if (manager_resume(s->manager))
                refresh_cgroup_watch(s);
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

/* sd-bus says so with a local signal; sd-bus closes the connection itself when the loop
 * ends, so whether it is open says nothing afterwards. */
static int on_bus_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Service *s = userdata;
        s->bus_lost = true;
        return sd_event_exit(s->event, EXIT_FAILURE);
}

static int on_sighup(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Service *s = userdata;
        g_autoptr(GError) e = NULL;

        sd_notify(false, "RELOADING=1");
        if (!manager_reload(s->manager, &e))
                log_warning("reload refused, the old configuration stays: %s", e->message);
        else
                log_info("configuration reloaded from %s", manager_status(s->manager)->config_path);
        passes_arm(s->passes); /* the interval may have changed */
        metrics_sync(s);
        sd_notify(false, "READY=1");
        service_status(s);
        return 0;
}

/* isolatord's own loop belongs on housekeeping. The CPUs are the real machine's even
 * under --root: a fake root describes another machine, so only the housekeeping CPUs
 * that this process may actually run on count. */
static void pin_self(Manager *m) {
        cpu_set_t allowed, want;
        unsigned n = 0;

        if (sched_getaffinity(0, sizeof allowed, &allowed) < 0) {
                log_warning_errno(errno, "cannot read my own CPU affinity: %m");
                return;
        }
        CPU_ZERO(&want);
        CPUMASK_FOREACH(cpu, &manager_status(m)->config->housekeeping)
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
        sd_event_source_disable_unref(s->trace_io);
        sd_event_source_disable_unref(s->noise_timer);
        s->tick_timer = sd_event_source_disable_unref(s->tick_timer); /* manager_free() may still tell what changed */
        sd_event_source_disable_unref(s->metrics_timer);
        g_free(s->metrics_dir);
        udev_source_free(s->udev);
        netlink_source_free(s->netlink);
        proc_source_free(s->proc);
        cgroup_watch_free(s->cgroup_watch);
        bus_free(s->adapter);
        passes_free(s->passes);
        sd_bus_slot_unref(s->sleep_lock_call);
        if (s->sleep_lock >= 0)
                close(s->sleep_lock);
        sd_bus_flush_close_unref(s->bus);
        manager_free(s->manager);
        sd_event_unref(s->event);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Service, service_clear)

/* A start that did not get as far as owning the bus name: nothing was applied, and what
 * an earlier run left is restored when RestoreOnExit asks. */
static int start_failed(Service *s, int r, const char *what) {
        log_error_errno(r, "%s: %m; nothing was changed", what);
        manager_stop(s->manager);
        return 1;
}

int service_run(const ManagerOptions *o) {
        g_auto(Service) s = { .sleep_lock = -1 };
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
        manager_set_event(s.manager, s.event);
        manager_set_changed(s.manager, on_changed, &s);
        pin_self(s.manager);
        s.passes = passes_new(s.manager, s.event);
        if (!s.passes)
                return start_failed(&s, -ENOMEM, "cannot set up the verify passes");
        passes_set_after(s.passes, after_pass, &s);

        /* Nothing is changed before the name is owned: a daemon nobody can reach (or ask
         * to revert) must not hold the machine. What an earlier run left is restored when
         * RestoreOnExit asks, as at any stop. */
        r = sd_bus_open_system(&s.bus);
        if (r < 0)
                return start_failed(&s, r, "cannot connect to the system bus");
        r = sd_bus_attach_event(s.bus, s.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return start_failed(&s, r, "cannot attach the bus to the event loop");
        r = bus_serve(s.bus, s.manager, s.passes, &s.adapter);
        if (r < 0)
                return start_failed(&s, r, "cannot serve the interface");
        r = sd_bus_request_name(s.bus, BUS_NAME, 0);
        if (r < 0)
                return start_failed(&s, r, "cannot own " BUS_NAME " on the system bus (is another isolatord running, "
                                           "and does the bus policy let this user own it?)");
        /* A bus that goes away ends the loop; the daemon then exits non-zero, and its
         * unit's Restart= starts it again on the new bus (a daemon serving no bus could
         * be neither asked nor reverted). */
        r = sd_bus_match_signal(s.bus, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_bus_disconnected, &s);
        if (r < 0)
                return start_failed(&s, r, "cannot watch the bus connection");
        if (!manager_start(s.manager, &e)) {
                log_error("%s", e->message);
                manager_stop(s.manager);
                return 1;
        }

        r = sd_bus_match_signal(s.bus, NULL, "org.freedesktop.login1", "/org/freedesktop/login1",
                                "org.freedesktop.login1.Manager", "PrepareForSleep", on_prepare_for_sleep, &s);
        if (r < 0)
                log_warning_errno(r, "cannot watch logind's PrepareForSleep (%m): after a suspend, the partition is "
                                     "put back by the next verify only");
        else
                sleep_lock_take(&s);
        r = watch_bus_names(&s);
        if (r < 0)
                log_warning_errno(r, "cannot list the names on the system bus (%m): conflicting tools are found by "
                                     "their executables only");

        r = passes_arm(s.passes);
        if (r < 0)
                return log_error_errno(r, "cannot arm the verify timer: %m"), 1;

        TriggerSink sink = { on_trigger, &s };
        r = udev_source_new(s.event, manager_status(s.manager)->config->daemon.udev_monitor, &sink, &s.udev);
        if (r < 0)
                return log_error_errno(r, "cannot watch device events: %m"), 1;
        r = netlink_source_new(s.event, &sink, &s.netlink);
        if (r < 0)
                return log_error_errno(r, "cannot watch network links: %m"), 1;

        r = cgroup_watch_new(s.event, manager_status(s.manager)->root, watch_relevant, &sink, &s.cgroup_watch);
        if (r < 0)
                return log_error_errno(r, "cannot watch the cgroups: %m"), 1;
        refresh_cgroup_watch(&s);
        r = proc_source_new(s.event, &sink, &s.proc);
        if (r < 0)
                log_warning_errno(r, "no process events (%m): workloads are placed by the verify every %u s instead",
                                  manager_status(s.manager)->config->daemon.verify_interval_sec);
        /* Processes that started before the subscription. */
        manager_event(s.manager, &(Trigger) { .kind = TRIGGER_LOST });

        r = sd_event_add_io(s.event, &s.sampler_io, manager_sampler_fd(s.manager), EPOLLIN, on_sampler_event, &s);
        if (r < 0)
                return log_error_errno(r, "cannot watch the sampler: %m"), 1;
        r = sd_event_add_io(s.event, &s.trace_io, manager_trace_fd(s.manager), EPOLLIN, on_trace_ring, &s);
        if (r < 0)
                return log_error_errno(r, "cannot watch the trace rings: %m"), 1;
        r = sd_event_add_time_relative(s.event, &s.noise_timer, CLOCK_MONOTONIC, 0, 0, on_noise_timer, &s);
        if (r < 0)
                return log_error_errno(r, "cannot arm the noise monitor: %m"), 1;
        r = sd_event_add_time(s.event, &s.tick_timer, CLOCK_MONOTONIC, 0, 0, on_tick_timer, &s);
        if (r < 0)
                return log_error_errno(r, "cannot arm the starvation guard's timer: %m"), 1;
        sd_event_source_set_enabled(s.tick_timer, SD_EVENT_OFF);
        tick_sync(&s);
        if (manager_status(s.manager)->config->sampler.enabled)
                manager_sampler_start(s.manager);
        r = sd_event_add_time(s.event, &s.metrics_timer, CLOCK_MONOTONIC, 0, 0, on_metrics_timer, &s);
        if (r < 0)
                return log_error_errno(r, "cannot arm the metrics timer: %m"), 1;
        sd_event_source_set_enabled(s.metrics_timer, SD_EVENT_OFF);
        metrics_sync(&s);

        log_info("serving %s on the system bus; partition %s under %s", BUS_NAME,
                 manager_state_to_string(manager_status(s.manager)->state), manager_status(s.manager)->root_dir);
        sd_notify(false, "READY=1");
        service_status(&s);

        r = sd_event_loop(s.event);
        sd_notify(false, "STOPPING=1");
        bool bus_lost = s.bus_lost;
        if (r < 0)
                log_error_errno(r, "event loop failed: %m");
        else if (bus_lost)
                log_error("the connection to the system bus is lost: exiting, so that the service manager starts "
                          "isolatord again on the new bus");
        if (s.metrics_dir)
                metrics_remove_textfile(s.metrics_dir); /* stale figures would pass for a live daemon's */
        manager_stop(s.manager);
        log_info("stopping");
        return r < 0 || bus_lost ? 1 : 0;
}
