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
 * fails with ENOMEM; (e) shmem a huge page already maps by its PMD is
 * collapsed already: 0, and the data and the mapping stay.  Whether a range is PMD-mapped is decided from
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
#include "thp_util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

static bool expect_collapse;

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

/* (e): shmem already mapped by a huge PMD (faulted in with shmem_enabled=advise). */
static void test_shmem_huge(void)
{
	const char *name = "MADV_COLLAPSE of shmem a huge PMD maps already returns 0";
	size_t len = pmd_size;
	long before, after = -1;
	char buf[256];
	int fd, ret = -1, err = 0;
	bool ok = false;
	char *base, *p;

	set_mode(THP_DIR "/shmem_enabled", "advise");
	snprintf(buf, sizeof(buf), "%s/hugepages-%zukB/shmem_enabled", THP_DIR, pmd_size >> 10);
	if (!access(buf, F_OK))
		set_mode(buf, "inherit");
	fd = memfd_create("madv_collapse", 0);
	if (fd < 0 || ftruncate(fd, len)) {
		ksft_perror("memfd");
		ksft_test_result_fail("- %s\n", name);
		return;
	}
	/* A PMD-aligned shared mapping: reserve, then map the file at the boundary. */
	base = mmap(NULL, len + pmd_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	p = base == MAP_FAILED ? MAP_FAILED :
		mmap((char *)(((uintptr_t)base + pmd_size - 1) & ~(pmd_size - 1)), len,
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		ksft_perror("mmap");
		ksft_test_result_fail("- %s\n", name);
		close(fd);
		return;
	}
	madvise(p, len, MADV_HUGEPAGE);
	fill(p, len, 0xe);
	before = smaps_kb(p, "ShmemPmdMapped");
	if (before == (long)(len >> 10)) {
		errno = 0;
		ret = madvise(p, len, MADV_COLLAPSE);
		err = errno;
		after = smaps_kb(p, "ShmemPmdMapped");
		ok = ret == 0 && after == before && intact(p, len, 0xe);
	}
	ksft_print_msg("ShmemPmdMapped %ld kB before, %ld kB after; returned %d (%s)\n", before,
		       after, ret, ret ? strerror(err) : "no error");
	ksft_test_result(ok, "- %s\n", name);
	munmap(base, len + pmd_size);
	close(fd);
}

int main(int argc, char **argv)
{
	ksft_print_header();
	if (argc != 3 || strcmp(argv[1], "--expect") ||
	    (strcmp(argv[2], "collapse") && strcmp(argv[2], "einval")))
		ksft_exit_fail_msg("usage: %s --expect collapse|einval\n",
				   argv[0]);
	expect_collapse = !strcmp(argv[2], "collapse");

	thp_util_init();
	ksft_print_msg("expecting %s; hpage_pmd_size=%zu page_size=%zu HPAGE_PMD_NR=%zu\n",
		       argv[2], pmd_size, page_size, pmd_nr);

	ksft_set_plan(5);
	setup_thp();
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	pidfd_errno = errno;

	test_collapse(false);
	test_collapse(true);
	test_small_unaligned();
	test_unmapped();
	test_shmem_huge();

	ksft_finished();
}
