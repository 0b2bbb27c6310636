// SPDX-License-Identifier: GPL-2.0
/*
 * A soak worker's page-cache regions: a memfd (shmem) and, where the guest
 * has an XFS disk (soak.c mounts it), a file on it.  Each is SHARED_PMDS PMD
 * ranges mapped MAP_SHARED at a PMD boundary with MADV_HUGEPAGE, so that
 * khugepaged's file scan, MADV_COLLAPSE and process_madvise() collapse them in
 * the page cache and retract the page tables of every mm that maps them.
 *
 * Racing that: writes through the mapping and with pwrite(); truncation and
 * regrowth and hole punching (fallocate(), MADV_REMOVE), which turn pages to
 * zeros; MADV_PAGEOUT (shmem to swap, file pages dropped once written back);
 * and a child that maps the memfd a second time, collapses it there, and
 * writes to a MAP_PRIVATE mapping of it (CoW of shmem), all checked against
 * the worker's model.  The XFS file is never truncated or punched: 7.3's
 * collapse_file() deadlocks against that (file_collapse case 5), and the
 * soak runs on both kernels.  At the end of each round every page is checked
 * through the mapping and through pread().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "soak.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_REMOVE
#define MADV_REMOVE 9
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

#define SHARED_PMDS 2

const char *soak_file_dir;

/* len bytes of fd mapped MAP_SHARED (or flags) at a PMD boundary; NULL on failure. */
static char *map_at_pmd(int fd, size_t len, int flags)
{
	char *base = mmap(NULL, len + pmd_size, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;
	char *p;

	if (base == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)base + pmd_size - 1) & ~(pmd_size - 1);
	if (a > (uintptr_t)base)
		munmap(base, a - (uintptr_t)base);
	munmap((char *)a + len, (uintptr_t)base + pmd_size - a);
	p = mmap((void *)a, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int set_up_region(struct worker *w, struct cache_region *r, int fd, const char *what)
{
	r->what = what;
	r->fd = fd;
	r->len = SHARED_PMDS * pmd_size;
	r->npages = r->len / page_size;
	r->model = calloc(r->npages, sizeof(*r->model));
	if (fd < 0 || ftruncate(fd, r->len) || !r->model)
		return -1;
	r->p = map_at_pmd(fd, r->len, MAP_SHARED);
	if (!r->p)
		return -1;
	madvise(r->p, r->len, MADV_HUGEPAGE);
	for (size_t i = 0; i < r->npages; i++) {
		r->model[i] = new_seed(w);
		page_fill(r->p + i * page_size, r->model[i]);
	}
	return 0;
}

int set_up_cache_regions(struct worker *w)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "soak-shm-%d", w->id);
	if (set_up_region(w, &w->shm, memfd_create(name, 0), "memfd"))
		return -1;
	w->shm.truncatable = true;
	if (!soak_file_dir)
		return 0;
	snprintf(name, sizeof(name), "%s/soak-%d", soak_file_dir, w->id);
	fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0)
		unlink(name);
	return set_up_region(w, &w->file, fd, "XFS file");
}

/* Pages [first, first + n) of r, seen through the mapping at p and with pread(). */
static bool check_region_at(struct worker *w, struct cache_region *r, char *p, size_t first,
			    size_t n, const char *when)
{
	char *buf = malloc(page_size);

	for (size_t i = first; buf && i < first + n; i++) {
		long dm = page_diff(p + i * page_size, r->model[i]);
		long dr = pread(r->fd, buf, page_size, i * page_size) == (ssize_t)page_size ?
			  page_diff(buf, r->model[i]) : 0;

		if (dm >= 0 || dr >= 0) {
			fail("worker %d (%s): %s page %zu word %ld holds %#llx through %s, expected seed %#llx\n",
			     w->id, when, r->what, i, dm >= 0 ? dm : dr,
			     (unsigned long long)((uint64_t *)(dm >= 0 ? p + i * page_size : buf))[dm >= 0 ? dm : dr],
			     dm >= 0 ? "the mapping" : "pread()", (unsigned long long)r->model[i]);
			dump_history(w);
			free(buf);
			return false;
		}
	}
	free(buf);
	atomic_fetch_add(&sh->bytes_verified, 2 * n * page_size);
	return true;
}

bool check_cache_regions(struct worker *w)
{
	return (!w->shm.p || check_region_at(w, &w->shm, w->shm.p, 0, w->shm.npages, "end of round")) &&
	       (!w->file.p || check_region_at(w, &w->file, w->file.p, 0, w->file.npages, "end of round"));
}

static void pick_in(struct cache_region *r, size_t *first, size_t *n)
{
	if (rnd_below(2)) {
		*first = rnd_below(SHARED_PMDS) * pmd_nr;
		*n = pmd_nr;
	} else {
		*first = rnd_below(r->npages);
		*n = 1 + rnd_below(64);
		if (*first + *n > r->npages)
			*n = r->npages - *first;
	}
}

