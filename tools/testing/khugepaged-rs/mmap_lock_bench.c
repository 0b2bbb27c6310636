// SPDX-License-Identifier: GPL-2.0
/*
 * mmap_lock_bench - what khugepaged's collapses cost the other users of the
 * mmap lock of the process it collapses, for tools/vm/bench ("mmaplock",
 * started by khugepaged_bench).  Prints "@@bench NAME VALUE UNIT" lines;
 * never judges them.
 *
 *   mmap_lock_bench [--mb=MB] [--readers]
 *
 * One process holds a heap of MB megabytes (128) of small pages, registered
 * with MADV_HUGEPAGE for khugepaged to collapse (PMD size only), and threads
 * that keep taking its mmap lock until the heap is collapsed:
 *   maps      reads /proc/self/maps                          (read)
 *   smaps     reads /proc/self/smaps                         (read)
 *   madvise   MADV_DONTNEED of one page of a small region    (read)
 *   mmap      maps one page                                  (write)
 *   fault     first touch of that page: a VMA without an anon_vma is
 *             faulted under the mmap lock, not the per-VMA lock
 *   munmap    unmaps it                                      (write)
 *   slow      MADV_POPULATE_READ over 64 MB already populated: holds the
 *             read lock for the whole walk, the slow reader khugepaged must
 *             not queue behind
 * --readers leaves out the writer (mmap, fault, munmap): then only khugepaged
 * can make a reader wait behind a writer, so the readers' worst latencies show
 * what a waiting khugepaged costs them (reported as mmaplock_readers_*).
 * For each, the worst and the 99th-percentile latency in microseconds.
 * From the mmap_lock tracepoints, khugepaged's write-lock attempts: how many
 * it took and failed (a trylock), the longest and the total time it held the
 * lock for writing, and the longest it waited for it (7.3 waits in
 * mmap_write_lock(); khugepaged-rs only tries).  The heap's contents are
 * checked at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "thp_util.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define TRACING "/sys/kernel/tracing"
#define MAX_SAMPLES (1 << 16)
#define SLOW_LEN (64UL << 20)
#define TIMEOUT_S 300

enum op { OP_MAPS, OP_SMAPS, OP_MADVISE, OP_MMAP, OP_FAULT, OP_MUNMAP, OP_SLOW, NR_OPS };

static const char *const op_name[NR_OPS] = {
	"maps", "smaps", "madvise", "mmap", "fault", "munmap", "slow",
};

/* Latencies of one operation, in microseconds; only its own thread adds to it. */
static struct samples {
	double us[MAX_SAMPLES];
	unsigned long n;	/* all of them, kept or not */
	double max;
} samples[NR_OPS];

static volatile bool stop;
static const char *prefix = "mmaplock";

static void record(enum op op, double t0)
{
	struct samples *s = &samples[op];
	double us = (now() - t0) * 1e6;

	if (s->n < MAX_SAMPLES)
		s->us[s->n] = us;
	s->n++;
	if (us > s->max)
		s->max = us;
}

