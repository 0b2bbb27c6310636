// SPDX-License-Identifier: GPL-2.0
/*
 * collapse_races - khugepaged and MADV_COLLAPSE against processes that
 * exit, unmap, mprotect and fork while their memory is being scanned or
 * collapsed.
 *
 * khugepaged scans without sleeping (scan_sleep_millisecs 0) while:
 *   1. short-lived processes register with khugepaged (MADV_HUGEPAGE) and
 *      exit at once, often while their mm is being scanned: khugepaged never
 *      tears such an mm down itself (no rss_stat event of khugepaged's takes
 *      a counter to 0), as 7.3's, which holds no user reference, never does;
 *   2. one thread collapses a range with MADV_COLLAPSE in a loop while
 *      another flips it read-only and back (mprotect): the data never
 *      changes;
 *   3. one thread collapses a range while another unmaps and maps it again
 *      with fresh data, which must read back exactly;
 *   4. a process forks children that touch and exit, sharing and CoW-ing
 *      pages under the scan;
 *   5. a scan_sleep_millisecs write while khugepaged scans does not cut its
 *      next sleep short, as in 7.3 (a write during the sleep ends it);
 *   6. processes that register one after the other are visited in that
 *      order, a new one after every older one, as in 7.3's list;
 *   7. (khugepaged-rs) khugepaged never waits for the mmap write lock: while
 *      other threads hold the read lock, a range ready for collapse is left
 *      for a later pass (mmap_lock_busy, traced as such), and collapsed once
 *      they stop.
 * Each case passes if its data stayed exactly as written and every
 * MADV_COLLAPSE error is one 7.3 documents; tools/vm/run fails the run on
 * any kernel splat.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#define KHUGEPAGED THP_DIR "/khugepaged"
#define SECONDS 4
#define TRACING "/sys/kernel/tracing"
#define RSS_STAT TRACING "/events/kmem/rss_stat"

static atomic_bool stop;
static atomic_int bad_errno;

/* Says which unexpected error MADV_COLLAPSE returned, if any; true if none. */
static bool no_bad_errno(void)
{
	int e = atomic_load(&bad_errno);

	if (e)
		ksft_print_msg("MADV_COLLAPSE failed with %s\n", strerror(e));
	return !e;
}

static void collapse_checked(char *p, size_t len)
{
	if (madvise(p, len, MADV_COLLAPSE) == 0)
		return;
	switch (errno) {
	case EAGAIN: case EBUSY: case EINVAL: case ENOMEM:
		return;
	default:
		atomic_store(&bad_errno, errno);
	}
}

/*
 * Memory counters khugepaged took to zero: the teardown of an exited
 * process's mm (exit_mmap() zaps every page) run by khugepaged.  A collapse
 * never takes a counter of a live mm to zero.
 */
static int teardowns_in_khugepaged(void)
{
	static char buf[1 << 20];
	int n = 0;

	if (read_file(TRACING "/trace", buf, sizeof(buf)) < 0)
		return -1;
	for (char *p = strstr(buf, "rss_stat:"); p; p = strstr(p + 1, "rss_stat:")) {
		char *eol = strchr(p, '\n'), *zero = strstr(p, " size=0B");

		if (zero && (!eol || zero < eol))
			n++;
	}
	return n;
}

