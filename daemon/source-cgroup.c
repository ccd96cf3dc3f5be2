/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sys/inotify.h>

#include "coalesce.h"
#include "log.h"
#include "source-cgroup.h"

#define WATCH_MASK (IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF)

typedef struct Watch {
        CgroupWatch *owner;
        sd_event_source *source;
        char *rel;
} Watch;

struct CgroupWatch {
        sd_event *event;
        const Root *root;
        Coalescer *coalescer;
        GPtrArray *watches;   /* Watch*, one a folder */
        bool (*relevant)(const char *name, void *userdata);
        TriggerSink sink;
        char *pending;        /* the one path changed since the last publication */
        bool several;         /* more than one: publish unnamed */
};

static int on_inotify(sd_event_source *source, const struct inotify_event *ev, void *userdata) {
        Watch *watch = userdata;
        CgroupWatch *w = watch->owner;
        const char *name = ev->len ? ev->name : NULL;

        if (!(ev->mask & IN_Q_OVERFLOW) && !w->relevant(name, w->sink.userdata))
                return 0;
        g_autofree char *path = name ? g_build_filename(watch->rel, name, NULL) : g_strdup(watch->rel);
        if (ev->mask & IN_Q_OVERFLOW)
                w->several = true;
        else if (!w->pending)
                w->pending = g_steal_pointer(&path);
        else if (!g_str_equal(w->pending, path))
                w->several = true;
        coalescer_poke(w->coalescer);
        return 0;
}

static void flush(void *userdata) {
        CgroupWatch *w = userdata;
        g_autofree char *path = g_steal_pointer(&w->pending);
        bool several = w->several;

        w->several = false;
        trigger_publish(&w->sink, &(Trigger) { .kind = TRIGGER_CGROUP, .name = several ? NULL : path });
}

static void watch_free(void *p) {
        Watch *watch = p;
        sd_event_source_disable_unref(watch->source);
        g_free(watch->rel);
        g_free(watch);
}

int cgroup_watch_new(sd_event *event, const Root *root, bool (*relevant)(const char *name, void *userdata),
                     const TriggerSink *sink, CgroupWatch **out) {
        CgroupWatch *w = g_new0(CgroupWatch, 1);
        int r;

        w->event = sd_event_ref(event);
        w->root = root;
        w->relevant = relevant;
        w->sink = *sink;
        w->watches = g_ptr_array_new_with_free_func(watch_free);
        r = coalescer_new(event, flush, w, &w->coalescer);
        if (r < 0) {
                cgroup_watch_free(w);
                return r;
        }
        *out = w;
        return 0;
}

void cgroup_watch_set(CgroupWatch *w, const GPtrArray *dirs) {
        GPtrArray *old = w->watches;

        /* The new watches first: a folder watched before and after keeps its inotify
         * watch throughout, so no write slips between. */
        w->watches = g_ptr_array_new_with_free_func(watch_free);
        for (unsigned i = 0; i < dirs->len; i++) {
                g_autofree char *abs = root_path(w->root, dirs->pdata[i]);
                Watch *watch = g_new0(Watch, 1);
                watch->owner = w;
                watch->rel = g_strdup(dirs->pdata[i]);
                int r = sd_event_add_inotify(w->event, &watch->source, abs, WATCH_MASK, on_inotify, watch);
                if (r < 0) {
                        log_debug_errno(r, "cannot watch %s: %m", abs);
                        watch_free(watch);
                } else
                        g_ptr_array_add(w->watches, watch);
        }
        g_ptr_array_unref(old);
}

CgroupWatch *cgroup_watch_free(CgroupWatch *w) {
        if (!w)
                return NULL;
        if (w->watches)
                g_ptr_array_unref(w->watches);
        coalescer_free(w->coalescer);
        sd_event_unref(w->event);
        g_free(w->pending);
        g_free(w);
        return NULL;
}
