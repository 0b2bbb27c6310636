// SPDX-License-Identifier: GPL-2.0
/*
 * soak - everything that changes anonymous memory, racing khugepaged and
 * MADV_COLLAPSE, for minutes to hours, with every byte checked.
 *
 * khugepaged scans without sleeping, with a large pages_to_scan, every mTHP
 * size on and (khugepaged-rs) hints on, MGLRU aging forced every few seconds.
 * The processes:
 *   - WORKERS workers (the last one in a memory cgroup held under its working
 *     set, so that it swaps to zram all the time), each owning a region of
 *     PMD ranges and a model of what every page of it must hold.  In a loop
 *     they write, MADV_COLLAPSE, fork (the child checks and CoWs), munmap and
 *     mmap, mremap (move, shrink, grow), split with mprotect, madvise
 *     (DONTNEED, FREE, PAGEOUT, COLD, WILLNEED, POPULATE_READ/WRITE), fill
 *     through userfaultfd (missing) and write under its write protection,
 *     migrate (move_pages(), migrate_pages()), read from a block device with
 *     O_DIRECT and through io_uring's registered buffers, vmsplice into a
 *     pipe, pin long-term (gup_test), spawn processes that exit at once, and
 *     MADV_COLLAPSE with random arguments over a zoo of mappings.  Each round
 *     ends with every page checked against the model: a pinned page must
 *     still be the mapped one (what is written through the mapping arrives
 *     through the pin, and the other way round).
 *   - a collapser: process_madvise(MADV_COLLAPSE) on the workers' regions,
 *     with good and hostile arguments;
 *   - a reader of the workers' /proc/PID/pagemap, smaps and kpageflags;
 *   - the parent: random and hostile writes to every khugepaged knob and to
 *     THP's enabled modes (a refused write keeps the old value), max_ptes_*
 *     at either end in turn, aging, compaction.
 * Only the errors 7.3 documents are allowed.  At the end: counts of each
 * operation, the collapses, the bytes checked, and kernel memory, which must
 * be flat.  tools/vm/run fails the run on any kernel report.
 *
 *   soak [--seconds=N] [--round=SECONDS] [--workers=N]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "../../../mm/gup_test.h"

#include "guest_util.h"
#include "thp_util.h"

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

/* ------------------------------------------------ shared counters */

#define OPS(x) x(write) x(collapse) x(fork_cow) x(exit) x(munmap_mmap) x(mremap_move) \
	x(mremap_shrink_grow) x(mprotect_split) x(dontneed) x(free) x(pageout) x(cold) \
	x(willneed) x(populate) x(uffd_missing) x(uffd_wp) x(move_pages) x(migrate_pages) \
	x(odirect) x(vmsplice) x(gup_longterm) x(io_uring_fixed) x(collapse_fuzz) \
	x(process_madvise) x(process_madvise_fuzz) x(pagemap_smaps_read) x(knob_write) \
	x(enabled_write) x(aging) x(compaction)
#define OP_ENUM(n) OP_##n,
#define OP_NAME(n) #n,
enum { OPS(OP_ENUM) NR_OPS };
static const char *const op_names[] = { OPS(OP_NAME) };

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
static struct shared *sh;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# FAIL: ");
	vprintf(fmt, ap);
	fflush(stdout);
	va_end(ap);
	atomic_store(&sh->failed, 1);
	atomic_store(&sh->stop, 1);
}

static int nr_nodes = 1, zram_fd = -1, zram_id = -1, gup_fd = -1;
static size_t dev_pages;
static bool have_uffd, have_uring;

/* xorshift: each process seeds its own. */
static uint64_t rng;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t rnd_below(size_t n)
{
	return n ? rnd() % n : 0;
}

/* ------------------------------------------------ page contents and the model */

/*
 * A page holding seed s has word i = (i * 8) ^ s; seed 0 is a page of zeros.
 * Seeds a worker writes carry its id and a counter; a block of the device
 * read into a page carries DEV_SEED.  MAYBE_ZERO marks a page MADV_FREE may
 * have dropped: either its seed or zeros.
 */
#define DEV_SEED (1ULL << 62)
#define MAYBE_ZERO (1ULL << 63)

static void page_fill(char *p, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t i = 0; i < page_size / 8; i++)
		w[i] = seed ? (i * 8) ^ seed : 0;
}

/* Index of the first word of p that differs from seed's page, or -1. */
static long page_diff(const char *p, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < page_size / 8; i++)
		if (w[i] != (seed ? (i * 8) ^ seed : 0))
			return i;
	return -1;
}

static uint64_t dev_seed(size_t block)
{
	return DEV_SEED | (block + 1);
}

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
	/* The last operations, for the report of a failed check. */
	struct { int op; size_t first, n; } hist[16];
	unsigned int nr_hist;
};

static uint64_t new_seed(struct worker *w)
{
	return ((uint64_t)(w->id + 1) << 40) | ++w->next_seed;
}

static void note(struct worker *w, int op, size_t first, size_t n)
{
	unsigned int i = w->nr_hist++ % 16;

	w->hist[i].op = op;
	w->hist[i].first = first;
	w->hist[i].n = n;
	atomic_fetch_add(&sh->ops[op], 1);
}

static void dump_history(struct worker *w)
{
	unsigned int n = w->nr_hist < 16 ? w->nr_hist : 16;

	for (unsigned int k = w->nr_hist - n; k < w->nr_hist; k++)
		printf("#   worker %d op %s pages %zu+%zu\n", w->id, op_names[w->hist[k % 16].op],
		       w->hist[k % 16].first, w->hist[k % 16].n);
}

/* Checks pages [first, first + n) against the model. */
static bool check_pages(struct worker *w, size_t first, size_t n, const char *when)
{
	for (size_t i = first; i < first + n; i++) {
		char *pg = w->p + i * page_size;
		uint64_t m = w->model[i];
		long d = page_diff(pg, m & ~MAYBE_ZERO);

		/*
		 * A lazyfree page read back intact may still be dropped later (reading
		 * does not cancel MADV_FREE, only a write does); once dropped it stays
		 * zero.
		 */
		if (d >= 0 && (m & MAYBE_ZERO) && page_diff(pg, 0) < 0) {
			w->model[i] = 0;
			d = -1;
		}
		if (d >= 0) {
			uint64_t got = ((uint64_t *)pg)[d];
			uint64_t want = (m & ~MAYBE_ZERO) ? (d * 8) ^ (m & ~MAYBE_ZERO) : 0;

			fail("worker %d (%s): page %zu word %ld holds %#llx, expected %#llx (seed %#llx)\n",
			     w->id, when, i, d, (unsigned long long)got, (unsigned long long)want,
			     (unsigned long long)m);
			dump_history(w);
			return false;
		}
	}
	atomic_fetch_add(&sh->bytes_verified, n * page_size);
	return true;
}

