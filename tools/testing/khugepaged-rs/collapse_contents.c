// SPDX-License-Identifier: GPL-2.0
/*
 * collapse_contents - what 7.3's selftests do not check about anonymous
 * PMD collapse: the data, the failure paths, the counters and the traces.
 *
 * Every case fills memory with a seeded pattern, collapses it (by
 * MADV_COLLAPSE or by khugepaged) and checks that the range became one
 * PMD-order THP (pagemap + kpageflags, as tools/mm/thpmaps does) and that
 * every byte is what it was, holes reading as zero:
 *   - full and sparse ranges, by MADV_COLLAPSE and by khugepaged;
 *   - after fork, with pages shared and CoW-broken, in parent and child;
 *   - after part of the range was swapped out (zram);
 *   - a memcg limit that makes the huge page's charge fail: EBUSY, the
 *     memory untouched and still small pages;
 *   - MADV_FREEd memory read again: khugepaged leaves it alone and says
 *     page_lazyfree in its trace, MADV_COLLAPSE collapses it;
 *   - thp_collapse_alloc in /proc/vmstat and the PMD size's collapse_alloc
 *     move; the huge_memory tracepoints fire with 7.3's fields.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define TRACING "/sys/kernel/tracing"
#define CGROUP "/sys/fs/cgroup"

static char pmd_kb_dir[128];

/* ------------------------------------------------ helpers */

static unsigned long pmd_stat(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/stats/%s", pmd_kb_dir, name);
	return read_ulong(path);
}

/* 1 if the PMD range at p is one PMD-order THP; falls back to smaps. */
static int is_thp(char *p)
{
	int r = kpf_pmd_thp(p);

	if (r >= 0)
		return r;
	return anon_huge_kb(p) >= (long)(pmd_size >> 10);
}

/* Pattern on the pages whose index i has (i % stride == 0), zero elsewhere. */
static void fill_sparse(char *p, size_t stride, uint64_t seed)
{
	size_t i;

	for (i = 0; i < pmd_nr; i += stride)
		fill(p + i * page_size, page_size, seed + i);
}

static bool intact_sparse(char *p, size_t stride, uint64_t seed)
{
	size_t i, j;

	for (i = 0; i < pmd_nr; i++) {
		char *pg = p + i * page_size;

		if (i % stride == 0) {
			if (!intact(pg, page_size, seed + i))
				return false;
			continue;
		}
		for (j = 0; j < page_size; j++)
			if (pg[j]) {
				ksft_print_msg("hole page %zu byte %zu is %#x\n",
					       i, j, pg[j]);
				return false;
			}
	}
	return true;
}

/*
 * Waits until khugepaged collapsed p, or finished two more full scans
 * without doing so (as the upstream selftest waits).  Returns is_thp(p).
 */
static int wait_khugepaged(char *p)
{
	unsigned long start = read_ulong(KHUGEPAGED "/full_scans");
	int i;

	for (i = 0; i < 600; i++) {
		if (is_thp(p) == 1)
			return 1;
		if (read_ulong(KHUGEPAGED "/full_scans") >= start + 2)
			break;
		usleep(50000);
	}
	return is_thp(p);
}

static void trace_on(bool on)
{
	static const char *const events[] = {
		"mm_khugepaged_scan_pmd", "mm_collapse_huge_page",
		"mm_collapse_huge_page_isolate", "mm_collapse_huge_page_swapin",
		"mm_khugepaged_scan",
	};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), TRACING "/events/huge_memory/%s/enable",
			 events[i]);
		if (write_file(path, on ? "1" : "0"))
			ksft_print_msg("cannot %s %s\n", on ? "enable" : "disable", path);
	}
	clear_trace();
}

/* Whether the trace holds a line containing all of the given words. */
static bool trace_has(const char *a, const char *b, const char *c)
{
	static char buf[1 << 20];
	char *line, *save;

	if (read_file(TRACING "/trace", buf, sizeof(buf)))
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c)))
			return true;
	return false;
}

static int collapse(char *p)
{
	return madvise(p, pmd_size, MADV_COLLAPSE) ? errno : 0;
}

