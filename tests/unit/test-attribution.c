/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Attribution on tracepoint-shaped input: the tracefs format parser (the kernel's own
 * texts, and hostile ones), records built from the parsed offsets as the kernel lays
 * them out in a perf sample, decoded and folded through the same code as the real
 * source, and the window logic that ranks a spike's causes. */
#include <string.h>

#include "causes.h"
#include "kernel/attribution.h"
#include "kernel/irq.h"
#include "kernel/trace-format.h"
#include "kernel/trace-record.h"
#include "testlib.h"

#define COMMON_FIELDS                                                                      \
        "format:\n"                                                                        \
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"             \
        "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"             \
        "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"     \
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"

/* As Linux 6.x writes them (events/SYS/NAME/format). */
static const char *const formats[] = {
        "name: irq_handler_entry\nID: 225\n" COMMON_FIELDS
        "\tfield:int irq;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield:__data_loc char[] name;\toffset:12;\tsize:4;\tsigned:0;\n\n"
        "print fmt: \"irq=%d name=%s\", REC->irq, __get_str(name)\n",
        "name: irq_handler_exit\nID: 224\n" COMMON_FIELDS
        "\tfield:int irq;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield:int ret;\toffset:12;\tsize:4;\tsigned:1;\n",
        "name: softirq_entry\nID: 223\n" COMMON_FIELDS "\tfield:unsigned int vec;\toffset:8;\tsize:4;\tsigned:0;\n",
        "name: softirq_exit\nID: 222\n" COMMON_FIELDS "\tfield:unsigned int vec;\toffset:8;\tsize:4;\tsigned:0;\n",
        "name: sched_switch\nID: 372\n" COMMON_FIELDS
        "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
        "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
        "\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n"
        "\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n"
        "\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n"
        "\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n"
        "\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n",
        "name: local_timer_entry\nID: 165\n" COMMON_FIELDS "\tfield:int vector;\toffset:8;\tsize:4;\tsigned:1;\n",
        "name: local_timer_exit\nID: 164\n" COMMON_FIELDS "\tfield:int vector;\toffset:8;\tsize:4;\tsigned:1;\n",
        NULL, NULL, NULL, NULL, NULL, NULL, /* the other vectors: this kernel has none */
        "name: nmi_handler\nID: 170\n" COMMON_FIELDS
        "\tfield:void * handler;\toffset:8;\tsize:8;\tsigned:0;\n"
        "\tfield:s64 delta_ns;\toffset:16;\tsize:8;\tsigned:1;\n"
        "\tfield:int handled;\toffset:24;\tsize:4;\tsigned:1;\n",
};

/* The index of a tracepoint in trace_points[] (and formats[]). */
static size_t point(const char *name) {
        for (size_t i = 0; i < trace_points_count; i++)
                if (g_str_equal(trace_points[i].name, name))
                        return i;
        ck_abort_msg("no tracepoint %s", name);
        return 0;
}
#define NMI point("nmi_handler")

static TraceDecoder *decoder(void) {
        TraceDecoder *d = trace_decoder_new();
        ck_assert_uint_eq(G_N_ELEMENTS(formats), trace_points_count);
        for (size_t i = 0; i < trace_points_count; i++)
                if (formats[i])
                        ck_assert_int_eq(trace_decoder_add(d, i, formats[i]), 0);
        return d;
}

START_TEST(test_format_parse) {
        TraceFormat f;
        ck_assert_int_eq(trace_format_parse(formats[0], &f), 0);
        ck_assert_uint_eq(f.id, 225);
        ck_assert_uint_eq(f.nfields, 6);
        const TraceField *irq = trace_format_field(&f, "irq"), *name = trace_format_field(&f, "name");
        ck_assert(irq && irq->offset == 8 && irq->size == 4 && irq->is_signed && !irq->data_loc);
        ck_assert(name && name->offset == 12 && name->size == 4 && name->data_loc);
        ck_assert_ptr_null(trace_format_field(&f, "REC"));

        ck_assert_int_eq(trace_format_parse(formats[4], &f), 0);
        const TraceField *comm = trace_format_field(&f, "next_comm");
        ck_assert(comm && comm->offset == 40 && comm->size == 16);
        ck_assert(trace_format_field(&f, "prev_state")->size == 8);
}
END_TEST