static void write_pages(struct worker *w, size_t first, size_t n)
{
	for (size_t i = first; i < first + n; i++) {
		w->model[i] = new_seed(w);
		page_fill(w->p + i * page_size, w->model[i]);
	}
}

/*
 * A random range of pages: whole PMD ranges, mTHP-sized aligned blocks, or
 * anything, so that splits fall everywhere.
 */
static void pick(struct worker *w, size_t *first, size_t *n)
{
	switch (rnd_below(3)) {
	case 0:
		*first = rnd_below(REGION_PMDS) * pmd_nr;
		*n = (1 + rnd_below(REGION_PMDS - *first / pmd_nr)) * pmd_nr;
		break;
	case 1: {
		size_t block = (size_t)1 << (2 + rnd_below(4));	/* 4 to 32 pages */

		*first = rnd_below(w->npages / block) * block;
		*n = block * (1 + rnd_below(4));
		break;
	}
	default:
		*first = rnd_below(w->npages);
		*n = 1 + rnd_below(64);
	}
	if (*first + *n > w->npages)
		*n = w->npages - *first;
}

static char *addr(struct worker *w, size_t i)
{
	return w->p + i * page_size;
}

/* madvise(MADV_COLLAPSE): an error must be one 7.3 documents. */
static void collapse_checked(const char *who, void *p, size_t len)
{
	if (madvise(p, len, MADV_COLLAPSE) == 0) {
		atomic_fetch_add(&sh->madv_collapsed, 1);
		return;
	}
	switch (errno) {
	case EAGAIN: case EBUSY: case EINVAL: case ENOMEM:
		return;
	default:
		fail("%s: MADV_COLLAPSE %p+%#zx: %s\n", who, p, len, strerror(errno));
	}
}

