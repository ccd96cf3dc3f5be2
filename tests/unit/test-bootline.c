/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The boot line as isolatord writes it for a bootloader and reads it back
 * (daemon/model/bootline.c): hostile lines refused, the grub.d snippet rendered and
 * recognised, /etc/kernel/cmdline merged, generated grub.cfg and BLS entries read. */
#include <string.h>

#include "model/bootline.h"
#include "model/bootparams.h"
#include "testlib.h"

#define SEED_LINE "isolcpus=managed_irq,domain,1-7,9-15 nohz_full=1-7,9-15 rcu_nocbs=1-7,9-15 " \
                  "irqaffinity=0,8 kthread_cpus=0,8 skew_tick=1 nosoftlockup"

static void refused(const char *line, const char *why) {
        g_autoptr(GError) e = NULL;
        g_auto(GStrv) params = bootline_parse(line, &e);
        ck_assert_msg(params == NULL, "\"%s\" was taken", line);
        ck_assert_msg(strstr(e->message, why), "\"%s\": \"%s\" does not say \"%s\"", line, e->message, why);
}

START_TEST(test_parse_planned) {
        g_autoptr(Config) c = config_new_default();
        g_autoptr(GPtrArray) items = bootparams_plan(c);
        g_autofree char *all = bootparams_line(items, true);
        g_autoptr(GError) e = NULL;

        /* Every line isolatord plans is a line it may write. */
        g_auto(GStrv) params = bootline_parse(all, &e);
        ck_assert_msg(params, "%s", e ? e->message : "");
        ck_assert_uint_eq(g_strv_length(params), items->len);
        g_auto(GStrv) seed = bootline_parse(SEED_LINE "\n", &e);
        ck_assert_uint_eq(g_strv_length(seed), 7);
        ck_assert_str_eq(seed[6], "nosoftlockup");
        g_auto(GStrv) stride = bootline_parse("nohz_full=0-15:2/4 isolcpus=nohz,3", &e);
        ck_assert_ptr_nonnull(stride);
}
END_TEST

START_TEST(test_parse_hostile) {
        g_autofree char *long_line = g_strnfill(BOOTLINE_MAX + 1, 'a');

        refused("", "1 to");
        refused(long_line, "1 to");
        refused("init=/bin/sh", "not a parameter isolatord plans");
        refused("root=/dev/sda1", "not a parameter isolatord plans");
        refused("nohz_full=1\" init=/bin/sh", "byte 11");
        refused("nohz_full=1$(reboot)", "byte 11");
        refused("nohz_full=1`id`", "byte 11");
        refused("nohz_full=1;reboot", "byte 11");
        refused("nohz_full=1\nGRUB_DISABLE_LINUX_UUID=true", "byte 11");
        refused("nohz_full=1\\", "byte 11");
        refused("nohz_full=1  nosoftlockup", "byte 11");
        refused(" nosoftlockup", "byte 0");
        refused("NOSOFTLOCKUP", "byte 0");
        refused("nosoftlockup=1", "takes no value");
        refused("nohz_full", "needs a value");
        refused("nohz_full=", "needs a value");
        refused("nohz_full=7-3", "not a CPU list");
        refused("nohz_full=1,,2", "not a CPU list");
        refused("irqaffinity=99999", "not a CPU list");
        refused("isolcpus=managed_irq,domain", "not flags and a CPU list");
        refused("isolcpus=managed_irq,io_queue,1", "\"io_queue\" is not a flag");
        refused("isolcpus=managed_irq,,1", "not flags and a CPU list");
        refused("isolcpus=1,", "not flags and a CPU list");
        refused("skew_tick=0", "only ever sets skew_tick=1");
        refused("audit=1", "only ever sets audit=0");
        refused("nohz_full=1 nohz_full=1", "given twice");
        refused("nosoftlockup nosoftlockup", "given twice");
}
END_TEST

