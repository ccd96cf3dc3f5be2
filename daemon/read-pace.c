/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <errno.h>

#include "base/log.h"
#include "base/sd-glib.h"
#include "read-pace.h"

/* After a piece that took t, the next waits (SHARE - 1) * t: reads take at most 1/SHARE
 * of the loop while they keep coming. */
#define SHARE 4

/* --- the turns --- */

typedef struct Caller {
        uid_t uid;
        GQueue calls;            /* ReadCall*, oldest first */
        unsigned taken;          /* handed to a turn, not answered yet */
} Caller;

struct ReadTurns {
        GHashTable *callers;     /* uid -> Caller*: users with calls queued or taken */
        GQueue turns;            /* Caller* with calls queued, root's never: whose turn comes first */
        unsigned total;          /* calls queued */
};

static void read_call_free(ReadCall *c) {
        sd_bus_message_unref(c->msg);
        g_free(c);
}

static void caller_free(Caller *c) {
        g_queue_clear_full(&c->calls, (GDestroyNotify) read_call_free);
        g_free(c);
}

static Caller *caller_of(const ReadTurns *t, uid_t uid) {
        return g_hash_table_lookup(t->callers, GUINT_TO_POINTER((unsigned) uid));
}

/* Forgets c once nothing of it waits (it is in no turn then). */
static void caller_maybe_drop(ReadTurns *t, Caller *c) {
        if (g_queue_is_empty(&c->calls) && c->taken == 0)
                g_hash_table_remove(t->callers, GUINT_TO_POINTER((unsigned) c->uid));
}

ReadTurns *read_turns_new(void) {
        ReadTurns *t = g_new0(ReadTurns, 1);
        t->callers = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) caller_free);
        g_queue_init(&t->turns);
        return t;
}

ReadTurns *read_turns_free(ReadTurns *t) {
        if (!t)
                return NULL;
        g_queue_clear(&t->turns);
        g_hash_table_unref(t->callers);
        g_free(t);
        return NULL;
}

unsigned read_turns_waiting(const ReadTurns *t, uid_t uid) {
        const Caller *c = caller_of(t, uid);
        return c ? c->calls.length + c->taken : 0;
}

unsigned read_turns_queued(const ReadTurns *t, uid_t uid) {
        const Caller *c = caller_of(t, uid);
        return c ? c->calls.length : 0;
}

unsigned read_turns_total(const ReadTurns *t) {
        return t->total;
}

bool read_turns_add(ReadTurns *t, const ReadCall *call) {
        assert(t);
        assert(call);
        assert(call->read);

        Caller *c = caller_of(t, call->uid);
        if (c && call->uid != 0 && c->calls.length + c->taken >= READ_PACE_WAITING)
                return false;
        if (!c) {
                c = g_new0(Caller, 1);
                c->uid = call->uid;
                g_queue_init(&c->calls);
                g_hash_table_insert(t->callers, GUINT_TO_POINTER((unsigned) call->uid), c);
        }
        if (g_queue_is_empty(&c->calls) && c->uid != 0)
                g_queue_push_tail(&t->turns, c);
        ReadCall *q = g_new(ReadCall, 1);
        *q = *call;
        q->msg = call->msg ? sd_bus_message_ref(call->msg) : NULL;
        g_queue_push_tail(&c->calls, q);
        t->total++;
        return true;
}

void read_turns_answered(ReadTurns *t, uid_t uid) {
        Caller *c = caller_of(t, uid);
        assert(c && c->taken > 0);
        c->taken--;
        caller_maybe_drop(t, c);
}

/* Moves c's queued calls of read(userdata) to out. */
static void take_calls_of(ReadTurns *t, Caller *c, PacedRead read, void *userdata, GPtrArray *out) {
        for (GList *l = c->calls.head, *next; l; l = next) {
                ReadCall *call = l->data;
                next = l->next;
                if (call->read != read || call->userdata != userdata)
                        continue;
                g_ptr_array_add(out, call);
                g_queue_delete_link(&c->calls, l);
                c->taken++;
                t->total--;
        }
}

