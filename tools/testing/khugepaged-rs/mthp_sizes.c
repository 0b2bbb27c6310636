// SPDX-License-Identifier: GPL-2.0
/*
 * mthp_sizes - khugepaged's mTHP collapse, proven by folio sizes.
 *
 * Each case maps one PMD range, faults in a chosen pattern of small pages
 * while every THP size is off, then enables some sizes, marks the range
 * MADV_HUGEPAGE and lets khugepaged work.  The range's folios are read back
 * as tools/mm/thpmaps does (pagemap PFNs, kpageflags compound head/tail)
 * and must be exactly the layout the collapse rules predict; the data must
 * be unchanged, and the sizes' collapse_alloc counters must have moved.
 *
 *   - one size at a time, a full range: all folios of that size;
 *   - 16 + 4 pages with 64K and 16K enabled, max_ptes_none 0: one 64K and
 *     one 16K folio, nothing else faulted in;
 *   - one page per 64K block with max_ptes_none = HPAGE_PMD_NR - 1: one 64K
 *     folio per populated block, empty blocks stay empty;
 *   - no creep: a 16K folio next to empty PTEs never grows to 32K;
 *   - a swapped-out PTE or a page shared with a child keeps its block small,
 *     and the size's collapse_exceed_swap_pte / _shared_pte count the block.
 *
 * Each case also prints what khugepaged was given and what it did as a
 * "# plan-check" line: the PTEs present, swapped out and shared, the orders
 * enabled, the max_ptes_* limits, and the folios of order 2 and up found
 * afterwards.  On the host, tools/khugepaged-rs/policy's plan-replay runs
 * the policy core's order selector on the same input and fails unless its
 * plan is exactly those folios: the pure core, checked against the kernel
 * on the geometry the guest runs.  Sizes are named by order ("64K" is order
 * 4 with 4K pages), so the cases run on every page size.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
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

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define ABSENT -1

static int pmd_order;

static void size_path(char *buf, size_t len, int order, const char *file)
{
	snprintf(buf, len, THP_DIR "/hugepages-%zukB/%s", (page_size << order) >> 10, file);
}

/* Only the orders in mask enabled ("always"), every other size off. */
static void enable_orders(unsigned long mask)
{
	char path[256];
	int o;

	for (o = 2; o <= pmd_order; o++) {
		size_path(path, sizeof(path), o, "enabled");
		if (access(path, F_OK))
			continue;
		if (write_file(path, (mask >> o) & 1 ? "always" : "never"))
			ksft_print_msg("cannot write %s\n", path);
	}
}

static unsigned long size_stat(int order, const char *stat)
{
	char file[64], path[256];

	snprintf(file, sizeof(file), "stats/%s", stat);
	size_path(path, sizeof(path), order, file);
	return read_ulong(path);
}

static unsigned long collapse_alloc(int order)
{
	return size_stat(order, "collapse_alloc");
}

/*
 * The folio order of every page of the PMD range at p (ABSENT if not
 * present), from kpageflags: a head page and the tail pages with the PFNs
 * that follow it.  Returns -1 if PFNs cannot be read.
 */
static int folio_orders(char *p, int *orders)
{
	uint64_t *pfns = calloc(pmd_nr, sizeof(*pfns));
	size_t i = 0, n;
	int ret = 0;

	if (!pfns || pagemap_fd < 0 || kpageflags_fd < 0)
		goto fail;
	for (i = 0; i < pmd_nr; i++) {
		uint64_t e;

		if (pread(pagemap_fd, &e, 8, ((uintptr_t)p / page_size + i) * 8) != 8)
			goto fail;
		pfns[i] = (e & PM_PRESENT) ? e & PM_PFN_MASK : 0;
	}
	for (i = 0; i < pmd_nr; i += n) {
		uint64_t fl;
		int o = 0;

		n = 1;
		if (!pfns[i]) {
			orders[i] = ABSENT;
			continue;
		}
		if (pread(kpageflags_fd, &fl, 8, pfns[i] * 8) != 8)
			goto fail;
		if (fl & (1ULL << KPF_COMPOUND_HEAD)) {
			while (i + n < pmd_nr && pfns[i + n] == pfns[i] + n) {
				if (pread(kpageflags_fd, &fl, 8, pfns[i + n] * 8) != 8)
					goto fail;
				if (!(fl & (1ULL << KPF_COMPOUND_TAIL)))
					break;
				n++;
			}
			while ((1UL << o) < n)
				o++;
		}
		for (size_t j = 0; j < n; j++)
			orders[i + j] = o;
	}
	free(pfns);
	return ret;
fail:
	free(pfns);
	return -1;
}

