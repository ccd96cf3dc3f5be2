/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fuzz targets, one per reader of outside text: CPU lists and masks, configuration
 * files (loaded from raw bytes, NUL included, and round-tripped), the kernel command
 * line, a kernel .config, /proc/interrupts, /proc/schedstat, /proc/PID/stat, a task's
 * schedstat and status and /proc/stat's idle times (what the starvation guard reads), the saved
 * originals file (a root daemon reads it back after a crash), a tracefs format file with
 * a raw record laid out by it, and the arguments a
 * stranger sends SetGroupCpus over the bus. This file is built once per target with
 * -DFUZZ_TARGET=fuzz_NAME: for libFuzzer with -Dfuzzing=true (clang, the library built
 * with -fsanitize=fuzzer-no-link so that coverage reaches it), and always as a replay of
 * tests/fuzz/corpus/NAME/ that tools/check runs. tools/fuzz SECONDS runs them all. */
#include <assert.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>

#include "model/bootparams.h"
#include "model/config.h"
#include "model/cpumask.h"
#include "enforce/enforcer.h"
#include "kernel/cpustat.h"
#include "kernel/irq.h"
#include "model/kconfig.h"
#include "base/log.h"
#include "manager.h"
#include "kernel/noise.h"
#include "kernel/originals.h"
#include "kernel/task.h"
#include "kernel/timerlat.h"
#include "kernel/trace-format.h"
#include "kernel/trace-record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_cpumask(const uint8_t *data, size_t size);
int fuzz_config(const uint8_t *data, size_t size);
int fuzz_cmdline(const uint8_t *data, size_t size);
int fuzz_kconfig(const uint8_t *data, size_t size);
int fuzz_interrupts(const uint8_t *data, size_t size);
int fuzz_schedstat(const uint8_t *data, size_t size);
int fuzz_stat(const uint8_t *data, size_t size);
int fuzz_progress(const uint8_t *data, size_t size);
int fuzz_originals(const uint8_t *data, size_t size);
int fuzz_bus(const uint8_t *data, size_t size);
int fuzz_trace_format(const uint8_t *data, size_t size);
int fuzz_timerlat_page(const uint8_t *data, size_t size);

/* The bytes as the kernel's files reach a parser: whole, NUL bytes included, ended by
 * one more NUL (a C parser sees up to the first). */
static char *text_of(const uint8_t *data, size_t size) {
        char *text = g_malloc(size + 1);
        memcpy(text, data, size);
        text[size] = '\0';
        return text;
}

int fuzz_cpumask(const uint8_t *data, size_t size) {
        g_autofree char *text = text_of(data, size);
        CpuMask set, back;
        CpuMaskError err;

        if (cpumask_parse_list(text, &set, &err) == 0) {
                g_autofree char *list = cpumask_format_list(&set);
                assert(cpumask_parse_list(list, &back, NULL) == 0 && cpumask_equal(&set, &back));
        } else
                assert(err.pos <= size);
        if (cpumask_parse_mask(text, &set, &err) == 0) {
                g_autofree char *mask = cpumask_format_mask(&set, 0);
                assert(cpumask_parse_mask(mask, &back, NULL) == 0 && cpumask_equal(&set, &back));
        }
        return 0;
}

int fuzz_config(const uint8_t *data, size_t size) {
        Config *c = NULL;
        GError *e = NULL;
        if (config_load_bytes((const char *) data, size, "fuzz", &c, &e) == 0) {
                /* What loads writes back as text that loads to the same text. */
                g_autofree char *again = config_to_text(c, NULL);
                Config *c2 = NULL;
                GError *e2 = NULL;
                if (config_load_data(again, "fuzz", &c2, &e2) != 0)
                        g_error("round trip refused: %s\n%s", e2->message, again);
                g_autofree char *third = config_to_text(c2, NULL);
                assert(g_str_equal(again, third));
                config_free(c2);
                config_free(c);
        } else {
                assert(e != NULL); /* a refusal always says why */
                g_clear_error(&e);
        }
        return 0;
}

int fuzz_cmdline(const uint8_t *data, size_t size) {
        g_autofree char *text = text_of(data, size);
        g_strfreev(bootparams_tokenize(text));
        return 0;
}

int fuzz_kconfig(const uint8_t *data, size_t size) {
        g_autofree char *text = text_of(data, size);
        g_hash_table_unref(kconfig_parse(text));
        return 0;
}

int fuzz_interrupts(const uint8_t *data, size_t size) {
        g_autofree char *text = text_of(data, size);
        interrupt_table_free(interrupts_parse(text));
        return 0;
}

int fuzz_schedstat(const uint8_t *data, size_t size) {
        g_autofree char *text = text_of(data, size);
        g_hash_table_unref(schedstat_parse(text));
        return 0;
}

int fuzz_stat(const uint8_t *data, size_t size) {
        g_autofree char *text = text_of(data, size);
        TaskStat st;
        if (task_parse_stat(text, &st) == 0)
                assert(st.comm[sizeof st.comm - 1] == '\0' || strlen(st.comm) < sizeof st.comm);
        return 0;
}

int fuzz_progress(const uint8_t *data, size_t size) {
        g_autofree char *text = text_of(data, size);
        uint64_t n;
        uint64_t idle[4];
        bool known[4];
        (void) task_parse_schedstat(text, &n, &n);
        (void) task_parse_switches(text, &n);
        (void) cpustat_parse_idle(text, idle, known, G_N_ELEMENTS(idle));
        return 0;
}

/* A format file, a NUL, then a raw record: every field read from the record, and the
 * record decoded with the format taken for each tracepoint attribution knows. */
