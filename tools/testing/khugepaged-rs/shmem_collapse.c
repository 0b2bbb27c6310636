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
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define MNT "/tmp/shmem_collapse"
#define MNT_WS MNT "/within_size"	/* huge=within_size */
#define MNT_ADV MNT "/advise"		/* huge=advise */
#define MNT_SMALL MNT "/small"		/* huge=advise, a small size limit */
#define MNT_NEVER MNT "/never"		/* huge=never */

static char pmd_kb_dir[128];
static long pmd_kb;
static bool mounted_ws, mounted_adv, mounted_small, mounted_never;

/* ------------------------------------------------ shmem regions */

enum kind { K_MEMFD, K_ANON, K_FILE };

/* One PMD-aligned shared mapping, fenced by PROT_NONE so that its VMA is its own. */
struct shm {
	int fd;			/* -1 for shared anonymous memory */
	char *base;
	size_t total;
	char *p;
	size_t len;
};

static int open_memfd(size_t size)
{
	int fd = memfd_create("shmem_collapse", 0);

	if (fd >= 0 && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A new file on one of our mounts; size 0 leaves it empty. */
static int open_file(const char *dir, size_t size)
{
	static int n;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/f%d", dir, n++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	unlink(path);
	if (size && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Maps len bytes of fd from offset 0 (fd < 0: shared anonymous) at a PMD boundary. */
static int map_shm(struct shm *s, int fd, size_t len, int flags)
{
	uintptr_t a;

	s->fd = fd;
	s->total = len + 2 * pmd_size;
	s->base = mmap(NULL, s->total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (s->base == MAP_FAILED)
		return -1;
	a = ((uintptr_t)s->base + page_size + pmd_size - 1) & ~(pmd_size - 1);
	s->p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
		    flags | MAP_FIXED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (s->p == MAP_FAILED) {
		munmap(s->base, s->total);
		return -1;
	}
	s->len = len;
	return 0;
}

static void unmap_shm(struct shm *s)
{
	munmap(s->base, s->total);
}

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

static void write_pages(char *p, size_t n, size_t stride, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (written(i, stride))
			fill(p + i * page_size, page_size, page_seed(seed, i));
}

/* The same pages, written with pwrite() (no mapping). */
static int pwrite_pages(int fd, size_t n, size_t stride, uint64_t seed)
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

static bool page_ok(const char *pg, size_t i, bool wr, uint64_t seed, const char *how)
{
	const uint64_t *w = (const uint64_t *)pg;
	uint64_t ps = page_seed(seed, i);
	size_t j;

	for (j = 0; j < page_size / 8; j++) {
		uint64_t want = wr ? (j * 8) ^ ps : 0;

		if (w[j] != want) {
			ksft_print_msg("%s: page %zu (%s) word %zu is %#llx, expected %#llx\n", how,
				       i, wr ? "written" : "hole", j,
				       (unsigned long long)w[j], (unsigned long long)want);
			return false;
		}
	}
	return true;
}

/* Through the mapping: faults in holes (shmem allocates on a read fault). */
static bool check_mapped(char *p, size_t n, size_t stride, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!page_ok(p + i * page_size, i, written(i, stride), seed, "mapping"))
			return false;
	return true;
}

/* The written pages only, through the mapping: the holes stay holes. */
static bool check_written_mapped(char *p, size_t n, size_t stride, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (written(i, stride) && !page_ok(p + i * page_size, i, true, seed, "mapping"))
			return false;
	return true;
}

/* Through pread(): holes read zero and stay holes. */
static bool check_pread(int fd, size_t n, size_t stride, uint64_t seed)
{
	char *buf = malloc(page_size);
	bool ok = buf != NULL;
	size_t i;

	for (i = 0; ok && i < n; i++) {
		if (pread(fd, buf, page_size, i * page_size) != (ssize_t)page_size) {
			ksft_print_msg("pread page %zu: %s\n", i, strerror(errno));
			ok = false;
		} else {
			ok = page_ok(buf, i, written(i, stride), seed, "pread");
		}
	}
	free(buf);
	return ok;
}

/*
 * Which of the first n pages of fd hold data (SEEK_DATA / SEEK_HOLE) must be
 * exactly the written ones.
 */
static bool check_holes(int fd, size_t n, size_t stride)
{
	off_t end = n * page_size, off = 0, data, hole;
	size_t i, bad = 0, first = 0;
	bool *has = calloc(n, sizeof(bool));

	if (!has)
		return false;
	while (off < end) {
		data = lseek(fd, off, SEEK_DATA);
		if (data < 0 || data >= end)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			break;
		for (off = data; off < hole && off < end; off += page_size)
			has[off / page_size] = true;
		off = hole;
	}
	for (i = 0; i < n; i++) {
		if (has[i] != written(i, stride)) {
			if (!bad++)
				first = i;
		}
	}
	if (bad)
		ksft_print_msg("SEEK_DATA/SEEK_HOLE: %zu pages differ from the written ones, first page %zu (%s)\n",
			       bad, first, has[first] ? "data where a hole was" : "hole where data was");
	free(has);
	return !bad;
}

static long st_blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long)st.st_blocks;
}

static size_t n_written(size_t n, size_t stride)
{
	return (n + stride - 1) / stride;
}

/* ------------------------------------------------ THP state */

/* ShmemPmdMapped of the VMA at p is one PMD, and kpageflags agree where visible. */
static bool pmd_mapped(char *p)
{
	long kb = smaps_kb(p, "ShmemPmdMapped");
	int thp = kpf_pmd_thp(p);

	if (kb != pmd_kb || thp == 0) {
		ksft_print_msg("not PMD-mapped: ShmemPmdMapped %ld kB (want %ld), kpageflags THP %d\n",
			       kb, pmd_kb, thp);
		return false;
	}
	return true;
}

/* Not a THP: ShmemPmdMapped 0 and (where visible) not one compound page. */
static bool small_pages(char *p)
{
	long kb = smaps_kb(p, "ShmemPmdMapped");

	if (kb != 0) {
		ksft_print_msg("ShmemPmdMapped is %ld kB, expected 0\n", kb);
		return false;
	}
	return true;
}

/* ------------------------------------------------ counters */

/* Folds every CPU's vmstat deltas, so that /proc/vmstat reads exact values. */
static void stat_refresh(void)
{
	if (write_file("/proc/sys/vm/stat_refresh", "1"))
		ksft_print_msg("stat_refresh: %s\n", strerror(errno));
}

enum { C_ALLOC, C_ALLOC_FAILED, C_SHMEM_THPS, C_FILE_PAGES, C_SHMEM, C_FILE_MAPPED,
	C_SIZE_ALLOC, C_NR };
static const char *const counter_names[C_NR] = {
	"thp_collapse_alloc", "thp_collapse_alloc_failed", "nr_shmem_hugepages",
	"nr_file_pages", "nr_shmem", "thp_file_mapped", "size collapse_alloc",
};

struct counters {
	long v[C_NR];
};

static void read_counters(struct counters *c)
{
	char path[256];
	int i;

	stat_refresh();
	for (i = 0; i < C_SIZE_ALLOC; i++)
		c->v[i] = vmstat(counter_names[i]);
	snprintf(path, sizeof(path), "%s/stats/collapse_alloc", pmd_kb_dir);
	c->v[C_SIZE_ALLOC] = read_ulong(path);
}

/*
 * The counters moved by exactly want[] (LONG_MIN: not checked); prints every
 * delta.
 */
#define ANY LONG_MIN
static bool counters_moved(const struct counters *a, const long *want)
{
	struct counters b;
	bool ok = true;
	char msg[512];
	int i, n = 0;

	read_counters(&b);
	for (i = 0; i < C_NR; i++) {
		long d = b.v[i] - a->v[i];

		n += snprintf(msg + n, sizeof(msg) - n, " %s %+ld", counter_names[i], d);
		if (want[i] != ANY && d != want[i]) {
			ksft_print_msg("%s moved by %ld, expected %ld\n", counter_names[i], d,
				       want[i]);
			ok = false;
		}
	}
	ksft_print_msg("deltas:%s\n", msg);
	return ok;
}

/*
 * A successful MADV_COLLAPSE of one PMD range that filled nr_none holes:
 * collapse_file() adds HPAGE_PMD_NR to NR_SHMEM_THPS, NR_SHMEM and
 * NR_FILE_PAGES and takes the small folios' pages off the last two, and the
 * PMD it maps counts thp_file_mapped.
 */
static bool counted_collapse(const struct counters *a, long nr_none)
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
static bool counted_nothing(const struct counters *a, long alloc)
{
	long want[C_NR] = { alloc, 0, 0, 0, 0, 0, alloc };

	return counters_moved(a, want);
}

static int collapse(char *p, size_t len)
{
	return madvise(p, len, MADV_COLLAPSE) ? errno : 0;
}

static bool want_err(int err, int want, const char *what)
{
	if (err == want)
		return true;
	ksft_print_msg("%s: MADV_COLLAPSE returned %s, expected %s\n", what,
		       err ? strerror(err) : "0", want ? strerror(want) : "0");
	return false;
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
		ksft_test_result_fail("%s: open: %s\n", name, strerror(errno));
		return;
	}
	if (kind == K_FILE) {
		/* Written with write(), mapped only afterwards. */
		if (pwrite_pages(fd, pmd_nr, stride, seed) || ftruncate(fd, pmd_size)) {
			ksft_test_result_fail("%s: pwrite: %s\n", name, strerror(errno));
			close(fd);
			return;
		}
	}
	if (map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: mmap: %s\n", name, strerror(errno));
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
	ksft_test_result(ok, "%s\n", name);
	unmap_shm(&s);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------ 3: swapped-out pages */

static bool swap_on(void)
{
	char buf[4096];

	/* The header line, then one line per swap device. */
	return !read_file("/proc/swaps", buf, sizeof(buf)) && strchr(buf, '\n') &&
	       strchr(buf, '\n')[1];
}

static size_t resident(char *p, size_t n)
{
	unsigned char *vec = malloc(n);
	size_t i, r = 0;

	if (!vec || mincore(p, n * page_size, vec)) {
		free(vec);
		return (size_t)-1;
	}
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

static void test_swapin(void)
{
	const char *name = "memfd: a quarter swapped out: MADV_COLLAPSE swaps it in, contents exact";
	unsigned long out0 = vmstat("pswpout"), in0 = vmstat("pswpin");
	size_t res;
	struct shm s;
	int fd, err;
	bool ok = true;

	if (!swap_on()) {
		ksft_test_result_skip("%s: no swap device in this guest\n", name);
		return;
	}
	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr, 1, 0x3300);
	if (madvise(s.p, pmd_size / 4, MADV_PAGEOUT))
		ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
	res = resident(s.p, pmd_nr);
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
	ksft_test_result(ok, "%s\n", name);
	unmap_shm(&s);
	close(fd);
}

/* ------------------------------------------------ 4: failures leave the page cache as it was */

struct before {
	long blocks;
	struct counters c;
};

/* After a failed collapse: the errno, holes, blocks, data, counters, no THP. */
static bool unchanged(int err, int want, struct shm *s, size_t stride, uint64_t seed,
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

static void snap(struct shm *s, struct before *b)
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
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		ksft_test_result_fail("%s\n", name2);
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
	ksft_test_result(ok, "%s\n", name);

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
	ksft_test_result(ok, "%s\n", name2);
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
		ksft_test_result_fail("%s: %s not mounted\n", name, MNT_SMALL);
		ksft_test_result_fail("%s\n", name2);
		return;
	}
	fd = open_file(MNT_SMALL, pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		ksft_test_result_fail("%s\n", name2);
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
	ksft_test_result(ok, "%s\n", name);

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
	ksft_test_result(ok, "%s\n", name2);
	unmap_shm(&s);
	close(fd);
}

/* ------------------------------------------------ 5: khugepaged */

/* Pages [0, nw) of a PMD hold their pattern, the rest read zero (through the mapping). */
static bool check_prefix_mapped(char *p, size_t nw, uint64_t seed)
{
	size_t i;

	for (i = 0; i < pmd_nr; i++)
		if (!page_ok(p + i * page_size, i, i < nw, seed, "mapping"))
			return false;
	return true;
}

/* The same through pread() at offset off of fd: the holes stay holes. */
static bool check_prefix_pread(int fd, off_t off, size_t nw, uint64_t seed)
{
	char *pg = malloc(page_size);
	bool ok = pg != NULL;
	off_t d;
	size_t i;

	for (i = 0; ok && i < pmd_nr; i++)
		ok = pread(fd, pg, page_size, off + i * page_size) == (ssize_t)page_size &&
		     page_ok(pg, i, i < nw, seed, "pread");
	free(pg);
	/* No data after the written pages, up to the end of the PMD (or of the file). */
	d = lseek(fd, off + nw * page_size, SEEK_DATA);
	if (d >= 0 && d < off + (off_t)pmd_size) {
		ksft_print_msg("SEEK_DATA in the holes at %#llx: %#llx\n",
			       (unsigned long long)(off + nw * page_size), (unsigned long long)d);
		ok = false;
	}
	return ok;
}

/*
 * max_ptes_none at half a PMD.  A memfd of two PMDs: the first with exactly
 * max_ptes_none holes (collapsed: collapse_scan_file() wants present >=
 * HPAGE_PMD_NR - max_ptes_none), the second with one hole more (left alone,
 * thp_scan_exceed_none_pte).  And a file on huge=within_size with one hole,
 * which khugepaged takes without MADV_HUGEPAGE.  All in the same two full scans.
 */
static void test_khugepaged(void)
{
	const char *name_in = "khugepaged: memfd with exactly max_ptes_none holes collapsed, contents exact";
	const char *name_out = "khugepaged: memfd with max_ptes_none + 1 holes left alone (thp_scan_exceed_none_pte)";
	const char *name_ws = "khugepaged: tmpfs huge=within_size file collapsed without MADV_HUGEPAGE";
	const char *name_cnt = "khugepaged: counters of its shmem collapses exact";
	const uint64_t seed = 0x5500, seed_ws = 0x5600;
	size_t none = pmd_nr / 2, nw_in, nw_out, nw_ws = pmd_nr - 1;
	unsigned long scans0, scans1, exceed0, exceed1;
	struct shm s, ws = { .fd = -1 };
	long want[C_NR] = { 2, 0, 2, 0, 0, ANY, 2 }, blocks;
	struct counters c;
	char buf[32];
	int fd, fd_ws = -1, loops;
	bool ok;

	nw_in = pmd_nr - none;
	nw_out = nw_in - 1;
	snprintf(buf, sizeof(buf), "%zu", none);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
	fd = open_memfd(2 * pmd_size);
	if (fd < 0 || map_shm(&s, fd, 2 * pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name_in, strerror(errno));
		ksft_test_result_fail("%s\n", name_out);
		ksft_test_result_fail("%s\n", name_ws);
		ksft_test_result_fail("%s\n", name_cnt);
		return;
	}
	/* Faults before MADV_HUGEPAGE take small pages (shmem_enabled=advise). */
	write_pages(s.p, nw_in, 1, seed);
	write_pages(s.p + pmd_size, nw_out, 1, seed + 1);

	/*
	 * A file on huge=within_size, written while smaller than a PMD: small
	 * folios.  khugepaged may take it as soon as it is mapped: the counters
	 * are read before it is written (nr_file_pages and nr_shmem then grow
	 * by its written pages and its hole).
	 */
	read_counters(&c);
	if (mounted_ws) {
		fd_ws = open_file(MNT_WS, 0);
		if (fd_ws < 0 || pwrite_pages(fd_ws, nw_ws, 1, seed_ws) ||
		    ftruncate(fd_ws, pmd_size) || map_shm(&ws, fd_ws, pmd_size, MAP_SHARED)) {
			ksft_print_msg("within_size file: %s\n", strerror(errno));
			if (fd_ws >= 0)
				close(fd_ws);
			fd_ws = -1;
		}
	}
	if (fd_ws < 0) {
		want[C_ALLOC] = want[C_SHMEM_THPS] = want[C_SIZE_ALLOC] = 1;
	}
	want[C_FILE_PAGES] = want[C_SHMEM] = none + (fd_ws < 0 ? 0 : pmd_nr);

	exceed0 = vmstat("thp_scan_exceed_none_pte");
	scans0 = read_ulong(KHUGEPAGED "/full_scans");
	madvise(s.p, 2 * pmd_size, MADV_HUGEPAGE);
	/* Two more full scans (a bound of 60 s, not a measure). */
	for (loops = 0; loops < 1200; loops++) {
		if (read_ulong(KHUGEPAGED "/full_scans") >= scans0 + 2)
			break;
		usleep(50000);
	}
	scans1 = read_ulong(KHUGEPAGED "/full_scans");
	exceed1 = vmstat("thp_scan_exceed_none_pte");
	ksft_print_msg("full_scans %lu -> %lu, thp_scan_exceed_none_pte %+ld\n", scans0, scans1,
		       (long)(exceed1 - exceed0));
	ok = scans1 >= scans0 + 2;
	ksft_test_result(counters_moved(&c, want) && ok, "%s\n", name_cnt);

	/* The second PMD first, before any fault: small pages, holes still holes. */
	ok = exceed1 > exceed0;
	ok = check_prefix_pread(fd, pmd_size, nw_out, seed + 1) && ok;
	ok = small_pages(s.p + pmd_size) && ok;
	ok = check_written_mapped(s.p + pmd_size, nw_out, 1, seed + 1) && ok;
	ksft_test_result(ok, "%s\n", name_out);

	/* khugepaged retracted the table: the next fault maps the THP by a PMD. */
	ok = check_prefix_mapped(s.p, nw_in, seed);
	ok = pmd_mapped(s.p) && ok;
	blocks = (pmd_size + nw_out * page_size) / 512;
	if (st_blocks(fd) != blocks) {
		ksft_print_msg("st_blocks %ld, expected %ld\n", st_blocks(fd), blocks);
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name_in);

	if (fd_ws < 0) {
		ksft_test_result_fail("%s: no file on %s\n", name_ws, MNT_WS);
	} else {
		ok = check_prefix_mapped(ws.p, nw_ws, seed_ws);
		ok = pmd_mapped(ws.p) && ok;
		ksft_test_result(ok, "%s\n", name_ws);
		unmap_shm(&ws);
		close(fd_ws);
	}
	unmap_shm(&s);
	close(fd);
}

/* ------------------------------------------------ 6: retraction in every mapping */

/* A forked child maps the range through its own PTE table, touched before the collapse. */
static void test_retract_fork(void)
{
	const char *name = "memfd: a forked child's PTE table is retracted: its fault maps the THP by a PMD";
	const uint64_t seed = 0x6600;
	int to_child[2], to_parent[2], fd, err, status;
	uint64_t pfn_parent = 0, pfn_child = 0;
	struct shm s;
	bool ok = true;
	char c = 0;
	pid_t pid;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED) || pipe(to_child) ||
	    pipe(to_parent)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr, 1, seed);
	pid = fork();
	if (pid == 0) {
		close(to_parent[0]);
		close(to_child[1]);
		thp_util_reopen_pagemap();
		/* Map every page by a PTE here, then let the parent collapse. */
		if (!check_mapped(s.p, pmd_nr, 1, seed))
			_exit(1);
		if (write(to_parent[1], "r", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(2);
		/* The first touch: a PMD, if the table is gone. */
		if (!check_mapped(s.p, pmd_nr, 1, seed))
			_exit(3);
		if (!pmd_mapped(s.p))
			_exit(4);
		if (get_pfns(s.p, 1, &pfn_child) < 0)
			pfn_child = 0;
		/* A write here is seen by the parent. */
		s.p[pmd_size - 8] = 0x5a;
		if (write(to_parent[1], &pfn_child, sizeof(pfn_child)) != sizeof(pfn_child))
			_exit(5);
		_exit(0);
	}
	/* Only the child writes to_parent: a child that fails early gives EOF, not a hang. */
	close(to_parent[1]);
	close(to_child[0]);
	if (pid < 0 || read(to_parent[0], &c, 1) != 1) {
		ksft_test_result_fail("%s: fork: %s\n", name, strerror(errno));
		if (pid > 0)
			waitpid(pid, &status, 0);
		close(to_child[1]);
		close(to_parent[0]);
		unmap_shm(&s);
		close(fd);
		return;
	}
	err = collapse(s.p, pmd_size);
	ok = want_err(err, 0, name);
	ok = pmd_mapped(s.p) && ok;
	if (get_pfns(s.p, 1, &pfn_parent) < 0)
		pfn_parent = 0;
	if (write(to_child[1], "c", 1) != 1)
		ok = false;
	if (read(to_parent[0], &pfn_child, sizeof(pfn_child)) != sizeof(pfn_child))
		pfn_child = 0;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("child failed: status %#x\n", status);
		ok = false;
	}
	if (pfn_parent != pfn_child) {
		ksft_print_msg("child maps PFN %#llx, parent %#llx\n",
			       (unsigned long long)pfn_child, (unsigned long long)pfn_parent);
		ok = false;
	}
	if (ok && s.p[pmd_size - 8] != 0x5a) {
		ksft_print_msg("the child's write is not seen by the parent\n");
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name);
	close(to_child[1]);
	close(to_parent[0]);
	unmap_shm(&s);
	close(fd);
}

/* Two mappings of the same memfd in one mm: collapsing one retracts the other's table. */
static void test_retract_second_mapping(void)
{
	const char *name = "memfd: a second mapping's PTE table is retracted: its fault maps the THP by a PMD";
	const uint64_t seed = 0x6700;
	uint64_t pfn1 = 1, pfn2 = 2;
	struct shm s1, s2;
	bool ok;
	int fd, err;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s1, fd, pmd_size, MAP_SHARED) ||
	    map_shm(&s2, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s1.p, pmd_nr, 1, seed);
	ok = check_mapped(s2.p, pmd_nr, 1, seed) && small_pages(s2.p);
	err = collapse(s1.p, pmd_size);
	ok = want_err(err, 0, name) && ok;
	ok = pmd_mapped(s1.p) && ok;
	ok = check_mapped(s2.p, pmd_nr, 1, seed) && ok;
	ok = pmd_mapped(s2.p) && ok;
	if (get_pfns(s1.p, 1, &pfn1) == 0 && get_pfns(s2.p, 1, &pfn2) == 0 && pfn1 != pfn2) {
		ksft_print_msg("the mappings map PFNs %#llx and %#llx\n",
			       (unsigned long long)pfn1, (unsigned long long)pfn2);
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name);
	unmap_shm(&s2);
	unmap_shm(&s1);
	close(fd);
}

/* ------------------------------------------------ 7: a MAP_PRIVATE mapping's CoW page */

static void test_private_cow(void)
{
	const char *name = "memfd: a MAP_PRIVATE mapping keeps its CoW page; its other pages follow the file";
	const uint64_t seed = 0x7700, private_seed = 0x7777;
	const size_t cow = 5, later = 6;
	struct shm sh, pr;
	long anon_kb;
	bool ok;
	size_t i;
	int fd, err;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&sh, fd, pmd_size, MAP_SHARED) ||
	    map_shm(&pr, fd, pmd_size, MAP_PRIVATE)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(sh.p, pmd_nr, 1, seed);
	ok = check_mapped(pr.p, pmd_nr, 1, seed);
	fill(pr.p + cow * page_size, page_size, private_seed);
	err = collapse(sh.p, pmd_size);
	ok = want_err(err, 0, name) && ok;
	ok = pmd_mapped(sh.p) && ok;
	ok = check_mapped(sh.p, pmd_nr, 1, seed) && ok;
	/* The private mapping: its CoW page, and the file's data everywhere else. */
	for (i = 0; i < pmd_nr && ok; i++)
		ok = i == cow ? intact(pr.p + i * page_size, page_size, private_seed) :
				page_ok(pr.p + i * page_size, i, true, seed, "private mapping");
	/* A write through the shared mapping shows in the private one's other pages. */
	fill(sh.p + later * page_size, page_size, private_seed + 1);
	ok = intact(pr.p + later * page_size, page_size, private_seed + 1) && ok;
	ok = intact(pr.p + cow * page_size, page_size, private_seed) && ok;
	anon_kb = smaps_kb(pr.p, "Anonymous");
	if (anon_kb != (long)(page_size >> 10)) {
		ksft_print_msg("private mapping: Anonymous %ld kB, expected %zu\n", anon_kb,
			       page_size >> 10);
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name);
	unmap_shm(&pr);
	unmap_shm(&sh);
	close(fd);
}

