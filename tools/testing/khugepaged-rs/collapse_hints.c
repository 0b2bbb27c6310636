// SPDX-License-Identifier: GPL-2.0
/*
 * collapse_hints - khugepaged-rs's collapse hints, fed by MGLRU aging.
 *
 * khugepaged sleeps for minutes here (scan_sleep_millisecs), so it runs only
 * when a knob write wakes it: one wake-up per kick.  Aging is triggered by
 * hand through /sys/kernel/debug/lru_gen; its page-table walk (walk_mm())
 * clears the access bits and hints the PMD ranges it found young.  A hint is
 * served only once its range was found young in MIN_PASSES agings: memory
 * touched once is held, memory touched again and again is collapsed first.
 *
 *   - a hot region behind a larger cold one, all of it touched once, then the
 *     hot part again: the cold ranges stay held, the hot ones are collapsed on
 *     the first wake-up after they are young a third time, while the walk
 *     has not reached them;
 *   - with hints off, aging queues nothing and that wake-up leaves the hot
 *     region alone;
 *   - a range young in three agings is queued once, renewed twice, and
 *     collapsed once;
 *   - a full queue keeps the ranges an aging found first and counts the
 *     others as dropped; the kept ones are served;
 *   - a range unseen for four pass intervals has gone cold: a held one starts
 *     over, a served one is dropped, counted as expired;
 *   - an mm that exits with hints queued leaves none behind;
 *   - hints for a range unmapped or made ineligible since fail cleanly,
 *     and the memory is unchanged;
 *   - after two writers race 0s and 1s into the hints knob, writing 1 leaves
 *     the feeders on: the next aging hints (unserialised, the race also trips
 *     the static key's own WARN, which fails the run);
 *   - a hint stands for the PTEs it found young, no more: one from 3/8 of a
 *     range whose other 5/8 are swapped out is refused as 7.3 refuses the
 *     range (fewer than half referenced), and swaps nothing in.
 *
 * Each case runs in a child of its own: a new mm, which khugepaged's walk
 * meets from its first address, so how far the walk can get in a wake-up
 * does not depend on the cases before.  The counters are
 * khugepaged/hint_stats; contents are checked after every collapse.  The Rust
 * kernel only: 7.3 has no hints.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#define KHUGEPAGED THP_DIR "/khugepaged"
#define SLEEP_MS "600000"

#define TRACING "/sys/kernel/tracing"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* Agings a range must be young in before its hint is served (hint_heat.rs). */
#define MIN_PASSES 3

/*
 * Sizes, from the PMD size and the guest's memory.  A wake-up scans
 * scan_pmds PMDs (pages_to_scan), up to half of them serving hints; a case
 * has hot_pmds hot ranges behind 4 * scan_pmds cold ones, more than two
 * wake-ups walk.  With 2 MB PMDs: 4 hot, 8 scanned, 32 cold; a 512 MB PMD
 * (arm64 64K pages) leaves room for 1, 1 and 4.
 */
static int hot_pmds, scan_pmds;

static void size_cases(void)
{
	long room = meminfo_kb("MemTotal:") / 2 / (long)(pmd_size >> 10);

	/* H hot and 8H cold ranges must fit in half of memory. */
	hot_pmds = room / 9 < 1 ? 1 : room / 9 > 4 ? 4 : room / 9;
	/* With a single hot range, one PMD a wake-up: the hint, or one step of the walk. */
	scan_pmds = hot_pmds == 1 ? 1 : 2 * hot_pmds;
}

/* After a failure: the counters, and the served hints and scans from the trace. */
static void dump(void)
{
	static char buf[65536];
	char *line, *save;

	if (read_file(KHUGEPAGED "/hint_stats", buf, sizeof(buf)) >= 0)
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			ksft_print_msg("  %s\n", line);
	if (read_file(TRACING "/trace", buf, sizeof(buf)) >= 0)
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (line[0] != '#')
				ksft_print_msg("  %s\n", line);
	clear_trace();
}

/* Ages the root memcg's node 0. */
static int age(void)
{
	return lru_gen_age("/");
}

/* Wakes khugepaged for one pass (a knob write does), then lets it finish. */
static void kick(void)
{
	write_file(KHUGEPAGED "/scan_sleep_millisecs", SLEEP_MS);
}

