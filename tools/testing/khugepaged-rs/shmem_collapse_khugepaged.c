// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_collapse, case 5: khugepaged (shmem_collapse.c says what is checked).
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
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "shmem_collapse.h"

/* ------------------------------------------------ 5: khugepaged */

/*
 * Pages [0, nw) of a PMD hold their pattern, the rest read zero (through the
 * mapping; a SIGBUS fails).
 */
bool check_prefix_mapped(char *p, size_t nw, uint64_t seed)
{
	uint64_t *model = pattern_model(pmd_nr, 1, nw, seed);
	bool ok = model && mapped_matches(p, model, 0, pmd_nr, "mapping");

	free(model);
	return ok;
}

/* The same through pread() at offset off of fd: the holes stay holes. */
static bool check_prefix_pread(int fd, off_t off, size_t nw, uint64_t seed)
{
	uint64_t *model = pattern_model(pmd_nr, 1, nw, seed);
	bool ok = model && pread_matches(fd, off, model, pmd_nr);
	off_t d;

	free(model);
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
void test_khugepaged(void)
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
	int fd, fd_ws = -1;
	bool ok;

	nw_in = pmd_nr - none;
	nw_out = nw_in - 1;
	snprintf(buf, sizeof(buf), "%zu", none);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
	fd = open_memfd(2 * pmd_size);
	if (fd < 0 || map_shm(&s, fd, 2 * pmd_size, MAP_SHARED)) {
		tap_fail("%s: %s\n", name_in, strerror(errno));
		tap_fail("%s\n", name_out);
		tap_fail("%s\n", name_ws);
		tap_fail("%s\n", name_cnt);
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
	if (fd_ws < 0)
		want[C_ALLOC] = want[C_SHMEM_THPS] = want[C_SIZE_ALLOC] = 1;
	want[C_FILE_PAGES] = want[C_SHMEM] = none + (fd_ws < 0 ? 0 : pmd_nr);

	exceed0 = vmstat("thp_scan_exceed_none_pte");
	scans0 = read_ulong(KHUGEPAGED "/full_scans");
	madvise(s.p, 2 * pmd_size, MADV_HUGEPAGE);
	/* Two more full scans. */
	scans1 = wait_full_scans(scans0 + 2);
	exceed1 = vmstat("thp_scan_exceed_none_pte");
	ksft_print_msg("full_scans %lu -> %lu, thp_scan_exceed_none_pte %+ld\n", scans0, scans1,
		       (long)(exceed1 - exceed0));
	ok = scans1 >= scans0 + 2;
	tap_result(counters_moved(&c, want) && ok, "%s\n", name_cnt);

	/* The second PMD first, before any fault: small pages, holes still holes. */
	ok = exceed1 > exceed0;
	ok = check_prefix_pread(fd, pmd_size, nw_out, seed + 1) && ok;
	ok = small_pages(s.p + pmd_size) && ok;
	ok = check_written_mapped(s.p + pmd_size, nw_out, 1, seed + 1) && ok;
	tap_result(ok, "%s\n", name_out);

	/* khugepaged retracted the table: the next fault maps the THP by a PMD. */
	ok = check_prefix_mapped(s.p, nw_in, seed);
	ok = pmd_mapped(s.p) && ok;
	blocks = (pmd_size + nw_out * page_size) / 512;
	if (st_blocks(fd) != blocks) {
		ksft_print_msg("st_blocks %ld, expected %ld\n", st_blocks(fd), blocks);
		ok = false;
	}
	tap_result(ok, "%s\n", name_in);

	if (fd_ws < 0) {
		tap_fail("%s: no file on %s\n", name_ws, MNT_WS);
	} else {
		ok = check_prefix_mapped(ws.p, nw_ws, seed_ws);
		ok = pmd_mapped(ws.p) && ok;
		tap_result(ok, "%s\n", name_ws);
		unmap_shm(&ws);
		close(fd_ws);
	}
	unmap_shm(&s);
	close(fd);
}

