// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_collapse, case 9: bad input and settings (shmem_collapse.c says what
 * is checked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "shmem_collapse.h"

/* ------------------------------------------------ 9: bad input and settings */

void test_unaligned(void)
{
	const char *name = "memfd: MADV_COLLAPSE of an unaligned sub-PMD range: 0, nothing changes";
	const size_t stride = 2;
	const uint64_t seed = 0x9900;
	struct before b;
	struct shm s;
	int fd, err;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		tap_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr, stride, seed);
	snap(&s, &b);
	err = collapse(s.p + page_size, pmd_size - 2 * page_size);
	tap_result(unchanged(err, 0, &s, stride, seed, &b, 0, name), "%s\n", name);
	unmap_shm(&s);
	close(fd);
}

/*
 * One full PMD of a kind of shmem under the current settings: MADV_COLLAPSE
 * must fail with want_err and change nothing, or (want_err 0) collapse.
 * advice: MADV_NOHUGEPAGE first, or 0.
 */
void test_setting(enum kind kind, const char *dir, int advice, int want, const char *name)
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
		tap_fail("%s: %s\n", name, strerror(errno));
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
	tap_result(ok, "%s\n", name);
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
void test_past_eof(void)
{
	const char *name = "memfd of half a PMD mapped over a PMD: collapsed past EOF as 7.3 does, i_size kept";
	const uint64_t seed = 0x9b00;
	bool ok;
	struct counters c;
	struct stat st;
	struct shm s;
	char byte;
	int fd, err;

	fd = open_memfd(pmd_size / 2);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED)) {
		tap_fail("%s: %s\n", name, strerror(errno));
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
	/* Past EOF too: a SIGBUS fails. */
	ok = check_prefix_mapped(s.p, pmd_nr / 2, seed) && ok;
	tap_result(ok, "%s\n", name);
	unmap_shm(&s);
	close(fd);
}