/* ------------------------------------------------ 8: userfaultfd MISSING */

/* A userfaultfd registered in MISSING mode on [p, p + len); -1 if impossible. */
static int uffd_missing(char *p, size_t len, int *err)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MISSING_SHMEM };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * userfaultfd MISSING on the collapsed mapping itself (same_vma) or on a
 * second mapping of the file: a collapse that would fill holes is refused
 * after the holes were reserved (collapse_file(): SCAN_EXCEED_NONE_PTE,
 * EBUSY); one without holes goes ahead.
 */
static void test_uffd(bool same_vma, size_t stride, const char *name)
{
	const uint64_t seed = 0x8800 + stride + same_vma;
	struct shm s, other;
	struct before b;
	int fd, ufd, uerr = 0, err;
	bool ok;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED) ||
	    map_shm(&other, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr, stride, seed);
	ufd = uffd_missing(same_vma ? s.p : other.p, pmd_size, &uerr);
	if (ufd < 0) {
		if (uerr == ENOSYS || uerr == EINVAL)
			ksft_test_result_skip("%s: userfaultfd: %s\n", name, strerror(uerr));
		else
			ksft_test_result_fail("%s: userfaultfd: %s\n", name, strerror(uerr));
		goto out;
	}
	snap(&s, &b);
	err = collapse(s.p, pmd_size);
	if (stride > 1) {
		ok = unchanged(err, EBUSY, &s, stride, seed, &b, 1, name);
		/* Written pages only: a hole's fault would wait for the userfaultfd. */
		ok = check_written_mapped(s.p, pmd_nr, stride, seed) && ok;
	} else {
		ok = want_err(err, 0, name);
		ok = counted_collapse(&b.c, 0) && ok;
		ok = check_pread(fd, pmd_nr, 1, seed) && ok;
		ok = check_mapped(s.p, pmd_nr, 1, seed) && ok;
		ok = pmd_mapped(s.p) && ok;
	}
	ksft_test_result(ok, "%s\n", name);
	close(ufd);