/* 1. Processes that register and exit at once. */
static void test_exit_while_scanned(void)
{
	double end = now() + SECONDS;
	int spawned = 0, failed = 0, status, torn;
	pid_t kpid = khugepaged_pid();
	char filter[64];

	/* The memory counters khugepaged's own thread changes. */
	snprintf(filter, sizeof(filter), "common_pid == %d", kpid);
	write_file(TRACING "/buffer_size_kb", "4096");
	write_file(RSS_STAT "/filter", filter);
	write_file(RSS_STAT "/enable", "1");
	clear_trace();

	while (now() < end) {
		pid_t pid = fork();

		if (pid == 0) {
			struct region r;

			if (map_region(&r, 2 * pmd_size))
				_exit(1);
			fill(r.p, r.len, 0x100);
			madvise(r.p, r.len, MADV_HUGEPAGE);
			usleep(rand() % 3000);
			_exit(intact(r.p, r.len, 0x100) ? 0 : 2);
		}
		if (pid < 0)
			break;
		spawned++;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	ksft_print_msg("%d short-lived processes\n", spawned);
	ksft_test_result(spawned > 0 && !failed,
			 "processes exiting while registered and scanned: data kept, no splat\n");
	/* A reference khugepaged dropped last is put in a worker, maybe a moment later. */
	sleep(1);
	torn = teardowns_in_khugepaged();
	write_file(RSS_STAT "/enable", "0");
	write_file(RSS_STAT "/filter", "0");
	if (torn)
		ksft_print_msg("khugepaged (pid %d) took %d memory counters of exited processes to zero\n",
			       kpid, torn);
	ksft_test_result(kpid > 0 && torn == 0,
			 "an mm whose process exits while scanned is never torn down by khugepaged\n");
}

struct pair {
	struct region r;
	uint64_t seed;
	atomic_int generation;
	atomic_int errors;
};

static void *collapser(void *arg)
{
	struct pair *pr = arg;

	while (!atomic_load(&stop))
		collapse_checked(pr->r.p, pr->r.len);
	return NULL;
}

static void *protector(void *arg)
{
	struct pair *pr = arg;

	while (!atomic_load(&stop)) {
		mprotect(pr->r.p, pr->r.len, PROT_READ);
		if (!intact(pr->r.p, pr->r.len, pr->seed))
			atomic_fetch_add(&pr->errors, 1);
		mprotect(pr->r.p, pr->r.len, PROT_READ | PROT_WRITE);
	}
	return NULL;
}

static void *remapper(void *arg)
{
	struct pair *pr = arg;

	while (!atomic_load(&stop)) {
		int gen = atomic_fetch_add(&pr->generation, 1) + 1;

		/* The same address, a new anonymous mapping with new data. */
		if (mmap(pr->r.p, pr->r.len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
			atomic_fetch_add(&pr->errors, 1);
			break;
		}
		fill(pr->r.p, pr->r.len, pr->seed + gen);
		usleep(rand() % 2000);
		if (!intact(pr->r.p, pr->r.len, pr->seed + gen))
			atomic_fetch_add(&pr->errors, 1);
	}
	return NULL;
}

/* 2 and 3: MADV_COLLAPSE in one thread, mprotect or munmap in another. */
static void test_pair(void *(*other)(void *), const char *name)
{
	struct pair pr = { .seed = 0x200 };
	pthread_t a, b;

	if (map_region(&pr.r, 2 * pmd_size)) {
		ksft_test_result_fail("%s: mmap\n", name);
		return;
	}
	fill(pr.r.p, pr.r.len, pr.seed);
	madvise(pr.r.p, pr.r.len, MADV_HUGEPAGE);
	atomic_store(&stop, false);
	atomic_store(&bad_errno, 0);
	pthread_create(&a, NULL, collapser, &pr);
	pthread_create(&b, NULL, other, &pr);
	sleep(SECONDS);
	atomic_store(&stop, true);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	if (other == protector && !intact(pr.r.p, pr.r.len, pr.seed))
		atomic_fetch_add(&pr.errors, 1);
	ksft_test_result(no_bad_errno() && !atomic_load(&pr.errors), "%s\n", name);
	unmap_region(&pr.r);
}

/* 4. Children that share, CoW and exit while the parent's range is scanned. */
static void test_fork_while_scanned(void)
{
	struct region r;
	int failed = 0, n = 0, status;
	double end;

	if (map_region(&r, 2 * pmd_size)) {
		ksft_test_result_fail("fork while scanned: mmap\n");
		return;
	}
	fill(r.p, r.len, 0x300);
	madvise(r.p, r.len, MADV_HUGEPAGE);
	/*
	 * The clock starts once the memory is written (seconds for two 512 MB
	 * PMDs under TCG), and at least 4 children run, so that the parent's
	 * MADV_COLLAPSE does too.
	 */
	end = now() + SECONDS;
	while (n < 4 || now() < end) {
		pid_t pid = fork();

		if (pid == 0) {
			bool ok = intact(r.p, r.len, 0x300);

			/* CoW one page on the way out. */
			fill(r.p + (rand() % (2 * pmd_nr)) * page_size, page_size, 0x300 + 1);
			_exit(ok ? 0 : 1);
		}
		if (pid < 0)
			break;
		n++;
		if (n % 4 == 0)
			collapse_checked(r.p, r.len);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
			if (!failed++)
				ksft_print_msg("child %d: %s %d\n", n,
					       WIFSIGNALED(status) ? "killed by signal" : "exit status",
					       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		}
	}
	if (!intact(r.p, r.len, 0x300))
		failed++;
	ksft_print_msg("%d children, %d failed checks\n", n, failed);
	ksft_test_result(no_bad_errno() && n > 0 && !failed,
			 "fork, CoW and exit of children while the parent is scanned\n");
	unmap_region(&r);
}

/* The timestamps of the trace's `event` lines that contain `with`, up to max; how many. */
static int event_times(const char *event, const char *with, double *t, int max)
{
	static char buf[1 << 20];
	int n = 0;

	if (read_file(TRACING "/trace", buf, sizeof(buf)) < 0)
		return 0;
	for (char *line = buf; line && *line && n < max; line = strchr(line, '\n'),
		  line = line ? line + 1 : NULL) {
		char *ev = strstr(line, event), *eol = strchr(line, '\n'), *w = strstr(line, with);
		char *colon;

		if (line[0] == '#' || !ev || (eol && ev > eol) || !w || (eol && w > eol))
			continue;
		/* "  comm-pid  [cpu] flags  12.345678: event: ..." */
		colon = ev - 2;
		while (colon > line && colon[-1] != ' ')
			colon--;
		t[n++] = strtod(colon, NULL);
	}
	return n;
}

/*
 * 5. A knob write during a scan: the next sleep is a full one.  The pass the
 * write meets collapses what is left of its half of the region; had the write
 * cut the next sleep short, a second pass would collapse the other half before
 * khugepaged first sleeps.
 */
static void test_write_during_scan(void)
{
	const int sleep_ms = 3000;
	size_t pmds_in = (size_t)meminfo_kb("MemTotal:") / 4 / (pmd_size >> 10);
	double all[1024], done[1024], mark[1], quiet = -1;
	int n_all, n_done, before_sleep = 0;
	struct region r;
	char buf[32];

	/* Passes over half of a region of 2 to 32 PMDs, each PMD collapsed. */
	pmds_in = pmds_in < 2 ? 2 : pmds_in > 32 ? 32 : pmds_in;
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * (pmds_in / 2));
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	snprintf(buf, sizeof(buf), "%d", sleep_ms);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", buf);
	if (!access(KHUGEPAGED "/hints", F_OK))
		set_mode(KHUGEPAGED "/hints", "0");
	if (map_region(&r, pmds_in * pmd_size)) {
		ksft_test_result_fail("write during a scan: mmap\n");
		return;
	}
	fill(r.p, r.len, 0x500);
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan_pmd/enable", "1");
	clear_trace();
	madvise(r.p, r.len, MADV_HUGEPAGE);
	/* Wake khugepaged; write again, and mark the trace, once it collapsed a first PMD. */
	write_file(KHUGEPAGED "/scan_sleep_millisecs", buf);
	for (int i = 0; i < 5000 &&
			event_times("mm_khugepaged_scan_pmd:", "status=succeeded", done, 1) < 1; i++)
		usleep(2000);
	write_file(KHUGEPAGED "/scan_sleep_millisecs", buf);
	write_file(TRACING "/trace_marker", "write during the scan");
	usleep((sleep_ms + 2000) * 1000);
	n_all = event_times("mm_khugepaged_scan_pmd:", "", all, 1024);
	n_done = event_times("mm_khugepaged_scan_pmd:", "status=succeeded", done, 1024);
	/* khugepaged's first sleep after the mark: the first quiet second and a half. */
	if (event_times("tracing_mark_write:", "write during the scan", mark, 1) == 1)
		for (int i = 0; quiet < 0 && i < n_all; i++)
			if (all[i] > mark[0] && (i + 1 == n_all || all[i + 1] - all[i] > 1.5))
				quiet = all[i];
	for (int i = 0; quiet >= 0 && i < n_done; i++)
		before_sleep += done[i] > mark[0] && done[i] <= quiet;
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan_pmd/enable", "0");
	ksft_print_msg("%d PMDs collapsed after the write before khugepaged slept; a pass takes %zu\n",
		       before_sleep, pmds_in / 2);
	ksft_test_result(quiet >= 0 && before_sleep < (int)(pmds_in / 2) &&
			 intact(r.p, r.len, 0x500),
			 "a scan_sleep_millisecs write during a scan leaves the next sleep whole\n");
	unmap_region(&r);
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "0");
}

