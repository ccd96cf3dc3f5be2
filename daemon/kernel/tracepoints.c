/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "kernel/tracefs.h"
#include "kernel/tracepoints.h"

/* Records are a few dozen bytes; one larger than this is skipped, not copied. */
#define RECORD_MAX 512
/* Per CPU: at most this much ring, at least this little. */
#define RING_MAX (256 * 1024)
#define RING_MIN (8 * 1024)

typedef struct CpuRing {
        int cpu;
        int fds[TRACE_POINTS_MAX];  /* per trace_points[] entry, -1 where not opened */
        void *base;
        size_t map_len;
} CpuRing;

struct Tracepoints {
        TraceDecoder *decoder;
        GArray *rings;            /* CpuRing */
        size_t page, data_size;
        char *missing;
        int poll_fd;              /* the caller's epoll, told of each ring's leader; none when not > 0 */
        uint8_t record[RECORD_MAX];
};

static int open_event(uint32_t id, int cpu, size_t watermark) {
        struct perf_event_attr a = {
                .type = PERF_TYPE_TRACEPOINT,
                .size = sizeof a,
                .config = id,
                .sample_period = 1,
                .sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW,
                .disabled = 1,
                /* The sampler's clock: a spike's time and the records' compare. */
                .use_clockid = 1,
                .clockid = CLOCK_MONOTONIC,
                /* Woken only when the ring is half full (a busy CPU's switches fill it in a
                 * second): the audio CPU raises one irq_work for it, no more. */
                .watermark = 1,
                .wakeup_watermark = (uint32_t) watermark,
        };
        long fd = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        return fd < 0 ? -errno : (int) fd;
}

/* Each tracepoint's format; the required ones must parse. */
static int load_formats(Tracepoints *t, const Root *root, const char *tracefs, char **why) {
        g_autoptr(GString) missing = g_string_new(NULL);

        for (size_t i = 0; i < trace_points_count; i++) {
                const TracePoint *p = &trace_points[i];
                g_autofree char *rel = g_strdup_printf("%s/events/%s/%s/format", tracefs, p->sys, p->name);
                g_autofree char *text = NULL;
                int r = root_read(root, rel, &text, NULL);
                if (r >= 0)
                        r = trace_decoder_add(t->decoder, i, text);
                if (r >= 0)
                        continue;
                if (p->required) {
                        *why = g_strdup_printf("the tracepoint %s:%s cannot be read: %s", p->sys, p->name, g_strerror(-r));
                        return r;
                }
                if (!strstr(missing->str, p->sys))
                        g_string_append_printf(missing, "%s%s", missing->len ? ", " : "", p->sys);
        }
        t->missing = missing->len ? g_strdup(missing->str) : NULL;
        return 0;
}

/* Room for every event of every CPU (16 a CPU): raised to the hard limit if needed. */
static void enough_files(unsigned needed) {
        struct rlimit l;
        if (getrlimit(RLIMIT_NOFILE, &l) < 0 || l.rlim_cur >= needed + 256)
                return;
        l.rlim_cur = MIN(l.rlim_max, (rlim_t) needed + 256);
        (void) setrlimit(RLIMIT_NOFILE, &l);
}

static void ring_close(CpuRing *r) {
        if (r->base)
                munmap(r->base, r->map_len);
        for (size_t i = 0; i < G_N_ELEMENTS(r->fds); i++)
                if (r->fds[i] >= 0)
                        close(r->fds[i]);
}

