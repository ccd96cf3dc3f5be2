/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>

#include "base/log.h"
#include "passes.h"

typedef struct Request {
        PassAnswer answer;
        void *userdata;
        GDestroyNotify destroy;
} Request;

struct Passes {
        Manager *manager;
        sd_event_source *periodic;   /* the backstop, every VerifyIntervalSec= */
        sd_event_source *shared;     /* deferred: one pass for every request waiting */
        sd_event_source *next;       /* a second after the last pass: users' next one */
        GPtrArray *waiting;          /* Request* */
        bool repair;                 /* a root request waits: the pass repairs */
        uint64_t passes_at_arm;      /* passes run when the periodic verify was armed */
        PassAfter after;
        void *after_userdata;
};

static void request_free(Request *r) {
        if (r->destroy)
                r->destroy(r->userdata);
        g_free(r);
}

static uint64_t passes_run(Passes *p) {
        return manager_counter(manager_status(p->manager), "verify_count");
}

/* A pass (one that repaired, with repaired) ended less than a second ago. */
static bool fresh(Passes *p, bool repaired) {
        const ManagerStatus *st = manager_status(p->manager);
        return st->last_pass_mono_usec > 0 && g_get_monotonic_time() - st->last_pass_mono_usec < G_USEC_PER_SEC &&
               (!repaired || st->last_pass_repaired);
}

static void run_shared(Passes *p) {
        g_autoptr(GPtrArray) waiting = g_steal_pointer(&p->waiting);
        bool repair = p->repair;

        p->waiting = g_ptr_array_new_with_free_func((GDestroyNotify) request_free);
        p->repair = false;
        if (repair)
                manager_verify(p->manager);
        else
                manager_observe(p->manager);
        if (p->after)
                p->after(p->after_userdata);
        for (unsigned i = 0; i < waiting->len; i++) {
                Request *r = waiting->pdata[i];
                r->answer(p->manager, r->userdata);
        }
}

static int on_shared(sd_event_source *source, void *userdata) {
        run_shared(userdata);
        return 0;
}

static int on_next(sd_event_source *source, uint64_t usec, void *userdata) {
        Passes *p = userdata;
        return sd_event_source_set_enabled(p->shared, SD_EVENT_ONESHOT);
}

static int on_periodic(sd_event_source *source, uint64_t usec, void *userdata) {
        Passes *p = userdata;
        /* A Verify that repaired less than a second ago, since the timer was armed, already
         * did this pass's work. (Not the timer's own last pass: the relative time counts
         * from the loop iteration that ran it, so it may end less than a second ago.) */
        if (passes_run(p) == p->passes_at_arm || !fresh(p, true)) {
                manager_verify_periodic(p->manager);
                if (p->after)
                        p->after(p->after_userdata);
        }
        return passes_arm(p);
}

Passes *passes_new(Manager *m, sd_event *event) {
        Passes *p = g_new0(Passes, 1);
        int r = 0;

        assert(m);
        p->manager = m;
        p->waiting = g_ptr_array_new_with_free_func((GDestroyNotify) request_free);
        if (!event)
                return p;
        r = sd_event_add_defer(event, &p->shared, on_shared, p);
        if (r >= 0)
                r = sd_event_source_set_priority(p->shared, SD_EVENT_PRIORITY_NORMAL + 10);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->shared, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(event, &p->next, CLOCK_MONOTONIC, 0, 0, on_next, p);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->next, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(event, &p->periodic, CLOCK_MONOTONIC, 0, 0, on_periodic, p);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->periodic, SD_EVENT_OFF);
        if (r < 0) {
                log_error_errno(r, "cannot set up the verify passes: %m");
                return passes_free(p);
        }
        return p;
}

Passes *passes_free(Passes *p) {
        if (!p)
                return NULL;
        sd_event_source_disable_unref(p->shared);
        sd_event_source_disable_unref(p->next);
        sd_event_source_disable_unref(p->periodic);
        g_ptr_array_unref(p->waiting);
        g_free(p);
        return NULL;
}

void passes_set_after(Passes *p, PassAfter after, void *userdata) {
        p->after = after;
        p->after_userdata = userdata;
}

int passes_arm(Passes *p) {
        if (!p->periodic)
                return 0;
        uint64_t usec = (uint64_t) manager_status(p->manager)->config->daemon.verify_interval_sec * G_USEC_PER_SEC;
        int r = sd_event_source_set_time_relative(p->periodic, usec);
        p->passes_at_arm = passes_run(p);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(p->periodic, SD_EVENT_ONESHOT);
}

void passes_request(Passes *p, bool repair, PassAnswer answer, void *userdata, GDestroyNotify destroy) {
        Request *q = g_new0(Request, 1);
        int r;

        *q = (Request) { answer, userdata, destroy };
        g_ptr_array_add(p->waiting, q);
        p->repair |= repair;
        if (!p->shared) { /* no loop: a pass now */
                run_shared(p);
                return;
        }
        if (repair || !fresh(p, false))
                r = sd_event_source_set_enabled(p->shared, SD_EVENT_ONESHOT);
        else {
                uint64_t at = (uint64_t) manager_status(p->manager)->last_pass_mono_usec + G_USEC_PER_SEC;
                r = sd_event_source_set_time(p->next, at);
                if (r >= 0)
                        r = sd_event_source_set_enabled(p->next, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                log_warning_errno(r, "cannot schedule a verify pass: %m");
}
