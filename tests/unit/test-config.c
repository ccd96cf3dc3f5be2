/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "model/config.h"
#include "base/error.h"
#include "testlib.h"

static Config *load_ok(const char *text) {
        g_autoptr(GError) e = NULL;
        Config *c = NULL;
        ck_assert_msg(config_load_data(text, "test.conf", &c, &e) == 0, "rejected: %s", e ? e->message : "");
        return c;
}

static void assert_rejected(const char *text, int code, const char *message_part) {
        g_autoptr(GError) e = NULL;
        Config *c = NULL;
        ck_assert_msg(config_load_data(text, "test.conf", &c, &e) < 0, "accepted: %s", text);
        ck_assert_ptr_null(c);
        ck_assert_msg(g_error_matches(e, ISO_ERROR, code), "error %s for %s", e->message, text);
        ck_assert_msg(strstr(e->message, message_part), "\"%s\" lacks \"%s\"", e->message, message_part);
}

static void assert_seed_partition(const Config *c) {
        ck_assert_cpus(&c->housekeeping, "0,8");
        ck_assert_uint_eq(c->groups->len, 2);
        const GroupConfig *d = config_find_group(c, "diretta");
        const GroupConfig *h = config_find_group(c, "hqplayer");
        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(h);
        ck_assert_cpus(&d->cpus, "1-2,9-10");
        ck_assert_str_eq(d->slice, "diretta.slice");
        ck_assert_str_eq(d->match[0], "syncAlsa*");
        ck_assert_int_eq(d->sched_policy, SCHED_POLICY_UNSET);
        ck_assert_cpus(&h->cpus, "3-7,11-15");
        ck_assert_str_eq(h->match[0], "hqplayerd");
        ck_assert_int_eq(h->sched_policy, SCHED_POLICY_RR);
        ck_assert_int_eq(h->sched_priority, 99);
        ck_assert_str_eq(h->governor, "performance");
        ck_assert(!h->partition_isolated);
        ck_assert_int_eq(c->cpu_dma_latency_us, -1);
        ck_assert_int_eq(c->daemon.cgroup_backend, CGROUP_BACKEND_AUTO);
        ck_assert(!c->daemon.restore_on_exit);
        ck_assert_uint_eq(c->daemon.drift_burst, 5);
        ck_assert_int_eq(c->daemon.starvation_guard, STARVATION_GUARD_AUTO);
        ck_assert_uint_eq(c->daemon.starvation_sec, 5);
}

START_TEST(test_defaults) {
        g_autoptr(Config) c = config_new_default();

        assert_seed_partition(c);
        ck_assert(c->sampler.enabled);
        ck_assert_uint_eq(c->sampler.interval_us, 1000);
        ck_assert_uint_eq(c->sampler.threshold_us, 50);
        ck_assert_uint_eq(c->daemon.verify_interval_sec, 30);
        ck_assert_ptr_null(c->sources[0]);

        CpuMask iso;
        config_isolated_cpus(c, &iso);
        ck_assert_cpus(&iso, "1-7,9-15");
        ck_assert_ptr_null(config_find_group(c, "nope"));
}
END_TEST

START_TEST(test_design_example) {
        /* The example of DESIGN.md, verbatim. */
        g_autoptr(Config) c = load_ok(
                "[Partition]\nHousekeeping=0,8\n\n"
                "[Group diretta]\nCPUs=1-2,9-10\nSlice=diretta.slice\nMatch=syncAlsa*\n\n"
                "[Group hqplayer]\nCPUs=3-7,11-15\nSlice=hqplayer.slice\nMatch=hqplayerd\nSchedPolicy=rr\nSchedPriority=99\n\n"
                "[Sampler]\nEnabled=true\nIntervalUs=1000\nThresholdUs=50\n");
        assert_seed_partition(c);
}
END_TEST

START_TEST(test_partial_file_keeps_defaults) {
        g_autoptr(Config) c = load_ok("[Sampler]\nThresholdUs=30\nEnabled=false\n");
        assert_seed_partition(c);
        ck_assert_uint_eq(c->sampler.threshold_us, 30);
        ck_assert(!c->sampler.enabled);
}
END_TEST

