/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* isolatord under umockdev, on the private bus of the calling script: shared by the
 * hotplug test, its benchmark and the demo. The caller runs under umockdev-wrapper. */
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <umockdev.h>

typedef struct Rig {
        UMockdevTestbed *tb;
        char *root, *log;
        char *run;             /* the runtime folder (originals), on tmpfs where there is one */
        GPid pid;
        sd_bus *bus;
} Rig;

double rig_now_ms(void);
/* Starts isolatord on WORK/root with WORK/isolatord.conf (written from config, unless
 * config is NULL). */
bool rig_start(Rig *rig, const char *work, const char *config);
/* Removes the runtime folder (rig_stop does). */
void rig_remove_run(Rig *rig);
/* SIGTERM; true when it exited 0. */
bool rig_stop(Rig *rig);
void rig_print_log(const Rig *rig);
/* The IRQ a device's driver requests: /proc/irq/N with its handler's folder, on all CPUs. */
void rig_make_irq(const Rig *rig, unsigned irq, const char *action);
char *rig_irq_path(const Rig *rig, unsigned irq);
/* Polls a file until it holds want; the time it took, or a negative number on timeout. */
double rig_wait_file(const char *path, const char *want, double timeout_ms);
/* A GetStatus value of type t or u; UINT64_MAX when there is none. */
uint64_t rig_status_uint(const Rig *rig, const char *key);