START_TEST(test_format_hostile) {
        TraceFormat f;
        /* No ID, a bad ID, a field past any record, a declaration without a name or
         * semicolon, a name longer than a field name may be, garbage. */
        ck_assert_int_eq(trace_format_parse("name: x\nformat:\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: -3\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 99999999999\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 1\n\tfield:int x;\toffset:4090;\tsize:8;\tsigned:1;\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 1\n\tfield:int x;\toffset:99999999999999999;\tsize:4;\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 1\n\tfield:int x\toffset:0;\tsize:4;\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 1\n\tfield:int ;\toffset:0;\tsize:4;\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 1\n\tfield:int x[;\toffset:0;\tsize:4;\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 1\n\tfield:int x;\toffset:0;\tsize:0;\n", &f), -EBADMSG);
        ck_assert_int_eq(trace_format_parse("ID: 1\n\tfield:int "
                                            "a_name_longer_than_thirty_two_characters;\toffset:0;\tsize:4;\n", &f),
                         -EBADMSG);
        ck_assert_int_eq(trace_format_parse("\x01\x02\xff field: ID:", &f), -EBADMSG);
        /* Without "signed:" (kernels before 2.6.32): unsigned. */
        ck_assert_int_eq(trace_format_parse("ID: 7\n\tfield:int x;\toffset:0;\tsize:4;\n", &f), 0);
        ck_assert(!f.fields[0].is_signed);
        /* More fields than kept: the first TRACE_FIELDS_MAX. */
        g_autoptr(GString) many = g_string_new("ID: 2\n");
        for (int i = 0; i < 40; i++)
                g_string_append_printf(many, "\tfield:int f%d;\toffset:%d;\tsize:4;\tsigned:1;\n", i, i * 4);
        ck_assert_int_eq(trace_format_parse(many->str, &f), 0);
        ck_assert_uint_eq(f.nfields, TRACE_FIELDS_MAX);
        /* A decoder refuses a format that lacks a field it reads. */
        g_autoptr(TraceDecoder) d = trace_decoder_new();
        ck_assert_int_eq(trace_decoder_add(d, 0, "ID: 225\n" COMMON_FIELDS "\tfield:int irq;\toffset:8;\tsize:4;\n"),
                         -EBADMSG);
        ck_assert(!trace_decoder_has(d, 0, NULL));
}
END_TEST

START_TEST(test_field_bounds) {
        TraceFormat f;
        uint8_t raw[16] = { 0 };
        char buf[16];
        int64_t v;

        ck_assert_int_eq(trace_format_parse(formats[0], &f), 0);
        const TraceField *irq = trace_format_field(&f, "irq"), *name = trace_format_field(&f, "name");
        raw[8] = 0xff; raw[9] = 0xff; raw[10] = 0xff; raw[11] = 0xff;
        ck_assert(trace_field_int(irq, raw, sizeof raw, &v) && v == -1);
        ck_assert(!trace_field_int(irq, raw, 11, &v));  /* the record ends inside the field */
        ck_assert(!trace_field_int(name, raw, sizeof raw, &v)); /* a string is not an int */
        /* __data_loc pointing past the record, then at 3 bytes inside it. */
        uint32_t loc = (200u << 16) | 12u;
        memcpy(raw + 12, &loc, 4);
        ck_assert(!trace_field_str(name, raw, sizeof raw, buf, sizeof buf));
        loc = (3u << 16) | 4u;
        memcpy(raw + 12, &loc, 4);
        memcpy(raw + 4, "abc", 3);
        ck_assert(trace_field_str(name, raw, sizeof raw, buf, sizeof buf));
        ck_assert_str_eq(buf, "abc");
        /* Cut to the buffer. */
        ck_assert(trace_field_str(name, raw, sizeof raw, buf, 2));
        ck_assert_str_eq(buf, "a");
}
END_TEST