START_TEST(test_user_groups_replace_defaults) {
        g_autoptr(Config) c = load_ok("[Partition]\nHousekeeping=0\n[Group audio]\nCPUs=1\nMatch=foo;bar*\n");
        ck_assert_uint_eq(c->groups->len, 1);
        const GroupConfig *g = config_find_group(c, "audio");
        ck_assert_ptr_nonnull(g);
        ck_assert_str_eq(g->slice, "audio.slice");
        ck_assert_uint_eq(g_strv_length(g->match), 2);
        ck_assert_str_eq(g->match[1], "bar*");
        ck_assert_cpus(&c->housekeeping, "0");

        /* Naming a default group keeps it, with the user's keys over the defaults. */
        g_autoptr(Config) d = load_ok("[Group hqplayer]\nCPUs=3-7\n");
        ck_assert_uint_eq(d->groups->len, 1);
        ck_assert_cpus(&config_find_group(d, "hqplayer")->cpus, "3-7");
        ck_assert_int_eq(config_find_group(d, "hqplayer")->sched_priority, 99);
}
END_TEST

START_TEST(test_malformed) {
        assert_rejected("[Group x]\nCPUs=7-3\n", ISO_ERROR_INVALID_CPU_LIST, "test.conf: [Group x] CPUs \"7-3\" is not a valid CPU list: at position 1, range end 3 is below its start 7");
        assert_rejected("[Partition]\nHousekeeping=1,,2\n", ISO_ERROR_INVALID_CPU_LIST, "[Partition] Housekeeping \"1,,2\"");
        assert_rejected("[Group x]\nCPUs=1-\n", ISO_ERROR_INVALID_CPU_LIST, "has no end");
        assert_rejected("[Group x]\nCPUs=x2\n", ISO_ERROR_INVALID_CPU_LIST, "position 1");
        assert_rejected("[Group x]\nCPUs=9000\n", ISO_ERROR_INVALID_CPU_LIST, "beyond the limit");
        assert_rejected("[Group x]\nCPUS=1\n", ISO_ERROR_INVALID_CONFIG, "unknown key CPUS (known: CPUs, Slice, Match");
        assert_rejected("[Groups x]\nCPUs=1\n", ISO_ERROR_INVALID_CONFIG, "unknown section [Groups x]");
        assert_rejected("[Group x]\nSlice=x.slice\n", ISO_ERROR_INVALID_CONFIG, "a group needs CPUs=");
        assert_rejected("[Group x]\n", ISO_ERROR_INVALID_CONFIG, "a group needs CPUs=");
        assert_rejected("[Group a/b]\nCPUs=1\n", ISO_ERROR_INVALID_CONFIG, "a group name is");
        assert_rejected("[Group housekeeping]\nCPUs=1\n", ISO_ERROR_INVALID_CONFIG, "not \"housekeeping\"");
        assert_rejected("[Group x]\nCPUs=1\nSlice=x.service\n", ISO_ERROR_INVALID_CONFIG, "not a slice unit name");
        assert_rejected("[Group x]\nCPUs=1\nSlice=../x.slice\n", ISO_ERROR_INVALID_CONFIG, "not a slice unit name");
        assert_rejected("[Group x]\nCPUs=1\nSchedPolicy=deadline\n", ISO_ERROR_INVALID_CONFIG, "not one of other, fifo, rr, keep");
        assert_rejected("[Group x]\nCPUs=1\nSchedPolicy=fifo\n", ISO_ERROR_INVALID_CONFIG, "fifo needs SchedPriority=");
        assert_rejected("[Group x]\nCPUs=1\nSchedPriority=5\n", ISO_ERROR_INVALID_CONFIG, "only with SchedPolicy=fifo or rr");
        assert_rejected("[Group x]\nCPUs=1\nSchedPolicy=rr\nSchedPriority=100\n", ISO_ERROR_INVALID_CONFIG, "from 1 to 99");
        assert_rejected("[Group x]\nCPUs=1\nMatch=a;;b\n", ISO_ERROR_INVALID_CONFIG, "an empty pattern");
        assert_rejected("[Sampler]\nEnabled=maybe\n", ISO_ERROR_INVALID_CONFIG, "[Sampler] Enabled=: expected true or false");
        assert_rejected("[Sampler]\nIntervalUs=10\n", ISO_ERROR_INVALID_CONFIG, "from 50 to 1000000");
        assert_rejected("[Sampler]\nThresholdUs=-1\n", ISO_ERROR_INVALID_CONFIG, "ThresholdUs");
        assert_rejected("[Daemon]\nVerifyIntervalSec=0\n", ISO_ERROR_INVALID_CONFIG, "VerifyIntervalSec");
        assert_rejected("[Group x]\nCPUs=1\nPartition=root\n", ISO_ERROR_INVALID_CONFIG, "not one of member, isolated");
        assert_rejected("[Group x]\nCPUs=1\nGovernor=perf ormance\n", ISO_ERROR_INVALID_CONFIG, "not a governor name");
        assert_rejected("[Partition]\nCpuDmaLatencyUs=-5\n", ISO_ERROR_INVALID_CONFIG, "CpuDmaLatencyUs");
        assert_rejected("[Daemon]\nCgroupBackend=cgroupv1\n", ISO_ERROR_INVALID_CONFIG, "not one of auto, systemd, cgroupfs");
        assert_rejected("[Daemon]\nSystemdAddress=/run/systemd/private\n", ISO_ERROR_INVALID_CONFIG, "not a D-Bus address");
        assert_rejected("[Daemon]\nRestoreOnExit=sometimes\n", ISO_ERROR_INVALID_CONFIG, "[Daemon] RestoreOnExit=: expected true or false");
        assert_rejected("[Daemon]\nDriftBurst=0\n", ISO_ERROR_INVALID_CONFIG, "DriftBurst");
        assert_rejected("[Daemon]\nStarvationGuard=yes\n", ISO_ERROR_INVALID_CONFIG, "not one of auto, on, off");
        assert_rejected("[Daemon]\nStarvationSec=0\n", ISO_ERROR_INVALID_CONFIG, "[Daemon] StarvationSec=: \"0\" is not a whole number from 1 to 300");
        assert_rejected("[Daemon]\nStarvationSec=301\n", ISO_ERROR_INVALID_CONFIG, "StarvationSec");
        assert_rejected("not a key file\n", ISO_ERROR_INVALID_CONFIG, "test.conf:");
}
END_TEST

