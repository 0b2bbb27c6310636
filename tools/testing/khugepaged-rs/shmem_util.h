/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the shmem collapse tests (shmem_collapse, shmem_races) share: the
 * counters a page-cache collapse moves, read exactly; MADV_COLLAPSE's answer
 * checked; whether swap is on.
 */
#ifndef SHMEM_UTIL_H
#define SHMEM_UTIL_H

#include <limits.h>
#include <stdbool.h>

/*
 * /proc/vmstat's counters of a page-cache collapse, and the PMD size's
 * stats/collapse_alloc.
 */
enum { C_ALLOC, C_ALLOC_FAILED, C_SHMEM_THPS, C_FILE_PAGES, C_SHMEM, C_FILE_MAPPED,
	C_SIZE_ALLOC, C_NR };

struct counters {
	long v[C_NR];
};

/* In a want[] of counters_moved(): not checked. */
#define ANY LONG_MIN

/* Folds every CPU's vmstat deltas, so that /proc/vmstat reads exact values. */
void stat_refresh(void);
void read_counters(struct counters *c);
/* The counters moved by exactly want[] since a (ANY: not checked); prints every delta. */
bool counters_moved(const struct counters *a, const long *want);

/* MADV_COLLAPSE's errno (0 for success) is want; says what it was if not. */
bool want_err(int err, int want, const char *what);

/* A swap device is on. */
bool swap_on(void);

#endif
