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
#include <limits.h>
#include <setjmp.h>
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
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define TRACING "/sys/kernel/tracing"
#define EVENTS TRACING "/events/huge_memory"
#define CGROUP "/sys/fs/cgroup"
#define MEMCG CGROUP "/shmem_races"
#define MNT "/tmp/shmem_races"

/* The race: PMDs in the file, rounds, and operations per round. */
#define RACE_PMDS 2
#define ROUNDS 4
#define OPS 4

static long pmd_kb;
static bool mounted;

/* ------------------------------------------------ files and mappings */

enum kind { K_MEMFD, K_FILE };
static const char *const kind_name[] = { "memfd", "tmpfs file" };

static int open_kind(enum kind kind, const char *name, size_t size)
{
	static int n;
	char path[256];
	int fd;

	if (kind == K_MEMFD) {
		fd = memfd_create(name, 0);
	} else {
		snprintf(path, sizeof(path), "%s/%s.%d", MNT, name, n++);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			unlink(path);
	}
	if (fd >= 0 && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A shared mapping of len bytes of fd at a PMD boundary, fenced by PROT_NONE. */
struct map {
	char *base;
	size_t total;
	char *p;
};

static int map_at_pmd(struct map *m, int fd, size_t len)
{
	uintptr_t a;

	m->total = len + 2 * pmd_size;
	m->base = mmap(NULL, m->total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (m->base == MAP_FAILED)
		return -1;
	a = ((uintptr_t)m->base + page_size + pmd_size - 1) & ~(pmd_size - 1);
	m->p = mmap((void *)a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (m->p == MAP_FAILED) {
		munmap(m->base, m->total);
		return -1;
	}
	return 0;
}

static void unmap_pmd(struct map *m)
{
	munmap(m->base, m->total);
}

/* ------------------------------------------------ the model of a file's pages */

/* model[i] is the seed page i was last written with, 0 for zeros. */
static bool page_matches(const char *pg, size_t i, uint64_t seed, const char *how)
{
	const uint64_t *w = (const uint64_t *)pg;
	size_t j;

	for (j = 0; j < page_size / 8; j++) {
		uint64_t want = seed ? (j * 8) ^ seed : 0;

		if (w[j] != want) {
			ksft_print_msg("%s: page %zu (%s) word %zu is %#llx, expected %#llx\n", how, i,
				       seed ? "data" : "zero", j, (unsigned long long)w[j],
				       (unsigned long long)want);
			return false;
		}
	}
	return true;
}

static bool check_pread(int fd, const uint64_t *model, size_t n)
{
	char *pg = malloc(page_size);
	bool ok = pg != NULL;
	size_t i;

	for (i = 0; ok && i < n; i++) {
		if (pread(fd, pg, page_size, i * page_size) != (ssize_t)page_size) {
			ksft_print_msg("pread page %zu: %s\n", i, strerror(errno));
			ok = false;
		} else {
			ok = page_matches(pg, i, model[i], "pread");
		}
	}
	free(pg);
	return ok;
}

static sigjmp_buf bus_jmp;
static volatile size_t bus_page;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, sig);
}

/* Through the mapping, every page up to n: a SIGBUS fails. */
static bool check_mapped(char *p, const uint64_t *model, size_t n)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool ok = true;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		for (bus_page = 0; ok && bus_page < n; bus_page++)
			ok = page_matches(p + bus_page * page_size, bus_page, model[bus_page],
					  "mapping");
	} else {
		ksft_print_msg("SIGBUS reading page %zu of the mapping, inside i_size\n", bus_page);
		ok = false;
	}
	sigaction(SIGBUS, &old, NULL);
	return ok;
}

/*
 * SEEK_DATA / SEEK_HOLE of the first n pages: has[i] is whether page i is
 * data.  false if lseek() fails.
 */
static bool data_pages(int fd, size_t n, bool *has)
{
	off_t end = n * page_size, off = 0, data, hole;

	memset(has, 0, n * sizeof(*has));
	while (off < end) {
		data = lseek(fd, off, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				return true;
			ksft_print_msg("SEEK_DATA at %#llx: %s\n", (unsigned long long)off,
				       strerror(errno));
			return false;
		}
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			ksft_print_msg("SEEK_HOLE at %#llx: %s\n", (unsigned long long)data,
				       strerror(errno));
			return false;
		}
		for (off = data; off < hole && off < end; off += page_size)
			has[off / page_size] = true;
		off = hole;
	}
	return true;
}

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