/* --- records as the kernel lays them out, from the parsed offsets --- */

typedef struct Builder {
        const TraceDecoder *d;
        TraceFormat format;
        uint8_t raw[128];
        size_t len;
} Builder;

static void put(Builder *b, const char *field, const void *value, size_t size) {
        const TraceField *f = trace_format_field(&b->format, field);
        ck_assert_msg(f && f->offset + size <= sizeof b->raw, "field %s", field);
        memcpy(b->raw + f->offset, value, MIN(size, f->size));
        b->len = MAX(b->len, (size_t) f->offset + f->size);
}

static void put_int(Builder *b, const char *field, int64_t v) {
        const TraceField *f = trace_format_field(&b->format, field);
        ck_assert_msg(f, "field %s", field);
        put(b, field, &v, f->size); /* little-endian: the low bytes first */
}

static void start(Builder *b, size_t index) {
        memset(b->raw, 0, sizeof b->raw);
        b->len = 0;
        ck_assert_int_eq(trace_format_parse(formats[index], &b->format), 0);
        put_int(b, "common_type", b->format.id);
}

/* The sample body of TID | TIME | CPU | RAW around the raw record, decoded. */
static TraceRecord sample(Builder *b, uint64_t t_us, uint32_t cpu, uint32_t pid) {
        uint8_t body[256];
        uint32_t tid_pid[2] = { pid, pid }, cpu_res[2] = { cpu, 0 }, raw_size = (uint32_t) b->len;
        uint64_t t = t_us * 1000;
        size_t n = 0;
        TraceRecord r;

        memcpy(body + n, tid_pid, 8), n += 8;
        memcpy(body + n, &t, 8), n += 8;
        memcpy(body + n, cpu_res, 8), n += 8;
        memcpy(body + n, &raw_size, 4), n += 4;
        memcpy(body + n, b->raw, b->len), n += b->len;
        ck_assert(trace_decode_sample(b->d, body, n, &r));
        /* A sample cut anywhere is refused, never read past. */
        for (size_t cut = 0; cut < n; cut++) {
                TraceRecord shorter;
                ck_assert(!trace_decode_sample(b->d, body, cut, &shorter));
        }
        return r;
}

static TraceRecord irq_entry(Builder *b, uint64_t t, uint32_t cpu, int irq, const char *name) {
        start(b, 0);
        put_int(b, "irq", irq);
        uint32_t loc = ((uint32_t) strlen(name) + 1) << 16 | 24u;
        put(b, "name", &loc, 4);
        memcpy(b->raw + 24, name, strlen(name) + 1);
        b->len = 24 + strlen(name) + 1;
        return sample(b, t, cpu, 0);
}

static TraceRecord simple(Builder *b, size_t index, const char *field, int64_t v, uint64_t t, uint32_t cpu) {
        start(b, index);
        if (field)
                put_int(b, field, v);
        return sample(b, t, cpu, 0);
}

static TraceRecord switch_rec(Builder *b, uint64_t t, uint32_t cpu, const char *prev, int prev_pid, int prev_prio,
                              const char *next, int next_pid, int next_prio) {
        start(b, 4);
        put(b, "prev_comm", prev, strlen(prev) + 1);
        put_int(b, "prev_pid", prev_pid);
        put_int(b, "prev_prio", prev_prio);
        put(b, "next_comm", next, strlen(next) + 1);
        put_int(b, "next_pid", next_pid);
        put_int(b, "next_prio", next_prio);
        return sample(b, t, cpu, (uint32_t) prev_pid);
}

