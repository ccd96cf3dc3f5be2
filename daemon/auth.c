/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <glib.h>

#include "auth.h"
#include "bus-error.h"
#include "log.h"
#include "macro.h"

struct Auth {
        sd_bus *bus;
        GHashTable *pending;  /* sd_bus_message* (ref) -> PendingAuth*: asked, waiting */
        GHashTable *granted;  /* sd_bus_message*: polkit said yes, being dispatched again */
};

typedef struct PendingAuth {
        Auth *auth;
        sd_bus_message *message;
        sd_bus_message_handler_t handler;
        void *userdata;
        sd_bus_slot *slot;
} PendingAuth;

static void pending_free(PendingAuth *p) {
        if (!p)
                return;
        sd_bus_slot_unref(p->slot);
        sd_bus_message_unref(p->message);
        g_free(p);
}

Auth *auth_new(sd_bus *bus) {
        Auth *a = g_new0(Auth, 1);
        a->bus = sd_bus_ref(bus);
        a->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) pending_free);
        a->granted = g_hash_table_new(g_direct_hash, g_direct_equal);
        return a;
}

Auth *auth_free(Auth *a) {
        if (!a)
                return NULL;
        g_hash_table_unref(a->pending);
        g_hash_table_unref(a->granted);
        sd_bus_unref(a->bus);
        g_free(a);
        return NULL;
}

static int refuse(sd_bus_error *error, const char *why) {
        return sd_bus_error_setf(error, BUS_ERROR_PREFIX "NotAuthorized",
                                 "changing isolatord's partition needs root or the polkit action " AUTH_POLKIT_ACTION
                                 "; %s", why);
}

/* polkit answered: dispatch the original call again, now known to be allowed, or
 * refuse it. */
static int polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingAuth *p = userdata;
        Auth *a = p->auth;
        sd_bus_message_handler_t handler = p->handler;
        void *handler_userdata = p->userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = sd_bus_message_ref(p->message);
        int authorized = 0, challenge = 0, r;
        bool polkit_failed = sd_bus_message_is_method_error(reply, NULL);

        if (polkit_failed) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                log_debug("polkit could not decide: %s", e ? e->message : "unknown error");
        } else {
                /* (bba{ss}): authorized, challenge, details. */
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        log_warning_errno(r, "cannot read polkit's answer: %m");
                        authorized = challenge = 0;
                }
        }
        g_hash_table_remove(a->pending, m); /* frees p and its slot */

        if (authorized) {
                g_hash_table_add(a->granted, m);
                r = handler(m, handler_userdata, &error);
                g_hash_table_remove(a->granted, m);
                if (r < 0) {
                        if (sd_bus_error_is_set(&error))
                                sd_bus_reply_method_error(m, &error);
                        else
                                sd_bus_reply_method_errno(m, r, NULL);
                }
        } else {
                refuse(&error, polkit_failed ? "polkit is not running on this bus, so only root may"
                               : challenge ? "polkit wants the caller to authenticate, which this call did not allow "
                                             "(busctl --allow-interactive-authorization=yes)"
                               : "polkit refused");
                sd_bus_reply_method_error(m, &error);
        }
        sd_bus_message_unref(m);
        return 0;
}

int auth_check(Auth *a, sd_bus_message *m, sd_bus_message_handler_t handler, void *userdata,
               sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        PendingAuth *p;
        const char *sender;
        uid_t euid;
        int r;

        assert(a);
        assert(m);
        assert(handler);

        if (g_hash_table_contains(a->granted, m))
                return 1;

        /* The EUID the bus daemon vouches for; AUGMENT would fill gaps from /proc, which is
         * racy, so only a bus-provided EUID counts. */
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0)
                return refuse(error, "the bus did not tell the caller's user");
        if (euid == 0)
                return 1;

        sender = sd_bus_message_get_sender(m);
        if (!sender)
                return refuse(error, "the caller has no bus name");

        r = sd_bus_message_new_method_call(a->bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender,
                                  AUTH_POLKIT_ACTION, 0,
                                  sd_bus_message_get_allow_interactive_authorization(m) ? 1u : 0u, "");
        if (r < 0)
                return r;

        p = g_new0(PendingAuth, 1);
        p->auth = a;
        p->message = sd_bus_message_ref(m);
        p->handler = handler;
        p->userdata = userdata;
        /* polkit may wait for a person to type a password: no timeout of our own. */
        r = sd_bus_call_async(a->bus, &p->slot, call, polkit_reply, p, UINT64_MAX);
        if (r < 0) {
                pending_free(p);
                return refuse(error, "polkit could not be asked");
        }
        g_hash_table_insert(a->pending, m, p);
        return 0;
}