/* Prints the layout as runs "offset:order" for a failure report. */
static void print_layout(const char *what, const int *orders)
{
	char line[512];
	size_t i, len = 0;

	for (i = 0; i < pmd_nr && len < sizeof(line) - 24; ) {
		size_t n = 1;

		while (i + n < pmd_nr && orders[i + n] == orders[i] && n < (1UL << (orders[i] > 0 ? orders[i] : 0)))
			n++;
		if (orders[i] == ABSENT)
			while (i + n < pmd_nr && orders[i + n] == ABSENT)
				n++;
		len += snprintf(line + len, sizeof(line) - len, " %zu:%s%d", i,
				orders[i] == ABSENT ? "-" : "", orders[i] == ABSENT ? (int)n : orders[i]);
		i += n;
	}
	ksft_print_msg("%s:%s\n", what, line);
}

/*
 * Waits until khugepaged made the range's layout equal to want, or finished
 * three more full scans and 5 s passed.  Returns whether they are equal.
 */
static bool wait_layout(char *p, const int *want)
{
	unsigned long start = read_ulong(KHUGEPAGED "/full_scans");
	int *got = calloc(pmd_nr, sizeof(*got));
	bool same = false;
	int i;

	for (i = 0; got && i < 1200; i++) {
		if (folio_orders(p, got) == 0 &&
		    !memcmp(got, want, pmd_nr * sizeof(*got))) {
			same = true;
			break;
		}
		/* 3 full scans, and 5 s for slow guests' large folios. */
		if (read_ulong(KHUGEPAGED "/full_scans") >= start + 3 && i >= 100)
			break;
		usleep(50000);
	}
	if (got && !same) {
		print_layout("expected", want);
		if (folio_orders(p, got) == 0)
			print_layout("found   ", got);
	}
	free(got);
	return same;
}

/* Sets want[from, from + n) to order. */
static void expect(int *want, size_t from, size_t n, int order)
{
	for (size_t i = from; i < from + n && i < pmd_nr; i++)
		want[i] = order;
}

static bool check_data(char *p, size_t from, size_t n, uint64_t seed)
{
	return intact(p + from * page_size, n * page_size, seed + from);
}

/* A case: its range, the layout it expects, and what khugepaged is given. */
struct case_env {
	struct region r;
	int *want;
	/* One bit per PTE: present, swapped out, shared with another process. */
	uint64_t *present, *swap, *shared;
	unsigned long enabled, max_none;
};

static void set_bits(uint64_t *map, size_t from, size_t n, bool on)
{
	for (size_t i = from; i < from + n && i < pmd_nr; i++) {
		if (on)
			map[i / 64] |= 1ULL << (i % 64);
		else
			map[i / 64] &= ~(1ULL << (i % 64));
	}
}

/* The enabled orders of a case: only those, every other size off. */
static void case_orders(struct case_env *c, unsigned long mask)
{
	c->enabled = mask;
	enable_orders(mask);
}

/* Prints the set bits of map as "a-b,c,..." after key. */
static int print_bits(char *buf, size_t len, const char *key, const uint64_t *map)
{
	int n = snprintf(buf, len, " %s=", key);
	bool first = true;
	size_t i = 0;

	while (i < pmd_nr && n < (int)len) {
		size_t j = i;

		if (!(map[i / 64] >> (i % 64) & 1)) {
			i++;
			continue;
		}
		while (j + 1 < pmd_nr && (map[(j + 1) / 64] >> ((j + 1) % 64) & 1))
			j++;
		n += snprintf(buf + n, len - n, j > i ? "%s%zu-%zu" : "%s%zu", first ? "" : ",",
			      i, j);
		first = false;
		i = j + 1;
	}
	return n;
}

/*
 * The case's "# plan-check" line for plan-replay: khugepaged's input and the
 * folios of order 2 and up the range holds now.
 */