/* Names systemd would take for another unit, and text that is not text. */
START_TEST(test_hostile_values) {
        assert_rejected("[Group -]\nCPUs=1\n", ISO_ERROR_INVALID_CONFIG, "-.slice");
        assert_rejected("[Group a-]\nCPUs=1\n", ISO_ERROR_INVALID_CONFIG, "a-.slice");
        assert_rejected("[Group a]\nCPUs=1\nSlice=a--b.slice\n", ISO_ERROR_INVALID_CONFIG, "[Group a] Slice=");
        assert_rejected("[Group a]\nCPUs=1\nSlice=-.slice\n", ISO_ERROR_INVALID_CONFIG, "[Group a] Slice=");
        assert_rejected("[Group a]\nCPUs=1\nSlice=\xff\xfe.slice\n", ISO_ERROR_INVALID_CONFIG,
                        "[Group a] Slice=: the value is not valid UTF-8");
        assert_rejected("[Group a]\nCPUs=1\nMatch=hq\xc3\n", ISO_ERROR_INVALID_CONFIG, "[Group a] Match=");

        static const char nul[] = "[Group a]\nCPUs=1\nSlice=a\0b.slice\n";
        g_autoptr(GError) e = NULL;
        Config *c = NULL;
        ck_assert_int_lt(config_load_bytes(nul, sizeof nul - 1, "test.conf", &c, &e), 0);
        ck_assert_ptr_null(c);
        ck_assert_msg(strstr(e->message, "test.conf: line 3, [Group a] Slice=: a NUL byte"), "%s", e->message);
        g_clear_error(&e);
        ck_assert_int_lt(config_load_bytes("\0", 1, "test.conf", &c, &e), 0);
        ck_assert_msg(strstr(e->message, "line 1: a NUL byte"), "%s", e->message);
        /* A name that nests is fine: hq-main.slice is inside hq.slice. */
        g_autoptr(Config) ok = load_ok("[Group hq-main]\nCPUs=1\n");
        ck_assert_str_eq(((GroupConfig *) ok->groups->pdata[0])->slice, "hq-main.slice");
}
END_TEST

