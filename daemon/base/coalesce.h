/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <systemd/sd-event.h>

/* Bursts coalesce: an event source pokes as often as events arrive, and flush runs once
 * per loop iteration after them (a one-shot defer source). */
typedef struct Coalescer Coalescer;

int coalescer_new(sd_event *event, void (*flush)(void *userdata), void *userdata, Coalescer **out);
Coalescer *coalescer_free(Coalescer *c);
void coalescer_poke(Coalescer *c);
