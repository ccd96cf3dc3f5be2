/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enforce/enforcer-irq.h"
#include "kernel/task.h"
#include "base/error.h"
#include "kernel/irq.h"
#include "manager.h"
#include "testlib.h"

/* --- the pure parts --- */

START_TEST(test_interrupts_parse) {
        g_autoptr(Root) root = root_new(fixture_root("ryzen-7700x"));
        g_autofree char *text = NULL;
        ck_assert_int_eq(root_read(root, "proc/interrupts", &text, NULL), 0);
        g_autoptr(InterruptTable) t = interrupts_parse(text);

        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->ncols, 16);
        ck_assert_int_eq(t->col_cpu[15], 15);
        ck_assert_ptr_nonnull(g_hash_table_lookup(t->rows, "LOC"));
        ck_assert_ptr_nonnull(g_hash_table_lookup(t->rows, "ERR"));
        ck_assert_ptr_nonnull(g_hash_table_lookup(t->rows, "1"));

        g_autoptr(InterruptTable) small = interrupts_parse(
                "           CPU0       CPU2\n"
                "  0:         46          3   IO-APIC   2-edge      timer\n"
                " 24:          0        100   PCI-MSI 1-edge      xhci_hcd\n"
                "LOC:       1000       2000   Local timer interrupts\n"
                "ERR:          7\n");
        CpuMask two = cs("2"), both = cs("0,2");
        ck_assert_uint_eq(small->ncols, 2);
        ck_assert_int_eq(small->col_cpu[1], 2);
        ck_assert_uint_eq(interrupts_sum(small, "24", &two), 100);
        ck_assert_uint_eq(interrupts_sum(small, "0", &both), 49);
        ck_assert_uint_eq(interrupts_sum(small, "LOC", &two), 2000);
        ck_assert_uint_eq(interrupts_sum(small, "ERR", &both), 7);
        ck_assert_uint_eq(interrupts_sum(small, "99", &both), 0);
        ck_assert_ptr_null(interrupts_parse("no header here\n"));
}
END_TEST

START_TEST(test_scan) {
        struct { const char *machine; unsigned count; } cases[] = { { "ryzen-7700x", 40 }, { "mini-2cpu", 8 },
                                                                    { "server-256", 3101 } };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autoptr(Root) root = root_new(fixture_root(cases[i].machine));
                g_autoptr(GPtrArray) irqs = irq_scan(root);
                ck_assert_uint_eq(irqs->len, cases[i].count);
                for (unsigned j = 1; j < irqs->len; j++)
                        ck_assert_uint_lt(((Irq *) irqs->pdata[j - 1])->num, ((Irq *) irqs->pdata[j])->num);
        }
        g_autoptr(Root) root = root_new(fixture_root("ryzen-7700x"));
        g_autoptr(GPtrArray) irqs = irq_scan(root);
        const Irq *timer = irqs->pdata[0];
        ck_assert_uint_eq(timer->num, 0);
        ck_assert_str_eq(timer->name, "timer");
        ck_assert_cpus(&timer->affinity, "0-15");
        ck_assert(timer->has_effective);
        ck_assert_uint_eq(cpumask_count(&timer->effective), 1);
}
END_TEST

/* Names kept between scans: a scan that trusts them takes them for an IRQ whose affinity
 * reads as it did, without looking at its folder; an IRQ whose affinity changed, or a scan
 * that does not trust, looks and sees a handler that came since. */
START_TEST(test_names_trusted) {
        g_autofree char *dir = fixture_new_root("ryzen-7700x");
        g_autoptr(Root) root = root_new(dir);
        IrqNames *names = irq_names_new();
        const char *xhci = NULL;
        unsigned num = 0;

        g_autoptr(GPtrArray) first = irq_scan_except(root, &(IrqScan) { .names = names });
        for (unsigned i = 0; i < first->len && !xhci; i++)
                if (strstr(((Irq *) first->pdata[i])->name, "xhci_hcd")) {
                        num = ((Irq *) first->pdata[i])->num;
                        xhci = ((Irq *) first->pdata[i])->name;
                }
        ck_assert_ptr_nonnull(xhci);
        g_autofree char *before = g_strdup(xhci);
        g_autofree char *added = g_strdup_printf("%s/proc/irq/%u/snd_hda_intel", dir, num);
        ck_assert_int_eq(g_mkdir_with_parents(added, 0755), 0);

        g_autofree char *trusted = NULL, *looked = NULL, *moved = NULL;
        for (unsigned pass = 0; pass < 3; pass++) {
                bool trust = pass != 1;
                if (pass == 2) { /* the affinity changed: looked at even when trusted */
                        g_autofree char *rel = g_strdup_printf("proc/irq/%u/smp_affinity_list", num);
                        fixture_write(dir, rel, "0,8\n");
                        irq_names_forget(names); /* and then re-learned as it is */
                        g_autoptr(GPtrArray) learn = irq_scan_except(root, &(IrqScan) { .names = names });
                        g_autofree char *gone = g_strdup_printf("%s/proc/irq/%u/snd_hda_intel", dir, num);
                        fixture_remove(gone);
                        fixture_write(dir, rel, "0-15\n");
                }
                g_autoptr(GPtrArray) irqs = irq_scan_except(root, &(IrqScan) { .names = names, .trust_names = trust });
                for (unsigned i = 0; i < irqs->len; i++)
                        if (((Irq *) irqs->pdata[i])->num == num) {
                                char **slot = pass == 0 ? &trusted : pass == 1 ? &looked : &moved;
                                *slot = g_strdup(((Irq *) irqs->pdata[i])->name);
                        }
        }
        ck_assert_str_eq(trusted, before);
        ck_assert_ptr_nonnull(strstr(looked, "snd_hda_intel"));
        ck_assert_str_eq(moved, before);
        irq_names_free(names);
        fixture_remove(dir);
}
END_TEST