/* The Diretta/HQPlayer partition of the README, with thread rules. */
static const char threads_conf[] =
        "[Partition]\nHousekeeping=0,8\n"
        "[Group diretta]\nCPUs=1-2,9-10\nMatch=syncAlsa*\nSchedPolicy=fifo\nSchedPriority=80\n"
        "[Group hqplayer]\nCPUs=3-7,11-15\nMatch=hqplayerd\nSchedPolicy=keep\n"
        "[Thread diretta-audio]\nGroup=diretta\nMatch=syncAlsa*;alsa-*\nCPUs=2,10\nSchedPolicy=fifo\nSchedPriority=80\n"
        "[Thread diretta-net]\nGroup=diretta\nMatch=*\nCPUs=1,9\nSchedPolicy=fifo\nSchedPriority=50\n"
        "[Thread hqplayer-ui]\nGroup=hqplayer\nMatch=QThread;*http*\nCPUs=3\n";

START_TEST(test_thread_rules) {
        g_autoptr(Config) c = load_ok(threads_conf);
        ck_assert_uint_eq(c->thread_rules->len, 3);
        const ThreadRule *audio = c->thread_rules->pdata[0];
        ck_assert_str_eq(audio->name, "diretta-audio");
        ck_assert_str_eq(audio->group, "diretta");
        ck_assert_str_eq(audio->match[1], "alsa-*");
        ck_assert(audio->has_cpus);
        ck_assert_cpus(&audio->cpus, "2,10");
        ck_assert_int_eq(audio->sched_policy, SCHED_POLICY_FIFO);
        ck_assert_int_eq(audio->sched_priority, 80);
        const ThreadRule *ui = c->thread_rules->pdata[2];
        ck_assert_int_eq(ui->sched_policy, SCHED_POLICY_UNSET);
        ck_assert_int_eq(config_find_group(c, "hqplayer")->sched_policy, SCHED_POLICY_KEEP);

        /* The first rule of the thread's own group that matches wins. */
        ck_assert_ptr_eq(config_thread_rule_match(c, "diretta", "alsa-out"), audio);
        ck_assert_str_eq(config_thread_rule_match(c, "diretta", "syncAlsa")->name, "diretta-audio");
        ck_assert_str_eq(config_thread_rule_match(c, "diretta", "net-rx")->name, "diretta-net");
        ck_assert_str_eq(config_thread_rule_match(c, "hqplayer", "QThread")->name, "hqplayer-ui");
        ck_assert_ptr_null(config_thread_rule_match(c, "hqplayer", "alsa-out"));
        ck_assert(config_group_has_thread_rules(c, "diretta"));

        /* Written back, the rules load into the same configuration. */
        g_autofree char *text = config_to_text(c, NULL);
        g_autoptr(Config) back = load_ok(text);
        g_autofree char *again = config_to_text(back, NULL);
        ck_assert_str_eq(text, again);
        ck_assert(strstr(text, "[Thread hqplayer-ui]\nGroup=hqplayer\nMatch=QThread;*http*\nCPUs=3\n"));
        ck_assert(strstr(text, "SchedPolicy=keep\n"));
}
END_TEST

/* A rule gives no more than its group, and each refusal names the file, the section and
 * the key. */
