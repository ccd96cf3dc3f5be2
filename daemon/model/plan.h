/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "model/config.h"
#include "model/topology.h"

/* Proposes a partition for a machine, for the groups of a template configuration:
 * housekeeping is CPU 0's core with its siblings; every other core goes, whole, to a
 * group, in proportion to the group's weight (its CPU count in the template); a
 * group goes into the L3 domain that fits it most tightly, and one too big for any
 * domain takes whole domains first. Groups keep the template's slice, match and
 * scheduling. Notes (char*) say what could not be honoured. */
Config *plan_partition(const Topology *t, const Config *template_config, GPtrArray **notes);
