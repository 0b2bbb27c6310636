// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_collapse, cases 6 to 8: the other mappings of a collapsed range
 * (shmem_collapse.c says what is checked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "shmem_collapse.h"

/* ------------------------------------------------ 6: retraction in every mapping */

/* A forked child maps the range through its own PTE table, touched before the collapse. */
void test_retract_fork(void)
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
		tap_fail("%s: %s\n", name, strerror(errno));
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
		tap_fail("%s: fork: %s\n", name, strerror(errno));
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
	tap_result(ok, "%s\n", name);
	close(to_child[1]);
	close(to_parent[0]);
	unmap_shm(&s);
	close(fd);
}

/* Two mappings of the same memfd in one mm: collapsing one retracts the other's table. */
void test_retract_second_mapping(void)
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
		tap_fail("%s: %s\n", name, strerror(errno));
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
	tap_result(ok, "%s\n", name);
	unmap_shm(&s2);
	unmap_shm(&s1);
	close(fd);
}

/* ------------------------------------------------ 7: a MAP_PRIVATE mapping's CoW page */

void test_private_cow(void)
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
		tap_fail("%s: %s\n", name, strerror(errno));
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
	tap_result(ok, "%s\n", name);
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
void test_uffd(bool same_vma, size_t stride, const char *name)
{
	const uint64_t seed = 0x8800 + stride + same_vma;
	struct shm s, other;
	struct before b;
	int fd, ufd, uerr = 0, err;
	bool ok;

	fd = open_memfd(pmd_size);
	if (fd < 0 || map_shm(&s, fd, pmd_size, MAP_SHARED) ||
	    map_shm(&other, fd, pmd_size, MAP_SHARED)) {
		tap_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	write_pages(s.p, pmd_nr, stride, seed);
	ufd = uffd_missing(same_vma ? s.p : other.p, pmd_size, &uerr);
	if (ufd < 0) {
		if (uerr == ENOSYS || uerr == EINVAL)
			tap_skip("%s: userfaultfd: %s\n", name, strerror(uerr));
		else
			tap_fail("%s: userfaultfd: %s\n", name, strerror(uerr));
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
	tap_result(ok, "%s\n", name);
	close(ufd);
out:
	unmap_shm(&other);
	unmap_shm(&s);
	close(fd);
}

