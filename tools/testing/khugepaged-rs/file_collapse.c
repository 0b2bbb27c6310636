// SPDX-License-Identifier: GPL-2.0
/*
 * file_collapse - what 7.3's `khugepaged all:file` does not check about the
 * collapse of regular files (mm/khugepaged.c's collapse_scan_file(),
 * collapse_file(), collapse_pte_mapped_thp() and the file path of
 * madvise_collapse()), on a file system with PMD-sized large folios.
 *
 *   file_collapse DIR        (DIR on XFS: guest-suites.sh mounts /dev/vda)
 *
 * Every page of a file holds its own pattern; after each collapse its PMD
 * range must be mapped by a PMD (pagemap + kpageflags) and every byte must
 * be as modelled, seen through the mapping, through pread() and from a
 * second process mapping the same file.  Cases:
 *  1. MADV_COLLAPSE of a clean file read in as small folios;
 *  2. khugepaged collapses a clean file registered with MADV_HUGEPAGE
 *     (nr_file_hugepages grows, mm_khugepaged_scan_file traced);
 *  3. dirty file pages: MADV_COLLAPSE writes them back and collapses
 *     (7.3's one write-back retry), the written data kept;
 *  4. an executable's text (PROT_READ | PROT_EXEC, MAP_PRIVATE) collapsed,
 *     then a uprobe on it: its page is copied and the PMD mapping split;
 *     the uprobe removed, the range is mapped by a PMD again in place, by
 *     the same folio (collapse_pte_mapped_thp(), which uprobes call);
 *  5. (khugepaged-rs) truncation and hole punching racing MADV_COLLAPSE:
 *     the file cut at half a PMD and grown back, and holes punched in it,
 *     for seconds; then the range collapsed, and every page holds its data
 *     or, where cut or punched, zero, through the mapping and pread().  On
 *     7.3 this race deadlocks (see the case), so there it is a SKIP;
 *  6. MADV_COLLAPSE of a range of which only its first 64 KB are in the page
 *     cache, as one large folio (written in one write()): the rest read in
 *     and collapsed (a walk for missing pages that starts inside a large
 *     folio must see the gap right after it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#define KHUGEPAGED THP_DIR "/khugepaged"
#define TRACING "/sys/kernel/tracing"
#define NR_CASES 6

static const char *dir;

struct file_map {
	int fd;
	char *base;		/* the reservation, for munmap */
	size_t total;
	char *p;		/* the PMD-aligned mapping of the file's first PMD range */
	size_t len;		/* pmd_size */
	char path[256];
};

static uint64_t word(uint64_t seed, size_t off)
{
	return (off * 0x9e3779b97f4a7c15ULL) ^ seed;
}

/* A file of two PMDs, every 8-byte word its offset's pattern; written back. */
static int make_file(struct file_map *f, const char *name, uint64_t seed)
{
	size_t len = 2 * pmd_size;
	uint64_t *buf = malloc(len);
	int fd;

	if (!buf)
		return -1;
	for (size_t i = 0; i < len / 8; i++)
		buf[i] = word(seed, i * 8);
	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	unlink(f->path);
	fd = open(f->path, O_RDWR | O_CREAT, 0755);
	if (fd < 0 || pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd)) {
		free(buf);
		return -1;
	}
	free(buf);
	close(fd);
	/* Out of the page cache, so that it is read in again as the mapping says. */
	write_file("/proc/sys/vm/drop_caches", "3");
	return 0;
}

