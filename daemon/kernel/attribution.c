/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <glib.h>
#include <string.h>

#include "kernel/attribution.h"

/* One folded event: what ran, from when, for how long (net of what interrupted it). */
typedef struct Occurrence {
        uint64_t start_ns;
        uint32_t duration_ns;
        uint8_t kind;             /* CauseKind */
        int16_t prio;
        uint32_t id;
        int32_t tgid;
        char name[TRACE_COMM_MAX];
} Occurrence;

/* An interrupt context entered and not yet left. Hard IRQs nest in softirqs, NMIs in
 * anything; deeper than this is records lost. */
#define OPEN_MAX 4
typedef struct OpenContext {
        CauseKind kind;
        uint32_t id;
        uint64_t start_ns, nested_ns;
        char name[TRACE_COMM_MAX];
} OpenContext;

typedef struct CpuWindow {
        int cpu;
        int32_t measurer;         /* tid whose runs are the measurement */
        Occurrence *ring;
        unsigned head, count;     /* next slot; occurrences kept */
        bool wrapped;             /* older occurrences were dropped */
        OpenContext open[OPEN_MAX];
        unsigned depth;
        struct {
                bool known;
                TraceTask task;
                uint64_t since_ns, interrupted_ns;
        } current;
        uint64_t last_ns;         /* the last record's time */
        uint64_t gap_from, gap_to; /* the last records lost: between these times */
        bool gap_open;            /* lost, and no record since */
        CpuActivity activity;
} CpuWindow;

struct Attribution {
        unsigned ring;
        unsigned n;
        CpuWindow *cpus;          /* sorted by cpu */
};

Attribution *attribution_new(const CpuMask *cpus, unsigned ring) {
        Attribution *a = g_new0(Attribution, 1);
        unsigned i = 0;

        a->ring = MAX(ring, 8u);
        a->n = cpumask_count(cpus);
        a->cpus = g_new0(CpuWindow, a->n);
        CPUMASK_FOREACH(cpu, cpus) {
                a->cpus[i].cpu = cpu;
                a->cpus[i].ring = g_new0(Occurrence, a->ring);
                i++;
        }
        return a;
}

void attribution_free(Attribution *a) {
        if (!a)
                return;
        for (unsigned i = 0; i < a->n; i++)
                g_free(a->cpus[i].ring);
        g_free(a->cpus);
        g_free(a);
}