START_TEST(test_decode) {
        g_autoptr(TraceDecoder) d = decoder();
        Builder b = { .d = d };

        TraceRecord r = irq_entry(&b, 10, 3, 56, "xhci_hcd");
        ck_assert(r.kind == TRACE_IRQ_ENTRY && r.id == 56 && r.cpu == 3 && r.time_ns == 10000);
        ck_assert_str_eq(r.name, "xhci_hcd");
        r = simple(&b, 2, "vec", 3, 11, 3);
        ck_assert(r.kind == TRACE_SOFTIRQ_ENTRY && r.id == 3);
        ck_assert_str_eq(trace_softirq_name(r.id), "NET_RX");
        r = simple(&b, 5, "vector", 236, 12, 3);
        ck_assert(r.kind == TRACE_VECTOR_ENTRY && r.id == TRACE_VECTOR_LOCAL_TIMER);
        r = simple(&b, NMI, "delta_ns", 4000, 13, 3);
        ck_assert(r.kind == TRACE_NMI && r.duration_ns == 4000);
        r = switch_rec(&b, 14, 3, "kworker/3:1", 77, 120, "hqplayerd", 900, 0);
        ck_assert(r.kind == TRACE_SWITCH && r.prev.pid == 77 && r.next.pid == 900 && r.next.prio == 0 && r.tgid == 77);
        ck_assert_str_eq(r.prev.comm, "kworker/3:1");
        ck_assert_str_eq(r.next.comm, "hqplayerd");
        /* A record of an id the decoder does not know. */
        start(&b, 5);
        put_int(&b, "common_type", 9999);
        uint8_t body[64] = { 0 };
        uint32_t size = (uint32_t) b.len;
        memcpy(body + 24, &size, 4);
        memcpy(body + 28, b.raw, b.len);
        ck_assert(!trace_decode_sample(d, body, 28 + b.len, &r));
}
END_TEST

/* CPU 3's timeline, in microseconds:
 *   0      idle -> kworker/3:1 (pid 77, prio 120)
 *   100    IRQ 56 xhci_hcd enters; 130 exits (30 us)
 *   130    softirq NET_RX enters; 140 IRQ 57 nvme0q3 enters inside it; 150 exits (10 us);
 *          190 NET_RX exits (60 gross, 50 net)
 *   400    kworker -> iso-lat-3 (the sampler, pid 500): kworker ran 400 us, 310 net
 *   410    iso-lat-3 -> idle; the sampler woke at 410 for a timer due at 60: 350 us late
 */
static void feed_timeline(Attribution *a, Builder *b) {
        TraceRecord rs[] = {
                switch_rec(b, 0, 3, "swapper/3", 0, 120, "kworker/3:1", 77, 120),
                irq_entry(b, 100, 3, 56, "xhci_hcd"),
                simple(b, 1, "irq", 56, 130, 3),
                simple(b, 2, "vec", 3, 130, 3),
                irq_entry(b, 140, 3, 57, "nvme0q3"),
                simple(b, 1, "irq", 57, 150, 3),
                simple(b, 3, "vec", 3, 190, 3),
                switch_rec(b, 400, 3, "kworker/3:1", 77, 120, "iso-lat-3", 500, 1),
                switch_rec(b, 410, 3, "iso-lat-3", 500, 1, "swapper/3", 0, 120),
        };
        for (size_t i = 0; i < G_N_ELEMENTS(rs); i++)
                attribution_feed(a, &rs[i]);
}