START_TEST(test_rules) {
        g_autoptr(Config) c = NULL;
        g_autoptr(GError) e = NULL;
        ck_assert_msg(config_load_data("[Irq usb]\nMatch=xhci_hcd\nCPUs=diretta\nThreadPriority=90\n"
                                       "[Irq net]\nMatch=enp5s0*;nvme0q1\nCPUs=3\n"
                                       "[Irq late]\nMatch=xhci*\nCPUs=4\n", "t", &c, &e) == 0, "%s", e ? e->message : "");
        g_auto(GStrv) xhci_actions = g_strsplit("xhci_hcd", ",", -1), q_actions = g_strsplit("enp5s0-TxRx-0", ",", -1),
                      nvme_actions = g_strsplit("nvme0q1", ",", -1), other = g_strsplit("acpi", ",", -1);
        Irq xhci = { .actions = xhci_actions }, q = { .actions = q_actions }, nvme = { .actions = nvme_actions },
            acpi = { .actions = other };
        const IrqRule *rule;

        ck_assert_cpus(irq_target(c, &xhci, &rule), "1-2,9-10");
        ck_assert_str_eq(rule->name, "usb"); /* first match wins over "late" */
        ck_assert_int_eq(rule->thread_priority, 90);
        ck_assert_cpus(irq_target(c, &q, &rule), "3");
        ck_assert_cpus(irq_target(c, &nvme, &rule), "3");
        ck_assert_cpus(irq_target(c, &acpi, &rule), "0,8");
        ck_assert_ptr_null(rule);

        /* A rule's CPUs are neither a list nor a group: named error. */
        g_autoptr(Config) bad = NULL;
        g_clear_error(&e);
        ck_assert_int_lt(config_load_data("[Irq usb]\nMatch=xhci_hcd\nCPUs=nogroup\n", "t", &bad, &e), 0);
        ck_assert(g_error_matches(e, ISO_ERROR, ISO_ERROR_INVALID_CPU_LIST));
        ck_assert_msg(strstr(e->message, "nor \"housekeeping\" or the name of a group"), "%s", e->message);
        g_clear_error(&e);
        ck_assert_int_lt(config_load_data("[Irq usb]\nCPUs=1\n", "t", &bad, &e), 0);
        ck_assert_msg(strstr(e->message, "a rule needs Match="), "%s", e->message);
        g_clear_error(&e);
        ck_assert_int_lt(config_load_data("[Irq usb]\nMatch=x\nCPUs=1\nThreadPriority=0\n", "t", &bad, &e), 0);
        ck_assert_msg(strstr(e->message, "ThreadPriority"), "%s", e->message);
        g_clear_error(&e);
        /* Driver= takes driver names only, never a path. */
        ck_assert_int_lt(config_load_data("[Irq dac]\nDriver=../../x\nCPUs=housekeeping\n", "t", &bad, &e), 0);
        ck_assert_msg(strstr(e->message, "Driver"), "%s", e->message);
        ck_assert_msg(strstr(e->message, "is not a kernel driver's name"), "%s", e->message);
        g_clear_error(&e);
        g_autoptr(Config) dac = NULL;
        ck_assert_msg(config_load_data("[Irq dac]\nDriver=snd-usb-audio;snd_hda_intel\nCPUs=housekeeping\nThreadPriority=85\n",
                                       "t", &dac, &e) == 0, "%s", e ? e->message : "");
        const IrqRule *r = dac->irq_rules->pdata[0];
        ck_assert(r->housekeeping && !r->match[0]);
        ck_assert_str_eq(r->drivers[1], "snd_hda_intel");
        g_autofree char *text = config_to_text(dac, NULL);
        ck_assert_msg(strstr(text, "[Irq dac]\nDriver=snd-usb-audio;snd_hda_intel\nCPUs=housekeeping\nThreadPriority=85\n"),
                      "%s", text);
}
END_TEST

/* --- the enforcer, through the manager, on private copies of the fake machines --- */

typedef struct Rig {
        char *dir, *root, *run, *conf;
        Manager *m;
        GPtrArray *pinned;   /* "N@cpus" from the irq_pinned event */
        GPtrArray *drift;    /* "object: found -> expected" */
} Rig;

static void on_event(const Event *e, void *userdata) {
        Rig *rig = userdata;
        if (e->kind == EVENT_IRQ_PINNED) {
                g_autofree char *list = cpumask_format_list(e->cpus);
                g_ptr_array_add(rig->pinned, g_strdup_printf("%u@%s", e->irq, list));
        } else if (e->kind == EVENT_DRIFT_CORRECTED)
                g_ptr_array_add(rig->drift, g_strdup_printf("%s %s: %s -> %s", e->finding->kind, e->finding->object,
                                                            e->finding->actual, e->finding->expected));
}

static void rig_manager(Rig *rig) {
        g_autoptr(GError) e = NULL;
        ManagerOptions o = { .root = rig->root, .config_path = rig->conf, .config_must_exist = true, .runtime_dir = rig->run };
        ck_assert_msg(manager_new(&o, &rig->m, &e) && manager_start(rig->m, &e), "%s", e ? e->message : "");
        manager_set_listener(rig->m, &(EventSink) { on_event, rig });
}

