/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "kernel/sampler.h"

static void *sample_loop(void *p);
#define sample_loop_entry sample_loop
typedef struct SamplerCpu SamplerCpu;
static void record(SamplerCpu *c, uint64_t at_ns, uint64_t lat);

struct SamplerCpu {
        Sampler *owner;
        int cpu;
        bool started;
        char *not_measured;      /* why, when it is not */
        pthread_t thread;
        void *stack;             /* mapped by us, locked when memory is */
        _Atomic int tid;
        /* Written by the thread alone. */
        _Atomic uint64_t samples, overflows, overruns, exceeded, sum_ns, min_ns, max_ns, last_exceeded_us;
        _Atomic uint64_t irq_samples, irq_sum_ns, irq_max_ns; /* timerlat */
        _Atomic uint32_t *hist;
        unsigned reset_seen;
        uint64_t last_poke;      /* when the loop was last poked (ns) */
        bool priority_set;       /* timerlat: its thread made Priority= (or said why not) */
        /* The latest samples above the threshold, for attribution: slot n % SPIKES_KEPT,
         * written before spikes_written counts it. */
        struct {
                _Atomic uint64_t at_ns, latency_ns;
        } spikes[SAMPLER_SPIKES_KEPT];
        _Atomic uint64_t spikes_written;
};

struct Sampler {
        SamplerOptions o;
        GPtrArray *cpus;         /* SamplerCpu* */
        atomic_bool stop;
        atomic_uint reset_gen;
        int qos_fd;
        char *not_locked;        /* why memory is not locked, or NULL */
        uint64_t started_ns;
        Timerlat *timerlat;      /* the kernel's tracer measures, or NULL: the threads do */
        pthread_t reader;        /* timerlat: reads the rings */
        bool reader_started;
        int stop_fd;             /* timerlat: wakes the reader to stop */
        uint64_t bad_pages;      /* timerlat: pages that did not decode */
};

/* The sampler threads' stacks: the loop needs a few hundred bytes, libc's calls a few
 * KiB; a default 8 MiB stack is not needed and not locked. */
#define STACK_SIZE (64 * 1024)

/* Locks the pages of [p, p + len) in memory: what a sampler thread touches on every
 * wake-up must not fault. Only these, not mlockall(): that made every page of every
 * library resident (10 MB) for a few pages of statistics, stack and code. */
static int lock_range(const void *p, size_t len) {
        uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
        uintptr_t start = (uintptr_t) p & ~(page - 1);
        return mlock((const void *) start, ((uintptr_t) p + len - start + page - 1) & ~(page - 1)) < 0 ? -errno : 0;
}

/* The code the loop runs each wake-up: its own function and the libc calls it makes
 * (clock_gettime goes to the vDSO, which is always resident). Two pages from each entry
 * point cover a function that crosses a page. */
static int lock_code(void) {
        const void *entries[] = { (const void *) sample_loop_entry, (const void *) record, (const void *) clock_nanosleep,
                                  (const void *) clock_gettime, (const void *) write };
        for (size_t i = 0; i < G_N_ELEMENTS(entries); i++) {
                int r = lock_range(entries[i], 2 * (size_t) sysconf(_SC_PAGESIZE));
                if (r < 0)
                        return r;
        }
        return 0;
}

static uint64_t ts_ns(const struct timespec *t) {
        return (uint64_t) t->tv_sec * 1000000000u + (uint64_t) t->tv_nsec;
}

static void ts_add_ns(struct timespec *t, uint64_t ns) {
        uint64_t total = (uint64_t) t->tv_nsec + ns;
        t->tv_sec += (time_t) (total / 1000000000u);
        t->tv_nsec = (long) (total % 1000000000u);
}

