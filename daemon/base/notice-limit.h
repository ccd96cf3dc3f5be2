/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Notices that users can cause by the thousand (a process named like a workload, run
 * 2000 times) said a few times per key and window, the rest counted and said as one
 * line ("... and 1599 more"), so that journald's rate limit never hides isolatord's own
 * messages. A key is what the notice is about (a user). The keys are
 * bounded: past max_keys, new keys share one. */
typedef struct NoticeLimit NoticeLimit;

NoticeLimit *notice_limit_new(unsigned burst, int64_t window_usec, unsigned max_keys);
void notice_limit_free(NoticeLimit *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NoticeLimit, notice_limit_free)

/* Whether a notice about key may be said now (CLOCK_MONOTONIC usec); when not, it is
 * counted. */
bool notice_limit_allow(NoticeLimit *l, const char *key, int64_t now);

/* For every key with notices held back since the last flush: said(key, how many). Keys
 * quiet for a whole window are forgotten. The burst starts again when a key's window
 * ends. */
typedef void (*NoticeHeld)(const char *key, uint64_t held, void *userdata);
void notice_limit_flush(NoticeLimit *l, int64_t now, NoticeHeld said, void *userdata);

/* The key that stands for every key past max_keys. */
#define NOTICE_LIMIT_OTHERS "(others)"