/* ------------------------------------------------ cases */

static void test_madvise(size_t stride, const char *name)
{
	struct region r;
	uint64_t seed = 0x1000 + stride;
	bool small;
	int err;

	if (map_region(&r, pmd_size)) {
		ksft_test_result_fail("%s: mmap: %s\n", name, strerror(errno));
		return;
	}
	fill_sparse(r.p, stride, seed);
	small = is_thp(r.p) == 0;
	if (!small)
		ksft_print_msg("faults gave a THP: the test proves nothing\n");
	err = collapse(r.p);
	if (err)
		ksft_print_msg("MADV_COLLAPSE: %s\n", strerror(err));
	ksft_test_result(small && !err && is_thp(r.p) == 1 && intact_sparse(r.p, stride, seed),
			 "%s\n", name);
	unmap_region(&r);
}

static void test_khugepaged(size_t stride, const char *name)
{
	unsigned long before = read_ulong(KHUGEPAGED "/pages_collapsed");
	struct region r;
	uint64_t seed = 0x2000 + stride;
	bool ok;

	if (map_region(&r, pmd_size)) {
		ksft_test_result_fail("%s: mmap: %s\n", name, strerror(errno));
		return;
	}
	/* Faults before MADV_HUGEPAGE take small pages; khugepaged must do the rest. */
	fill_sparse(r.p, stride, seed);
	ok = is_thp(r.p) == 0;
	if (!ok)
		ksft_print_msg("faults gave a THP: the test proves nothing\n");
	madvise(r.p, pmd_size, MADV_HUGEPAGE);
	ok = ok && wait_khugepaged(r.p) == 1;
	if (!ok)
		ksft_print_msg("not collapsed by khugepaged\n");
	ok = ok && intact_sparse(r.p, stride, seed);
	if (ok && read_ulong(KHUGEPAGED "/pages_collapsed") <= before) {
		ksft_print_msg("pages_collapsed did not move from %lu\n", before);
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name);
	unmap_region(&r);
}

/* Shared after fork, then half CoW-broken by the child: both sides collapse. */
static void test_fork(void)
{
	struct region r;
	int status, err;
	pid_t pid;
	bool ok;

	if (map_region(&r, pmd_size)) {
		ksft_test_result_fail("fork: mmap\n");
		return;
	}
	fill(r.p, pmd_size, 0x3000);
	pid = fork();
	if (pid == 0) {
		/* Child: rewrite the upper half (CoW), collapse, check, tell. */
		thp_util_reopen_pagemap();
		fill(r.p + pmd_size / 2, pmd_size / 2, 0x3333);
		err = collapse(r.p);
		if (err || is_thp(r.p) != 1) {
			ksft_print_msg("child MADV_COLLAPSE: %s, THP: %d\n",
				       err ? strerror(err) : "success", is_thp(r.p));
			_exit(1);
		}
		if (!intact(r.p, pmd_size / 2, 0x3000) ||
		    !intact(r.p + pmd_size / 2, pmd_size / 2, 0x3333))
			_exit(2);
		_exit(0);
	}
	if (pid < 0) {
		ksft_test_result_fail("fork: %s\n", strerror(errno));
		unmap_region(&r);
		return;
	}
	waitpid(pid, &status, 0);
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
		ksft_print_msg("child failed: status %#x\n", status);
	/* Parent: its pages are still shared with nobody now, or with the child's THP. */
	err = collapse(r.p);
	if (err)
		ksft_print_msg("parent MADV_COLLAPSE: %s\n", strerror(err));
	ok = ok && !err && is_thp(r.p) == 1 && intact(r.p, pmd_size, 0x3000);
	ksft_test_result(ok, "contents after fork and CoW, collapsed in child and parent\n");
	unmap_region(&r);
}

