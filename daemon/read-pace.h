/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* Reads that scan the machine (GetIrqs, GetNoise, GetMetrics, GetBootLoader) answered in
 * pieces that run at the loop's idle priority and take at most a quarter of its time:
 * after a piece that took t the next waits 3t, and bus calls, process events and timers
 * go first, so that a user asking for them in a loop slows nobody else (GetStatus, a
 * player's placement). A piece that waited READ_PACE_LATE_USEC past its time runs
 * anyway, so that a loop kept busy does not starve the reads.
 *
 * Waiting reads are counted per user (the caller's EUID, not its connection: a user may
 * open 256 connections): a user that is not root may have at most READ_PACE_WAITING
 * not answered yet, and more are refused at once with
 * org.freedesktop.DBus.Error.LimitsExceeded. Users take turns, each turn one read
 * method: root's calls first, at once, without waiting for the pace; then each user with
 * reads waiting in turn. A turn builds its method's answer once and answers every call of
 * that method waiting then, whoever sent it, with a copy (sd-bus ties a reply to its
 * call, so one message cannot go to all). Root's copies all go in the piece that builds;
 * the others' as many to a piece as fit in READ_PACE_PIECE_USEC (one at least), from the
 * piece that builds a user's turn, and before the next user's turn is built. So a flood
 * costs one build per method per turn, and nobody waits behind another user's reads for
 * more than a turn per user. */
#define READ_PACE_WAITING 4
#define READ_PACE_LATE_USEC (200 * 1000)
#define READ_PACE_PIECE_USEC (10 * 1000)

typedef struct ReadPace ReadPace;
/* Appends the answer to reply (a method return, empty); or returns a negative errno,
 * with error set when it has a name and a message for it. Called once a turn: what it
 * appends, or its error, goes to every call the turn answers. */
typedef int (*PacedRead)(sd_bus_message *reply, void *userdata, sd_bus_error *error);

/* event: the loop; NULL answers every read at once (an in-process bus of a test). */
ReadPace *read_pace_new(sd_event *event);
ReadPace *read_pace_free(ReadPace *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReadPace, read_pace_free)

/* Queues msg, a call of uid, for read(reply, userdata). Returns what a method handler
 * returns (1: answered later, or refused over the limit now). Calls with the same read
 * and userdata are answered together. */
int read_pace_submit(ReadPace *p, sd_bus_message *msg, uid_t uid, PacedRead read, void *userdata);

/* Answers call with a copy of answer's body: answer is a sealed method return built
 * once for many calls. */
int read_pace_reply_copy(sd_bus_message *call, sd_bus_message *answer);

/* --- The turns, apart from the loop and the bus (unit-tested alone). --- */

typedef struct ReadCall {
        sd_bus_message *msg;   /* referenced while it waits; may be NULL in a test */
        uid_t uid;
        PacedRead read;
        void *userdata;
} ReadCall;

typedef struct ReadTurns ReadTurns;

ReadTurns *read_turns_new(void);
/* Drops (unrefs) the calls still queued. */
ReadTurns *read_turns_free(ReadTurns *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReadTurns, read_turns_free)

/* Queues a copy of call (taking a reference on its msg); false when its user, not root,
 * has READ_PACE_WAITING not answered already. A user's first call queued puts it at the
 * end of the turns. */
bool read_turns_add(ReadTurns *t, const ReadCall *call);
/* The next turn: root's when root has calls queued, else the first user's in the turns.
 * Its read is that of the user's oldest call; the turn takes every call of that read
 * queued, every user's, that user's first (ReadCall*, owned by the array: their msg
 * references too). NULL when nothing is queued. The user goes to the end of the turns
 * if it still has calls queued. Calls taken stay counted against their user's limit
 * until read_turns_answered(). */
GPtrArray *read_turns_next(ReadTurns *t);
/* A call of uid taken by read_turns_next() has its answer. */
void read_turns_answered(ReadTurns *t, uid_t uid);
/* Calls of uid queued or taken, not answered. */
unsigned read_turns_waiting(const ReadTurns *t, uid_t uid);
/* Calls of uid queued (not taken). */
unsigned read_turns_queued(const ReadTurns *t, uid_t uid);
/* Calls queued, every user's. */
unsigned read_turns_total(const ReadTurns *t);
