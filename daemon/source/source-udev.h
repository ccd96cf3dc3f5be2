/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "source/trigger.h"

/* A libudev monitor on the loop. It publishes TRIGGER_DEVICE: every device event of
 * interest arms one deferred publication, so a storm of uevents costs one per loop
 * iteration (its count says how many it stands for). */
typedef struct UdevSource UdevSource;

/* name: "udev" (events after udevd processed them), "kernel" (raw uevents; the only ones
 * when no udevd runs), or "auto": udev when udevd runs, else kernel. */
int udev_source_new(sd_event *event, const char *name, const TriggerSink *sink, UdevSource **out);
UdevSource *udev_source_free(UdevSource *s);
const char *udev_source_name(const UdevSource *s);