static void test_swapin(void)
{
	unsigned long swapped = vmstat("pswpout");
	struct region r;
	int err;
	bool ok;

	if (map_region(&r, pmd_size)) {
		ksft_test_result_fail("swap-in: mmap\n");
		return;
	}
	fill(r.p, pmd_size, 0x4000);
	if (madvise(r.p, pmd_size / 4, MADV_PAGEOUT))
		ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
	if (vmstat("pswpout") <= swapped)
		ksft_print_msg("nothing was swapped out (is swap on?)\n");
	err = collapse(r.p);
	if (err)
		ksft_print_msg("MADV_COLLAPSE: %s\n", strerror(err));
	ok = vmstat("pswpout") > swapped && !err && is_thp(r.p) == 1 &&
	     intact(r.p, pmd_size, 0x4000);
	ksft_test_result(ok, "contents after swap-out of a quarter and collapse\n");
	unmap_region(&r);
}

/* The counters and trace events of one successful MADV_COLLAPSE. */
static void test_counters_and_trace(void)
{
	unsigned long vm_before = vmstat("thp_collapse_alloc");
	unsigned long st_before = pmd_stat("collapse_alloc");
	char order[32];
	struct region r;
	int err;

	snprintf(order, sizeof(order), "order=%d", __builtin_ctzl(pmd_nr));
	if (map_region(&r, pmd_size)) {
		ksft_test_result_fail("counters: mmap\n");
		return;
	}
	fill_sparse(r.p, 2, 0x5000);
	trace_on(true);
	err = collapse(r.p);
	ksft_test_result(!err && vmstat("thp_collapse_alloc") == vm_before + 1 &&
			 pmd_stat("collapse_alloc") == st_before + 1,
			 "thp_collapse_alloc and %s collapse_alloc count one collapse\n",
			 strrchr(pmd_kb_dir, '/') + 1);
	ksft_test_result(trace_has("mm_khugepaged_scan_pmd:", "status=succeeded",
				   "unmapped=0"),
			 "trace: mm_khugepaged_scan_pmd status=succeeded\n");
	ksft_test_result(trace_has("mm_collapse_huge_page_isolate:", "status=succeeded", order),
			 "trace: mm_collapse_huge_page_isolate status=succeeded %s\n", order);
	ksft_test_result(trace_has("mm_collapse_huge_page:", "isolated=1, status=succeeded",
				   order),
			 "trace: mm_collapse_huge_page isolated=1 status=succeeded %s\n", order);
	trace_on(false);
	unmap_region(&r);
}

static void test_lazyfree(void)
{
	struct region r;
	volatile char sink;
	size_t i;
	int err;
	bool ok;

	if (map_region(&r, pmd_size)) {
		ksft_test_result_fail("lazyfree: mmap\n");
		return;
	}
	fill(r.p, pmd_size, 0x6000);
	trace_on(true);
	if (madvise(r.p, pmd_size, MADV_FREE))
		ksft_print_msg("MADV_FREE: %s\n", strerror(errno));
	/* Read it again: the PTEs stay clean, the folios stay lazyfree. */
	for (i = 0; i < pmd_size; i += page_size)
		sink = r.p[i];
	(void)sink;
	/* Only now may khugepaged look at the range. */
	madvise(r.p, pmd_size, MADV_HUGEPAGE);
	ok = wait_khugepaged(r.p) == 0;
	if (!ok)
		ksft_print_msg("khugepaged collapsed MADV_FREEd memory\n");
	ksft_test_result(ok && trace_has("mm_khugepaged_scan_pmd:", "status=page_lazyfree", NULL),
			 "khugepaged skips MADV_FREEd memory read again (trace: page_lazyfree)\n");
	trace_on(false);
	/* Not reclaimed (no memory pressure): the data is still there. */
	err = collapse(r.p);
	if (err)
		ksft_print_msg("MADV_COLLAPSE: %s\n", strerror(err));
	ksft_test_result(!err && is_thp(r.p) == 1 && intact(r.p, pmd_size, 0x6000),
			 "MADV_COLLAPSE collapses MADV_FREEd memory, contents kept\n");
	unmap_region(&r);
}

