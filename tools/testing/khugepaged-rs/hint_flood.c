// SPDX-License-Identifier: GPL-2.0
/*
 * hint_flood - floods khugepaged-rs's collapse-hint queue from reclaim.
 *
 * WORKERS processes run in one memory cgroup limited to half of what they
 * map, so reclaim never stops: MGLRU's look-around (from the rmap walk of the
 * folios it evicts) and its page-table walk (aging, from reclaim and forced
 * every second through debugfs) hint the ranges the workers keep hot, into a
 * queue cut to two thirds of the PMD ranges they map, so that it overflows.
 * Each worker maps 16 MB, or one PMD range where that is larger; there are
 * 12, fewer where a third of memory or the swap cannot hold them (3 of
 * 512 MB on arm64 with 64K pages).  khugepaged wakes
 * every 100 ms and serves them while the workers churn: each lives 2 to 8 s,
 * remaps part of its memory now and then (its hints go stale), forks short
 * lived children (COW), and checks all its memory before it exits.
 *
 * After a 10 s warm-up the flood runs SECONDS (120), then:
 *   - every worker's memory was intact through swap, collapse, remap and COW;
 *   - both feeders hinted (the walk only where MGLRU walks page tables, see
 *     lru_gen_walks()), hints were served, and the queue overflowed;
 *   - no hint is left queued once the workers are gone;
 *   - kernel memory is flat: mm_structs, unreclaimable slab, page tables,
 *     anon memory and free memory are back where the warm-up left them.
 *
 *   hint_flood [--seconds=N] [--workers=N] [--no-hints]
 *
 * --no-hints runs the same flood with hints left alone and checks only the
 * workers' memory: the baseline, on either kernel.
 *
 * The Rust kernel only: 7.3 has no hints.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#define KHUGEPAGED THP_DIR "/khugepaged"
#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_NAME "/hint_flood"
#define CGROUP CGROUP_ROOT CGROUP_NAME
#define WORKER_MB 16
#define MAX_WORKERS 64

/* nr_workers 0: default_workers(). */
static int seconds = 120, nr_workers;
static size_t worker_len, hot_len;

/* ------------------------------------------------ the workers */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	stopping = 1;
}

/*
 * Reads and writes back the first word of every page of the hot part, after
 * dropping the cached translations, so that the access bits get set again.
 */
static void touch_hot(char *p)
{
	drop_translations(p, hot_len);
	for (size_t i = 0; i < hot_len; i += page_size) {
		volatile uint64_t *w = (volatile uint64_t *)(p + i);

		*w = *w;
	}
}

/*
 * Replaces one PMD range after the hot part with fresh memory holding the
 * same pattern: hints queued for the old one go stale.  (Offsets are PMD
 * aligned, so offset + i == offset ^ i inside the range.)
 */
static int remap_one(char *p, uint64_t seed, unsigned int *rnd)
{
	size_t nr = (worker_len - hot_len) / pmd_size, off;
	char *q;

	if (!nr)
		return 0;
	off = hot_len + (rand_r(rnd) % nr) * pmd_size;
	q = mmap(p + off, pmd_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (q == MAP_FAILED)
		return -1;
	fill(q, pmd_size, seed ^ off);
	return madvise(q, pmd_size, MADV_HUGEPAGE);
}

/*
 * One worker's life: its own memory cgroup membership, WORKER_MB of small
 * pages registered with MADV_HUGEPAGE, then touch, remap and fork until the
 * lifetime ends or SIGTERM.  Exit status 0 if its memory is intact, 2 if
 * not, 3 if it could not set up.  _exit() only: the parent's atexit handler
 * restores the settings and must not run here.
 */
static void worker(unsigned int rnd, double lifetime)
{
	uint64_t seed = (uint64_t)getpid() << 32 | rnd;
	double end = now() + lifetime;
	pid_t kid = 0;
	struct region r;
	int status;

	signal(SIGTERM, on_term);
	signal(SIGINT, SIG_DFL);
	/* khugepaged runs at nice 19: at 0, twelve workers in reclaim would starve it. */
	if (nice(19) < 0)
		_exit(3);
	if (write_file(CGROUP "/cgroup.procs", "0") || map_region(&r, worker_len))
		_exit(3);
	fill(r.p, worker_len, seed);
	if (madvise(r.p, worker_len, MADV_HUGEPAGE))
		_exit(3);
	while (!stopping && now() < end) {
		touch_hot(r.p);
		switch (rand_r(&rnd) % 16) {
		case 0:
			if (remap_one(r.p, seed, &rnd))
				_exit(3);
			break;
		case 1:
			/* A child shares the memory, writes the hot part (COW) and goes. */
			if (kid)
				break;
			kid = fork();
			if (kid == 0) {
				touch_hot(r.p);
				usleep(200000);
				_exit(intact(r.p, worker_len, seed) ? 0 : 2);
			}
			break;
		}
		if (kid > 0 && waitpid(kid, &status, WNOHANG) == kid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				_exit(2);
			kid = 0;
		}
		usleep(20000);
	}
	if (kid > 0 && (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) ||
			WEXITSTATUS(status)))
		_exit(2);
	_exit(intact(r.p, worker_len, seed) ? 0 : 2);
}