static void read_whole(const char *path)
{
	static __thread char buf[1 << 16];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static void *proc_reader(void *arg)
{
	enum op op = (enum op)(uintptr_t)arg;
	const char *path = op == OP_MAPS ? "/proc/self/maps" : "/proc/self/smaps";

	while (!stop) {
		double t0 = now();

		read_whole(path);
		record(op, t0);
		usleep(1000);
	}
	return NULL;
}

static void *madviser(void *arg)
{
	char *p = mmap(NULL, 16 * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned int i = 0;

	(void)arg;
	if (p == MAP_FAILED)
		return NULL;
	while (!stop) {
		char *page = p + (i++ % 16) * page_size;
		double t0;

		*page = 1;
		t0 = now();
		madvise(page, page_size, MADV_DONTNEED);
		record(OP_MADVISE, t0);
		usleep(1000);
	}
	munmap(p, 16 * page_size);
	return NULL;
}

static void *mapper(void *arg)
{
	(void)arg;
	while (!stop) {
		double t0 = now();
		/* Executable too, so that it merges with no neighbour and their anon_vma. */
		char *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		record(OP_MMAP, t0);
		if (p == MAP_FAILED)
			break;
		t0 = now();
		*(volatile char *)p = 1;
		record(OP_FAULT, t0);
		t0 = now();
		munmap(p, page_size);
		record(OP_MUNMAP, t0);
		usleep(1000);
	}
	return NULL;
}

static void *slow_reader(void *arg)
{
	char *p = arg;

	while (!stop) {
		double t0 = now();

		madvise(p, SLOW_LEN, MADV_POPULATE_READ);
		record(OP_SLOW, t0);
		usleep(5000);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *name, double value, const char *unit)
{
	printf("@@bench %s_%s %.6g %s\n", prefix, name, value, unit);
}

static void report_ops(void)
{
	char name[64];

	for (int op = 0; op < NR_OPS; op++) {
		struct samples *s = &samples[op];
		unsigned long kept = s->n < MAX_SAMPLES ? s->n : MAX_SAMPLES;

		if (!kept)
			continue;
		qsort(s->us, kept, sizeof(double), cmp_double);
		snprintf(name, sizeof(name), "%s_max_us", op_name[op]);
		report(name, s->max, "us");
		snprintf(name, sizeof(name), "%s_p99_us", op_name[op]);
		report(name, s->us[kept * 99 / 100], "us");
		printf("# %s: %lu operations\n", op_name[op], s->n);
	}
}

static void trace_locks(pid_t kpid, bool on)
{
	char filter[64];
	const char *ev[] = { "mmap_lock_start_locking", "mmap_lock_acquire_returned",
			     "mmap_lock_released" };

	snprintf(filter, sizeof(filter), "common_pid == %d && write == 1", kpid);
	write_file(TRACING "/buffer_size_kb", "8192");
	for (unsigned int i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		char path[128];

		snprintf(path, sizeof(path), TRACING "/events/mmap_lock/%s/filter", ev[i]);
		write_file(path, on ? filter : "0");
		snprintf(path, sizeof(path), TRACING "/events/mmap_lock/%s/enable", ev[i]);
		write_file(path, on ? "1" : "0");
	}
	clear_trace();
}

/*
 * khugepaged's write-lock attempts in the trace: one mm at a time, so each
 * start_locking is followed by its acquire_returned, and a successful one by
 * its release.
 */
static void report_khugepaged(void)
{
	static char buf[8 << 20];
	double start = -1, held = -1, wait_max = 0, hold_max = 0, hold_sum = 0;
	unsigned long taken = 0, failed = 0;
	char *line, *save;

	if (read_file(TRACING "/trace", buf, sizeof(buf))) {
		printf("# no trace\n");
		return;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strstr(line, ": mmap_lock_");
		char *ts;
		double t;

		if (!colon || line[0] == '#')
			continue;
		*colon = '\0';
		ts = strrchr(line, ' ');
		t = ts ? strtod(ts + 1, NULL) : 0;
		if (!strncmp(colon + 2, "mmap_lock_start_locking", 23)) {
			start = t;
		} else if (!strncmp(colon + 2, "mmap_lock_acquire_returned", 26)) {
			if (start >= 0 && t - start > wait_max)
				wait_max = t - start;
			start = -1;
			if (strstr(colon + 2, "success=true")) {
				taken++;
				held = t;
			} else {
				failed++;
			}
		} else if (!strncmp(colon + 2, "mmap_lock_released", 18) && held >= 0) {
			hold_sum += t - held;
			if (t - held > hold_max)
				hold_max = t - held;
			held = -1;
		}
	}
	report("khugepaged_write_locks", taken, "locks");
	report("khugepaged_write_busy", failed, "tries");
	report("khugepaged_write_hold_max_us", hold_max * 1e6, "us");
	report("khugepaged_write_hold_total_ms", hold_sum * 1e3, "ms");
	report("khugepaged_write_wait_max_us", wait_max * 1e6, "us");
}

int main(int argc, char **argv)
{
	size_t mb = 128, len;
	struct region heap, slow;
	pthread_t th[6];
	char buf[64], path[256];
	double t0;
	pid_t kpid;
	long kb = 0;
	bool ok, writer = true;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--mb=", 5))
			mb = strtoul(argv[i] + 5, NULL, 10);
		else if (!strcmp(argv[i], "--readers"))
			writer = false;
	if (!writer)
		prefix = "mmaplock_readers";
	len = mb << 20;
	thp_util_init();
	setup_thp();
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled", pmd_size >> 10);
	set_mode(path, "inherit");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 1);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
	/* Nothing collapses until the heap is registered, after the threads start. */
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	kpid = khugepaged_pid();
	if (!kpid || map_region(&heap, len) || map_region(&slow, SLOW_LEN)) {
		printf("# no khugepaged thread or no memory\n");
		return 1;
	}
	madvise(slow.p, SLOW_LEN, MADV_NOHUGEPAGE);
	fill(slow.p, SLOW_LEN, 1);
	fill(heap.p, len, (uintptr_t)heap.p);

	trace_locks(kpid, true);
	pthread_create(&th[0], NULL, proc_reader, (void *)(uintptr_t)OP_MAPS);
	pthread_create(&th[1], NULL, proc_reader, (void *)(uintptr_t)OP_SMAPS);
	pthread_create(&th[2], NULL, madviser, NULL);
	pthread_create(&th[3], NULL, slow_reader, slow.p);
	if (writer)
		pthread_create(&th[4], NULL, mapper, NULL);
	t0 = now();
	madvise(heap.p, len, MADV_HUGEPAGE);
	while (now() - t0 < TIMEOUT_S && (kb = anon_huge_kb(heap.p)) < (long)(len >> 10))
		usleep(100000);
	report("collapse_wall_s", now() - t0, "s");
	stop = true;
	for (i = 0; i < (writer ? 5 : 4); i++)
		pthread_join(th[i], NULL);
	write_file(TRACING "/tracing_on", "0");
	report("collapsed_mb", kb >> 10, "MB");
	report_ops();
	report_khugepaged();
	write_file(TRACING "/tracing_on", "1");
	trace_locks(kpid, false);
	ok = intact(heap.p, len, (uintptr_t)heap.p) && intact(slow.p, SLOW_LEN, 1);
	report("intact", ok, "bool");
	if (!ok)
		printf("# the heap's contents changed\n");
	return ok ? 0 : 1;
}