out:
	unmap_shm(&other);
	unmap_shm(&s);
	close(fd);
}

/* ------------------------------------------------ 9: bad input and settings */

static void test_unaligned(void)
{
	const char *name = "memfd: MADV_COLLAPSE of an unaligned sub-PMD range: 0, nothing changes";
	const size_t stride = 2;
	const uint64_t seed = 0x9900;
	struct before b;
	struct shm s;
	int fd, err;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr, stride, seed);
	snap(&s, &b);
	err = collapse(s.p + page_size, pmd_size - 2 * page_size);
	ksft_test_result(unchanged(err, 0, &s, stride, seed, &b, 0, name), "%s\n", name);
	unmap_shm(&s);
	close(fd);
}

/*
 * One full PMD of a kind of shmem under the current settings: MADV_COLLAPSE
 * must fail with want_err and change nothing, or (want_err 0) collapse.
 * advice: MADV_NOHUGEPAGE first, or 0.
 */
static void test_setting(enum kind kind, const char *dir, int advice, int want, const char *name)
{
	const uint64_t seed = 0x9a00 + kind;
	struct counters c;
	struct shm s;
	int fd = -1, err;
	bool ok;

	if (kind == K_MEMFD)
		fd = open_memfd(pmd_size);
	else if (kind == K_FILE)
		fd = open_file(dir, pmd_size);
	if ((kind != K_ANON && fd < 0) || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (advice)
		madvise(s.p, pmd_size, advice);
	write_pages(s.p, pmd_nr, 1, seed);
	ok = small_pages(s.p);
	if (!ok)
		ksft_print_msg("precondition: faults gave a huge page\n");
	read_counters(&c);
	err = collapse(s.p, pmd_size);
	ok = want_err(err, want, name) && ok;
	if (want) {
		ok = small_pages(s.p) && ok;
		ok = counted_nothing(&c, 0) && ok;
	} else {
		ok = pmd_mapped(s.p) && ok;
		ok = counted_collapse(&c, 0) && ok;
	}
	ok = check_mapped(s.p, pmd_nr, 1, seed) && ok;
	ksft_test_result(ok, "%s\n", name);
	unmap_shm(&s);
	if (fd >= 0)
		close(fd);
}

/*
 * A memfd of half a PMD mapped over a whole PMD: the PMD range reaches past
 * the end of the file.  7.3 collapses it all the same: collapse_file() has no
 * i_size check for shmem, so the pages past EOF are holes it fills and
 * charges (st_blocks covers the whole PMD, i_size stays), and the whole PMD
 * is mapped, so the mapping reads zeros past EOF where it would otherwise
 * raise SIGBUS.  This encodes what 7.3 does.
 */
static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, sig);
}

