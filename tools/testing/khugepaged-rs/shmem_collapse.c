// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_collapse - what 7.3's selftests do not check about shmem collapse
 * (mm/khugepaged.c's collapse_scan_file(), collapse_file(),
 * retract_page_tables() and the file path of madvise_collapse()).
 *
 * Three kinds of shmem: a memfd, shared anonymous memory
 * (MAP_SHARED | MAP_ANONYMOUS) and files on tmpfs mounts of our own
 * (huge=advise, huge=within_size, huge=advise with a size limit,
 * huge=never).  Every
 * page holds its own pattern; after each collapse the range must be one
 * PMD-order THP mapped by a PMD (smaps ShmemPmdMapped, and pagemap +
 * kpageflags where PFNs are visible) with every byte as before, holes
 * reading zero; after each failure the page cache must be exactly as before:
 * the same pages hold data (SEEK_DATA / SEEK_HOLE), st_blocks (and the
 * mount's free blocks) unchanged, the data unchanged (read with pread(),
 * which never fills a hole, where a mapping's fault would).  The vmstat
 * counters collapse_file() moves (nr_shmem_hugepages, nr_file_pages,
 * nr_shmem; thp_collapse_alloc) are read exactly, after folding the per-CPU
 * deltas through /proc/sys/vm/stat_refresh.
 *
 * Cases, in order:
 *  - full ranges of each kind collapsed by MADV_COLLAPSE, with the counters
 *    (thp_file_mapped counts the PMD MADV_COLLAPSE maps);
 *  - ranges with holes: filled with zeros, st_blocks / the mount's blocks
 *    grow by the holes (shmem_charge()), nr_file_pages and nr_shmem too;
 *  - a quarter swapped out (zram): swapped in by the collapse;
 *  - failures: a page a pipe holds (vmsplice) fails the scan with EAGAIN
 *    before any huge page is allocated; a tmpfs size limit that cannot take
 *    the holes fails collapse_file() after the huge page was allocated (it
 *    counts in thp_collapse_alloc) and the small pages isolated and unmapped
 *    (7.3: SCAN_FAIL, so EINVAL); both leave the page cache as it was, and
 *    collapse once the cause is gone;
 *  - khugepaged with shmem_enabled=advise + MADV_HUGEPAGE and max_ptes_none
 *    at half a PMD: exactly max_ptes_none holes collapse, one more does not
 *    (thp_scan_exceed_none_pte); a tmpfs huge=within_size file collapses
 *    without MADV_HUGEPAGE;
 *  - page-table retraction in a forked child and in a second mapping of the
 *    same memfd: their next fault maps the new THP by a PMD;
 *  - a MAP_PRIVATE mapping with a CoW-broken page in the range keeps it;
 *  - userfaultfd MISSING on any mapping of a range with holes refuses the
 *    collapse (7.3: SCAN_EXCEED_NONE_PTE, EBUSY); a full range still
 *    collapses;
 *  - bad input and settings: an unaligned sub-PMD range, shmem_enabled=deny,
 *    MADV_NOHUGEPAGE, shmem_enabled=never and tmpfs huge=never (MADV_COLLAPSE
 *    ignores both), a PMD range past the end of the file (7.3 collapses it,
 *    filling and charging the pages past EOF).
 *
 * Settings (THP modes, khugepaged knobs) are restored at exit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "shmem_collapse.h"

bool mounted_ws, mounted_adv, mounted_small, mounted_never;

/* ------------------------------------------------ page patterns */

static uint64_t page_seed(uint64_t seed, size_t i)
{
	return seed ^ ((uint64_t)i << 40) ^ ((uint64_t)i << 12);
}

/* Page i is written when i % stride == 0 (stride 1: every page). */
static bool written(size_t i, size_t stride)
{
	return i % stride == 0;
}

void write_pages(char *p, size_t n, size_t stride, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (written(i, stride))
			fill(p + i * page_size, page_size, page_seed(seed, i));
}

/* The same pages, written with pwrite() (no mapping). */
int pwrite_pages(int fd, size_t n, size_t stride, uint64_t seed)
{
	char *buf = malloc(page_size);
	size_t i;
	int ret = 0;

	if (!buf)
		return -1;
	for (i = 0; i < n && !ret; i++) {
		if (!written(i, stride))
			continue;
		fill(buf, page_size, page_seed(seed, i));
		if (pwrite(fd, buf, page_size, i * page_size) != (ssize_t)page_size)
			ret = -1;
	}
	free(buf);
	return ret;
}

uint64_t *pattern_model(size_t n, size_t stride, size_t nw, uint64_t seed)
{
	uint64_t *model = calloc(n, sizeof(*model));
	size_t i;

	for (i = 0; model && i < n && i < nw; i++)
		if (written(i, stride))
			model[i] = page_seed(seed, i);
	return model;
}

bool page_ok(const char *pg, size_t i, bool wr, uint64_t seed, const char *how)
{
	return page_matches(pg, i, wr ? page_seed(seed, i) : 0, how);
}

/* Through the mapping: faults in holes (shmem allocates on a read fault). */
bool check_mapped(char *p, size_t n, size_t stride, uint64_t seed)
{
	uint64_t *model = pattern_model(n, stride, n, seed);
	bool ok = model && mapped_matches(p, model, 0, n, "mapping");

	free(model);
	return ok;
}

/* The written pages only, through the mapping: the holes stay holes. */
bool check_written_mapped(char *p, size_t n, size_t stride, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (written(i, stride) && !page_ok(p + i * page_size, i, true, seed, "mapping"))
			return false;
	return true;
}

/* Through pread(): holes read zero and stay holes. */
bool check_pread(int fd, size_t n, size_t stride, uint64_t seed)
{
	uint64_t *model = pattern_model(n, stride, n, seed);
	bool ok = model && pread_matches(fd, 0, model, n);

	free(model);
	return ok;
}

/*
 * Which of the first n pages of fd hold data (SEEK_DATA / SEEK_HOLE) must be
 * exactly the written ones.
 */
static bool check_holes(int fd, size_t n, size_t stride)
{
	bool *want = calloc(n, sizeof(*want)), ok;
	size_t i;

	for (i = 0; want && i < n; i++)
		want[i] = written(i, stride);
	ok = want && holes_are(fd, want, n);
	free(want);
	return ok;
}

static size_t n_written(size_t n, size_t stride)
{
	return (n + stride - 1) / stride;
}

/* ------------------------------------------------ THP state */

/* ShmemPmdMapped of the VMA at p is one PMD, and kpageflags agree where visible. */
bool pmd_mapped(char *p)
{
	bool ok = shmem_pmd_mapped(p, pmd_kb);
	int thp = kpf_pmd_thp(p);

	if (thp == 0) {
		ksft_print_msg("not one PMD-order THP by kpageflags\n");
		ok = false;
	}
	return ok;
}

/* Not a THP: ShmemPmdMapped 0. */
bool small_pages(char *p)
{
	return shmem_pmd_mapped(p, 0);
}

/* ------------------------------------------------ counters */

/*
 * A successful MADV_COLLAPSE of one PMD range that filled nr_none holes:
 * collapse_file() adds HPAGE_PMD_NR to NR_SHMEM_THPS, NR_SHMEM and
 * NR_FILE_PAGES and takes the small folios' pages off the last two, and the
 * PMD it maps counts thp_file_mapped.
 */
bool counted_collapse(const struct counters *a, long nr_none)
{
	long want[C_NR] = { 1, 0, 1, nr_none, nr_none, 1, 1 };

	return counters_moved(a, want);
}

/*
 * Nothing collapsed: the page cache's counts as they were.  alloc is 1 when
 * the collapse failed in collapse_file(), after it allocated the huge page
 * (thp_collapse_alloc and the size's collapse_alloc count it then), 0 when
 * it failed before.
 */
bool counted_nothing(const struct counters *a, long alloc)
{
	long want[C_NR] = { alloc, 0, 0, 0, 0, 0, alloc };

	return counters_moved(a, want);
}

/* ------------------------------------------------ 1, 2: MADV_COLLAPSE, full and with holes */

/*
 * Collapses one PMD of a kind of shmem whose pages in `stride` were written
 * (through the mapping; with pwrite() for the file on huge=advise, not on
 * huge=within_size, where khugepaged would race us for a file of a PMD).
 */
static void test_collapse(enum kind kind, size_t stride, const char *name)
{
	uint64_t seed = 0x1100 + kind * 16 + stride;
	long nr_none = pmd_nr - n_written(pmd_nr, stride), blocks0 = 0, blocks1;
	unsigned long long bfree0 = 0;
	struct counters c;
	struct statvfs sv;
	struct shm s;
	bool ok = true;
	int fd = -1, err;

	if (kind == K_MEMFD)
		fd = open_memfd(pmd_size);
	else if (kind == K_FILE)
		fd = open_file(MNT_ADV, 0);
	if (kind != K_ANON && fd < 0) {
		tap_fail("%s: open: %s\n", name, strerror(errno));
		return;
	}
	if (kind == K_FILE) {
		/* Written with write(), mapped only afterwards. */
		if (pwrite_pages(fd, pmd_nr, stride, seed) || ftruncate(fd, pmd_size)) {
			tap_fail("%s: pwrite: %s\n", name, strerror(errno));
			close(fd);
			return;
		}
	}
	if (map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		tap_fail("%s: mmap: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (kind != K_FILE)
		write_pages(s.p, pmd_nr, stride, seed);
	/* Map the written pages (no hole is faulted in): small pages, by PTEs. */
	ok = check_written_mapped(s.p, pmd_nr, stride, seed);
	if (fd >= 0) {
		blocks0 = st_blocks(fd);
		ok = check_holes(fd, pmd_nr, stride) && ok;
	}
	if (kind == K_FILE && !statvfs(MNT_ADV, &sv))
		bfree0 = sv.f_bfree;
	if (!small_pages(s.p)) {
		ksft_print_msg("precondition: faults gave a huge page\n");
		ok = false;
	}
	read_counters(&c);
	err = collapse(s.p, pmd_size);
	ok = want_err(err, 0, name) && ok;
	ok = pmd_mapped(s.p) && ok;
	ok = check_mapped(s.p, pmd_nr, stride, seed) && ok;
	ok = counted_collapse(&c, nr_none) && ok;
	if (fd >= 0) {
		/* shmem_charge() of the holes: i_blocks covers the whole PMD now. */
		blocks1 = st_blocks(fd);
		if (blocks1 != (long)(pmd_size / 512)) {
			ksft_print_msg("st_blocks %ld before, %ld after, expected %zu\n", blocks0,
				       blocks1, pmd_size / 512);
			ok = false;
		}
		ok = check_holes(fd, pmd_nr, 1) && ok;
		ok = check_pread(fd, pmd_nr, stride, seed) && ok;
	}
	if (kind == K_FILE && !statvfs(MNT_ADV, &sv) &&
	    bfree0 - sv.f_bfree != (unsigned long long)nr_none) {
		ksft_print_msg("the mount's free blocks fell by %llu, expected %ld\n",
			       bfree0 - sv.f_bfree, nr_none);
		ok = false;
	}
	tap_result(ok, "%s\n", name);
	unmap_shm(&s);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------ 3: swapped-out pages */

static void test_swapin(void)
{
	const char *name = "memfd: a quarter swapped out: MADV_COLLAPSE swaps it in, contents exact";
	unsigned long out0 = vmstat("pswpout"), in0 = vmstat("pswpin");
	size_t res;
	struct shm s;
	int fd, err;
	bool ok = true;

	if (!swap_on()) {
		tap_skip("%s: no swap device in this guest\n", name);
		return;
	}
	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		tap_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr, 1, 0x3300);
	if (madvise(s.p, pmd_size / 4, MADV_PAGEOUT))
		ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
	res = resident_pages(s.p, pmd_nr);
	ksft_print_msg("after MADV_PAGEOUT: %zu of %zu pages resident, pswpout +%lu\n", res, pmd_nr,
		       vmstat("pswpout") - out0);
	if (res == (size_t)-1 || res > pmd_nr - pmd_nr / 4 || vmstat("pswpout") <= out0) {
		ksft_print_msg("precondition: a quarter of the range was not swapped out\n");
		ok = false;
	}
	err = collapse(s.p, pmd_size);
	ok = want_err(err, 0, name) && ok;
	ok = pmd_mapped(s.p) && ok;
	if (vmstat("pswpin") <= in0) {
		ksft_print_msg("pswpin did not move\n");
		ok = false;
	}
	ok = check_mapped(s.p, pmd_nr, 1, 0x3300) && ok;
	ok = check_pread(fd, pmd_nr, 1, 0x3300) && ok;
	tap_result(ok, "%s\n", name);
	unmap_shm(&s);
	close(fd);
}

/* ------------------------------------------------ 4: failures leave the page cache as it was */

/* After a failed collapse: the errno, holes, blocks, data, counters, no THP. */
bool unchanged(int err, int want, struct shm *s, size_t stride, uint64_t seed,
		      const struct before *b, long alloc, const char *what)
{
	bool ok = want_err(err, want, what);

	ok = small_pages(s->p) && ok;
	ok = counted_nothing(&b->c, alloc) && ok;
	if (st_blocks(s->fd) != b->blocks) {
		ksft_print_msg("st_blocks %ld, was %ld\n", st_blocks(s->fd), b->blocks);
		ok = false;
	}
	ok = check_holes(s->fd, pmd_nr, stride) && ok;
	ok = check_pread(s->fd, pmd_nr, stride, seed) && ok;
	return ok;
}

void snap(struct shm *s, struct before *b)
{
	b->blocks = st_blocks(s->fd);
	read_counters(&b->c);
}

/*
 * A page with a reference held by a pipe (vmsplice() takes one): the scan
 * sees a reference count it does not expect (SCAN_PAGE_COUNT): EAGAIN.
 */
static void test_pipe_ref(void)
{
	const char *name = "memfd: a page referenced by a pipe (vmsplice): EAGAIN, page cache as before";
	const char *name2 = "memfd: once the pipe is drained, MADV_COLLAPSE collapses, contents exact";
	const size_t stride = 4, pinned = 8;
	const uint64_t seed = 0x4400;
	int pfd[2] = { -1, -1 }, fd, err;
	struct before b;
	struct iovec iov;
	struct shm s;
	char *buf;
	bool ok;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED) || pipe(pfd)) {
		tap_fail("%s: %s\n", name, strerror(errno));
		tap_fail("%s\n", name2);
		return;
	}
	write_pages(s.p, pmd_nr, stride, seed);
	iov.iov_base = s.p + pinned * page_size;
	iov.iov_len = page_size;
	ok = vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)page_size;
	if (!ok)
		ksft_print_msg("vmsplice: %s\n", strerror(errno));
	snap(&s, &b);
	err = collapse(s.p, pmd_size);
	ok = unchanged(err, EAGAIN, &s, stride, seed, &b, 0, name) && ok;
	ok = check_written_mapped(s.p, pmd_nr, stride, seed) && ok;
	tap_result(ok, "%s\n", name);

	/* Reading the pipe drops its reference. */
	buf = malloc(page_size);
	ok = buf && read(pfd[0], buf, page_size) == (ssize_t)page_size &&
	     page_ok(buf, pinned, true, seed, "pipe");
	free(buf);
	read_counters(&b.c);
	err = collapse(s.p, pmd_size);
	ok = want_err(err, 0, name2) && ok;
	ok = pmd_mapped(s.p) && ok;
	ok = counted_collapse(&b.c, pmd_nr - n_written(pmd_nr, stride)) && ok;
	ok = check_mapped(s.p, pmd_nr, stride, seed) && ok;
	tap_result(ok, "%s\n", name2);
	close(pfd[0]);
	close(pfd[1]);
	unmap_shm(&s);
	close(fd);
}

