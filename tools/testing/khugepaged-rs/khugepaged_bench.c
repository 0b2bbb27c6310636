// SPDX-License-Identifier: GPL-2.0
/*
 * khugepaged_bench - figures for tools/vm/bench, which runs this on the Rust
 * and the C kernel and reports ratios.  Prints "@@bench NAME VALUE UNIT"
 * lines; never judges them.
 *
 *   hotcold   three processes start in this order: hot1, cold, hot2, each
 *             with MB megabytes (128) of small pages, then MADV_HUGEPAGE;
 *             hot1 and hot2 keep touching theirs, cold touches its memory
 *             once and MADV_FREEs it.  Reports the time and the PTEs
 *             khugepaged scanned (mm_khugepaged_scan progress) until hot2 is
 *             fully collapsed, how much of cold got collapsed, and
 *             khugepaged's CPU time.
 *   hotcold-aging  the same with MGLRU aging every 2 s (the page-table walk
 *             that feeds khugepaged-rs's collapse hints).
 *   hints     a small hot region behind a large cold address space, 1 GB
 *             touched once and left, and 16 MB kept hot; MGLRU aging every
 *             2 s; khugepaged wakes every second.  Three layouts, each
 *             reported as hints_LAYOUT_*:
 *               2p     two processes: the cold one registered first;
 *               1mm    one process, the hot VMA above the cold one (the walk
 *                      meets the cold GB first);
 *               twice  as 1mm, but the cold GB is touched a second time 4 s
 *                      after the first, then left.
 *             The window starts once the cold region is faulted in and
 *             registered, as the hot one starts to fault in, and ends when
 *             the hot region is fully collapsed.  Reports its length, the
 *             PMD ranges khugepaged scanned in it (mm_khugepaged_scan_pmd
 *             events, round-robin and hinted alike), how much of the cold GB
 *             got collapsed by its end, and khugepaged's CPU time in it.
 *   mthp      khugepaged's CPU time per GB scanned and per GB collapsed into
 *             64K folios (only 64K enabled, MB megabytes of small pages).
 *   collapse  khugepaged's CPU per PMD-sized collapse of 2 * MB megabytes of
 *             written small pages (only the PMD size enabled).
 *   madvise   MADV_COLLAPSE time per 2 MB over MB megabytes.
 *   scan      pure scanning: 4 * MB megabytes whose PMD ranges each have
 *             their first page written and every other PTE mapping the zero
 *             page, with max_ptes_none HPAGE_PMD_NR - 2, so that khugepaged
 *             reads every PTE of every range and refuses it.  Reports its CPU
 *             per full pass over them and per PTE, with only the PMD size
 *             enabled, then with every mTHP size enabled too.
 *   mmaplock  what collapsing a heap costs the other users of its mmap lock
 *             (mmap_lock_bench, which says how);
 *   mmaplock-readers  the same with readers only, no writer of the process's
 *             own: what a waiting khugepaged alone costs them.
 *
 * --profile: with the kernel booted with profile=N, the kernel-time samples
 * of /proc/profile taken during each measured window, printed as
 * "@@prof WINDOW BUCKET COUNT" lines for tools/vm/profile to name.
 *
 * khugepaged runs with scan_sleep_millisecs 10 (1000 for "hints") and
 * pages_to_scan 8 * HPAGE_PMD_NR (its default), so that a run takes seconds
 * under TCG.  --hints=0|1 sets khugepaged-rs's hints knob (ignored on 7.3).
 *
 * A hot process drops its cached translations once a second (an mprotect()
 * round trip): MGLRU clears access bits without a TLB flush, and QEMU's soft
 * TLB holds far more than a hardware one, so without it aging would see the
 * hot memory as cold.  Not more often: each round trip takes the mmap lock
 * for writing, and khugepaged skips an mm whose mmap lock it cannot trylock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#define KHUGEPAGED THP_DIR "/khugepaged"
#define TRACING "/sys/kernel/tracing"

static size_t mb = 128;

/* utime + stime of a task, in seconds. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	for (i = 0; p && i < 12; i++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%lu %lu", &ut, &st);
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/*
 * Over the trace since the last clear, the occurrences of `key`, or with
 * `sum` the sum of the numbers that follow it.
 */