/* Holes are exactly the pages with want[i] false. */
static bool holes_are(int fd, const bool *want, size_t n)
{
	bool *has = calloc(n, sizeof(*has)), ok;
	size_t i, bad = 0, first = 0;

	ok = has && data_pages(fd, n, has);
	for (i = 0; ok && i < n; i++)
		if (has[i] != want[i] && !bad++)
			first = i;
	if (bad)
		ksft_print_msg("SEEK_DATA/SEEK_HOLE: %zu pages differ, first %zu (%s)\n", bad, first,
			       has[first] ? "data where a hole was" : "hole where data was");
	free(has);
	return ok && !bad;
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
	struct map m;
	size_t off;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (map_at_pmd(&m, fd, len)) {
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
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	char *pg = malloc(page_size);
	volatile bool ok = pg != NULL;
	volatile size_t k;

	sigaction(SIGBUS, &sa, &old);
	for (k = 0; ok && limit && k < n; k++) {
		size_t i = rnd() % limit;

		bus_page = i;
		if (sigsetjmp(bus_jmp, 1) == 0) {
			ok = page_matches(p + i * page_size, i, model[i], "mapping (short file)");
		} else {
			ksft_print_msg("SIGBUS reading page %zu of the mapping, inside i_size (%zu pages)\n",
				       bus_page, limit);
			ok = false;
		}
		if (ok && pread(fd, pg, page_size, i * page_size) != (ssize_t)page_size) {
			ksft_print_msg("pread page %zu: %s\n", i, strerror(errno));
			ok = false;
		}
		ok = ok && page_matches(pg, i, model[i], "pread (short file)");
	}
	sigaction(SIGBUS, &old, NULL);
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
	struct map m;
	struct stat st;
	int fd, round = 0, op, status;
	bool ok = model != NULL;
	pid_t pid;

	snprintf(name, sizeof(name), "%s: %s racing MADV_COLLAPSE: %s every round", kind_name[kind],
		 punch ? "hole punch (FALLOC_FL_PUNCH_HOLE)" : "ftruncate() down and up",
		 punch ? "SEEK_DATA/SEEK_HOLE keep all data, contents match the model" :
			 "contents match the model, no SIGBUS");
	if (kind == K_FILE && !mounted) {
		ksft_test_result_fail("%s: %s not mounted\n", name, MNT);
		free(model);
		return;
	}
	ctl = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = open_kind(kind, "races", len);
	if (!ok || ctl == MAP_FAILED || fd < 0 || map_at_pmd(&m, fd, len)) {
		ksft_test_result_fail("%s: set-up: %s\n", name, strerror(errno));
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
		ksft_test_result_fail("%s: fork: %s\n", name, strerror(errno));
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
		ok = check_pread(fd, model, npages) && ok;
		ok = check_mapped(m.p, model, npages) && ok;
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
	ksft_test_result(ok, "%s\n", name);
out:
	unmap_pmd(&m);
	close(fd);
	munmap(ctl, page_size);
	free(model);
}

/* ------------------------------------------------ counters */

static void stat_refresh(void)
{
	if (write_file("/proc/sys/vm/stat_refresh", "1"))
		ksft_print_msg("stat_refresh: %s\n", strerror(errno));
}

enum { C_ALLOC, C_ALLOC_FAILED, C_SHMEM_THPS, C_FILE_PAGES, C_SHMEM, C_FILE_MAPPED, C_NR };
static const char *const counter_names[C_NR] = {
	"thp_collapse_alloc", "thp_collapse_alloc_failed", "nr_shmem_hugepages",
	"nr_file_pages", "nr_shmem", "thp_file_mapped",
};

struct counters {
	long v[C_NR];
};

static void read_counters(struct counters *c)
{
	int i;

	stat_refresh();
	for (i = 0; i < C_NR; i++)
		c->v[i] = vmstat(counter_names[i]);
}

#define ANY LONG_MIN
static bool counters_moved(const struct counters *a, const long *want)
{
	struct counters b;
	char msg[512];
	bool ok = true;
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

static bool want_err(int err, int want, const char *what)
{
	if (err == want)
		return true;
	ksft_print_msg("%s: MADV_COLLAPSE returned %s, expected %s\n", what,
		       err ? strerror(err) : "0", want ? strerror(want) : "0");
	return false;
}

static int collapse(char *p)
{
	return madvise(p, pmd_size, MADV_COLLAPSE) ? errno : 0;
}

static bool shmem_pmd_mapped(char *p, long want_kb)
{
	long kb = smaps_kb(p, "ShmemPmdMapped");

	if (kb != want_kb) {
		ksft_print_msg("ShmemPmdMapped %ld kB, expected %ld\n", kb, want_kb);
		return false;
	}
	return true;
}

/* ------------------------------------------------ 3: memcg charge failure */

static bool have_events(void);
static void trace_on(bool on);
static bool read_trace(void);
static bool trace_filename(int fd, char *out, size_t len);
static bool one_event(const char *ev, const char *fname, pid_t pid, char *line, size_t len);
static bool field_is(const char *line, const char *key, const char *want);
static bool field_num(const char *line, const char *key, int base, unsigned long long want);

static long st_blocks_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long)st.st_blocks;
}

static long memcg_stat(const char *key)
{
	char buf[8192], *s;
	size_t kl = strlen(key);

	if (read_file(MEMCG "/memory.stat", buf, sizeof(buf)))
		return -1;
	for (s = buf; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		if (!strncmp(s, key, kl) && s[kl] == ' ')
			return atol(s + kl + 1);
	return -1;
}

static bool memcg_ready(void)
{
	mkdir(CGROUP, 0755);
	if (access(CGROUP "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CGROUP, "cgroup2", 0, NULL)) {
		ksft_print_msg("mount cgroup2: %s\n", strerror(errno));
		return false;
	}
	write_file(CGROUP "/cgroup.subtree_control", "+memory");
	if (mkdir(MEMCG, 0755) && errno != EEXIST) {
		ksft_print_msg("mkdir %s: %s\n", MEMCG, strerror(errno));
		return false;
	}
	if (access(MEMCG "/memory.max", F_OK)) {
		ksft_print_msg("%s has no memory controller\n", MEMCG);
		return false;
	}
	return true;
}

static bool bad_range(long v, long lo, long hi, const char *what)
{
	if (v >= lo && v <= hi)
		return false;
	ksft_print_msg("%s is %ld, expected %ld to %ld\n", what, v, lo, hi);
	return true;
}

/*
 * This process joins the memcg, writes one page in two of a PMD (so the
 * pages are charged there), and is held to what it uses plus less than a
 * PMD: collapse_file()'s charge of the huge folio fails.
 */
static void test_memcg(enum kind kind)
{
	const size_t stride = 2, room = pmd_nr / 2 < 64 ? pmd_nr / 2 : 64;
	const uint64_t seed0 = 0x3300 + kind;
	char name[256], name2[256], buf[64], fname[256];
	bool traced;
	long cur, cur1, blocks, shmem0, thp0, slack, stale;
	uint64_t *model = calloc(pmd_nr, sizeof(*model));
	bool *data = calloc(pmd_nr, sizeof(*data)), ok = true, joined = false;
	struct counters c;
	struct map m = { 0 };
	size_t i;
	int fd = -1, err;

	snprintf(name, sizeof(name), "%s in a memcg with no room for a THP: MADV_COLLAPSE of a range with holes fails with EBUSY, page cache and charges unchanged",
		 kind_name[kind]);
	snprintf(name2, sizeof(name2), "%s in a memcg: with memory.max lifted, MADV_COLLAPSE collapses, charged to the memcg",
		 kind_name[kind]);
	if (!model || !data || !memcg_ready() || (kind == K_FILE && !mounted)) {
		ksft_test_result_fail("%s: set-up\n", name);
		ksft_test_result_fail("%s\n", name2);
		goto out;
	}
	/* No swap: nothing of ours can be reclaimed to make room. */
	if (write_file(MEMCG "/memory.swap.max", "0"))
		ksft_print_msg("memory.swap.max: %s\n", strerror(errno));
	write_file(MEMCG "/memory.max", "max");
	if (write_file(MEMCG "/cgroup.procs", "0")) {
		ksft_test_result_fail("%s: joining the memcg: %s\n", name, strerror(errno));
		ksft_test_result_fail("%s\n", name2);
		goto out;
	}
	joined = true;
	fd = open_kind(kind, "races_memcg", pmd_size);
	if (fd < 0 || map_at_pmd(&m, fd, pmd_size)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		ksft_test_result_fail("%s\n", name2);
		m.base = NULL;
		goto out;
	}
	for (i = 0; i < pmd_nr; i += stride) {
		model[i] = seed0 << 32 | i;
		fill(m.p + i * page_size, page_size, model[i]);
		data[i] = true;
	}
	cur = read_ulong(MEMCG "/memory.current");
	snprintf(buf, sizeof(buf), "%zu", cur + room * page_size);
	if (write_file(MEMCG "/memory.max", buf)) {
		ksft_print_msg("memory.max %s: %s\n", buf, strerror(errno));
		ok = false;
	}
	blocks = st_blocks_of(fd);
	shmem0 = memcg_stat("shmem");
	thp0 = memcg_stat("shmem_thp");
	ksft_print_msg("memcg: memory.current %ld, memory.max %s, shmem %ld, shmem_thp %ld\n", cur,
		       buf, shmem0, thp0);
	/*
	 * memory.stat may lag by the updates not yet flushed (up to 64 pages a
	 * CPU, MEMCG_CHARGE_BATCH); filled holes would be half a PMD.
	 */
	stale = 64 * sysconf(_SC_NPROCESSORS_ONLN) * (long)page_size;
	if (shmem0 + stale < (long)(pmd_nr / stride * page_size)) {
		ksft_print_msg("precondition: the written pages are not charged to the memcg\n");
		ok = false;
	}
	traced = have_events() && trace_filename(fd, fname, sizeof(fname));
	if (traced)
		trace_on(true);
	read_counters(&c);
	err = collapse(m.p);
	if (traced)
		trace_on(false);
	ok = want_err(err, EBUSY, name) && ok;
	/* Where the events are there: the failure is the charge's, before any page moved. */
	if (traced && read_trace()) {
		char line[1024], num[32];

		snprintf(num, sizeof(num), "%zu", pmd_nr / stride);
		if (one_event("mm_khugepaged_scan_file", fname, getpid(), line, sizeof(line))) {
			ok = field_is(line, "present", num) && ok;
			ok = field_is(line, "result", "ccgroup_charge_failed") && ok;
		} else {
			ok = false;
		}
		if (one_event("mm_khugepaged_collapse_file", fname, getpid(), line, sizeof(line))) {
			ok = field_is(line, "result", "ccgroup_charge_failed") && ok;
			ok = field_num(line, "hpage_pfn", 0, (unsigned long long)-1) && ok;
		} else {
			ok = false;
		}
	}
	{
		/* 7.3 counts the allocation, which comes before the charge. */
		long want[C_NR] = { 1, 0, 0, 0, 0, 0 };

		ok = counters_moved(&c, want) && ok;
	}
	if (st_blocks_of(fd) != blocks) {
		ksft_print_msg("st_blocks %ld, was %ld\n", st_blocks_of(fd), blocks);
		ok = false;
	}
	ok = holes_are(fd, data, pmd_nr) && ok;
	ok = check_pread(fd, model, pmd_nr) && ok;
	/* Growth would be the huge page or the holes; a fall, the per-CPU stock drained. */
	cur1 = read_ulong(MEMCG "/memory.current");
	slack = pmd_size / 8;
	if (bad_range(cur1, cur - 2 * 64 * (long)page_size - slack, cur + slack,
		      "memory.current"))
		ok = false;
	if (bad_range(memcg_stat("shmem"), shmem0 - stale, shmem0 + stale, "memcg shmem") ||
	    bad_range(memcg_stat("shmem_thp"), thp0, thp0, "memcg shmem_thp"))
		ok = false;
	ok = shmem_pmd_mapped(m.p, 0) && ok;
	/* The written pages through the mapping (the holes stay holes). */
	for (i = 0; ok && i < pmd_nr; i += stride)
		ok = page_matches(m.p + i * page_size, i, model[i], "mapping");
	ksft_test_result(ok, "%s\n", name);

	write_file(MEMCG "/memory.max", "max");
	read_counters(&c);
	err = collapse(m.p);
	ok = want_err(err, 0, name2);
	{
		/* thp_file_mapped counts faults that map a PMD (do_set_pmd()) only. */
		long want[C_NR] = { 1, 0, 1, ANY, ANY, ANY };

		ok = counters_moved(&c, want) && ok;
	}
	ok = shmem_pmd_mapped(m.p, pmd_kb) && ok;
	ok = check_pread(fd, model, pmd_nr) && ok;
	ok = check_mapped(m.p, model, pmd_nr) && ok;
	if (bad_range(memcg_stat("shmem_thp"), thp0 + pmd_size, thp0 + pmd_size,
		      "memcg shmem_thp"))
		ok = false;
	ksft_test_result(ok, "%s\n", name2);
out:
	if (m.base)
		unmap_pmd(&m);
	if (fd >= 0)
		close(fd);
	if (joined && write_file(CGROUP "/cgroup.procs", "0"))
		ksft_print_msg("leaving the memcg: %s\n", strerror(errno));
	rmdir(MEMCG);
	free(model);
	free(data);
}

/* ------------------------------------------------ 4: trace events */

static char trace_buf[1 << 20];

static void trace_on(bool on)
{
	static const char *const events[] = {
		"mm_khugepaged_scan_file", "mm_khugepaged_collapse_file",
	};
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(path, sizeof(path), EVENTS "/%s/enable", events[i]);
		if (write_file(path, on ? "1" : "0"))
			ksft_print_msg("cannot %s %s: %s\n", on ? "enable" : "disable", path,
				       strerror(errno));
	}
	/* Emptied when turned on; kept when turned off, to be read. */
	if (on)
		clear_trace();
}

/* The whole trace, NUL-terminated, in trace_buf; false if it cannot be read. */
static bool read_trace(void)
{
	int fd = open(TRACING "/trace", O_RDONLY);
	size_t n = 0;
	ssize_t r;

	if (fd < 0) {
		ksft_print_msg("open %s/trace: %s\n", TRACING, strerror(errno));
		return false;
	}
	while (n < sizeof(trace_buf) - 1 &&
	       (r = read(fd, trace_buf + n, sizeof(trace_buf) - 1 - n)) > 0)
		n += r;
	trace_buf[n] = 0;
	close(fd);
	return true;
}

/* The name a file's trace events print: its dentry's, as /proc/self/fd shows it. */
static bool trace_filename(int fd, char *out, size_t len)
{
	char path[64], buf[256], *s, *d;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	d = strstr(buf, " (deleted)");
	if (d)
		*d = 0;
	s = strrchr(buf, '/');
	snprintf(out, len, "%s", s ? s + 1 : buf);
	return true;
}

/*
 * The lines of event ev (in trace_buf) for file fname, from task pid (0: any),
 * holding the text with (NULL: any): how many, and the last one copied to out.
 */
static int find_events(const char *ev, const char *fname, pid_t pid, const char *with,
		       char *out, size_t len)
{
	char evs[80], fns[300], pids[32];
	char *line = trace_buf, *nl;
	int n = 0;

	snprintf(evs, sizeof(evs), " %s: ", ev);
	snprintf(fns, sizeof(fns), " filename=%s,", fname);
	snprintf(pids, sizeof(pids), "-%d ", pid);
	for (; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line) - 1;
		if (*line == '#')
			continue;
		*nl = 0;
		if (strstr(line, evs) && strstr(line, fns) && (!pid || strstr(line, pids)) &&
		    (!with || strstr(line, with))) {
			n++;
			snprintf(out, len, "%s", line);
		}
		*nl = '\n';
		if (!nl[1])
			break;
	}
	return n;
}

/* The value of field key= of a trace line, up to the next comma. */
static bool field(const char *line, const char *key, char *out, size_t len)
{
	char k[64];
	const char *s;
	size_t n;

	snprintf(k, sizeof(k), " %s=", key);
	s = strstr(line, k);
	if (!s)
		return false;
	s += strlen(k);
	n = strcspn(s, ",\n");
	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = 0;
	return true;
}

static bool field_is(const char *line, const char *key, const char *want)
{
	char v[128];

	if (!field(line, key, v, sizeof(v))) {
		ksft_print_msg("no field %s in: %s\n", key, line);
		return false;
	}
	if (strcmp(v, want)) {
		ksft_print_msg("%s=%s, expected %s\n", key, v, want);
		return false;
	}
	return true;
}

/* A number field; base 16 for the fields printed in hex without 0x (addr). */
static bool field_num(const char *line, const char *key, int base, unsigned long long want)
{
	char v[128];

	if (!field(line, key, v, sizeof(v))) {
		ksft_print_msg("no field %s in: %s\n", key, line);
		return false;
	}
	if (strtoull(v, NULL, base) != want) {
		ksft_print_msg("%s=%s, expected %#llx (%llu)\n", key, v, want, want);
		return false;
	}
	return true;
}

/* Exactly one event ev for fname from pid (0: any pid: at least one); the last in line. */
static bool one_event(const char *ev, const char *fname, pid_t pid, char *line, size_t len)
{
	int n = find_events(ev, fname, pid, NULL, line, len);

	if (n == 1 || (!pid && n > 1)) {
		ksft_print_msg("%s\n", line);
		return true;
	}
	ksft_print_msg("%d %s events for %s (pid %d), expected %s\n", n, ev, fname, pid,
		       pid ? "1" : "at least 1");
	return false;
}

static bool no_event(const char *ev, const char *fname)
{
	char line[1024];
	int n = find_events(ev, fname, 0, NULL, line, sizeof(line));

	if (!n)
		return true;
	ksft_print_msg("%d %s events for %s, expected none; the last: %s\n", n, ev, fname, line);
	return false;
}

static bool have_events(void)
{
	/* tools/vm/run's init mounts tracefs; elsewhere it may not be. */
	if (access(TRACING "/trace", F_OK) && mount("tracefs", TRACING, "tracefs", 0, NULL))
		ksft_print_msg("mount tracefs on %s: %s\n", TRACING, strerror(errno));
	return !access(EVENTS "/mm_khugepaged_scan_file/enable", W_OK) &&
	       !access(EVENTS "/mm_khugepaged_collapse_file/enable", W_OK);
}

/* A memfd of one PMD, mapped, every page written: fd, or -1. */
static int full_memfd(const char *mname, struct map *m, char *fname, size_t flen, uint64_t seed)
{
	int fd = open_kind(K_MEMFD, mname, pmd_size);
	size_t i;

	if (fd < 0)
		return -1;
	if (map_at_pmd(m, fd, pmd_size) || !trace_filename(fd, fname, flen)) {
		close(fd);
		return -1;
	}
	for (i = 0; i < pmd_nr; i++)
		fill(m->p + i * page_size, page_size, seed + i);
	return fd;
}

/*
 * A full range: collapse_scan_file() traces present=HPAGE_PMD_NR, swap=0 and
 * collapse_file()'s result, which for MADV_COLLAPSE is
 * SCAN_PTE_MAPPED_HUGEPAGE (try_collapse_pte_mapped_thp() maps the PMD
 * afterwards), with failed_pfn -1; collapse_file() the new folio's PFN, the
 * address, is_shmem=1 and nr=HPAGE_PMD_NR.
 */
static void test_trace_full(void)
{
	const char *name = "trace: MADV_COLLAPSE of a full memfd range: scan_file and collapse_file fields as 7.3's";
	char fname[256], line[1024], num[32];
	uint64_t pfn = 0;
	struct map m;
	bool ok;
	int fd, err;

	fd = full_memfd("races_t1", &m, fname, sizeof(fname), 0x4100);
	if (fd < 0) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	trace_on(true);
	err = collapse(m.p);
	trace_on(false);
	ok = want_err(err, 0, name);
	if (get_pfns(m.p, 1, &pfn)) {
		ksft_print_msg("no PFN for the collapsed range\n");
		ok = false;
	}
	ok = read_trace() && ok;
	snprintf(num, sizeof(num), "%zu", pmd_nr);
	if (one_event("mm_khugepaged_scan_file", fname, getpid(), line, sizeof(line))) {
		ok = field_is(line, "present", num) && ok;
		ok = field_is(line, "swap", "0") && ok;
		ok = field_is(line, "result", "pte_mapped_hugepage") && ok;
		ok = field_num(line, "scan_pfn", 0, (unsigned long long)-1) && ok;
	} else {
		ok = false;
	}
	if (one_event("mm_khugepaged_collapse_file", fname, getpid(), line, sizeof(line))) {
		ok = field_num(line, "hpage_pfn", 0, pfn) && ok;
		ok = pfn != 0 && ok;
		ok = field_num(line, "addr", 16, (uintptr_t)m.p) && ok;
		ok = field_is(line, "is_shmem", "1") && ok;
		ok = field_is(line, "nr", num) && ok;
		ok = field_is(line, "result", "pte_mapped_hugepage") && ok;
	} else {
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name);
	unmap_pmd(&m);
	close(fd);
}

/*
 * A page a pipe holds (vmsplice()): the scan stops at it with SCAN_PAGE_COUNT,
 * its PFN as scan_pfn and the pages before it as present; no collapse_file.
 */
static void test_trace_page_count(void)
{
	const char *name = "trace: MADV_COLLAPSE of a memfd range with a page a pipe holds: scan_file result=not_suitable_page_count at that page, no collapse_file";
	const size_t pinned = pmd_nr / 4 + 3;
	char fname[256], line[1024], num[32];
	int pfd[2] = { -1, -1 }, fd, err;
	uint64_t pfn = 0;
	struct iovec iov;
	struct map m;
	bool ok;

	fd = full_memfd("races_t2", &m, fname, sizeof(fname), 0x4200);
	if (fd < 0 || pipe(pfd)) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	iov.iov_base = m.p + pinned * page_size;
	iov.iov_len = page_size;
	ok = vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)page_size;
	if (!ok)
		ksft_print_msg("vmsplice: %s\n", strerror(errno));
	if (get_pfns(m.p + pinned * page_size, 1, &pfn)) {
		ksft_print_msg("no PFN for the pinned page\n");
		ok = false;
	}
	trace_on(true);
	err = collapse(m.p);
	trace_on(false);
	ok = want_err(err, EAGAIN, name) && ok;
	ok = read_trace() && ok;
	snprintf(num, sizeof(num), "%zu", pinned);
	if (one_event("mm_khugepaged_scan_file", fname, getpid(), line, sizeof(line))) {
		ok = field_is(line, "present", num) && ok;
		ok = field_is(line, "swap", "0") && ok;
		ok = field_is(line, "result", "not_suitable_page_count") && ok;
		ok = field_num(line, "scan_pfn", 0, pfn) && ok;
	} else {
		ok = false;
	}
	ok = no_event("mm_khugepaged_collapse_file", fname) && ok;
	ksft_test_result(ok, "%s\n", name);
	close(pfd[0]);
	close(pfd[1]);
	unmap_pmd(&m);
	close(fd);
}