static int nr_thp(char *p, int n)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += kpf_pmd_thp(p + i * pmd_size) == 1;
	return c;
}

/*
 * Wakes khugepaged for one pass and waits up to 30 s for it to get to its
 * walk (an mm_khugepaged_scan event): the hints it serves come before.
 */
static void kick_and_wait_pass(void)
{
	static char buf[65536];

	clear_trace();
	kick();
	for (int i = 0; i < 300; i++) {
		if (read_file(TRACING "/trace", buf, sizeof(buf)) >= 0 &&
		    strstr(buf, "mm_khugepaged_scan:"))
			break;
		usleep(100000);
	}
	usleep(200000);
}

/* Waits up to 30 s for `want` PMD THPs in [p, p + n PMDs), then lets the pass end. */
static int wait_thp(char *p, int n, int want)
{
	for (int i = 0; i < 300 && nr_thp(p, n) < want; i++)
		usleep(100000);
	sleep(1);
	return nr_thp(p, n);
}

/* Waits up to 10 s for hints_queued to drop to `want`. */
static long wait_queued(long want)
{
	for (int i = 0; i < 100 && hint_stat("hints_queued") > want; i++)
		usleep(100000);
	return hint_stat("hints_queued");
}

struct setup {
	struct region r;
	char *cold, *hot;
	int n_cold, n_hot;
};

/*
 * Maps n_cold + n_hot PMD ranges, hot ones last (the walk goes up in
 * address), faults them in with small pages, registers them with
 * MADV_HUGEPAGE and ages once with hints as `hints_first` (with "1", every
 * range gets a held hint, young once from its fault): from then on only what
 * is touched again is young.  Hints are left as `hints_after`, which starts
 * their budget over.
 */
static int setup2(struct setup *s, int n_cold, int n_hot, const char *hints_first,
		  const char *hints_after)
{
	s->n_cold = n_cold;
	s->n_hot = n_hot;
	if (map_region(&s->r, (size_t)(n_cold + n_hot) * pmd_size))
		return -1;
	s->cold = s->r.p;
	s->hot = s->r.p + n_cold * pmd_size;
	fill(s->r.p, s->r.len, (uintptr_t)s->r.p);
	write_file(KHUGEPAGED "/hints", "0");
	if (madvise(s->r.p, s->r.len, MADV_HUGEPAGE))
		return -1;
	/* The registration may wake khugepaged: let that pass end. */
	sleep(2);
	write_file(KHUGEPAGED "/hints", hints_first);
	if (age())
		return -1;
	write_file(KHUGEPAGED "/hints", hints_after);
	return 0;
}

static int setup(struct setup *s, int n_cold, int n_hot, const char *hints_after)
{
	return setup2(s, n_cold, n_hot, "0", hints_after);
}

/* Writes the range so that its PTEs are young again (see drop_translations()). */
static void touch(char *p, size_t len, uint64_t seed)
{
	drop_translations(p, len);
	fill(p, len, seed);
}

