// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_races - shmem collapse against truncation and hole punching, under a
 * memcg that cannot take the huge page, seen through its trace events, and
 * collapse_pte_mapped_thp() of a PMD-sized shmem folio mapped by PTEs
 * (mm/khugepaged.c's collapse_file(), collapse_scan_file(),
 * try_collapse_pte_mapped_thp() and madvise_collapse() in 7.3).
 *
 * Two kinds of shmem: a memfd and a file on a tmpfs mount of our own
 * (huge=advise).  Cases, in order:
 *  1. a child loops MADV_COLLAPSE over the PMDs of a mapping of the file
 *     (MADV_HUGEPAGE, so khugepaged collapses them too) while we loop
 *     ftruncate() down and up and write known patterns (with pwrite() and
 *     through a mapping of our own); after every round the file
 *     holds exactly what the model says (what was written after the last
 *     truncate, zeros elsewhere), read with pread() and through the mapping,
 *     with no SIGBUS inside i_size and no new kernel taint;
 *  2. the same with fallocate(PUNCH_HOLE | KEEP_SIZE) of random pages (and
 *     some preallocation and MADV_PAGEOUT, which keep the data); a
 *     page that holds data in the model must be data for SEEK_DATA /
 *     SEEK_HOLE (a punched page may be a hole, or data reading zero when a
 *     collapse filled it);
 *  3. a memcg whose memory.max holds the small pages but not a PMD-sized
 *     charge: MADV_COLLAPSE of a range with holes fails with EBUSY
 *     (SCAN_CGROUP_CHARGE_FAIL) and changes nothing: holes, st_blocks, data,
 *     memory.current (within the per-CPU charge stock), the memcg's shmem
 *     and shmem_thp, the vmstat page counts (and, where the trace events
 *     are, both report ccgroup_charge_failed); with the limit lifted it
 *     collapses, charged to that memcg;
 *  4. trace events huge_memory:mm_khugepaged_scan_file and
 *     mm_khugepaged_collapse_file, read from tracefs: their fields for a
 *     MADV_COLLAPSE of a full memfd range, of one with a page a pipe holds
 *     (SCAN_PAGE_COUNT), of one partly swapped out (swap=), of a
 *     PTE-mapped THP (no collapse_file), and khugepaged's scan of a range
 *     with too many holes (SCAN_EXCEED_NONE_PTE) and its collapse of a full
 *     one (succeeded);
 *  5. a PMD-sized shmem folio mapped by PTEs (an mprotect() of one page
 *     splits the VMA and zaps the PMD; faults in the smaller VMAs map PTEs;
 *     a second mprotect() merges the VMAs back): MADV_COLLAPSE returns 0 and
 *     maps the same folio by a PMD, with no allocation and the same PFNs.
 *
 * The race rounds are bounded in number, not in time.  Settings are restored
 * at exit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "shmem_races.h"
#include "shmem_util.h"

/* The race: PMDs in the file, rounds, and operations per round. */
#define RACE_PMDS 2
#define ROUNDS 4
#define OPS 4

bool mounted;

/* ------------------------------------------------ files and mappings */

const char *const kind_name[] = { "memfd", "tmpfs file" };

int open_kind(enum kind kind, const char *name, size_t size)
{
	return open_shmem(kind == K_FILE ? MNT : NULL, name, size);
}

/* ------------------------------------------------ the model of a file's pages */

/* Every page the model says holds data is data (a zero page may be either). */
static bool no_data_lost(int fd, const uint64_t *model, size_t n)
{
	bool *has = calloc(n, sizeof(*has)), ok;
	size_t i;

	ok = has && data_pages(fd, n, has);
	for (i = 0; ok && i < n; i++) {
		if (model[i] && !has[i]) {
			ksft_print_msg("SEEK_HOLE: page %zu is a hole, the model holds data there\n", i);
			ok = false;
		}
	}
	free(has);
	return ok;
}

/* ------------------------------------------------ random numbers, taint */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned long tainted(void)
{
	return read_ulong("/proc/sys/kernel/tainted");
}

/* ------------------------------------------------ 1, 2: races */

struct race_ctl {
	atomic_bool stop;
	atomic_long ok, fail, bad_errno;
	atomic_long eagain, ebusy, einval, enomem;
};

