/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>
#include <glib.h>

#include "auth.h"
#include "bus-error.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/sd-glib.h"
#include "base/text.h"

/* polkit is asked at most this many times at once for one caller; more is refused. */
#define AUTH_MAX_PENDING_PER_SENDER 4
/* How long polkit may take: a person typing a password, or polkit answering at all. */
#define AUTH_TIMEOUT_INTERACTIVE_USEC (120 * G_USEC_PER_SEC)
#define AUTH_TIMEOUT_USEC (25 * G_USEC_PER_SEC)
/* Callers' EUIDs kept at most: the bus daemon bounds connections (2048 on the system bus
 * by default), so this is only reached when leaving callers went unseen; then the whole
 * table is forgotten and asked again. */
#define AUTH_UIDS_MAX 4096
/* Calls of one caller held while the bus daemon is asked who it is (one round trip);
 * more are refused. The bus daemon lets a connection wait for 128 replies. */
#define AUTH_MAX_HELD_PER_SENDER 256

struct Auth {
        sd_bus *bus;
        GHashTable *pending;  /* sd_bus_message* (ref) -> PendingAuth*: asked, waiting */
        GHashTable *granted;  /* sd_bus_message*: polkit said yes, being dispatched again */
        sd_bus_slot *gone;    /* NameOwnerChanged: a caller left, its checks are dropped */
        GHashTable *uids;     /* unique name -> EUID (GUINT_TO_POINTER) of callers on the bus */
        GHashTable *asking;   /* unique name -> UidQuery*: the bus daemon asked who it is */
};

/* A call dispatched again once something asked about it is known. */
typedef struct HeldCall {
        sd_bus_message *message;
        sd_bus_message_handler_t handler;
        void *userdata;
} HeldCall;

typedef struct UidQuery {
        Auth *auth;
        char *sender;
        sd_bus_slot *slot;
        GArray *held;         /* HeldCall */
} UidQuery;

static void held_call_clear(HeldCall *h) {
        sd_bus_message_unref(h->message);
}

static void uid_query_free(UidQuery *q) {
        sd_bus_slot_unref(q->slot);
        g_array_unref(q->held);
        g_free(q->sender);
        g_free(q);
}

/* handler(m) again, answering its failure as sd-bus would have. */
static void dispatch_again(sd_bus_message *m, sd_bus_message_handler_t handler, void *userdata) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r = handler(m, userdata, &error);
        if (r >= 0)
                return;
        if (sd_bus_error_is_set(&error))
                r = sd_bus_reply_method_error(m, &error);
        else
                r = sd_bus_reply_method_errno(m, r, NULL);
        if (r < 0)
                log_debug_errno(r, "cannot answer %s: %m", sd_bus_message_get_member(m));
}

typedef struct PendingAuth {
        Auth *auth;
        sd_bus_message *message;
        sd_bus_message_handler_t handler;
        void *userdata;
        sd_bus_slot *slot;
        uint64_t timeout_usec;
        const char *action;   /* one of the AUTH_ACTION_* literals */
} PendingAuth;

static void pending_free(PendingAuth *p) {
        if (!p)
                return;
        sd_bus_slot_unref(p->slot);
        sd_bus_message_unref(p->message);
        g_free(p);
}

static unsigned pending_of(const Auth *a, const char *sender) {
        GHashTableIter it;
        gpointer key;
        unsigned n = 0;
        g_hash_table_iter_init(&it, a->pending);
        while (g_hash_table_iter_next(&it, &key, NULL))
                n += g_strcmp0(sd_bus_message_get_sender(key), sender) == 0;
        return n;
}

/* A caller that left will read no answer: its pending checks are dropped (unreffing a
 * call's slot cancels it), so that polkit's answers do not pile up for nobody. */
static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Auth *a = userdata;
        const char *name, *old_owner, *new_owner;
        GHashTableIter it;
        gpointer key;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || name[0] != ':' || *new_owner)
                return 0;
        g_hash_table_remove(a->uids, name);
        g_hash_table_remove(a->asking, name); /* its held calls go unanswered: nobody reads them */
        g_hash_table_iter_init(&it, a->pending);
        while (g_hash_table_iter_next(&it, &key, NULL))
                if (g_strcmp0(sd_bus_message_get_sender(key), name) == 0) {
                        log_debug("%s left the bus: its authorization check is dropped", name);
                        g_hash_table_iter_remove(&it);
                }
        return 0;
}