static void zero_stats(SamplerCpu *c) {
        atomic_store_explicit(&c->samples, 0, memory_order_relaxed);
        atomic_store_explicit(&c->overflows, 0, memory_order_relaxed);
        atomic_store_explicit(&c->overruns, 0, memory_order_relaxed);
        atomic_store_explicit(&c->exceeded, 0, memory_order_relaxed);
        atomic_store_explicit(&c->sum_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&c->min_ns, UINT64_MAX, memory_order_relaxed);
        atomic_store_explicit(&c->max_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&c->last_exceeded_us, 0, memory_order_relaxed);
        atomic_store_explicit(&c->irq_samples, 0, memory_order_relaxed);
        atomic_store_explicit(&c->irq_sum_ns, 0, memory_order_relaxed);
        atomic_store_explicit(&c->irq_max_ns, 0, memory_order_relaxed);
        for (unsigned i = 0; i < c->owner->o.hist_max_us; i++)
                atomic_store_explicit(&c->hist[i], 0, memory_order_relaxed);
}

/* Single writer: a load and a store, no read-modify-write needed. */
#define BUMP(field, n) \
        atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n), memory_order_relaxed)

static void keep_spike(SamplerCpu *c, uint64_t at_ns, uint64_t latency_ns) {
        uint64_t n = atomic_load_explicit(&c->spikes_written, memory_order_relaxed);
        atomic_store_explicit(&c->spikes[n % SAMPLER_SPIKES_KEPT].at_ns, at_ns, memory_order_relaxed);
        atomic_store_explicit(&c->spikes[n % SAMPLER_SPIKES_KEPT].latency_ns, latency_ns, memory_order_relaxed);
        atomic_store_explicit(&c->spikes_written, n + 1, memory_order_release);
}

/* A reset asked for since the last sample: the statistics start again. */
static void reset_if_asked(SamplerCpu *c) {
        unsigned gen = atomic_load_explicit(&c->owner->reset_gen, memory_order_relaxed);
        if (gen != c->reset_seen) {
                zero_stats(c);
                c->reset_seen = gen;
        }
}

/* One wake-up lat ns late at at_ns, by the CPU's only writer. */
static void record(SamplerCpu *c, uint64_t at_ns, uint64_t lat) {
        Sampler *s = c->owner;
        uint64_t us = lat / 1000u;

        BUMP(c->samples, 1);
        BUMP(c->sum_ns, lat);
        if (lat < atomic_load_explicit(&c->min_ns, memory_order_relaxed))
                atomic_store_explicit(&c->min_ns, lat, memory_order_relaxed);
        if (lat > atomic_load_explicit(&c->max_ns, memory_order_relaxed))
                atomic_store_explicit(&c->max_ns, lat, memory_order_relaxed);
        if (us < s->o.hist_max_us)
                BUMP(c->hist[us], 1);
        else
                BUMP(c->overflows, 1);
        if (us > s->o.threshold_us) {
                uint64_t one = 1;
                BUMP(c->exceeded, 1);
                keep_spike(c, at_ns, lat);
                atomic_store_explicit(&c->last_exceeded_us, us, memory_order_relaxed);
                /* Wake the loop at most every 100 ms: it rate-limits the signal anyway. */
                if (at_ns - c->last_poke >= 100000000u) {
                        (void) !write(s->o.event_fd, &one, sizeof one);
                        c->last_poke = at_ns;
                }
        }
}

static void *sample_loop(void *p) {
        SamplerCpu *c = p;
        Sampler *s = c->owner;
        const uint64_t interval_ns = (uint64_t) s->o.interval_us * 1000u;
        struct timespec next, now;
        char name[16];

        g_snprintf(name, sizeof name, "iso-lat-%d", c->cpu);
        pthread_setname_np(pthread_self(), name);
        atomic_store(&c->tid, gettid());
        clock_gettime(CLOCK_MONOTONIC, &next);

        while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
                ts_add_ns(&next, interval_ns);
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                        ;
                clock_gettime(CLOCK_MONOTONIC, &now);

                reset_if_asked(c);
                uint64_t lat = ts_ns(&now) > ts_ns(&next) ? ts_ns(&now) - ts_ns(&next) : 0;
                record(c, ts_ns(&now), lat);
                /* A wake-up later than a whole period missed periods: count them and
                 * skip ahead, rather than firing late ones back to back. */
                if (lat >= interval_ns) {
                        uint64_t missed = lat / interval_ns;
                        BUMP(c->overruns, missed);
                        ts_add_ns(&next, missed * interval_ns);
                }
        }
        return NULL;
}

