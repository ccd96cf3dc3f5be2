/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <assert.h>
#include <string.h>

#include "base/notice-limit.h"

typedef struct Window {
        int64_t start;     /* when its window began */
        unsigned said;     /* notices said in it */
        uint64_t held;     /* notices held back in it */
} Window;

struct NoticeLimit {
        unsigned burst;
        int64_t window_usec;
        unsigned max_keys;
        GHashTable *windows; /* key -> Window */
};

NoticeLimit *notice_limit_new(unsigned burst, int64_t window_usec, unsigned max_keys) {
        NoticeLimit *l = g_new0(NoticeLimit, 1);
        l->burst = burst;
        l->window_usec = window_usec;
        l->max_keys = MAX(max_keys, 1u);
        l->windows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        return l;
}

void notice_limit_free(NoticeLimit *l) {
        if (!l)
                return;
        g_hash_table_unref(l->windows);
        g_free(l);
}

bool notice_limit_allow(NoticeLimit *l, const char *key, int64_t now) {
        assert(l);
        assert(key);
        Window *w = g_hash_table_lookup(l->windows, key);
        if (!w && g_hash_table_size(l->windows) >= l->max_keys) {
                key = NOTICE_LIMIT_OTHERS;
                w = g_hash_table_lookup(l->windows, key);
        }
        if (!w) {
                w = g_new0(Window, 1);
                w->start = now;
                g_hash_table_insert(l->windows, g_strdup(key), w);
        }
        if (now - w->start >= l->window_usec) {
                w->start = now;
                w->said = 0;
        }
        if (w->said < l->burst) {
                w->said++;
                return true;
        }
        w->held++;
        return false;
}

void notice_limit_flush(NoticeLimit *l, int64_t now, NoticeHeld said, void *userdata) {
        g_autoptr(GList) keys = NULL;

        assert(l);
        /* In name order: what is said reads the same every time. */
        keys = g_list_sort(g_hash_table_get_keys(l->windows), (GCompareFunc) strcmp);
        for (GList *k = keys; k; k = k->next) {
                Window *w = g_hash_table_lookup(l->windows, k->data);
                if (w->held > 0) {
                        if (said)
                                said(k->data, w->held, userdata);
                        w->held = 0;
                } else if (now - w->start >= l->window_usec)
                        g_hash_table_remove(l->windows, k->data); /* quiet for a whole window */
        }
}