static bool swap_on(void)
{
	char buf[4096], *nl;

	/* The header line, then one line per swap device. */
	return !read_file("/proc/swaps", buf, sizeof(buf)) && (nl = strchr(buf, '\n')) && nl[1];
}

/*
 * A quarter of a full memfd range paged out (zram): the pages that left the
 * page cache are swap entries there, which collapse_scan_file() counts as
 * swap (not present); MADV_COLLAPSE swaps them in and collapses.
 */
static void test_trace_swap(void)
{
	const char *name = "trace: MADV_COLLAPSE of a memfd range partly swapped out: scan_file swap= the swapped-out pages, present= the rest";
	unsigned char *vec = malloc(pmd_nr);
	char fname[256], line[1024], num[32];
	size_t i, out = 0;
	struct map m;
	bool ok;
	int fd, err;

	if (!swap_on()) {
		ksft_test_result_skip("%s: no swap device in this guest\n", name);
		free(vec);
		return;
	}
	fd = full_memfd("races_t5", &m, fname, sizeof(fname), 0x4500);
	if (fd < 0 || !vec) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		free(vec);
		return;
	}
	if (madvise(m.p, pmd_size / 4, MADV_PAGEOUT))
		ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
	/* Not resident: neither in the page cache nor in the swap cache. */
	ok = !mincore(m.p, pmd_size, vec);
	for (i = 0; ok && i < pmd_nr; i++)
		out += !(vec[i] & 1);
	if (!out) {
		ksft_print_msg("precondition: MADV_PAGEOUT swapped nothing out\n");
		ok = false;
	}
	trace_on(true);
	err = collapse(m.p);
	trace_on(false);
	ok = want_err(err, 0, name) && ok;
	ok = shmem_pmd_mapped(m.p, pmd_kb) && ok;
	for (i = 0; ok && i < pmd_nr; i++)
		ok = intact(m.p + i * page_size, page_size, 0x4500 + i);
	ok = read_trace() && ok;
	if (one_event("mm_khugepaged_scan_file", fname, getpid(), line, sizeof(line))) {
		snprintf(num, sizeof(num), "%zu", out);
		ok = field_is(line, "swap", num) && ok;
		snprintf(num, sizeof(num), "%zu", pmd_nr - out);
		ok = field_is(line, "present", num) && ok;
		ok = field_is(line, "result", "pte_mapped_hugepage") && ok;
	} else {
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name);
	free(vec);
	unmap_pmd(&m);
	close(fd);
}