/* Replaces pages [first, first + n) by a fresh mapping. */
static bool remap_fresh(struct worker *w, size_t first, size_t n)
{
	if (mmap(addr(w, first), n * page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		fail("worker %d: mmap: %s\n", w->id, strerror(errno));
		return false;
	}
	if (rnd_below(2))
		madvise(addr(w, first), n * page_size, MADV_HUGEPAGE);
	for (size_t i = first; i < first + n; i++)
		w->model[i] = 0;
	return true;
}

/* ------------------------------------------------ worker operations */

static void op_fork(struct worker *w)
{
	size_t first, n;
	int status;
	pid_t pid;

	pick(w, &first, &n);
	note(w, OP_fork_cow, first, n);
	pid = fork();
	if (pid == 0) {
		/* The model as it was at the fork; CoW some pages on the way out. */
		thp_util_reopen_pagemap();
		if (!check_pages(w, 0, w->npages, "child after fork"))
			_exit(1);
		write_pages(w, first, n);
		if (rnd_below(2))
			collapse_checked("fork child", w->p, w->len);
		_exit(check_pages(w, 0, w->npages, "child after CoW") ? 0 : 1);
	}
	if (pid < 0)
		return;
	/* The parent's own copies, while the child reads. */
	pick(w, &first, &n);
	write_pages(w, first, n);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("worker %d: fork child failed (status %#x)\n", w->id, status);
}

/*
 * A process that maps, registers with khugepaged and exits, while we collapse
 * its memory with process_madvise().
 */
static void op_exit(struct worker *w)
{
	struct region r;
	int fds[2], fd;
	pid_t pid;

	note(w, OP_exit, 0, 0);
	if (pipe(fds))
		return;
	pid = fork();
	if (pid == 0) {
		if (map_region(&r, 2 * pmd_size))
			_exit(0);
		madvise(r.p, r.len, MADV_HUGEPAGE);
		fill(r.p, r.len, 0x5a);
		if (write(fds[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		usleep(rnd_below(2000));
		_exit(0);
	}
	close(fds[1]);
	if (pid > 0 && read(fds[0], &r, sizeof(r)) == sizeof(r)) {
		struct iovec v = { r.p, r.len };

		fd = syscall(SYS_pidfd_open, pid, 0);
		if (fd >= 0) {
			if (syscall(SYS_process_madvise, fd, &v, 1, MADV_COLLAPSE, 0) >= 0)
				atomic_fetch_add(&sh->madv_collapsed, 1);
			else if (errno != EAGAIN && errno != EBUSY && errno != EINVAL &&
				 errno != ENOMEM && errno != ESRCH)
				fail("worker %d: process_madvise of an exiting process: %s\n",
				     w->id, strerror(errno));
			close(fd);
		}
	}
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void op_mremap_move(struct worker *w)
{
	size_t first, n;
	char *to;

	pick(w, &first, &n);
	note(w, OP_mremap_move, first, n);
	/* To the spare range (PMD-aligned or not), and back. */
	to = w->spare + (rnd_below(2) ? 0 : rnd_below(pmd_nr) * page_size);
	if (mremap(addr(w, first), n * page_size, n * page_size, MREMAP_MAYMOVE | MREMAP_FIXED,
		   to) == MAP_FAILED) {
		fail("worker %d: mremap away: %s\n", w->id, strerror(errno));
		return;
	}
	if (rnd_below(2))
		collapse_checked("mremap", to, n * page_size);
	if (mremap(to, n * page_size, n * page_size, MREMAP_MAYMOVE | MREMAP_FIXED,
		   addr(w, first)) == MAP_FAILED)
		fail("worker %d: mremap back: %s\n", w->id, strerror(errno));
	/* Reserve the hole again, or an mmap() of ours (a thread stack) could land there. */
	mmap(to, n * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
	     -1, 0);
}

static void op_mremap_shrink_grow(struct worker *w)
{
	size_t keep = 1 + rnd_below(w->npages - 1);

	note(w, OP_mremap_shrink_grow, keep, w->npages - keep);
	if (!check_pages(w, keep, w->npages - keep, "before shrink"))
		return;
	/* The region is one VMA only if nothing split it: shrink its last VMA. */
	if (mremap(addr(w, keep), (w->npages - keep) * page_size, page_size, 0) == MAP_FAILED)
		return (void)remap_fresh(w, keep, w->npages - keep);
	/* What is left is one page at keep; grow it back in place: zeros after it. */
	if (mremap(addr(w, keep), page_size, (w->npages - keep) * page_size, 0) == MAP_FAILED) {
		remap_fresh(w, keep, w->npages - keep);
		return;
	}
	for (size_t i = keep + 1; i < w->npages; i++)
		w->model[i] = 0;
}

static void op_mprotect(struct worker *w)
{
	size_t first, n;

	pick(w, &first, &n);
	note(w, OP_mprotect_split, first, n);
	mprotect(addr(w, first), n * page_size, PROT_READ);
	if (rnd_below(2))
		collapse_checked("mprotect", addr(w, first), n * page_size);
	check_pages(w, first, n, "read-only");
	mprotect(addr(w, first), n * page_size, PROT_READ | PROT_WRITE);
}

static void op_madvise(struct worker *w, int op)
{
	static const int advice[] = {
		[OP_dontneed] = MADV_DONTNEED, [OP_free] = MADV_FREE,
		[OP_pageout] = MADV_PAGEOUT, [OP_cold] = MADV_COLD,
		[OP_willneed] = MADV_WILLNEED,
	};
	size_t first, n;
	int a;

	pick(w, &first, &n);
	note(w, op, first, n);
	a = op == OP_populate ? (rnd_below(2) ? MADV_POPULATE_READ : MADV_POPULATE_WRITE) :
				advice[op];
	if (madvise(addr(w, first), n * page_size, a)) {
		fail("worker %d: madvise %d: %s\n", w->id, a, strerror(errno));
		return;
	}
	for (size_t i = first; i < first + n; i++) {
		if (op == OP_dontneed)
			w->model[i] = 0;
		else if (op == OP_free && w->model[i])
			w->model[i] |= MAYBE_ZERO;
	}
}

/* userfaultfd: missing pages filled with UFFDIO_COPY, or writes under write protection. */
struct uffd_job {
	struct worker *w;
	int fd;
	size_t first, n;
	uint64_t seed0;
	atomic_bool done;
	/* Pages the handler filled; the others were already present when registered. */
	atomic_bool *served;
};

static void *uffd_handler(void *arg)
{
	struct uffd_job *j = arg;
	char *buf = aligned_alloc(page_size, page_size);

	while (!atomic_load(&j->done)) {
		struct pollfd pfd = { j->fd, POLLIN };
		struct uffd_msg msg;
		uintptr_t a;
		size_t i;

		if (poll(&pfd, 1, 10) <= 0 || read(j->fd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		a = msg.arg.pagefault.address & ~(page_size - 1);
		i = (a - (uintptr_t)j->w->p) / page_size;
		if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
			struct uffdio_writeprotect wp = { { a, page_size }, 0 };

			ioctl(j->fd, UFFDIO_WRITEPROTECT, &wp);
		} else {
			struct uffdio_copy c = { a, (uintptr_t)buf, page_size, 0, 0 };

			bool again = atomic_load(&j->served[i - j->first]);

			page_fill(buf, j->seed0 + (i - j->first));
			/* Marked before the copy wakes the faulting thread. */
			atomic_store(&j->served[i - j->first], true);
			if (ioctl(j->fd, UFFDIO_COPY, &c) == 0)
				continue;
			if (errno != EEXIST)
				fail("worker %d: UFFDIO_COPY: %s\n", j->w->id, strerror(errno));
			else if (!again)
				atomic_store(&j->served[i - j->first], false);
		}
	}
	free(buf);
	return NULL;
}

static void op_uffd(struct worker *w, bool wp)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffd_job j = { .w = w };
	pthread_t t;
	size_t first, n;

	if (!have_uffd) {
		atomic_fetch_add(&sh->skipped[wp ? OP_uffd_wp : OP_uffd_missing], 1);
		return;
	}
	pick(w, &first, &n);
	note(w, wp ? OP_uffd_wp : OP_uffd_missing, first, n);
	j.fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (j.fd < 0 || ioctl(j.fd, UFFDIO_API, &api)) {
		fail("worker %d: userfaultfd: %s\n", w->id, strerror(errno));
		return;
	}
	if (!wp && !remap_fresh(w, first, n))
		goto out;
	reg.range.start = (uintptr_t)addr(w, first);
	reg.range.len = n * page_size;
	reg.mode = wp ? UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(j.fd, UFFDIO_REGISTER, &reg)) {
		/* WP needs the pages present or a kernel with WP_UNPOPULATED; fine either way. */
		atomic_fetch_add(&sh->skipped[wp ? OP_uffd_wp : OP_uffd_missing], 1);
		goto out;
	}
	j.first = first;
	j.n = n;
	j.served = calloc(n, sizeof(*j.served));
	j.seed0 = new_seed(w);
	w->next_seed += n;
	if (wp) {
		struct uffdio_writeprotect p = { reg.range, UFFDIO_WRITEPROTECT_MODE_WP };

		if (ioctl(j.fd, UFFDIO_WRITEPROTECT, &p))
			fail("worker %d: UFFDIO_WRITEPROTECT: %s\n", w->id, strerror(errno));
	}
	pthread_create(&t, NULL, uffd_handler, &j);
	if (rnd_below(2))
		collapse_checked("userfaultfd", addr(w, first), n * page_size);
	if (wp) {
		/* Writes wait for the handler to lift the protection. */
		for (size_t i = first; i < first + n; i++) {
			w->model[i] = j.seed0 + (i - first);
			page_fill(addr(w, i), w->model[i]);
		}
	} else {
		/*
		 * A collapse between the fresh mmap() and the registration may have
		 * filled pages with zeros: those never fault to the handler.
		 */
		for (size_t i = first; i < first + n; i++) {
			volatile char c = *addr(w, i);

			(void)c;
			w->model[i] = atomic_load(&j.served[i - first]) ? j.seed0 + (i - first) : 0;
		}
	}
	check_pages(w, first, n, wp ? "after uffd-wp writes" : "after uffd copy");
	atomic_store(&j.done, true);
	pthread_join(t, NULL);
	ioctl(j.fd, UFFDIO_UNREGISTER, &reg.range);
out:
	free(j.served);
	close(j.fd);
}

static void op_migrate(struct worker *w, bool whole)
{
	size_t first, n;

	pick(w, &first, &n);
	note(w, whole ? OP_migrate_pages : OP_move_pages, first, n);
	if (whole) {
		unsigned long from = (1UL << nr_nodes) - 1, to = 1UL << rnd_below(nr_nodes);

		if (syscall(SYS_migrate_pages, 0, 8 * sizeof(long), &from, &to) < 0 &&
		    errno != ENOSYS && errno != EINVAL)
			fail("worker %d: migrate_pages: %s\n", w->id, strerror(errno));
		return;
	}
	{
		void *pages[64];
		int nodes[64], status[64];
		size_t k = n < 64 ? n : 64;

		for (size_t i = 0; i < k; i++) {
			pages[i] = addr(w, first + i);
			nodes[i] = rnd_below(nr_nodes);
		}
		if (syscall(SYS_move_pages, 0, k, pages, nodes, status, MPOL_MF_MOVE) < 0 &&
		    errno != ENOSYS && errno != ENOENT)
			fail("worker %d: move_pages: %s\n", w->id, strerror(errno));
	}
}

/* O_DIRECT reads of random device blocks into random pages: written through GUP pins. */
static void op_odirect(struct worker *w)
{
	size_t first, n;

	if (zram_fd < 0) {
		atomic_fetch_add(&sh->skipped[OP_odirect], 1);
		return;
	}
	pick(w, &first, &n);
	n = n < 32 ? n : 32;
	note(w, OP_odirect, first, n);
	for (size_t i = first; i < first + n; i++) {
		size_t b = rnd_below(dev_pages);

		if (pread(zram_fd, addr(w, i), page_size, b * page_size) != (ssize_t)page_size) {
			fail("worker %d: O_DIRECT read: %s\n", w->id, strerror(errno));
			return;
		}
		w->model[i] = dev_seed(b);
	}
	check_pages(w, first, n, "after O_DIRECT read");
}

/*
 * vmsplice() holds references to the pages in the pipe: khugepaged must leave
 * them alone, so what we write through the mapping afterwards is what the
 * pipe reads.
 */
static void op_vmsplice(struct worker *w)
{
	size_t first, n, k;
	int fds[2];
	char *buf;

	pick(w, &first, &n);
	n = n < 16 ? n : 16;	/* a pipe holds 16 pages */
	note(w, OP_vmsplice, first, n);
	if (pipe(fds))
		return;
	buf = aligned_alloc(page_size, page_size);
	/* Present and exclusive first: a write must not CoW the spliced page away. */
	write_pages(w, first, n);
	for (k = 0; k < n; k++) {
		struct iovec v = { addr(w, first + k), page_size };

		if (vmsplice(fds[1], &v, 1, 0) != (ssize_t)page_size)
			break;
	}
	collapse_checked("vmsplice", addr(w, first & ~(pmd_nr - 1)), pmd_size);
	usleep(rnd_below(5000));
	write_pages(w, first, k);
	for (size_t i = 0; i < k; i++) {
		if (read(fds[0], buf, page_size) != (ssize_t)page_size) {
			fail("worker %d: vmsplice pipe read: %s\n", w->id, strerror(errno));
			break;
		}
		if (page_diff(buf, w->model[first + i]) >= 0) {
			fail("worker %d: page %zu: the pipe holds another page than the mapping\n",
			     w->id, first + i);
			dump_history(w);
			break;
		}
	}
	free(buf);
	close(fds[0]);
	close(fds[1]);
}

/* A long-term pin (gup_test): what the mapping holds is what the pin reads. */
static void op_gup_longterm(struct worker *w)
{
	struct pin_longterm_test t;
	size_t first, n;
	char *buf;

	if (gup_fd < 0) {
		atomic_fetch_add(&sh->skipped[OP_gup_longterm], 1);
		return;
	}
	pick(w, &first, &n);
	n = n < 64 ? n : 64;
	t.addr = (uintptr_t)addr(w, first);
	t.size = n * page_size;
	t.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | (rnd_below(2) ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0);
	write_pages(w, first, n);
	/* One pin at a time machine-wide: another worker's pin makes this EINVAL. */
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &t)) {
		atomic_fetch_add(&sh->skipped[OP_gup_longterm], 1);
		return;
	}
	note(w, OP_gup_longterm, first, n);
	collapse_checked("gup pin", addr(w, first & ~(pmd_nr - 1)), pmd_size);
	write_pages(w, first, n);
	buf = aligned_alloc(page_size, n * page_size);
	{
		uint64_t to = (uintptr_t)buf;

		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
			fail("worker %d: PIN_LONGTERM_TEST_READ: %s\n", w->id, strerror(errno));
	}
	for (size_t i = 0; i < n && !atomic_load(&sh->failed); i++)
		if (page_diff(buf + i * page_size, w->model[first + i]) >= 0) {
			fail("worker %d: page %zu: the long-term pin holds another page than the mapping\n",
			     w->id, first + i);
			dump_history(w);
		}
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	free(buf);
}

/*
 * io_uring with the pages registered as a fixed buffer (pinned long-term):
 * device blocks read into it arrive in the mapping.
 */
static void op_io_uring(struct worker *w)
{
	struct io_uring_params prm = { 0 };
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	struct iovec v;
	size_t first, n, b;
	unsigned int *sq_tail, *sq_array, *cq_head, *cq_tail;
	char *sq, *cq;
	int fd, ret;

	if (!have_uring || zram_fd < 0) {
		atomic_fetch_add(&sh->skipped[OP_io_uring_fixed], 1);
		return;
	}
	pick(w, &first, &n);
	n = n < 16 ? n : 16;
	note(w, OP_io_uring_fixed, first, n);
	fd = syscall(__NR_io_uring_setup, 4, &prm);
	if (fd < 0) {
		fail("worker %d: io_uring_setup: %s\n", w->id, strerror(errno));
		return;
	}
	sq = mmap(NULL, prm.sq_off.array + prm.sq_entries * 4, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, prm.cq_off.cqes + prm.cq_entries * sizeof(*cqe), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, prm.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		fail("worker %d: io_uring mmap: %s\n", w->id, strerror(errno));
		goto out;
	}
	sq_tail = (unsigned int *)(sq + prm.sq_off.tail);
	sq_array = (unsigned int *)(sq + prm.sq_off.array);
	cq_head = (unsigned int *)(cq + prm.cq_off.head);
	cq_tail = (unsigned int *)(cq + prm.cq_off.tail);
	v.iov_base = addr(w, first);
	v.iov_len = n * page_size;
	write_pages(w, first, n);
	if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, &v, 1)) {
		fail("worker %d: IORING_REGISTER_BUFFERS: %s\n", w->id, strerror(errno));
		goto out;
	}
	collapse_checked("io_uring", addr(w, first & ~(pmd_nr - 1)), pmd_size);
	b = rnd_below(dev_pages - n);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_READ_FIXED;
	sqes[0].fd = zram_fd;
	sqes[0].addr = (uintptr_t)addr(w, first);
	sqes[0].len = n * page_size;
	sqes[0].off = b * page_size;
	sqes[0].buf_index = 0;
	sq_array[0] = 0;
	atomic_store_explicit((_Atomic unsigned int *)sq_tail, *sq_tail + 1, memory_order_release);
	ret = syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	if (ret < 0 || *cq_head == atomic_load_explicit((_Atomic unsigned int *)cq_tail,
							 memory_order_acquire)) {
		fail("worker %d: io_uring_enter: %s\n", w->id, strerror(errno));
		goto out;
	}
	cqe = (struct io_uring_cqe *)(cq + prm.cq_off.cqes) +
	      (*cq_head & *(unsigned int *)(cq + prm.cq_off.ring_mask));
	if (cqe->res != (int)(n * page_size)) {
		fail("worker %d: READ_FIXED: %d\n", w->id, cqe->res);
		goto out;
	}
	(*cq_head)++;
	for (size_t i = 0; i < n; i++)
		w->model[first + i] = dev_seed(b + i);
	check_pages(w, first, n, "after io_uring READ_FIXED");
out:
	/* Closing the ring drops the registered buffer and its pins. */
	close(fd);
	if (sq != MAP_FAILED)
		munmap(sq, prm.sq_off.array + prm.sq_entries * 4);
	if (cq != MAP_FAILED)
		munmap(cq, prm.cq_off.cqes + prm.cq_entries * sizeof(*cqe));
	if (sqes != MAP_FAILED)
		munmap(sqes, prm.sq_entries * sizeof(*sqes));
}