static Sampler *sampler_alloc(const SamplerOptions *o) {
        Sampler *s = g_new0(Sampler, 1);
        s->o = *o;
        s->o.hist_max_us = MAX(o->hist_max_us, 1u);
        s->cpus = g_ptr_array_new();
        s->qos_fd = -1;
        s->stop_fd = -1;
        s->started_ns = (uint64_t) g_get_monotonic_time() * 1000u;
        return s;
}

static SamplerCpu *cpu_new(Sampler *s, int cpu) {
        SamplerCpu *c = g_new0(SamplerCpu, 1);
        c->owner = s;
        c->cpu = cpu;
        c->hist = g_new0(_Atomic uint32_t, s->o.hist_max_us);
        g_ptr_array_add(s->cpus, c);
        zero_stats(c);
        return c;
}

static int start_thread(Sampler *s, SamplerCpu *c) {
        pthread_attr_t attr;
        cpu_set_t set;
        struct sched_param param = { .sched_priority = s->o.priority };
        int r;

        c->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (c->stack == MAP_FAILED) {
                c->stack = NULL;
                return -errno;
        }
        if (s->o.lock_memory && !s->not_locked && (r = lock_range(c->stack, STACK_SIZE)) < 0)
                s->not_locked = g_strdup_printf("its stack cannot be locked: %s", g_strerror(-r));
        pthread_attr_init(&attr);
        pthread_attr_setstack(&attr, c->stack, STACK_SIZE);
        CPU_ZERO(&set);
        CPU_SET(c->cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof set, &set);
        pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
        pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
        pthread_attr_setschedparam(&attr, &param);
        r = pthread_create(&c->thread, &attr, sample_loop, c);
        pthread_attr_destroy(&attr);
        return -r;
}

int sampler_start(const SamplerOptions *o, Sampler **out) {
        Sampler *s = sampler_alloc(o);

        if (o->lock_memory) {
                int r = lock_code();
                if (r < 0)
                        s->not_locked = g_strdup_printf("its code cannot be locked: %s", g_strerror(-r));
        } else
                s->not_locked = g_strdup("not asked to");
        if (o->pm_qos) {
                /* As cyclictest does: no deep C-states while we measure. */
                int32_t zero = 0;
                s->qos_fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
                if (s->qos_fd < 0 || write(s->qos_fd, &zero, sizeof zero) != sizeof zero)
                        log_warning_errno(errno, "cannot hold /dev/cpu_dma_latency at 0: %m");
        }
        CPUMASK_FOREACH(cpu, &o->cpus) {
                SamplerCpu *c = cpu_new(s, cpu);
                if (!s->not_locked) {
                        int r = lock_range(c, sizeof *c);
                        if (r >= 0)
                                r = lock_range((const void *) c->hist, s->o.hist_max_us * sizeof *c->hist);
                        if (r < 0)
                                s->not_locked = g_strdup_printf("its statistics cannot be locked: %s", g_strerror(-r));
                }
                /* The threads run on this machine's CPUs, whatever --root describes. */
                if (!cpumask_has(&o->host_online, cpu)) {
                        c->not_measured = g_strdup("this CPU does not exist on this machine");
                        continue;
                }
                int r = start_thread(s, c);
                if (r == -EINVAL) {
                        /* Under systemd: a cgroup whose cpuset isolatord itself confines to
                         * housekeeping (system.slice) keeps its threads off the audio CPUs. */
                        c->not_measured = g_strdup("isolatord may not run there: its cgroup's cpuset leaves the CPU "
                                                   "out (isolatord.service runs in isolatord.slice, outside the "
                                                   "slices it confines, for this)");
                        log_warning("CPU %d is not measured: %s", cpu, c->not_measured);
                        continue;
                }
                if (r < 0) {
                        c->not_measured = g_strdup_printf("no SCHED_FIFO thread could be started: %s", g_strerror(-r));
                        log_warning("CPU %d is not measured: %s", cpu, c->not_measured);
                        continue;
                }
                c->started = true;
        }
        if (s->not_locked && o->lock_memory)
                log_warning("the sampler's memory is not locked (%s): a page fault can add to what it measures",
                            s->not_locked);
        *out = s;
        return 0;
}

/* The tracer's rings are read this often: a spike is explained within it, and reading
 * wakes isolatord (on housekeeping) a few times a second, whatever the period. */