Auth *auth_new(sd_bus *bus) {
        Auth *a = g_new0(Auth, 1);
        a->bus = sd_bus_ref(bus);
        a->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) pending_free);
        a->granted = g_hash_table_new(g_direct_hash, g_direct_equal);
        a->uids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        a->asking = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) uid_query_free);
        /* Asynchronous: a bus without a daemon (a test's socket pair) simply sends none. */
        int r = sd_bus_match_signal_async(bus, &a->gone, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                          "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, NULL, a);
        if (r < 0)
                log_debug_errno(r, "cannot watch callers leaving the bus: %m");
        return a;
}

Auth *auth_free(Auth *a) {
        if (!a)
                return NULL;
        g_hash_table_unref(a->pending);
        g_hash_table_unref(a->granted);
        g_hash_table_unref(a->asking);
        g_hash_table_unref(a->uids);
        sd_bus_slot_unref(a->gone);
        sd_bus_unref(a->bus);
        g_free(a);
        return NULL;
}

static int refuse(sd_bus_error *error, const char *action, const char *why) {
        return sd_bus_error_setf(error, BUS_ERROR_PREFIX "NotAuthorized", "%s needs root or the polkit action %s; %s",
                                 g_str_equal(action, AUTH_ACTION_BOOT_LINE) ? "writing the boot line"
                                                                            : "changing isolatord's partition",
                                 action, why);
}

/* polkit answered: dispatch the original call again, now known to be allowed, or
 * refuse it. */
static int polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PendingAuth *p = userdata;
        Auth *a = p->auth;
        sd_bus_message_handler_t handler = p->handler;
        void *handler_userdata = p->userdata;
        const char *p_action = p->action;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = sd_bus_message_ref(p->message);
        int authorized = 0, challenge = 0, r;
        bool polkit_failed = sd_bus_message_is_method_error(reply, NULL);
        /* Not on the bus at all (polkit_failed alone: there, and failing). */
        bool polkit_absent = sd_bus_message_is_method_error(reply, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                             sd_bus_message_is_method_error(reply, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
        g_autofree char *polkit_error = NULL;
        bool timed_out = sd_bus_message_is_method_error(reply, SD_BUS_ERROR_TIMEOUT) ||
                         sd_bus_message_is_method_error(reply, SD_BUS_ERROR_NO_REPLY);
        g_autofree char *late = g_strdup_printf("polkit did not answer within %u s",
                                                (unsigned) (p->timeout_usec / G_USEC_PER_SEC));

        if (polkit_failed) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                log_debug("polkit could not decide: %s", e ? e->message : "unknown error");
                /* polkit's own words, as text a terminal may print. */
                g_autofree char *said = text_printable(e && e->message ? e->message : "unknown error");
                polkit_error = g_strdup_printf("polkit could not decide: %s", said);
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
                refuse(&error, p_action, timed_out ? late
                               : polkit_absent ? "polkit is not running on this bus, so only root may"
                               : polkit_failed ? polkit_error
                               : challenge && sd_bus_message_get_allow_interactive_authorization(m)
                                       ? "polkit wants the caller to authenticate and had no agent to ask with (run "
                                         "isoctl on a terminal, or in a desktop session that has a polkit agent)"
                               : challenge ? "polkit wants the caller to authenticate, which this call did not allow "
                                             "(isoctl without --no-ask-password, busctl "
                                             "--allow-interactive-authorization=yes)"
                               : "polkit refused");
                sd_bus_reply_method_error(m, &error);
        }
        sd_bus_message_unref(m);
        return 0;
}

/* The bus daemon said who a caller is (GetConnectionUnixUser: the EUID it took from the
 * socket when the caller connected): kept, and the calls held for it dispatched again. */
static int on_uid_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        UidQuery *q = userdata;
        Auth *a = q->auth;
        g_autoptr(GArray) held = g_array_ref(q->held);
        g_autofree char *sender = g_strdup(q->sender);
        uint32_t uid = 0;
        int r;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);
                log_debug("the bus did not say who %s is: %s", sender, e ? e->message : "unknown error");
                r = -ESRCH;
        } else
                r = sd_bus_message_read(reply, "u", &uid);
        if (r >= 0) {
                if (g_hash_table_size(a->uids) >= AUTH_UIDS_MAX)
                        g_hash_table_remove_all(a->uids);
                g_hash_table_insert(a->uids, g_strdup(sender), GUINT_TO_POINTER((unsigned) uid));
        }
        g_hash_table_remove(a->asking, sender); /* frees q and its slot; held stays ours */
        for (unsigned i = 0; i < held->len; i++) {
                HeldCall *h = &g_array_index(held, HeldCall, i);
                if (r >= 0)
                        dispatch_again(h->message, h->handler, h->userdata);
                else
                        (void) sd_bus_reply_method_errorf(h->message, SD_BUS_ERROR_ACCESS_DENIED,
                                                          "the bus did not say who the caller is");
        }
        return 0;
}

