// SPDX-License-Identifier: GPL-2.0
/*
 * soak - everything that changes anonymous memory, racing khugepaged and
 * MADV_COLLAPSE, for minutes to hours, with every byte checked.
 *
 * khugepaged scans without sleeping, with a large pages_to_scan, every mTHP
 * size on and (khugepaged-rs) hints on, MGLRU aging forced every few seconds.
 * The processes:
 *   - WORKERS workers (the last one in a memory cgroup held under its working
 *     set, so that it swaps to zram all the time), each owning a region of
 *     PMD ranges and a model of what every page of it must hold.  In a loop
 *     they write, MADV_COLLAPSE, fork (the child checks and CoWs), munmap and
 *     mmap, mremap (move, shrink, grow), split with mprotect, madvise
 *     (DONTNEED, FREE, PAGEOUT, COLD, WILLNEED, POPULATE_READ/WRITE), fill
 *     through userfaultfd (missing) and write under its write protection,
 *     migrate (move_pages(), migrate_pages()), read from a block device with
 *     O_DIRECT and through io_uring's registered buffers, vmsplice into a
 *     pipe, pin long-term (gup_test), spawn processes that exit at once, and
 *     MADV_COLLAPSE with random arguments over a zoo of mappings.  Each also
 *     owns a memfd and, where the guest has an XFS disk (x86_64), a file on
 *     it, mapped shared: written, collapsed, truncated and punched (the memfd
 *     only), paged out, and mapped again by a child that collapses it there
 *     and CoWs a private mapping of it (soak_cache.c).  Each round
 *     ends with every page checked against the model: a pinned page must
 *     still be the mapped one (what is written through the mapping arrives
 *     through the pin, and the other way round).
 *   - a collapser: process_madvise(MADV_COLLAPSE) on the workers' regions,
 *     with good and hostile arguments;
 *   - a reader of the workers' /proc/PID/pagemap, smaps and kpageflags;
 *   - the parent: random and hostile writes to every khugepaged knob and to
 *     THP's enabled modes (a refused write keeps the old value), max_ptes_*
 *     at either end in turn, aging, compaction.
 * Only the errors 7.3 documents are allowed.  At the end: counts of each
 * operation, the collapses, the bytes checked, and kernel memory, which must
 * be flat.  tools/vm/run fails the run on any kernel report.
 *
 *   soak [--seconds=N] [--round=SECONDS] [--workers=N]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "../../../mm/gup_test.h"

#include "guest_util.h"
#include "thp_util.h"
#include "soak.h"

#define XFS_DIR "/tmp/soak-xfs"


/* ------------------------------------------------ the collapser and the reader */

static bool pm_errno_ok(int e)
{
	return e == EAGAIN || e == EBUSY || e == EINVAL || e == ENOMEM || e == ESRCH;
}