int fuzz_trace_format(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, '\0', size);
        g_autofree char *text = text_of(data, nul ? (size_t) (nul - data) : size);
        const uint8_t *raw = nul ? nul + 1 : data + size;
        size_t len = nul ? size - (size_t) (raw - data) : 0;
        TraceFormat f;
        char buf[32];
        int64_t v;

        if (trace_format_parse(text, &f) < 0)
                return 0;
        assert(f.nfields <= TRACE_FIELDS_MAX);
        for (unsigned i = 0; i < f.nfields; i++) {
                assert(f.fields[i].offset + f.fields[i].size <= TRACE_RECORD_MAX);
                if (trace_field_str(&f.fields[i], raw, len, buf, sizeof buf))
                        assert(strlen(buf) < sizeof buf);
                (void) trace_field_int(&f.fields[i], raw, len, &v);
        }
        for (size_t i = 0; i < trace_points_count; i++) {
                g_autoptr(TraceDecoder) d = trace_decoder_new();
                TraceRecord r;
                if (trace_decoder_add(d, i, text) == 0 && trace_decode_raw(d, raw, len, &r))
                        assert(r.name[sizeof r.name - 1] == '\0' && r.prev.comm[sizeof r.prev.comm - 1] == '\0');
        }
        return 0;
}

static void count_sample(const TimerlatSample *s, void *userdata) {
        (*(size_t *) userdata)++;
}

/* A page of the timerlat tracer's ring as trace_pipe_raw hands it (or a fake root's
 * bytes): decoded within its bounds, each sample at least an event header and an entry. */
int fuzz_timerlat_page(const uint8_t *data, size_t size) {
        static const char *const format =
                "name: timerlat\nID: 13\nformat:\n"
                "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
                "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
                "\tfield:unsigned int seqnum;\toffset:8;\tsize:4;\tsigned:0;\n"
                "\tfield:int context;\toffset:12;\tsize:4;\tsigned:1;\n"
                "\tfield:u64 timer_latency;\toffset:16;\tsize:8;\tsigned:0;\n";
        TraceFormat f;
        size_t n = 0;
        bool missed;
        g_autofree uint8_t *copy = g_memdup2(data, size); /* exactly size bytes, for ASan */

        assert(trace_format_parse(format, &f) == 0);
        int r = timerlat_page_decode(&f, copy, size, count_sample, &n, &missed);
        assert(r == -EBADMSG || (size_t) r == n);
        assert(n * 28 <= size);
        return 0;
}

static char *fuzz_dir(void) {
        static char *dir;
        if (!dir)
                dir = g_dir_make_tmp("isolatord-fuzz-XXXXXX", NULL);
        return dir;
}

/* A saved originals file as a crash may leave it, or a hostile one: it loads or is set
 * aside, and every entry that stays is one isolatord could have written. */
int fuzz_originals(const uint8_t *data, size_t size) {
        const char *dir = fuzz_dir();
        g_autofree char *file = g_build_filename(dir, "originals", NULL);
        g_autoptr(GPtrArray) rejected = g_ptr_array_new_with_free_func(g_free);
        Originals *o = NULL;

        g_file_set_contents(file, (const char *) data, (gssize) size, NULL);
        if (originals_open(dir, "root=/fuzz boot=1", &o, NULL) < 0)
                return 0;
        originals_filter(o, enforcer_check_original, NULL, rejected);
        for (guint i = 0; i < originals_count(o); i++) {
                g_autofree char *why = enforcer_check_original(originals_path(o, i), originals_value(o, i), NULL);
                assert(!why);
                if (originals_path(o, i)[0] != '@')
                        assert(enforcer_path_writable(originals_path(o, i)));
        }
        originals_free(o);
        /* Whatever was set aside is removed for the next input. */
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *name;
        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *path = g_build_filename(dir, name, NULL);
                g_unlink(path);
        }
        return 0;
}

/* SetGroupCpus(group, cpus) as a stranger sends it (two strings; the bus forbids NUL
 * and invalid UTF-8), on a manager of a fake machine in a dry run. */
int fuzz_bus(const uint8_t *data, size_t size) {
        static Manager *m;
        const char *nul = memchr(data, '\0', size);
        if (!m) {
                const char *fixtures = g_getenv("ISOLATORD_FIXTURES");
                g_autofree char *root = g_build_filename(fixtures ? fixtures : "build/tests/roots", "mini-2cpu", NULL);
                g_autofree char *conf = g_build_filename(fuzz_dir(), "isolatord.conf", NULL);
                g_autofree char *run = g_build_filename(fuzz_dir(), "run", NULL);
                g_file_set_contents(conf, "[Partition]\nHousekeeping=0\n[Group a]\nCPUs=1\n[Sampler]\nEnabled=false\n", -1,
                                    NULL);
                ManagerOptions o = { .root = root, .config_path = conf, .dry_run = true, .runtime_dir = run };
                GError *e = NULL;
                if (!manager_new(&o, &m, &e) || !manager_start(m, &e))
                        g_error("no manager for the bus target (ISOLATORD_FIXTURES?): %s", e->message);
        }
        if (!nul)
                return 0;
        g_autofree char *group = g_strndup((const char *) data, (size_t) (nul - (const char *) data));
        g_autofree char *cpus = g_strndup(nul + 1, size - (size_t) (nul - (const char *) data) - 1);
        if (!g_utf8_validate(group, -1, NULL) || !g_utf8_validate(cpus, -1, NULL) || strlen(cpus) != size - strlen(group) - 1)
                return 0;
        GError *e = NULL;
        if (manager_set_group_cpus(m, group, cpus, &e)) {
                assert(g_str_equal(group, "a"));
                manager_set_group_cpus(m, "a", "1", NULL); /* the same machine for the next input */
        } else {
                assert(e && e->message);
                g_clear_error(&e);
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        log_set_max_level(0);
        return FUZZ_TARGET(data, size);
}