static unsigned long trace_tally(const char *key, bool sum)
{
	static char buf[8 << 20];
	unsigned long n = 0;
	char *p;

	if (read_file(TRACING "/trace", buf, sizeof(buf)))
		return 0;
	for (p = buf; (p = strstr(p, key)); p++)
		n += sum ? strtoul(p + strlen(key), NULL, 10) : 1;
	return n;
}

/* PTEs scanned by the round-robin walk: mm_khugepaged_scan's progress. */
static unsigned long scanned_ptes(void)
{
	return trace_tally("progress=", true);
}

/* PMD ranges scanned, by the walk and for hints alike. */
static unsigned long scanned_pmds(void)
{
	return trace_tally("mm_khugepaged_scan_pmd:", false);
}

static void trace_scan(bool on)
{
	write_file(TRACING "/buffer_size_kb", "8192");
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan/enable", on ? "1" : "0");
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan_pmd/enable", on ? "1" : "0");
	clear_trace();
}

/* Ages the root memcg's node 0 when `*next` has come, and sets the next time. */
static void age_every(double period, double *next)
{
	if (now() < *next)
		return;
	if (lru_gen_age("/"))
		printf("# MGLRU aging failed: %s\n", strerror(errno));
	*next = now() + period;
}

static bool profiling;

/* Starts a profile window: clears /proc/profile's samples. */
static void profile_start(void)
{
	if (profiling && write_file("/proc/profile", "0\n"))
		printf("# /proc/profile: %s (boot with profile=N)\n", strerror(errno));
}

/* Ends a profile window: prints its non-zero buckets. */
static void profile_stop(const char *window)
{
	static unsigned int buf[1 << 16];
	unsigned long bucket = 0;
	bool first = true;
	ssize_t n;
	int fd;

	if (!profiling)
		return;
	fd = open("/proc/profile", O_RDONLY);
	if (fd < 0)
		return;
	/* The first word is the bucket size; bucket i starts at _stext + i * size. */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t i = 0, words = n / sizeof(buf[0]);

		if (first) {
			printf("@@prof %s step %u\n", window, buf[0]);
			i = 1;
			first = false;
		}
		for (; i < words; i++, bucket++)
			if (buf[i])
				printf("@@prof %s %lu %u\n", window, bucket, buf[i]);
	}
	close(fd);
}

static void report(const char *name, double value, const char *unit)
{
	printf("@@bench %s %.6g %s\n", name, value, unit);
}

enum kind { HOT, COLD, IDLE };

/*
 * One round of a hot loop: every page of [p, p + len) touched, the cached
 * translations dropped first once a second (see the top of the file).
 */
static void touch_hot(char *p, size_t len, double *next_flush)
{
	if (now() >= *next_flush) {
		drop_translations(p, len);
		*next_flush = now() + 1;
	}
	for (size_t i = 0; i < len; i += page_size)
		p[i]++;
	usleep(1000);
}

/*
 * A child that maps len bytes, faults them in (small pages: THP is off
 * meanwhile), marks them MADV_HUGEPAGE and then: HOT touches every page in
 * a loop, COLD had MADV_FREEd them first and sleeps, IDLE sleeps.
 */
static pid_t spawn(size_t len, enum kind kind, char **addr_out)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		double next_flush = 0;
		struct region r;
		size_t i;

		close(fds[0]);
		if (map_region(&r, len))
			_exit(1);
		for (i = 0; i < len; i += page_size)
			r.p[i] = 1;
		if (kind == COLD)
			madvise(r.p, len, MADV_FREE);
		madvise(r.p, len, MADV_HUGEPAGE);
		if (write(fds[1], &r.p, sizeof(r.p)) != sizeof(r.p))
			_exit(1);
		for (;;) {
			if (kind != HOT)
				pause();
			else
				touch_hot(r.p, len, &next_flush);
		}
	}
	close(fds[1]);
	if (read(fds[0], addr_out, sizeof(*addr_out)) != sizeof(*addr_out))
		*addr_out = NULL;
	close(fds[0]);
	return pid;
}

