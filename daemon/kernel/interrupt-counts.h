/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

#include "kernel/irq.h"
#include "kernel/root.h"
#include "model/cpumask.h"

/* The rows of /proc/interrupts a watch needs, for the columns of the CPUs it watches:
 * the file is read whole, once a reading, from its start (the kernel's is a seq_file,
 * which formats every row before an offset asked for out of turn), in pieces of 64 KiB
 * taken line by line as they stream by, so that the memory is a few pages whatever the
 * file's size. Each line's label is looked at; only the wanted rows are parsed, and only
 * the watched CPUs' columns. On a server the whole file is thousands of rows of hundreds
 * of columns a second; the audio CPUs need the architecture's rows (LOC, RES, CAL,
 * TLB...) and the few device IRQs that may reach them. The columns are indexed from the
 * header again when it differs (a CPU came or went) or the wanted rows change. */
typedef struct InterruptCounts InterruptCounts;

InterruptCounts *interrupt_counts_new(const Root *root, const CpuMask *cpus);
void interrupt_counts_free(InterruptCounts *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(InterruptCounts, interrupt_counts_free)
/* The device IRQs (numbers) to read besides the architecture's rows; NULL: every row. A
 * different set is indexed again at the next reading. */
void interrupt_counts_want(InterruptCounts *c, const GArray *irqs);
/* The wanted rows' counts for the watched CPUs the file has a column for; NULL when it
 * cannot be read. */
InterruptTable *interrupt_counts_read(InterruptCounts *c);
/* How often the columns were indexed, and bytes read by the last reading (tests, benchmarks). */
unsigned interrupt_counts_indexings(const InterruptCounts *c);
size_t interrupt_counts_last_bytes(const InterruptCounts *c);