GPtrArray *read_turns_next(ReadTurns *t) {
        assert(t);

        Caller *root = caller_of(t, 0);
        Caller *turn = root && !g_queue_is_empty(&root->calls) ? root : g_queue_pop_head(&t->turns);
        if (!turn)
                return NULL;
        const ReadCall *oldest = g_queue_peek_head(&turn->calls);
        PacedRead read = oldest->read;
        void *userdata = oldest->userdata;
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) read_call_free);

        take_calls_of(t, turn, read, userdata, out);
        if (root && turn != root)
                take_calls_of(t, root, read, userdata, out);
        for (GList *l = t->turns.head, *next; l; l = next) {
                Caller *c = l->data;
                next = l->next;
                take_calls_of(t, c, read, userdata, out);
                if (g_queue_is_empty(&c->calls))
                        g_queue_delete_link(&t->turns, l);
        }
        if (turn != root && !g_queue_is_empty(&turn->calls))
                g_queue_push_tail(&t->turns, turn);
        return out;
}

/* --- the pace on the loop --- */

/* One turn's answer, built once, and the calls it has still to go to. */
typedef struct Batch {
        sd_bus_message *answer;  /* sealed, or NULL with error set */
        sd_bus_error error;
        GPtrArray *calls;        /* ReadCall* */
        unsigned sent;
} Batch;

struct ReadPace {
        sd_event_source *next;   /* CLOCK_MONOTONIC, idle priority: the next piece */
        sd_event_source *late;   /* the same, READ_PACE_LATE_USEC later at normal priority */
        ReadTurns *turns;
        GQueue batches;          /* Batch*: answers built, copies not all sent */
        uint64_t not_before;     /* CLOCK_MONOTONIC usec */
};

static void batch_free(Batch *b) {
        sd_bus_message_unref(b->answer);
        sd_bus_error_free(&b->error);
        g_ptr_array_unref(b->calls);
        g_free(b);
}

int read_pace_reply_copy(sd_bus_message *call, sd_bus_message *answer) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_rewind(answer, true);
        if (r >= 0)
                r = sd_bus_message_copy(reply, answer, true);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* The answer a turn's read gives, once for all its calls. */
static Batch *batch_build(GPtrArray *calls) {
        const ReadCall *first = calls->pdata[0];
        Batch *b = g_new0(Batch, 1);
        int r;

        b->error = SD_BUS_ERROR_NULL;
        b->calls = calls;
        r = sd_bus_message_new_method_return(first->msg, &b->answer);
        if (r >= 0)
                r = first->read(b->answer, first->userdata, &b->error);
        /* Sealed to be read from, never sent: its cookie does not matter. */
        if (r >= 0)
                r = sd_bus_message_seal(b->answer, 1, 0);
        if (r < 0) {
                if (!sd_bus_error_is_set(&b->error))
                        sd_bus_error_set_errno(&b->error, r);
                b->answer = sd_bus_message_unref(b->answer);
        }
        return b;
}

/* Answers the batch's next call; whether calls are left. */
static bool batch_send_one(ReadTurns *t, Batch *b) {
        const ReadCall *c = b->calls->pdata[b->sent++];
        int r = b->answer ? read_pace_reply_copy(c->msg, b->answer) : sd_bus_reply_method_error(c->msg, &b->error);
        if (r < 0)
                log_debug_errno(r, "cannot answer %s: %m", sd_bus_message_get_member(c->msg));
        if (t)
                read_turns_answered(t, c->uid);
        return b->sent < b->calls->len;
}

/* After a piece that began at start, the next waits (SHARE - 1) times as long. */
static void pace_after(ReadPace *p, int64_t start) {
        int64_t end = g_get_monotonic_time();
        p->not_before = (uint64_t) (end + (SHARE - 1) * (end - start));
}

/* One piece: root's turn when root waits (built, and root's calls answered); else
 * copies of the oldest batch, as many as fit in READ_PACE_PIECE_USEC; else the next
 * user's turn, built, and its first copies. */