/*
 * MADV_COLLAPSE with random arguments: unaligned, overflowing, unmapped, and
 * across the zoo (a tmpfs file, shared anonymous memory, PROT_NONE, the
 * stack) and the region.  The zoo's contents are checked each round.
 */
static void op_collapse_fuzz(struct worker *w)
{
	char stack[64], who[32];
	char *bases[] = { w->p, w->file_map, w->shared_map, w->none_map, stack, w->spare,
			  (char *)0, (char *)-pmd_size, w->p + w->len };
	char *a = bases[rnd_below(sizeof(bases) / sizeof(bases[0]))];
	size_t len;

	note(w, OP_collapse_fuzz, 0, 0);
	a += (intptr_t)(rnd_below(4 * pmd_nr) - 2 * pmd_nr) * page_size;
	if (rnd_below(4) == 0)
		a += 1 + rnd_below(page_size - 1);	/* unaligned */
	switch (rnd_below(4)) {
	case 0: len = 0; break;
	case 1: len = SIZE_MAX - rnd_below(page_size); break;	/* overflowing */
	case 2: len = rnd_below(8 * pmd_size); break;
	default: len = pmd_size * (1 + rnd_below(3));
	}
	snprintf(who, sizeof(who), "worker %d", w->id);
	collapse_checked(who, a, len);
}

