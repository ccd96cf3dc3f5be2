/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <sched.h>

#include "enforce/starvation.h"

static bool boost_over(const StarveTrack *t, const StarveSample *s, int64_t now) {
        bool ran = s->state != 'R' || (s->has_progress && s->progress != t->boost_progress);
        return now >= t->boost_until || (t->boost == STARVE_METHOD_FIFO && ran);
}

StarveAction starve_judge(StarveTrack *t, const StarveSample *s, const CpuMask *cpus, int64_t now, int64_t limit_usec) {
        assert(t);
        assert(s);
        assert(cpus);
        if (t->boost != STARVE_METHOD_NONE)
                return boost_over(t, s, now) ? STARVE_ACTION_END : STARVE_ACTION_NONE;
        /* Asleep, elsewhere, or unreadable: not starving here. */
        if (s->state != 'R' || s->cpu < 0 || !cpumask_has(cpus, s->cpu) || !s->has_progress) {
                t->waiting = false;
                return STARVE_ACTION_NONE;
        }
        /* Seen runnable for the first time, or it ran since: the wait starts now. */
        if (!t->waiting || s->progress != t->progress) {
                t->waiting = true;
                t->progress = s->progress;
                t->waiting_since = now;
                return STARVE_ACTION_NONE;
        }
        return now - t->waiting_since >= limit_usec ? STARVE_ACTION_BOOST : STARVE_ACTION_NONE;
}

void starve_boosted(StarveTrack *t, StarveMethod method, const StarveSample *s, int64_t now) {
        t->boost = method;
        t->boost_progress = s->has_progress ? s->progress : 0;
        t->boost_until = now + STARVE_BOOST_USEC;
        t->waiting = false;
}

void starve_ended(StarveTrack *t) {
        t->boost = STARVE_METHOD_NONE;
        t->waiting = false;
}

void starve_rested(StarveTrack *t) {
        t->waiting = false;
}

bool starve_cpu_stayed_busy(bool known_before, uint64_t idle_before, bool known_now, uint64_t idle_now) {
        return !known_before || !known_now || idle_now == idle_before;
}

int64_t starve_waited(const StarveTrack *t, int64_t now) {
        return t->waiting && t->boost == STARVE_METHOD_NONE ? now - t->waiting_since : 0;
}

static bool realtime(int policy) {
        return policy == SCHED_FIFO || policy == SCHED_RR;
}

int starve_fifo_priority(int hog_policy, int hog_priority) {
        if (!realtime(hog_policy) || hog_priority >= 99 || hog_priority < 1)
                return 99;
        return hog_priority + 1;
}

/* Whether a holds the CPU before b would. */
static bool outranks(const StarveCandidate *a, const StarveCandidate *b) {
        if (realtime(a->policy) != realtime(b->policy))
                return realtime(a->policy);
        return realtime(a->policy) && a->priority > b->priority;
}

int starve_pick_hog(const StarveCandidate *c, size_t n, int cpu, pid_t except) {
        int best = -1;
        for (size_t i = 0; i < n; i++) {
                if (c[i].state != 'R' || c[i].cpu != cpu || c[i].tid == except)
                        continue;
                if (best < 0 || outranks(&c[i], &c[best]))
                        best = (int) i;
        }
        return best;
}
