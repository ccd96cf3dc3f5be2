/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "kernel/root.h"

/* Has isolatord-bootline write or take back the boot line, and says how it went. On
 * the real root the helper runs as isolatord-bootline@VERB.service, started through
 * the systemd manager (the daemon's sandbox never writes /boot); on a test's fake root,
 * as the daemon's own child with --root. One at a time. */
typedef struct BootLineRunner BootLineRunner;

/* ok, and the helper's words for a person (its result file, or why there is none). */
typedef void (*BootLineRunnerDone)(bool ok, const char *message, void *userdata);

typedef struct BootLineRun {
        const Root *root;
        const char *runtime_dir;     /* where the request is left for the helper */
        const char *systemd_address; /* the system manager's private socket */
} BootLineRun;

BootLineRunner *bootline_runner_new(sd_event *event);
void bootline_runner_free(BootLineRunner *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BootLineRunner, bootline_runner_free)
bool bootline_runner_busy(const BootLineRunner *r);
/* verb "write" with line (checked again by the helper, as any input), or "revert" with
 * NULL. done is called once, from the loop. false with error when it could not start
 * (ISO_ERROR_IO; busy: ISO_ERROR_BUSY). */
bool bootline_runner_start(BootLineRunner *r, const BootLineRun *run, const char *verb, const char *line,
                           BootLineRunnerDone done, void *userdata, GError **error);
