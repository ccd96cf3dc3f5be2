/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <systemd/sd-event.h>

/* A libudev monitor on the loop. It only decides that IRQs must be rescanned: every
 * device event of interest arms one deferred callback, so a storm of uevents costs one
 * rescan per loop iteration. */
typedef struct UdevSource UdevSource;

/* name: "udev" (events after udevd processed them), "kernel" (raw uevents; the only ones
 * when no udevd runs), or "auto": udev when udevd runs, else kernel. rescan runs from the
 * loop with the number of events it stands for. */
int udev_source_new(sd_event *event, const char *name, void (*rescan)(unsigned events, void *userdata),
                    void *userdata, UdevSource **out);
UdevSource *udev_source_free(UdevSource *s);
const char *udev_source_name(const UdevSource *s);
