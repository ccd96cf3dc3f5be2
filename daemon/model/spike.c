/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/text.h"
#include "model/spike.h"

SpikeCause *spike_cause_new(const char *kind, const char *name) {
        SpikeCause *c = g_new0(SpikeCause, 1);
        c->kind = text_printable(kind);
        c->name = text_printable(name);
        c->time_us = -1;
        c->per_second = -1;
        c->sched = g_strdup("");
        c->group = g_strdup("");
        c->note = g_strdup("");
        return c;
}

void spike_cause_free(SpikeCause *c) {
        if (!c)
                return;
        g_free(c->kind);
        g_free(c->name);
        g_free(c->sched);
        g_free(c->group);
        g_free(c->note);
        g_free(c);
}

void spike_cause_set_note(SpikeCause *c, bool movable, const char *note) {
        c->movable = movable;
        g_free(c->note);
        c->note = text_printable(note);
}

Spike *spike_new(uint32_t cpu, uint64_t at_usec, uint64_t latency_us, uint64_t threshold_us, const char *source) {
        Spike *s = g_new0(Spike, 1);
        s->cpu = cpu;
        s->at_usec = at_usec;
        s->latency_us = latency_us;
        s->threshold_us = threshold_us;
        s->source = g_strdup(source);
        s->causes = g_ptr_array_new_with_free_func((GDestroyNotify) spike_cause_free);
        return s;
}

void spike_free(Spike *s) {
        if (!s)
                return;
        g_free(s->source);
        g_ptr_array_unref(s->causes);
        g_free(s);
}

char *spike_summary(const Spike *s) {
        if (s->causes->len == 0)
                return g_strdup(g_str_equal(s->source, "counters") ? "no counter moved" : "nothing traced ran");
        const SpikeCause *c = s->causes->pdata[0];
        if (c->time_us >= 0)
                return g_strdup_printf("%s %s %.0f us%s", c->kind, c->name, c->time_us, c->movable ? " (movable)" : "");
        return g_strdup_printf("%s %s %.0f/s", c->kind, c->name, c->per_second);
}

struct SpikeLog {
        unsigned max;
        GQueue spikes;            /* Spike*, oldest first */
        GHashTable *by_kind;      /* kind of the first cause -> count */
};

SpikeLog *spike_log_new(unsigned max) {
        SpikeLog *l = g_new0(SpikeLog, 1);
        l->max = MAX(max, 1u);
        g_queue_init(&l->spikes);
        l->by_kind = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        return l;
}

void spike_log_clear(SpikeLog *l) {
        g_queue_clear_full(&l->spikes, (GDestroyNotify) spike_free);
        g_hash_table_remove_all(l->by_kind);
}

void spike_log_free(SpikeLog *l) {
        if (!l)
                return;
        spike_log_clear(l);
        g_hash_table_unref(l->by_kind);
        g_free(l);
}

void spike_log_add(SpikeLog *l, Spike *s) {
        const char *kind = s->causes->len ? ((SpikeCause *) s->causes->pdata[0])->kind : "none";
        uint64_t n = GPOINTER_TO_SIZE(g_hash_table_lookup(l->by_kind, kind));
        /* The kinds are few and fixed (irq, softirq, vector, nmi, thread, counter, none). */
        g_hash_table_replace(l->by_kind, g_strdup(kind), GSIZE_TO_POINTER(n + 1));
        g_queue_push_tail(&l->spikes, s);
        while (l->spikes.length > l->max)
                spike_free(g_queue_pop_head(&l->spikes));
}

GPtrArray *spike_log_last(const SpikeLog *l, unsigned n) {
        GPtrArray *out = g_ptr_array_new();
        unsigned skip = n && l->spikes.length > n ? l->spikes.length - n : 0;
        unsigned i = 0;
        for (GList *it = l->spikes.head; it; it = it->next, i++)
                if (i >= skip)
                        g_ptr_array_add(out, it->data);
        return out;
}

const Spike *spike_log_newest(const SpikeLog *l) {
        return l->spikes.tail ? l->spikes.tail->data : NULL;
}

uint64_t spike_log_count_by_kind(const SpikeLog *l, const char *kind) {
        return GPOINTER_TO_SIZE(g_hash_table_lookup(l->by_kind, kind));
}