/* The child: MADV_COLLAPSE over every PMD of its own mapping, until told to stop. */
static void collapser(struct race_ctl *ctl, int fd, size_t len)
{
	struct shm m;
	size_t off;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (map_shm(&m, fd, len, MAP_SHARED)) {
		atomic_store(&ctl->bad_errno, errno);
		_exit(1);
	}
	/* khugepaged takes these ranges too (shmem_enabled=advise). */
	madvise(m.p, len, MADV_HUGEPAGE);
	while (!atomic_load(&ctl->stop)) {
		for (off = 0; off < len; off += pmd_size) {
			if (!madvise(m.p + off, pmd_size, MADV_COLLAPSE)) {
				atomic_fetch_add(&ctl->ok, 1);
				continue;
			}
			atomic_fetch_add(&ctl->fail, 1);
			switch (errno) {
			case EAGAIN:
				atomic_fetch_add(&ctl->eagain, 1);
				break;
			case EBUSY:
				atomic_fetch_add(&ctl->ebusy, 1);
				break;
			case EINVAL:
				atomic_fetch_add(&ctl->einval, 1);
				break;
			case ENOMEM:
				atomic_fetch_add(&ctl->enomem, 1);
				break;
			default:
				atomic_store(&ctl->bad_errno, errno);
			}
		}
	}
	_exit(0);
}

static uint64_t next_seed;

/* Writes pages [a, a + n) with new seeds, with pwrite() or through the mapping. */
static bool write_run(int fd, char *p, uint64_t *model, size_t a, size_t n)
{
	bool by_pwrite = rnd() & 1;
	char *pg = by_pwrite ? malloc(page_size) : NULL;
	size_t i;

	if (by_pwrite && !pg)
		return false;
	for (i = a; i < a + n; i++) {
		uint64_t seed = (++next_seed << 20) ^ 0x5eed000000000000ULL ^ i;

		if (by_pwrite) {
			fill(pg, page_size, seed);
			if (pwrite(fd, pg, page_size, i * page_size) != (ssize_t)page_size) {
				ksft_print_msg("pwrite page %zu: %s\n", i, strerror(errno));
				free(pg);
				return false;
			}
		} else {
			fill(p + i * page_size, page_size, seed);
		}
		model[i] = seed;
	}
	free(pg);
	return true;
}

/* A random run of up to max pages inside [0, limit) (none if limit is 0). */
static bool write_random(int fd, char *p, uint64_t *model, size_t limit, size_t max)
{
	size_t a, n;

	if (!limit)
		return true;
	a = rnd() % limit;
	n = 1 + rnd() % max;
	if (n > limit - a)
		n = limit - a;
	return write_run(fd, p, model, a, n);
}

/*
 * While the file is short: up to n random pages of [0, limit), through the
 * mapping (no SIGBUS inside i_size) and with pread().
 */
static bool check_sample(int fd, char *p, const uint64_t *model, size_t limit, size_t n)
{
	char *pg = malloc(page_size), how[64];
	bool ok = pg != NULL;
	size_t k, i;

	snprintf(how, sizeof(how), "mapping (short file, %zu pages)", limit);
	for (k = 0; ok && limit && k < n; k++) {
		i = rnd() % limit;
		ok = mapped_matches(p, model, i, 1, how);
		if (ok && pread(fd, pg, page_size, i * page_size) != (ssize_t)page_size) {
			ksft_print_msg("pread page %zu: %s\n", i, strerror(errno));
			ok = false;
		}
		ok = ok && page_matches(pg, i, model[i], "pread (short file)");
	}
	free(pg);
	return ok;
}

static bool truncate_op(int fd, char *p, uint64_t *model, size_t npages)
{
	size_t keep = rnd() % (npages + 1), i;

	/* Now and then a PMD boundary, where a whole THP goes. */
	if (!(rnd() % 4))
		keep = keep / pmd_nr * pmd_nr;
	if (ftruncate(fd, keep * page_size)) {
		ksft_print_msg("ftruncate to %zu pages: %s\n", keep, strerror(errno));
		return false;
	}
	for (i = keep; i < npages; i++)
		model[i] = 0;
	/* Written while the file is short, then grown back and written again. */
	if (!write_random(fd, p, model, keep, pmd_nr / 4) ||
	    !check_sample(fd, p, model, keep, 32))
		return false;
	if (ftruncate(fd, npages * page_size)) {
		ksft_print_msg("ftruncate back to %zu pages: %s\n", npages, strerror(errno));
		return false;
	}
	return write_random(fd, p, model, npages, pmd_nr / 2);
}