/*
 * A tmpfs mount whose size= cannot take the holes: shmem_charge() fails in
 * collapse_file() after every small page was isolated and unmapped, and the
 * rollback must put them all back.  7.3 returns SCAN_FAIL, which
 * madvise_collapse_errno() turns into EINVAL.
 */
static void test_charge_fail(void)
{
	const char *name = "tmpfs size= too small for the holes: EINVAL, page cache as before";
	const char *name2 = "tmpfs: once remounted larger, MADV_COLLAPSE fills the holes";
	const size_t stride = 2;
	const uint64_t seed = 0x4500;
	unsigned long long bfree0 = 0;
	struct statvfs sv;
	struct before b;
	struct shm s;
	char opts[128];
	int fd, err;
	bool ok;

	if (!mounted_small) {
		tap_fail("%s: %s not mounted\n", name, MNT_SMALL);
		tap_fail("%s\n", name2);
		return;
	}
	fd = open_file(MNT_SMALL, pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		tap_fail("%s: %s\n", name, strerror(errno));
		tap_fail("%s\n", name2);
		return;
	}
	write_pages(s.p, pmd_nr, stride, seed);
	snap(&s, &b);
	if (!statvfs(MNT_SMALL, &sv))
		bfree0 = sv.f_bfree;
	ksft_print_msg("mount: %llu blocks free, %zu holes to fill\n", bfree0,
		       pmd_nr - n_written(pmd_nr, stride));
	err = collapse(s.p, pmd_size);
	ok = unchanged(err, EINVAL, &s, stride, seed, &b, 1, name);
	if (statvfs(MNT_SMALL, &sv) || sv.f_bfree != bfree0) {
		ksft_print_msg("the mount's free blocks are %llu, were %llu\n",
			       (unsigned long long)sv.f_bfree, bfree0);
		ok = false;
	}
	/* The unmapped written pages fault back in with their data. */
	ok = check_written_mapped(s.p, pmd_nr, stride, seed) && ok;
	tap_result(ok, "%s\n", name);

	snprintf(opts, sizeof(opts), "remount,size=%zu", 4 * pmd_size);
	ok = !mount("tmpfs", MNT_SMALL, NULL, MS_REMOUNT, opts + 8);
	if (!ok)
		ksft_print_msg("remount: %s\n", strerror(errno));
	read_counters(&b.c);
	err = collapse(s.p, pmd_size);
	ok = want_err(err, 0, name2) && ok;
	ok = pmd_mapped(s.p) && ok;
	ok = counted_collapse(&b.c, pmd_nr - n_written(pmd_nr, stride)) && ok;
	ok = check_mapped(s.p, pmd_nr, stride, seed) && ok;
	ok = st_blocks(fd) == (long)(pmd_size / 512) && ok;
	tap_result(ok, "%s\n", name2);
	unmap_shm(&s);
	close(fd);
}

