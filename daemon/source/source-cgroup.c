/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <sys/inotify.h>

#include "base/log.h"
#include "source/source-cgroup.h"

#define WATCH_MASK (IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF)
/* The folder watched is no longer at its path: a set watches the path again. */
#define WATCH_LOST (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)

typedef struct Watch {
        CgroupWatch *owner;
        sd_event_source *source;
        char *rel;
        bool lost;            /* WATCH_LOST seen: the folder at rel is another one, or none */
} Watch;

struct CgroupWatch {
        sd_event *event;
        const Root *root;
        GPtrArray *watches;   /* Watch*, one a folder */
        bool (*relevant)(const char *name, void *userdata);
        TriggerSink sink;
};

/* Published at once: sd-event hands over one inotify event per loop iteration, so a
 * deferred publication coalesced nothing (each event of a burst was flushed alone) and
 * only cost every repair one more iteration of the loop. A lost queue (IN_Q_OVERFLOW)
 * is published unnamed: every unit again. The trigger may set the watches again: watch
 * is not touched after it. */
static int on_inotify(sd_event_source *source, const struct inotify_event *ev, void *userdata) {
        Watch *watch = userdata;
        CgroupWatch *w = watch->owner;
        const char *name = ev->len ? ev->name : NULL;
        bool overflow = ev->mask & IN_Q_OVERFLOW;

        if (ev->mask & WATCH_LOST)
                watch->lost = true;
        if (!overflow && !w->relevant(name, w->sink.userdata))
                return 0;
        g_autofree char *path = overflow ? NULL : name ? g_build_filename(watch->rel, name, NULL) : g_strdup(watch->rel);
        /* Only a file's write (a cpuset changed, a pid moved) leaves the folders as they
         * were: anything else may have made or taken one, and the watches are set again. */
        bool folders = overflow || !name || ev->mask != IN_MODIFY;
        trigger_publish(&w->sink, &(Trigger) { .kind = TRIGGER_CGROUP, .name = path, .folders = folders });
        return 0;
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

        w->event = sd_event_ref(event);
        w->root = root;
        w->relevant = relevant;
        w->sink = *sink;
        w->watches = g_ptr_array_new_with_free_func(watch_free);
        *out = w;
        return 0;
}

/* The watch of rel taken out of watches when it still watches the folder at rel. */
static Watch *take_kept(GPtrArray *watches, const char *rel) {
        for (unsigned i = 0; i < watches->len; i++) {
                Watch *watch = watches->pdata[i];
                if (!watch->lost && g_str_equal(watch->rel, rel))
                        return g_ptr_array_steal_index(watches, i);
        }
        return NULL;
}

void cgroup_watch_set(CgroupWatch *w, const GPtrArray *dirs) {
        GPtrArray *old = w->watches;

        /* The service sets them after every cgroup event: a folder still watched keeps
         * its watch as it is (no path opened again), and a new watch is added before an
         * old one goes, so no write slips between. */
        w->watches = g_ptr_array_new_with_free_func(watch_free);
        for (unsigned i = 0; i < dirs->len; i++) {
                Watch *watch = take_kept(old, dirs->pdata[i]);
                if (watch) {
                        g_ptr_array_add(w->watches, watch);
                        continue;
                }
                g_autofree char *abs = root_path(w->root, dirs->pdata[i]);
                watch = g_new0(Watch, 1);
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
        sd_event_unref(w->event);
        g_free(w);
        return NULL;
}
