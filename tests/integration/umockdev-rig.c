/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "umockdev-rig.h"

double rig_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool name_owned(sd_bus *bus) {
        sd_bus_message *reply = NULL;
        int owned = 0;
        if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", NULL, &reply, "s", "org.rtaudio.Isolator") >= 0)
                sd_bus_message_read(reply, "b", &owned);
        sd_bus_message_unref(reply);
        return owned;
}

bool rig_start(Rig *rig, const char *work, const char *config) {
        const char *isolatord = g_getenv("ISOLATORD");
        g_autofree char *conf = g_build_filename(work, "isolatord.conf", NULL);
        g_autoptr(GError) e = NULL;
        /* The runtime folder on tmpfs, as /run is: saving an original is part of each
         * pin, and a synced append on the build disk would be most of what is timed. */
        rig->run = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? g_strdup("/dev/shm/isolatord-rig-run-XXXXXX")
                                                                : g_build_filename(work, "run-XXXXXX", NULL);
        if (!g_mkdtemp(rig->run)) {
                fprintf(stderr, "cannot create %s\n", rig->run);
                return false;
        }
        const char *run = rig->run;

        rig->tb = umockdev_testbed_new();
        rig->root = g_build_filename(work, "root", NULL);
        rig->log = g_build_filename(work, "daemon.log", NULL);
        if (config)
                g_file_set_contents(conf, config, -1, NULL);
        /* The daemon sees the testbed: UMOCKDEV_DIR is in our environment now, and the
         * preload came with umockdev-wrapper. */
        g_autofree char *shell = g_strdup_printf("exec '%s' --root '%s' --config '%s' --runtime-dir '%s' >'%s' 2>&1",
                                                 isolatord, rig->root, conf, run, rig->log);
        const char *argv[] = { "/bin/sh", "-c", shell, NULL };
        if (!g_spawn_async(NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &rig->pid, &e)) {
                fprintf(stderr, "cannot start isolatord: %s\n", e->message);
                return false;
        }
        if (sd_bus_open_system(&rig->bus) < 0)
                return false;
        for (int i = 0; i < 200 && !name_owned(rig->bus); i++)
                g_usleep(50000);
        /* It applies the partition once it owns the name; a call returns after that. */
        return name_owned(rig->bus) &&
               sd_bus_call_method(rig->bus, "org.rtaudio.Isolator", "/org/rtaudio/Isolator", "org.rtaudio.Isolator1",
                                  "GetStatus", NULL, NULL, "") >= 0;
}

void rig_remove_run(Rig *rig) {
        if (!rig->run)
                return;
        const char *argv[] = { "rm", "-rf", "--", rig->run, NULL };
        g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
        g_clear_pointer(&rig->run, g_free);
}

bool rig_stop(Rig *rig) {
        int status = 0;
        kill(rig->pid, SIGTERM);
        waitpid(rig->pid, &status, 0);
        sd_bus_flush_close_unref(rig->bus);
        g_clear_object(&rig->tb);
        rig_remove_run(rig);
        g_free(rig->root);
        g_free(rig->log);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void rig_print_log(const Rig *rig) {
        g_autofree char *text = NULL;
        g_file_get_contents(rig->log, &text, NULL, NULL);
        fprintf(stderr, "isolatord's log:\n%s\n", text ? text : "");
}

char *rig_irq_path(const Rig *rig, unsigned irq) {
        return g_strdup_printf("%s/proc/irq/%u/smp_affinity_list", rig->root, irq);
}

void rig_make_irq(const Rig *rig, unsigned irq, const char *action) {
        g_autofree char *dir = g_strdup_printf("%s/proc/irq/%u/%s", rig->root, irq, action);
        g_autofree char *aff = rig_irq_path(rig, irq);
        g_mkdir_with_parents(dir, 0755);
        g_file_set_contents(aff, "0-15\n", -1, NULL);
}

double rig_wait_file(const char *path, const char *want, double timeout_ms) {
        double start = rig_now_ms();
        size_t len = strlen(want);
        while (rig_now_ms() - start < timeout_ms) {
                char buf[64];
                FILE *f = fopen(path, "r");
                size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
                if (f)
                        fclose(f);
                buf[n] = '\0';
                if (n >= len && strncmp(buf, want, len) == 0 && (buf[len] == '\n' || buf[len] == '\0'))
                        return rig_now_ms() - start;
                g_usleep(100);
        }
        return -1;
}

uint64_t rig_status_uint(const Rig *rig, const char *key) {
        sd_bus_message *reply = NULL;
        uint64_t value = UINT64_MAX;
        const char *k;

        if (sd_bus_call_method(rig->bus, "org.rtaudio.Isolator", "/org/rtaudio/Isolator", "org.rtaudio.Isolator1",
                               "GetStatus", NULL, &reply, NULL) < 0)
                return UINT64_MAX;
        sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                sd_bus_message_read(reply, "s", &k);
                const char *type = NULL;
                if (g_str_equal(k, key) && sd_bus_message_peek_type(reply, NULL, &type) >= 0 && g_str_equal(type, "u")) {
                        uint32_t u;
                        if (sd_bus_message_read(reply, "v", "u", &u) >= 0)
                                value = u;
                } else if (g_str_equal(k, key))
                        sd_bus_message_read(reply, "v", "t", &value);
                else
                        sd_bus_message_skip(reply, "v");
                sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return value;
}