/* ------------------------------------------------ set-up */

static void unmount_all(void)
{
	if (mounted_ws)
		umount(MNT_WS);
	if (mounted_adv)
		umount(MNT_ADV);
	if (mounted_small)
		umount(MNT_SMALL);
	if (mounted_never)
		umount(MNT_NEVER);
	rmdir(MNT_WS);
	rmdir(MNT_ADV);
	rmdir(MNT_SMALL);
	rmdir(MNT_NEVER);
	rmdir(MNT);
}

int main(void)
{
	char buf[256], shmem_size_path[256];
	size_t n_adv;

	ksft_print_header();
	thp_util_init();
	snprintf(shmem_size_path, sizeof(shmem_size_path), THP_DIR "/hugepages-%zukB/shmem_enabled",
		 pmd_size >> 10);
	tap_plan(31);

	setup_shmem_thp(pmd_nr - 1);

	mkdir(MNT, 0755);
	mounted_ws = mount_tmpfs(MNT_WS, "huge=within_size");
	/* Room for the written half of a PMD and a few pages, not for the holes. */
	n_adv = pmd_nr / 2 + 8;
	snprintf(buf, sizeof(buf), "huge=advise,nr_blocks=%zu", n_adv);
	mounted_small = mount_tmpfs(MNT_SMALL, buf);
	mounted_adv = mount_tmpfs(MNT_ADV, "huge=advise");
	mounted_never = mount_tmpfs(MNT_NEVER, "huge=never");

	/* 1: full ranges. */
	test_collapse(K_MEMFD, 1, "memfd: MADV_COLLAPSE of a full PMD: one PMD-mapped THP, contents and counters exact");
	test_collapse(K_ANON, 1, "shared anonymous: MADV_COLLAPSE of a full PMD: one PMD-mapped THP, contents and counters exact");
	if (mounted_adv)
		test_collapse(K_FILE, 1, "tmpfs huge=advise, written with write(): MADV_COLLAPSE of a full PMD: one PMD-mapped THP, contents and counters exact");
	else
		tap_fail("tmpfs huge=advise: not mounted\n");
	/* 2: holes. */
	test_collapse(K_MEMFD, 8, "memfd: MADV_COLLAPSE of 1 page in 8: holes zero-filled and charged (st_blocks, nr_shmem)");
	test_collapse(K_MEMFD, 2, "memfd: MADV_COLLAPSE of 1 page in 2: holes zero-filled and charged (st_blocks, nr_shmem)");
	if (mounted_adv)
		test_collapse(K_FILE, 4, "tmpfs huge=advise, written with write(): MADV_COLLAPSE of 1 page in 4: holes zero-filled and charged (st_blocks, free blocks)");
	else
		tap_fail("tmpfs huge=advise: not mounted\n");
	/* 3 */
	test_swapin();
	/* 4 */
	test_pipe_ref();
	test_charge_fail();
	/* 5 */
	test_khugepaged();
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 1);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
	/* 6 */
	test_retract_fork();
	test_retract_second_mapping();
	/* 7 */
	test_private_cow();
	/* 8 */
	test_uffd(true, 2, "userfaultfd MISSING on the mapping, range with holes: EBUSY, page cache as before");
	test_uffd(false, 2, "userfaultfd MISSING on another mapping of the file, holes: EBUSY, page cache as before");
	test_uffd(true, 1, "userfaultfd MISSING on the mapping, no holes: collapsed, contents exact");
	/* 9 */
	test_unaligned();
	test_past_eof();
	test_setting(K_MEMFD, NULL, MADV_NOHUGEPAGE, EINVAL, "memfd with MADV_NOHUGEPAGE: EINVAL, nothing changes");
	test_setting(K_ANON, NULL, MADV_NOHUGEPAGE, EINVAL, "shared anonymous with MADV_NOHUGEPAGE: EINVAL, nothing changes");
	if (mounted_never)
		test_setting(K_FILE, MNT_NEVER, 0, 0, "tmpfs huge=never: MADV_COLLAPSE ignores the mount option and collapses");
	else
		tap_fail("tmpfs huge=never: not mounted\n");
	set_mode(THP_DIR "/shmem_enabled", "never");
	if (!access(shmem_size_path, F_OK))
		set_mode(shmem_size_path, "never");
	test_setting(K_MEMFD, NULL, 0, 0, "shmem_enabled=never: MADV_COLLAPSE of a memfd collapses");
	test_setting(K_ANON, NULL, 0, 0, "shmem_enabled=never: MADV_COLLAPSE of shared anonymous memory collapses");
	set_mode(THP_DIR "/shmem_enabled", "deny");
	test_setting(K_MEMFD, NULL, 0, EINVAL, "shmem_enabled=deny: MADV_COLLAPSE of a memfd fails with EINVAL");
	test_setting(K_ANON, NULL, 0, EINVAL, "shmem_enabled=deny: MADV_COLLAPSE of shared anonymous memory fails with EINVAL");
	if (mounted_ws)
		test_setting(K_FILE, MNT_WS, 0, EINVAL, "shmem_enabled=deny: MADV_COLLAPSE of a file on tmpfs huge=within_size fails with EINVAL");
	else
		tap_fail("shmem_enabled=deny on tmpfs: not mounted\n");
	set_mode(THP_DIR "/shmem_enabled", "advise");

	restore_settings();
	unmount_all();
	tap_finished();
}