/* A memcg whose limit leaves no room for the huge page: the charge fails. */
static void test_memcg_charge_fail(void)
{
	char grp[] = CGROUP "/khugepaged-rs-test", path[256], buf[64];
	unsigned long cur;
	struct region r;
	int err = 0, status;
	pid_t pid;

	mkdir(CGROUP, 0755);
	if (mount("cgroup2", CGROUP, "cgroup2", 0, NULL) && errno != EBUSY)
		ksft_print_msg("mount cgroup2: %s\n", strerror(errno));
	write_file(CGROUP "/cgroup.subtree_control", "+memory");
	if (mkdir(grp, 0755) && errno != EEXIST) {
		ksft_test_result_fail("memcg charge failure: mkdir %s: %s\n", grp, strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		thp_util_reopen_pagemap();
		snprintf(path, sizeof(path), "%s/cgroup.procs", grp);
		snprintf(buf, sizeof(buf), "%d", getpid());
		if (write_file(path, buf))
			_exit(10);
		snprintf(path, sizeof(path), "%s/memory.swap.max", grp);
		write_file(path, "0");
		if (map_region(&r, pmd_size))
			_exit(11);
		/*
		 * Room for the small pages and a few more, not for a huge page on top:
		 * 64 pages more, or half a PMD where that is less (32 PTEs per PMD on
		 * ppc64le radix).  memory.current counts the charge held in the memcg's
		 * per-CPU stocks too, which the collapse could use (with 64K pages one
		 * stock batch is twice the PMD): a first limit below that, but above
		 * what is really used, makes the kernel drain them.  The real limit is
		 * set before the pages are faulted in, so no stock builds up again.
		 */
		snprintf(path, sizeof(path), "%s/memory.max", grp);
		snprintf(buf, sizeof(buf), "%zu", pmd_size);
		if (write_file(path, buf))
			_exit(12);
		snprintf(path, sizeof(path), "%s/memory.current", grp);
		cur = read_ulong(path);
		snprintf(path, sizeof(path), "%s/memory.max", grp);
		snprintf(buf, sizeof(buf), "%lu",
			 cur + pmd_size + (pmd_nr / 2 < 64 ? pmd_nr / 2 : 64) * page_size);
		if (write_file(path, buf))
			_exit(12);
		fill(r.p, pmd_size, 0x7000);
		err = collapse(r.p);
		if (err != EBUSY) {
			ksft_print_msg("MADV_COLLAPSE under the limit: %s, expected EBUSY\n",
				       err ? strerror(err) : "success");
			_exit(13);
		}
		if (is_thp(r.p) != 0 || !intact(r.p, pmd_size, 0x7000))
			_exit(14);
		/* Lift the limit: now it collapses, with the same data. */
		if (write_file(path, "max"))
			ksft_print_msg("cannot lift %s: %s\n", path, strerror(errno));
		err = collapse(r.p);
		if (err || is_thp(r.p) != 1 || !intact(r.p, pmd_size, 0x7000)) {
			ksft_print_msg("MADV_COLLAPSE without the limit: %s, THP: %d\n",
				       err ? strerror(err) : "success", is_thp(r.p));
			_exit(15);
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	rmdir(grp);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ksft_print_msg("child status %#x\n", status);
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			 "memcg charge failure: EBUSY, memory untouched; collapses once allowed\n");
}

int main(void)
{
	char buf[256];

	ksft_print_header();
	thp_util_init();
	snprintf(pmd_kb_dir, sizeof(pmd_kb_dir), THP_DIR "/hugepages-%zukB", pmd_size >> 10);
	ksft_set_plan(13);
	setup_thp();
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 1);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
	/* PMD size follows the global "madvise": khugepaged takes MADV_HUGEPAGE ranges only. */
	snprintf(buf, sizeof(buf), "%s/enabled", pmd_kb_dir);
	set_mode(buf, "inherit");

	test_madvise(1, "MADV_COLLAPSE of a full range: one THP, contents kept");
	test_madvise(8, "MADV_COLLAPSE of 1 page in 8: one THP, contents kept, holes zero");
	test_khugepaged(1, "khugepaged collapse of a full range: one THP, contents kept");
	test_khugepaged(4, "khugepaged collapse of 1 page in 4: one THP, contents kept, holes zero");
	test_fork();
	test_swapin();
	test_counters_and_trace();
	test_lazyfree();
	test_memcg_charge_fail();

	ksft_finished();
}
