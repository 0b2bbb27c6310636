/* SPDX-License-Identifier: GPL-2.0 */
/* What the files of shmem_collapse share (shmem_collapse.c says what it tests). */
#ifndef SHMEM_COLLAPSE_H
#define SHMEM_COLLAPSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmem_util.h"
#include "tap_count.h"

#define MNT "/tmp/shmem_collapse"
#define MNT_WS MNT "/within_size"	/* huge=within_size */
#define MNT_ADV MNT "/advise"		/* huge=advise */
#define MNT_SMALL MNT "/small"		/* huge=advise, a small size limit */
#define MNT_NEVER MNT "/never"		/* huge=never */

extern bool mounted_ws, mounted_adv, mounted_small, mounted_never;

enum kind { K_MEMFD, K_ANON, K_FILE };

/* The page cache of a range as it was (shmem_collapse.c, case 4). */
struct before {
	long blocks;
	struct counters c;
};

static inline int open_memfd(size_t size)
{
	return open_shmem(NULL, "shmem_collapse", size);
}

/* A new file on one of our mounts; size 0 leaves it empty. */
static inline int open_file(const char *dir, size_t size)
{
	return open_shmem(dir, "f", size);
}

/*
 * shmem_collapse.c: page patterns, THP state, counters.  The pages in
 * `stride` (i % stride == 0) hold patterns of seed, the others are holes.
 */
void write_pages(char *p, size_t n, size_t stride, uint64_t seed);
int pwrite_pages(int fd, size_t n, size_t stride, uint64_t seed);
/* The model (shmem_util.h) of n such pages, of which only those below nw were written. */
uint64_t *pattern_model(size_t n, size_t stride, size_t nw, uint64_t seed);
/* Page i at pg holds its pattern (wr) or zeros. */
bool page_ok(const char *pg, size_t i, bool wr, uint64_t seed, const char *how);
bool check_mapped(char *p, size_t n, size_t stride, uint64_t seed);
bool check_written_mapped(char *p, size_t n, size_t stride, uint64_t seed);
bool check_pread(int fd, size_t n, size_t stride, uint64_t seed);
bool pmd_mapped(char *p);
bool small_pages(char *p);
bool counted_collapse(const struct counters *a, long nr_none);
bool counted_nothing(const struct counters *a, long alloc);
bool unchanged(int err, int want, struct shm *s, size_t stride, uint64_t seed,
	       const struct before *b, long alloc, const char *what);
void snap(struct shm *s, struct before *b);

/* shmem_collapse_khugepaged.c: case 5. */
bool check_prefix_mapped(char *p, size_t nw, uint64_t seed);
void test_khugepaged(void);

/* shmem_collapse_mappings.c: cases 6 to 8. */
void test_retract_fork(void);
void test_retract_second_mapping(void);
void test_private_cow(void);
void test_uffd(bool same_vma, size_t stride, const char *name);

/* shmem_collapse_settings.c: case 9. */
void test_unaligned(void);
void test_setting(enum kind kind, const char *dir, int advice, int want, const char *name);
void test_past_eof(void);

#endif