/* Maps the file's first PMD range at a PMD-aligned address. */
static int map_file(struct file_map *f, int oflags, int prot, int flags)
{
	uintptr_t a;

	f->fd = open(f->path, oflags);
	if (f->fd < 0)
		return -1;
	f->len = pmd_size;
	f->total = 2 * pmd_size;
	f->base = mmap(NULL, f->total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (f->base == MAP_FAILED)
		return -1;
	a = ((uintptr_t)f->base + pmd_size - 1) & ~(pmd_size - 1);
	f->p = mmap((void *)a, f->len, prot, flags | MAP_FIXED, f->fd, 0);
	return f->p == MAP_FAILED ? -1 : 0;
}

static void unmap_file(struct file_map *f)
{
	munmap(f->base, f->total);
	close(f->fd);
	unlink(f->path);
}

/* Reads every page through the mapping, without read-ahead: small folios. */
static void read_in(struct file_map *f)
{
	volatile char c;

	madvise(f->p, f->len, MADV_RANDOM);
	for (size_t off = 0; off < f->len; off += page_size)
		c = f->p[off];
	(void)c;
	madvise(f->p, f->len, MADV_NORMAL);
}

static bool small_folios(char *p)
{
	return kpf_pmd_thp(p) == 0;
}

/* [p, p + pmd_size), a VMA of its own, is one PMD-order folio mapped by a PMD. */
static bool pmd_mapped(char *p)
{
	return smaps_kb(p, "FilePmdMapped") == (long)(pmd_size >> 10) && kpf_pmd_thp(p) == 1;
}

/* Reads the first byte (a fault maps a retracted range by its PMD). */
static void touch(char *p)
{
	(void)*(volatile char *)p;
}

/* Every word of [p, p + len) as modelled: the file's pattern but at `except`. */
static bool check_words(const char *p, size_t len, uint64_t seed, size_t except,
			uint64_t except_val, const char *how)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++) {
		uint64_t want = i * 8 == except ? except_val : word(seed, i * 8);

		if (w[i] != want) {
			ksft_print_msg("%s: word at %#zx is %#llx, not %#llx\n", how, i * 8,
				       (unsigned long long)w[i], (unsigned long long)want);
			return false;
		}
	}
	return true;
}

/*
 * The mapping, pread() and a second process's mapping of the file all hold
 * the pattern (the mapping's own copy of the word at `except` aside).
 */