/*
 * khugepaged (shmem_enabled=advise, MADV_HUGEPAGE, max_ptes_none at half a
 * PMD) scans two memfds: one with a few pages written (SCAN_EXCEED_NONE_PTE,
 * present = the written pages, no collapse_file), and a full one, which it
 * collapses: scan_file and collapse_file say succeeded (khugepaged's result,
 * not MADV_COLLAPSE's pte_mapped_hugepage), with the THP's PFN and address.
 */
static void test_trace_khugepaged(void)
{
	const char *name = "trace: khugepaged's scan_file of a memfd range with too many holes: result=exceed_none_pte, present=written pages";
	const char *name2 = "trace: khugepaged's collapse of a full memfd range: scan_file and collapse_file result=succeeded, the THP's PFN";
	const size_t nw = 8;
	char fname[256], fname2[256], line[1024], num[32], kpid[32];
	unsigned long scans0, exceed0;
	uint64_t pfn = 0;
	struct map m, m2;
	size_t i;
	bool ok;
	int fd, fd2, loops;

	fd = open_kind(K_MEMFD, "races_t3", pmd_size);
	if (fd < 0 || map_at_pmd(&m, fd, pmd_size) || !trace_filename(fd, fname, sizeof(fname))) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		ksft_test_result_fail("%s\n", name2);
		return;
	}
	fd2 = full_memfd("races_t4", &m2, fname2, sizeof(fname2), 0x4400);
	if (fd2 < 0) {
		ksft_test_result_fail("%s: %s\n", name, strerror(errno));
		ksft_test_result_fail("%s\n", name2);
		unmap_pmd(&m);
		close(fd);
		return;
	}
	for (i = 0; i < nw; i++)
		fill(m.p + i * page_size, page_size, 0x4300 + i);
	snprintf(kpid, sizeof(kpid), "-%d ", khugepaged_pid());
	trace_on(true);
	exceed0 = vmstat("thp_scan_exceed_none_pte");
	scans0 = read_ulong(KHUGEPAGED "/full_scans");
	madvise(m.p, pmd_size, MADV_HUGEPAGE);
	madvise(m2.p, pmd_size, MADV_HUGEPAGE);
	/* Two more full scans (a bound of 60 s, not a measure). */
	for (loops = 0; loops < 1200; loops++) {
		if (read_ulong(KHUGEPAGED "/full_scans") >= scans0 + 2)
			break;
		usleep(50000);
	}
	trace_on(false);
	ok = read_ulong(KHUGEPAGED "/full_scans") >= scans0 + 2;
	if (!ok)
		ksft_print_msg("khugepaged did not finish two full scans\n");
	if (vmstat("thp_scan_exceed_none_pte") == exceed0) {
		ksft_print_msg("thp_scan_exceed_none_pte did not move\n");
		ok = false;
	}
	ok = read_trace() && ok;
	snprintf(num, sizeof(num), "%zu", nw);
	if (one_event("mm_khugepaged_scan_file", fname, 0, line, sizeof(line))) {
		ok = field_is(line, "present", num) && ok;
		ok = field_is(line, "swap", "0") && ok;
		ok = field_is(line, "result", "exceed_none_pte") && ok;
		if (khugepaged_pid() && !strstr(line, kpid)) {
			ksft_print_msg("the event is not khugepaged's\n");
			ok = false;
		}
	} else {
		ok = false;
	}
	ok = no_event("mm_khugepaged_collapse_file", fname) && ok;
	ok = shmem_pmd_mapped(m.p, 0) && ok;
	ksft_test_result(ok, "%s\n", name);

	/* The page table was retracted: touching maps the THP by a PMD, whose PFN the events give. */
	ok = intact(m2.p, page_size, 0x4400);
	ok = shmem_pmd_mapped(m2.p, pmd_kb) && ok;
	if (get_pfns(m2.p, 1, &pfn)) {
		ksft_print_msg("no PFN for the collapsed range\n");
		ok = false;
	}
	snprintf(num, sizeof(num), "%zu", pmd_nr);
	if (find_events("mm_khugepaged_scan_file", fname2, khugepaged_pid(), "result=succeeded",
			line, sizeof(line)) == 1) {
		ksft_print_msg("%s\n", line);
		ok = field_is(line, "present", num) && ok;
		ok = field_is(line, "swap", "0") && ok;
		ok = field_num(line, "scan_pfn", 0, (unsigned long long)-1) && ok;
	} else {
		ksft_print_msg("not one scan_file event of khugepaged (pid %d) with result=succeeded for %s\n",
			       khugepaged_pid(), fname2);
		ok = false;
	}
	if (one_event("mm_khugepaged_collapse_file", fname2, khugepaged_pid(), line, sizeof(line))) {
		ok = field_is(line, "result", "succeeded") && ok;
		ok = field_num(line, "hpage_pfn", 0, pfn) && ok;
		ok = pfn != 0 && ok;
		ok = field_num(line, "addr", 16, (uintptr_t)m2.p) && ok;
		ok = field_is(line, "is_shmem", "1") && ok;
		ok = field_is(line, "nr", num) && ok;
	} else {
		ok = false;
	}
	ksft_test_result(ok, "%s\n", name2);
	unmap_pmd(&m2);
	close(fd2);
	unmap_pmd(&m);
	close(fd);
}