/* Touches the range and ages, `passes` times: young in that many more agings. */
static int heat(char *p, size_t len, uint64_t seed, int passes)
{
	for (int i = 0; i < passes; i++) {
		touch(p, len, seed);
		if (age()) {
			ksft_print_msg("aging: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Heats the range one aging more, up to three times, until at most `want`
 * hints are held: MGLRU's walk skips a page table it cannot trylock, and a
 * range it skips misses that pass.
 */
static int heat_until_held(long want, char *p, size_t len, uint64_t seed)
{
	for (int i = 0; i < 3 && hint_stat("hints_held") > want; i++)
		if (heat(p, len, seed, 1))
			return -1;
	return 0;
}

static void teardown(struct setup *s)
{
	unmap_region(&s->r);
	write_file(KHUGEPAGED "/hints", "1");
}

static bool test_hot_behind_cold(void)
{
	long added, collapsed, served, held;
	struct setup s;
	bool ok = true;
	int got;

	added = hint_stat("hints_added_walk");
	/* Every range is young once, from its fault: all held. */
	if (setup2(&s, 4 * scan_pmds, hot_pmds, "1", "1")) {
		ksft_print_msg("set-up (aging: %s)\n", strerror(errno));
		return false;
	}
	if (hint_stat("hints_added_walk") < added + s.n_cold + s.n_hot) {
		ksft_print_msg("aging hinted %ld ranges touched once, expected %d\n",
			       hint_stat("hints_added_walk") - added, s.n_cold + s.n_hot);
		ok = false;
	}
	held = hint_stat("hints_held");
	collapsed = hint_stat("collapsed_hint_walk");
	served = hint_stat("hints_served");
	/* Young in one more aging: still held, nothing served. */
	if (heat(s.hot, s.n_hot * pmd_size, 0x11, MIN_PASSES - 2)) {
		teardown(&s);
		return false;
	}
	kick_and_wait_pass();
	if (hint_stat("hints_served") != served || nr_thp(s.r.p, s.n_cold + s.n_hot) != 0) {
		ksft_print_msg("a range young in %d agings was served (%ld served, %d THPs)\n",
			       MIN_PASSES - 1, hint_stat("hints_served") - served,
			       nr_thp(s.r.p, s.n_cold + s.n_hot));
		ok = false;
	}
	/* And in one more: served, while the ranges touched once stay held. */
	if (heat(s.hot, s.n_hot * pmd_size, 0x12, 1) ||
	    heat_until_held(held - s.n_hot, s.hot, s.n_hot * pmd_size, 0x12)) {
		teardown(&s);
		return false;
	}
	if (hint_stat("hints_held") != held - s.n_hot) {
		ksft_print_msg("%ld held after the hot ranges' third aging, expected %ld\n",
			       hint_stat("hints_held"), held - s.n_hot);
		ok = false;
	}
	kick();
	got = wait_thp(s.hot, s.n_hot, s.n_hot);
	if (got != s.n_hot) {
		ksft_print_msg("%d of %d hot ranges collapsed after one wake-up\n", got, s.n_hot);
		ok = false;
	}
	if (hint_stat("collapsed_hint_walk") != collapsed + s.n_hot) {
		ksft_print_msg("collapsed_hint_walk moved by %ld, expected %d\n",
			       hint_stat("collapsed_hint_walk") - collapsed, s.n_hot);
		ok = false;
	}
	/* The walk has not got near the hot region, and no cold hint was served. */
	if (nr_thp(s.cold, s.n_cold) != 0) {
		ksft_print_msg("%d cold ranges collapsed too\n", nr_thp(s.cold, s.n_cold));
		ok = false;
	}
	ok = ok && intact(s.hot, s.n_hot * pmd_size, 0x12) &&
	     intact(s.cold, s.n_cold * pmd_size, (uintptr_t)s.r.p);
	teardown(&s);
	return ok;
}

static bool test_hints_off(void)
{
	long added, served;
	struct setup s;
	bool ok = true;

	if (setup(&s, 4 * scan_pmds, hot_pmds, "0")) {
		ksft_print_msg("set-up: %s\n", strerror(errno));
		return false;
	}
	added = hint_stat("hints_added_walk");
	served = hint_stat("hints_served");
	ok = !heat(s.hot, s.n_hot * pmd_size, 0x22, MIN_PASSES);
	if (hint_stat("hints_added_walk") != added || hint_stat("hints_queued") != 0) {
		ksft_print_msg("hints were queued while off\n");
		ok = false;
	}
	kick_and_wait_pass();
	if (nr_thp(s.hot, s.n_hot) != 0) {
		ksft_print_msg("the hot region collapsed on the first wake-up with hints off\n");
		ok = false;
	}
	if (hint_stat("hints_served") != served) {
		ksft_print_msg("hints were served while off\n");
		ok = false;
	}
	ok = ok && intact(s.hot, s.n_hot * pmd_size, 0x22);
	teardown(&s);
	return ok;
}

/* Served hints in the trace that collapsed and say they were young in `min` agings or more. */
static int served_with_passes(int min)
{
	static char buf[65536];
	char *p;
	int n = 0;

	if (read_file(TRACING "/trace", buf, sizeof(buf)) < 0)
		return -1;
	for (p = strstr(buf, "mm_khugepaged_collapse_hint:"); p;
	     p = strstr(p + 1, "mm_khugepaged_collapse_hint:")) {
		char *eol = strchr(p, '\n'), *passes = strstr(p, "passes="),
		     *done = strstr(p, "collapsed=1");

		if (passes && done && (!eol || (passes < eol && done < eol)) &&
		    atoi(passes + 7) >= min)
			n++;
	}
	return n;
}

static bool test_renewed(void)
{
	long dedup, renewed, collapsed, served;
	struct setup s;
	bool ok = true;

	if (setup(&s, 2 * scan_pmds, hot_pmds > 1 ? hot_pmds / 2 : 1, "1")) {
		ksft_print_msg("set-up: %s\n", strerror(errno));
		return false;
	}
	dedup = hint_stat("hints_deduplicated");
	renewed = hint_stat("hints_renewed");
	collapsed = hint_stat("collapsed_hint_walk");
	served = hint_stat("hints_served");
	ok = !heat(s.hot, s.n_hot * pmd_size, 0x33, MIN_PASSES) &&
	     !heat_until_held(0, s.hot, s.n_hot * pmd_size, 0x33);
	if (hint_stat("hints_renewed") < renewed + (MIN_PASSES - 1) * s.n_hot ||
	    hint_stat("hints_deduplicated") < dedup + (MIN_PASSES - 1) * s.n_hot ||
	    hint_stat("hints_queued") != s.n_hot || hint_stat("hints_held") != 0) {
		ksft_print_msg("renewed moved by %ld, deduplicated by %ld, %ld queued, %ld held; expected %d, %d, %d, 0\n",
			       hint_stat("hints_renewed") - renewed,
			       hint_stat("hints_deduplicated") - dedup, hint_stat("hints_queued"),
			       hint_stat("hints_held"), (MIN_PASSES - 1) * s.n_hot,
			       (MIN_PASSES - 1) * s.n_hot, s.n_hot);
		ok = false;
	}
	kick();
	ok = wait_thp(s.hot, s.n_hot, s.n_hot) == s.n_hot && ok;
	if (hint_stat("hints_served") != served + s.n_hot ||
	    hint_stat("collapsed_hint_walk") != collapsed + s.n_hot) {
		ksft_print_msg("served %ld, collapsed %ld; expected %d each\n",
			       hint_stat("hints_served") - served,
			       hint_stat("collapsed_hint_walk") - collapsed, s.n_hot);
		ok = false;
	}
	if (served_with_passes(MIN_PASSES) != s.n_hot) {
		ksft_print_msg("%d served hints traced with passes>=%d, expected %d\n",
			       served_with_passes(MIN_PASSES), MIN_PASSES, s.n_hot);
		ok = false;
	}
	ok = ok && intact(s.hot, s.n_hot * pmd_size, 0x33);
	teardown(&s);
	return ok;
}

static bool test_overflow(void)
{
	int n_hot = hot_pmds > 2 ? hot_pmds : 2, cap = n_hot / 2;
	long dropped;
	struct setup s;
	char buf[16];
	bool ok;

	if (setup(&s, 2 * scan_pmds, n_hot, "1")) {
		ksft_print_msg("set-up: %s\n", strerror(errno));
		return false;
	}
	snprintf(buf, sizeof(buf), "%d", cap);
	ok = !write_file(KHUGEPAGED "/hint_capacity", buf);
	dropped = hint_stat("hints_dropped");
	ok = ok && !heat(s.hot, s.n_hot * pmd_size, 0x44, 1);
	/* One aging: what it found first stays, the rest of that aging is dropped. */
	if (hint_stat("hints_dropped") != dropped + n_hot - cap || hint_stat("hints_queued") != cap) {
		ksft_print_msg("dropped moved by %ld, %ld queued; expected %d and %d\n",
			       hint_stat("hints_dropped") - dropped, hint_stat("hints_queued"),
			       n_hot - cap, cap);
		ok = false;
	}
	/* The kept ones are renewed and rise; the others find no room below them. */
	ok = ok && !heat(s.hot, s.n_hot * pmd_size, 0x45, MIN_PASSES - 1) &&
	     !heat_until_held(0, s.hot, s.n_hot * pmd_size, 0x45);
	kick();
	/* The walk goes up in address: the first ranges were kept. */
	ok = wait_thp(s.hot, cap, cap) == cap && ok;
	if (nr_thp(s.hot + cap * pmd_size, n_hot - cap) != 0) {
		ksft_print_msg("a dropped hint's range collapsed\n");
		ok = false;
	}
	ok = ok && intact(s.hot, s.n_hot * pmd_size, 0x45);
	write_file(KHUGEPAGED "/hint_capacity", "1024");
	teardown(&s);
	return ok;
}

static bool test_exit_with_hints(void)
{
	long added, removed;
	int status, pipefd[2];
	bool ok = true;
	char c = 0;
	pid_t pid;

	added = hint_stat("hints_added_walk");
	removed = hint_stat("hints_removed");
	if (pipe(pipefd))
		return false;
	pid = fork();
	if (pid == 0) {
		struct region r;

		thp_util_reopen_pagemap();
		if (map_region(&r, 3 * pmd_size))
			_exit(1);
		fill(r.p, r.len, 0x55);
		madvise(r.p, r.len, MADV_HUGEPAGE);
		write(pipefd[1], &c, 1);
		pause();
		_exit(0);
	}
	read(pipefd[0], &c, 1);
	ok = !age();
	if (hint_stat("hints_added_walk") < added + 3 || hint_stat("hints_queued") < 3) {
		ksft_print_msg("the child's ranges were not hinted (%ld added)\n",
			       hint_stat("hints_added_walk") - added);
		ok = false;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (hint_stat("hints_queued") != 0 || hint_stat("hints_removed") < removed + 3) {
		ksft_print_msg("%ld hints left queued, %ld removed after the exit\n",
			       hint_stat("hints_queued"), hint_stat("hints_removed") - removed);
		ok = false;
	}
	kick();
	sleep(1);
	close(pipefd[0]);
	close(pipefd[1]);
	return ok;
}

static bool test_stale_hints(void)
{
	long served, stale, collapsed;
	struct setup s;
	bool ok = true;

	if (setup(&s, 0, 3, "1")) {
		ksft_print_msg("set-up: %s\n", strerror(errno));
		return false;
	}
	served = hint_stat("hints_served");
	stale = hint_stat("hints_stale");
	collapsed = hint_stat("collapsed_hint_walk");
	/* Each range filled on its own, as intact() checks them one by one. */
	for (int pass = 0; ok && (pass < MIN_PASSES || (hint_stat("hints_held") > 0 &&
							 pass < MIN_PASSES + 3)); pass++) {
		for (int i = 0; i < 3; i++)
			touch(s.hot + i * pmd_size, pmd_size, 0x66);
		ok = !age();
	}
	ok = ok && wait_queued(3) == 3;
	/* Unmap the first range, make the second one ineligible, keep the third. */
	munmap(s.hot, pmd_size);
	madvise(s.hot + pmd_size, pmd_size, MADV_NOHUGEPAGE);
	kick();
	ok = wait_thp(s.hot + 2 * pmd_size, 1, 1) == 1 && ok;
	if (hint_stat("hints_served") != served + 3 || hint_stat("hints_stale") != stale + 2 ||
	    hint_stat("collapsed_hint_walk") != collapsed + 1) {
		ksft_print_msg("served %ld, stale %ld, collapsed %ld; expected 3, 2, 1\n",
			       hint_stat("hints_served") - served, hint_stat("hints_stale") - stale,
			       hint_stat("collapsed_hint_walk") - collapsed);
		ok = false;
	}
	ok = ok && kpf_pmd_thp(s.hot + pmd_size) == 0 &&
	     intact(s.hot + pmd_size, pmd_size, 0x66) &&
	     intact(s.hot + 2 * pmd_size, pmd_size, 0x66);
	/* The first range is gone already. */
	s.r.base = s.hot + pmd_size;
	s.r.total = 2 * pmd_size;
	munmap(s.r.base, s.r.total);
	write_file(KHUGEPAGED "/hints", "1");
	return ok;
}

static bool test_swap_gate(void)
{
	size_t out = pmd_size / 8 * 5;
	unsigned long pswpout, pswpin, max_swap = read_ulong(KHUGEPAGED "/max_ptes_swap");
	long served, collapsed;
	char buf[32], *x;
	struct setup s;
	bool ok = true;

	if (setup(&s, 4 * scan_pmds, 1, "1")) {
		ksft_print_msg("set-up: %s\n", strerror(errno));
		return false;
	}
	x = s.hot;
	/* Swap-ins allowed up to the whole range: only the referenced check can refuse it. */
	snprintf(buf, sizeof(buf), "%zu", pmd_nr - 1);
	write_file(KHUGEPAGED "/max_ptes_swap", buf);
	pswpout = vmstat("pswpout");
	madvise(x, out, MADV_PAGEOUT);
	if (vmstat("pswpout") < pswpout + out / page_size / 2) {
		ksft_print_msg("MADV_PAGEOUT swapped out %lu pages, expected about %zu (is swap on?)\n",
			       vmstat("pswpout") - pswpout, out / page_size);
		ok = false;
	}
	/* The other 3/8 stay hot: hinted, and served after enough agings. */
	if (heat(x + out, pmd_size - out, 0x99, MIN_PASSES) ||
	    heat_until_held(0, x + out, pmd_size - out, 0x99)) {
		teardown(&s);
		return false;
	}
	served = hint_stat("hints_served");
	collapsed = hint_stat("collapsed_hint_walk");
	pswpin = vmstat("pswpin");
	kick_and_wait_pass();
	if (hint_stat("hints_served") != served + 1 || hint_stat("collapsed_hint_walk") != collapsed ||
	    nr_thp(x, 1) != 0 || vmstat("pswpin") != pswpin) {
		ksft_print_msg("served %ld, collapsed %ld, %d THPs, %lu pages swapped in; expected 1, 0, 0, 0\n",
			       hint_stat("hints_served") - served,
			       hint_stat("collapsed_hint_walk") - collapsed, nr_thp(x, 1),
			       vmstat("pswpin") - pswpin);
		ok = false;
	}
	snprintf(buf, sizeof(buf), "%lu", max_swap);
	write_file(KHUGEPAGED "/max_ptes_swap", buf);
	/* setup() filled the region as one; the hot part was filled again on its own. */
	ok = ok && intact(s.r.p, x + out - s.r.p, (uintptr_t)s.r.p) &&
	     intact(x + out, pmd_size - out, 0x99);
	teardown(&s);
	return ok;
}

static bool test_racing_writes(void)
{
	struct region r;
	pid_t w[2];
	long added;
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		w[i] = fork();
		if (w[i] == 0) {
			for (int n = 0; n < 300; n++)
				write_file(KHUGEPAGED "/hints", (n + i) % 2 ? "1" : "0");
			_exit(0);
		}
	}
	for (int i = 0; i < 2; i++)
		if (w[i] > 0)
			waitpid(w[i], NULL, 0);
	/* Whatever the race left, this is the knob's value from now on. */
	write_file(KHUGEPAGED "/hints", "1");
	/* The writes woke khugepaged: let that pass end before there is anything to collapse. */
	sleep(2);
	if (map_region(&r, pmd_size))
		return false;
	fill(r.p, r.len, 0x88);
	madvise(r.p, r.len, MADV_HUGEPAGE);
	added = hint_stat("hints_added_walk");
	/* Young from its fault: the aging hints it, if the feeders are on. */
	ok = !age();
	if (read_ulong(KHUGEPAGED "/hints") != 1 || hint_stat("hints_added_walk") != added + 1) {
		ksft_print_msg("hints reads %lu, the aging hinted %ld ranges; expected 1 and 1\n",
			       read_ulong(KHUGEPAGED "/hints"), hint_stat("hints_added_walk") - added);
		ok = false;
	}
	ok = ok && intact(r.p, r.len, 0x88);
	unmap_region(&r);
	return ok;
}

/* Sleeps past the time a range unseen has gone cold: 4 pass intervals, 1 s at least. */
static void sleep_past_expiry(void)
{
	long ms = hint_stat("hint_pass_interval_ms") * 4;

	usleep(((ms < 1000 ? 1000 : ms) + 500) * 1000);
}

static bool test_expiry(void)
{
	long expired, served, collapsed;
	struct setup s;
	bool ok = true;
	char *x;

	if (setup(&s, 4 * scan_pmds, 1, "1")) {
		ksft_print_msg("set-up: %s\n", strerror(errno));
		return false;
	}
	x = s.hot;
	expired = hint_stat("hints_expired");
	served = hint_stat("hints_served");
	collapsed = hint_stat("collapsed_hint_walk");
	/* Due (three agings), then cold: when its turn comes it is dropped, not served. */
	if (heat(x, pmd_size, 0x77, MIN_PASSES) || heat_until_held(0, x, pmd_size, 0x77)) {
		teardown(&s);
		return false;
	}
	sleep_past_expiry();
	kick_and_wait_pass();
	if (hint_stat("hints_expired") != expired + 1 || hint_stat("hints_served") != served ||
	    hint_stat("hints_queued") != 0 || nr_thp(x, 1) != 0) {
		ksft_print_msg("a due hint gone cold: %ld expired, %ld served, %ld queued, %d THPs; expected 1, 0, 0, 0\n",
			       hint_stat("hints_expired") - expired,
			       hint_stat("hints_served") - served, hint_stat("hints_queued"),
			       nr_thp(x, 1));
		ok = false;
	}
	/* Held (two agings), then cold, then young again: its count starts over. */
	if (heat(x, pmd_size, 0x78, MIN_PASSES - 1)) {
		teardown(&s);
		return false;
	}
	sleep_past_expiry();
	/* Seen again: until the walk has seen it (see heat_until_held()). */
	for (int i = 0; i < 3 && hint_stat("hints_expired") < expired + 2; i++)
		if (heat(x, pmd_size, 0x79, 1)) {
			teardown(&s);
			return false;
		}
	if (hint_stat("hints_expired") != expired + 2 || hint_stat("hints_held") != 1) {
		ksft_print_msg("a held hint seen again after going cold: %ld expired, %ld held; expected 2 and 1\n",
			       hint_stat("hints_expired") - expired, hint_stat("hints_held"));
		ok = false;
	}
	/* Young in enough agings again, it is served. */
	if (heat(x, pmd_size, 0x7a, MIN_PASSES - 1) || heat_until_held(0, x, pmd_size, 0x7a)) {
		teardown(&s);
		return false;
	}
	kick();
	ok = wait_thp(x, 1, 1) == 1 && ok;
	if (hint_stat("collapsed_hint_walk") != collapsed + 1) {
		ksft_print_msg("collapsed_hint_walk moved by %ld, expected 1\n",
			       hint_stat("collapsed_hint_walk") - collapsed);
		ok = false;
	}
	ok = ok && intact(x, pmd_size, 0x7a) && nr_thp(s.cold, s.n_cold) == 0;
	teardown(&s);
	return ok;
}

/* A refused write fails with EINVAL and leaves the old value. */
static bool refused(const char *file, const char *value)
{
	char path[256], before[64], after[64];

	snprintf(path, sizeof(path), KHUGEPAGED "/%s", file);
	if (read_line(path, before, sizeof(before)) < 0)
		return false;
	errno = 0;
	if (write_file(path, value) == 0 || errno != EINVAL) {
		ksft_print_msg("%s: writing '%s' was not refused with EINVAL\n", file, value);
		return false;
	}
	if (read_line(path, after, sizeof(after)) < 0 || strcmp(before, after)) {
		ksft_print_msg("%s: '%s' changed the value\n", file, value);
		return false;
	}
	return true;
}

static void test_bad_input(void)
{
	const char *bad_hints[] = { "2", "\n", "-1", "1x", "yes", "99999999999999999999" };
	const char *bad_cap[] = { "0", "65537", "\n", "-4", "1k", "4294967297" };
	bool ok = true;

	for (size_t i = 0; i < sizeof(bad_hints) / sizeof(*bad_hints); i++)
		ok = refused("hints", bad_hints[i]) && ok;
	for (size_t i = 0; i < sizeof(bad_cap) / sizeof(*bad_cap); i++)
		ok = refused("hint_capacity", bad_cap[i]) && ok;
	ok = ok && !write_file(KHUGEPAGED "/hint_capacity", "65536") &&
	     read_ulong(KHUGEPAGED "/hint_capacity") == 65536 &&
	     !write_file(KHUGEPAGED "/hint_capacity", "1024");
	ksft_test_result(ok, "bad writes to hints and hint_capacity fail with EINVAL and change nothing\n");
}

/*
 * Runs one case in a child (see the top); the child's exit status is the
 * verdict.  After a failure: the counters and the trace.
 */
static void run_case(bool (*fn)(void), const char *what)
{
	int status = 0;
	pid_t pid;
	bool ok;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		thp_util_reopen_pagemap();
		ok = fn();
		fflush(stdout);
		/* _exit(): the parent's atexit handler restores the settings, not the child's. */
		_exit(ok ? 0 : 1);
	}
	ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	     WEXITSTATUS(status) == 0;
	if (pid > 0 && !WIFEXITED(status))
		ksft_print_msg("the case's process died of signal %d\n", WTERMSIG(status));
	if (!ok)
		dump();
	ksft_test_result(ok, "%s\n", what);
	/* Whatever the case left: hints on, the full queue. */
	write_file(KHUGEPAGED "/hints", "1");
	write_file(KHUGEPAGED "/hint_capacity", "1024");
	clear_trace();
}

int main(void)
{
	char buf[128], what[128];
	struct region keep;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	thp_util_init();
	if (access(KHUGEPAGED "/hint_stats", F_OK))
		ksft_exit_skip("no collapse hints in this kernel\n");
	if (access(LRU_GEN, F_OK))
		ksft_exit_skip("no %s\n", LRU_GEN);
	ksft_set_plan(10);
	size_cases();
	setup_thp();
	set_mode(THP_DIR "/enabled", "madvise");
	snprintf(buf, sizeof(buf), THP_DIR "/hugepages-%zukB/enabled", pmd_size >> 10);
	set_mode(buf, "inherit");
	set_mode(LRU_GEN_ENABLED, "y");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * scan_pmds);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", SLEEP_MS);
	set_mode(KHUGEPAGED "/hints", "1");
	set_mode(KHUGEPAGED "/hint_capacity", "1024");
	write_file(TRACING "/events/huge_memory/mm_khugepaged_collapse_hint/enable", "1");
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan_pmd/enable", "1");
	write_file(TRACING "/events/huge_memory/mm_khugepaged_scan/enable", "1");
	clear_trace();

	test_bad_input();
	/* Aging hints only where it walks page tables: the cases below age by hand. */
	if (!lru_gen_walks(buf, sizeof(buf))) {
		static const char *const walked[] = {
			"hot behind cold", "hints off", "renewed", "overflow", "expiry",
			"exit with hints queued", "stale hints", "racing writes", "swap gate",
		};

		ksft_print_msg("lru_gen/enabled is %s: MGLRU does not walk page tables on this machine (no hardware access bit), so aging feeds no hints\n",
			       buf);
		for (size_t i = 0; i < sizeof(walked) / sizeof(*walked); i++)
			ksft_test_result_skip("%s: needs MGLRU's page-table walk\n", walked[i]);
		ksft_finished();
	}
	/*
	 * Keep this mm, and so every case's child from fork on, registered,
	 * so that khugepaged's list of mms is never empty: registering into
	 * an empty list wakes khugepaged at once, and that pass would collapse
	 * a case's young ranges before aging could hint them.  Registering
	 * needs an anon_vma, hence the fault; the page goes again so that
	 * the range has nothing to collapse.
	 */
	if (map_region(&keep, pmd_size))
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	keep.p[0] = 1;
	if (madvise(keep.p, page_size, MADV_DONTNEED) || madvise(keep.p, keep.len, MADV_HUGEPAGE))
		ksft_exit_fail_msg("an MADV_HUGEPAGE region to stay registered: %s\n",
				   strerror(errno));
	ksft_print_msg("%zu MB PMDs: %d hot ranges, %d cold, %d PMDs a wake-up\n", pmd_size >> 20,
		       hot_pmds, 4 * scan_pmds, scan_pmds);
	snprintf(what, sizeof(what),
		 "memory touched once is held; a hot region behind %d cold PMDs is collapsed first, on the first wake-up after its third aging",
		 4 * scan_pmds);
	run_case(test_hot_behind_cold, what);
	run_case(test_hints_off, "hints off: aging queues nothing, the wake-up is the plain walk");
	run_case(test_renewed, "a range young in three agings is queued once, renewed twice, collapsed once");
	run_case(test_overflow,
		 "a full queue keeps what an aging found first and counts the rest as dropped; the kept are served");
	run_case(test_expiry,
		 "a range unseen for four pass intervals has gone cold: held, it starts over; due, it is dropped");
	run_case(test_exit_with_hints, "an mm that exits with hints queued leaves none behind");
	run_case(test_stale_hints, "hints for an unmapped or ineligible range fail cleanly");
	run_case(test_racing_writes,
		 "after racing writes to hints, writing 1 leaves the feeders on: the next aging hints");
	run_case(test_swap_gate,
		 "a hint counts only the PTEs it found young: 3/8 young, 5/8 swapped out is refused, nothing swapped in");

	ksft_finished();
}
