/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel's NR_CPUS ceiling on x86 (MAXSMP). A CpuMask is a plain value of
 * CPUMASK_MAX bits (1 KiB): copy it, compare it, keep it in arrays, no allocation. */
#define CPUMASK_MAX 8192u
#define CPUMASK_WORDS (CPUMASK_MAX / 64u)

typedef struct CpuMask {
        uint64_t w[CPUMASK_WORDS];
} CpuMask;

/* Where and why a text did not parse; pos is a 0-based byte offset into the input. */
typedef struct CpuMaskError {
        size_t pos;
        char reason[128];
} CpuMaskError;

void cpumask_zero(CpuMask *s);
void cpumask_add(CpuMask *s, unsigned cpu);
void cpumask_add_range(CpuMask *s, unsigned first, unsigned last);
void cpumask_remove(CpuMask *s, unsigned cpu);
bool cpumask_has(const CpuMask *s, int cpu);
unsigned cpumask_count(const CpuMask *s);
bool cpumask_is_empty(const CpuMask *s);
bool cpumask_equal(const CpuMask *a, const CpuMask *b);
bool cpumask_is_subset(const CpuMask *sub, const CpuMask *of);
bool cpumask_intersects(const CpuMask *a, const CpuMask *b);
/* The same where b is asked of many masks a: b's words up to its last CPU, counted once
 * by cpumask_words_used(b), are all that can intersect. */
unsigned cpumask_words_used(const CpuMask *b);
bool cpumask_intersects_first(const CpuMask *a, const CpuMask *b, unsigned words);
/* out may alias a or b. */
void cpumask_or(CpuMask *out, const CpuMask *a, const CpuMask *b);
void cpumask_and(CpuMask *out, const CpuMask *a, const CpuMask *b);
void cpumask_andnot(CpuMask *out, const CpuMask *a, const CpuMask *b);
/* -1 when there is none. */
int cpumask_first(const CpuMask *s);
int cpumask_last(const CpuMask *s);
int cpumask_next(const CpuMask *s, int after);

#define CPUMASK_FOREACH(cpu, set) \
        for (int cpu = cpumask_first(set); cpu >= 0; cpu = cpumask_next((set), cpu))

/* The kernel's cpulist syntax: "0-3,8,10-11", also "0-15:2/4" (2 of every 4).
 * Leading and trailing whitespace (the newline of a kernel file) is allowed; an empty
 * text is the empty set. Returns 0 or -EINVAL with err filled. */
int cpumask_parse_list(const char *text, CpuMask *out, CpuMaskError *err);
/* The kernel's comma-grouped hex mask: "ff,ffffffff", most significant group first. */
int cpumask_parse_mask(const char *text, CpuMask *out, CpuMaskError *err);

/* Both return a newly allocated string (g_free). */
char *cpumask_format_list(const CpuMask *s);
/* As the kernel prints a mask for nbits CPUs (nr_cpu_ids): "ffff" for 16, "f,ffffffff"
 * for 36. nbits 0 means "just wide enough". */
char *cpumask_format_mask(const CpuMask *s, unsigned nbits);

/* cpumask_parse_list() reporting into a GError (ISO_ERROR_INVALID_CPU_LIST) whose
 * message names what was being parsed, the text, the position and the reason. */
bool cpumask_parse_list_gerror(const char *what, const char *text, CpuMask *out, GError **error);
