// SPDX-License-Identifier: GPL-2.0
/*
 * The soak's shared counters and the model of every page a worker owns
 * (soak.c says what the soak does).
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
#include "soak.h"

/* ------------------------------------------------ shared counters */

const char *const op_names[] = { OPS(OP_NAME) };

struct shared *sh;

void fail(const char *fmt, ...)
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

int nr_nodes = 1, zram_fd = -1, zram_id = -1, gup_fd = -1;
size_t dev_pages;
bool have_uffd, have_uring;

/* xorshift: each process seeds its own. */
uint64_t rng;
uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

size_t rnd_below(size_t n)
{
	return n ? rnd() % n : 0;
}

/* ------------------------------------------------ page contents and the model */

void page_fill(char *p, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t i = 0; i < page_size / 8; i++)
		w[i] = seed ? (i * 8) ^ seed : 0;
}

/* Index of the first word of p that differs from seed's page, or -1. */
long page_diff(const char *p, uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < page_size / 8; i++)
		if (w[i] != (seed ? (i * 8) ^ seed : 0))
			return i;
	return -1;
}

uint64_t dev_seed(size_t block)
{
	return DEV_SEED | (block + 1);
}

uint64_t new_seed(struct worker *w)
{
	return ((uint64_t)(w->id + 1) << 40) | ++w->next_seed;
}

void note(struct worker *w, int op, size_t first, size_t n)
{
	unsigned int i = w->nr_hist++ % 16;

	w->hist[i].op = op;
	w->hist[i].first = first;
	w->hist[i].n = n;
	atomic_fetch_add(&sh->ops[op], 1);
}

void dump_history(struct worker *w)
{
	unsigned int n = w->nr_hist < 16 ? w->nr_hist : 16;

	for (unsigned int k = w->nr_hist - n; k < w->nr_hist; k++)
		printf("#   worker %d op %s pages %zu+%zu\n", w->id, op_names[w->hist[k % 16].op],
		       w->hist[k % 16].first, w->hist[k % 16].n);
}

/* Checks pages [first, first + n) against the model. */
bool check_pages(struct worker *w, size_t first, size_t n, const char *when)
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

void write_pages(struct worker *w, size_t first, size_t n)
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
void pick(struct worker *w, size_t *first, size_t *n)
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

char *addr(struct worker *w, size_t i)
{
	return w->p + i * page_size;
}

/* madvise(MADV_COLLAPSE): an error must be one 7.3 documents. */
void collapse_checked(const char *who, void *p, size_t len)
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
bool remap_fresh(struct worker *w, size_t first, size_t n)
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

