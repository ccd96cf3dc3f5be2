/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the C benchmarks share: a monotonic clock in ns and sorted samples. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static inline int bench_compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return (x > y) - (x < y);
}

static inline void bench_sort(uint64_t *v, size_t n) {
        qsort(v, n, sizeof *v, bench_compare_u64);
}

/* The p-quantile (0..1) of n sorted samples in ns, in us. */
static inline double bench_quantile_us(const uint64_t *sorted, size_t n, double p) {
        return (double) sorted[(size_t) (p * (double) (n - 1))] / 1000.0;
}