/* Every tracepoint the decoder has on one CPU, into the first one's ring. */
static int ring_open(Tracepoints *t, CpuRing *r, char **why) {
        int leader = -1;

        for (size_t i = 0; i < G_N_ELEMENTS(r->fds); i++)
                r->fds[i] = -1;
        for (size_t i = 0; i < trace_points_count; i++) {
                uint32_t id;
                if (!trace_decoder_has(t->decoder, i, &id))
                        continue;
                int fd = open_event(id, r->cpu, t->data_size / 2);
                if (fd < 0 && !trace_points[i].required) {
                        log_debug("%s:%s cannot be traced on CPU %d (%s): left out", trace_points[i].sys,
                                  trace_points[i].name, r->cpu, g_strerror(-fd));
                        continue;
                }
                if (fd < 0) {
                        *why = g_strdup_printf("perf_event_open of %s:%s on CPU %d refused: %s", trace_points[i].sys,
                                               trace_points[i].name, r->cpu, g_strerror(-fd));
                        return fd;
                }
                r->fds[i] = fd;
                if (leader < 0) {
                        leader = fd;
                        r->map_len = t->page + t->data_size;
                        r->base = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                        if (r->base == MAP_FAILED) {
                                int e = -errno;
                                r->base = NULL;
                                *why = g_strdup_printf("cannot map the trace ring of CPU %d: %s", r->cpu, g_strerror(-e));
                                return e;
                        }
                        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) r->cpu };
                        if (t->poll_fd > 0 && epoll_ctl(t->poll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                                int e = -errno;
                                *why = g_strdup_printf("cannot watch the trace ring of CPU %d: %s", r->cpu, g_strerror(-e));
                                return e;
                        }
                } else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, leader) < 0) {
                        int e = -errno;
                        *why = g_strdup_printf("cannot share the trace ring of CPU %d: %s", r->cpu, g_strerror(-e));
                        return e;
                }
        }
        return 0;
}

/* The largest power of two pages in the budget's share, within RING_MIN and RING_MAX. */
static size_t ring_size(size_t budget, unsigned ncpus, size_t page) {
        size_t share = CLAMP(budget / MAX(ncpus, 1u), (size_t) RING_MIN, (size_t) RING_MAX), size = page;
        while (size * 2 <= share)
                size *= 2;
        return size;
}

/* Debian's and Ubuntu's kernels add perf_event_paranoid levels above 2 at which
 * perf_event_open wants CAP_SYS_ADMIN, which CAP_PERFMON (all that the unit keeps) does
 * not satisfy: say what the administrator can do about it. */
static void paranoid_hint(const Root *root, char **why) {
        long level;
        if (root_read_int(root, "proc/sys/kernel/perf_event_paranoid", &level) < 0 || level <= 2)
                return;
        char *more = g_strdup_printf("%s (kernel.perf_event_paranoid is %ld, at which the kernel wants "
                                     "CAP_SYS_ADMIN: at 2, CAP_PERFMON suffices; then systemctl reload isolatord)",
                                     *why, level);
        g_free(*why);
        *why = more;
}

int tracepoints_open(const TracepointsOptions *o, Tracepoints **out, char **why) {
        g_autoptr(Tracepoints) t = g_new0(Tracepoints, 1);
        const char *tracefs = tracefs_find(o->root, true, why);
        int r;

        if (!tracefs)
                return -ENOENT;
        t->decoder = trace_decoder_new();
        t->rings = g_array_new(false, true, sizeof(CpuRing));
        t->page = (size_t) sysconf(_SC_PAGESIZE);
        t->poll_fd = o->poll_fd;
        t->data_size = ring_size(o->ring_budget, cpumask_count(&o->cpus), t->page);
        r = load_formats(t, o->root, tracefs, why);
        if (r < 0)
                return r;
        enough_files(cpumask_count(&o->cpus) * (unsigned) trace_points_count);
        CPUMASK_FOREACH(cpu, &o->cpus) {
                CpuRing ring = { .cpu = cpu };
                r = ring_open(t, &ring, why);
                g_array_append_val(t->rings, ring);
                if (r == -EACCES)
                        paranoid_hint(o->root, why);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < t->rings->len; i++) {
                CpuRing *ring = &g_array_index(t->rings, CpuRing, i);
                for (size_t k = 0; k < G_N_ELEMENTS(ring->fds); k++)
                        if (ring->fds[k] >= 0)
                                ioctl(ring->fds[k], PERF_EVENT_IOC_ENABLE, 0);
        }
        *out = g_steal_pointer(&t);
        return 0;
}

