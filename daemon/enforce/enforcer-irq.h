/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "enforce/enforcer.h"
#include "kernel/irq.h"

/* What GetIrqs shows of one IRQ. state: "pinned" (on housekeeping), "ruled" (on its
 * rule's CPUs), "unmovable" (the kernel refused; reason says how), "foreign" (somewhere
 * else, to be repaired). */
typedef struct IrqReport {
        Irq *irq;
        CpuMask target;
        const char *rule;     /* the rule's name, or NULL */
        const char *state;
        char *reason;
        uint64_t isolated_count; /* interrupts counted on isolated CPUs */
} IrqReport;

void irq_report_free(IrqReport *r);
/* Every IRQ as GetIrqs shows it (IrqReport*, owned). */
GPtrArray *irq_report(const EnforcerContext *ctx);
/* ThreadPriority= of the rules: SCHED_FIFO for the irq/N-name threads of the IRQs they
 * match. Acts only when the root is the real machine's. */
void irq_set_thread_priorities(const EnforcerContext *ctx, const GPtrArray *irqs);