static void test_past_eof(void)
{
	const char *name = "memfd of half a PMD mapped over a PMD: collapsed past EOF as 7.3 does, i_size kept";
	const uint64_t seed = 0x9b00;
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool ok = true;
	struct counters c;
	struct stat st;
	struct shm s;
	char byte;
	int fd, err;

	fd = open_memfd(pmd_size / 2);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr / 2, 1, seed);
	read_counters(&c);
	err = collapse(s.p, pmd_size);
	ok = want_err(err, 0, name);
	ok = pmd_mapped(s.p) && ok;
	ok = counted_collapse(&c, pmd_nr / 2) && ok;
	if (fstat(fd, &st) || st.st_size != (off_t)(pmd_size / 2) ||
	    st.st_blocks != (long)(pmd_size / 512)) {
		ksft_print_msg("st_size %lld (want %zu), st_blocks %lld (want %zu)\n",
			       (long long)st.st_size, pmd_size / 2, (long long)st.st_blocks,
			       pmd_size / 512);
		ok = false;
	}
	ok = check_pread(fd, pmd_nr / 2, 1, seed) && ok;
	if (pread(fd, &byte, 1, pmd_size / 2) != 0) {
		ksft_print_msg("pread at EOF did not return 0\n");
		ok = false;
	}
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		ok = check_prefix_mapped(s.p, pmd_nr / 2, seed) && ok;
	} else {
		ksft_print_msg("SIGBUS reading the mapping past EOF\n");
		ok = false;
	}
	sigaction(SIGBUS, &old, NULL);
	ksft_test_result(ok, "%s\n", name);
	unmap_shm(&s);
	close(fd);
}