static CpuWindow *window_of(const Attribution *a, int cpu) {
        unsigned lo = 0, hi = a->n;
        while (lo < hi) {
                unsigned mid = (lo + hi) / 2;
                if (a->cpus[mid].cpu == cpu)
                        return &a->cpus[mid];
                if (a->cpus[mid].cpu < cpu)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

void attribution_set_measurer(Attribution *a, int cpu, int32_t tid) {
        CpuWindow *w = window_of(a, cpu);
        if (w)
                w->measurer = tid;
}

const char *cause_kind_to_string(CauseKind k) {
        static const char *const names[] = {
                [CAUSE_IRQ] = "irq", [CAUSE_SOFTIRQ] = "softirq", [CAUSE_VECTOR] = "vector",
                [CAUSE_NMI] = "nmi", [CAUSE_THREAD] = "thread",
        };
        return k < G_N_ELEMENTS(names) ? names[k] : "unknown";
}

static bool same_source(const Cause *c, CauseKind kind, uint32_t id) {
        return c->kind == kind && (kind == CAUSE_NMI || c->id == id);
}

/* Adds an occurrence to a list of causes of at most max entries: its entry, or NULL
 * when the list is full and the source is not in it. */
static Cause *causes_add(Cause *list, unsigned *n, unsigned max, const Occurrence *o, uint64_t ns) {
        for (unsigned i = 0; i < *n; i++)
                if (same_source(&list[i], o->kind, o->id)) {
                        list[i].time_ns += ns;
                        list[i].count++;
                        return &list[i];
                }
        if (*n >= max)
                return NULL;
        list[*n] = (Cause) { .kind = o->kind, .id = o->id, .tgid = o->tgid, .prio = o->prio, .time_ns = ns, .count = 1 };
        memcpy(list[*n].name, o->name, sizeof o->name);
        return &list[(*n)++];
}

/* A full table of sources gives way to a larger one: the smallest so far goes to
 * "other", so that what took the most time stays named whatever came first. */
static void count_activity(CpuWindow *w, const Occurrence *o) {
        CpuActivity *act = &w->activity;
        unsigned smallest = 0;

        if (causes_add(act->sources, &act->nsources, ATTRIBUTION_SOURCES_MAX, o, o->duration_ns))
                return;
        for (unsigned i = 1; i < act->nsources; i++)
                if (act->sources[i].time_ns < act->sources[smallest].time_ns)
                        smallest = i;
        if (act->sources[smallest].time_ns >= o->duration_ns) {
                act->other_count++;
                act->other_ns += o->duration_ns;
                return;
        }
        act->other_count += act->sources[smallest].count;
        act->other_ns += act->sources[smallest].time_ns;
        act->sources[smallest] = (Cause) { .kind = o->kind, .id = o->id, .tgid = o->tgid, .prio = o->prio,
                                           .time_ns = o->duration_ns, .count = 1 };
        memcpy(act->sources[smallest].name, o->name, sizeof o->name);
}

static void keep(CpuWindow *w, unsigned ring, const Occurrence *o) {
        w->ring[w->head] = *o;
        w->head = (w->head + 1) % ring;
        if (w->count < ring)
                w->count++;
        else
                w->wrapped = true;
        count_activity(w, o);
}

static void occur(CpuWindow *w, unsigned ring, CauseKind kind, uint32_t id, uint64_t start, uint64_t ns,
                  const char *name, const TraceTask *task, int32_t tgid) {
        Occurrence o = { .start_ns = start, .duration_ns = (uint32_t) MIN(ns, (uint64_t) UINT32_MAX),
                         .kind = (uint8_t) kind, .id = id, .tgid = tgid };
        if (task)
                o.prio = (int16_t) CLAMP(task->prio, -1, 255);
        if (name)
                g_strlcpy(o.name, name, sizeof o.name);
        keep(w, ring, &o);
}

/* Time spent in an interrupt context is taken from what it interrupted. */
static void interrupted_for(CpuWindow *w, uint64_t ns) {
        if (w->depth > 0)
                w->open[w->depth - 1].nested_ns += ns;
        else
                w->current.interrupted_ns += ns;
}

static void enter(CpuWindow *w, CauseKind kind, const TraceRecord *r) {
        if (w->depth == OPEN_MAX)
                w->depth = 0; /* exits were lost: start again */
        w->open[w->depth] = (OpenContext) { .kind = kind, .id = r->id, .start_ns = r->time_ns };
        memcpy(w->open[w->depth].name, r->name, sizeof r->name);
        w->depth++;
}

static void leave(CpuWindow *w, unsigned ring, CauseKind kind, const TraceRecord *r) {
        for (unsigned k = w->depth; k-- > 0;) {
                OpenContext *c = &w->open[k];
                if (c->kind != kind || c->id != r->id)
                        continue;
                uint64_t gross = r->time_ns > c->start_ns ? r->time_ns - c->start_ns : 0;
                uint64_t net = gross > c->nested_ns ? gross - c->nested_ns : 0;
                OpenContext done = *c;
                w->depth = k; /* contexts above it lost their exits */
                occur(w, ring, kind, done.id, done.start_ns, net, done.name, NULL, 0);
                interrupted_for(w, gross);
                return;
        }
        /* Its entry was lost, or came before the watch began. */
}

static bool counts_as_cause(const CpuWindow *w, const TraceTask *t) {
        return t->pid != 0 && t->pid != w->measurer;
}

static void switch_task(CpuWindow *w, unsigned ring, const TraceRecord *r) {
        w->activity.switches++;
        w->depth = 0; /* a switch happens in thread context: anything open lost its exit */
        if (w->current.known && w->current.task.pid == r->prev.pid && counts_as_cause(w, &r->prev)) {
                uint64_t gross = r->time_ns > w->current.since_ns ? r->time_ns - w->current.since_ns : 0;
                uint64_t net = gross > w->current.interrupted_ns ? gross - w->current.interrupted_ns : 0;
                occur(w, ring, CAUSE_THREAD, (uint32_t) r->prev.pid, w->current.since_ns, net, r->prev.comm, &r->prev,
                      r->tgid);
        }
        w->current.known = true;
        w->current.task = r->next;
        w->current.since_ns = r->time_ns;
        w->current.interrupted_ns = 0;
}

void attribution_feed(Attribution *a, const TraceRecord *r) {
        CpuWindow *w = window_of(a, (int) r->cpu);

        if (!w)
                return;
        if (w->gap_open) {
                w->gap_to = r->time_ns;
                w->gap_open = false;
        }
        w->last_ns = r->time_ns;
        switch (r->kind) {
        case TRACE_IRQ_ENTRY:
                w->activity.irqs++;
                enter(w, CAUSE_IRQ, r);
                break;
        case TRACE_SOFTIRQ_ENTRY:
                w->activity.softirqs++;
                enter(w, CAUSE_SOFTIRQ, r);
                break;
        case TRACE_VECTOR_ENTRY:
                if (r->id < _TRACE_VECTOR_MAX)
                        w->activity.vectors[r->id]++;
                enter(w, CAUSE_VECTOR, r);
                break;
        case TRACE_IRQ_EXIT:
                leave(w, a->ring, CAUSE_IRQ, r);
                break;
        case TRACE_SOFTIRQ_EXIT:
                leave(w, a->ring, CAUSE_SOFTIRQ, r);
                break;
        case TRACE_VECTOR_EXIT:
                leave(w, a->ring, CAUSE_VECTOR, r);
                break;
        case TRACE_NMI: {
                uint64_t start = r->time_ns > r->duration_ns ? r->time_ns - r->duration_ns : 0;
                w->activity.nmis++;
                occur(w, a->ring, CAUSE_NMI, 0, start, r->duration_ns, NULL, NULL, 0);
                interrupted_for(w, r->duration_ns);
                break;
        }
        case TRACE_SWITCH:
                switch_task(w, a->ring, r);
                break;
        }
}

void attribution_lost(Attribution *a, int cpu, uint64_t n) {
        CpuWindow *w = window_of(a, cpu);
        if (!w)
                return;
        w->activity.lost += n;
        if (!w->gap_open)
                w->gap_from = w->last_ns;
        w->gap_open = true;
        w->depth = 0;
        w->current.known = false;
}

static uint64_t overlap(uint64_t start, uint64_t end, uint64_t from, uint64_t to) {
        uint64_t s = MAX(start, from), e = MIN(end, to);
        return e > s ? e - s : 0;
}

static int compare_causes(const void *x, const void *y) {
        const Cause *a = x, *b = y;
        if (a->time_ns != b->time_ns)
                return a->time_ns < b->time_ns ? 1 : -1;
        return (a->count < b->count) - (a->count > b->count);
}

/* What is still open at the end of the window counts up to it. */
static void explain_open(const CpuWindow *w, uint64_t from, uint64_t to, Cause *found, unsigned *n, unsigned max) {
        for (unsigned k = 0; k < w->depth; k++) {
                const OpenContext *c = &w->open[k];
                Occurrence o = { .kind = (uint8_t) c->kind, .id = c->id };
                uint64_t ns = overlap(c->start_ns, to, from, to);
                memcpy(o.name, c->name, sizeof o.name);
                if (ns)
                        causes_add(found, n, max, &o, ns);
        }
        if (w->current.known && counts_as_cause(w, &w->current.task)) {
                const TraceTask *t = &w->current.task;
                Occurrence o = { .kind = CAUSE_THREAD, .id = (uint32_t) t->pid, .prio = (int16_t) CLAMP(t->prio, -1, 255) };
                uint64_t ns = overlap(w->current.since_ns, to, from, to);
                Cause *c;
                memcpy(o.name, t->comm, sizeof o.name);
                if (ns && (c = causes_add(found, n, max, &o, ns)))
                        c->running = true;
        }
}

bool attribution_explain(const Attribution *a, int cpu, uint64_t end_ns, uint64_t latency_ns, uint64_t margin_ns,
                         Explanation *out) {
        const CpuWindow *w = window_of(a, cpu);
        uint64_t from = end_ns > latency_ns + margin_ns ? end_ns - latency_ns - margin_ns : 0;
        Cause found[ATTRIBUTION_SOURCES_MAX * 2];
        unsigned n = 0;
        uint64_t oldest = UINT64_MAX;

        memset(out, 0, sizeof *out);
        if (!w)
                return false;
        for (unsigned i = 0; i < w->count; i++) {
                const Occurrence *o = &w->ring[(w->head + a->ring - 1 - i) % a->ring];
                uint64_t ns = overlap(o->start_ns, o->start_ns + o->duration_ns, from, end_ns);
                oldest = MIN(oldest, o->start_ns);
                if (ns)
                        causes_add(found, &n, G_N_ELEMENTS(found), o, ns);
        }
        explain_open(w, from, end_ns, found, &n, G_N_ELEMENTS(found));
        out->partial = (w->wrapped && oldest > from) ||
                       (w->gap_open ? end_ns > w->gap_from : overlap(w->gap_from, w->gap_to, from, end_ns) > 0);
        qsort(found, n, sizeof found[0], compare_causes);
        for (unsigned i = 0; i < n; i++)
                out->traced_ns += found[i].time_ns;
        out->ncauses = MIN(n, (unsigned) ATTRIBUTION_CAUSES_MAX);
        memcpy(out->causes, found, out->ncauses * sizeof found[0]);
        return true;
}

bool attribution_take_activity(Attribution *a, int cpu, CpuActivity *out) {
        CpuWindow *w = window_of(a, cpu);
        if (!w)
                return false;
        *out = w->activity;
        qsort(out->sources, out->nsources, sizeof out->sources[0], compare_causes);
        memset(&w->activity, 0, sizeof w->activity);
        return true;
}
