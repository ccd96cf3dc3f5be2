/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <glib.h>

#include "base/coalesce.h"

struct Coalescer {
        sd_event_source *defer;
        void (*flush)(void *userdata);
        void *userdata;
};

static int on_defer(sd_event_source *source, void *userdata) {
        Coalescer *c = userdata;
        c->flush(c->userdata);
        return 0;
}

int coalescer_new(sd_event *event, void (*flush)(void *userdata), void *userdata, Coalescer **out) {
        Coalescer *c = g_new0(Coalescer, 1);
        int r;

        c->flush = flush;
        c->userdata = userdata;
        r = sd_event_add_defer(event, &c->defer, on_defer, c);
        if (r < 0) {
                g_free(c);
                return r;
        }
        sd_event_source_set_enabled(c->defer, SD_EVENT_OFF);
        *out = c;
        return 0;
}

Coalescer *coalescer_free(Coalescer *c) {
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->defer);
        g_free(c);
        return NULL;
}

void coalescer_poke(Coalescer *c) {
        sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
}