START_TEST(test_thread_rules_refused) {
        static const char groups[] = "[Partition]\nHousekeeping=0\n"
                                     "[Group rt]\nCPUs=1-3\nSchedPolicy=rr\nSchedPriority=60\n"
                                     "[Group plain]\nCPUs=4\nSchedPolicy=other\n"
                                     "[Group kept]\nCPUs=5\nSchedPolicy=keep\n"
                                     "[Group unset]\nCPUs=6\n";
        static const struct {
                const char *rule;
                int code;
                const char *message;
        } cases[] = {
                { "Group=rt\nMatch=a\nCPUs=3-4\n", ISO_ERROR_INVALID_CONFIG,
                  "test.conf: [Thread t] CPUs=: CPU 4 is outside group rt's CPUs (1-3)" },
                { "Group=rt\nMatch=a\nSchedPolicy=fifo\nSchedPriority=61\n", ISO_ERROR_INVALID_CONFIG,
                  "test.conf: [Thread t] SchedPriority=: 61 is above group rt's priority (60)" },
                { "Group=plain\nMatch=a\nSchedPolicy=rr\nSchedPriority=1\n", ISO_ERROR_INVALID_CONFIG,
                  "test.conf: [Thread t] SchedPolicy=: rr is real-time and group plain is not (SchedPolicy=other)" },
                { "Group=kept\nMatch=a\nSchedPolicy=other\n", ISO_ERROR_INVALID_CONFIG,
                  "test.conf: [Thread t] SchedPolicy=: group kept leaves scheduling to the application (SchedPolicy=keep)" },
                { "Group=unset\nMatch=a\nSchedPolicy=fifo\nSchedPriority=5\n", ISO_ERROR_INVALID_CONFIG,
                  "[Thread t] SchedPolicy=: group unset leaves scheduling to the application" },
                { "Group=rt\nMatch=a\nSchedPolicy=keep\n", ISO_ERROR_INVALID_CONFIG,
                  "test.conf: [Thread t] SchedPolicy=: \"keep\" is not one of other, fifo, rr" },
                { "Group=rt\nMatch=a\nSchedPolicy=fifo\n", ISO_ERROR_INVALID_CONFIG,
                  "[Thread t] SchedPolicy=: fifo needs SchedPriority=" },
                { "Group=rt\nMatch=a\nSchedPriority=5\n", ISO_ERROR_INVALID_CONFIG,
                  "[Thread t] SchedPriority=: a priority applies only with SchedPolicy=fifo or rr" },
                { "Group=nope\nMatch=a\n", ISO_ERROR_INVALID_CONFIG,
                  "test.conf: [Thread t] Group=: no group named \"nope\" (the groups: rt, plain, kept, unset)" },
                { "Match=a\n", ISO_ERROR_INVALID_CONFIG, "[Thread t]: a thread rule needs Group=" },
                { "Group=rt\n", ISO_ERROR_INVALID_CONFIG, "[Thread t]: a thread rule needs Match=" },
                { "Group=rt\nMatch=a;;b\n", ISO_ERROR_INVALID_CONFIG, "[Thread t] Match=: an empty pattern" },
                { "Group=rt\nMatch=a\nCPUs=1-\n", ISO_ERROR_INVALID_CPU_LIST, "test.conf: [Thread t] CPUs \"1-\"" },
                { "Group=rt\nMatch=a\nCPUs=\n", ISO_ERROR_INVALID_CONFIG, "[Thread t] CPUs=: no CPU" },
                { "Group=rt\nMatch=a\nNice=5\n", ISO_ERROR_INVALID_CONFIG,
                  "[Thread t]: unknown key Nice (known: Group, Match, CPUs, SchedPolicy, SchedPriority)" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *text = g_strdup_printf("%s[Thread t]\n%s", groups, cases[i].rule);
                assert_rejected(text, cases[i].code, cases[i].message);
        }
        g_autofree char *bad_name = g_strdup_printf("%s[Thread a/b]\nGroup=rt\nMatch=a\n", groups);
        assert_rejected(bad_name, ISO_ERROR_INVALID_CONFIG, "[Thread a/b]: a rule name is");

        /* Within the group's bounds: accepted, with what the rule leaves unset the group's. */
        g_autofree char *ok = g_strdup_printf("%s[Thread t]\nGroup=rt\nMatch=a\nCPUs=2\nSchedPolicy=fifo\nSchedPriority=60\n"
                                              "[Thread u]\nGroup=plain\nMatch=b\nSchedPolicy=other\n"
                                              "[Thread v]\nGroup=kept\nMatch=c\nCPUs=5\n", groups);
        g_autoptr(Config) c = load_ok(ok);
        ck_assert_uint_eq(c->thread_rules->len, 3);
        ck_assert(!((ThreadRule *) c->thread_rules->pdata[1])->has_cpus);
}
END_TEST

/* A default group's priority goes with its default policy: a file that sets keep (or
 * other) for it is not refused for the priority it never wrote. */
START_TEST(test_keep_over_default_group) {
        g_autoptr(Config) c = load_ok("[Group hqplayer]\nSchedPolicy=keep\n");
        const GroupConfig *h = config_find_group(c, "hqplayer");
        ck_assert_int_eq(h->sched_policy, SCHED_POLICY_KEEP);
        ck_assert_int_eq(h->sched_priority, 0);
        g_autoptr(Config) o = load_ok("[Group hqplayer]\nSchedPolicy=other\n");
        ck_assert_int_eq(config_find_group(o, "hqplayer")->sched_priority, 0);
        /* A priority the file writes itself still needs a real-time policy. */
        assert_rejected("[Group hqplayer]\nSchedPolicy=keep\nSchedPriority=50\n", ISO_ERROR_INVALID_CONFIG,
                        "test.conf: [Group hqplayer] SchedPriority=: a priority applies only with SchedPolicy=fifo or rr");
}
END_TEST

/* The shipped example drop-in over the shipped file: it loads, and a later file's
 * keep replaces an earlier file's rr 99 whole. */
START_TEST(test_example_threads_dropin) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *path = g_build_filename(dir, "isolatord.conf", NULL);
        g_autofree char *shipped = NULL, *example = NULL;
        g_autoptr(GError) e = NULL;
        g_autoptr(Config) c = NULL;
        const char *src = g_getenv("ISOLATORD_SOURCE_ROOT");
        g_autofree char *shipped_path = g_build_filename(src, "daemon", "isolatord.conf", NULL);
        g_autofree char *example_path = g_build_filename(src, "systemd", "examples", "isolatord.conf.d", "50-threads.conf", NULL);

        ck_assert(g_file_get_contents(shipped_path, &shipped, NULL, NULL));
        ck_assert(g_file_get_contents(example_path, &example, NULL, NULL));
        fixture_write(dir, "isolatord.conf", shipped);
        fixture_write(dir, "isolatord.conf.d/50-threads.conf", example);
        ck_assert_msg(config_load(path, true, &c, &e) == 0, "%s", e ? e->message : "");
        ck_assert_int_eq(config_find_group(c, "hqplayer")->sched_policy, SCHED_POLICY_KEEP);
        ck_assert_int_eq(config_find_group(c, "diretta")->sched_priority, 80);
        ck_assert_uint_eq(c->thread_rules->len, 3);
        ck_assert_str_eq(config_thread_rule_match(c, "diretta", "syncAlsa")->name, "diretta-audio");
        ck_assert_str_eq(config_thread_rule_match(c, "diretta", "net")->name, "diretta-rest");

        /* A priority the later file writes with keep is still refused, by that file. */
        fixture_write(dir, "isolatord.conf.d/60-bad.conf", "[Group hqplayer]\nSchedPriority=50\n");
        g_clear_pointer(&c, config_free);
        ck_assert_int_lt(config_load(path, true, &c, &e), 0);
        ck_assert_msg(strstr(e->message, "60-bad.conf: [Group hqplayer] SchedPriority=: a priority applies only"), "%s",
                      e->message);
        fixture_remove(dir);
}
END_TEST

