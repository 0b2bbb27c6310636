// SPDX-License-Identifier: GPL-2.0
/*
 * madv_collapse - MADV_COLLAPSE behaviour of anonymous memory.
 *
 *   madv_collapse --expect collapse   the kernel collapses (Linux 7.3)
 *   madv_collapse --expect einval     the kernel cannot collapse yet: it
 *                                     must fail with EINVAL and leave the
 *                                     memory untouched
 *
 * Cases: (a) madvise(MADV_COLLAPSE) of one aligned, fully populated PMD
 * range; (b) the same through process_madvise() on our own pidfd; (c) a
 * range holding no aligned PMD is a successful no-op; (d) an unmapped range
 * fails with ENOMEM.  Whether a range is PMD-mapped is decided from
 * /proc/self/smaps (AnonHugePages of the VMA) and, when PFNs are visible
 * (root), /proc/self/pagemap + /proc/kpageflags (one naturally aligned
 * compound page of HPAGE_PMD_NR pages).
 *
 * THP "enabled" is set to madvise and every per-size anon "enabled" to
 * never while testing, so that page faults only ever give small pages and
 * khugepaged leaves the test ranges alone; settings are restored at exit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define KPF_THP			22
#define PM_PRESENT		(1ULL << 63)
#define PM_PFN_MASK		((1ULL << 55) - 1)

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

static size_t page_size, pmd_size, pmd_nr;
static bool expect_collapse;

/* ------------------------------------------------ THP settings */

static void set_mode(const char *path, const char *mode)
{
	if (set_setting(path, mode))
		ksft_print_msg("cannot set %s to %s: %s\n", path, mode,
			       strerror(errno));
}

static void setup_thp(void)
{
	glob_t g;
	size_t i;

	restore_settings_at_exit();
	set_mode(THP_DIR "/enabled", "madvise");
	if (glob(THP_DIR "/hugepages-*kB/enabled", 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++)
			set_mode(g.gl_pathv[i], "never");
		globfree(&g);
	}
}

/* ------------------------------------------------ memory helpers */

/*
 * A read-write anonymous mapping of len bytes at a PMD-aligned address,
 * fenced on both sides by PROT_NONE so that it can never merge with another
 * VMA: smaps statistics are per VMA.
 */
struct region {
	char *base;		/* whole reservation, for munmap */
	size_t total;
	char *p;		/* the aligned, writable part */
	size_t len;
};

static int map_region(struct region *r, size_t len)
{
	uintptr_t a;

	r->total = len + 2 * pmd_size;
	r->base = mmap(NULL, r->total, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->base == MAP_FAILED)
		return -1;
	a = ((uintptr_t)r->base + page_size + pmd_size - 1) & ~(pmd_size - 1);
	r->p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r->p == MAP_FAILED) {
		munmap(r->base, r->total);
		return -1;
	}
	r->len = len;
	return 0;
}

static void unmap_region(struct region *r)
{
	munmap(r->base, r->total);
}

/* Every 8-byte word holds its offset xor a per-test seed. */
static void fill(char *p, size_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = (i * 8) ^ seed;
}

static bool intact(char *p, size_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		if (w[i] != ((i * 8) ^ seed)) {
			ksft_print_msg("data corrupted at offset %#zx: %#llx, expected %#llx\n",
				       i * 8, (unsigned long long)w[i],
				       (unsigned long long)((i * 8) ^ seed));
			return false;
		}
	}
	return true;
}

static int pagemap_fd = -1, kpageflags_fd = -1;

/*
 * PFNs of n pages from addr.  Returns 0, -1 if PFNs cannot be seen (not
 * root, no pagemap), or 1 if some page is not present.
 */
static int get_pfns(char *addr, size_t n, uint64_t *pfns)
{
	size_t i;

	if (pagemap_fd < 0)
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t e;
		off_t off = (uintptr_t)(addr + i * page_size) / page_size * 8;

		if (pread(pagemap_fd, &e, 8, off) != 8)
			return -1;
		if (!(e & PM_PRESENT))
			return 1;
		pfns[i] = e & PM_PFN_MASK;
		if (!pfns[i])
			return -1;	/* PFNs hidden without CAP_SYS_ADMIN */
	}
	return 0;
}

/*
 * Is [addr, addr + pmd_size) one PMD-order THP according to kpageflags?
 * 1 = yes, 0 = no, -1 = cannot tell.
 */