static int collapser_main(void)
{
	int pidfd[MAX_WORKERS];

	rng = 0xc0ffee;
	for (int i = 0; i < sh->nr_workers; i++)
		pidfd[i] = syscall(SYS_pidfd_open, sh->pids[i], 0);
	while (!atomic_load(&sh->stop)) {
		int i = rnd_below(sh->nr_workers);
		struct iovec v[4];
		int nv = 1 + rnd_below(4);
		long ret;

		if (!sh->len[i] || pidfd[i] < 0) {
			usleep(1000);
			continue;
		}
		for (int k = 0; k < nv; k++) {
			size_t pmd = rnd_below(sh->len[i] / pmd_size);

			v[k].iov_base = (char *)sh->start[i] + pmd * pmd_size;
			v[k].iov_len = pmd_size * (1 + rnd_below(sh->len[i] / pmd_size - pmd));
		}
		if (rnd_below(4)) {
			atomic_fetch_add(&sh->ops[OP_process_madvise], 1);
			ret = syscall(SYS_process_madvise, pidfd[i], v, nv, MADV_COLLAPSE, 0);
			if (ret >= 0)
				atomic_fetch_add(&sh->madv_collapsed, 1);
			else if (!pm_errno_ok(errno))
				fail("process_madvise(MADV_COLLAPSE): %s\n", strerror(errno));
			continue;
		}
		/* Hostile: each must fail with the error process_madvise(2) documents. */
		atomic_fetch_add(&sh->ops[OP_process_madvise_fuzz], 1);
		switch (rnd_below(5)) {
		case 0:
			ret = syscall(SYS_process_madvise, pidfd[i], v, nv, MADV_COLLAPSE, 1);
			if (ret >= 0 || errno != EINVAL)
				fail("process_madvise with flags 1: %ld, %s\n", ret, strerror(errno));
			break;
		case 1:
			ret = syscall(SYS_process_madvise, pidfd[i], v, IOV_MAX + 1, MADV_COLLAPSE, 0);
			if (ret >= 0 || errno != EINVAL)
				fail("process_madvise of IOV_MAX + 1 vectors: %ld, %s\n", ret,
				     strerror(errno));
			break;
		case 2:
			ret = syscall(SYS_process_madvise, pidfd[i], (void *)16, nv, MADV_COLLAPSE, 0);
			if (ret >= 0 || errno != EFAULT)
				fail("process_madvise of a bad vector: %ld, %s\n", ret, strerror(errno));
			break;
		case 3:
			ret = syscall(SYS_process_madvise, 1000000, v, nv, MADV_COLLAPSE, 0);
			if (ret >= 0 || errno != EBADF)
				fail("process_madvise on a bad pidfd: %ld, %s\n", ret, strerror(errno));
			break;
		default:
			/* Unaligned, overflowing or unmapped ranges. */
			v[0].iov_base = (char *)v[0].iov_base + rnd_below(3) * (page_size / 2) -
					rnd_below(2) * 64 * pmd_size;
			v[0].iov_len = rnd_below(2) ? SIZE_MAX - page_size : v[0].iov_len + 1;
			ret = syscall(SYS_process_madvise, pidfd[i], v, 1, MADV_COLLAPSE, 0);
			if (ret < 0 && !pm_errno_ok(errno) && errno != EFAULT)
				fail("process_madvise(%p, %#zx): %s\n", v[0].iov_base, v[0].iov_len,
				     strerror(errno));
		}
	}
	return 0;
}

static void read_all(const char *path)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static int reader_main(void)
{
	rng = 0xfeed;
	while (!atomic_load(&sh->stop)) {
		int i = rnd_below(sh->nr_workers);
		uint64_t pm[512], flags;
		char path[64];
		int fd, kfd;

		atomic_fetch_add(&sh->ops[OP_pagemap_smaps_read], 1);
		snprintf(path, sizeof(path), "/proc/%d/smaps", sh->pids[i]);
		read_all(path);
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", sh->pids[i]);
		read_all(path);
		snprintf(path, sizeof(path), "/proc/%d/pagemap", sh->pids[i]);
		fd = open(path, O_RDONLY);
		kfd = open("/proc/kpageflags", O_RDONLY);
		for (size_t off = 0; fd >= 0 && off < sh->len[i]; off += 512 * page_size) {
			ssize_t got = pread(fd, pm, sizeof(pm), (sh->start[i] + off) / page_size * 8);

			for (ssize_t k = 0; kfd >= 0 && k < got / 8; k += 64)
				if (pm[k] & PM_PRESENT)
					pread(kfd, &flags, 8, (pm[k] & PM_PFN_MASK) * 8);
		}
		if (fd >= 0)
			close(fd);
		if (kfd >= 0)
			close(kfd);
	}
	return 0;
}

/* ------------------------------------------------ knobs: the soak's settings and fuzzing */

static char knob_paths[32][512];
static int nr_knobs;
static int phase;

