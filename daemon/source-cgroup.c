/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sys/inotify.h>

#include "coalesce.h"
#include "enforcer-cpuset.h"
#include "log.h"
#include "source-cgroup.h"

#define WATCH_MASK (IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF)

struct CgroupWatch {
        sd_event *event;
        Coalescer *coalescer;
        GPtrArray *sources;   /* sd_event_source*, one a folder */
        void (*changed)(void *userdata);
        void *userdata;
};

static int on_inotify(sd_event_source *source, const struct inotify_event *ev, void *userdata) {
        CgroupWatch *w = userdata;
        if (ev->mask & IN_Q_OVERFLOW || cpuset_event_is_relevant(ev->len ? ev->name : NULL))
                coalescer_poke(w->coalescer);
        return 0;
}

static void flush(void *userdata) {
        CgroupWatch *w = userdata;
        w->changed(w->userdata);
}

static void source_unref(void *p) {
        sd_event_source_disable_unref(p);
}

int cgroup_watch_new(sd_event *event, void (*changed)(void *userdata), void *userdata, CgroupWatch **out) {
        CgroupWatch *w = g_new0(CgroupWatch, 1);
        int r;

        w->event = sd_event_ref(event);
        w->changed = changed;
        w->userdata = userdata;
        w->sources = g_ptr_array_new_with_free_func(source_unref);
        r = coalescer_new(event, flush, w, &w->coalescer);
        if (r < 0) {
                cgroup_watch_free(w);
                return r;
        }
        *out = w;
        return 0;
}

void cgroup_watch_set(CgroupWatch *w, const GPtrArray *dirs) {
        GPtrArray *old = w->sources;

        /* The new watches first: a folder watched before and after keeps its inotify
         * watch throughout, so no write slips between. */
        w->sources = g_ptr_array_new_with_free_func(source_unref);
        for (unsigned i = 0; i < dirs->len; i++) {
                sd_event_source *src = NULL;
                int r = sd_event_add_inotify(w->event, &src, dirs->pdata[i], WATCH_MASK, on_inotify, w);
                if (r < 0)
                        log_debug_errno(r, "cannot watch %s: %m", (const char *) dirs->pdata[i]);
                else
                        g_ptr_array_add(w->sources, src);
        }
        g_ptr_array_unref(old);
}

CgroupWatch *cgroup_watch_free(CgroupWatch *w) {
        if (!w)
                return NULL;
        if (w->sources)
                g_ptr_array_unref(w->sources);
        coalescer_free(w->coalescer);
        sd_event_unref(w->event);
        g_free(w);
        return NULL;
}
