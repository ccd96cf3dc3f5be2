/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The timerlat source: the ring buffer's pages as trace_pipe_raw hands them, decoded
 * (and never trusted to fit), and the sampler fed by them on a fake root whose tracing
 * folder holds such pages, through the same code as on the real kernel. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kernel/sampler.h"
#include "kernel/timerlat.h"
#include "testlib.h"

#define TIMERLAT_ID 13
static const char *const format_text =
        "name: timerlat\n"
        "ID: 13\n"
        "format:\n"
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
        "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
        "\n"
        "\tfield:unsigned int seqnum;\toffset:8;\tsize:4;\tsigned:0;\n"
        "\tfield:int context;\toffset:12;\tsize:4;\tsigned:1;\n"
        "\tfield:u64 timer_latency;\toffset:16;\tsize:8;\tsigned:0;\n"
        "\n"
        "print fmt: \"seq %u context %d latency %llu\"\n";

/* A page as the kernel fills it. */
typedef struct Page {
        uint8_t bytes[4096];
        size_t at;
} Page;

static void put(Page *p, const void *data, size_t len) {
        ck_assert_uint_le(p->at + len, sizeof p->bytes);
        memcpy(p->bytes + p->at, data, len);
        p->at += len;
}

static void put_u32(Page *p, uint32_t v) {
        put(p, &v, sizeof v);
}

static void page_start(Page *p, uint64_t ts) {
        memset(p, 0, sizeof *p);
        put(p, &ts, sizeof ts);
        p->at = 16;
}

/* Sets the commit: the data's length and the lost-events flags. */
static void page_end(Page *p, uint64_t flags) {
        uint64_t commit = (p->at - 16) | flags;
        memcpy(p->bytes + 8, &commit, sizeof commit);
}

static void entry(uint8_t out[24], uint16_t id, int32_t pid, int32_t context, uint64_t latency) {
        memset(out, 0, 24);
        memcpy(out, &id, 2);
        memcpy(out + 4, &pid, 4);
        memcpy(out + 12, &context, 4);
        memcpy(out + 16, &latency, 8);
}

/* A data event of 24 bytes, its length in type_len (the kernel's form up to 112 bytes). */
static void put_sample(Page *p, uint32_t delta, int32_t pid, int32_t context, uint64_t latency) {
        uint8_t e[24];
        entry(e, TIMERLAT_ID, pid, context, latency);
        put_u32(p, (delta << 5) | 6);
        put(p, e, sizeof e);
}

/* The long form: type_len 0, the length (with its own 4 bytes) in the next word. */
static void put_sample_long(Page *p, uint32_t delta, int32_t pid, int32_t context, uint64_t latency) {
        uint8_t e[24];
        entry(e, TIMERLAT_ID, pid, context, latency);
        put_u32(p, delta << 5);
        put_u32(p, 24 + 4);
        put(p, e, sizeof e);
}

typedef struct Seen {
        TimerlatSample s[16];
        unsigned n;
} Seen;

static void on_sample(const TimerlatSample *s, void *userdata) {
        Seen *seen = userdata;
        ck_assert_uint_lt(seen->n, G_N_ELEMENTS(seen->s));
        seen->s[seen->n++] = *s;
}

static void parse_format(TraceFormat *f) {
        ck_assert_int_eq(trace_format_parse(format_text, f), 0);
        ck_assert_uint_eq(f->id, TIMERLAT_ID);
}

/* Every kind of event the ring holds: samples short and long, a time extend, another
 * tracer's entry stepped over, a discarded event's padding, and the page's end. */