static void soak_settings(void)
{
	const char *ptes[] = { "max_ptes_none", "max_ptes_swap", "max_ptes_shared" };
	char path[256], buf[32];
	glob_t g;

	set_mode(THP_DIR "/enabled", phase % 3 == 2 ? "always" : "madvise");
	/* The workers' memfds and the tmpfs zoo file: khugepaged collapses them (MADV_HUGEPAGE). */
	set_mode(THP_DIR "/shmem_enabled", "advise");
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "0");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	snprintf(buf, sizeof(buf), "%zu", 8 * pmd_nr);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	if (!access(KHUGEPAGED "/hints", F_OK))
		set_mode(KHUGEPAGED "/hints", "1");
	/* max_ptes_* at either end in turn. */
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), KHUGEPAGED "/%s", ptes[i]);
		snprintf(buf, sizeof(buf), "%zu", phase % 2 ? 0 : (i ? pmd_nr / 2 : pmd_nr - 1));
		set_mode(path, buf);
	}
	/* Every mTHP size on (PMD-sized ones follow the top-level mode). */
	if (glob(THP_DIR "/hugepages-*kB/enabled", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			set_mode(g.gl_pathv[i], phase % 2 ? "inherit" : "always");
		globfree(&g);
	}
}

static void find_knobs(void)
{
	DIR *d = opendir(KHUGEPAGED);
	struct dirent *e;

	while (d && (e = readdir(d)) && nr_knobs < 32) {
		struct stat st;
		char path[512];

		snprintf(path, sizeof(path), KHUGEPAGED "/%s", e->d_name);
		if (e->d_name[0] != '.' && !stat(path, &st) && S_ISREG(st.st_mode) &&
		    (st.st_mode & S_IWUSR))
			strcpy(knob_paths[nr_knobs++], path);
	}
	if (d)
		closedir(d);
}

/* One hostile or random write; a refused write must leave the value as it was. */
static void fuzz_knob(void)
{
	static const char *const hostile[] = {
		"", "\n", "-1", "4294967296", "18446744073709551616", "0x10", " 5", "5 5",
		"abc", "1e3", "+", "%s%n", "007", "4294967295", "2147483648", "0\n\n",
	};
	char before[256], after[256], val[5000];
	const char *path;
	bool enabled = rnd_below(4) == 0;
	int fd;
	ssize_t ret;

	if (enabled) {
		static const char *const modes[] = { "always", "madvise", "never", "inherit",
						     "alway", "[never]", "", "always madvise" };

		path = THP_DIR "/enabled";
		snprintf(val, sizeof(val), "%s", modes[rnd_below(8)]);
		atomic_fetch_add(&sh->ops[OP_enabled_write], 1);
	} else {
		path = knob_paths[rnd_below(nr_knobs)];
		switch (rnd_below(4)) {
		case 0:
			snprintf(val, sizeof(val), "%s", hostile[rnd_below(16)]);
			break;
		case 1:
			memset(val, '9', sizeof(val) - 1);
			val[sizeof(val) - 1] = '\0';
			break;
		default:
			snprintf(val, sizeof(val), "%llu", (unsigned long long)(rnd() >> rnd_below(64)));
		}
		atomic_fetch_add(&sh->ops[OP_knob_write], 1);
	}
	if (read_file(path, before, sizeof(before)))
		return;
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	ret = write(fd, val, strlen(val));
	/* What the kernel's number parsers return: EINVAL, or ERANGE for too large a number. */
	if (ret < 0 && errno != EINVAL && errno != ERANGE)
		fail("%s: writing \"%.40s\": %s\n", path, val, strerror(errno));
	close(fd);
	read_file(path, after, sizeof(after));
	if (ret < 0 && strcmp(before, after))
		fail("%s: a refused write of \"%.40s\" changed it from %s to %s\n", path, val, before,
		     after);
	/* Back to the soak's settings before khugepaged runs long on a hostile value. */
	if (ret >= 0)
		write_file(path, before);
	if (enabled && ret >= 0)
		write_file(path, phase % 3 == 2 ? "always" : "madvise");
}