/* AnonHugePages (kB) of the VMA at addr in process pid. */
static long huge_kb_of(pid_t pid, char *addr)
{
	static char buf[1 << 20];
	char path[64], *p;
	uintptr_t want = (uintptr_t)addr;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	if (read_file(path, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long start, end;

		if (sscanf(p, "%lx-%lx ", &start, &end) == 2 && start <= want && want < end) {
			char *q = strstr(p, "AnonHugePages:");

			return q ? strtol(q + 14, NULL, 10) : -1;
		}
	}
	return -1;
}

static void bench_hotcold(pid_t kpid, bool aging)
{
	const char *pre = aging ? "hotcold_aging" : "hotcold";
	size_t len = mb << 20;
	char *a1, *ac, *a2, name[64];
	pid_t hot1, cold, hot2;
	double t0, t, cpu0, next_age;
	long hot2_kb = 0;

	trace_scan(true);
	cpu0 = cpu_seconds(kpid);
	t0 = now();
	next_age = t0 + 2;
	hot1 = spawn(len, HOT, &a1);
	cold = spawn(len, COLD, &ac);
	hot2 = spawn(len, HOT, &a2);
	do {
		usleep(20000);
		if (aging)
			age_every(2, &next_age);
		t = now() - t0;
		hot2_kb = huge_kb_of(hot2, a2);
	} while (hot2_kb < (long)(len >> 10) && t < 300);
#define REPORT(what, value, unit) \
	(snprintf(name, sizeof(name), "%s_%s", pre, what), report(name, value, unit))
	REPORT("hot2_collapsed_s", t, "s");
	REPORT("scanned_ptes", scanned_ptes(), "PTEs");
	REPORT("cold_collapsed_mb", huge_kb_of(cold, ac) / 1024.0, "MB");
	REPORT("hot1_collapsed_mb", huge_kb_of(hot1, a1) / 1024.0, "MB");
	REPORT("khugepaged_cpu_s", cpu_seconds(kpid) - cpu0, "s");
#undef REPORT
	trace_scan(false);
	kill(hot1, SIGKILL);
	kill(cold, SIGKILL);
	kill(hot2, SIGKILL);
	while (wait(NULL) > 0)
		;
}

/*
 * A child with a cold and a hot region in one mm, the hot VMA above the cold
 * one (a PROT_NONE PMD between them keeps them apart): faults the cold one in
 * with small pages and marks it MADV_HUGEPAGE, then (the window opens: the
 * trace is cleared, *t0 and khugepaged's *cpu0 taken) does the same with the
 * hot one, touches the cold region again `touch_again` seconds later if
 * non-zero, and keeps touching the hot one.
 */
static pid_t spawn_one_mm(size_t cold_len, size_t hot_len, double touch_again, pid_t kpid,
			  double *t0_out, double *cpu0_out, char **cold_out, char **hot_out)
{
	char *addrs[2];
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		double t0, next_flush = 0;
		struct region r;
		char *cold, *hot;
		size_t i;

		close(fds[0]);
		if (map_region(&r, cold_len + pmd_size + hot_len))
			_exit(1);
		cold = r.p;
		hot = r.p + cold_len + pmd_size;
		if (mprotect(cold + cold_len, pmd_size, PROT_NONE))
			_exit(1);
		for (i = 0; i < cold_len; i += page_size)
			cold[i] = 1;
		madvise(cold, cold_len, MADV_HUGEPAGE);
		if (write(fds[1], "", 1) != 1)
			_exit(1);
		for (i = 0; i < hot_len; i += page_size)
			hot[i] = 1;
		madvise(hot, hot_len, MADV_HUGEPAGE);
		addrs[0] = cold;
		addrs[1] = hot;
		if (write(fds[1], addrs, sizeof(addrs)) != sizeof(addrs))
			_exit(1);
		t0 = now();
		for (;;) {
			if (touch_again && now() - t0 >= touch_again) {
				drop_translations(cold, cold_len);
				for (i = 0; i < cold_len; i += page_size)
					cold[i]++;
				touch_again = 0;
			}
			touch_hot(hot, hot_len, &next_flush);
		}
	}
	close(fds[1]);
	if (read(fds[0], addrs, 1) != 1)
		printf("# hints: the child did not start\n");
	clear_trace();
	*cpu0_out = cpu_seconds(kpid);
	*t0_out = now();
	if (read(fds[0], addrs, sizeof(addrs)) != sizeof(addrs))
		addrs[0] = addrs[1] = NULL;
	*cold_out = addrs[0];
	*hot_out = addrs[1];
	close(fds[0]);
	return pid;
}

