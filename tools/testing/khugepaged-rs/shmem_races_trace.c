// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_races, cases 4 and 5: the huge_memory file collapse trace events, and
 * a PMD-sized folio mapped by PTEs (shmem_races.c says what is checked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "shmem_races.h"
#include "shmem_util.h"

/* ------------------------------------------------ 4: trace events */

static char trace_buf[1 << 20];

void trace_on(bool on)
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
bool read_trace(void)
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
bool trace_filename(int fd, char *out, size_t len)
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

bool field_is(const char *line, const char *key, const char *want)
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
bool field_num(const char *line, const char *key, int base, unsigned long long want)
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
bool one_event(const char *ev, const char *fname, pid_t pid, char *line, size_t len)
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

bool have_events(void)
{
	/* tools/vm/run's init mounts tracefs; elsewhere it may not be. */
	if (access(TRACING "/trace", F_OK) && mount("tracefs", TRACING, "tracefs", 0, NULL))
		ksft_print_msg("mount tracefs on %s: %s\n", TRACING, strerror(errno));
	return !access(EVENTS "/mm_khugepaged_scan_file/enable", W_OK) &&
	       !access(EVENTS "/mm_khugepaged_collapse_file/enable", W_OK);
}

/* A memfd of one PMD, mapped, every page written: fd, or -1. */
static int full_memfd(const char *mname, struct shm *m, char *fname, size_t flen, uint64_t seed)
{
	int fd = open_kind(K_MEMFD, mname, pmd_size);
	size_t i;

	if (fd < 0)
		return -1;
	if (map_shm(m, fd, pmd_size, MAP_SHARED) || !trace_filename(fd, fname, flen)) {
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
void test_trace_full(void)
{
	const char *name = "trace: MADV_COLLAPSE of a full memfd range: scan_file and collapse_file fields as 7.3's";
	char fname[256], line[1024], num[32];
	uint64_t pfn = 0;
	struct shm m;
	bool ok;
	int fd, err;

	fd = full_memfd("races_t1", &m, fname, sizeof(fname), 0x4100);
	if (fd < 0) {
		tap_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	trace_on(true);
	err = collapse(m.p, pmd_size);
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
	tap_result(ok, "%s\n", name);
	unmap_shm(&m);
	close(fd);
}

/*
 * A page a pipe holds (vmsplice()): the scan stops at it with SCAN_PAGE_COUNT,
 * its PFN as scan_pfn and the pages before it as present; no collapse_file.
 */
void test_trace_page_count(void)
{
	const char *name = "trace: MADV_COLLAPSE of a memfd range with a page a pipe holds: scan_file result=not_suitable_page_count at that page, no collapse_file";
	const size_t pinned = pmd_nr / 4 + 3;
	char fname[256], line[1024], num[32];
	int pfd[2] = { -1, -1 }, fd, err;
	uint64_t pfn = 0;
	struct iovec iov;
	struct shm m;
	bool ok;

	fd = full_memfd("races_t2", &m, fname, sizeof(fname), 0x4200);
	if (fd < 0 || pipe(pfd)) {
		tap_fail("%s: %s\n", name, strerror(errno));
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
	err = collapse(m.p, pmd_size);
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
	tap_result(ok, "%s\n", name);
	close(pfd[0]);
	close(pfd[1]);
	unmap_shm(&m);
	close(fd);
}

/*
 * A quarter of a full memfd range paged out (zram): the pages that left the
 * page cache are swap entries there, which collapse_scan_file() counts as
 * swap (not present); MADV_COLLAPSE swaps them in and collapses.
 */
void test_trace_swap(void)
{
	const char *name = "trace: MADV_COLLAPSE of a memfd range partly swapped out: scan_file swap= the swapped-out pages, present= the rest";
	char fname[256], line[1024], num[32];
	size_t i, res, out;
	struct shm m;
	bool ok = true;
	int fd, err;

	if (!swap_on()) {
		tap_skip("%s: no swap device in this guest\n", name);
		return;
	}
	fd = full_memfd("races_t5", &m, fname, sizeof(fname), 0x4500);
	if (fd < 0) {
		tap_fail("%s: %s\n", name, strerror(errno));
		return;
	}
	if (madvise(m.p, pmd_size / 4, MADV_PAGEOUT))
		ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
	/* Not resident: neither in the page cache nor in the swap cache. */
	res = resident_pages(m.p, pmd_nr);
	out = res == (size_t)-1 ? 0 : pmd_nr - res;
	if (!out) {
		ksft_print_msg("precondition: MADV_PAGEOUT swapped nothing out\n");
		ok = false;
	}
	trace_on(true);
	err = collapse(m.p, pmd_size);
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
	tap_result(ok, "%s\n", name);
	unmap_shm(&m);
	close(fd);
}

/*
 * khugepaged (shmem_enabled=advise, MADV_HUGEPAGE, max_ptes_none at half a
 * PMD) scans two memfds: one with a few pages written (SCAN_EXCEED_NONE_PTE,
 * present = the written pages, no collapse_file), and a full one, which it
 * collapses: scan_file and collapse_file say succeeded (khugepaged's result,
 * not MADV_COLLAPSE's pte_mapped_hugepage), with the THP's PFN and address.
 */
void test_trace_khugepaged(void)
{
	const char *name = "trace: khugepaged's scan_file of a memfd range with too many holes: result=exceed_none_pte, present=written pages";
	const char *name2 = "trace: khugepaged's collapse of a full memfd range: scan_file and collapse_file result=succeeded, the THP's PFN";
	const size_t nw = 8;
	char fname[256], fname2[256], line[1024], num[32], kpid[32];
	unsigned long scans0, exceed0;
	uint64_t pfn = 0;
	struct shm m, m2;
	size_t i;
	bool ok;
	int fd, fd2;

	fd = open_kind(K_MEMFD, "races_t3", pmd_size);
	if (fd < 0 || map_shm(&m, fd, pmd_size, MAP_SHARED) || !trace_filename(fd, fname, sizeof(fname))) {
		tap_fail("%s: %s\n", name, strerror(errno));
		tap_fail("%s\n", name2);
		return;
	}
	fd2 = full_memfd("races_t4", &m2, fname2, sizeof(fname2), 0x4400);
	if (fd2 < 0) {
		tap_fail("%s: %s\n", name, strerror(errno));
		tap_fail("%s\n", name2);
		unmap_shm(&m);
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
	/* Two more full scans. */
	ok = wait_full_scans(scans0 + 2) >= scans0 + 2;
	trace_on(false);
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
	tap_result(ok, "%s\n", name);

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
	tap_result(ok, "%s\n", name2);
	unmap_shm(&m2);
	close(fd2);
	unmap_shm(&m);
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
void test_pte_mapped(enum kind kind, bool with_trace)
{
	const char *tname = "trace: MADV_COLLAPSE of a PTE-mapped memfd THP: scan_file result=pte_mapped_hugepage at the THP's PFN, no collapse_file";
	uint64_t *pfn0 = calloc(pmd_nr, sizeof(*pfn0)), *pfn1 = calloc(pmd_nr, sizeof(*pfn1));
	uint64_t *model = calloc(pmd_nr, sizeof(*model));
	char name[256], fname[256], line[1024], why[256] = "";
	long want[C_NR] = { 0, 0, 0, 0, 0, ANY, ANY };
	char *mid;
	struct counters c;
	struct shm m;
	bool ok, tok = true;
	size_t i;
	int fd, err;

	snprintf(name, sizeof(name), "%s: a PMD-sized folio mapped by PTEs (VMA split and merged by mprotect): MADV_COLLAPSE maps it by a PMD in place, same PFNs, nothing allocated",
		 kind_name[kind]);
	fd = open_kind(kind, "races_pte", pmd_size);
	if (!pfn0 || !pfn1 || !model || fd < 0 || map_shm(&m, fd, pmd_size, MAP_SHARED) ||
	    !trace_filename(fd, fname, sizeof(fname))) {
		tap_fail("%s: set-up: %s\n", name, strerror(errno));
		if (with_trace)
			tap_fail("%s\n", tname);
		goto free;
	}
	mid = m.p + pmd_size / 2;
	for (i = 0; i < pmd_nr; i++) {
		model[i] = 0x5500ULL << 32 | i;
		fill(m.p + i * page_size, page_size, model[i]);
	}
	err = collapse(m.p, pmd_size);
	ok = want_err(err, 0, "first collapse") && shmem_pmd_mapped(m.p, pmd_kb);
	if (!ok || get_pfns(m.p, pmd_nr, pfn0) || kpf_pmd_thp(m.p) != 1) {
		/* The first collapse is that of own/shmem_collapse: a failure, not a skip. */
		tap_fail("%s: the first MADV_COLLAPSE did not give a PMD-mapped THP\n", name);
		if (with_trace)
			tap_fail("%s\n", tname);
		goto out;
	}
	if (mprotect(mid, page_size, PROT_READ))
		snprintf(why, sizeof(why), "mprotect: %s", strerror(errno));
	else if (smaps_kb(m.p, "ShmemPmdMapped") != 0)
		snprintf(why, sizeof(why), "the VMA split left the PMD mapped");
	ok = mapped_matches(m.p, model, 0, pmd_nr, "mapping");
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
		tap_fail("%s: contents changed by the VMA split\n", name);
		if (with_trace)
			tap_fail("%s\n", tname);
		goto out;
	}
	if (why[0]) {
		/* A kernel outside khugepaged decides this: no PTE-mapped THP to test. */
		tap_skip("%s: cannot PTE-map the THP: %s\n", name, why);
		if (with_trace)
			tap_skip("%s: cannot PTE-map the THP\n", tname);
		goto out;
	}
	ksft_print_msg("PTE-mapped: PFNs %#llx.. as the THP's, ShmemPmdMapped 0, Rss %ld kB\n",
		       (unsigned long long)pfn0[0], smaps_kb(m.p, "Rss"));
	if (with_trace)
		trace_on(true);
	read_counters(&c);
	err = collapse(m.p, pmd_size);
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
	ok = mapped_matches(m.p, model, 0, pmd_nr, "mapping") && ok;
	ok = pread_matches(fd, 0, model, pmd_nr) && ok;
	tap_result(ok, "%s\n", name);
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
		tap_result(tok, "%s\n", tname);
	}
out:
	unmap_shm(&m);
	close(fd);
free:
	free(pfn0);
	free(pfn1);
	free(model);
}