/* A root of its own; the manager starts only with rig_manager(), so a test can change
 * the root first. */
static void rig_prepare(Rig *rig, const char *machine, const char *config_text) {
        rig->dir = fixture_tmpdir();
        rig->root = fixture_new_root(machine);
        rig->run = g_build_filename(rig->dir, "run", NULL);
        rig->conf = g_build_filename(rig->dir, "isolatord.conf", NULL);
        rig->pinned = g_ptr_array_new_with_free_func(g_free);
        rig->drift = g_ptr_array_new_with_free_func(g_free);
        fixture_write(rig->dir, "isolatord.conf", config_text);
}

static void rig_stop(Rig *rig) {
        manager_free(rig->m);
        fixture_remove(rig->dir);
        fixture_remove(rig->root);
        g_ptr_array_unref(rig->pinned);
        g_ptr_array_unref(rig->drift);
        g_free(rig->dir);
        g_free(rig->root);
        g_free(rig->run);
        g_free(rig->conf);
}

static char *affinity(const Rig *rig, unsigned irq) {
        g_autoptr(Root) root = root_new(rig->root);
        g_autofree char *rel = g_strdup_printf("proc/irq/%u/smp_affinity_list", irq);
        char *line = NULL;
        ck_assert_int_eq(root_read_line(root, rel, &line), 0);
        return line;
}

static void set_affinity(const Rig *rig, unsigned irq, const char *value) {
        g_autofree char *rel = g_strdup_printf("proc/irq/%u/smp_affinity_list", irq);
        g_autofree char *text = g_strconcat(value, "\n", NULL);
        fixture_write(rig->root, rel, text);
}

static void run(const char *cmd, const char *path) {
        g_autofree char *line = g_strdup_printf("%s '%s'", cmd, path);
        int status;
        ck_assert(g_spawn_command_line_sync(line, NULL, NULL, &status, NULL));
        ck_assert_msg(g_spawn_check_wait_status(status, NULL), "%s failed", line);
}

static unsigned count_state(GPtrArray *report, const char *state) {
        unsigned n = 0;
        for (unsigned i = 0; i < report->len; i++)
                n += g_str_equal(((IrqReport *) report->pdata[i])->state, state);
        return n;
}

static void assert_all_pinned(Rig *rig, const char *hk, const char *mask) {
        g_autoptr(GPtrArray) report = manager_irqs(rig->m);
        for (unsigned i = 0; i < report->len; i++) {
                const IrqReport *r = report->pdata[i];
                g_autofree char *have = cpumask_format_list(&r->irq->affinity);
                ck_assert_msg(g_str_equal(have, hk), "IRQ %u %s on %s", r->irq->num, r->irq->name, have);
                ck_assert_str_eq(r->state, "pinned");
        }
        g_autoptr(Root) root = root_new(rig->root);
        g_autofree char *dflt = NULL;
        ck_assert_int_eq(root_read_line(root, "proc/irq/default_smp_affinity", &dflt), 0);
        ck_assert_str_eq(dflt, mask);
        /* Nothing is announced for the IRQs pinned at start. */
        ck_assert_uint_eq(rig->pinned->len, 0);
}

START_TEST(test_pin_all_ryzen) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "");
        rig_manager(&rig);
        assert_all_pinned(&rig, "0,8", "0101");
        /* The originals are on disk before anything was written. */
        g_autofree char *saved = g_build_filename(rig.run, "originals", NULL);
        g_autofree char *text = NULL;
        ck_assert(g_file_get_contents(saved, &text, NULL, NULL));
        ck_assert(strstr(text, "proc/irq/default_smp_affinity\tffff\n"));
        ck_assert(strstr(text, "proc/irq/0/smp_affinity_list\t0-15\n"));
        rig_stop(&rig);
}
END_TEST

START_TEST(test_pin_all_server) {
        Rig rig = {};
        rig_prepare(&rig, "server-256", "[Partition]\nHousekeeping=0,128\n[Group audio]\nCPUs=1-127,129-255\n");
        rig_manager(&rig);
        assert_all_pinned(&rig, "0,128", "00000000,00000000,00000000,00000001,00000000,00000000,00000000,00000001");
        rig_stop(&rig);
}
END_TEST

START_TEST(test_rule_routes_xhci_to_diretta) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "[Irq dac]\nMatch=xhci_hcd\nCPUs=diretta\n");
        rig_manager(&rig);
        g_autoptr(GPtrArray) report = manager_irqs(rig.m);
        unsigned ruled = 0;
        for (unsigned i = 0; i < report->len; i++) {
                const IrqReport *r = report->pdata[i];
                g_autofree char *have = cpumask_format_list(&r->irq->affinity);
                if (g_str_equal(r->irq->name, "xhci_hcd")) {
                        ck_assert_str_eq(have, "1-2,9-10");
                        ck_assert_str_eq(r->state, "ruled");
                        ck_assert_str_eq(r->rule, "dac");
                        ruled++;
                } else {
                        ck_assert_str_eq(have, "0,8");
                }
        }
        ck_assert_uint_eq(ruled, 4);

        /* The group moves: its rule's IRQs follow. */
        g_autoptr(GError) e = NULL;
        ck_assert_msg(manager_set_group_cpus(rig.m, "diretta", "1,9", &e), "%s", e ? e->message : "");
        g_autoptr(GPtrArray) after = manager_irqs(rig.m);
        for (unsigned i = 0; i < after->len; i++) {
                const IrqReport *r = after->pdata[i];
                if (g_str_equal(r->irq->name, "xhci_hcd")) {
                        g_autofree char *have = cpumask_format_list(&r->irq->affinity);
                        ck_assert_str_eq(have, "1,9");
                }
        }
        /* A target that changed is news: IrqPinned for each, not drift. */
        ck_assert_uint_eq(rig.pinned->len, 4);
        ck_assert_uint_eq(rig.drift->len, 0);
        rig_stop(&rig);
}
END_TEST