START_TEST(test_page_decode) {
        TraceFormat f;
        Page p;
        Seen seen = { 0 };
        bool missed = true;
        uint8_t other[8] = { 99, 0 };

        parse_format(&f);
        page_start(&p, 1000000);
        put_sample(&p, 100, 0, 0, 900);                   /* IRQ, at 1000100 */
        put_sample(&p, 50, 4242, 1, 61000);               /* thread, at 1000150 */
        put_u32(&p, (5u << 5) | 30);                      /* time extend: 5 + (2 << 27) */
        put_u32(&p, 2);
        put_sample_long(&p, 7, 4242, 1, 1500);            /* at 1000150 + 5 + 2^28 + 7 */
        put_u32(&p, (3u << 5) | 2);                       /* another event of 8 bytes */
        put(&p, other, sizeof other);
        put_u32(&p, (1u << 5) | 29);                      /* padding of a discarded event */
        put_u32(&p, 12);
        put(&p, other, 8);
        page_end(&p, 0);

        ck_assert_int_eq(timerlat_page_decode(&f, p.bytes, sizeof p.bytes, on_sample, &seen, &missed), 3);
        ck_assert(!missed);
        ck_assert_uint_eq(seen.n, 3);
        ck_assert(!seen.s[0].thread);
        ck_assert_uint_eq(seen.s[0].at_ns, 1000100);
        ck_assert_uint_eq(seen.s[0].latency_ns, 900);
        ck_assert(seen.s[1].thread);
        ck_assert_uint_eq(seen.s[1].at_ns, 1000150);
        ck_assert_uint_eq(seen.s[1].latency_ns, 61000);
        ck_assert_int_eq(seen.s[1].pid, 4242);
        ck_assert_uint_eq(seen.s[2].at_ns, 1000150 + 5 + (UINT64_C(2) << 27) + 7);
        ck_assert_uint_eq(seen.s[2].latency_ns, 1500);
}
END_TEST

START_TEST(test_page_missed_and_padding_end) {
        TraceFormat f;
        Page p;
        Seen seen = { 0 };
        bool missed = false;

        parse_format(&f);
        page_start(&p, 5);
        put_sample(&p, 1, 7, 1, 10);
        put_u32(&p, 29); /* padding with no delta: the rest of the page */
        put_u32(&p, 0xffffffff);
        page_end(&p, UINT64_C(1) << 31);
        ck_assert_int_eq(timerlat_page_decode(&f, p.bytes, sizeof p.bytes, on_sample, &seen, &missed), 1);
        ck_assert(missed);
}
END_TEST

/* Lengths past the page, in the header or in an event: refused, nothing read past it. */
START_TEST(test_page_hostile) {
        TraceFormat f;
        Page p;
        Seen seen = { 0 };

        parse_format(&f);
        page_start(&p, 0);
        put_sample(&p, 1, 7, 1, 10);
        page_end(&p, 0);
        ck_assert_int_eq(timerlat_page_decode(&f, p.bytes, 16 + 20, on_sample, &seen, NULL), -EBADMSG);
        ck_assert_int_eq(timerlat_page_decode(&f, p.bytes, 8, on_sample, &seen, NULL), -EBADMSG);

        page_start(&p, 0);
        put_u32(&p, 0);          /* long form ... */
        put_u32(&p, 4000);       /* ... longer than the data */
        page_end(&p, 0);
        ck_assert_int_eq(timerlat_page_decode(&f, p.bytes, sizeof p.bytes, on_sample, &seen, NULL), -EBADMSG);

        page_start(&p, 0);
        put_u32(&p, 0);
        put_u32(&p, 2);          /* a length below its own word */
        page_end(&p, 0);
        ck_assert_int_eq(timerlat_page_decode(&f, p.bytes, sizeof p.bytes, on_sample, &seen, NULL), -EBADMSG);

        /* Random pages: whatever they hold, decoding stays inside them. */
        GRand *rand = g_rand_new_with_seed(23);
        for (int i = 0; i < 20000; i++) {
                size_t len = 16 + (size_t) g_rand_int_range(rand, 0, 256);
                for (size_t b = 0; b < len; b++)
                        p.bytes[b] = (uint8_t) g_rand_int(rand);
                uint64_t commit = (uint64_t) g_rand_int_range(rand, 0, (int) len);
                memcpy(p.bytes + 8, &commit, sizeof commit);
                seen.n = 0;
                (void) timerlat_page_decode(&f, p.bytes, len, on_sample, &seen, NULL);
        }
        g_rand_free(rand);
        ck_assert_int_eq(seen.n < G_N_ELEMENTS(seen.s), 1);
}
END_TEST