/*
 * 6. Registration order.  Processes exec'd afresh (so not registered at fork,
 * as children of a registered mm are) register in an order unlike the one
 * their mm_structs were allocated in.  Each has one empty MADV_HUGEPAGE
 * region of 64 + rank PMDs (with an anon_vma), so the progress of its visit (mm_khugepaged_scan)
 * tells its rank: a complete pass must show the ranks in order.
 */
#define REGISTRANTS 12
#define SCAN_EVENT TRACING "/events/huge_memory/mm_khugepaged_scan/enable"

/* The exec'd side: map, register when told to on stdin, say so on stdout, wait. */
static int registrant(int rank)
{
	struct region r;
	char c;

	thp_util_init();
	if (map_region(&r, (64 + rank) * pmd_size) || read(0, &c, 1) != 1)
		return 1;
	/* khugepaged takes a VMA once it has an anon_vma: one fault, then nothing mapped. */
	r.p[0] = 1;
	madvise(r.p, page_size, MADV_DONTNEED);
	madvise(r.p, r.len, MADV_HUGEPAGE);
	if (write(1, &c, 1) != 1)
		return 1;
	for (;;)
		pause();
}

struct visit {
	char mm[24];
	unsigned long progress;
	int finished;
};

/* The mm_khugepaged_scan events of the trace, up to max; how many. */
static int scan_visits(struct visit *v, int max)
{
	static char buf[1 << 20];
	int n = 0;

	if (read_file(TRACING "/trace", buf, sizeof(buf)) < 0)
		return 0;
	for (char *p = strstr(buf, "mm_khugepaged_scan: mm="); p && n < max;
	     p = strstr(p + 1, "mm_khugepaged_scan: mm=")) {
		if (sscanf(p, "mm_khugepaged_scan: mm=%23[^,], progress=%lu, full_scan_finished=%d",
			   v[n].mm, &v[n].progress, &v[n].finished) == 3)
			n++;
	}
	return n;
}