/* ------------------------------------------------ 5: a PMD-sized folio mapped by PTEs */

/*
 * Collapses a range, then maps the THP by PTEs: mprotect() of one page in
 * the middle splits the VMA, which zaps the PMD (a file PMD is not split
 * into PTEs); a fault in a VMA smaller than the PMD maps PTEs; mprotect()
 * back merges the VMAs, leaving one VMA of the whole PMD whose PTEs map the
 * PMD-sized folio.  MADV_COLLAPSE then finds that folio in the page cache
 * (collapse_scan_file(): SCAN_PTE_MAPPED_HUGEPAGE) and maps it by a PMD in
 * place (try_collapse_pte_mapped_thp()): no new folio, the same PFNs.
 * with_trace: also checks that scan_file event (its PFN, present=0) and that
 * there is no collapse_file event.
 */
static void test_pte_mapped(enum kind kind, bool with_trace)
{
	const char *tname = "trace: MADV_COLLAPSE of a PTE-mapped memfd THP: scan_file result=pte_mapped_hugepage at the THP's PFN, no collapse_file";
	uint64_t *pfn0 = calloc(pmd_nr, sizeof(*pfn0)), *pfn1 = calloc(pmd_nr, sizeof(*pfn1));
	uint64_t *model = calloc(pmd_nr, sizeof(*model));
	char name[256], fname[256], line[1024], why[256] = "";
	long want[C_NR] = { 0, 0, 0, 0, 0, ANY };
	char *mid;
	struct counters c;
	struct map m;
	bool ok, tok = true;
	size_t i;
	int fd, err;

	snprintf(name, sizeof(name), "%s: a PMD-sized folio mapped by PTEs (VMA split and merged by mprotect): MADV_COLLAPSE maps it by a PMD in place, same PFNs, nothing allocated",
		 kind_name[kind]);
	fd = open_kind(kind, "races_pte", pmd_size);
	if (!pfn0 || !pfn1 || !model || fd < 0 || map_at_pmd(&m, fd, pmd_size) ||
	    !trace_filename(fd, fname, sizeof(fname))) {
		ksft_test_result_fail("%s: set-up: %s\n", name, strerror(errno));
		if (with_trace)
			ksft_test_result_fail("%s\n", tname);
		goto free;
	}
	mid = m.p + pmd_size / 2;
	for (i = 0; i < pmd_nr; i++) {
		model[i] = 0x5500ULL << 32 | i;
		fill(m.p + i * page_size, page_size, model[i]);
	}
	err = collapse(m.p);
	ok = want_err(err, 0, "first collapse") && shmem_pmd_mapped(m.p, pmd_kb);
	if (!ok || get_pfns(m.p, pmd_nr, pfn0) || kpf_pmd_thp(m.p) != 1) {
		/* The first collapse is that of own/shmem_collapse: a failure, not a skip. */
		ksft_test_result_fail("%s: the first MADV_COLLAPSE did not give a PMD-mapped THP\n",
				      name);
		if (with_trace)
			ksft_test_result_fail("%s\n", tname);
		goto out;
	}
	if (mprotect(mid, page_size, PROT_READ))
		snprintf(why, sizeof(why), "mprotect: %s", strerror(errno));
	else if (smaps_kb(m.p, "ShmemPmdMapped") != 0)
		snprintf(why, sizeof(why), "the VMA split left the PMD mapped");
	ok = check_mapped(m.p, model, pmd_nr);
	if (!why[0] && mprotect(mid, page_size, PROT_READ | PROT_WRITE))
		snprintf(why, sizeof(why), "mprotect back: %s", strerror(errno));
	else if (!why[0] && smaps_kb(m.p, "Size") != pmd_kb)
		snprintf(why, sizeof(why), "the VMAs did not merge back (Size %ld kB)",
			 smaps_kb(m.p, "Size"));
	else if (!why[0] && smaps_kb(m.p, "ShmemPmdMapped") != 0)
		snprintf(why, sizeof(why), "the faults mapped a PMD (ShmemPmdMapped %ld kB)",
			 smaps_kb(m.p, "ShmemPmdMapped"));
	else if (!why[0] && (get_pfns(m.p, pmd_nr, pfn1) ||
			     memcmp(pfn0, pfn1, pmd_nr * sizeof(*pfn0))))
		snprintf(why, sizeof(why), "the pages are no longer the THP's (PFN %#llx, was %#llx)",
			 (unsigned long long)pfn1[0], (unsigned long long)pfn0[0]);
	if (!ok) {
		ksft_test_result_fail("%s: contents changed by the VMA split\n", name);
		if (with_trace)
			ksft_test_result_fail("%s\n", tname);
		goto out;
	}
	if (why[0]) {
		/* A kernel outside khugepaged decides this: no PTE-mapped THP to test. */
		ksft_test_result_skip("%s: cannot PTE-map the THP: %s\n", name, why);
		if (with_trace)
			ksft_test_result_skip("%s: cannot PTE-map the THP\n", tname);
		goto out;
	}
	ksft_print_msg("PTE-mapped: PFNs %#llx.. as the THP's, ShmemPmdMapped 0, Rss %ld kB\n",
		       (unsigned long long)pfn0[0], smaps_kb(m.p, "Rss"));
	if (with_trace)
		trace_on(true);
	read_counters(&c);
	err = collapse(m.p);
	if (with_trace)
		trace_on(false);
	ok = want_err(err, 0, name);
	ok = shmem_pmd_mapped(m.p, pmd_kb) && ok;
	ok = counters_moved(&c, want) && ok;
	memset(pfn1, 0, pmd_nr * sizeof(*pfn1));
	if (get_pfns(m.p, pmd_nr, pfn1) || memcmp(pfn0, pfn1, pmd_nr * sizeof(*pfn0))) {
		ksft_print_msg("PFNs %#llx.. after, %#llx.. before: not the same folio\n",
			       (unsigned long long)pfn1[0], (unsigned long long)pfn0[0]);
		ok = false;
	}
	ok = kpf_pmd_thp(m.p) == 1 && ok;
	ok = check_mapped(m.p, model, pmd_nr) && ok;
	ok = check_pread(fd, model, pmd_nr) && ok;
	ksft_test_result(ok, "%s\n", name);
	if (with_trace) {
		tok = read_trace();
		if (one_event("mm_khugepaged_scan_file", fname, getpid(), line, sizeof(line))) {
			tok = field_is(line, "present", "0") && tok;
			tok = field_is(line, "swap", "0") && tok;
			tok = field_is(line, "result", "pte_mapped_hugepage") && tok;
			tok = field_num(line, "scan_pfn", 0, pfn0[0]) && tok;
		} else {
			tok = false;
		}
		tok = no_event("mm_khugepaged_collapse_file", fname) && tok;
		ksft_test_result(tok, "%s\n", tname);
	}
out:
	unmap_pmd(&m);
	close(fd);
free:
	free(pfn0);
	free(pfn1);
	free(model);
}