static bool check_zoo(struct worker *w)
{
	for (size_t off = 0; off < w->zoo_len; off += page_size) {
		uint64_t seed = ((uint64_t)(w->id + 1) << 32) | off;

		if (page_diff(w->file_map + off, seed | 1) >= 0 ||
		    page_diff(w->shared_map + off, seed | 2) >= 0) {
			fail("worker %d: file or shared mapping changed at %#zx\n", w->id, off);
			return false;
		}
	}
	atomic_fetch_add(&sh->bytes_verified, 2 * w->zoo_len);
	return true;
}

static int set_up_worker(struct worker *w)
{
	struct region r;
	char path[64];
	int fd;

	if (map_region(&r, REGION_PMDS * pmd_size))
		return -1;
	w->p = r.p;
	w->len = r.len;
	w->npages = w->len / page_size;
	w->model = calloc(w->npages, sizeof(*w->model));
	/* A spare range one PMD larger, for unaligned moves. */
	w->spare = mmap(NULL, (REGION_PMDS + 2) * pmd_size, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!w->model || w->spare == MAP_FAILED)
		return -1;
	w->spare = (char *)(((uintptr_t)w->spare + pmd_size - 1) & ~(pmd_size - 1));
	madvise(w->p, w->len, MADV_HUGEPAGE);
	write_pages(w, 0, w->npages);

	w->zoo_len = pmd_size;
	snprintf(path, sizeof(path), "/tmp/soak-zoo-%d", w->id);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, w->zoo_len))
		return -1;
	w->file_map = mmap(NULL, w->zoo_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	unlink(path);
	w->shared_map = mmap(NULL, w->zoo_len, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	w->none_map = mmap(NULL, w->zoo_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->file_map == MAP_FAILED || w->shared_map == MAP_FAILED || w->none_map == MAP_FAILED)
		return -1;
	madvise(w->file_map, w->zoo_len, MADV_HUGEPAGE);
	madvise(w->shared_map, w->zoo_len, MADV_HUGEPAGE);
	for (size_t off = 0; off < w->zoo_len; off += page_size) {
		uint64_t seed = ((uint64_t)(w->id + 1) << 32) | off;

		page_fill(w->file_map + off, seed | 1);
		page_fill(w->shared_map + off, seed | 2);
	}
	return 0;
}

static void worker_step(struct worker *w)
{
	int op = rnd_below(NR_WORKER_OPS);
	size_t first, n;

	switch (op) {
	case OP_write:
		pick(w, &first, &n);
		note(w, op, first, n);
		write_pages(w, first, n);
		break;
	case OP_collapse:
		pick(w, &first, &n);
		note(w, op, first, n);
		if (rnd_below(2)) {
			first &= ~(pmd_nr - 1);
			n = pmd_nr;
		}
		collapse_checked("worker", addr(w, first), n * page_size);
		break;
	case OP_fork_cow: op_fork(w); break;
	case OP_exit: op_exit(w); break;
	case OP_munmap_mmap:
		pick(w, &first, &n);
		note(w, op, first, n);
		if (munmap(addr(w, first), n * page_size))
			fail("worker %d: munmap: %s\n", w->id, strerror(errno));
		remap_fresh(w, first, n);
		if (rnd_below(2))
			write_pages(w, first, n);
		break;
	case OP_mremap_move: op_mremap_move(w); break;
	case OP_mremap_shrink_grow: op_mremap_shrink_grow(w); break;
	case OP_mprotect_split: op_mprotect(w); break;
	case OP_dontneed: case OP_free: case OP_pageout: case OP_cold: case OP_willneed:
	case OP_populate:
		op_madvise(w, op);
		break;
	case OP_uffd_missing: op_uffd(w, false); break;
	case OP_uffd_wp: op_uffd(w, true); break;
	case OP_move_pages: op_migrate(w, false); break;
	case OP_migrate_pages: op_migrate(w, true); break;
	case OP_odirect: op_odirect(w); break;
	case OP_vmsplice: op_vmsplice(w); break;
	case OP_gup_longterm: op_gup_longterm(w); break;
	case OP_io_uring_fixed: op_io_uring(w); break;
	case OP_collapse_fuzz: op_collapse_fuzz(w); break;
	}
}

static int worker_main(int id, bool in_memcg, double round_secs)
{
	struct worker w = { .id = id };

	rng = 0x9e3779b97f4a7c15ULL * (id + 1);
	thp_util_reopen_pagemap();
	if (in_memcg)
		write_file(CGROUP "/cgroup.procs", "0");
	if (set_up_worker(&w)) {
		fail("worker %d: set-up: %s\n", id, strerror(errno));
		return 1;
	}
	sh->start[id] = (uintptr_t)w.p;
	sh->len[id] = w.len;
	while (!atomic_load(&sh->stop)) {
		double end = now() + round_secs;

		while (now() < end && !atomic_load(&sh->stop))
			worker_step(&w);
		/* The round's end: every page and the zoo as the model says. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!check_pages(&w, 0, w.npages, "end of round") || !check_zoo(&w))
			return 1;
		atomic_fetch_add(&sh->rounds, 1);
	}
	while (wait(NULL) > 0)
		;
	return 0;
}

/* ------------------------------------------------ the collapser and the reader */

static bool pm_errno_ok(int e)
{
	return e == EAGAIN || e == EBUSY || e == EINVAL || e == ENOMEM || e == ESRCH;
}

static int collapser_main(void)
{
	int pidfd[MAX_WORKERS];

	rng = 0xc0ffee;
	for (int i = 0; i < sh->nr_workers; i++)
		pidfd[i] = syscall(SYS_pidfd_open, sh->pids[i], 0);
	while (!atomic_load(&sh->stop)) {
		int i = rnd_below(sh->nr_workers);
		struct iovec v[4];
		int nv = 1 + rnd_below(4);
		long ret;

		if (!sh->len[i] || pidfd[i] < 0) {
			usleep(1000);
			continue;
		}
		for (int k = 0; k < nv; k++) {
			size_t pmd = rnd_below(sh->len[i] / pmd_size);

			v[k].iov_base = (char *)sh->start[i] + pmd * pmd_size;
			v[k].iov_len = pmd_size * (1 + rnd_below(sh->len[i] / pmd_size - pmd));
		}
		if (rnd_below(4)) {
			atomic_fetch_add(&sh->ops[OP_process_madvise], 1);
			ret = syscall(SYS_process_madvise, pidfd[i], v, nv, MADV_COLLAPSE, 0);
			if (ret >= 0)
				atomic_fetch_add(&sh->madv_collapsed, 1);
			else if (!pm_errno_ok(errno))
				fail("process_madvise(MADV_COLLAPSE): %s\n", strerror(errno));
			continue;
		}
		/* Hostile: each must fail with the error process_madvise(2) documents. */
		atomic_fetch_add(&sh->ops[OP_process_madvise_fuzz], 1);
		switch (rnd_below(5)) {
		case 0:
			ret = syscall(SYS_process_madvise, pidfd[i], v, nv, MADV_COLLAPSE, 1);
			if (ret >= 0 || errno != EINVAL)
				fail("process_madvise with flags 1: %ld, %s\n", ret, strerror(errno));
			break;
		case 1:
			ret = syscall(SYS_process_madvise, pidfd[i], v, IOV_MAX + 1, MADV_COLLAPSE, 0);
			if (ret >= 0 || errno != EINVAL)
				fail("process_madvise of IOV_MAX + 1 vectors: %ld, %s\n", ret,
				     strerror(errno));
			break;
		case 2:
			ret = syscall(SYS_process_madvise, pidfd[i], (void *)16, nv, MADV_COLLAPSE, 0);
			if (ret >= 0 || errno != EFAULT)
				fail("process_madvise of a bad vector: %ld, %s\n", ret, strerror(errno));
			break;
		case 3:
			ret = syscall(SYS_process_madvise, 1000000, v, nv, MADV_COLLAPSE, 0);
			if (ret >= 0 || errno != EBADF)
				fail("process_madvise on a bad pidfd: %ld, %s\n", ret, strerror(errno));
			break;
		default:
			/* Unaligned, overflowing or unmapped ranges. */
			v[0].iov_base = (char *)v[0].iov_base + rnd_below(3) * (page_size / 2) -
					rnd_below(2) * 64 * pmd_size;
			v[0].iov_len = rnd_below(2) ? SIZE_MAX - page_size : v[0].iov_len + 1;
			ret = syscall(SYS_process_madvise, pidfd[i], v, 1, MADV_COLLAPSE, 0);
			if (ret < 0 && !pm_errno_ok(errno) && errno != EFAULT)
				fail("process_madvise(%p, %#zx): %s\n", v[0].iov_base, v[0].iov_len,
				     strerror(errno));
		}
	}
	return 0;
}

static void read_all(const char *path)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static int reader_main(void)
{
	rng = 0xfeed;
	while (!atomic_load(&sh->stop)) {
		int i = rnd_below(sh->nr_workers);
		uint64_t pm[512], flags;
		char path[64];
		int fd, kfd;

		atomic_fetch_add(&sh->ops[OP_pagemap_smaps_read], 1);
		snprintf(path, sizeof(path), "/proc/%d/smaps", sh->pids[i]);
		read_all(path);
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", sh->pids[i]);
		read_all(path);
		snprintf(path, sizeof(path), "/proc/%d/pagemap", sh->pids[i]);
		fd = open(path, O_RDONLY);
		kfd = open("/proc/kpageflags", O_RDONLY);
		for (size_t off = 0; fd >= 0 && off < sh->len[i]; off += 512 * page_size) {
			ssize_t got = pread(fd, pm, sizeof(pm), (sh->start[i] + off) / page_size * 8);

			for (ssize_t k = 0; kfd >= 0 && k < got / 8; k += 64)
				if (pm[k] & PM_PRESENT)
					pread(kfd, &flags, 8, (pm[k] & PM_PFN_MASK) * 8);
		}
		if (fd >= 0)
			close(fd);
		if (kfd >= 0)
			close(kfd);
	}
	return 0;
}

/* ------------------------------------------------ knobs: the soak's settings and fuzzing */

static char knob_paths[32][512];
static int nr_knobs;
static int phase;

static void soak_settings(void)
{
	const char *ptes[] = { "max_ptes_none", "max_ptes_swap", "max_ptes_shared" };
	char path[256], buf[32];
	glob_t g;

	set_mode(THP_DIR "/enabled", phase % 3 == 2 ? "always" : "madvise");
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "0");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	snprintf(buf, sizeof(buf), "%zu", 8 * pmd_nr);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	if (!access(KHUGEPAGED "/hints", F_OK))
		set_mode(KHUGEPAGED "/hints", "1");
	/* max_ptes_* at either end in turn. */
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), KHUGEPAGED "/%s", ptes[i]);
		snprintf(buf, sizeof(buf), "%zu", phase % 2 ? 0 : (i ? pmd_nr / 2 : pmd_nr - 1));
		set_mode(path, buf);
	}
	/* Every mTHP size on (PMD-sized ones follow the top-level mode). */
	if (glob(THP_DIR "/hugepages-*kB/enabled", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			set_mode(g.gl_pathv[i], phase % 2 ? "inherit" : "always");
		globfree(&g);
	}
}