enum hints_layout { TWO_PROCESSES, ONE_MM, TOUCHED_TWICE };

static void bench_hints_layout(pid_t kpid, enum hints_layout layout)
{
	static const char *const names[] = { "2p", "1mm", "twice" };
	size_t cold_len = (size_t)1 << 30, hot_len = (size_t)16 << 20;
	double t0 = now(), t, cpu0 = cpu_seconds(kpid), next_age;
	pid_t cold = 0, hot;
	char *ac, *ah, name[64];

	write_file(KHUGEPAGED "/scan_sleep_millisecs", "1000");
	trace_scan(true);
	if (layout == TWO_PROCESSES) {
		cold = spawn(cold_len, IDLE, &ac);
		clear_trace();
		cpu0 = cpu_seconds(kpid);
		t0 = now();
		hot = spawn(hot_len, HOT, &ah);
	} else {
		/* The window opens once the cold GB is in, as in the two-process layout. */
		hot = spawn_one_mm(cold_len, hot_len, layout == TOUCHED_TWICE ? 4 : 0, kpid, &t0,
				   &cpu0, &ac, &ah);
		cold = hot;
	}
	next_age = t0 + 2;
	do {
		usleep(20000);
		age_every(2, &next_age);
		t = now() - t0;
	} while (huge_kb_of(hot, ah) < (long)(hot_len >> 10) && t < 300);
#define REPORT(what, value, unit) \
	(snprintf(name, sizeof(name), "hints_%s_%s", names[layout], what), report(name, value, unit))
	REPORT("hot_collapsed_s", t, "s");
	REPORT("scanned_pmds", scanned_pmds(), "PMDs");
	REPORT("cold_collapsed_mb", huge_kb_of(cold, ac) / 1024.0, "MB");
	REPORT("khugepaged_cpu_s", cpu_seconds(kpid) - cpu0, "s");
#undef REPORT
	trace_scan(false);
	write_file(KHUGEPAGED "/scan_sleep_millisecs", "10");
	kill(cold, SIGKILL);
	kill(hot, SIGKILL);
	while (wait(NULL) > 0)
		;
}

static void bench_hints(pid_t kpid)
{
	bench_hints_layout(kpid, TWO_PROCESSES);
	bench_hints_layout(kpid, ONE_MM);
	bench_hints_layout(kpid, TOUCHED_TWICE);
}

/* The mTHP sizes below the PMD size, all set to `mode`. */
static void set_mthp_modes(const char *mode)
{
	char path[256];
	int o;

	for (o = 2; (page_size << o) < pmd_size; o++) {
		snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled",
			 (page_size << o) >> 10);
		set_mode(path, mode);
	}
}