/*
 * The registrants among the visited mms, by rank: those whose largest visit
 * covers more than 64 PMDs (a visit cut short by the budget is smaller, and
 * resumed at the next wake-up), in the order of those visits' progress.
 */
static int registrant_ranks(const struct visit *v, int n, char mms[][24], int max)
{
	unsigned long best[REGISTRANTS + 1];
	int found = 0;

	for (int i = 0; i < n; i++) {
		int j;

		if (v[i].progress <= 64)
			continue;
		for (j = 0; j < found && strcmp(mms[j], v[i].mm); j++)
			;
		if (j == found) {
			if (found == max)
				return -1;
			strcpy(mms[found], v[i].mm);
			best[found++] = 0;
		}
		if (v[i].progress > best[j])
			best[j] = v[i].progress;
	}
	/* Insertion sort by the largest visit. */
	for (int i = 1; i < found; i++) {
		for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
			unsigned long b = best[j];
			char m[24];

			best[j] = best[j - 1];
			best[j - 1] = b;
			strcpy(m, mms[j]);
			strcpy(mms[j], mms[j - 1]);
			strcpy(mms[j - 1], m);
		}
	}
	return found;
}

static void test_registration_order(void)
{
	static struct visit v[8192];
	char ranked[REGISTRANTS + 1][24], buf[64], c = 'r';
	int to[REGISTRANTS], from[REGISTRANTS], n, found, good = 0, bad = 0;
	pid_t pids[REGISTRANTS];
	bool spawned = true;

	memset(to, -1, sizeof(to));
	memset(from, -1, sizeof(from));
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", "4096");
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "50");

	/* Spawned in one order, registered in another: rank (5i + 3) mod 12. */
	for (int i = 0; i < REGISTRANTS; i++) {
		int in[2], out[2];
		char rank[16];

		pids[i] = -1;
		if (pipe(in) || pipe(out)) {
			spawned = false;
			break;
		}
		snprintf(rank, sizeof(rank), "%d", (5 * i + 3) % REGISTRANTS);
		pids[i] = fork();
		if (pids[i] == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			execl("/proc/self/exe", "collapse_races", "--registrant", rank, NULL);
			_exit(127);
		}
		close(in[0]);
		close(out[1]);
		to[(5 * i + 3) % REGISTRANTS] = in[1];
		from[(5 * i + 3) % REGISTRANTS] = out[0];
		spawned &= pids[i] > 0;
	}
	for (int k = 0; spawned && k < REGISTRANTS; k++)
		spawned = write(to[k], &c, 1) == 1 && read(from[k], &c, 1) == 1;

	write_file(SCAN_EVENT, "1");
	clear_trace();
	usleep(2000000);
	n = scan_visits(v, 8192);
	write_file(SCAN_EVENT, "0");
	found = registrant_ranks(v, n, ranked, REGISTRANTS + 1);

	/* Each pass after the first end of a pass: its registrants, in order of visit. */
	for (int i = 0, in_pass = 0, next = 0, last = -1, ordered = 1;
	     found == REGISTRANTS && i < n; i++) {
		int r;

		for (r = 0; r < REGISTRANTS && strcmp(ranked[r], v[i].mm); r++)
			;
		/* The rest of a visit cut short by the end of a wake-up's budget. */
		if (in_pass && r < REGISTRANTS && r != last) {
			if (r != next && ordered) {
				ordered = 0;
				if (!bad)
					ksft_print_msg("registrant %d visited where %d was due\n",
						       r, next);
			}
			next++;
		}
		last = r;
		if (!v[i].finished)
			continue;
		if (in_pass && ordered && next == REGISTRANTS)
			good++;
		else if (in_pass && !bad++ && ordered)
			ksft_print_msg("a pass visited %d of the %d registrants\n", next, REGISTRANTS);
		in_pass = 1;
		next = 0;
		last = -1;
		ordered = 1;
	}
	for (int i = 0; i < REGISTRANTS; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
	for (int k = 0; k < REGISTRANTS; k++) {
		if (to[k] >= 0)
			close(to[k]);
		if (from[k] >= 0)
			close(from[k]);
	}
	ksft_print_msg("%d registrants found, %d passes in registration order, %d not\n",
		       found, good, bad);
	ksft_test_result(spawned && found == REGISTRANTS && good >= 2 && !bad,
			 "mms are visited in the order they registered, a new one last\n");
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "0");
}