START_TEST(test_grub_snippet) {
        g_autoptr(GError) e = NULL;
        g_auto(GStrv) params = bootline_parse(SEED_LINE, &e);
        g_autofree char *text = bootline_grub_render(params);

        ck_assert(g_str_has_prefix(text, BOOTLINE_GRUB_MARKER "\n"));
        ck_assert_msg(strstr(text, "\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT " SEED_LINE "\"\n"),
                      "%s", text);
        g_auto(GStrv) back = bootline_grub_parse(text, &e);
        ck_assert_msg(back, "%s", e ? e->message : "");
        ck_assert(g_strv_equal((const char *const *) back, (const char *const *) params));

        /* Anything else is someone else's file. */
        static const char *const others[] = {
                "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT nosoftlockup\"\n",
                BOOTLINE_GRUB_MARKER "\n",
                BOOTLINE_GRUB_MARKER "\nGRUB_CMDLINE_LINUX_DEFAULT=\"nosoftlockup\"\n",
                BOOTLINE_GRUB_MARKER "\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT nosoftlockup\"\n"
                "GRUB_TIMEOUT=0\n",
                BOOTLINE_GRUB_MARKER "\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT nosoftlockup\"\n"
                "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT nowatchdog\"\n",
                BOOTLINE_GRUB_MARKER "\nGRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT init=/bin/sh\"\n",
                "",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(others); i++) {
                g_autoptr(GError) e2 = NULL;
                g_auto(GStrv) p = bootline_grub_parse(others[i], &e2);
                ck_assert_msg(p == NULL, "taken as isolatord's: %s", others[i]);
                ck_assert_ptr_nonnull(e2);
        }
}
END_TEST