START_TEST(test_files_and_dropins) {
        g_autofree char *dir = fixture_tmpdir();
        g_autofree char *path = g_build_filename(dir, "isolatord.conf", NULL);
        g_autoptr(GError) e = NULL;
        Config *c = NULL;

        /* No file: the defaults, unless the file was asked for by name. */
        ck_assert_int_eq(config_load(path, false, &c, &e), 0);
        assert_seed_partition(c);
        config_free(c);
        c = NULL;
        ck_assert_int_lt(config_load(path, true, &c, &e), 0);
        ck_assert_msg(strstr(e->message, "cannot read") && strstr(e->message, path), "%s", e->message);
        g_clear_error(&e);

        fixture_write(dir, "isolatord.conf", "[Group hqplayer]\nCPUs=3-7\n[Sampler]\nThresholdUs=40\n");
        fixture_write(dir, "isolatord.conf.d/20-late.conf", "[Sampler]\nThresholdUs=20\n");
        fixture_write(dir, "isolatord.conf.d/10-early.conf", "[Sampler]\nThresholdUs=10\nIntervalUs=500\n");
        fixture_write(dir, "isolatord.conf.d/README", "not a drop-in: ignored\n");
        ck_assert_int_eq(config_load(path, true, &c, &e), 0);
        /* Later drop-ins win key by key; keys they do not name stay. */
        ck_assert_uint_eq(c->sampler.threshold_us, 20);
        ck_assert_uint_eq(c->sampler.interval_us, 500);
        ck_assert_cpus(&config_find_group(c, "hqplayer")->cpus, "3-7");
        ck_assert_uint_eq(g_strv_length(c->sources), 3);
        ck_assert(g_str_has_suffix(c->sources[1], "10-early.conf"));
        config_free(c);
        c = NULL;

        /* An error names the drop-in it comes from. */
        fixture_write(dir, "isolatord.conf.d/30-bad.conf", "[Group hqplayer]\nCPUs=3-\n");
        ck_assert_int_lt(config_load(path, true, &c, &e), 0);
        ck_assert_msg(strstr(e->message, "30-bad.conf: [Group hqplayer] CPUs \"3-\""), "%s", e->message);
        fixture_remove(dir);
}
END_TEST