static void bench_mthp(pid_t kpid)
{
	char path[256], *addr;
	size_t len = mb << 20;
	unsigned long want = len / (64 << 10), before;
	double cpu0, t0;
	pid_t pid;

	set_mthp_modes("never");
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled", pmd_size >> 10);
	set_mode(path, "never");
	snprintf(path, sizeof(path), THP_DIR "/hugepages-64kB/stats/collapse_alloc");
	before = read_ulong(path);
	/* madvise: faults before MADV_HUGEPAGE stay small, khugepaged takes the range after. */
	set_mode(THP_DIR "/hugepages-64kB/enabled", "madvise");
	trace_scan(true);
	cpu0 = cpu_seconds(kpid);
	t0 = now();
	pid = spawn(len, IDLE, &addr);
	profile_start();
	while (read_ulong(path) < before + want && now() - t0 < 300)
		usleep(20000);
	profile_stop("mthp64k");
	{
		double cpu = cpu_seconds(kpid) - cpu0;
		double gb_scanned = scanned_ptes() * (double)page_size / (1 << 30);
		double gb_collapsed = (read_ulong(path) - before) * 65536.0 / (1 << 30);

		report("mthp64k_khugepaged_cpu_s", cpu, "s");
		report("mthp64k_cpu_per_gb_scanned_s", gb_scanned ? cpu / gb_scanned : 0, "s/GB");
		report("mthp64k_cpu_per_gb_collapsed_s", gb_collapsed ? cpu / gb_collapsed : 0,
		       "s/GB");
		report("mthp64k_wall_s", now() - t0, "s");
	}
	trace_scan(false);
	set_mode(THP_DIR "/hugepages-64kB/enabled", "never");
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled", pmd_size >> 10);
	set_mode(path, "inherit");
	kill(pid, SIGKILL);
	while (wait(NULL) > 0)
		;
}

static void bench_collapse(pid_t kpid)
{
	size_t len = (mb << 20) * 2;
	double cpu0, t0, cpu;
	long kb = 0;
	char *addr;
	pid_t pid;

	cpu0 = cpu_seconds(kpid);
	t0 = now();
	pid = spawn(len, IDLE, &addr);
	profile_start();
	while ((kb = huge_kb_of(pid, addr)) < (long)(len >> 10) && now() - t0 < 300)
		usleep(20000);
	cpu = cpu_seconds(kpid) - cpu0;
	profile_stop("collapse");
	report("collapse_cpu_per_pmd_ms", kb > 0 ? cpu * 1000 / (kb / (pmd_size >> 10)) : 0,
	       "ms");
	report("collapse_wall_s", now() - t0, "s");
	kill(pid, SIGKILL);
	while (wait(NULL) > 0)
		;
}

static void bench_madvise(void)
{
	size_t len = mb << 20, i;
	struct region r;
	double t0, t;

	/* Not MADV_HUGEPAGE: faults take small pages, and khugepaged leaves the range alone. */
	if (map_region(&r, len))
		return;
	for (i = 0; i < len; i += page_size)
		r.p[i] = 1;
	t0 = now();
	profile_start();
	if (madvise(r.p, len, MADV_COLLAPSE))
		printf("# MADV_COLLAPSE: %s\n", strerror(errno));
	t = now() - t0;
	profile_stop("madvise");
	report("madv_collapse_ms_per_2mb", t * 1000 / (len / pmd_size), "ms");
	unmap_region(&r);
}

/* khugepaged's full passes over its mm list (sysfs full_scans). */
static unsigned long full_scans(void)
{
	return read_ulong(KHUGEPAGED "/full_scans");
}


/* khugepaged's CPU per full pass over `len` bytes, measured over `secs` seconds. */
static void scan_window(pid_t kpid, const char *pre, size_t len, double secs)
{
	unsigned long passes, scans0;
	double cpu0, cpu, t0;
	char name[64];

	/* Let a pass begin that sees the new settings. */
	scans0 = full_scans();
	t0 = now();
	while (full_scans() < scans0 + 2 && now() - t0 < 60)
		usleep(10000);
	scans0 = full_scans();
	cpu0 = cpu_seconds(kpid);
	t0 = now();
	profile_start();
	while (now() - t0 < secs)
		usleep(100000);
	passes = full_scans() - scans0;
	cpu = cpu_seconds(kpid) - cpu0;
	profile_stop(pre);
	snprintf(name, sizeof(name), "%s_cpu_per_pass_ms", pre);
	report(name, passes ? cpu * 1000 / passes : 0, "ms");
	snprintf(name, sizeof(name), "%s_cpu_per_pte_ns", pre);
	report(name, passes ? cpu * 1e9 / passes / (len / page_size) : 0, "ns");
	snprintf(name, sizeof(name), "%s_passes", pre);
	report(name, passes, "passes");
}

