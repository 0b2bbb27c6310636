/* SPDX-License-Identifier: GPL-2.0 */
/* What the files of shmem_collapse share (shmem_collapse.c says what it tests). */
#ifndef SHMEM_COLLAPSE_H
#define SHMEM_COLLAPSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shmem_util.h"
#include "tap_count.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define MNT "/tmp/shmem_collapse"
#define MNT_WS MNT "/within_size"	/* huge=within_size */
#define MNT_ADV MNT "/advise"		/* huge=advise */
#define MNT_SMALL MNT "/small"		/* huge=advise, a small size limit */
#define MNT_NEVER MNT "/never"		/* huge=never */

extern char pmd_kb_dir[128];
extern long pmd_kb;
extern bool mounted_ws, mounted_adv, mounted_small, mounted_never;

enum kind { K_MEMFD, K_ANON, K_FILE };

/* One PMD-aligned shared mapping, fenced by PROT_NONE so that its VMA is its own. */
struct shm {
	int fd;			/* -1 for shared anonymous memory */
	char *base;
	size_t total;
	char *p;
	size_t len;
};

/* The page cache of a range as it was (shmem_collapse.c, case 4). */
struct before {
	long blocks;
	struct counters c;
};

/* shmem_collapse.c: regions, page patterns, THP state, counters. */
int collapse(char *p, size_t len);
int open_memfd(size_t size);
int open_file(const char *dir, size_t size);
int map_shm(struct shm *s, int fd, size_t len, int flags);
void unmap_shm(struct shm *s);
void write_pages(char *p, size_t n, size_t stride, uint64_t seed);
int pwrite_pages(int fd, size_t n, size_t stride, uint64_t seed);
long st_blocks(int fd);
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