START_TEST(test_kernel_cmdline) {
        g_autoptr(GError) e = NULL;
        g_auto(GStrv) params = bootline_parse("isolcpus=managed_irq,domain,1 nohz_full=1 nosoftlockup", &e);
        static const struct {
                const char *base;
                const char *merged;
        } cases[] = {
                { "root=UUID=1234 ro quiet\n", "root=UUID=1234 ro quiet isolcpus=managed_irq,domain,1 nohz_full=1 nosoftlockup\n" },
                /* isolatord's keys are replaced wherever they stand; the rest is kept as it was. */
                { "root=UUID=1 isolcpus=2-3  ro nohz_full=2 dyndbg=\"file a.c +p\" nosoftlockup\n",
                  "root=UUID=1 ro dyndbg=\"file a.c +p\" isolcpus=managed_irq,domain,1 nohz_full=1 nosoftlockup\n" },
                /* Before "--": what follows is init's, kept whole. */
                { "root=/dev/vda ro -- single nohz_full=3", "root=/dev/vda ro isolcpus=managed_irq,domain,1 nohz_full=1 "
                                                            "nosoftlockup -- single nohz_full=3\n" },
                { "", "isolcpus=managed_irq,domain,1 nohz_full=1 nosoftlockup\n" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *merged = bootline_cmdline_merge(cases[i].base, params);
                ck_assert_str_eq(merged, cases[i].merged);
        }
        g_autofree char *proc = bootline_cmdline_from_proc("BOOT_IMAGE=/vmlinuz-6.1 root=/dev/vda ro initrd=\\initrd quiet\n");
        ck_assert_str_eq(proc, "root=/dev/vda ro quiet");
        g_autofree char *key = bootline_token_key("\"dyndbg=file a.c\"");
        ck_assert_str_eq(key, "dyndbg");
}
END_TEST

/* The shape Debian's grub-mkconfig gives: a first entry, then "Advanced options" with
 * each kernel and its recovery entry. */
static const char grub_cfg[] =
        "### BEGIN /etc/grub.d/10_linux ###\n"
        "menuentry 'Debian GNU/Linux' --class debian --class gnu-linux $menuentry_id_option 'gnulinux-simple-1' {\n"
        "\tload_video\n"
        "\tlinux\t/boot/vmlinuz-6.1.0-rt-amd64 root=UUID=1 ro  quiet isolcpus=managed_irq,domain,1 nohz_full=1\n"
        "\tinitrd\t/boot/initrd.img-6.1.0-rt-amd64\n"
        "}\n"
        "submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-1' {\n"
        "\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-rt-amd64' --class debian {\n"
        "\t\tlinux\t/boot/vmlinuz-6.1.0-rt-amd64 root=UUID=1 ro  quiet isolcpus=managed_irq,domain,1 nohz_full=1\n"
        "\t}\n"
        "\tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-rt-amd64 (recovery mode)' --class debian {\n"
        "\t\tlinux\t/boot/vmlinuz-6.1.0-rt-amd64 root=UUID=1 ro single\n"
        "\t}\n"
        "\tmenuentry \"Debian GNU/Linux, with Linux 6.1.0-amd64\" --class debian {\n"
        "\t\tlinuxefi /boot/vmlinuz-6.1.0-amd64 root=UUID=1 ro quiet\n"
        "\t}\n"
        "}\n"
        "menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {\n"
        "\tfwsetup\n"
        "}\n";

START_TEST(test_grub_cfg) {
        g_autoptr(GPtrArray) entries = bootline_grub_cfg_entries(grub_cfg);
        g_autoptr(GError) e = NULL;
        g_auto(GStrv) params = bootline_parse("isolcpus=managed_irq,domain,1 nohz_full=1", &e);

        ck_assert_uint_eq(entries->len, 4);
        BootEntry *first = entries->pdata[0], *recovery = entries->pdata[2], *stock = entries->pdata[3];
        ck_assert_str_eq(first->title, "Debian GNU/Linux");
        ck_assert_str_eq(first->cmdline, "root=UUID=1 ro  quiet isolcpus=managed_irq,domain,1 nohz_full=1");
        ck_assert(!first->recovery);
        ck_assert(recovery->recovery);
        ck_assert_str_eq(stock->title, "Debian GNU/Linux, with Linux 6.1.0-amd64");
        ck_assert_str_eq(stock->cmdline, "root=UUID=1 ro quiet");
        /* Every entry's title, also one that boots no Linux. */
        g_auto(GStrv) titles = bootline_grub_cfg_titles(grub_cfg);
        ck_assert_uint_eq(g_strv_length(titles), 5);
        ck_assert_str_eq(titles[4], "UEFI Firmware Settings");

        g_auto(GStrv) none = bootline_lacks(params, first->cmdline);
        ck_assert_ptr_null(none[0]);
        g_auto(GStrv) both = bootline_lacks(params, stock->cmdline);
        ck_assert_uint_eq(g_strv_length(both), 2);
        /* CPU lists compare as sets; another value is lacking too. */
        g_auto(GStrv) sets = bootline_lacks(params, "nohz_full=1-1 isolcpus=domain,managed_irq,1");
        ck_assert_ptr_null(sets[0]);
        g_auto(GStrv) other = bootline_lacks(params, "nohz_full=2 isolcpus=managed_irq,domain,1");
        ck_assert_uint_eq(g_strv_length(other), 1);
        ck_assert_str_eq(other[0], "nohz_full=1");
}
END_TEST

/* Which entry GRUB boots: grub-mkconfig's header (GRUB_DEFAULT as a number, a title,
 * an id or "saved") and grubenv's saved_entry and next_entry. */
static const char grub_header_saved[] =
        "function load_video {\n"
        "  insmod all_video\n"
        "}\n"
        "if [ -s $prefix/grubenv ]; then\n"
        "  load_env\n"
        "fi\n"
        "if [ \"${next_entry}\" ] ; then\n"
        "   set default=\"${next_entry}\"\n"
        "   set next_entry=\n"
        "else\n"
        "   set default=\"${saved_entry}\"\n"
        "fi\n";

static int grub_default(const char *header, const char *grubenv, char **how) {
        g_autofree char *cfg = g_strconcat(header, grub_cfg, NULL);
        return bootline_grub_default(cfg, grubenv, how);
}

START_TEST(test_grub_default) {
        static const char env_saved[] = "# GRUB Environment Block\nsaved_entry=gnulinux-advanced-1>"
                                        "Debian GNU/Linux, with Linux 6.1.0-amd64\n####\n";
        g_autofree char *how = NULL;
        g_autofree char *numbered = NULL, *by_title = NULL, *once = NULL, *none = NULL, *missing = NULL,
                        *firmware = NULL, *submenu = NULL, *unread = NULL, *unsaved = NULL;

        /* Debian's default: set default="0". */
        ck_assert_int_eq(grub_default("set default=\"0\"\n", NULL, &how), 0);
        ck_assert_str_eq(how, "GRUB_DEFAULT=0");
        /* "1>2": the submenu's third entry, the stock kernel (index 3 of the kernels). */
        ck_assert_int_eq(grub_default("set default=\"1>2\"\n", NULL, &numbered), 3);
        /* A title path, and the recovery entry is what it names. */
        ck_assert_int_eq(grub_default("set default=\"Advanced options for Debian GNU/Linux>Debian GNU/Linux, with "
                                      "Linux 6.1.0-rt-amd64 (recovery mode)\"\n", NULL, &by_title), 2);
        /* GRUB_DEFAULT=saved: grub-set-default's entry, by id and title. */
        g_clear_pointer(&how, g_free);
        ck_assert_int_eq(grub_default(grub_header_saved, env_saved, &how), 3);
        ck_assert(strstr(how, "saved_entry") != NULL);
        /* grub-reboot's next_entry wins, for one boot. */
        ck_assert_int_eq(grub_default(grub_header_saved, "saved_entry=1>2\nnext_entry=0\n", &once), 0);
        ck_assert(strstr(once, "next_entry") != NULL);
        /* saved, with nothing saved (or no grubenv at all): the first entry. */
        ck_assert_int_eq(grub_default(grub_header_saved, NULL, &unsaved), 0);
        ck_assert(strstr(unsaved, "first entry") != NULL);
        /* No default at all, and one that names no entry: the first entry, said. */
        ck_assert_int_eq(grub_default("", NULL, &none), 0);
        ck_assert_int_eq(grub_default("set default=\"Debian GNU/Linux, with Linux 5.10\"\n", NULL, &missing), 0);
        ck_assert(strstr(missing, "names no entry") != NULL);
        /* A submenu alone boots its first entry. */
        ck_assert_int_eq(grub_default("set default=\"gnulinux-advanced-1\"\n", NULL, &submenu), 1);
        /* The firmware's settings boot no Linux kernel. */
        ck_assert_int_eq(grub_default("set default=\"uefi-firmware\"\n", NULL, &firmware), -1);
        ck_assert(strstr(firmware, "UEFI Firmware Settings") != NULL);
        /* A default made of other variables is not evaluated. */
        ck_assert_int_eq(grub_default("set default=\"${chosen}\"\n", NULL, &unread), 0);
        ck_assert(strstr(unread, "not read") != NULL);
        /* GRUB's own reading, level by level: a submenu boots its first entry when the
         * rest names none there; a path past a plain entry boots that entry; a number is
         * strtoul's (hex too). */
        g_autofree char *in_sub = NULL, *gone = NULL, *past = NULL, *hex = NULL;
        ck_assert_int_eq(grub_default("set default=\"1>9\"\n", NULL, &in_sub), 1);
        ck_assert(strstr(in_sub, "in its submenu") != NULL);
        ck_assert_int_eq(grub_default("set default=\"Advanced options for Debian GNU/Linux>Debian GNU/Linux, with "
                                      "Linux 5.10.0-rt-amd64\"\n", NULL, &gone), 1);
        ck_assert_int_eq(grub_default("set default=\"0>1\"\n", NULL, &past), 0);
        ck_assert_int_eq(grub_default("set default=\"0x1>0x2\"\n", NULL, &hex), 3);
        /* ">>" is a ">" of a title; a quote in a title as grub-mkconfig writes it. */
        g_autofree char *escaped = NULL, *quoted = NULL;
        ck_assert_int_eq(bootline_grub_default("menuentry 'a' {\n linux /v ro\n}\n"
                                               "menuentry 'b>c' {\n linux /v quiet\n}\n"
                                               "set default=\"b>>c\"\n", NULL, &escaped), 1);
        g_autoptr(GPtrArray) q = bootline_grub_cfg_entries("menuentry 'Debian, it'\\''s' --id 'x y' {\n linux /v ro\n}\n");
        ck_assert_uint_eq(q->len, 1);
        ck_assert_str_eq(((BootEntry *) q->pdata[0])->title, "Debian, it's");
        ck_assert_int_eq(bootline_grub_default("menuentry 'Debian, it'\\''s' --id 'x y' {\n linux /v ro\n}\n"
                                               "set default=\"x y\"\n", NULL, &quoted), 0);
        ck_assert(strstr(quoted, "names no entry") == NULL);
        /* A hostile grub.cfg: braces opened and never closed, far more entries than any
         * menu has: the menu cut at its bound (and read a line at a time: g_strsplit is
         * quadratic under ASan, whose strstr measures the rest of the text each time). */
        GString *many = g_string_new(NULL);
        for (int i = 0; i < 20000; i++)
                g_string_append(many, "submenu 'a' {\nmenuentry 'b' {\n linux /v ro\n");
        g_autoptr(GPtrArray) bounded = bootline_grub_cfg_entries(many->str);
        ck_assert_uint_le(bounded->len, 4096);
        g_auto(GStrv) bounded_titles = bootline_grub_cfg_titles(many->str);
        ck_assert_uint_le(g_strv_length(bounded_titles), 4096);
        g_string_free(many, true);
        /* A title holding "--id" is not read as an id; a default inside a function is not GRUB's. */
        g_autofree char *odd = NULL;
        ck_assert_int_eq(bootline_grub_default("function f {\n set default=\"1\"\n}\n"
                                               "menuentry 'a --id x' {\n linux /v ro\n}\n"
                                               "menuentry 'b' --id x {\n linux /v quiet\n}\n"
                                               "set default=\"x\"\n", NULL, &odd), 1);
}
END_TEST

START_TEST(test_bls_entry) {
        g_autoptr(BootEntry) e = bootline_bls_entry("# Boot Loader Specification type#1 entry\n"
                                                    "title      Debian GNU/Linux 12 (bookworm)\n"
                                                    "version    6.1.0-rt-amd64\n"
                                                    "machine-id 0123\n"
                                                    "options    root=UUID=1 ro quiet\n"
                                                    "options    nohz_full=1\n"
                                                    "linux      /0123/6.1.0-rt-amd64/linux\n"
                                                    "initrd     /0123/6.1.0-rt-amd64/initrd.img-6.1.0-rt-amd64\n");
        ck_assert_ptr_nonnull(e);
        ck_assert_str_eq(e->title, "Debian GNU/Linux 12 (bookworm)");
        ck_assert_str_eq(e->cmdline, "root=UUID=1 ro quiet nohz_full=1");
        ck_assert_ptr_null(bootline_bls_entry("title x\noptions quiet\n"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("bootline");
        TCase *tc = tcase_create("bootline");

        tcase_add_test(tc, test_parse_planned);
        tcase_add_test(tc, test_parse_hostile);
        tcase_add_test(tc, test_grub_snippet);
        tcase_add_test(tc, test_kernel_cmdline);
        tcase_add_test(tc, test_grub_cfg);
        tcase_add_test(tc, test_grub_default);
        tcase_add_test(tc, test_bls_entry);
        suite_add_tcase(s, tc);
        return test_run(s, NULL);
}