/* Whether the journal of originals (rig.run/originals) holds key now: its "+" lines
 * add, its "-" lines forget. */
static bool journal_holds(const Rig *rig, const char *key) {
        g_autofree char *path = g_build_filename(rig->run, "originals", NULL), *text = NULL;
        g_auto(GStrv) lines = NULL;
        bool held = false;
        if (!g_file_get_contents(path, &text, NULL, NULL))
                return false;
        lines = g_strsplit(text, "\n", -1);
        for (char **l = lines; *l; l++) {
                g_auto(GStrv) f = g_strsplit(*l, "\t", 3);
                if (f[0] && f[1] && g_str_equal(f[1], key))
                        held = g_str_equal(f[0], "+");
        }
        return held;
}

START_TEST(test_unmovable) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "");
        g_autofree char *file = g_build_filename(rig.root, "proc/irq/35/smp_affinity_list", NULL);
        g_autofree char *file36 = g_build_filename(rig.root, "proc/irq/36/smp_affinity_list", NULL);

        /* An immutable file answers EPERM, as a managed IRQ does since Linux 6.12: 35 is a
         * queue IRQ of CPU 0 (housekeeping), 36 one of CPU 1 (an audio CPU). */
        run("chattr +i", file);
        run("chattr +i", file36);
        rig_manager(&rig);
        g_autofree char *kept = affinity(&rig, 35);
        ck_assert_str_eq(kept, "0");
        g_autoptr(GPtrArray) report = manager_irqs(rig.m);
        /* 35 is refused too, but kept on housekeeping: where it belongs, not "unmovable". */
        ck_assert_uint_eq(count_state(report, "unmovable"), 1);
        ck_assert_uint_eq(count_state(report, "pinned"), report->len - 1);
        const IrqReport *r = NULL;
        for (unsigned i = 0; i < report->len; i++)
                if (((IrqReport *) report->pdata[i])->irq->num == 36)
                        r = report->pdata[i];
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(r->reason && strstr(r->reason, "EPERM"), "%s", r->reason);
        /* A finding, as advice, for the one on an audio CPU only: the daemon keeps
         * working and the partition holds; one the kernel keeps on housekeeping anyway is
         * nothing to act on. */
        ck_assert_int_eq(manager_status(rig.m)->state, MANAGER_DEGRADED); /* the seed's boot line, not the IRQ */
        unsigned found = 0;
        for (unsigned i = 0; i < manager_status(rig.m)->findings->len; i++) {
                const Finding *f = manager_status(rig.m)->findings->pdata[i];
                if (g_str_equal(f->kind, "irq-unmovable")) {
                        found++;
                        ck_assert(!f->required);
                        ck_assert_str_eq(f->object, "36 nvme0q2");
                }
        }
        ck_assert_uint_eq(found, 1);
        /* A refused write changed nothing: no original of it for a revert to put back;
         * one that was taken keeps its original, and its device's name. */
        ck_assert(!journal_holds(&rig, "proc/irq/36/smp_affinity_list"));
        ck_assert(!journal_holds(&rig, "proc/irq/35/smp_affinity_list"));
        ck_assert(journal_holds(&rig, "proc/irq/37/smp_affinity_list"));
        ck_assert(journal_holds(&rig, "@irq name 37"));
        run("chattr -i", file36);

        /* Not retried every pass: writable again, it stays where it is until Apply. */
        run("chattr -i", file);
        manager_verify(rig.m);
        g_autofree char *still = affinity(&rig, 35);
        ck_assert_str_eq(still, "0");
        rig_stop(&rig);
}
END_TEST

/* A resume renumbers virtio's vectors: the number of a refused (managed) queue IRQ can
 * come back as another device's, which is moved like any other. Its folder is made again
 * with as many handlers, so only its handlers' names tell. */
START_TEST(test_unmovable_number_reused) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "");
        g_autofree char *file36 = g_build_filename(rig.root, "proc/irq/36/smp_affinity_list", NULL);
        run("chattr +i", file36);
        rig_manager(&rig);
        g_autoptr(GPtrArray) report = manager_irqs(rig.m);
        ck_assert_uint_eq(count_state(report, "unmovable"), 1);
        /* Refused: nothing of it kept, not its original and not which device it was. */
        ck_assert(!journal_holds(&rig, "proc/irq/36/smp_affinity_list"));
        ck_assert(!journal_holds(&rig, "@irq name 36"));
        run("chattr -i", file36);

        g_autofree char *queue = g_build_filename(rig.root, "proc/irq/36/nvme0q2", NULL);
        g_autofree char *nic = g_build_filename(rig.root, "proc/irq/36/virtio2-input.0", NULL);
        fixture_remove(queue);
        ck_assert_int_eq(g_mkdir_with_parents(nic, 0755), 0);
        set_affinity(&rig, 36, "3-5");
        manager_verify(rig.m);
        g_autofree char *now = affinity(&rig, 36);
        ck_assert_str_eq(now, "0,8");
        ck_assert(journal_holds(&rig, "proc/irq/36/smp_affinity_list"));
        g_autofree char *journal_path = g_build_filename(rig.run, "originals", NULL), *journal = NULL;
        ck_assert(g_file_get_contents(journal_path, &journal, NULL, NULL));
        ck_assert_msg(strstr(journal, "+\t@irq name 36\tvirtio2-input.0\n"), "%s", journal);
        for (unsigned i = 0; i < manager_status(rig.m)->findings->len; i++) {
                const Finding *f = manager_status(rig.m)->findings->pdata[i];
                ck_assert_msg(!g_str_has_prefix(f->object, "36 "), "%s %s: %s", f->kind, f->object, f->actual);
        }
        rig_stop(&rig);
}
END_TEST

