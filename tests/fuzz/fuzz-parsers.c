/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One fuzz target for every parser that reads text from outside: CPU lists and masks
 * (also what a stranger sends over the bus), configuration files, the kernel command
 * line, a kernel .config, /proc/interrupts, /proc/schedstat and /proc/PID/stat. What parses must format
 * back and parse to the same value. Built for libFuzzer with -Dfuzzing=true (clang);
 * always built as a corpus replay (fuzz-main.c) that tools/check runs. */
#include <assert.h>
#include <glib.h>
#include <stdint.h>

#include "bootparams.h"
#include "config.h"
#include "cpuset.h"
#include "irq.h"
#include "kconfig.h"
#include "log.h"
#include "noise.h"
#include "task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autofree char *text = g_strndup((const char *) data, size);
        CpuSet set, back;
        CpuSetError err;

        log_set_max_level(0);
        if (cpuset_parse_list(text, &set, &err) == 0) {
                g_autofree char *list = cpuset_format_list(&set);
                assert(cpuset_parse_list(list, &back, NULL) == 0 && cpuset_equal(&set, &back));
        } else {
                assert(err.pos <= size);
        }
        if (cpuset_parse_mask(text, &set, &err) == 0) {
                g_autofree char *mask = cpuset_format_mask(&set, 0);
                assert(cpuset_parse_mask(mask, &back, NULL) == 0 && cpuset_equal(&set, &back));
        }
        Config *c = NULL;
        GError *e = NULL;
        if (config_load_data(text, "fuzz", &c, &e) == 0) {
                g_autofree char *again = config_to_text(c, NULL);
                Config *c2 = NULL;
                assert(config_load_data(again, "fuzz", &c2, NULL) == 0);
                config_free(c2);
                config_free(c);
        } else {
                g_clear_error(&e);
        }
        g_strfreev(bootparams_tokenize(text));
        g_hash_table_unref(kconfig_parse(text));
        interrupt_table_free(interrupts_parse(text));
        g_hash_table_unref(schedstat_parse(text));
        TaskStat st;
        if (task_parse_stat(text, &st) == 0)
                assert(st.comm[sizeof st.comm - 1] == '\0');
        return 0;
}
