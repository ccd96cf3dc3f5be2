/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/config.h"
#include "model/cpumask.h"
#include "kernel/root.h"

/* One IRQ as /proc/irq/N shows it. */
typedef struct Irq {
        unsigned num;
        char **actions;        /* the handlers' names: the sub-folders of /proc/irq/N */
        char *name;            /* actions joined with ", ", as in /proc/interrupts; "" if none */
        CpuMask affinity;       /* smp_affinity_list */
        CpuMask effective;      /* effective_affinity_list, where the kernel has it */
        bool has_effective;
        char **drivers;        /* the asked-for drivers (IrqScan.drivers) whose devices it serves, or NULL */
} Irq;

void irq_free(Irq *irq);
/* Every numbered folder of proc/irq, sorted by number; IRQs whose affinity cannot be
 * read (one vanishing while we look) are left out. Returns GPtrArray of Irq*. */
GPtrArray *irq_scan(const Root *root);
/* The handler names of IRQs as last read, kept between scans: a steady scan reads each
 * IRQ's affinity and stats its folder, and reads the folder again only when its count
 * of handlers changed. Forget it when devices come or go. */
typedef struct IrqNames IrqNames;
IrqNames *irq_names_new(void);
void irq_names_free(IrqNames *n);
void irq_names_forget(IrqNames *n);

/* A set of IRQ numbers: a device event adds and asks one per IRQ folder (a hash table
 * rebuilt at each event spent most of its user time growing). A bit per number up to
 * IRQ_NUM_MAX, grown to the highest seen; the kernel hands its numbers out from the
 * lowest free one, and a number past that bound (possible since Linux 6.5 keeps sparse
 * IRQs in a maple tree) goes to a hash table. */
#define IRQ_NUM_MAX (1u << 20)
typedef struct IrqSet {
        unsigned long *bits;
        size_t words;
        GHashTable *beyond; /* numbers >= IRQ_NUM_MAX, NULL until one comes */
} IrqSet;
void irq_set_add(IrqSet *s, unsigned num);
bool irq_set_has(const IrqSet *s, unsigned num);
/* Empty, keeping its memory for the next scan. */
void irq_set_clear(IrqSet *s);
void irq_set_free(IrqSet *s);

typedef struct IrqScan {
        const IrqSet *skip;    /* numbers already known: left out */
        IrqSet *present;       /* the number of every IRQ folder is added here */
        IrqNames *names;       /* handler names kept between scans, or NULL */
        bool trust_names;      /* names kept for an IRQ whose affinity reads as when they were
                                * read are taken without looking at its folder (a steady
                                * pass between the ones that look) */
        bool effective;        /* read effective_affinity_list too */
        char **drivers;        /* Driver= names: each IRQ learns which of them it serves */
} IrqScan;

/* The IRQs of the PCI devices that carry a device bound to one of drivers (a USB DAC's
 * xhci controller for snd-usb-audio): number + 1 -> GPtrArray of driver names. */
GHashTable *irq_driver_map(const Root *root, char **drivers);

/* The scan as how says (NULL: every IRQ, everything read). */
GPtrArray *irq_scan_except(const Root *root, const IrqScan *how);

/* One IRQ read whole (affinity, effective affinity, handlers, and which of drivers
 * serve it, for [Irq] Driver= rules); NULL when it is gone. */
Irq *irq_read_one(const Root *root, unsigned num, char **drivers);
/* Which of drivers (NULL or empty: none asked) serve irq, as irq_scan_except says. */
void irq_set_drivers(const Root *root, Irq *irq, char **drivers);

/* The handler names of one IRQ (the sub-folders of proc/irq/N), sorted; empty when it
 * has none or is gone. */
char **irq_read_actions(const Root *root, unsigned num);

/* The first rule one of whose globs matches one of the IRQ's action names, or one of whose
 * drivers the IRQ serves (Irq.drivers), or NULL. */
const IrqRule *irq_match_rule(const Config *c, const Irq *irq);
/* Where the IRQ belongs: its rule's CPUs, else housekeeping. */
const CpuMask *irq_target(const Config *c, const Irq *irq, const IrqRule **rule);

/* /proc/interrupts as numbers: the CPU of each column, and per row (an IRQ number or
 * "LOC", "RES"...) its counts. */
typedef struct InterruptTable {
        unsigned ncols;
        int *col_cpu;          /* ncols entries */
        GHashTable *rows;      /* char* name -> uint64_t counts[ncols], inside counts */
        uint64_t *counts;      /* every row's counts, one block */
} InterruptTable;

void interrupt_table_free(InterruptTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(InterruptTable, interrupt_table_free)
/* NULL when the text has no CPU header. */
InterruptTable *interrupts_parse(const char *text);
/* The row's count summed over the CPUs in set; 0 for an unknown row. */
uint64_t interrupts_sum(const InterruptTable *t, const char *row, const CpuMask *set);