START_TEST(test_drift_new_and_vanished) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "");
        rig_manager(&rig);

        /* Someone else moves an IRQ: the next verify puts it back and reports drift. */
        set_affinity(&rig, 24, "3-5");
        manager_verify(rig.m);
        g_autofree char *back = affinity(&rig, 24);
        ck_assert_str_eq(back, "0,8");
        ck_assert_uint_eq(manager_status(rig.m)->drift_corrections, 1);
        ck_assert_uint_eq(rig.drift->len, 1);
        ck_assert_str_eq(rig.drift->pdata[0], "irq 24 PCIe PME, aerdrv, pciehp: 3-5 -> 0,8");

        /* A new IRQ (a USB DAC plugged in) is pinned and announced. */
        fixture_write(rig.root, "proc/irq/200/smp_affinity_list", "0-15\n");
        fixture_write(rig.root, "proc/irq/200/effective_affinity_list", "5\n");
        g_autofree char *action = g_build_filename(rig.root, "proc/irq/200/snd_usb_audio", NULL);
        g_mkdir_with_parents(action, 0755);
        manager_verify(rig.m);
        g_autofree char *dac = affinity(&rig, 200);
        ck_assert_str_eq(dac, "0,8");
        ck_assert_uint_eq(rig.pinned->len, 1);
        ck_assert_str_eq(rig.pinned->pdata[0], "200@0,8");
        ck_assert_uint_eq(manager_status(rig.m)->drift_corrections, 1);

        /* A removed device's IRQ goes away: no error, no finding. */
        g_autofree char *gone = g_build_filename(rig.root, "proc/irq/200", NULL);
        fixture_remove(gone);
        ck_assert_int_eq(manager_verify(rig.m), 0);
        for (unsigned i = 0; i < manager_status(rig.m)->findings->len; i++)
                ck_assert(!g_str_has_prefix(((Finding *) manager_status(rig.m)->findings->pdata[i])->object, "200 "));
        rig_stop(&rig);
}
END_TEST

static void assert_same_tree(const char *a, const char *b) {
        g_autofree char *cmd = g_strdup_printf("diff -r '%s' '%s'", a, b);
        g_autofree char *out = NULL, *err = NULL;
        int status;
        ck_assert(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
        ck_assert_msg(g_spawn_check_wait_status(status, NULL), "trees differ:\n%.2000s%.500s", out, err);
}

START_TEST(test_revert_after_a_crash) {
        Rig rig = {};
        g_autoptr(GError) e = NULL;
        g_autofree char *pristine = fixture_new_root("ryzen-7700x");
        rig_prepare(&rig, "ryzen-7700x", "");

        /* A first daemon pins everything and dies without reverting. */
        rig_manager(&rig);
        manager_free(g_steal_pointer(&rig.m));
        /* A second one starts on the pinned machine: the originals on disk stay the
         * first daemon's, not the values it finds now. */
        rig_manager(&rig);
        ck_assert(manager_revert(rig.m, &e));
        ck_assert_int_eq(manager_status(rig.m)->state, MANAGER_REVERTED);
        assert_same_tree(pristine, rig.root);
        g_autofree char *saved = g_build_filename(rig.run, "originals", NULL);
        ck_assert(!g_file_test(saved, G_FILE_TEST_EXISTS));
        /* Reverted stays reverted: a verify writes nothing. */
        manager_verify(rig.m);
        assert_same_tree(pristine, rig.root);
        fixture_remove(pristine);
        rig_stop(&rig);
}
END_TEST

START_TEST(test_dry_run_writes_nothing) {
        Rig rig = {};
        g_autoptr(GError) e = NULL;
        g_autofree char *pristine = fixture_new_root("ryzen-7700x");
        rig_prepare(&rig, "ryzen-7700x", "");
        ManagerOptions o = { .root = rig.root, .config_path = rig.conf, .config_must_exist = true,
                             .runtime_dir = rig.run, .dry_run = true };
        ck_assert(manager_new(&o, &rig.m, &e) && manager_start(rig.m, &e));
        assert_same_tree(pristine, rig.root);
        ck_assert(!g_file_test(rig.run, G_FILE_TEST_EXISTS));
        fixture_remove(pristine);
        rig_stop(&rig);
}
END_TEST

/* The fields of /proc/PID/stat after flags, for a process that last ran on CPU 0. */
#define STAT_TAIL " 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"

START_TEST(test_irqbalance_is_a_finding) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "");
        /* Found by its executable; a process merely named irqbalance is not it. */
        const char *const procs[][2] = { { "4242", "irqbalance" }, { "4243", "bash" }, { "4244", "irqbalance" } };
        for (size_t i = 0; i < G_N_ELEMENTS(procs); i++) {
                g_autofree char *comm = g_strdup_printf("proc/%s/comm", procs[i][0]);
                g_autofree char *stat = g_strdup_printf("proc/%s/stat", procs[i][0]);
                g_autofree char *line = g_strdup_printf("%s (%s) S 1 %s %s 0 -1 4194560" STAT_TAIL "\n", procs[i][0],
                                                        procs[i][1], procs[i][0], procs[i][0]);
                g_autofree char *name = g_strdup_printf("%s\n", procs[i][1]);
                fixture_write(rig.root, comm, name);
                fixture_write(rig.root, stat, line);
        }
        g_autofree char *exe = g_build_filename(rig.root, "proc/4242/exe", NULL);
        g_autofree char *fake = g_build_filename(rig.root, "proc/4244/exe", NULL);
        ck_assert_int_eq(symlink("/usr/sbin/irqbalance", exe), 0);
        ck_assert_int_eq(symlink("/usr/bin/sleep", fake), 0);
        /* Its banned list leaves the audio CPUs to it (without one it would keep off the
         * kernel's isolated CPUs, which this machine has). */
        g_autofree char *environ = g_build_filename(rig.root, "proc/4242/environ", NULL);
        ck_assert(g_file_set_contents(environ, "LANG=C\0IRQBALANCE_BANNED_CPULIST=8\0", 35, NULL));
        rig_manager(&rig);
        const Finding *found = NULL;
        for (unsigned i = 0; i < manager_status(rig.m)->findings->len; i++)
                if (g_str_equal(((Finding *) manager_status(rig.m)->findings->pdata[i])->kind, "conflict"))
                        found = manager_status(rig.m)->findings->pdata[i];
        ck_assert_ptr_nonnull(found);
        ck_assert(found->required);
        ck_assert_str_eq(found->object, "irqbalance pid 4242");
        ck_assert_str_eq(found->actual, "running, banned CPUs 8");
        ck_assert_msg(strstr(found->message, "IRQBALANCE_BANNED_CPULIST=1-7,9-15") &&
                      strstr(found->message, "systemctl disable --now irqbalance"), "%s", found->message);
        rig_stop(&rig);
}
END_TEST