void tracepoints_free(Tracepoints *t) {
        if (!t)
                return;
        for (unsigned i = 0; t->rings && i < t->rings->len; i++)
                ring_close(&g_array_index(t->rings, CpuRing, i));
        if (t->rings)
                g_array_unref(t->rings);
        trace_decoder_free(t->decoder);
        g_free(t->missing);
        g_free(t);
}

/* n bytes at position pos of a ring of size bytes (a power of two), across its end. */
static void ring_copy(const uint8_t *data, size_t size, uint64_t pos, void *out, size_t n) {
        size_t at = (size_t) (pos & (size - 1)), first = MIN(n, size - at);
        memcpy(out, data + at, first);
        memcpy((uint8_t *) out + first, data, n - first);
}

static size_t drain_ring(Tracepoints *t, CpuRing *r, const TraceSinks *sinks) {
        struct perf_event_mmap_page *meta = r->base;
        const uint8_t *data = (const uint8_t *) r->base + t->page;
        uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE), tail = meta->data_tail;
        size_t n = 0;

        if (head - tail > t->data_size)
                tail = head - t->data_size; /* cannot be: start where the ring's data begins */
        while (tail < head) {
                struct perf_event_header h;
                ring_copy(data, t->data_size, tail, &h, sizeof h);
                if (h.size < sizeof h || h.size > head - tail)
                        break; /* not a record: skip what is left */
                size_t body = h.size - sizeof h;
                if (h.type == PERF_RECORD_SAMPLE && body <= sizeof t->record) {
                        TraceRecord rec;
                        ring_copy(data, t->data_size, tail + sizeof h, t->record, body);
                        if (trace_decode_sample(t->decoder, t->record, body, &rec)) {
                                rec.cpu = (uint32_t) r->cpu;
                                sinks->record(&rec, sinks->userdata);
                                n++;
                        }
                } else if (h.type == PERF_RECORD_LOST && body >= 16) {
                        uint64_t lost[2];
                        ring_copy(data, t->data_size, tail + sizeof h, lost, sizeof lost);
                        if (sinks->lost)
                                sinks->lost(r->cpu, lost[1], sinks->userdata);
                }
                tail += h.size;
        }
        __atomic_store_n(&meta->data_tail, head, __ATOMIC_RELEASE);
        return n;
}

size_t tracepoints_drain(Tracepoints *t, const TraceSinks *sinks) {
        size_t n = 0;
        for (unsigned i = 0; i < t->rings->len; i++)
                n += drain_ring(t, &g_array_index(t->rings, CpuRing, i), sinks);
        return n;
}

static CpuRing *ring_of(Tracepoints *t, int cpu) {
        for (unsigned i = 0; i < t->rings->len; i++)
                if (g_array_index(t->rings, CpuRing, i).cpu == cpu)
                        return &g_array_index(t->rings, CpuRing, i);
        return NULL;
}

size_t tracepoints_drain_cpu(Tracepoints *t, int cpu, const TraceSinks *sinks) {
        CpuRing *r = ring_of(t, cpu);
        return r ? drain_ring(t, r, sinks) : 0;
}

void tracepoints_quiet(Tracepoints *t, int cpu, pid_t tid) {
        CpuRing *r = ring_of(t, cpu);
        g_autofree char *filter = NULL;
        int fd = -1;

        for (size_t i = 0; r && i < trace_points_count; i++)
                if (trace_points[i].kind == TRACE_SWITCH)
                        fd = r->fds[i];
        if (fd < 0)
                return;
        filter = tid > 0 ? g_strdup_printf("(prev_pid != 0 || next_pid != %d) && (prev_pid != %d || next_pid != 0)", tid, tid)
                         : g_strdup("prev_pid != -1");
        if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0)
                log_debug_errno(errno, "cannot filter CPU %d's switches (%m): the sampler's own stay in its ring", cpu);
}

const char *tracepoints_missing(const Tracepoints *t) {
        return t->missing;
}

size_t tracepoints_ring_size(const Tracepoints *t) {
        return t->data_size;
}