static void plan_check(struct case_env *c, const char *name)
{
	int *got = calloc(pmd_nr, sizeof(*got));
	size_t len = 64 + pmd_nr * 24, n;
	char *line = malloc(len);

	if (!got || !line || folio_orders(c->r.p, got)) {
		ksft_print_msg("plan-check %s: cannot read the layout\n", name);
		goto out;
	}
	n = snprintf(line, len, "pmd_order=%d enabled=%#lx max_ptes_none=%lu max_ptes_swap=%lu max_ptes_shared=%lu",
		     pmd_order, c->enabled, c->max_none, read_ulong(KHUGEPAGED "/max_ptes_swap"),
		     read_ulong(KHUGEPAGED "/max_ptes_shared"));
	n += print_bits(line + n, len - n, "present", c->present);
	n += print_bits(line + n, len - n, "swap", c->swap);
	n += print_bits(line + n, len - n, "shared", c->shared);
	n += snprintf(line + n, len - n, " got=");
	for (size_t i = 0, first = 1; i < pmd_nr && n < len; ) {
		if (got[i] >= 2) {
			n += snprintf(line + n, len - n, "%s%zu:%d", first ? "" : ",", i, got[i]);
			first = 0;
			i += 1UL << got[i];
		} else {
			i++;
		}
	}
	if (n >= len)
		ksft_print_msg("plan-check %s: line too long\n", name);
	else
		printf("# plan-check %s: %s\n", name, line);
out:
	free(line);
	free(got);
}

/* Faults in pages [from, from + n) of the case's range with the pattern. */
static void populate(struct case_env *c, size_t from, size_t n, uint64_t seed)
{
	fill(c->r.p + from * page_size, n * page_size, seed + from);
	set_bits(c->present, from, n, true);
}

static bool begin(struct case_env *c, unsigned long max_none)
{
	char buf[32];

	size_t words = (pmd_nr + 63) / 64;

	memset(c, 0, sizeof(*c));
	enable_orders(0);
	snprintf(buf, sizeof(buf), "%lu", max_none);
	write_file(KHUGEPAGED "/max_ptes_none", buf);
	c->max_none = max_none;
	c->want = calloc(pmd_nr, sizeof(int));
	c->present = calloc(words, 8);
	c->swap = calloc(words, 8);
	c->shared = calloc(words, 8);
	if (!c->want || !c->present || !c->swap || !c->shared || map_region(&c->r, pmd_size))
		return false;
	expect(c->want, 0, pmd_nr, ABSENT);
	return true;
}

static void end(struct case_env *c)
{
	unmap_region(&c->r);
	free(c->want);
	free(c->present);
	free(c->swap);
	free(c->shared);
	enable_orders(0);
}

/* One size at a time over a full range. */
static void test_each_size(void)
{
	for (int o = 2; o < pmd_order; o++) {
		char path[256];
		struct case_env c;
		unsigned long before;
		bool ok;

		size_path(path, sizeof(path), o, "enabled");
		if (access(path, F_OK))
			continue;
		if (!begin(&c, 0)) {
			ksft_test_result_fail("order %d: set-up\n", o);
			continue;
		}
		populate(&c, 0, pmd_nr, 0x100 * o);
		before = collapse_alloc(o);
		case_orders(&c, 1UL << o);
		madvise(c.r.p, pmd_size, MADV_HUGEPAGE);
		expect(c.want, 0, pmd_nr, o);
		ok = wait_layout(c.r.p, c.want);
		snprintf(path, sizeof(path), "each-size-order-%d", o);
		plan_check(&c, path);
		ok = ok && check_data(c.r.p, 0, pmd_nr, 0x100 * o);
		if (ok && collapse_alloc(o) < before + (pmd_nr >> o)) {
			ksft_print_msg("collapse_alloc of order %d moved by %lu, expected %zu\n",
				       o, collapse_alloc(o) - before, pmd_nr >> o);
			ok = false;
		}
		ksft_test_result(ok, "a full range with only %zukB enabled becomes %zu folios of %zukB\n",
				 (page_size << o) >> 10, pmd_nr >> o, (page_size << o) >> 10);
		end(&c);
	}
}