/*
 * Mostly a hole punch; now and then a preallocation (fallocate() with
 * KEEP_SIZE: folios not uptodate, which collapse_file() instantiates) or a
 * MADV_PAGEOUT of some pages (swap entries, which it swaps in), neither of
 * which changes the data.
 */
static bool punch_op(int fd, char *p, uint64_t *model, size_t npages)
{
	size_t a = rnd() % npages, n = 1 + rnd() % 16, i;
	unsigned int kind = rnd() % 6;

	if (n > npages - a)
		n = npages - a;
	if (kind == 4) {
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, a * page_size, n * page_size)) {
			ksft_print_msg("fallocate pages %zu+%zu: %s\n", a, n, strerror(errno));
			return false;
		}
		return write_random(fd, p, model, npages, pmd_nr / 4);
	}
	if (kind == 5) {
		/* Best effort: the data stays whatever it does. */
		madvise(p + a * page_size, n * page_size, MADV_PAGEOUT);
		return write_random(fd, p, model, npages, pmd_nr / 4);
	}

	/* Now and then a whole PMD. */
	if (!(rnd() % 6)) {
		a = a / pmd_nr * pmd_nr;
		n = pmd_nr;
	}
	if (n > npages - a)
		n = npages - a;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a * page_size,
		      n * page_size)) {
		ksft_print_msg("punch pages %zu+%zu: %s\n", a, n, strerror(errno));
		return false;
	}
	for (i = a; i < a + n; i++)
		model[i] = 0;
	if (!write_random(fd, p, model, npages, pmd_nr / 4))
		return false;
	return true;
}

static void test_race(enum kind kind, bool punch)
{
	/* One PMD where PMDs are large (512 MB with 64K pages), to stay small under TCG. */
	const size_t pmds = pmd_size > (32UL << 20) ? 1 : RACE_PMDS;
	const size_t npages = pmds * pmd_nr, len = pmds * pmd_size;
	unsigned long taint0 = tainted(), alloc0 = vmstat("thp_collapse_alloc");
	char name[256];
	uint64_t *model = calloc(npages, sizeof(*model));
	struct race_ctl *ctl;
	struct shm m;
	struct stat st;
	int fd, round = 0, op, status;
	bool ok = model != NULL;
	pid_t pid;

	snprintf(name, sizeof(name), "%s: %s racing MADV_COLLAPSE: %s every round", kind_name[kind],
		 punch ? "hole punch (FALLOC_FL_PUNCH_HOLE)" : "ftruncate() down and up",
		 punch ? "SEEK_DATA/SEEK_HOLE keep all data, contents match the model" :
			 "contents match the model, no SIGBUS");
	if (kind == K_FILE && !mounted) {
		tap_fail("%s: %s not mounted\n", name, MNT);
		free(model);
		return;
	}
	ctl = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open_kind(kind, "races", len);
	if (!ok || ctl == MAP_FAILED || fd < 0 || map_shm(&m, fd, len, MAP_SHARED)) {
		tap_fail("%s: set-up: %s\n", name, strerror(errno));
		free(model);
		return;
	}
	/* A start with data everywhere, so that the first collapses have work. */
	ok = write_run(fd, m.p, model, 0, npages);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		collapser(ctl, fd, len);
	if (pid < 0) {
		tap_fail("%s: fork: %s\n", name, strerror(errno));
		goto out;
	}
	for (round = 0; ok && round < ROUNDS; round++) {
		for (op = 0; ok && op < OPS; op++)
			ok = punch ? punch_op(fd, m.p, model, npages) :
				     truncate_op(fd, m.p, model, npages);
		if (!ok)
			break;
		if (fstat(fd, &st) || st.st_size != (off_t)len) {
			ksft_print_msg("round %d: st_size %lld, expected %zu\n", round,
				       (long long)st.st_size, len);
			ok = false;
		}
		/* Read while the child goes on collapsing. */
		if (punch)
			ok = no_data_lost(fd, model, npages) && ok;
		ok = pread_matches(fd, 0, model, npages) && ok;
		ok = mapped_matches(m.p, model, 0, npages, "mapping") && ok;
		if (tainted() != taint0) {
			ksft_print_msg("round %d: the kernel is tainted: %#lx, was %#lx\n", round,
				       tainted(), taint0);
			ok = false;
		}
		if (!ok)
			ksft_print_msg("round %d failed\n", round);
	}
	atomic_store(&ctl->stop, true);
	waitpid(pid, &status, 0);
	ksft_print_msg("%d rounds: MADV_COLLAPSE %ld times 0, %ld times an error (EAGAIN %ld, EBUSY %ld, EINVAL %ld, ENOMEM %ld); thp_collapse_alloc %+ld\n",
		       round, atomic_load(&ctl->ok), atomic_load(&ctl->fail),
		       atomic_load(&ctl->eagain), atomic_load(&ctl->ebusy),
		       atomic_load(&ctl->einval), atomic_load(&ctl->enomem),
		       (long)(vmstat("thp_collapse_alloc") - alloc0));
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("collapser: status %#x\n", status);
		ok = false;
	}
	if (atomic_load(&ctl->bad_errno)) {
		ksft_print_msg("MADV_COLLAPSE failed with %s\n",
			       strerror(atomic_load(&ctl->bad_errno)));
		ok = false;
	}
	/* The race must have been run: some collapse allocated and succeeded. */
	if (!atomic_load(&ctl->ok) || vmstat("thp_collapse_alloc") == alloc0) {
		ksft_print_msg("no collapse happened during the race\n");
		ok = false;
	}
	tap_result(ok, "%s\n", name);