START_TEST(test_window_ranking) {
        g_autoptr(TraceDecoder) d = decoder();
        Builder b = { .d = d };
        CpuMask cpus = cs("2-3");
        Attribution *a = attribution_new(&cpus, 64);
        Explanation e;

        attribution_set_measurer(a, 3, 500);
        feed_timeline(a, &b);
        /* The spike: woke at 410 us, 350 us late, 10 us margin: the window is [50, 410]. */
        ck_assert(attribution_explain(a, 3, 410000, 350000, 10000, &e));
        ck_assert_uint_eq(e.ncauses, 4);
        ck_assert(!e.partial);
        /* The kworker: 0-400 less the 90 us of interrupts inside it = 310 us net, kept as
         * one occurrence from its start, [0, 310]: [50, 310] of it in the window. */
        ck_assert_int_eq(e.causes[0].kind, CAUSE_THREAD);
        ck_assert_uint_eq(e.causes[0].id, 77);
        ck_assert_int_eq(e.causes[0].tgid, 77);
        ck_assert_int_eq(e.causes[0].prio, 120);
        ck_assert_str_eq(e.causes[0].name, "kworker/3:1");
        ck_assert_uint_eq(e.causes[0].time_ns, 260000);
        ck_assert(!e.causes[0].running); /* it switched out: its prio is from then */
        /* NET_RX: 60 us gross less the nested IRQ 57's 10 = 50 net; then IRQ 56: 30; IRQ 57: 10. */
        ck_assert(e.causes[1].kind == CAUSE_SOFTIRQ && e.causes[1].id == 3 && e.causes[1].time_ns == 50000);
        ck_assert(e.causes[2].kind == CAUSE_IRQ && e.causes[2].id == 56 && e.causes[2].time_ns == 30000);
        ck_assert_str_eq(e.causes[2].name, "xhci_hcd");
        ck_assert(e.causes[3].kind == CAUSE_IRQ && e.causes[3].id == 57 && e.causes[3].time_ns == 10000);
        ck_assert_uint_eq(e.traced_ns, 350000);
        /* The measurer and idle are never causes. */
        for (unsigned i = 0; i < e.ncauses; i++)
                ck_assert(!(e.causes[i].kind == CAUSE_THREAD && (e.causes[i].id == 500 || e.causes[i].id == 0)));

        /* A narrow window [135, 145] holds the softirq and the IRQ inside it. */
        ck_assert(attribution_explain(a, 3, 145000, 10000, 0, &e));
        ck_assert_uint_eq(e.ncauses, 3);
        /* A window before anything: nothing. A CPU not watched: false. */
        ck_assert(attribution_explain(a, 2, 410000, 350000, 0, &e) && e.ncauses == 0);
        ck_assert(!attribution_explain(a, 5, 410000, 350000, 0, &e));
        attribution_free(a);

        /* A thread still on the CPU when its window ends: its prio is its switch-in's,
         * and the cause says so (the report reads what it has now). */
        Attribution *still = attribution_new(&cpus, 64);
        TraceRecord in = switch_rec(&b, 0, 3, "swapper/3", 0, 120, "why-hog", 88, 120);
        attribution_feed(still, &in);
        ck_assert(attribution_explain(still, 3, 300000, 200000, 0, &e));
        ck_assert_uint_eq(e.ncauses, 1);
        ck_assert(e.causes[0].id == 88 && e.causes[0].running && e.causes[0].time_ns == 200000);
        attribution_free(still);
}
END_TEST