static void test_mix(void)
{
	struct case_env c;
	bool ok;

	if (!begin(&c, 0)) {
		ksft_test_result_fail("mix: set-up\n");
		return;
	}
	populate(&c, 0, 16, 0x200);
	populate(&c, 16, 4, 0x200);
	case_orders(&c, (1UL << 4) | (1UL << 2));
	madvise(c.r.p, pmd_size, MADV_HUGEPAGE);
	expect(c.want, 0, 16, 4);
	expect(c.want, 16, 4, 2);
	ok = wait_layout(c.r.p, c.want);
	plan_check(&c, "mix");
	ok = ok && check_data(c.r.p, 0, 16, 0x200) && check_data(c.r.p, 16, 4, 0x200);
	ksft_test_result(ok, "16 + 4 pages, orders 4 and 2, max_ptes_none 0: one of each, nothing more\n");
	end(&c);
}

static void test_sparse_blocks(void)
{
	struct case_env c;
	/* Four order-4 blocks, or as many as the PMD holds (two with 32 PTEs). */
	size_t b, blocks = pmd_nr / 16 < 4 ? pmd_nr / 16 : 4;
	bool ok = true;

	if (!begin(&c, pmd_nr - 1)) {
		ksft_test_result_fail("sparse: set-up\n");
		return;
	}
	for (b = 0; b < blocks; b++)
		populate(&c, b * 16 + 5, 1, 0x300);
	case_orders(&c, 1UL << 4);
	madvise(c.r.p, pmd_size, MADV_HUGEPAGE);
	expect(c.want, 0, blocks * 16, 4);
	ok = wait_layout(c.r.p, c.want);
	plan_check(&c, "sparse");
	for (b = 0; ok && b < blocks; b++) {
		char zero[4096] = { 0 };

		ok = check_data(c.r.p, b * 16 + 5, 1, 0x300) &&
		     !memcmp(c.r.p + b * 16 * page_size, zero,
			     page_size < sizeof(zero) ? page_size : sizeof(zero));
	}
	ksft_test_result(ok, "one page per %zuK block, max_ptes_none %zu: each block one %zuK folio\n",
			 (page_size << 4) >> 10, pmd_nr - 1, (page_size << 4) >> 10);
	end(&c);
}

static void test_no_creep(void)
{
	unsigned long start;
	struct case_env c;
	bool ok;

	if (!begin(&c, 0)) {
		ksft_test_result_fail("creep: set-up\n");
		return;
	}
	populate(&c, 0, 4, 0x400);
	case_orders(&c, (1UL << 3) | (1UL << 2));
	madvise(c.r.p, pmd_size, MADV_HUGEPAGE);
	expect(c.want, 0, 4, 2);
	ok = wait_layout(c.r.p, c.want);
	plan_check(&c, "no-creep");
	/* Three more full scans: the 16K folio must stay 16K. */
	start = read_ulong(KHUGEPAGED "/full_scans");
	while (ok && read_ulong(KHUGEPAGED "/full_scans") < start + 3)
		usleep(50000);
	ok = ok && wait_layout(c.r.p, c.want) && check_data(c.r.p, 0, 4, 0x400);
	ksft_test_result(ok, "no creep: 4 pages become %zuK and stay %zuK over later scans\n",
			 (page_size << 2) >> 10, (page_size << 2) >> 10);
	end(&c);
}