static void piece(ReadPace *p) {
        int64_t start = g_get_monotonic_time();
        bool root = read_turns_queued(p->turns, 0) > 0;

        if (root || g_queue_is_empty(&p->batches)) {
                GPtrArray *calls = read_turns_next(p->turns);
                if (!calls)
                        return;
                Batch *built = batch_build(calls);
                log_debug("%s built for %u calls in %" G_GINT64_FORMAT " us",
                          sd_bus_message_get_member(((ReadCall *) calls->pdata[0])->msg), calls->len,
                          g_get_monotonic_time() - start);
                if (root) {
                        /* Root's calls come first in its turn: answered now, the others'
                         * after the batches already built. */
                        while (built->sent < built->calls->len &&
                               ((ReadCall *) built->calls->pdata[built->sent])->uid == 0)
                                batch_send_one(p->turns, built);
                        if (built->sent < built->calls->len)
                                g_queue_push_tail(&p->batches, built);
                        else
                                batch_free(built);
                        pace_after(p, start);
                        return;
                }
                g_queue_push_tail(&p->batches, built);
        }
        Batch *b = g_queue_peek_head(&p->batches);
        while (batch_send_one(p->turns, b) && g_get_monotonic_time() - start < READ_PACE_PIECE_USEC)
                ;
        if (b->sent == b->calls->len)
                batch_free(g_queue_pop_head(&p->batches));
        pace_after(p, start);
}

static void arm(ReadPace *p) {
        if (read_turns_total(p->turns) == 0 && g_queue_is_empty(&p->batches))
                return;
        uint64_t now;
        sd_event_now(sd_event_source_get_event(p->next), CLOCK_MONOTONIC, &now);
        /* Root's reads do not wait for the pace: the next piece is theirs. */
        uint64_t at = read_turns_queued(p->turns, 0) > 0 ? now : MAX(now, p->not_before);
        (void) sd_event_source_set_time(p->next, at);
        (void) sd_event_source_set_enabled(p->next, SD_EVENT_ONESHOT);
        (void) sd_event_source_set_time(p->late, at + READ_PACE_LATE_USEC);
        (void) sd_event_source_set_enabled(p->late, SD_EVENT_ONESHOT);
}

static int on_piece(sd_event_source *source, uint64_t usec, void *userdata) {
        ReadPace *p = userdata;

        (void) sd_event_source_set_enabled(p->next, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(p->late, SD_EVENT_OFF);
        if (source == p->late)
                log_debug("reads of the machine waited %u ms past their time: the loop was busy",
                          (unsigned) (READ_PACE_LATE_USEC / 1000));
        piece(p);
        arm(p);
        return 0;
}

ReadPace *read_pace_new(sd_event *event) {
        ReadPace *p = g_new0(ReadPace, 1);
        p->turns = read_turns_new();
        g_queue_init(&p->batches);
        if (event) {
                int r = sd_event_add_time(event, &p->next, CLOCK_MONOTONIC, 0, 0, on_piece, p);
                if (r >= 0)
                        r = sd_event_source_set_priority(p->next, SD_EVENT_PRIORITY_IDLE);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->next, SD_EVENT_OFF);
                if (r >= 0)
                        r = sd_event_add_time(event, &p->late, CLOCK_MONOTONIC, 0, 0, on_piece, p);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->late, SD_EVENT_OFF);
                if (r < 0) {
                        log_warning_errno(r, "cannot pace reads of the machine (%m): they are answered at once");
                        p->next = sd_event_source_disable_unref(p->next);
                        p->late = sd_event_source_disable_unref(p->late);
                }
        }
        return p;
}

ReadPace *read_pace_free(ReadPace *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->next);
        sd_event_source_disable_unref(p->late);
        g_queue_clear_full(&p->batches, (GDestroyNotify) batch_free);
        read_turns_free(p->turns);
        g_free(p);
        return NULL;
}

int read_pace_submit(ReadPace *p, sd_bus_message *msg, uid_t uid, PacedRead read, void *userdata) {
        ReadCall call = { .msg = msg, .uid = uid, .read = read, .userdata = userdata };

        assert(p);
        assert(msg);
        assert(read);

        if (!p->next) {
                GPtrArray *now = g_ptr_array_new_with_free_func((GDestroyNotify) read_call_free);
                ReadCall *q = g_new(ReadCall, 1);
                *q = call;
                q->msg = sd_bus_message_ref(msg);
                g_ptr_array_add(now, q);
                Batch *b = batch_build(now);
                batch_send_one(NULL, b);
                batch_free(b);
                return 1;
        }
        if (!read_turns_add(p->turns, &call))
                return sd_bus_reply_method_errorf(msg, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                  "%u reads of the machine are already waiting for user %u; "
                                                  "each is answered from what every caller shares",
                                                  READ_PACE_WAITING, (unsigned) uid);
        arm(p);
        return 1;
}