/* ------------------------------------------------ set-up */

/* A zram device holding a known pattern, for O_DIRECT and io_uring reads. */
static void set_up_device(void)
{
	char buf[64], path[64];
	char *pat;
	int id, fd;

	if (read_line("/sys/class/zram-control/hot_add", buf, sizeof(buf)))
		return;
	id = atoi(buf);
	zram_id = id;
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", id);
	dev_pages = 1024;
	snprintf(buf, sizeof(buf), "%zu", dev_pages * page_size);
	if (write_file(path, buf))
		return;
	snprintf(path, sizeof(path), "/dev/zram%d", id);
	fd = open(path, O_RDWR);
	pat = aligned_alloc(page_size, page_size);
	for (size_t b = 0; fd >= 0 && b < dev_pages; b++) {
		page_fill(pat, dev_seed(b));
		if (pwrite(fd, pat, page_size, b * page_size) != (ssize_t)page_size) {
			close(fd);
			fd = -1;
		}
	}
	free(pat);
	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
	zram_fd = open(path, O_RDONLY | O_DIRECT);
}

/*
 * The XFS disk tools/vm/soak gives the guest where it can (x86_64): the
 * workers' files go there (soak_cache.c).
 */
static void set_up_xfs(void)
{
	char fs[4096];

	if (access("/dev/vda", F_OK) || read_file("/proc/filesystems", fs, sizeof(fs)) ||
	    !strstr(fs, "\txfs\n"))
		return;
	mkdir(XFS_DIR, 0755);
	if (mount("/dev/vda", XFS_DIR, "xfs", 0, NULL))
		ksft_print_msg("mount /dev/vda on %s: %s\n", XFS_DIR, strerror(errno));
	else
		soak_file_dir = XFS_DIR;
}

static bool set_up_memcg(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL);
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	mkdir(CGROUP, 0755);
	/* Reclaim above two thirds of a worker's region: it swaps all the time. */
	char buf[32];

	snprintf(buf, sizeof(buf), "%zu", REGION_PMDS * pmd_size * 2 / 3);
	return !write_file(CGROUP "/memory.high", buf);
}