struct flood {
	pid_t pids[MAX_WORKERS];
	unsigned int rnd;
	int spawned, failed, agings;
};

static void spawn(struct flood *f, int slot)
{
	unsigned int rnd = rand_r(&f->rnd);
	pid_t pid = fork();

	if (pid == 0)
		worker(rnd, 2 + rnd % 7);
	f->pids[slot] = pid;
	if (pid > 0)
		f->spawned++;
	else
		f->failed++;
}

static void reaped(struct flood *f, pid_t pid, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	f->failed++;
	if (WIFEXITED(status))
		ksft_print_msg("worker %d exited with %d (%s)\n", pid, WEXITSTATUS(status),
			       WEXITSTATUS(status) == 2 ? "memory corrupted" : "set-up failed");
	else
		ksft_print_msg("worker %d killed by signal %d\n", pid, WTERMSIG(status));
}

/* Keeps nr_workers workers alive for `secs` seconds, aging their memcg every second. */
static void flood(struct flood *f, int secs)
{
	double end = now() + secs, next_age = now() + 1;
	int status, i;
	pid_t pid;

	for (i = 0; i < nr_workers; i++)
		spawn(f, i);
	while (now() < end) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			reaped(f, pid, status);
			for (i = 0; i < nr_workers; i++)
				if (f->pids[i] == pid)
					spawn(f, i);
		}
		if (now() >= next_age) {
			f->agings += lru_gen_age(CGROUP_NAME) == 0;
			next_age += 1;
		}
		usleep(100000);
	}
	for (i = 0; i < nr_workers; i++)
		if (f->pids[i] > 0)
			kill(f->pids[i], SIGTERM);
	while ((pid = wait(&status)) > 0)
		reaped(f, pid, status);
	memset(f->pids, 0, sizeof(f->pids));
}

/* ------------------------------------------------ set-up */

/*
 * Half of what the workers map, so that reclaim runs all the time; but at
 * least two PMD ranges, so that a collapse can be charged.
 */
static size_t memory_max(void)
{
	size_t half = nr_workers * worker_len / 2;

	return half > 2 * pmd_size ? half : 2 * pmd_size;
}

/*
 * Twelve workers, fewer where a third of memory or the swap cannot hold what
 * they map: swap slots are freed lazily, so swap can fill with all of it.
 */
static int default_workers(void)
{
	long mem = meminfo_kb("MemTotal:") / 3, swap = meminfo_kb("SwapTotal:");
	long n = (mem < swap ? mem : swap) / (long)(worker_len >> 10);

	return n < 2 ? 2 : n > 12 ? 12 : n;
}