START_TEST(test_to_text_roundtrip) {
        g_autoptr(Config) c = load_ok("[Partition]\nHousekeeping=0,1\n[Group a]\nCPUs=2-3\nMatch=x*;y\nSchedPolicy=fifo\nSchedPriority=70\n"
                                      "[Group b]\nCPUs=4\nSlice=custom.slice\nSchedPolicy=other\n[Sampler]\nIntervalUs=250\n"
                                      "[Daemon]\nStarvationGuard=off\nStarvationSec=12\n");
        g_autofree char *text = config_to_text(c, "a header\nof two lines");
        g_autoptr(Config) back = load_ok(text);
        g_autofree char *again = config_to_text(back, "a header\nof two lines");

        ck_assert(g_str_has_prefix(text, "# a header\n# of two lines\n\n[Partition]\n"));
        ck_assert_str_eq(text, again);
        ck_assert_int_eq(config_find_group(back, "a")->sched_priority, 70);
        ck_assert_str_eq(config_find_group(back, "b")->slice, "custom.slice");
        ck_assert_int_eq(config_find_group(back, "b")->sched_policy, SCHED_POLICY_OTHER);
        ck_assert_uint_eq(back->sampler.interval_us, 250);
        ck_assert_int_eq(back->daemon.starvation_guard, STARVATION_GUARD_OFF);
        ck_assert_uint_eq(back->daemon.starvation_sec, 12);
}
END_TEST

START_TEST(test_shipped_file_is_the_default) {
        g_autofree char *path = g_build_filename(g_getenv("ISOLATORD_SOURCE_ROOT"), "daemon", "isolatord.conf", NULL);
        g_autoptr(GError) e = NULL;
        g_autoptr(Config) shipped = NULL;
        g_autoptr(Config) builtin = config_new_default();

        /* /etc/isolatord/isolatord.conf as installed says what the daemon does without it. */
        ck_assert_msg(config_load(path, true, &shipped, &e) == 0, "%s", e ? e->message : "");
        g_autofree char *a = config_to_text(shipped, NULL);
        g_autofree char *b = config_to_text(builtin, NULL);
        ck_assert_str_eq(a, b);
}
END_TEST

int main(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_design_example);
        tcase_add_test(tc, test_partial_file_keeps_defaults);
        tcase_add_test(tc, test_user_groups_replace_defaults);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_files_and_dropins);
        tcase_add_test(tc, test_hostile_values);
        tcase_add_test(tc, test_to_text_roundtrip);
        tcase_add_test(tc, test_shipped_file_is_the_default);
        tcase_add_test(tc, test_thread_rules);
        tcase_add_test(tc, test_thread_rules_refused);
        tcase_add_test(tc, test_keep_over_default_group);
        tcase_add_test(tc, test_example_threads_dropin);
        suite_add_tcase(s, tc);
        return test_run(s, NULL);
}