#define TIMERLAT_READ_MS 200
/* Pages read from one ring per round at most (a page holds about 130 samples): the rest
 * waits for the next round rather than keep the reader on one CPU's ring. */
#define TIMERLAT_PAGES_PER_ROUND 64

typedef struct TimerlatRound {
        Sampler *s;
        SamplerCpu *c;
} TimerlatRound;

/* The tracer's thread on a CPU runs at the sampler's priority, as the threads would. */
static void timerlat_priority(Sampler *s, SamplerCpu *c, int pid) {
        struct sched_param param = { .sched_priority = s->o.priority };
        c->priority_set = true;
        if (!root_is_host(s->o.root))
                return; /* a fake root's pid is nobody's here */
        if (sched_setscheduler(pid, SCHED_FIFO, &param) < 0)
                log_warning("the timerlat thread of CPU %d (pid %d) keeps its priority: SCHED_FIFO %d is refused: %m",
                            c->cpu, pid, s->o.priority);
}

static void timerlat_sample(const TimerlatSample *t, void *userdata) {
        TimerlatRound *round = userdata;
        SamplerCpu *c = round->c;

        if (!t->thread) {
                BUMP(c->irq_samples, 1);
                BUMP(c->irq_sum_ns, t->latency_ns);
                if (t->latency_ns > atomic_load_explicit(&c->irq_max_ns, memory_order_relaxed))
                        atomic_store_explicit(&c->irq_max_ns, t->latency_ns, memory_order_relaxed);
                return;
        }
        if (atomic_load_explicit(&c->tid, memory_order_relaxed) == 0 && t->pid > 0) {
                atomic_store(&c->tid, t->pid);
                if (!c->priority_set)
                        timerlat_priority(round->s, c, t->pid);
        }
        record(c, t->at_ns, t->latency_ns);
}

static void timerlat_read(Sampler *s, SamplerCpu *c, uint8_t *page, size_t size) {
        int fd = timerlat_fd(s->timerlat, c->cpu);
        TimerlatRound round = { s, c };

        reset_if_asked(c);
        for (int n = 0; fd >= 0 && n < TIMERLAT_PAGES_PER_ROUND; n++) {
                ssize_t got = read(fd, page, size);
                bool missed;
                if (got <= 0)
                        break; /* EAGAIN: nothing yet; 0: a fake root's file read to its end */
                if (timerlat_page_decode(timerlat_format(s->timerlat), page, (size_t) got, timerlat_sample, &round,
                                         &missed) < 0 &&
                    s->bad_pages++ == 0)
                        log_warning("a page of CPU %d's timerlat ring does not decode: skipped (said once)", c->cpu);
                if (missed)
                        BUMP(c->overruns, 1); /* the kernel lost samples: the ring was full */
        }
}

static void *timerlat_loop(void *p) {
        Sampler *s = p;
        size_t size = timerlat_page_size();
        g_autofree uint8_t *page = g_malloc(size);

        pthread_setname_np(pthread_self(), "iso-timerlat");
        while (!atomic_load(&s->stop)) {
                struct pollfd stop = { .fd = s->stop_fd, .events = POLLIN };
                if (poll(&stop, 1, TIMERLAT_READ_MS) > 0 || atomic_load(&s->stop))
                        break;
                for (unsigned i = 0; i < s->cpus->len; i++) {
                        SamplerCpu *c = s->cpus->pdata[i];
                        if (c->started)
                                timerlat_read(s, c, page, size);
                }
        }
        return NULL;
}