/* The test's writer: originals kept in a table, as the manager keeps them on disk. */
typedef struct Writer {
        Root *root;
        GHashTable *originals;
} Writer;

static int writer_write(const char *rel, const char *value, void *userdata) {
        Writer *w = userdata;
        char *now = NULL;
        if (!g_hash_table_contains(w->originals, rel) && root_read(w->root, rel, &now, NULL) >= 0)
                g_hash_table_insert(w->originals, g_strdup(rel), g_strchomp(now));
        return root_write(w->root, rel, value);
}

static void writer_restore(const char *rel, void *userdata) {
        Writer *w = userdata;
        const char *value = g_hash_table_lookup(w->originals, rel);
        if (value)
                ck_assert_int_eq(root_write(w->root, rel, value), 0);
        g_hash_table_remove(w->originals, rel);
}

static char *file_text(const char *dir, const char *rel) {
        g_autofree char *path = g_build_filename(dir, rel, NULL);
        char *text = NULL;
        ck_assert(g_file_get_contents(path, &text, NULL, NULL));
        return g_strchomp(text);
}

/* A fake root's tracing folder with a ring of two pages on CPU 1: the sampler reads
 * them into the statistics, the thread's latency apart from the IRQ's, a spike kept, and
 * the global settings go back as it stops. */
START_TEST(test_sampler_on_fake_tracefs) {
        g_autofree char *dir = fixture_tmpdir();
        const char *t = "sys/kernel/tracing";
        g_autofree char *instance = g_strdup_printf("%s/instances/isolatord", t);
        Page a, b;
        Sampler *s = NULL;
        g_autofree char *why = NULL;

        fixture_write(dir, "sys/kernel/tracing/available_tracers", "timerlat osnoise function nop\n");
        fixture_write(dir, "sys/kernel/tracing/events/ftrace/timerlat/format", format_text);
        fixture_write(dir, "sys/kernel/tracing/osnoise/cpus", "0-3\n");
        fixture_write(dir, "sys/kernel/tracing/osnoise/timerlat_period_us", "1000\n");
        g_autofree char *clock = g_strdup_printf("%s/trace_clock", instance);
        g_autofree char *tracer = g_strdup_printf("%s/current_tracer", instance);
        fixture_write(dir, clock, "[local] global mono\n");
        fixture_write(dir, tracer, "nop\n");

        page_start(&a, 1000);
        for (int i = 0; i < 5; i++) {
                put_sample(&a, 1000, 0, 0, 800 + (uint64_t) i);
                put_sample(&a, 10, 777, 1, 3000 + 1000 * (uint64_t) i); /* 3-7 us */
        }
        page_end(&a, 0);
        page_start(&b, 2000000);
        put_sample(&b, 0, 0, 0, 2500);
        put_sample(&b, 10, 777, 1, 95000); /* 95 us: over the threshold */
        page_end(&b, UINT64_C(1) << 31);
        g_autofree char *ring_rel = g_strdup_printf("%s/per_cpu/cpu1/trace_pipe_raw", instance);
        g_autofree char *ring = g_build_filename(dir, ring_rel, NULL);
        fixture_write(dir, ring_rel, "");
        GByteArray *both = g_byte_array_new();
        g_byte_array_append(both, a.bytes, sizeof a.bytes);
        g_byte_array_append(both, b.bytes, sizeof b.bytes);
        ck_assert(g_file_set_contents(ring, (const char *) both->data, both->len, NULL));
        g_byte_array_unref(both);

        g_autoptr(Root) root = root_new(dir);
        Writer w = { root, g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free) };
        SamplerOptions o = {
                .cpus = cs("1-2"), .host_online = cs("0-1"), .interval_us = 1000, .threshold_us = 50,
                .priority = 98, .hist_max_us = 100, .event_fd = -1, .root = root,
                .writer = { writer_write, writer_restore, &w },
        };
        ck_assert_msg(sampler_start_timerlat(&o, &s, &why) == 0, "%s", why);
        ck_assert_str_eq(sampler_source(s), "timerlat");
        g_autofree char *cpus = file_text(dir, "sys/kernel/tracing/osnoise/cpus");
        ck_assert_str_eq(cpus, "1-2");
        g_autofree char *tracer_now = file_text(dir, tracer);
        ck_assert_str_eq(tracer_now, "timerlat");
        g_autofree char *clock_now = file_text(dir, clock);
        ck_assert_str_eq(clock_now, "mono");

        /* The reader's round comes every 200 ms. */
        g_autoptr(GPtrArray) stats = NULL;
        for (int i = 0; i < 100; i++) {
                if (stats)
                        g_ptr_array_unref(stats);
                stats = sampler_stats(s);
                const LatencyStats *l = stats->pdata[0];
                if (l->samples == 6)
                        break;
                g_usleep(50000);
        }
        ck_assert_uint_eq(stats->len, 2);
        const LatencyStats *one = stats->pdata[0], *two = stats->pdata[1];
        ck_assert_int_eq(one->cpu, 1);
        ck_assert(one->measured);
        ck_assert_str_eq(one->source, "timerlat");
        ck_assert_uint_eq(one->samples, 6);
        ck_assert_uint_eq(one->irq_samples, 6);
        ck_assert_uint_eq(one->exceeded, 1);
        ck_assert_uint_eq(one->overflows, 0);
        ck_assert_uint_eq(one->overruns, 1); /* the second page says events were lost */
        ck_assert(one->max_us > 94.9 && one->max_us < 95.1);
        ck_assert(one->min_us > 2.9 && one->min_us < 3.1);
        ck_assert(one->irq_max_us > 2.4 && one->irq_max_us < 2.6);
        ck_assert_int_eq(one->tid, 777);
        ck_assert_int_eq(one->tgid, 777);
        ck_assert_int_eq(sampler_thread_id(s, 1), 777);
        ck_assert(!two->measured); /* CPU 2 has no ring here */

        SamplerSpike spikes[SAMPLER_SPIKES_KEPT];
        uint64_t seen = 0;
        ck_assert_uint_eq(sampler_spikes(s, 1, &seen, spikes), 1);
        ck_assert_uint_eq(spikes[0].at_ns, 2000000 + 10);
        ck_assert_uint_eq(spikes[0].latency_ns, 95000);

        s = sampler_stop(s);
        g_autofree char *cpus_after = file_text(dir, "sys/kernel/tracing/osnoise/cpus");
        ck_assert_str_eq(cpus_after, "0-3");
        g_autofree char *period_after = file_text(dir, "sys/kernel/tracing/osnoise/timerlat_period_us");
        ck_assert_str_eq(period_after, "1000");
        g_autofree char *tracer_after = file_text(dir, tracer);
        ck_assert_str_eq(tracer_after, "nop");
        ck_assert_uint_eq(g_hash_table_size(w.originals), 0);
        g_hash_table_unref(w.originals);
        fixture_remove(dir);
}
END_TEST