START_TEST(test_thread_priority) {
        /* A child of the test's own named like the irq/777-isotest kernel thread: it is no
         * kernel thread, and is never raised (the finder is tested on a fake root in
         * test-trust). */
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                prctl(PR_SET_NAME, "irq/777-isotest");
                pause();
                _exit(0);
        }
        g_usleep(50000);
        g_autoptr(Config) c = NULL;
        ck_assert_int_eq(config_load_data("[Irq test]\nMatch=isotest\nCPUs=0\nThreadPriority=7\n", "t", &c, NULL), 0);
        g_autoptr(Root) host = root_new("/");
        g_autoptr(Root) fake = root_new(fixture_root("ryzen-7700x"));
        g_autoptr(Topology) t = fixture_topology(fixture_root("ryzen-7700x"));
        g_autoptr(GPtrArray) irqs = g_ptr_array_new_with_free_func((GDestroyNotify) irq_free);
        Irq *irq = g_new0(Irq, 1);
        irq->num = 777;
        irq->actions = g_strsplit("isotest", ",", -1);
        irq->name = g_strdup("isotest");
        g_ptr_array_add(irqs, irq);

        /* Under a fake root nothing is touched, whatever PIDs it lists. */
        EnforcerContext ctx = { .root = fake, .config = c, .topology = t };
        irq_set_thread_priorities(&ctx, irqs);
        ck_assert_int_eq(sched_getscheduler(child), SCHED_OTHER);

        ctx.root = host;
        irq_set_thread_priorities(&ctx, irqs);
        ck_assert_int_eq(sched_getscheduler(child), SCHED_OTHER);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
}
END_TEST

/* A resume renumbers IRQs (virtio frees and requests its vectors again), udev renames a
 * new link: a revert gives each device its own original, and none to another. */
START_TEST(test_originals_follow_devices) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "");
        rig_manager(&rig);
        g_autofree char *pinned = affinity(&rig, 36);
        ck_assert_str_eq(pinned, "0,8");
        /* 36 and 37 trade devices; 38's device goes and another takes its number. */
        g_autofree char *q2 = g_build_filename(rig.root, "proc/irq/36/nvme0q2", NULL);
        g_autofree char *q3 = g_build_filename(rig.root, "proc/irq/37/nvme0q3", NULL);
        g_autofree char *q2_at_37 = g_build_filename(rig.root, "proc/irq/37/nvme0q2", NULL);
        g_autofree char *q3_at_36 = g_build_filename(rig.root, "proc/irq/36/nvme0q3", NULL);
        g_autofree char *q4 = g_build_filename(rig.root, "proc/irq/38/nvme0q4", NULL);
        g_autofree char *other = g_build_filename(rig.root, "proc/irq/38/newdev", NULL);
        ck_assert_int_eq(rename(q2, q2_at_37), 0);
        ck_assert_int_eq(rename(q3, q3_at_36), 0);
        ck_assert_int_eq(rename(q4, other), 0);
        /* The link the fixture calls enp5s0 was renamed (its ifindex stays). */
        g_autofree char *nic = g_build_filename(rig.root, "sys/class/net/enp5s0", NULL);
        g_autofree char *renamed = g_build_filename(rig.root, "sys/class/net/ens5", NULL);
        ck_assert_int_eq(rename(nic, renamed), 0);
        g_autoptr(GError) e = NULL;
        ck_assert_msg(manager_revert(rig.m, &e), "%s", e ? e->message : "");
        g_autofree char *at36 = affinity(&rig, 36), *at37 = affinity(&rig, 37), *at38 = affinity(&rig, 38);
        ck_assert_str_eq(at36, "2");   /* nvme0q3's, which was 37 */
        ck_assert_str_eq(at37, "1");   /* nvme0q2's, which was 36 */
        ck_assert_str_eq(at38, "0,8"); /* nvme0q4 is gone: newdev gets nothing of it */
        g_autoptr(Root) root = root_new(rig.root);
        g_autofree char *rps = NULL;
        ck_assert_int_eq(root_read_line(root, "sys/class/net/ens5/queues/rx-0/rps_cpus", &rps), 0);
        ck_assert_str_eq(rps, "0000"); /* the link's own, back under its new name */
        ck_assert_uint_eq(manager_status(rig.m)->saved_originals, 0);
        rig_stop(&rig);
}
END_TEST

