// SPDX-License-Identifier: GPL-2.0
/*
 * A soak worker: its mappings, its loop of operations, its end-of-round
 * checks (soak.c says what the soak does).
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
	return set_up_cache_regions(w);
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
	case OP_shm_write: case OP_shm_collapse: case OP_shm_truncate: case OP_shm_punch:
	case OP_shm_pageout: case OP_shm_fork: case OP_file_write: case OP_file_collapse:
	case OP_file_pageout:
		op_cache(w, op);
		break;
	case OP_collapse_fuzz: op_collapse_fuzz(w); break;
	}
}

int worker_main(int id, bool in_memcg, double round_secs)
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
		if (!check_pages(&w, 0, w.npages, "end of round") || !check_zoo(&w) ||
		    !check_cache_regions(&w))
			return 1;
		atomic_fetch_add(&sh->rounds, 1);
	}
	while (wait(NULL) > 0)
		;
	return 0;
}

