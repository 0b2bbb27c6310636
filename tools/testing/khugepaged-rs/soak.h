/* SPDX-License-Identifier: GPL-2.0 */
/* What the files of the soak share (soak.c says what it does). */
#ifndef SOAK_H
#define SOAK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KHUGEPAGED THP_DIR "/khugepaged"
#define CGROUP "/sys/fs/cgroup/soak"
#define MAX_WORKERS 8
#define REGION_PMDS 4

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

/* ------------------------------------------------ shared counters (soak_model.c) */

#define OPS(x) x(write) x(collapse) x(fork_cow) x(exit) x(munmap_mmap) x(mremap_move) \
	x(mremap_shrink_grow) x(mprotect_split) x(dontneed) x(free) x(pageout) x(cold) \
	x(willneed) x(populate) x(uffd_missing) x(uffd_wp) x(move_pages) x(migrate_pages) \
	x(odirect) x(vmsplice) x(gup_longterm) x(io_uring_fixed) x(shm_write) \
	x(shm_collapse) x(shm_truncate) x(shm_punch) x(shm_pageout) x(shm_fork) x(file_write) \
	x(file_collapse) x(file_pageout) x(collapse_fuzz) \
	x(process_madvise) x(process_madvise_fuzz) x(pagemap_smaps_read) x(knob_write) \
	x(enabled_write) x(aging) x(compaction)
#define OP_ENUM(n) OP_##n,
#define OP_NAME(n) #n,
enum { OPS(OP_ENUM) NR_OPS };
extern const char *const op_names[];

/* Operations a worker draws from. */
#define NR_WORKER_OPS (OP_collapse_fuzz + 1)

struct shared {
	atomic_long ops[NR_OPS];
	atomic_long skipped[NR_OPS];	/* not available on this kernel, or busy */
	atomic_long madv_collapsed;	/* MADV_COLLAPSE / process_madvise() that succeeded */
	atomic_long bytes_verified;
	atomic_long rounds;
	atomic_int failed;
	atomic_int stop;
	int nr_workers;
	pid_t pids[MAX_WORKERS];
	uintptr_t start[MAX_WORKERS];
	size_t len[MAX_WORKERS];
};
extern struct shared *sh;

/* Fails the soak: says why and stops every process. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern int nr_nodes, zram_fd, zram_id, gup_fd;
extern size_t dev_pages;
extern bool have_uffd, have_uring;
/* xorshift: each process seeds its own. */
extern uint64_t rng;

/* ------------------------------------------------ page contents and the model (soak_model.c) */

/*
 * A page holding seed s has word i = (i * 8) ^ s; seed 0 is a page of zeros.
 * Seeds a worker writes carry its id and a counter; a block of the device
 * read into a page carries DEV_SEED.  MAYBE_ZERO marks a page MADV_FREE may
 * have dropped: either its seed or zeros.
 */
#define DEV_SEED (1ULL << 62)
#define MAYBE_ZERO (1ULL << 63)

/* A page-cache region of a worker (soak_cache.c): a memfd, or a file on XFS. */
struct cache_region {
	const char *what;
	int fd;
	char *p;		/* SHARED_PMDS PMD ranges, MAP_SHARED, PMD-aligned */
	size_t len, npages;
	uint64_t *model;
	bool truncatable;
};

struct worker {
	int id;
	char *p;		/* the region: REGION_PMDS PMD ranges, PMD-aligned */
	size_t len, npages;
	uint64_t *model;
	uint64_t next_seed;
	char *spare;		/* a reserved range to mremap to and back from */
	/* The zoo: mappings of other kinds, for MADV_COLLAPSE with random arguments. */
	char *file_map, *shared_map, *none_map;
	size_t zoo_len;
	struct cache_region shm, file;
	/* The last operations, for the report of a failed check. */
	struct { int op; size_t first, n; } hist[16];
	unsigned int nr_hist;
};

uint64_t rnd(void);
size_t rnd_below(size_t n);
void page_fill(char *p, uint64_t seed);
long page_diff(const char *p, uint64_t seed);
uint64_t dev_seed(size_t block);
uint64_t new_seed(struct worker *w);
void note(struct worker *w, int op, size_t first, size_t n);
void dump_history(struct worker *w);
bool check_pages(struct worker *w, size_t first, size_t n, const char *when);
void write_pages(struct worker *w, size_t first, size_t n);
void pick(struct worker *w, size_t *first, size_t *n);
char *addr(struct worker *w, size_t i);
void collapse_checked(const char *who, void *p, size_t len);
bool remap_fresh(struct worker *w, size_t first, size_t n);

/* soak_ops.c */
void op_fork(struct worker *w);
void op_exit(struct worker *w);
void op_mremap_move(struct worker *w);
void op_mremap_shrink_grow(struct worker *w);
void op_mprotect(struct worker *w);
void op_madvise(struct worker *w, int op);
void op_uffd(struct worker *w, bool wp);
void op_migrate(struct worker *w, bool whole);

/* soak_pins.c */
void op_odirect(struct worker *w);
void op_vmsplice(struct worker *w);
void op_gup_longterm(struct worker *w);
void op_io_uring(struct worker *w);

/* soak_cache.c */
extern const char *soak_file_dir;	/* an XFS file system, or NULL */
int set_up_cache_regions(struct worker *w);
bool check_cache_regions(struct worker *w);
void op_cache(struct worker *w, int op);

/* soak_worker.c */
int worker_main(int id, bool in_memcg, double round_secs);
#endif