/* [Irq] ThreadPriority= raises the IRQ threads of the rule's IRQs; a revert gives each
 * its policy back (on a fake root the threads are its proc/PID/stat lines). */
START_TEST(test_thread_priority_reverted) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "[Irq dac]\nMatch=xhci_hcd\nCPUs=diretta\nThreadPriority=80\n");
        rig_manager(&rig);
        g_autoptr(Root) root = root_new(rig.root);
        g_autoptr(GArray) pids = task_find_kthreads(root, "irq/");
        unsigned raised = 0, others = 0;
        for (unsigned i = 0; i < pids->len; i++) {
                pid_t pid = g_array_index(pids, pid_t, i);
                TaskStat st;
                int policy, priority;
                ck_assert_int_eq(task_read_stat(root, pid, 0, &st), 0);
                ck_assert_int_eq(task_get_sched(root, pid, &policy, &priority), 0);
                ck_assert_int_eq(policy, SCHED_FIFO);
                if (strstr(st.comm, "xhci_hcd")) {
                        ck_assert_int_eq(priority, 80);
                        raised++;
                } else {
                        ck_assert_int_eq(priority, 50);
                        others++;
                }
        }
        ck_assert_uint_eq(raised, 4);
        ck_assert_uint_gt(others, 0);
        g_autoptr(GError) e = NULL;
        ck_assert_msg(manager_revert(rig.m, &e), "%s", e ? e->message : "");
        for (unsigned i = 0; i < pids->len; i++) {
                int policy, priority;
                ck_assert_int_eq(task_get_sched(root, g_array_index(pids, pid_t, i), &policy, &priority), 0);
                ck_assert_int_eq(policy, SCHED_FIFO);
                ck_assert_int_eq(priority, 50);
        }
        rig_stop(&rig);
}
END_TEST

static int thread_priority_of(const Root *root, unsigned irq) {
        g_autofree char *prefix = g_strdup_printf("irq/%u-", irq);
        g_autoptr(GArray) pids = task_find_kthreads(root, prefix);
        int policy, priority;
        ck_assert_uint_eq(pids->len, 1);
        ck_assert_int_eq(task_get_sched(root, g_array_index(pids, pid_t, 0), &policy, &priority), 0);
        ck_assert_int_eq(policy, SCHED_FIFO);
        return priority;
}

/* A USB DAC plugged into the controller of IRQ 31: a link in
 * sys/bus/usb/drivers/snd-usb-audio to its interface below the controller's PCI device. */
static void plug_dac(const Rig *rig, bool in) {
        g_autofree char *pci = g_build_filename(rig->root, "sys/devices/pci0000:00/0000:0e:00.3", NULL);
        g_autofree char *iface = g_build_filename(pci, "usb3/3-1/3-1:1.0", NULL);
        g_autofree char *drivers = g_build_filename(rig->root, "sys/bus/usb/drivers/snd-usb-audio", NULL);
        g_autofree char *link = g_build_filename(drivers, "3-1:1.0", NULL);
        if (!in) {
                ck_assert_int_eq(unlink(link), 0);
                return;
        }
        ck_assert_int_eq(g_mkdir_with_parents(iface, 0755), 0);
        fixture_write(pci, "msi_irqs/31", "msi\n");
        fixture_write(pci, "irq", "0\n");
        ck_assert_int_eq(g_mkdir_with_parents(drivers, 0755), 0);
        ck_assert_int_eq(symlink("../../../../devices/pci0000:00/0000:0e:00.3/usb3/3-1/3-1:1.0", link), 0);
        /* What the driver folder holds besides its devices. */
        g_autofree char *module = g_build_filename(drivers, "module", NULL);
        if (!g_file_test(module, G_FILE_TEST_IS_SYMLINK))
                ck_assert_int_eq(symlink("../../../../module/snd_usb_audio", module), 0);
}

/* [Irq] Driver=snd-usb-audio follows the DAC: its controller's IRQ thread is raised
 * when the DAC binds (a device event, the controller's IRQ long known), given back when
 * it goes, and a revert restores it; the other controllers are left alone. */