/* ------------------------------------------------ set-up */

static bool mount_tmpfs(const char *dir, const char *opts)
{
	mkdir(dir, 0755);
	if (mount("tmpfs", dir, "tmpfs", 0, opts)) {
		ksft_print_msg("mount tmpfs %s on %s: %s\n", opts, dir, strerror(errno));
		return false;
	}
	return true;
}

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
	pmd_kb = pmd_size >> 10;
	snprintf(pmd_kb_dir, sizeof(pmd_kb_dir), THP_DIR "/hugepages-%zukB", pmd_size >> 10);
	snprintf(shmem_size_path, sizeof(shmem_size_path), "%s/shmem_enabled", pmd_kb_dir);
	ksft_set_plan(31);

	setup_thp();
	/* Faults give small pages unless MADV_HUGEPAGE (advise); khugepaged scans fast. */
	set_mode(THP_DIR "/shmem_enabled", "advise");
	if (!access(shmem_size_path, F_OK))
		set_mode(shmem_size_path, "inherit");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 1);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);

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
		ksft_test_result_fail("tmpfs huge=advise: not mounted\n");
	/* 2: holes. */
	test_collapse(K_MEMFD, 8, "memfd: MADV_COLLAPSE of 1 page in 8: holes zero-filled and charged (st_blocks, nr_shmem)");
	test_collapse(K_MEMFD, 2, "memfd: MADV_COLLAPSE of 1 page in 2: holes zero-filled and charged (st_blocks, nr_shmem)");
	if (mounted_adv)
		test_collapse(K_FILE, 4, "tmpfs huge=advise, written with write(): MADV_COLLAPSE of 1 page in 4: holes zero-filled and charged (st_blocks, free blocks)");
	else
		ksft_test_result_fail("tmpfs huge=advise: not mounted\n");
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
		ksft_test_result_fail("tmpfs huge=never: not mounted\n");
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
		ksft_test_result_fail("shmem_enabled=deny on tmpfs: not mounted\n");
	set_mode(THP_DIR "/shmem_enabled", "advise");

	restore_settings();
	unmount_all();
	ksft_finished();
}