static char trace_buf[1 << 16];

/* Holds the mmap read lock for long stretches: populating a large region's page tables. */
static void *populater(void *arg)
{
	struct region *big = arg;

	while (!atomic_load(&stop)) {
		madvise(big->p, big->len, MADV_POPULATE_READ);
		madvise(big->p, big->len, MADV_DONTNEED);
	}
	return NULL;
}

/*
 * 7. khugepaged-rs's khugepaged takes the mmap write lock only if it is free:
 * a waiting writer would hold back every reader after it.  Two threads keep
 * the read lock held almost all the time; the ranges khugepaged is ready to
 * collapse meanwhile are counted in mmap_lock_busy and traced with that
 * result, and collapsed after the readers stop.  7.3 has no such counter:
 * its khugepaged waits.
 */
static void test_mmap_lock_busy(void)
{
	const size_t pmds = 8;
	unsigned long before, after = 0;
	struct region r, big;
	pthread_t t[2];
	bool traced, huge = false;
	char line[64];
	int started = 0;

	if (access(KHUGEPAGED "/mmap_lock_busy", F_OK)) {
		ksft_test_result_skip("khugepaged never waits for the mmap write lock (khugepaged-rs only)\n");
		return;
	}
	if (map_region(&r, pmds * pmd_size) || map_region(&big, 64 * pmd_size)) {
		ksft_test_result_fail("khugepaged never waits for the mmap write lock: mmap\n");
		return;
	}
	/* The readers' region stays small pages of the zero page, never collapsed. */
	madvise(big.p, big.len, MADV_NOHUGEPAGE);
	fill(r.p, r.len, 0x700);
	before = read_ulong(KHUGEPAGED "/mmap_lock_busy");
	write_file(TRACING "/events/huge_memory/mm_collapse_huge_page/enable", "1");
	clear_trace();
	atomic_store(&stop, false);
	for (int i = 0; i < 2; i++)
		started += !pthread_create(&t[i], NULL, populater, &big);
	madvise(r.p, r.len, MADV_HUGEPAGE);
	for (int i = 0; i < 600 && started == 2; i++) {
		after = read_ulong(KHUGEPAGED "/mmap_lock_busy");
		if (after > before)
			break;
		usleep(100000);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	/* Then every range is collapsed, on a later pass. */
	for (int i = 0; i < 600 && !huge; i++) {
		huge = anon_huge_kb(r.p) >= (long)(r.len >> 10);
		if (!huge)
			usleep(100000);
	}
	traced = read_file(TRACING "/trace", trace_buf, sizeof(trace_buf)) == 0 &&
		 strstr(trace_buf, "status=mmap_lock_busy");
	write_file(TRACING "/events/huge_memory/mm_collapse_huge_page/enable", "0");
	snprintf(line, sizeof(line), "%lu", after - before);
	ksft_print_msg("mmap_lock_busy moved by %s; traced: %d; collapsed after: %d\n",
		       line, traced, huge);
	ksft_test_result(started == 2 && after > before && traced && huge &&
			 intact(r.p, r.len, 0x700),
			 "khugepaged leaves a range whose mmap lock is busy for later (mmap_lock_busy), then collapses it, data kept\n");
	unmap_region(&big);
	unmap_region(&r);
}

int main(int argc, char **argv)
{
	char buf[256];

	if (argc == 3 && !strcmp(argv[1], "--registrant"))
		return registrant(atoi(argv[2]));
	ksft_print_header();
	thp_util_init();
	ksft_set_plan(8);
	setup_thp();
	snprintf(buf, sizeof(buf), "%s/hugepages-%zukB/enabled", THP_DIR, pmd_size >> 10);
	set_mode(buf, "inherit");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "0");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	srand(1);

	test_exit_while_scanned();
	test_pair(protector, "MADV_COLLAPSE racing mprotect: data kept");
	test_pair(remapper, "MADV_COLLAPSE racing munmap and mmap: data kept");
	test_fork_while_scanned();
	test_write_during_scan();
	test_registration_order();
	test_mmap_lock_busy();

	ksft_finished();
}