static void find_knobs(void)
{
	DIR *d = opendir(KHUGEPAGED);
	struct dirent *e;

	while (d && (e = readdir(d)) && nr_knobs < 32) {
		struct stat st;
		char path[512];

		snprintf(path, sizeof(path), KHUGEPAGED "/%s", e->d_name);
		if (e->d_name[0] != '.' && !stat(path, &st) && S_ISREG(st.st_mode) &&
		    (st.st_mode & S_IWUSR))
			strcpy(knob_paths[nr_knobs++], path);
	}
	if (d)
		closedir(d);
}

/* One hostile or random write; a refused write must leave the value as it was. */
static void fuzz_knob(void)
{
	static const char *const hostile[] = {
		"", "\n", "-1", "4294967296", "18446744073709551616", "0x10", " 5", "5 5",
		"abc", "1e3", "+", "%s%n", "007", "4294967295", "2147483648", "0\n\n",
	};
	char before[256], after[256], val[5000];
	const char *path;
	bool enabled = rnd_below(4) == 0;
	int fd;
	ssize_t ret;

	if (enabled) {
		static const char *const modes[] = { "always", "madvise", "never", "inherit",
						     "alway", "[never]", "", "always madvise" };

		path = THP_DIR "/enabled";
		snprintf(val, sizeof(val), "%s", modes[rnd_below(8)]);
		atomic_fetch_add(&sh->ops[OP_enabled_write], 1);
	} else {
		path = knob_paths[rnd_below(nr_knobs)];
		switch (rnd_below(4)) {
		case 0:
			snprintf(val, sizeof(val), "%s", hostile[rnd_below(16)]);
			break;
		case 1:
			memset(val, '9', sizeof(val) - 1);
			val[sizeof(val) - 1] = '\0';
			break;
		default:
			snprintf(val, sizeof(val), "%llu", (unsigned long long)(rnd() >> rnd_below(64)));
		}
		atomic_fetch_add(&sh->ops[OP_knob_write], 1);
	}
	if (read_file(path, before, sizeof(before)))
		return;
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	ret = write(fd, val, strlen(val));
	/* What the kernel's number parsers return: EINVAL, or ERANGE for too large a number. */
	if (ret < 0 && errno != EINVAL && errno != ERANGE)
		fail("%s: writing \"%.40s\": %s\n", path, val, strerror(errno));
	close(fd);
	read_file(path, after, sizeof(after));
	if (ret < 0 && strcmp(before, after))
		fail("%s: a refused write of \"%.40s\" changed it from %s to %s\n", path, val, before,
		     after);
	/* Back to the soak's settings before khugepaged runs long on a hostile value. */
	if (ret >= 0)
		write_file(path, before);
	if (enabled && ret >= 0)
		write_file(path, phase % 3 == 2 ? "always" : "madvise");
}

