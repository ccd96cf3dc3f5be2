/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "manager.h"

/* The daemon's figures in Prometheus's text format (0.0.4): the state as a labelled
 * gauge, findings by level, drift corrections by kind, the sampler's latency histogram
 * of each measured CPU (seconds), IRQs by state and their interrupts on the groups'
 * CPUs, the noise rates. For isoctl metrics (GetMetrics) and node-exporter's textfile
 * collector ([Metrics] TextfileDir=). */
char *metrics_text(Manager *m);

#define METRICS_TEXTFILE "isolatord.prom"

/* dir/isolatord.prom replaced atomically (a temporary file renamed over it). */
int metrics_write_textfile(Manager *m, const char *dir, GError **error);
/* When the daemon stops: stale figures would look like a live daemon's. */
void metrics_remove_textfile(const char *dir);