static void bench_scan(pid_t kpid)
{
	size_t len = (mb << 20) * 4, i, j;
	char buf[64];
	struct region r;
	volatile char sink = 0;

	/* Faults before MADV_HUGEPAGE take small pages and, on reads, the zero page. */
	if (map_region(&r, len))
		return;
	for (i = 0; i < len; i += pmd_size) {
		r.p[i] = 1;
		for (j = page_size; j < pmd_size; j += page_size)
			sink += r.p[i + j];
	}
	/*
	 * One present PTE short of the limit: every PTE is read, then the range
	 * refused.  Set before MADV_HUGEPAGE, or khugepaged could collapse some.
	 */
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 2);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
	madvise(r.p, len, MADV_HUGEPAGE);
	/* A whole pass per wake-up, so that its CPU is measured over many passes. */
	snprintf(buf, sizeof(buf), "%zu", len / page_size);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	scan_window(kpid, "scan_pmd", len, 10);
	set_mthp_modes("madvise");
	scan_window(kpid, "scan_mthp", len, 10);
	/* Checked and unmapped before max_ptes_none is restored, which would let it collapse. */
	if (huge_kb_of(getpid(), r.p) != 0)
		printf("# scan: khugepaged collapsed part of the range: not pure scanning\n");
	unmap_region(&r);
	set_mthp_modes("never");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 1);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
}

/* mmap_lock_bench, a program of its own (its threads would outlive a fork here). */
static void bench_mmap_lock(bool readers)
{
	char arg[32];
	pid_t pid;

	snprintf(arg, sizeof(arg), "--mb=%zu", mb);
	pid = fork();
	if (pid == 0) {
		execl("/bin/mmap_lock_bench", "mmap_lock_bench", arg,
		      readers ? "--readers" : (char *)NULL, (char *)NULL);
		printf("# mmap_lock_bench: %s\n", strerror(errno));
		_exit(1);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	char buf[64], path[256];
	pid_t kpid;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	thp_util_init();
	setup_thp();
	set_mode(THP_DIR "/enabled", "madvise");
	/* The PMD size follows the global mode; the mTHP sizes stay off but where a bench says. */
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled", pmd_size >> 10);
	set_mode(path, "inherit");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 1);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
	set_mode(LRU_GEN_ENABLED, "y");
	kpid = khugepaged_pid();
	if (!kpid) {
		printf("# no khugepaged thread\n");
		return 1;
	}
	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--mb=", 5))
			mb = strtoul(argv[i] + 5, NULL, 10);
		else if (!strcmp(argv[i], "--profile"))
			profiling = true;
		else if (!strncmp(argv[i], "--hints=", 8) && !access(KHUGEPAGED "/hints", F_OK))
			set_mode(KHUGEPAGED "/hints", argv[i] + 8);
		else if (!strncmp(argv[i], "--hints=", 8))
			;
		else if (!strcmp(argv[i], "hotcold"))
			bench_hotcold(kpid, false);
		else if (!strcmp(argv[i], "hotcold-aging"))
			bench_hotcold(kpid, true);
		else if (!strcmp(argv[i], "hints"))
			bench_hints(kpid);
		else if (!strcmp(argv[i], "mthp"))
			bench_mthp(kpid);
		else if (!strcmp(argv[i], "madvise"))
			bench_madvise();
		else if (!strcmp(argv[i], "collapse"))
			bench_collapse(kpid);
		else if (!strcmp(argv[i], "scan"))
			bench_scan(kpid);
		else if (!strcmp(argv[i], "mmaplock"))
			bench_mmap_lock(false);
		else if (!strcmp(argv[i], "mmaplock-readers"))
			bench_mmap_lock(true);
		else
			printf("# unknown benchmark %s\n", argv[i]);
	}
	return 0;
}