/* ------------------------------------------------ set-up */

/* A zram device holding a known pattern, for O_DIRECT and io_uring reads. */
static void set_up_device(void)
{
	char buf[64], path[64];
	char *pat;
	int id, fd;

	if (read_line("/sys/class/zram-control/hot_add", buf, sizeof(buf)))
		return;
	id = atoi(buf);
	zram_id = id;
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", id);
	dev_pages = 1024;
	snprintf(buf, sizeof(buf), "%zu", dev_pages * page_size);
	if (write_file(path, buf))
		return;
	snprintf(path, sizeof(path), "/dev/zram%d", id);
	fd = open(path, O_RDWR);
	pat = aligned_alloc(page_size, page_size);
	for (size_t b = 0; fd >= 0 && b < dev_pages; b++) {
		page_fill(pat, dev_seed(b));
		if (pwrite(fd, pat, page_size, b * page_size) != (ssize_t)page_size) {
			close(fd);
			fd = -1;
		}
	}
	free(pat);
	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
	zram_fd = open(path, O_RDONLY | O_DIRECT);
}

static bool set_up_memcg(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL);
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	mkdir(CGROUP, 0755);
	/* Reclaim above two thirds of a worker's region: it swaps all the time. */
	char buf[32];

	snprintf(buf, sizeof(buf), "%zu", REGION_PMDS * pmd_size * 2 / 3);
	return !write_file(CGROUP "/memory.high", buf);
}