static bool contents_ok(struct file_map *f, uint64_t seed, size_t except, uint64_t except_val)
{
	char *buf = malloc(f->len);
	bool ok;
	pid_t pid;
	int status;

	ok = check_words(f->p, f->len, seed, except, except_val, "mapping");
	if (!buf || pread(f->fd, buf, f->len, 0) != (ssize_t)f->len)
		ok = false;
	else
		ok = check_words(buf, f->len, seed, SIZE_MAX, 0, "pread") && ok;
	free(buf);
	pid = fork();
	if (pid == 0) {
		int fd = open(f->path, O_RDONLY);
		char *q = fd < 0 ? MAP_FAILED : mmap(NULL, pmd_size, PROT_READ, MAP_SHARED, fd, 0);

		_exit(q != MAP_FAILED && check_words(q, pmd_size, seed, SIZE_MAX, 0,
						     "second process") ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		ok = false;
	return ok;
}

/*
 * Makes the file, maps it and reads it in as small folios: 1 if it is, 0 if read-ahead
 * made a large folio already, -1 (the case failed) if the set-up failed.
 */
static int setup(struct file_map *f, const char *case_name, const char *file, uint64_t seed,
		 int oflags, int prot, int flags)
{
	if (make_file(f, file, seed) || map_file(f, oflags, prot, flags)) {
		ksft_test_result_fail("%s (set-up: %s)\n", case_name, strerror(errno));
		return -1;
	}
	read_in(f);
	if (small_folios(f->p))
		return 1;
	ksft_print_msg("read in as a large folio already\n");
	return 0;
}

/*
 * MADV_COLLAPSE of the range, which must leave it mapped by a PMD.  EAGAIN is a
 * transient answer (7.3 writes dirty pages back and tries once more, and can still meet
 * a folio under write-back): asked again, up to 5 times, as a caller would.
 */
static bool collapse_to_pmd(struct file_map *f)
{
	int err = 0;

	for (int i = 0; i < 5; i++) {
		err = madvise(f->p, f->len, MADV_COLLAPSE) ? errno : 0;
		if (err != EAGAIN)
			break;
		ksft_print_msg("MADV_COLLAPSE: EAGAIN, again\n");
		usleep(100000);
	}
	errno = err;
	if (err) {
		ksft_print_msg("MADV_COLLAPSE: %s\n", strerror(errno));
		return false;
	}
	if (!pmd_mapped(f->p)) {
		ksft_print_msg("not mapped by a PMD\n");
		return false;
	}
	return true;
}

static void test_madv_collapse(void)
{
	const char *name = "MADV_COLLAPSE of a clean file read in as small folios: one PMD, contents intact";
	struct file_map f;
	int small = setup(&f, name, "clean", 1, O_RDONLY, PROT_READ, MAP_SHARED);
	bool ok;

	if (small < 0)
		return;
	ok = collapse_to_pmd(&f) && small;
	ok = contents_ok(&f, 1, SIZE_MAX, 0) && ok;
	unmap_file(&f);
	ksft_test_result(ok, "%s\n", name);
}

static void test_khugepaged(void)
{
	const char *name = "khugepaged collapses a clean file range registered with MADV_HUGEPAGE; nr_file_hugepages and mm_khugepaged_scan_file show it";
	static char buf[1 << 16];
	unsigned long before;
	struct file_map f;
	int i, small = setup(&f, name, "khugepaged", 2, O_RDONLY, PROT_READ, MAP_SHARED);
	bool ok = small > 0, traced;

	if (small < 0)
		return;
	write_file("/proc/sys/vm/stat_refresh", "1");
	before = vmstat("nr_file_hugepages");
	clear_trace();
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan_file/enable", "1");
	madvise(f.p, f.len, MADV_HUGEPAGE);
	write_file(KHUGEPAGED "/scan_sleep_millisecs", "100");
	/* khugepaged retracts the page table; the next fault maps the folio by a PMD. */
	for (i = 0; i < 300 && (touch(f.p), !pmd_mapped(f.p)); i++)
		usleep(100000);
	write_file(KHUGEPAGED "/scan_sleep_millisecs", "10000");
	ok = contents_ok(&f, 2, SIZE_MAX, 0) && ok;
	if (!pmd_mapped(f.p)) {
		ksft_print_msg("not mapped by a PMD after %d s\n", i / 10);
		ok = false;
	}
	write_file("/proc/sys/vm/stat_refresh", "1");
	if (vmstat("nr_file_hugepages") < before + 1) {
		ksft_print_msg("nr_file_hugepages %lu -> %lu\n", before, vmstat("nr_file_hugepages"));
		ok = false;
	}
	traced = read_file(TRACING "/trace", buf, sizeof(buf)) >= 0 &&
		 strstr(buf, "mm_khugepaged_scan_file:") && strstr(buf, "result=succeeded");
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan_file/enable", "0");
	if (!traced) {
		ksft_print_msg("no mm_khugepaged_scan_file event with result=succeeded\n");
		ok = false;
	}
	unmap_file(&f);
	ksft_test_result(ok, "%s\n", name);
}

static void test_dirty(void)
{
	const char *name = "dirty file pages: MADV_COLLAPSE writes them back and collapses, the written data kept";
	struct file_map f;
	int small = setup(&f, name, "dirty", 3, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED);
	bool ok;

	if (small < 0)
		return;
	/* Rewrite every 8th page with the pattern of another seed: dirty. */
	for (size_t off = 0; off < f.len; off += 8 * page_size)
		for (size_t w = off; w < off + page_size; w += 8)
			*(uint64_t *)(f.p + w) = word(3, w) ^ 0xd1d1;
	ok = collapse_to_pmd(&f) && small;
	for (size_t off = 0; off < f.len && ok; off += 8)
		if (*(uint64_t *)(f.p + off) !=
		    (word(3, off) ^ ((off / page_size) % 8 ? 0 : 0xd1d1))) {
			ksft_print_msg("word at %#zx lost\n", off);
			ok = false;
		}
	if (ok) {
		/* pread() sees the same: restore the words, then compare all three ways. */
		for (size_t off = 0; off < f.len; off += 8 * page_size)
			for (size_t w = off; w < off + page_size; w += 8)
				*(uint64_t *)(f.p + w) = word(3, w);
		ok = contents_ok(&f, 3, SIZE_MAX, 0);
	}
	unmap_file(&f);
	ksft_test_result(ok, "%s\n", name);
}

/* The PFN mapped at p, 0 if none. */
static uint64_t pfn_of(char *p)
{
	uint64_t pfn = 0;

	return get_pfns(p, 1, &pfn) ? 0 : pfn;
}

static void test_uprobe(void)
{
	const char *name = "executable text collapsed, PTE-mapped by a uprobe, mapped by its PMD again in place once the uprobe is gone";
	const size_t probe = 3 * page_size + 0x40;
	char line[512];
	struct file_map f;
	uint64_t pfn, pfn_after, old;
	bool ok = true;

	if (setup(&f, name, "text", 4, O_RDONLY, PROT_READ | PROT_EXEC, MAP_PRIVATE) < 0)
		return;
	if (!collapse_to_pmd(&f)) {
		ksft_test_result_fail("%s\n", name);
		unmap_file(&f);
		return;
	}
	pfn = pfn_of(f.p);
	old = *(uint64_t *)(f.p + probe);
	snprintf(line, sizeof(line), "p:khugepaged_rs/text %s:%#zx", f.path, probe);
	if (write_file(TRACING "/uprobe_events", line) ||
	    write_file(TRACING "/events/khugepaged_rs/text/enable", "1")) {
		ksft_test_result_fail("%s (uprobe: %s)\n", name, strerror(errno));
		unmap_file(&f);
		return;
	}
	/* The breakpoint is in this mapping's own copy of the page; the PMD is split. */
	if (smaps_kb(f.p, "FilePmdMapped") != 0 || kpf_pmd_thp(f.p) != 0) {
		ksft_print_msg("still mapped by a PMD, or by the folio alone, with the uprobe on\n");
		ok = false;
	}
	if (*(uint64_t *)(f.p + probe) == old) {
		ksft_print_msg("no breakpoint at the probe\n");
		ok = false;
	}
	ok = contents_ok(&f, 4, probe, *(uint64_t *)(f.p + probe)) && ok;
	/*
	 * The breakpoint's copy of the page may still sit in a per-CPU LRU batch, whose
	 * reference makes uprobes keep the copy (restored) rather than drop it: drain
	 * them (drop_caches does, and leaves mapped page cache alone).
	 */
	write_file("/proc/sys/vm/drop_caches", "1");
	write_file(TRACING "/events/khugepaged_rs/text/enable", "0");
	write_file(TRACING "/uprobe_events", "-:khugepaged_rs/text");
	/*
	 * Removing the breakpoint drops the page's copy and has collapse_pte_mapped_thp()
	 * take the page table out; the next fault maps the same folio by its PMD.
	 */
	touch(f.p);
	pfn_after = pfn_of(f.p);
	if (!pmd_mapped(f.p) || pfn_after != pfn) {
		ksft_print_msg("after the uprobe: PMD-mapped %d, pfn %#llx (was %#llx)\n",
			       pmd_mapped(f.p), (unsigned long long)pfn_after,
			       (unsigned long long)pfn);
		ok = false;
	}
	ok = contents_ok(&f, 4, SIZE_MAX, 0) && ok;
	unmap_file(&f);
	ksft_test_result(ok, "%s\n", name);
}

/*
 * 5. Truncation and hole punching racing MADV_COLLAPSE.  7.3's collapse_file()
 * reads missing pages in with the range's earlier folios locked; readahead
 * takes the invalidate_lock, which a truncation on XFS holds while it waits
 * for those folio locks, and both sleep for ever (seen on 7.3 within a few
 * seconds of this race).  So on 7.3's kernel the case is a SKIP, not run.
 */
struct racer {
	struct file_map *f;
	unsigned char *zeroed;		/* per page of the mapped PMD: reads zero now */
	unsigned long cuts, punches;
	bool failed;
};

static atomic_bool racing;

static void *race_truncate(void *arg)
{
	struct racer *r = arg;
	size_t nr = pmd_size / page_size;

	for (unsigned long i = 0; atomic_load(&racing) || i == 0; i++) {
		if (i % 3 == 0) {
			/* Cut at half a PMD and grow back: the rest reads zero. */
			if (ftruncate(r->f->fd, pmd_size / 2) ||
			    ftruncate(r->f->fd, 2 * pmd_size)) {
				r->failed = true;
				break;
			}
			memset(r->zeroed + nr / 2, 1, nr - nr / 2);
			r->cuts++;
		} else {
			size_t first = random() % nr, n = 1 + random() % 16;

			if (first + n > nr)
				n = nr - first;
			if (fallocate(r->f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      first * page_size, n * page_size)) {
				r->failed = true;
				break;
			}
			memset(r->zeroed + first, 1, n);
			r->punches++;
		}
		usleep(random() % 4000);
	}
	return NULL;
}

/* Every page of `p` holds its pattern, or zero where the racer zeroed it. */
static bool race_contents_ok(const char *p, const unsigned char *zeroed, const char *how)
{
	for (size_t pg = 0; pg < pmd_size / page_size; pg++) {
		const uint64_t *w = (const uint64_t *)(p + pg * page_size);

		for (size_t i = 0; i < page_size / 8; i++) {
			size_t off = pg * page_size + i * 8;
			uint64_t want = zeroed[pg] ? 0 : word(5, off);

			if (w[i] != want) {
				ksft_print_msg("%s: word at %#zx is %#llx, not %#llx\n", how, off,
					       (unsigned long long)w[i], (unsigned long long)want);
				return false;
			}
		}
	}
	return true;
}

static void test_truncate_race(void)
{
	const char *name = "truncate and hole punch racing MADV_COLLAPSE: holes read zero, the rest kept, no hang";
	unsigned long collapsed = 0, eagain = 0, einval = 0, other = 0;
	struct racer r = { 0 };
	struct timespec t0, t;
	struct file_map f;
	pthread_t th;
	char *buf;
	bool ok;

	if (access(KHUGEPAGED "/mmap_lock_busy", F_OK)) {
		ksft_test_result_skip("%s (7.3 deadlocks here: collapse_file() reads ahead with folios locked)\n",
				      name);
		return;
	}
	if (setup(&f, name, "truncate", 5, O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED) < 0)
		return;
	r.f = &f;
	r.zeroed = calloc(pmd_size / page_size, 1);
	srandom(5);
	atomic_store(&racing, true);
	if (!r.zeroed || pthread_create(&th, NULL, race_truncate, &r)) {
		ksft_test_result_fail("%s (set-up)\n", name);
		unmap_file(&f);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (!madvise(f.p, f.len, MADV_COLLAPSE))
			collapsed++;
		else if (errno == EAGAIN)
			eagain++;
		else if (errno == EINVAL || errno == ENOMEM)	/* a hole, truncated; no memory */
			einval++;
		else
			other++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 4);
	atomic_store(&racing, false);
	pthread_join(th, NULL);
	ksft_print_msg("%lu cuts, %lu hole punches; MADV_COLLAPSE: %lu collapsed, %lu EAGAIN, %lu EINVAL or ENOMEM, %lu other\n",
		       r.cuts, r.punches, collapsed, eagain, einval, other);
	ok = !r.failed && r.cuts && r.punches && !other;
	/* Quiet now: the range, holes and all, collapses. */
	ok = collapse_to_pmd(&f) && ok;
	ok = race_contents_ok(f.p, r.zeroed, "mapping") && ok;
	buf = malloc(f.len);
	if (!buf || pread(f.fd, buf, f.len, 0) != (ssize_t)f.len)
		ok = false;
	else
		ok = race_contents_ok(buf, r.zeroed, "pread") && ok;
	free(buf);
	free(r.zeroed);
	unmap_file(&f);
	ksft_test_result(ok, "%s\n", name);
}

static void test_partly_cached(void)
{
	const char *name = "MADV_COLLAPSE of a range whose first 64 KB alone are cached, as one large folio: the rest read in, one PMD, contents intact";
	size_t head = 16 * page_size, in;
	struct file_map f;
	uint64_t *buf;
	bool ok;
	int fd;

	buf = malloc(head);
	if (!buf || make_file(&f, "partly", 6)) {
		ksft_test_result_fail("%s (set-up: %s)\n", name, strerror(errno));
		free(buf);
		return;
	}
	/* XFS writes 64 KB in one write() into one 64 KB folio; nothing else is cached. */
	for (size_t i = 0; i < head / 8; i++)
		buf[i] = word(6, i * 8);
	fd = open(f.path, O_RDWR);
	ok = fd >= 0 && pwrite(fd, buf, head, 0) == (ssize_t)head && !fsync(fd);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (!ok || map_file(&f, O_RDONLY, PROT_READ, MAP_SHARED)) {
		ksft_test_result_fail("%s (set-up: %s)\n", name, strerror(errno));
		return;
	}
	in = resident_pages(f.p, f.len / page_size);
	if (in != head / page_size)
		ksft_print_msg("%zu pages of the range cached before the collapse, not %zu\n", in,
			       head / page_size);
	ok = in == head / page_size;
	ok = collapse_to_pmd(&f) && ok;
	ok = contents_ok(&f, 6, SIZE_MAX, 0) && ok;
	unmap_file(&f);
	ksft_test_result(ok, "%s\n", name);
}

int main(int argc, char **argv)
{
	char buf[128];

	ksft_print_header();
	ksft_set_plan(NR_CASES);
	if (argc < 2)
		ksft_exit_fail_msg("usage: file_collapse DIR (on XFS)\n");
	dir = argv[1];
	thp_util_init();
	setup_thp();
	snprintf(buf, sizeof(buf), THP_DIR "/hugepages-%zukB/enabled", pmd_size >> 10);
	set_mode(buf, "inherit");
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10000");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	test_madv_collapse();
	test_khugepaged();
	test_dirty();
	test_uprobe();
	test_truncate_race();
	test_partly_cached();
	ksft_finished();
}