int auth_caller_uid(Auth *a, sd_bus_message *m, sd_bus_message_handler_t again, void *userdata, uid_t *ret) {
        g_autoptr(sd_bus_creds) creds = NULL;
        const char *sender = sd_bus_message_get_sender(m);
        gpointer value;
        uid_t euid;
        int r;

        assert(a);
        assert(m);
        assert(again);
        assert(ret);

        if (!sender || sender[0] != ':') {
                /* A direct connection: the socket's peer, known since it connected (no
                 * round trip). Only what the kernel or the bus says counts: AUGMENT would
                 * fill gaps from /proc, which is racy. */
                r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
                if (r < 0)
                        return r;
                r = sd_bus_creds_get_euid(creds, &euid);
                if (r < 0)
                        return r;
                *ret = euid;
                return 1;
        }
        if (g_hash_table_lookup_extended(a->uids, sender, NULL, &value)) {
                *ret = (uid_t) GPOINTER_TO_UINT(value);
                return 1;
        }

        UidQuery *q = g_hash_table_lookup(a->asking, sender);
        if (!q) {
                q = g_new0(UidQuery, 1);
                q->auth = a;
                q->sender = g_strdup(sender);
                q->held = g_array_new(false, false, sizeof(HeldCall));
                g_array_set_clear_func(q->held, (GDestroyNotify) held_call_clear);
                r = sd_bus_call_method_async(a->bus, &q->slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "GetConnectionUnixUser", on_uid_reply, q, "s",
                                             sender);
                if (r < 0) {
                        uid_query_free(q);
                        return r;
                }
                g_hash_table_insert(a->asking, q->sender, q);
        } else if (q->held->len >= AUTH_MAX_HELD_PER_SENDER)
                return -EBUSY;
        HeldCall h = { sd_bus_message_ref(m), again, userdata };
        g_array_append_val(q->held, h);
        return 0;
}

int auth_check(Auth *a, sd_bus_message *m, const char *action, sd_bus_message_handler_t handler, void *userdata,
               sd_bus_error *error) {
        g_autoptr(sd_bus_message) call = NULL;
        PendingAuth *p;
        const char *sender;
        uid_t euid;
        int r;

        assert(a);
        assert(m);
        assert(action);
        assert(handler);

        if (g_hash_table_contains(a->granted, m))
                return 1;

        r = auth_caller_uid(a, m, handler, userdata, &euid);
        if (r == -ENODATA)
                return refuse(error, action, "the bus did not tell the caller's user");
        if (r < 0)
                return r;
        if (r == 0)
                return 0; /* handler is called again once the bus says */
        if (euid == 0)
                return 1;

        sender = sd_bus_message_get_sender(m);
        if (!sender)
                return refuse(error, action, "the caller has no bus name");
        if (pending_of(a, sender) >= AUTH_MAX_PENDING_PER_SENDER)
                return sd_bus_error_setf(error, BUS_ERROR_PREFIX "Busy",
                                         "%u authorizations of %s are pending already; wait for their answers",
                                         AUTH_MAX_PENDING_PER_SENDER, sender);

        r = sd_bus_message_new_method_call(a->bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(call, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender,
                                  action, 0,
                                  sd_bus_message_get_allow_interactive_authorization(m) ? 1u : 0u, "");
        if (r < 0)
                return r;

        p = g_new0(PendingAuth, 1);
        p->auth = a;
        p->message = sd_bus_message_ref(m);
        p->handler = handler;
        p->userdata = userdata;
        p->action = action;
        /* polkit may wait for a person to type a password, but not for ever. */
        p->timeout_usec = sd_bus_message_get_allow_interactive_authorization(m) ? AUTH_TIMEOUT_INTERACTIVE_USEC
                                                                                 : AUTH_TIMEOUT_USEC;
        r = sd_bus_call_async(a->bus, &p->slot, call, polkit_reply, p, p->timeout_usec);
        if (r < 0) {
                pending_free(p);
                return refuse(error, action, "polkit could not be asked");
        }
        g_hash_table_insert(a->pending, m, p);
        return 0;
}