static void print_stats(const char *dir, const char *prefix, long *before, int *n, bool print)
{
	char path[512], buf[64];
	glob_t g;

	snprintf(path, sizeof(path), "%s/%s*", dir, prefix);
	if (glob(path, 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		long v = read_line(g.gl_pathv[i], buf, sizeof(buf)) ? -1 : atol(buf);

		if (print && v - before[*n])
			ksft_print_msg("  %-60s %ld\n", g.gl_pathv[i] + strlen(THP_DIR) + 1,
				       v - before[*n]);
		before[(*n)++] = v;
	}
	globfree(&g);
}

/* Per-size collapse counters: their values at the start, then what they moved. */
static void size_stats(long *v, bool print)
{
	glob_t g;
	int n = 0;

	if (glob(THP_DIR "/hugepages-*kB/stats", 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc && n < 900; i++)
		print_stats(g.gl_pathv[i], "collapse", v, &n, print);
	globfree(&g);
}

int main(int argc, char **argv)
{
	int seconds = 150, workers = 4, status, exits_bad = 0;
	double round_secs = 10, end, next_age = 0, next_compact = 0, next_phase = 0;
	unsigned long alloc0, alloc_failed0, collapsed0, scans0;
	static const char *const events[] = { "pswpout", "pswpin", "pgmigrate_success",
					      "pgmigrate_fail", "compact_success", "thp_split_pmd",
					      "thp_fault_alloc", "thp_deferred_split_page" };
	unsigned long events0[8];
	static long size0[1024];
	char hints0[2048] = "", hints1[2048] = "";
	pid_t helpers[2];
	struct mem_snap s0, s1;
	bool memcg;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--seconds=", 10))
			seconds = atoi(argv[i] + 10);
		else if (!strncmp(argv[i], "--round=", 8))
			round_secs = atof(argv[i] + 8);
		else if (!strncmp(argv[i], "--workers=", 10))
			workers = atoi(argv[i] + 10);
	}
	if (workers < 1 || workers > MAX_WORKERS)
		workers = 4;
	ksft_print_header();
	thp_util_init();
	ksft_set_plan(3);
	setvbuf(stdout, NULL, _IOLBF, 0);
	restore_settings_at_exit();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	sh->nr_workers = workers;

	/* What this kernel offers: each missing piece is said, and its operations skipped. */
	{
		char buf[64];
		int fd = syscall(SYS_userfaultfd, O_CLOEXEC);
		struct io_uring_params prm = { 0 };

		have_uffd = fd >= 0;
		if (fd >= 0)
			close(fd);
		fd = syscall(__NR_io_uring_setup, 1, &prm);
		have_uring = fd >= 0;
		if (fd >= 0)
			close(fd);
		if (!read_line("/sys/devices/system/node/online", buf, sizeof(buf)) &&
		    strchr(buf, '-'))
			nr_nodes = atoi(strchr(buf, '-') + 1) + 1;
	}
	set_up_device();
	gup_fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	memcg = set_up_memcg();
	find_knobs();
	ksft_print_msg("%d s in rounds of %.0f s, %d workers of %d PMDs; nodes %d, userfaultfd %s, io_uring %s, O_DIRECT device %s, gup_test %s, memcg %s, %d knobs\n",
		       seconds, round_secs, workers, REGION_PMDS, nr_nodes, have_uffd ? "yes" : "no",
		       have_uring ? "yes" : "no", zram_fd >= 0 ? "yes" : "no",
		       gup_fd >= 0 ? "yes" : "no", memcg ? "yes" : "no", nr_knobs);

	mem_snapshot(&s0);
	alloc0 = vmstat("thp_collapse_alloc");
	alloc_failed0 = vmstat("thp_collapse_alloc_failed");
	collapsed0 = read_ulong(KHUGEPAGED "/pages_collapsed");
	scans0 = read_ulong(KHUGEPAGED "/full_scans");
	read_file(KHUGEPAGED "/hint_stats", hints0, sizeof(hints0));
	size_stats(size0, false);
	for (int i = 0; i < 8; i++)
		events0[i] = vmstat(events[i]);
	soak_settings();

	for (int i = 0; i < workers; i++) {
		/* Not fork()'s value straight into shared memory: the child would write 0. */
		pid_t pid = fork();

		if (pid == 0)
			_exit(worker_main(i, memcg && i == workers - 1, round_secs));
		sh->pids[i] = pid;
	}
	helpers[0] = fork();
	if (helpers[0] == 0)
		_exit(collapser_main());
	helpers[1] = fork();
	if (helpers[1] == 0)
		_exit(reader_main());

	rng = 0x5eed;
	end = now() + seconds;
	while (now() < end && !atomic_load(&sh->stop)) {
		double t = now();

		if (t >= next_phase) {
			phase++;
			restore_settings();
			soak_settings();
			next_phase = t + round_secs * 1.5;
		}
		if (t >= next_age) {
			atomic_fetch_add(&sh->ops[OP_aging], 1);
			lru_gen_age("/");
			if (memcg)
				lru_gen_age("/soak");
			next_age = t + 2;
		}
		if (t >= next_compact) {
			atomic_fetch_add(&sh->ops[OP_compaction], 1);
			write_file("/proc/sys/vm/compact_memory", "1");
			next_compact = t + 7;
		}
		fuzz_knob();
		usleep(20000);
	}
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < workers; i++) {
		if (waitpid(sh->pids[i], &status, 0) != sh->pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			ksft_print_msg("worker %d ended with status %#x\n", i, status);
			exits_bad++;
		}
	}
	waitpid(helpers[0], NULL, 0);
	waitpid(helpers[1], NULL, 0);
	restore_settings();

	ksft_print_msg("rounds (of all workers): %ld\n", atomic_load(&sh->rounds));
	ksft_print_msg("operations:\n");
	for (int i = 0; i < NR_OPS; i++)
		ksft_print_msg("  %-22s %10ld%s\n", op_names[i], atomic_load(&sh->ops[i]),
			       atomic_load(&sh->skipped[i]) ? " (some skipped)" : "");
	for (int i = 0; i < NR_OPS; i++)
		if (atomic_load(&sh->skipped[i]))
			ksft_print_msg("  %-22s %10ld skipped (not on this kernel, or busy)\n",
				       op_names[i], atomic_load(&sh->skipped[i]));
	ksft_print_msg("collapses: thp_collapse_alloc %lu (failed %lu), khugepaged pages_collapsed %lu, full_scans %lu, MADV_COLLAPSE/process_madvise successes %ld\n",
		       vmstat("thp_collapse_alloc") - alloc0,
		       vmstat("thp_collapse_alloc_failed") - alloc_failed0,
		       read_ulong(KHUGEPAGED "/pages_collapsed") - collapsed0,
		       read_ulong(KHUGEPAGED "/full_scans") - scans0,
		       atomic_load(&sh->madv_collapsed));
	ksft_print_msg("what else the kernel did:");
	for (int i = 0; i < 8; i++)
		printf(" %s %lu", events[i], vmstat(events[i]) - events0[i]);
	printf("\n");
	ksft_print_msg("per-size collapse counters that moved:\n");
	size_stats(size0, true);
	if (!read_file(KHUGEPAGED "/hint_stats", hints1, sizeof(hints1))) {
		char *a, *b, *sa, *sb;

		ksft_print_msg("hint_stats that moved:\n");
		for (a = strtok_r(hints0, "\n", &sa), b = strtok_r(hints1, "\n", &sb); a && b;
		     a = strtok_r(NULL, "\n", &sa), b = strtok_r(NULL, "\n", &sb)) {
			char *va = strrchr(a, ' '), *vb = strrchr(b, ' ');

			if (va && vb && atol(vb) != atol(va))
				ksft_print_msg("  %.*s %ld\n", (int)(vb - b), b,
					       atol(vb) - atol(va));
		}
	}
	ksft_print_msg("bytes verified: %ld (%.1f MB)\n", atomic_load(&sh->bytes_verified),
		       atomic_load(&sh->bytes_verified) / 1048576.0);
	ksft_test_result(!atomic_load(&sh->failed) && !exits_bad && atomic_load(&sh->rounds) > 0,
			 "every page as its model says at the end of every round\n");
	ksft_test_result(!atomic_load(&sh->failed) && atomic_load(&sh->ops[OP_knob_write]) > 0,
			 "knobs and MADV_COLLAPSE arguments: only documented errors, old values kept\n");

	/* What the soak set up goes before memory is compared: the device, the cgroup. */
	if (zram_fd >= 0)
		close(zram_fd);
	if (zram_id >= 0) {
		char path[64], id[16];

		snprintf(path, sizeof(path), "/sys/block/zram%d/reset", zram_id);
		write_file(path, "1");
		snprintf(id, sizeof(id), "%d", zram_id);
		write_file("/sys/class/zram-control/hot_remove", id);
	}
	rmdir(CGROUP);
	mem_snapshot(&s1);
	ksft_test_result(mem_all_flat(&s0, &s1), "kernel memory is flat across the soak\n");
	ksft_finished();
}
