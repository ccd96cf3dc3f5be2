/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "kernel/timerlat.h"
#include "kernel/tracefs.h"

#define INSTANCE "isolatord"

/* The ring buffer's page (kernel/trace/ring_buffer.c, as events/header_page describes it
 * on a 64-bit kernel): a u64 timestamp, a local_t commit, the data. The commit's top bits
 * flag events lost before the page. */
#define PAGE_HEADER 16
#define COMMIT_LENGTH_MASK ((UINT64_C(1) << 30) - 1)
#define COMMIT_MISSED (UINT64_C(3) << 30)
/* An event's 32-bit header: type_len (5 bits), time_delta (27). */
#define TYPE_PADDING 29
#define TYPE_TIME_EXTEND 30
#define TYPE_TIME_STAMP 31
#define TS_SHIFT 27

static uint32_t get_u32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
}

static uint64_t get_u64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return v;
}

typedef struct Fields {
        uint32_t id;
        const TraceField *context, *latency, *pid;
} Fields;

static bool fields_of(const TraceFormat *f, Fields *out) {
        out->id = f->id;
        out->context = trace_format_field(f, "context");
        out->latency = trace_format_field(f, "timer_latency");
        out->pid = trace_format_field(f, "common_pid");
        return out->context && out->latency;
}

static bool decode_entry(const Fields *fl, const uint8_t *data, size_t len, uint64_t at_ns, TimerlatSample *out) {
        int64_t context, latency, pid = 0;
        if (len < 2 || (uint32_t) (data[0] | data[1] << 8) != fl->id)
                return false;
        if (!trace_field_int(fl->context, data, len, &context) || !trace_field_int(fl->latency, data, len, &latency) ||
            latency < 0)
                return false;
        if (fl->pid)
                (void) trace_field_int(fl->pid, data, len, &pid);
        *out = (TimerlatSample) { .at_ns = at_ns, .thread = context != 0, .latency_ns = (uint64_t) latency,
                                  .pid = (int32_t) pid };
        return true;
}

int timerlat_page_decode(const TraceFormat *f, const uint8_t *page, size_t len, TimerlatSampleFn fn, void *userdata,
                         bool *missed) {
        Fields fl;
        int n = 0;

        if (missed)
                *missed = false;
        if (len < PAGE_HEADER || !fields_of(f, &fl))
                return -EBADMSG;
        uint64_t ts = get_u64(page);
        uint64_t commit = get_u64(page + 8);
        size_t end = PAGE_HEADER + (size_t) (commit & COMMIT_LENGTH_MASK);
        if (end > len)
                return -EBADMSG;
        if (missed && (commit & COMMIT_MISSED))
                *missed = true;
        for (size_t p = PAGE_HEADER; p + 4 <= end;) {
                uint32_t header = get_u32(page + p);
                unsigned type_len = header & 0x1f;
                uint64_t delta = header >> 5;
                size_t data, dlen;

                switch (type_len) {
                case TYPE_PADDING:
                        if (delta == 0)
                                return n; /* the rest of the page is padding */
                        if (p + 8 > end)
                                return -EBADMSG;
                        p += 4 + (size_t) get_u32(page + p + 4);
                        continue;
                case TYPE_TIME_EXTEND:
                case TYPE_TIME_STAMP:
                        if (p + 8 > end)
                                return -EBADMSG;
                        delta |= (uint64_t) get_u32(page + p + 4) << TS_SHIFT;
                        ts = type_len == TYPE_TIME_EXTEND ? ts + delta : delta;
                        p += 8;
                        continue;
                case 0:
                        if (p + 8 > end || get_u32(page + p + 4) < 4)
                                return -EBADMSG;
                        data = p + 8;
                        dlen = get_u32(page + p + 4) - 4;
                        break;
                default:
                        data = p + 4;
                        dlen = (size_t) type_len * 4;
                        break;
                }
                if (data + dlen > end)
                        return -EBADMSG;
                ts += delta;
                TimerlatSample s;
                if (decode_entry(&fl, page + data, dlen, ts, &s)) {
                        fn(&s, userdata);
                        n++;
                }
                p = data + dlen;
        }
        return n;
}

struct Timerlat {
        const Root *root;
        char *tracing;            /* "sys/kernel/tracing" */
        char *instance;           /* tracing/instances/isolatord */
        TimerlatWriter writer;
        GPtrArray *saved;         /* rel (char*) written through the writer, to put back */
        GHashTable *fds;          /* cpu + 1 -> fd + 1 */
        TraceFormat format;
};

size_t timerlat_page_size(void) {
        return (size_t) sysconf(_SC_PAGESIZE);
}

const char *timerlat_available(const Root *root, char **why) {
        g_autofree char *why_not = NULL;
        const char *tracing = tracefs_find(root, false, &why_not);
        if (!tracing) {
                if (why)
                        *why = g_steal_pointer(&why_not);
                return NULL;
        }
        g_autofree char *rel = g_strconcat(tracing, "/available_tracers", NULL);
        g_autofree char *tracers = NULL;
        if (root_read(root, rel, &tracers, NULL) < 0) {
                if (why)
                        *why = g_strdup_printf("%s cannot be read", rel);
                return NULL;
        }
        g_auto(GStrv) words = g_strsplit_set(g_strstrip(tracers), " \n", -1);
        if (!g_strv_contains((const char *const *) words, "timerlat")) {
                if (why)
                        *why = g_strdup("the kernel has no timerlat tracer (CONFIG_TIMERLAT_TRACER)");
                return NULL;
        }
        return tracing;
}