static int setup_cgroup(void)
{
	char buf[32];

	mkdir(CGROUP_ROOT, 0755);
	if (access(CGROUP_ROOT "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL))
		return -1;
	if (write_file(CGROUP_ROOT "/cgroup.subtree_control", "+memory"))
		return -1;
	if (mkdir(CGROUP, 0755) && errno != EEXIST)
		return -1;
	snprintf(buf, sizeof(buf), "%zu", memory_max());
	return write_file(CGROUP "/memory.max", buf);
}

/* The hint_stats counters reported after the flood, and their values before it. */
static const char *const counters[] = {
	"hints_added_walk", "hints_added_look_around", "hints_deduplicated", "hints_raised",
	"hints_renewed", "hints_expired",
	"hints_dropped", "hints_removed", "hints_served", "hints_stale",
	"collapsed_hint_walk", "collapsed_hint_look_around", "collapsed_scan",
};
#define NR_COUNTERS (int)(sizeof(counters) / sizeof(counters[0]))
static long counted_before[NR_COUNTERS];

/* How far a counter moved during the flood. */
static long moved(const char *name)
{
	for (int i = 0; i < NR_COUNTERS; i++)
		if (!strcmp(counters[i], name))
			return hint_stat(name) - counted_before[i];
	return -1;
}

int main(int argc, char **argv)
{
	struct flood f = { .rnd = 1 };
	struct mem_snap s0, s1;
	bool ok, walks, no_hints = false;
	char path[128], caps[32], capacity[16];
	long queued;
	int i, cap;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--seconds=", 10))
			seconds = atoi(argv[i] + 10);
		else if (!strncmp(argv[i], "--workers=", 10))
			nr_workers = atoi(argv[i] + 10);
		else if (!strcmp(argv[i], "--no-hints"))
			no_hints = true;
	}
	if (seconds < 1 || nr_workers < 0 || nr_workers > MAX_WORKERS)
		ksft_exit_fail_msg("bad --seconds or --workers\n");
	ksft_print_header();
	thp_util_init();
	if (!no_hints && hint_stat("hints_queued") < 0)
		ksft_exit_skip("no khugepaged/hint_stats: not khugepaged-rs\n");
	ksft_set_plan(no_hints ? 1 : 4);
	/* At least one PMD range per worker; a quarter of them (at least one) hot. */
	worker_len = ((size_t)WORKER_MB << 20) / pmd_size * pmd_size;
	if (worker_len < pmd_size)
		worker_len = pmd_size;
	hot_len = worker_len / pmd_size / 4 * pmd_size;
	if (hot_len < pmd_size)
		hot_len = pmd_size;
	if (!nr_workers)
		nr_workers = default_workers();
	/* Two thirds of the ranges the workers map: 64 with 2 MB PMDs. */
	cap = nr_workers * (worker_len / pmd_size) * 2 / 3;
	snprintf(capacity, sizeof(capacity), "%d", cap < 1 ? 1 : cap > 64 ? 64 : cap);

	setup_thp();
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled", pmd_size >> 10);
	set_mode(path, "inherit");
	set_mode(LRU_GEN_ENABLED, "y");
	walks = lru_gen_walks(caps, sizeof(caps));
	if (!walks)
		ksft_print_msg("lru_gen/enabled is %s: no page-table walk here, only the look-around hints\n",
			       caps);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "100");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "100");
	if (!no_hints) {
		set_mode(KHUGEPAGED "/hints", "1");
		set_mode(KHUGEPAGED "/hint_capacity", capacity);
	}
	if (setup_cgroup())
		ksft_exit_fail_msg("memory cgroup %s: %s\n", CGROUP, strerror(errno));
	if (no_hints) {
		flood(&f, seconds);
		ksft_print_msg("%d workers ran, %d agings forced\n", f.spawned, f.agings);
		ksft_test_result(f.failed == 0 && f.spawned > nr_workers,
				 "without hints: every worker's memory is intact through the flood\n");
		rmdir(CGROUP);
		ksft_finished();
	}

	/* The warm-up leaves the caches, zram and the cgroup as the flood will. */
	flood(&f, 10);
	mem_snapshot(&s0);
	for (i = 0; i < NR_COUNTERS; i++)
		counted_before[i] = hint_stat(counters[i]);
	f.spawned = f.failed = f.agings = 0;

	ksft_print_msg("flooding for %d s: %d workers of %zu MB (%zu MB hot), memory.max %zu MB, hint_capacity %s\n",
		       seconds, nr_workers, worker_len >> 20, hot_len >> 20, memory_max() >> 20,
		       capacity);
	flood(&f, seconds);
	ksft_print_msg("%d workers ran, %d agings forced\n", f.spawned, f.agings);
	for (i = 0; i < NR_COUNTERS; i++)
		ksft_print_msg("  %-28s %ld\n", counters[i], moved(counters[i]));

	ksft_test_result(f.failed == 0 && f.spawned > nr_workers,
			 "every worker's memory is intact through reclaim, collapse, remap and COW\n");

	ok = moved("hints_added_look_around") > 0 && moved("hints_dropped") > 0 &&
	     moved("hints_served") > 0 && (!walks || moved("hints_added_walk") > 0);
	ksft_test_result(ok, "%s under reclaim, hints were served, the queue overflowed\n",
			 walks ? "both feeders hinted" :
				 "the look-around hinted (no page-table walk here)");

	/* Workers exited with hints queued (removed > 0), and none are left. */
	wait_teardown();
	queued = hint_stat("hints_queued");
	if (queued)
		ksft_print_msg("hints_queued %ld once the workers' mms are gone\n", queued);
	ksft_test_result(moved("hints_removed") > 0 && queued == 0,
			 "no hint is left queued once every worker has exited\n");

	mem_snapshot(&s1);
	ksft_test_result(mem_all_flat(&s0, &s1), "kernel memory is flat across the flood\n");

	rmdir(CGROUP);
	ksft_finished();
}