static int kpf_pmd_thp(char *addr)
{
	uint64_t *pfns = calloc(pmd_nr, sizeof(*pfns));
	int ret = 1, r;
	size_t i;

	if (!pfns)
		return -1;
	r = get_pfns(addr, pmd_nr, pfns);
	if (r || kpageflags_fd < 0) {
		ret = r == 1 ? 0 : -1;
		goto out;
	}
	if (pfns[0] % pmd_nr) {
		ret = 0;
		goto out;
	}
	for (i = 0; i < pmd_nr && ret == 1; i++) {
		uint64_t fl, want = 1ULL << KPF_THP;

		want |= 1ULL << (i ? KPF_COMPOUND_TAIL : KPF_COMPOUND_HEAD);
		if (pread(kpageflags_fd, &fl, 8, pfns[i] * 8) != 8)
			ret = -1;
		else if (pfns[i] != pfns[0] + i || (fl & want) != want)
			ret = 0;
	}
out:
	free(pfns);
	return ret;
}

/* ------------------------------------------------ tests */

static int pidfd = -1, pidfd_errno;

/* (a) and (b): collapse one aligned, fully populated PMD range. */
static void test_collapse(bool use_process_madvise)
{
	const char *name = use_process_madvise ?
		"process_madvise(MADV_COLLAPSE) of an aligned PMD range" :
		"madvise(MADV_COLLAPSE) of an aligned PMD range";
	uint64_t seed = use_process_madvise ? 0x5eedb0b0cafef00dULL :
					      0xa5a5c0ffee123457ULL;
	long want_ret = use_process_madvise ? (long)pmd_size : 0;
	long pmd_kb = pmd_size / 1024, kb_before, kb_after, ret;
	uint64_t *pfns_before = NULL, *pfns_after = NULL;
	int thp_before, thp_after, pfn_state = -1, err;
	struct region r;
	bool ok = true;

	if (use_process_madvise && pidfd < 0) {
		ksft_inc_xskip_cnt();
		printf("ok %u - %s # SKIP pidfd_open: %s\n", ksft_test_num(),
		       name, strerror(pidfd_errno));
		return;
	}
	if (map_region(&r, 2 * pmd_size)) {
		ksft_perror("mmap");
		ksft_test_result_fail("- %s\n", name);
		return;
	}
	/* One aligned PMD range populated with small pages, the next one empty. */
	fill(r.p, pmd_size, seed);

	pfns_before = calloc(pmd_nr, sizeof(uint64_t));
	pfns_after = calloc(pmd_nr, sizeof(uint64_t));
	if (pfns_before && pfns_after)
		pfn_state = get_pfns(r.p, pmd_nr, pfns_before);
	kb_before = anon_huge_kb(r.p);
	thp_before = kpf_pmd_thp(r.p);
	if (kb_before != 0 || thp_before == 1) {
		ksft_print_msg("precondition: range is already a THP before MADV_COLLAPSE (AnonHugePages %ld kB, kpageflags %d)\n",
			       kb_before, thp_before);
		ok = false;
	}

	errno = 0;
	if (use_process_madvise) {
		struct iovec iov = { .iov_base = r.p, .iov_len = pmd_size };

		ret = syscall(SYS_process_madvise, pidfd, &iov, 1,
			      MADV_COLLAPSE, 0);
	} else {
		ret = madvise(r.p, pmd_size, MADV_COLLAPSE);
	}
	err = errno;

	kb_after = anon_huge_kb(r.p);
	thp_after = kpf_pmd_thp(r.p);
	if (!intact(r.p, pmd_size, seed))
		ok = false;

	if (expect_collapse) {
		if (ret != want_ret) {
			ksft_print_msg("returned %ld (%s), expected %ld\n",
				       ret, ret < 0 ? strerror(err) : "no error",
				       want_ret);
			ok = false;
		}
		if (kb_after != pmd_kb) {
			ksft_print_msg("AnonHugePages of the VMA is %ld kB, expected %ld kB\n",
				       kb_after, pmd_kb);
			ok = false;
		}
		if (thp_after == 0) {
			ksft_print_msg("kpageflags: range is not one PMD-order compound page\n");
			ok = false;
		} else if (thp_after < 0) {
			ksft_print_msg("kpageflags unavailable, relying on smaps\n");
		}
	} else {
		if (ret != -1 || err != EINVAL) {
			ksft_print_msg("returned %ld (%s), expected -1 (EINVAL)\n",
				       ret, ret < 0 ? strerror(err) : "no error");
			ok = false;
		}
		if (kb_after != 0 || thp_after == 1) {
			ksft_print_msg("range became a THP (AnonHugePages %ld kB, kpageflags %d)\n",
				       kb_after, thp_after);
			ok = false;
		}
		/* "Untouched": still exactly the same small pages. */
		if (pfn_state == 0 &&
		    (get_pfns(r.p, pmd_nr, pfns_after) != 0 ||
		     memcmp(pfns_before, pfns_after, pmd_nr * sizeof(uint64_t)))) {
			ksft_print_msg("the pages backing the range changed\n");
			ok = false;
		}
	}
	free(pfns_before);
	free(pfns_after);
	unmap_region(&r);
	ksft_test_result(ok, "- %s\n", name);
}