static void region_write(struct worker *w, struct cache_region *r, size_t first, size_t n)
{
	bool by_pwrite = rnd_below(2);

	for (size_t i = first; i < first + n; i++) {
		r->model[i] = new_seed(w);
		if (by_pwrite) {
			char *buf = malloc(page_size);

			if (!buf)
				continue;
			page_fill(buf, r->model[i]);
			if (pwrite(r->fd, buf, page_size, i * page_size) != (ssize_t)page_size)
				fail("worker %d: pwrite to the %s: %s\n", w->id, r->what,
				     strerror(errno));
			free(buf);
		} else {
			page_fill(r->p + i * page_size, r->model[i]);
		}
	}
}

/*
 * Cut at a PMD boundary and grow back: the rest reads zero.  Not inside a PMD:
 * a cut through a large shmem swap entry can spin for ever in 7.3's
 * shmem_undo_range() (seen on both kernels, see the Documentation).
 */
static void region_truncate(struct worker *w, struct cache_region *r)
{
	size_t keep = rnd_below(SHARED_PMDS) * pmd_nr;

	note(w, OP_shm_truncate, keep, r->npages - keep);
	if (ftruncate(r->fd, keep * page_size) || ftruncate(r->fd, r->len)) {
		fail("worker %d: ftruncate of the %s: %s\n", w->id, r->what, strerror(errno));
		return;
	}
	for (size_t i = keep; i < r->npages; i++)
		r->model[i] = 0;
}

static void region_punch(struct worker *w, struct cache_region *r, size_t first, size_t n)
{
	int err;

	note(w, OP_shm_punch, first, n);
	if (rnd_below(2))
		err = fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				first * page_size, n * page_size);
	else
		err = madvise(r->p + first * page_size, n * page_size, MADV_REMOVE);
	if (err) {
		fail("worker %d: punching the %s: %s\n", w->id, r->what, strerror(errno));
		return;
	}
	for (size_t i = first; i < first + n; i++)
		r->model[i] = 0;
}

/*
 * A child maps the memfd a second time, checks it, collapses it there (the
 * page tables of both mms are retracted), and CoWs a page of a MAP_PRIVATE
 * mapping of it, which must leave the file as it was.  The parent only
 * collapses meanwhile: its writes would race the child's checks.
 */
static void region_fork(struct worker *w, struct cache_region *r)
{
	int status;
	pid_t pid;

	note(w, OP_shm_fork, 0, r->npages);
	pid = fork();
	if (pid == 0) {
		char *q = map_at_pmd(r->fd, r->len, MAP_SHARED);
		char *priv = map_at_pmd(r->fd, r->len, MAP_PRIVATE);
		size_t i = rnd_below(r->npages);

		thp_util_reopen_pagemap();
		if (!q || !priv)
			_exit(0);	/* no room: nothing to check */
		madvise(q, r->len, MADV_HUGEPAGE);
		if (!check_region_at(w, r, q, 0, r->npages, "child's second mapping"))
			_exit(1);
		collapse_checked("shmem child", q, r->len);
		page_fill(priv + i * page_size, new_seed(w) | (1ULL << 61));
		_exit(check_region_at(w, r, q, 0, r->npages, "child after collapse and CoW") &&
		      check_region_at(w, r, r->p, 0, r->npages, "child, the worker's mapping") ?
		      0 : 1);
	}
	if (pid < 0)
		return;
	collapse_checked("worker", r->p, r->len);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("worker %d: shmem fork child failed (status %#x)\n", w->id, status);
}

void op_cache(struct worker *w, int op)
{
	bool file = op >= OP_file_write;
	struct cache_region *r = file ? &w->file : &w->shm;
	size_t first, n;

	if (!r->p) {
		atomic_fetch_add(&sh->skipped[op], 1);
		return;
	}
	pick_in(r, &first, &n);
	switch (op) {
	case OP_shm_write:
	case OP_file_write:
		note(w, op, first, n);
		region_write(w, r, first, n);
		if (file && rnd_below(4) == 0)
			fdatasync(r->fd);
		break;
	case OP_shm_collapse:
	case OP_file_collapse:
		note(w, op, first, n);
		first &= ~(pmd_nr - 1);
		collapse_checked("worker", r->p + first * page_size, pmd_size);
		break;
	case OP_shm_pageout:
	case OP_file_pageout:
		note(w, op, first, n);
		if (file)
			fdatasync(r->fd);
		madvise(r->p + first * page_size, n * page_size, MADV_PAGEOUT);
		break;
	case OP_shm_truncate:
		region_truncate(w, r);
		break;
	case OP_shm_punch:
		/* Whole PMD ranges, as for truncation. */
		region_punch(w, r, first & ~(pmd_nr - 1), pmd_nr);
		break;
	case OP_shm_fork:
		region_fork(w, r);
		break;
	}
}
