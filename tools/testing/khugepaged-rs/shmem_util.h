/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the shmem collapse tests (shmem_collapse, shmem_races) share: their
 * THP settings and tmpfs mounts; shmem files and PMD-aligned mappings of
 * them; what a file's pages hold (a model: each page's fill() seed, 0 for
 * zeros) read through a mapping and with pread(); which pages are data and
 * what is mapped by a PMD; the counters a page-cache collapse moves, read
 * exactly; MADV_COLLAPSE's answer checked.
 */
#ifndef SHMEM_UTIL_H
#define SHMEM_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "thp_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"

/* The PMD size in kB (ShmemPmdMapped of one PMD), set by setup_shmem_thp(). */
extern long pmd_kb;

/* ------------------------------------------------ settings and mounts */

/*
 * THP for shmem tests, restored at exit: faults give small pages unless
 * MADV_HUGEPAGE (shmem_enabled=advise, the PMD size's inherit), khugepaged
 * scans fast, with max_ptes_none as given.
 */
void setup_shmem_thp(size_t max_ptes_none);
/* Mounts a tmpfs with opts on dir (made if need be); says why not. */
bool mount_tmpfs(const char *dir, const char *opts);

/* ------------------------------------------------ files and mappings */

/*
 * A shmem file of size bytes: a memfd called name (dir NULL), or a file on
 * the tmpfs at dir, unlinked at once (size 0 leaves it empty); -1 on error.
 */
int open_shmem(const char *dir, const char *name, size_t size);

/* One PMD-aligned mapping, fenced by PROT_NONE so that its VMA is its own. */
struct shm {
	int fd;			/* -1 for shared anonymous memory */
	char *base;		/* the whole reservation, for munmap */
	size_t total;
	char *p;
	size_t len;
};

/* Maps len bytes of fd from offset 0 (fd < 0: anonymous) at a PMD boundary. */
int map_shm(struct shm *s, int fd, size_t len, int flags);
void unmap_shm(struct shm *s);

/* MADV_COLLAPSE of [p, p + len): 0 or its errno. */
int collapse(char *p, size_t len);

/* ------------------------------------------------ contents and page cache */

/* Page i (at pg) was filled with seed, or reads zero if seed is 0; says how not. */
bool page_matches(const char *pg, size_t i, uint64_t seed, const char *how);
/*
 * Pages [first, first + n) of the mapping at p hold model[]; a SIGBUS
 * fails.  Reading a hole faults it in.
 */
bool mapped_matches(char *p, const uint64_t *model, size_t first, size_t n, const char *how);
/* Pages [0, n) of fd from byte off, read with pread() (holes stay holes), hold model[]. */
bool pread_matches(int fd, off_t off, const uint64_t *model, size_t n);
/* SEEK_DATA / SEEK_HOLE: has[i] is whether page i of [0, n) is data; false on error. */
bool data_pages(int fd, size_t n, bool *has);
/* The data pages of [0, n) are exactly those with want[i]. */
bool holes_are(int fd, const bool *want, size_t n);
long st_blocks(int fd);
/* ShmemPmdMapped of the VMA at p is want_kb. */
bool shmem_pmd_mapped(char *p, long want_kb);
/*
 * Waits until khugepaged's full_scans reaches scans, a minute at most (a
 * bound, not a measure); full_scans then.
 */
unsigned long wait_full_scans(unsigned long scans);

/* ------------------------------------------------ counters */

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