/* (c): a range that contains no aligned PMD: nothing to do, success. */
static void test_small_unaligned(void)
{
	const char *name = "MADV_COLLAPSE of an unaligned sub-PMD range returns 0";
	uint64_t seed = 0x0123456789abcdefULL;
	struct region r;
	bool ok = true;
	long kb;
	int ret;

	if (map_region(&r, 2 * pmd_size)) {
		ksft_perror("mmap");
		ksft_test_result_fail("- %s\n", name);
		return;
	}
	fill(r.p, 2 * pmd_size, seed);
	/* Starts one page after a PMD boundary, ends one page before the next. */
	ret = madvise(r.p + page_size, pmd_size - 2 * page_size, MADV_COLLAPSE);
	if (ret) {
		ksft_print_msg("returned %d (%s), expected 0\n", ret,
			       strerror(errno));
		ok = false;
	}
	kb = anon_huge_kb(r.p);
	if (kb != 0) {
		ksft_print_msg("AnonHugePages is %ld kB, expected 0\n", kb);
		ok = false;
	}
	if (!intact(r.p, 2 * pmd_size, seed))
		ok = false;
	unmap_region(&r);
	ksft_test_result(ok, "- %s\n", name);
}

/* (d): madvise() itself refuses ranges with holes: ENOMEM. */
static void test_unmapped(void)
{
	const char *name = "MADV_COLLAPSE of an unmapped range fails with ENOMEM";
	struct region r;
	int ret, err;

	if (map_region(&r, pmd_size)) {
		ksft_perror("mmap");
		ksft_test_result_fail("- %s\n", name);
		return;
	}
	unmap_region(&r);	/* nothing else maps between here and madvise */
	errno = 0;
	ret = madvise(r.p, pmd_size, MADV_COLLAPSE);
	err = errno;
	if (ret != -1 || err != ENOMEM)
		ksft_print_msg("returned %d (%s), expected -1 (ENOMEM)\n", ret,
			       ret ? strerror(err) : "no error");
	ksft_test_result(ret == -1 && err == ENOMEM, "- %s\n", name);
}

int main(int argc, char **argv)
{
	char buf[64];

	ksft_print_header();
	if (argc != 3 || strcmp(argv[1], "--expect") ||
	    (strcmp(argv[2], "collapse") && strcmp(argv[2], "einval")))
		ksft_exit_fail_msg("usage: %s --expect collapse|einval\n",
				   argv[0]);
	expect_collapse = !strcmp(argv[2], "collapse");

	if (read_file(THP_DIR "/hpage_pmd_size", buf, sizeof(buf)))
		ksft_exit_skip("no %s/hpage_pmd_size: no THP support\n", THP_DIR);
	pmd_size = strtoul(buf, NULL, 10);
	page_size = sysconf(_SC_PAGESIZE);
	if (!pmd_size || pmd_size % page_size)
		ksft_exit_fail_msg("bad hpage_pmd_size %zu\n", pmd_size);
	pmd_nr = pmd_size / page_size;
	ksft_print_msg("expecting %s; hpage_pmd_size=%zu page_size=%zu HPAGE_PMD_NR=%zu\n",
		       argv[2], pmd_size, page_size, pmd_nr);

	ksft_set_plan(4);
	setup_thp();
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	pidfd_errno = errno;

	test_collapse(false);
	test_collapse(true);
	test_small_unaligned();
	test_unmapped();

	ksft_finished();
}