static void print_stats(const char *dir, const char *prefix, long *before, int *n, bool print)
{
	char path[512], buf[64];
	glob_t g;

	snprintf(path, sizeof(path), "%s/%s*", dir, prefix);
	if (glob(path, 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		long v = read_line(g.gl_pathv[i], buf, sizeof(buf)) ? -1 : atol(buf);

		if (print && v - before[*n])
			ksft_print_msg("  %-60s %ld\n", g.gl_pathv[i] + strlen(THP_DIR) + 1,
				       v - before[*n]);
		before[(*n)++] = v;
	}
	globfree(&g);
}

/* Per-size collapse counters: their values at the start, then what they moved. */
static void size_stats(long *v, bool print)
{
	glob_t g;
	int n = 0;

	if (glob(THP_DIR "/hugepages-*kB/stats", 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc && n < 900; i++)
		print_stats(g.gl_pathv[i], "collapse", v, &n, print);
	globfree(&g);
}

int main(int argc, char **argv)
{
	int seconds = 150, workers = 4, status, exits_bad = 0;
	double round_secs = 10, end, next_age = 0, next_compact = 0, next_phase = 0;
	unsigned long alloc0, alloc_failed0, collapsed0, scans0;
	static const char *const events[] = { "pswpout", "pswpin", "pgmigrate_success",
					      "pgmigrate_fail", "compact_success", "thp_split_pmd",
					      "thp_fault_alloc", "thp_deferred_split_page",
					      "thp_file_mapped", "thp_split_page" };
	const int nr_events = sizeof(events) / sizeof(events[0]);
	unsigned long events0[sizeof(events) / sizeof(events[0])];
	static long size0[1024];
	char hints0[2048] = "", hints1[2048] = "";
	pid_t helpers[2];
	struct mem_snap s0, s1;
	bool memcg;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--seconds=", 10))
			seconds = atoi(argv[i] + 10);
		else if (!strncmp(argv[i], "--round=", 8))
			round_secs = atof(argv[i] + 8);
		else if (!strncmp(argv[i], "--workers=", 10))
			workers = atoi(argv[i] + 10);
	}
	if (workers < 1 || workers > MAX_WORKERS)
		workers = 4;
	ksft_print_header();
	thp_util_init();
	ksft_set_plan(3);
	setvbuf(stdout, NULL, _IOLBF, 0);
	restore_settings_at_exit();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	sh->nr_workers = workers;

	/* What this kernel offers: each missing piece is said, and its operations skipped. */
	{
		char buf[64];
		int fd = syscall(SYS_userfaultfd, O_CLOEXEC);
		struct io_uring_params prm = { 0 };

		have_uffd = fd >= 0;
		if (fd >= 0)
			close(fd);
		fd = syscall(__NR_io_uring_setup, 1, &prm);
		have_uring = fd >= 0;
		if (fd >= 0)
			close(fd);
		if (!read_line("/sys/devices/system/node/online", buf, sizeof(buf)) &&
		    strchr(buf, '-'))
			nr_nodes = atoi(strchr(buf, '-') + 1) + 1;
	}
	set_up_device();
	set_up_xfs();
	gup_fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	memcg = set_up_memcg();
	find_knobs();
	ksft_print_msg("%d s in rounds of %.0f s, %d workers of %d PMDs; nodes %d, userfaultfd %s, io_uring %s, O_DIRECT device %s, gup_test %s, memcg %s, XFS file %s, %d knobs\n",
		       seconds, round_secs, workers, REGION_PMDS, nr_nodes, have_uffd ? "yes" : "no",
		       have_uring ? "yes" : "no", zram_fd >= 0 ? "yes" : "no",
		       gup_fd >= 0 ? "yes" : "no", memcg ? "yes" : "no",
		       soak_file_dir ? "yes" : "no", nr_knobs);

	mem_snapshot(&s0);
	alloc0 = vmstat("thp_collapse_alloc");
	alloc_failed0 = vmstat("thp_collapse_alloc_failed");
	collapsed0 = read_ulong(KHUGEPAGED "/pages_collapsed");
	scans0 = read_ulong(KHUGEPAGED "/full_scans");
	read_file(KHUGEPAGED "/hint_stats", hints0, sizeof(hints0));
	size_stats(size0, false);
	for (int i = 0; i < nr_events; i++)
		events0[i] = vmstat(events[i]);
	soak_settings();

	for (int i = 0; i < workers; i++) {
		/* Not fork()'s value straight into shared memory: the child would write 0. */
		pid_t pid = fork();

		if (pid == 0)
			_exit(worker_main(i, memcg && i == workers - 1, round_secs));
		sh->pids[i] = pid;
	}
	helpers[0] = fork();
	if (helpers[0] == 0)
		_exit(collapser_main());
	helpers[1] = fork();
	if (helpers[1] == 0)
		_exit(reader_main());

	rng = 0x5eed;
	end = now() + seconds;
	while (now() < end && !atomic_load(&sh->stop)) {
		double t = now();

		if (t >= next_phase) {
			phase++;
			restore_settings();
			soak_settings();
			next_phase = t + round_secs * 1.5;
		}
		if (t >= next_age) {
			atomic_fetch_add(&sh->ops[OP_aging], 1);
			lru_gen_age("/");
			if (memcg)
				lru_gen_age("/soak");
			next_age = t + 2;
		}
		if (t >= next_compact) {
			atomic_fetch_add(&sh->ops[OP_compaction], 1);
			write_file("/proc/sys/vm/compact_memory", "1");
			next_compact = t + 7;
		}
		fuzz_knob();
		usleep(20000);
	}
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < workers; i++) {
		if (waitpid(sh->pids[i], &status, 0) != sh->pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			ksft_print_msg("worker %d ended with status %#x\n", i, status);
			exits_bad++;
		}
	}
	waitpid(helpers[0], NULL, 0);
	waitpid(helpers[1], NULL, 0);
	restore_settings();

	ksft_print_msg("rounds (of all workers): %ld\n", atomic_load(&sh->rounds));
	ksft_print_msg("operations:\n");
	for (int i = 0; i < NR_OPS; i++)
		ksft_print_msg("  %-22s %10ld%s\n", op_names[i], atomic_load(&sh->ops[i]),
			       atomic_load(&sh->skipped[i]) ? " (some skipped)" : "");
	for (int i = 0; i < NR_OPS; i++)
		if (atomic_load(&sh->skipped[i]))
			ksft_print_msg("  %-22s %10ld skipped (not on this kernel, or busy)\n",
				       op_names[i], atomic_load(&sh->skipped[i]));
	ksft_print_msg("collapses: thp_collapse_alloc %lu (failed %lu), khugepaged pages_collapsed %lu, full_scans %lu, MADV_COLLAPSE/process_madvise successes %ld\n",
		       vmstat("thp_collapse_alloc") - alloc0,
		       vmstat("thp_collapse_alloc_failed") - alloc_failed0,
		       read_ulong(KHUGEPAGED "/pages_collapsed") - collapsed0,
		       read_ulong(KHUGEPAGED "/full_scans") - scans0,
		       atomic_load(&sh->madv_collapsed));
	ksft_print_msg("what else the kernel did:");
	for (int i = 0; i < nr_events; i++)
		printf(" %s %lu", events[i], vmstat(events[i]) - events0[i]);
	printf("\n");
	ksft_print_msg("per-size collapse counters that moved:\n");
	size_stats(size0, true);
	if (!read_file(KHUGEPAGED "/hint_stats", hints1, sizeof(hints1))) {
		char *a, *b, *sa, *sb;

		ksft_print_msg("hint_stats that moved:\n");
		for (a = strtok_r(hints0, "\n", &sa), b = strtok_r(hints1, "\n", &sb); a && b;
		     a = strtok_r(NULL, "\n", &sa), b = strtok_r(NULL, "\n", &sb)) {
			char *va = strrchr(a, ' '), *vb = strrchr(b, ' ');

			if (va && vb && atol(vb) != atol(va))
				ksft_print_msg("  %.*s %ld\n", (int)(vb - b), b,
					       atol(vb) - atol(va));
		}
	}
	ksft_print_msg("bytes verified: %ld (%.1f MB)\n", atomic_load(&sh->bytes_verified),
		       atomic_load(&sh->bytes_verified) / 1048576.0);
	ksft_test_result(!atomic_load(&sh->failed) && !exits_bad && atomic_load(&sh->rounds) > 0,
			 "every page as its model says at the end of every round\n");
	ksft_test_result(!atomic_load(&sh->failed) && atomic_load(&sh->ops[OP_knob_write]) > 0,
			 "knobs and MADV_COLLAPSE arguments: only documented errors, old values kept\n");

	/* What the soak set up goes before memory is compared: the device, the cgroup. */
	if (zram_fd >= 0)
		close(zram_fd);
	if (zram_id >= 0) {
		char path[64], id[16];

		snprintf(path, sizeof(path), "/sys/block/zram%d/reset", zram_id);
		write_file(path, "1");
		snprintf(id, sizeof(id), "%d", zram_id);
		write_file("/sys/class/zram-control/hot_remove", id);
	}
	rmdir(CGROUP);
	if (soak_file_dir)
		umount(soak_file_dir);
	mem_snapshot(&s1);
	ksft_test_result(mem_all_flat(&s0, &s1), "kernel memory is flat across the soak\n");
	ksft_finished();
}