int sampler_start_timerlat(const SamplerOptions *o, Sampler **out, char **why) {
        Sampler *s = sampler_alloc(o);
        CpuMask cpus = { 0 };
        int r;

        /* The tracer runs on this machine's CPUs, whatever else the configuration names. */
        CPUMASK_FOREACH(cpu, &o->cpus)
                if (cpumask_has(&o->host_online, cpu) || !root_is_host(o->root))
                        cpumask_add(&cpus, (unsigned) cpu);
        s->not_locked = g_strdup("the kernel's tracer measures: nothing of isolatord's runs on the measured CPUs");
        r = timerlat_open(o->root, &cpus, o->interval_us, &o->writer, &s->timerlat, why);
        if (r < 0) {
                sampler_stop(s);
                return r;
        }
        CPUMASK_FOREACH(cpu, &o->cpus) {
                SamplerCpu *c = cpu_new(s, cpu);
                if (!cpumask_has(&cpus, (unsigned) cpu))
                        c->not_measured = g_strdup("this CPU does not exist on this machine");
                else if (timerlat_fd(s->timerlat, cpu) < 0)
                        c->not_measured = g_strdup("the tracer's ring of this CPU cannot be opened");
                else
                        c->started = true;
        }
        s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->stop_fd < 0 || (r = -pthread_create(&s->reader, NULL, timerlat_loop, s)) < 0) {
                r = s->stop_fd < 0 ? -errno : r;
                *why = g_strdup_printf("no thread to read the tracer's rings: %s", g_strerror(-r));
                sampler_stop(s);
                return r;
        }
        s->reader_started = true;
        *out = s;
        return 0;
}

const char *sampler_source(const Sampler *s) {
        return s->timerlat ? "timerlat" : "thread";
}

const char *sampler_memory_not_locked(const Sampler *s) {
        return s->not_locked;
}

Sampler *sampler_stop(Sampler *s) {
        if (!s)
                return NULL;
        atomic_store(&s->stop, true);
        if (s->reader_started) {
                uint64_t one = 1;
                (void) !write(s->stop_fd, &one, sizeof one);
                pthread_join(s->reader, NULL);
        }
        if (s->stop_fd >= 0)
                close(s->stop_fd);
        timerlat_close(s->timerlat);
        for (unsigned i = 0; i < s->cpus->len; i++) {
                SamplerCpu *c = s->cpus->pdata[i];
                if (c->started && !s->timerlat)
                        pthread_join(c->thread, NULL);
                if (c->stack)
                        munmap(c->stack, STACK_SIZE);
                g_free((void *) c->hist);
                g_free(c->not_measured);
                g_free(c);
        }
        g_ptr_array_unref(s->cpus);
        if (s->qos_fd >= 0)
                close(s->qos_fd); /* releases the PM QoS request */
        g_free(s->not_locked);
        g_free(s);
        return NULL;
}

void sampler_reset(Sampler *s) {
        atomic_fetch_add(&s->reset_gen, 1);
}

static SamplerCpu *cpu_of(Sampler *s, int cpu) {
        for (unsigned i = 0; i < s->cpus->len; i++) {
                SamplerCpu *c = s->cpus->pdata[i];
                if (c->cpu == cpu)
                        return c;
        }
        return NULL;
}

unsigned sampler_spikes(Sampler *s, int cpu, uint64_t *seen, SamplerSpike *out) {
        SamplerCpu *c = cpu_of(s, cpu);
        unsigned n = 0;

        if (!c)
                return 0;
        uint64_t written = atomic_load_explicit(&c->spikes_written, memory_order_acquire);
        uint64_t from = MAX(*seen, written > SAMPLER_SPIKES_KEPT ? written - SAMPLER_SPIKES_KEPT : 0);
        for (uint64_t i = from; i < written; i++) {
                out[n].at_ns = atomic_load_explicit(&c->spikes[i % SAMPLER_SPIKES_KEPT].at_ns, memory_order_relaxed);
                out[n].latency_ns = atomic_load_explicit(&c->spikes[i % SAMPLER_SPIKES_KEPT].latency_ns,
                                                         memory_order_relaxed);
                n++;
        }
        /* Slots the thread wrote again while they were read are dropped. */
        uint64_t now = atomic_load_explicit(&c->spikes_written, memory_order_acquire);
        if (now - from > SAMPLER_SPIKES_KEPT) {
                unsigned stale = (unsigned) MIN(now - from - SAMPLER_SPIKES_KEPT, (uint64_t) n);
                memmove(out, out + stale, (n - stale) * sizeof *out);
                n -= stale;
        }
        *seen = written;
        return n;
}

int sampler_thread_id(Sampler *s, int cpu) {
        for (unsigned i = 0; i < s->cpus->len; i++) {
                SamplerCpu *c = s->cpus->pdata[i];
                if (c->cpu == cpu && c->started)
                        return atomic_load(&c->tid);
        }
        return 0;
}

