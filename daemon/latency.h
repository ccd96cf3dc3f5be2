/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "causes.h"
#include "enforce/enforcer.h"
#include "kernel/noise.h"
#include "kernel/root.h"
#include "kernel/sampler.h"
#include "model/config.h"
#include "model/spike.h"

/* What the manager owns to measure the audio CPUs and say why a wake-up was late, apart
 * from keeping the partition: the sampler, the attribution of what reaches the audio
 * CPUs (causes.c), the noise rates, and the last spikes explained (spike-report.c). */
typedef struct Latency Latency;

/* What the manager hands at each call: the machine, what it knows, where events go. */
typedef struct LatencyEnv {
        const Config *config;
        const Root *root;              /* the machine isolatord keeps (--root) */
        const Root *host;              /* the real /: the sampler's threads, traced threads */
        CpuMask host_online;
        int event_fd;                  /* poked by the sampler's threads */
        int trace_poll_fd;             /* an epoll told of the trace rings: readable when one fills */
        const GPtrArray *findings;     /* the last pass's */
        GPtrArray *(*workloads)(void *userdata); /* the placed processes, asked for when a thread is judged */
        void *userdata;
        const EventSink *sink;         /* LatencyExceeded and LatencyExplained */
        /* An IRQ fired on an audio CPU: the manager has its enforcer look at it now. */
        void (*irq_seen)(unsigned irq, void *userdata);
        bool dry_run;                  /* nothing written: the timerlat tracer cannot be set up */
        TimerlatWriter writer;         /* the tracer's global settings, originals saved first */
} LatencyEnv;

/* The attribution's state, for GetStatus. */
typedef struct AttributionStatus {
        const char *source;            /* "tracepoints" or "counters"; NULL before the first look */
        const char *fallback;          /* why counters, or NULL */
        const char *missing;           /* tracepoints this kernel lacks, or NULL */
} AttributionStatus;

Latency *latency_new(void);
void latency_free(Latency *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Latency, latency_free)

/* The sampler on [Sampler] CPUs= (every group CPU by default). */
int latency_sampler_start(Latency *l, const LatencyEnv *env);
void latency_sampler_stop(Latency *l);
/* NULL when stopped. */
Sampler *latency_sampler(Latency *l);
/* Each CPU's statistics with what measuring it costs (LatencyStats*); NULL when stopped. */
GPtrArray *latency_stats(Latency *l, const LatencyEnv *env);
void latency_reset(Latency *l);

/* A sampler thread poked: LatencyExceeded (at most one a second a CPU), and the new
 * spikes explained. */
void latency_check(Latency *l, const LatencyEnv *env);
/* trace_poll_fd was readable: the rings are read before they overflow. */
void latency_drain(Latency *l);
/* Attribution from counters tries the tracepoints again at its next look (a reload:
 * the administrator may have given what they needed). */
void latency_retry_attribution(Latency *l);
/* The loop's tick (a second): what reached the audio CPUs since the last one, and the
 * spikes no poke announced. Each IRQ that fired on an audio CPU is handed to irq_seen, at
 * most once in IRQ_SEEN_GAP_S. */
void latency_tick(Latency *l, const LatencyEnv *env, uint64_t now_ns);
/* The IRQs of a pass's scan (counters read the rows that may reach the audio CPUs). */
void latency_irqs(Latency *l, const LatencyEnv *env, const GPtrArray *irqs);
/* The rates of the last second per audio CPU (NoiseCpu*), a new reference; NULL before. */
GPtrArray *latency_noise(Latency *l);
/* The last n spikes (0: every one kept), oldest first; borrowed until the next look. */
GPtrArray *latency_spikes(Latency *l, unsigned n);
/* Spikes kept since the start by the kind of their first cause. */
uint64_t latency_spikes_by_kind(Latency *l, const char *kind);
AttributionStatus latency_attribution(Latency *l);