out:
	unmap_shm(&m);
	close(fd);
	munmap(ctl, page_size);
	free(model);
}

/* ------------------------------------------------ set-up */

int main(void)
{
	double t0 = now();

	ksft_print_header();
	thp_util_init();
	tap_plan(16);

	setup_shmem_thp(pmd_nr / 2);
	mounted = mount_tmpfs(MNT, "huge=advise");

	/* 1, 2 */
	test_race(K_MEMFD, false);
	test_race(K_FILE, false);
	test_race(K_MEMFD, true);
	test_race(K_FILE, true);
	ksft_print_msg("races: %.1f s\n", now() - t0);
	/* 3 */
	test_memcg(K_MEMFD);
	test_memcg(K_FILE);
	/* 5 (and 4's event of it) */
	if (have_events()) {
		test_pte_mapped(K_MEMFD, true);
	} else {
		ksft_print_msg("no huge_memory file collapse events in %s\n", EVENTS);
		test_pte_mapped(K_MEMFD, false);
		tap_fail("trace: MADV_COLLAPSE of a PTE-mapped memfd THP: scan_file result=pte_mapped_hugepage at the THP's PFN, no collapse_file\n");
	}
	test_pte_mapped(K_FILE, false);
	/* 4 */
	if (have_events()) {
		test_trace_full();
		test_trace_page_count();
		test_trace_swap();
		test_trace_khugepaged();
	} else {
		tap_fail("trace: MADV_COLLAPSE of a full memfd range: scan_file and collapse_file fields as 7.3's\n");
		tap_fail("trace: MADV_COLLAPSE of a memfd range with a page a pipe holds: scan_file result=not_suitable_page_count at that page, no collapse_file\n");
		tap_fail("trace: MADV_COLLAPSE of a memfd range partly swapped out: scan_file swap= the swapped-out pages, present= the rest\n");
		tap_fail("trace: khugepaged's scan_file of a memfd range with too many holes: result=exceed_none_pte, present=written pages\n");
		tap_fail("trace: khugepaged's collapse of a full memfd range: scan_file and collapse_file result=succeeded, the THP's PFN\n");
	}
	ksft_print_msg("total: %.1f s\n", now() - t0);

	restore_settings();
	if (mounted)
		umount(MNT);
	rmdir(MNT);
	tap_finished();
}