START_TEST(test_thread_priority_follows_driver) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "[Irq dac]\nDriver=snd-usb-audio\nCPUs=housekeeping\nThreadPriority=85\n");
        rig_manager(&rig);
        g_autoptr(Root) root = root_new(rig.root);
        ck_assert_int_eq(thread_priority_of(root, 31), 50);

        plug_dac(&rig, true);
        manager_event(rig.m, &(Trigger) { .kind = TRIGGER_DEVICE, .count = 1 });
        ck_assert_int_eq(thread_priority_of(root, 31), 85);
        for (unsigned other = 30; other <= 33; other++)
                if (other != 31)
                        ck_assert_int_eq(thread_priority_of(root, other), 50);
        g_autofree char *aff = affinity(&rig, 31);
        ck_assert_str_eq(aff, "0,8");
        g_autoptr(GPtrArray) report = manager_irqs(rig.m);
        for (unsigned i = 0; i < report->len; i++) {
                const IrqReport *r = report->pdata[i];
                if (r->irq->num == 31)
                        ck_assert_msg(r->irq->drivers && g_strv_contains((const char *const *) r->irq->drivers,
                                                                         "snd-usb-audio"), "IRQ 31 serves no DAC");
        }

        plug_dac(&rig, false);
        manager_event(rig.m, &(Trigger) { .kind = TRIGGER_DEVICE, .count = 1 });
        ck_assert_int_eq(thread_priority_of(root, 31), 50);

        plug_dac(&rig, true);
        manager_event(rig.m, &(Trigger) { .kind = TRIGGER_DEVICE, .count = 1 });
        ck_assert_int_eq(thread_priority_of(root, 31), 85);
        g_autoptr(GError) e = NULL;
        ck_assert_msg(manager_revert(rig.m, &e), "%s", e ? e->message : "");
        ck_assert_int_eq(thread_priority_of(root, 31), 50);
        rig_stop(&rig);
}
END_TEST

/* An IRQ the watch saw on an audio CPU (TRIGGER_IRQ) is read alone: one allowed there
 * against its target is put back at once, while one a Driver= rule places there stays
 * (its drivers are read too, or its target would be housekeeping's). */
START_TEST(test_irq_seen_on_audio_cpu) {
        Rig rig = {};
        rig_prepare(&rig, "ryzen-7700x", "[Irq dac]\nDriver=snd-usb-audio\nCPUs=2\n");
        rig_manager(&rig);
        plug_dac(&rig, true);
        manager_event(rig.m, &(Trigger) { .kind = TRIGGER_DEVICE, .count = 1 });
        g_autofree char *ruled = affinity(&rig, 31);
        ck_assert_str_eq(ruled, "2");

        manager_event(rig.m, &(Trigger) { .kind = TRIGGER_IRQ, .irq = 31 });
        g_autofree char *stays = affinity(&rig, 31);
        ck_assert_str_eq(stays, "2");

        set_affinity(&rig, 30, "3");
        manager_event(rig.m, &(Trigger) { .kind = TRIGGER_IRQ, .irq = 30 });
        g_autofree char *back = affinity(&rig, 30);
        ck_assert_str_eq(back, "0,8");
        rig_stop(&rig);
}
END_TEST

/* The set a device event compares with: any number, the bits grown as they come (those
 * past IRQ_NUM_MAX kept apart), emptied keeping its memory. */
START_TEST(test_irq_set) {
        static const unsigned nums[] = { 0, 1, 63, 64, 65, 4095, 70000, IRQ_NUM_MAX - 1, IRQ_NUM_MAX, UINT32_MAX };
        IrqSet s = {};
        ck_assert(!irq_set_has(&s, 0));
        for (size_t i = 0; i < G_N_ELEMENTS(nums); i++) {
                irq_set_add(&s, nums[i]);
                for (size_t j = 0; j < G_N_ELEMENTS(nums); j++)
                        ck_assert_int_eq(irq_set_has(&s, nums[j]), j <= i);
                ck_assert(!irq_set_has(&s, 2));
        }
        size_t words = s.words;
        irq_set_clear(&s);
        ck_assert_uint_eq(s.words, words);
        for (size_t i = 0; i < G_N_ELEMENTS(nums); i++)
                ck_assert(!irq_set_has(&s, nums[i]));
        irq_set_free(&s);
        ck_assert(!irq_set_has(&s, 64));
}
END_TEST

int main(void) {
        static const char *const machines[] = { "ryzen-7700x", "mini-2cpu", "server-256", NULL };
        Suite *s = suite_create("irq");
        TCase *pure = tcase_create("pure");
        TCase *enforcer = tcase_create("enforcer");

        tcase_add_test(pure, test_interrupts_parse);
        tcase_add_test(pure, test_irq_set);
        tcase_add_test(pure, test_scan);
        tcase_add_test(pure, test_names_trusted);
        tcase_add_test(pure, test_rules);
        tcase_add_test(enforcer, test_pin_all_ryzen);
        tcase_add_test(enforcer, test_pin_all_server);
        tcase_add_test(enforcer, test_rule_routes_xhci_to_diretta);
        tcase_add_test(enforcer, test_unmovable);
        tcase_add_test(enforcer, test_unmovable_number_reused);
        tcase_add_test(enforcer, test_drift_new_and_vanished);
        tcase_add_test(enforcer, test_revert_after_a_crash);
        tcase_add_test(enforcer, test_dry_run_writes_nothing);
        tcase_add_test(enforcer, test_thread_priority_follows_driver);
        tcase_add_test(enforcer, test_irq_seen_on_audio_cpu);
        tcase_add_test(enforcer, test_irqbalance_is_a_finding);
        tcase_add_test(enforcer, test_thread_priority);
        tcase_add_test(enforcer, test_originals_follow_devices);
        tcase_add_test(enforcer, test_thread_priority_reverted);
        tcase_set_timeout(enforcer, 120);
        suite_add_tcase(s, pure);
        suite_add_tcase(s, enforcer);
        return test_run(s, machines);
}
