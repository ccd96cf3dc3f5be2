/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel's NR_CPUS ceiling on x86 (MAXSMP). A CpuSet is a plain value of
 * CPUSET_MAX bits (1 KiB): copy it, compare it, keep it in arrays, no allocation. */
#define CPUSET_MAX 8192u
#define CPUSET_WORDS (CPUSET_MAX / 64u)

typedef struct CpuSet {
        uint64_t w[CPUSET_WORDS];
} CpuSet;

/* Where and why a text did not parse; pos is a 0-based byte offset into the input. */
typedef struct CpuSetError {
        size_t pos;
        char reason[128];
} CpuSetError;

void cpuset_zero(CpuSet *s);
void cpuset_add(CpuSet *s, unsigned cpu);
void cpuset_add_range(CpuSet *s, unsigned first, unsigned last);
void cpuset_remove(CpuSet *s, unsigned cpu);
bool cpuset_has(const CpuSet *s, int cpu);
unsigned cpuset_count(const CpuSet *s);
bool cpuset_is_empty(const CpuSet *s);
bool cpuset_equal(const CpuSet *a, const CpuSet *b);
bool cpuset_is_subset(const CpuSet *sub, const CpuSet *of);
bool cpuset_intersects(const CpuSet *a, const CpuSet *b);
/* out may alias a or b. */
void cpuset_or(CpuSet *out, const CpuSet *a, const CpuSet *b);
void cpuset_and(CpuSet *out, const CpuSet *a, const CpuSet *b);
void cpuset_andnot(CpuSet *out, const CpuSet *a, const CpuSet *b);
/* -1 when there is none. */
int cpuset_first(const CpuSet *s);
int cpuset_last(const CpuSet *s);
int cpuset_next(const CpuSet *s, int after);

#define CPUSET_FOREACH(cpu, set) \
        for (int cpu = cpuset_first(set); cpu >= 0; cpu = cpuset_next((set), cpu))

/* The kernel's cpulist syntax: "0-3,8,10-11", also "0-15:2/4" (2 of every 4).
 * Leading and trailing whitespace (the newline of a kernel file) is allowed; an empty
 * text is the empty set. Returns 0 or -EINVAL with err filled. */
int cpuset_parse_list(const char *text, CpuSet *out, CpuSetError *err);
/* The kernel's comma-grouped hex mask: "ff,ffffffff", most significant group first. */
int cpuset_parse_mask(const char *text, CpuSet *out, CpuSetError *err);

/* Both return a newly allocated string (g_free). */
char *cpuset_format_list(const CpuSet *s);
/* As the kernel prints a mask for nbits CPUs (nr_cpu_ids): "ffff" for 16, "f,ffffffff"
 * for 36. nbits 0 means "just wide enough". */
char *cpuset_format_mask(const CpuSet *s, unsigned nbits);

/* cpuset_parse_list() reporting into a GError (ISO_ERROR_INVALID_CPU_LIST) whose
 * message names what was being parsed, the text, the position and the reason. */
bool cpuset_parse_list_gerror(const char *what, const char *text, CpuSet *out, GError **error);