START_TEST(test_window_ties_open_nmi) {
        g_autoptr(TraceDecoder) d = decoder();
        Builder b = { .d = d };
        CpuMask cpus = cs("1");
        Attribution *a = attribution_new(&cpus, 64);
        Explanation e;

        /* Two IRQs of 20 us each: IRQ 9 twice (10 + 10), IRQ 8 once: equal time, the
         * one that came more often first. */
        TraceRecord rs[] = {
                irq_entry(&b, 100, 1, 8, "acpi"), simple(&b, 1, "irq", 8, 120, 1),
                irq_entry(&b, 130, 1, 9, "i8042"), simple(&b, 1, "irq", 9, 140, 1),
                irq_entry(&b, 150, 1, 9, "i8042"), simple(&b, 1, "irq", 9, 160, 1),
                /* An NMI of 4 us reported at 170. */
                simple(&b, NMI, "delta_ns", 4000, 170, 1),
                /* The local timer entered at 181 and still running at the spike's end. */
                simple(&b, 5, "vector", 236, 181, 1),
                /* An exit whose entry was lost changes nothing. */
                simple(&b, 1, "irq", 77, 185, 1),
        };
        for (size_t i = 0; i < G_N_ELEMENTS(rs); i++)
                attribution_feed(a, &rs[i]);
        ck_assert(attribution_explain(a, 1, 200000, 100000, 0, &e));
        ck_assert_uint_eq(e.ncauses, 4);
        ck_assert(e.causes[0].kind == CAUSE_IRQ && e.causes[0].id == 9 && e.causes[0].count == 2);
        ck_assert(e.causes[1].kind == CAUSE_IRQ && e.causes[1].id == 8 && e.causes[1].count == 1);
        ck_assert(e.causes[2].kind == CAUSE_VECTOR && e.causes[2].id == TRACE_VECTOR_LOCAL_TIMER &&
                  e.causes[2].time_ns == 19000);
        ck_assert(e.causes[3].kind == CAUSE_NMI && e.causes[3].time_ns == 4000);

        /* Lost records: what was open is forgotten, and a window after the last record
         * read (185 us) is partial. */
        attribution_lost(a, 1, 5);
        ck_assert(attribution_explain(a, 1, 200000, 10000, 0, &e));
        ck_assert_uint_eq(e.ncauses, 0);
        ck_assert(e.partial);
        CpuActivity act;
        ck_assert(attribution_take_activity(a, 1, &act));
        ck_assert_uint_eq(act.lost, 5);
        NoiseCpu *noise = noise_from_activity(1, &act, 2.0, true); /* GetNoise's "lost": per second */
        ck_assert(noise->lost == 2.5);
        noise_cpu_free(noise);
        /* The next record (300 us) closes the gap: a window after it is whole, one over it
         * partial. */
        TraceRecord after[] = { irq_entry(&b, 300, 1, 8, "acpi"), simple(&b, 1, "irq", 8, 310, 1) };
        for (size_t i = 0; i < G_N_ELEMENTS(after); i++)
                attribution_feed(a, &after[i]);
        ck_assert(attribution_explain(a, 1, 320000, 20000, 0, &e));
        ck_assert(!e.partial && e.ncauses == 1 && e.causes[0].time_ns == 10000);
        ck_assert(attribution_explain(a, 1, 320000, 150000, 0, &e));
        ck_assert(e.partial);
        attribution_free(a);
}
END_TEST

START_TEST(test_ring_bounded_partial) {
        g_autoptr(TraceDecoder) d = decoder();
        Builder b = { .d = d };
        CpuMask cpus = cs("4");
        Attribution *a = attribution_new(&cpus, 8);
        Explanation e;

        /* 20 IRQs of 5 us every 10 us: the ring keeps the last 8 (from 120 us on). */
        for (uint64_t i = 0; i < 20; i++) {
                TraceRecord in = irq_entry(&b, i * 10, 4, 30, "eth0"), out = simple(&b, 1, "irq", 30, i * 10 + 5, 4);
                attribution_feed(a, &in);
                attribution_feed(a, &out);
        }
        /* A window within what is kept is whole; one reaching back before it is partial. */
        ck_assert(attribution_explain(a, 4, 200000, 50000, 0, &e));
        ck_assert(!e.partial && e.causes[0].count == 5 && e.causes[0].time_ns == 25000);
        ck_assert(attribution_explain(a, 4, 200000, 150000, 0, &e));
        ck_assert(e.partial && e.causes[0].count == 8);
        attribution_free(a);
}
END_TEST