/* ------------------------------------------------ set-up */

int main(void)
{
	char buf[256], path[256];
	double t0 = now();

	ksft_print_header();
	thp_util_init();
	pmd_kb = pmd_size >> 10;
	ksft_set_plan(16);

	setup_thp();
	/* Faults give small pages unless MADV_HUGEPAGE (advise); khugepaged scans fast. */
	set_mode(THP_DIR "/shmem_enabled", "advise");
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/shmem_enabled", pmd_kb);
	if (!access(path, F_OK))
		set_mode(path, "inherit");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr / 2);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);

	mkdir(MNT, 0755);
	mounted = !mount("tmpfs", MNT, "tmpfs", 0, "huge=advise");
	if (!mounted)
		ksft_print_msg("mount tmpfs on %s: %s\n", MNT, strerror(errno));

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
		ksft_test_result_fail("trace: MADV_COLLAPSE of a PTE-mapped memfd THP: scan_file result=pte_mapped_hugepage at the THP's PFN, no collapse_file\n");
	}
	test_pte_mapped(K_FILE, false);
	/* 4 */
	if (have_events()) {
		test_trace_full();
		test_trace_page_count();
		test_trace_swap();
		test_trace_khugepaged();
	} else {
		ksft_test_result_fail("trace: MADV_COLLAPSE of a full memfd range: scan_file and collapse_file fields as 7.3's\n");
		ksft_test_result_fail("trace: MADV_COLLAPSE of a memfd range with a page a pipe holds: scan_file result=not_suitable_page_count at that page, no collapse_file\n");
		ksft_test_result_fail("trace: MADV_COLLAPSE of a memfd range partly swapped out: scan_file swap= the swapped-out pages, present= the rest\n");
		ksft_test_result_fail("trace: khugepaged's scan_file of a memfd range with too many holes: result=exceed_none_pte, present=written pages\n");
		ksft_test_result_fail("trace: khugepaged's collapse of a full memfd range: scan_file and collapse_file result=succeeded, the THP's PFN\n");
	}
	ksft_print_msg("total: %.1f s\n", now() - t0);

	restore_settings();
	if (mounted)
		umount(MNT);
	rmdir(MNT);
	ksft_finished();
}
