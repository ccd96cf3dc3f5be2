/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <systemd/sd-bus.h>

#include "base/error.h"
#include "base/log.h"
#include "base/sd-glib.h"
#include "kernel/unit-job.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define START_TIMEOUT_USEC (10 * G_USEC_PER_SEC)

struct UnitJob {
        sd_bus *bus;          /* a connection of its own, for this job alone */
        sd_bus_slot *call;    /* StartUnit, until it answers */
        sd_bus_slot *removed; /* JobRemoved */
        sd_bus_slot *lost;    /* the connection's end */
        char *unit;
        char *job;            /* the job's object path, once StartUnit answered */
        UnitJobDone done;
        void *userdata;
        bool ended;
};

void unit_job_free(UnitJob *j) {
        if (!j)
                return;
        sd_bus_slot_unref(j->call);
        sd_bus_slot_unref(j->removed);
        sd_bus_slot_unref(j->lost);
        sd_bus_flush_close_unref(j->bus);
        g_free(j->unit);
        g_free(j->job);
        g_free(j);
}

/* Told once; the caller frees the job from done or later. */
static void end(UnitJob *j, int error, const char *result) {
        if (j->ended)
                return;
        j->ended = true;
        j->call = sd_bus_slot_unref(j->call);
        j->removed = sd_bus_slot_unref(j->removed);
        j->lost = sd_bus_slot_unref(j->lost);
        j->done(error, result, j->userdata);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;
        const char *job, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0 || !j->job || !g_str_equal(job, j->job))
                return 0;
        end(j, 0, result);
        return 0;
}

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        UnitJob *j = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *job;

        j->call = sd_bus_slot_unref(j->call);
        if (e) {
                int err = sd_bus_message_get_errno(reply);
                log_warning("systemd refused to start %s: %s", j->unit, e->message);
                end(j, err > 0 ? -err : -EIO, NULL);
        } else if (sd_bus_message_read(reply, "o", &job) < 0)
                end(j, -EBADMSG, NULL);
        else
                j->job = g_strdup(job);
        return 0;
}

static int on_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        end(userdata, -ECONNRESET, NULL);
        return 0;
}

int unit_job_start(sd_event *event, const char *address, const char *unit, UnitJobDone done, void *userdata,
                   UnitJob **out, GError **error) {
        g_autoptr(UnitJob) j = g_new0(UnitJob, 1);
        g_autoptr(sd_bus_message) m = NULL;
        int r;

        j->unit = g_strdup(unit);
        j->done = done;
        j->userdata = userdata;
        r = sd_bus_new(&j->bus);
        if (r >= 0)
                r = sd_bus_set_address(j->bus, address);
        if (r >= 0)
                r = sd_bus_start(j->bus);
        if (r >= 0)
                r = sd_bus_attach_event(j->bus, event, SD_EVENT_PRIORITY_NORMAL);
        /* The manager sends its signals to every connection of its private socket: no
         * Subscribe, and no sender to match (a peer-to-peer connection has none). */
        if (r >= 0)
                r = sd_bus_match_signal(j->bus, &j->removed, NULL, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed, j);
        if (r >= 0)
                r = sd_bus_match_signal(j->bus, &j->lost, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                        "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, j);
        if (r >= 0)
                r = sd_bus_message_new_method_call(j->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "replace");
        if (r >= 0)
                r = sd_bus_call_async(j->bus, &j->call, m, on_start_reply, j, START_TIMEOUT_USEC);
        if (r < 0) {
                g_set_error(error, ISO_ERROR, ISO_ERROR_IO, "cannot ask the systemd manager at %s to start %s: %s",
                            address, unit, g_strerror(-r));
                return r;
        }
        *out = g_steal_pointer(&j);
        return 0;
}