START_TEST(test_activity) {
        g_autoptr(TraceDecoder) d = decoder();
        Builder b = { .d = d };
        CpuMask cpus = cs("3");
        Attribution *a = attribution_new(&cpus, 16);
        CpuActivity act;

        attribution_set_measurer(a, 3, 500);
        feed_timeline(a, &b);
        /* 20 IRQs of distinct numbers, of 1 to 3 us: 16 sources named, the rest "other"
         * (the smallest give way to larger ones). */
        for (int i = 0; i < 20; i++) {
                TraceRecord in = irq_entry(&b, 1000 + i * 10, 3, 100 + i, "dev"),
                            out = simple(&b, 1, "irq", 100 + i, 1000 + i * 10 + 1 + (i % 3), 3);
                attribution_feed(a, &in);
                attribution_feed(a, &out);
        }
        ck_assert(attribution_take_activity(a, 3, &act));
        ck_assert_uint_eq(act.irqs, 22);
        ck_assert_uint_eq(act.softirqs, 1);
        ck_assert_uint_eq(act.switches, 3);
        ck_assert_uint_eq(act.nsources, ATTRIBUTION_SOURCES_MAX);
        ck_assert_uint_eq(act.other_count, 4 + 20 - ATTRIBUTION_SOURCES_MAX); /* 4 sources in the timeline */
        uint64_t named = 0;
        for (unsigned i = 0; i < act.nsources; i++)
                named += act.sources[i].time_ns;
        /* Named: the 4 of the timeline (310 + 50 + 30 + 10 us) and, as they came, IRQs that
         * outlasted the smallest named: 6 of 3 us and 6 of 2 us; every 1 us one and one of
         * 2 us in "other" (7 + 2 us). */
        ck_assert_uint_eq(named, (310 + 50 + 30 + 10 + 6 * 3 + 6 * 2) * 1000);
        ck_assert_uint_eq(act.other_ns, (7 * 1 + 2) * 1000);
        /* By time: the kworker's 310 us first. */
        ck_assert(act.sources[0].kind == CAUSE_THREAD && act.sources[0].id == 77 && act.sources[0].time_ns == 310000);
        for (unsigned i = 1; i < act.nsources; i++)
                ck_assert(act.sources[i - 1].time_ns >= act.sources[i].time_ns);
        /* Taken: it starts again. */
        ck_assert(attribution_take_activity(a, 3, &act));
        ck_assert(act.irqs == 0 && act.nsources == 0 && act.switches == 0);
        attribution_free(a);
}
END_TEST

/* The counters pace themselves by what one reading costs: a desktop's few kB are read
 * every second, a server's megabytes as seldom as keeps them within a thousandth of a
 * CPU, never more seldom than every 10 s; the rates are of the window read. */
START_TEST(test_counters_paced) {
        ck_assert_uint_eq(causes_counters_every(0), 1000000000u);
        ck_assert_uint_eq(causes_counters_every(50000), 1000000000u);   /* 50 us: every second */
        ck_assert_uint_eq(causes_counters_every(2000000), 2000000000u); /* 2 ms: every 2 s */
        ck_assert_uint_eq(causes_counters_every(40000000), 10000000000u);
        ck_assert_uint_eq(causes_counters_every(UINT64_MAX / 2000u), 10000000000u);

        g_autoptr(Root) root = root_new(fixture_root("ryzen-7700x"));
        CausesOptions o = { .root = root, .cpus = cs("1-7,9-15"), .tracepoints = false };
        g_autoptr(Causes) c = causes_new(&o);
        g_autoptr(GPtrArray) irqs = irq_scan(root);
        causes_irqs(c, irqs);
        const uint64_t t0 = 5000000000u;
        for (unsigned i = 0; i < 3; i++)
                g_ptr_array_unref(causes_collect(c, t0 + (uint64_t) i * 1000000000u, true));
        g_autoptr(GPtrArray) rates = causes_rates(c);
        ck_assert_ptr_nonnull(rates);
        ck_assert_uint_eq(rates->len, 14);
        /* A few kB read in well under a millisecond: the window is the last second. */
        ck_assert(((NoiseCpu *) rates->pdata[0])->seconds == 1.0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("attribution");
        TCase *tc = tcase_create("attribution");

        tcase_add_test(tc, test_format_parse);
        tcase_add_test(tc, test_format_hostile);
        tcase_add_test(tc, test_field_bounds);
        tcase_add_test(tc, test_decode);
        tcase_add_test(tc, test_window_ranking);
        tcase_add_test(tc, test_window_ties_open_nmi);
        tcase_add_test(tc, test_ring_bounded_partial);
        tcase_add_test(tc, test_activity);
        tcase_add_test(tc, test_counters_paced);
        suite_add_tcase(s, tc);
        return test_run(s, (const char *const[]) { "ryzen-7700x", NULL });
}