const SamplerOptions *sampler_options(const Sampler *s) {
        return &s->o;
}

uint64_t sampler_started_ns(const Sampler *s) {
        return s->started_ns;
}

double latency_percentile(const uint32_t *hist, unsigned nbuckets, uint64_t overflows, uint64_t total,
                          double max_us, double q) {
        uint64_t want, seen = 0;
        if (total == 0)
                return 0;
        want = (uint64_t) (q * (double) total + 0.999999);
        if (want == 0)
                want = 1;
        for (unsigned i = 0; i < nbuckets; i++) {
                seen += hist[i];
                if (seen >= want)
                        return i + 1; /* the bucket's upper bound, as cyclictest reads its histogram */
        }
        (void) overflows;
        return max_us;
}

uint64_t sampler_exceeded_total(Sampler *s) {
        uint64_t total = 0;
        for (unsigned i = 0; i < s->cpus->len; i++) {
                SamplerCpu *c = s->cpus->pdata[i];
                total += atomic_load_explicit(&c->exceeded, memory_order_relaxed);
        }
        return total;
}

void latency_stats_free(LatencyStats *l) {
        if (!l)
                return;
        g_free(l->histogram);
        g_free(l);
}

GPtrArray *sampler_stats(Sampler *s) {
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) latency_stats_free);
        for (unsigned i = 0; i < s->cpus->len; i++) {
                SamplerCpu *c = s->cpus->pdata[i];
                LatencyStats *l = g_new0(LatencyStats, 1);
                l->cpu = c->cpu;
                l->tid = c->started ? atomic_load(&c->tid) : 0;
                l->tgid = s->timerlat ? l->tid : getpid();
                l->own_wakeups_per_s = l->own_cpu_percent = -1;
                l->measured = c->started;
                l->memory_locked = c->started && !s->not_locked;
                l->source = sampler_source(s);
                l->irq_samples = atomic_load_explicit(&c->irq_samples, memory_order_relaxed);
                l->irq_max_us = atomic_load_explicit(&c->irq_max_ns, memory_order_relaxed) / 1e3;
                l->irq_avg_us = l->irq_samples
                                        ? atomic_load_explicit(&c->irq_sum_ns, memory_order_relaxed) / 1e3 /
                                                  (double) l->irq_samples
                                        : 0;
                l->hist_max_us = s->o.hist_max_us;
                l->histogram = g_new0(uint32_t, l->hist_max_us);
                for (unsigned b = 0; b < l->hist_max_us; b++)
                        l->histogram[b] = atomic_load_explicit(&c->hist[b], memory_order_relaxed);
                l->overflows = atomic_load_explicit(&c->overflows, memory_order_relaxed);
                /* Samples as the buckets show them, so the histogram always sums up. */
                for (unsigned b = 0; b < l->hist_max_us; b++)
                        l->samples += l->histogram[b];
                l->samples += l->overflows;
                l->overruns = atomic_load_explicit(&c->overruns, memory_order_relaxed);
                l->exceeded = atomic_load_explicit(&c->exceeded, memory_order_relaxed);
                l->last_exceeded_us = atomic_load_explicit(&c->last_exceeded_us, memory_order_relaxed);
                uint64_t n = atomic_load_explicit(&c->samples, memory_order_relaxed);
                uint64_t min = atomic_load_explicit(&c->min_ns, memory_order_relaxed);
                l->min_us = n && min != UINT64_MAX ? min / 1e3 : 0;
                l->max_us = atomic_load_explicit(&c->max_ns, memory_order_relaxed) / 1e3;
                l->avg_us = n ? atomic_load_explicit(&c->sum_ns, memory_order_relaxed) / 1e3 / (double) n : 0;
                l->p50_us = latency_percentile(l->histogram, l->hist_max_us, l->overflows, l->samples, l->max_us, 0.5);
                l->p99_us = latency_percentile(l->histogram, l->hist_max_us, l->overflows, l->samples, l->max_us, 0.99);
                l->p999_us = latency_percentile(l->histogram, l->hist_max_us, l->overflows, l->samples, l->max_us, 0.999);
                g_ptr_array_add(out, l);
        }
        return out;
}