/* No tracer: said why, and nothing written. */
START_TEST(test_no_timerlat) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *why = NULL;
        Sampler *s = NULL;

        fixture_write(dir, "sys/kernel/tracing/available_tracers", "function nop\n");
        fixture_write(dir, "sys/kernel/tracing/events/sched/sched_switch/format", "ID: 1\n");
        g_autoptr(Root) root = root_new(dir);
        ck_assert_ptr_null(timerlat_available(root, &why));
        ck_assert_ptr_nonnull(strstr(why, "CONFIG_TIMERLAT_TRACER"));
        g_clear_pointer(&why, g_free);
        SamplerOptions o = { .cpus = cs("1"), .host_online = cs("0-1"), .interval_us = 1000, .hist_max_us = 10,
                             .event_fd = -1, .root = root };
        ck_assert_int_lt(sampler_start_timerlat(&o, &s, &why), 0);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(why);
        fixture_remove(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("timerlat");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_page_decode);
        tcase_add_test(tc, test_page_missed_and_padding_end);
        tcase_add_test(tc, test_page_hostile);
        tcase_add_test(tc, test_sampler_on_fake_tracefs);
        tcase_add_test(tc, test_no_timerlat);
        suite_add_tcase(s, tc);
        return test_run(s, (const char *const[]) { NULL });
}