static void test_swap_blocks(void)
{
	struct case_env c;
	bool ok;

	unsigned long before;

	/*
	 * max_ptes_none HPAGE_PMD_NR - 1: a 64K block is tried once one page
	 * is present, so block 0 is tried and refused for its swap PTE, and
	 * its size's collapse_exceed_swap_pte counts that.
	 */
	if (!begin(&c, pmd_nr - 1)) {
		ksft_test_result_fail("swap: set-up\n");
		return;
	}
	/* A full range: with a swap PTE, khugepaged wants half the PTEs referenced. */
	populate(&c, 0, pmd_nr, 0x500);
	if (madvise(c.r.p + 3 * page_size, page_size, MADV_PAGEOUT))
		ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
	set_bits(c.present, 3, 1, false);
	set_bits(c.swap, 3, 1, true);
	before = size_stat(4, "collapse_exceed_swap_pte");
	case_orders(&c, 1UL << 4);
	madvise(c.r.p, pmd_size, MADV_HUGEPAGE);
	/* Block 0 keeps its small pages (page 3 stays out); the others collapse. */
	expect(c.want, 0, pmd_nr, 4);
	expect(c.want, 0, 16, 0);
	c.want[3] = ABSENT;
	ok = wait_layout(c.r.p, c.want);
	/* Before the data check, which swaps page 3 back in. */
	plan_check(&c, "swap");
	ok = ok && check_data(c.r.p, 0, pmd_nr, 0x500);
	if (ok && size_stat(4, "collapse_exceed_swap_pte") == before) {
		ksft_print_msg("%zukB collapse_exceed_swap_pte did not move\n",
			       (page_size << 4) >> 10);
		ok = false;
	}
	ksft_test_result(ok, "a swapped-out PTE keeps its %zuK block small and is counted, the other blocks collapse\n",
			 (page_size << 4) >> 10);
	end(&c);
}

static void test_shared_blocks(void)
{
	unsigned long before;
	struct case_env c;
	bool ok, waited;
	int status;
	pid_t pid;

	if (!begin(&c, 0)) {
		ksft_test_result_fail("shared: set-up\n");
		return;
	}
	/*
	 * Block 0 is faulted in before the fork, so it is shared with the child;
	 * block 1 after it, so it is the parent's own.  16 shared PTEs stay
	 * within the PMD scan's max_ptes_shared (HPAGE_PMD_NR / 2) on every
	 * geometry, so the refusal is the order-4 walk's, and counted per size.
	 */
	populate(&c, 0, 16, 0x600);
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	populate(&c, 16, 16, 0x600);
	set_bits(c.shared, 0, 16, true);
	before = size_stat(4, "collapse_exceed_shared_pte");
	case_orders(&c, 1UL << 4);
	madvise(c.r.p, pmd_size, MADV_HUGEPAGE);
	expect(c.want, 0, 16, 0);
	expect(c.want, 16, 16, 4);
	/* Block 0 stays small (wait_layout waits 3 scans), block 1 collapses. */
	ok = wait_layout(c.r.p, c.want);
	if (ok) {
		unsigned long start = read_ulong(KHUGEPAGED "/full_scans");

		while (read_ulong(KHUGEPAGED "/full_scans") < start + 3)
			usleep(50000);
		ok = wait_layout(c.r.p, c.want);
	}
	plan_check(&c, "shared");
	/* Block 0 was tried and refused, on every scan. */
	if (ok && size_stat(4, "collapse_exceed_shared_pte") < before + 2) {
		ksft_print_msg("%zukB collapse_exceed_shared_pte moved by %lu, expected 2 or more\n",
			       (page_size << 4) >> 10,
			       size_stat(4, "collapse_exceed_shared_pte") - before);
		ok = false;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* No longer shared: block 0 collapses too. */
	set_bits(c.shared, 0, 16, false);
	expect(c.want, 0, 32, 4);
	waited = wait_layout(c.r.p, c.want);
	plan_check(&c, "unshared");
	ok = ok && waited && check_data(c.r.p, 0, 16, 0x600) && check_data(c.r.p, 16, 16, 0x600);
	ksft_test_result(ok, "pages shared with a child stay small and are counted; once not shared they collapse\n");
	end(&c);
}

int main(void)
{
	char buf[256];
	int n = 5;

	ksft_print_header();
	thp_util_init();
	while ((1UL << pmd_order) < pmd_nr)
		pmd_order++;
	for (int o = 2; o < pmd_order; o++) {
		size_path(buf, sizeof(buf), o, "enabled");
		n += !access(buf, F_OK);
	}
	ksft_set_plan(n);
	setup_thp();
	/* Make sure khugepaged runs with every size off between cases. */
	set_mode(THP_DIR "/enabled", "madvise");
	size_path(buf, sizeof(buf), pmd_order, "enabled");
	set_mode(buf, "never");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	set_mode(KHUGEPAGED "/max_ptes_none", "0");

	test_each_size();
	test_mix();
	test_sparse_blocks();
	test_no_creep();
	test_swap_blocks();
	test_shared_blocks();

	ksft_finished();
}