static int write_in(Timerlat *t, const char *dir, const char *file, const char *value) {
        g_autofree char *rel = g_build_filename(dir, file, NULL);
        return root_write(t->root, rel, value);
}

/* A global setting, its original saved by the writer first. */
static int write_global(Timerlat *t, const char *file, const char *value) {
        g_autofree char *rel = g_build_filename(t->tracing, file, NULL);
        int r = t->writer.write_saved(rel, value, t->writer.userdata);
        if (r >= 0)
                g_ptr_array_add(t->saved, g_steal_pointer(&rel));
        return r;
}

/* A crashed run's instance still runs the tracer: stopped, and removed where the
 * kernel lets it (a fake root's plain folder stays, and is used as it is). */
static void remove_instance(Timerlat *t) {
        if (!root_exists(t->root, t->instance))
                return;
        (void) write_in(t, t->instance, "current_tracer", "nop");
        (void) root_remove(t->root, t->instance);
}

int timerlat_open(const Root *root, const CpuMask *cpus, unsigned period_us, const TimerlatWriter *writer,
                  Timerlat **out, char **why) {
        g_autoptr(GError) e = NULL;
        Timerlat *t;
        int r;

        const char *tracing = timerlat_available(root, why);
        if (!tracing)
                return -EOPNOTSUPP;
        t = g_new0(Timerlat, 1);
        t->root = root;
        t->tracing = g_strdup(tracing);
        t->instance = g_build_filename(tracing, "instances", INSTANCE, NULL);
        t->writer = *writer;
        t->saved = g_ptr_array_new_with_free_func(g_free);
        t->fds = g_hash_table_new(g_direct_hash, g_direct_equal);

        g_autofree char *format_rel = g_build_filename(tracing, "events/ftrace/timerlat/format", NULL);
        g_autofree char *format = NULL;
        if ((r = root_read(root, format_rel, &format, NULL)) < 0 || (r = trace_format_parse(format, &t->format)) < 0 ||
            !trace_format_field(&t->format, "context") || !trace_format_field(&t->format, "timer_latency")) {
                *why = g_strdup_printf("%s cannot be read or is not the timerlat entry's layout", format_rel);
                timerlat_close(t);
                return r < 0 ? r : -EBADMSG;
        }
        remove_instance(t);
        g_autofree char *list = cpumask_format_list(cpus);
        g_autofree char *period = g_strdup_printf("%u", period_us);
        const char *step = "osnoise/cpus";
        if ((r = write_global(t, "osnoise/cpus", list)) < 0 ||
            (step = "osnoise/timerlat_period_us", r = write_global(t, "osnoise/timerlat_period_us", period)) < 0)
                goto fail;
        step = "instances/" INSTANCE;
        if ((r = root_mkdir(root, t->instance)) < 0 && r != -EEXIST)
                goto fail;
        step = "the instance's trace_clock (mono)";
        if ((r = write_in(t, t->instance, "trace_clock", "mono")) < 0)
                goto fail;
        step = "the instance's current_tracer (timerlat)";
        if ((r = write_in(t, t->instance, "current_tracer", "timerlat")) < 0)
                goto fail;
        CPUMASK_FOREACH(cpu, cpus) {
                g_autofree char *rel = g_strdup_printf("%s/per_cpu/cpu%d/trace_pipe_raw", t->instance, cpu);
                int fd = root_open_read(root, rel, O_NONBLOCK);
                if (fd >= 0)
                        g_hash_table_insert(t->fds, GINT_TO_POINTER(cpu + 1), GINT_TO_POINTER(fd + 1));
        }
        *out = t;
        return 0;
fail:
        *why = g_strdup_printf("%s cannot be written: %s", step, g_strerror(-r));
        timerlat_close(t);
        return r;
}

int timerlat_fd(const Timerlat *t, int cpu) {
        return GPOINTER_TO_INT(g_hash_table_lookup(t->fds, GINT_TO_POINTER(cpu + 1))) - 1;
}

const TraceFormat *timerlat_format(const Timerlat *t) {
        return &t->format;
}

void timerlat_close(Timerlat *t) {
        GHashTableIter i;
        gpointer fd;

        if (!t)
                return;
        g_hash_table_iter_init(&i, t->fds);
        while (g_hash_table_iter_next(&i, NULL, &fd))
                close(GPOINTER_TO_INT(fd) - 1);
        g_hash_table_unref(t->fds);
        remove_instance(t);
        /* The global settings back, the last written first. */
        for (guint n = t->saved->len; n > 0; n--)
                t->writer.restore(t->saved->pdata[n - 1], t->writer.userdata);
        g_ptr_array_unref(t->saved);
        g_free(t->instance);
        g_free(t->tracing);
        g_free(t);
}
