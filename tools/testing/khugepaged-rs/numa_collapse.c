// SPDX-License-Identifier: GPL-2.0
/*
 * numa_collapse - on which NUMA node a collapse puts the huge page.
 *
 * 7.3 allocates a collapse's huge page only on the nodes holding the most
 * pages of the range (collapse_find_target_node(), cc->alloc_nmask): the
 * first of them preferred, no fallback elsewhere.  Needs two online nodes
 * (tools/vm/run --numa 2); every case is skipped otherwise.
 *
 *   1. MADV_COLLAPSE of a range with 3/4 of its pages on node 1 and 1/4 on
 *      node 0 gives a huge page on node 1;
 *   2. so does khugepaged;
 *   3. a thread whose cgroup-v2 cpuset allows node 0 only collapses, by
 *      MADV_COLLAPSE, a range whose pages are all on node 1: the mask {1}
 *      and the cpuset have no node in common, and the page allocator then
 *      drops the mask (check_retry_cpuset()), so the huge page lands on node
 *      0.  The thread alone is moved, into a threaded cgroup: moving a
 *      process makes the cpuset migrate its memory;
 *   4. with node 1's watermarks lifted above what it has free (a filler
 *      bound to node 1 takes most of it, then min_free_kbytes rises; swap
 *      off, so that reclaim cannot undo it), khugepaged with defrag 0 cannot
 *      allocate for a range whose pages are all on node 1: it counts
 *      thp_collapse_alloc_failed and leaves the small pages on node 1, where
 *      an allocation without the mask falls back to node 0.
 *
 * The contents are checked after each case.  Node placement is read with
 * move_pages(2) without target nodes, which reports each page's node.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

#ifndef MPOL_DEFAULT
#define MPOL_DEFAULT	0
#define MPOL_BIND	2
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define CGROOT "/sys/fs/cgroup"
/* Case 3: a threaded subtree, the process in PROC_CG, one thread in THREAD_CG. */
#define PROC_CG CGROOT "/numa_collapse"
#define THREAD_CG PROC_CG "/node0"
#define MIN_FREE "/proc/sys/vm/min_free_kbytes"
#define NODE1_MEMINFO "/sys/devices/system/node/node1/meminfo"
/* tools/vm/run's swap. */
#define SWAP_DEV "/dev/zram0"

/* ------------------------------------------------ nodes */

/* Writes s to path, saying so if it fails. */
static bool write_checked(const char *path, const char *s)
{
	if (!write_file(path, s))
		return true;
	ksft_print_msg("writing '%s' to %s: %s\n", s, path, strerror(errno));
	return false;
}


/* The calling thread allocates from node only (-1: the default policy again). */
static int bind_to(int node)
{
	unsigned long mask = node < 0 ? 0 : 1UL << node;

	return syscall(SYS_set_mempolicy, node < 0 ? MPOL_DEFAULT : MPOL_BIND,
		       node < 0 ? NULL : &mask, 8 * sizeof(mask));
}

/*
 * Counts the pages of [p, p + pmd_size) per node (count[0], count[1]),
 * others in count[2]; false if move_pages() fails.
 */
static bool node_counts(char *p, int count[3])
{
	void **pages = calloc(pmd_nr, sizeof(*pages));
	int *status = calloc(pmd_nr, sizeof(*status));
	bool ok = pages && status;
	size_t i;

	count[0] = count[1] = count[2] = 0;
	for (i = 0; ok && i < pmd_nr; i++)
		pages[i] = p + i * page_size;
	if (ok && syscall(SYS_move_pages, 0, pmd_nr, pages, NULL, status, 0)) {
		ksft_perror("move_pages");
		ok = false;
	}
	for (i = 0; ok && i < pmd_nr; i++)
		count[status[i] == 0 || status[i] == 1 ? status[i] : 2]++;
	free(pages);
	free(status);
	return ok;
}

static bool two_nodes(void)
{
	char buf[64];

	return !read_line("/sys/devices/system/node/online", buf, sizeof(buf)) &&
	       !strcmp(buf, "0-1");
}

/*
 * Maps a PMD range and fills it, its first quarter_on_0 quarters on node 0
 * and the rest on node 1, in small pages (THP is madvise, and the range not
 * yet MADV_HUGEPAGE).  Checks where the pages went.
 */
static bool populate(struct region *r, int quarters_on_0, uint64_t seed)
{
	size_t split = pmd_size / 4 * quarters_on_0;
	int count[3];

	if (map_region(r, pmd_size)) {
		ksft_perror("mmap");
		return false;
	}
	if (bind_to(0)) {
		ksft_perror("set_mempolicy");
		return false;
	}
	fill(r->p, split, seed);
	if (bind_to(1)) {
		ksft_perror("set_mempolicy");
		bind_to(-1);
		return false;
	}
	fill(r->p + split, pmd_size - split, seed ^ split);
	bind_to(-1);
	if (!node_counts(r->p, count))
		return false;
	if (count[0] != (int)(split / page_size) ||
	    count[1] != (int)((pmd_size - split) / page_size)) {
		ksft_print_msg("precondition: %d pages on node 0, %d on node 1, %d elsewhere; wanted %zu and %zu\n",
			       count[0], count[1], count[2], split / page_size,
			       (pmd_size - split) / page_size);
		return false;
	}
	return true;
}

static bool contents_intact(struct region *r, int quarters_on_0, uint64_t seed)
{
	size_t split = pmd_size / 4 * quarters_on_0;

	return intact(r->p, split, seed) &&
	       intact(r->p + split, pmd_size - split, seed ^ split);
}

/* Whether the range is one huge page, and it lies on node. */
static bool huge_on(struct region *r, int node)
{
	int thp = kpf_pmd_thp(r->p), count[3];

	if (thp != 1 && anon_huge_kb(r->p) != (long)(pmd_size / 1024)) {
		ksft_print_msg("the range is not one huge page (kpageflags %d, AnonHugePages %ld kB)\n",
			       thp, anon_huge_kb(r->p));
		return false;
	}
	if (!node_counts(r->p, count))
		return false;
	if (count[node] != (int)pmd_nr) {
		ksft_print_msg("the huge page is on node %d, expected node %d\n",
			       count[0] ? 0 : count[1] ? 1 : -1, node);
		return false;
	}
	return true;
}

/* The range is still the small pages populate() left, all on node 1. */
static bool small_on_1(struct region *r)
{
	int count[3];

	if (!node_counts(r->p, count))
		return false;
	if (anon_huge_kb(r->p) != 0 || kpf_pmd_thp(r->p) == 1) {
		ksft_print_msg("the range was collapsed, onto node %d\n",
			       count[0] ? 0 : count[1] ? 1 : -1);
		return false;
	}
	if (count[1] != (int)pmd_nr) {
		ksft_print_msg("%d pages on node 0, %d on node 1: they moved\n",
			       count[0], count[1]);
		return false;
	}
	return true;
}

/*
 * Waits until khugepaged collapsed the range, counted an allocation failure
 * (beyond failed_before), or finished two more full scans.
 */
static void wait_khugepaged(struct region *r, unsigned long failed_before)
{
	unsigned long start = read_ulong(KHUGEPAGED "/full_scans");
	int i;

	for (i = 0; i < 400; i++) {
		if (anon_huge_kb(r->p) > 0 ||
		    vmstat("thp_collapse_alloc_failed") > failed_before ||
		    read_ulong(KHUGEPAGED "/full_scans") >= start + 2)
			return;
		usleep(50000);
	}
}

/* A field of node 1's meminfo, in kB, or -1. */
static long node1_kb(const char *field)
{
	char buf[4096];

	if (read_file(NODE1_MEMINFO, buf, sizeof(buf)))
		return -1;
	return meminfo_field(buf, field);
}

/*
 * Faults THPs of a filler mapping bound to node 1 until node 1 has less
 * than FILLER_LEFT_MB free: far less than node 0, yet far above its
 * watermarks, so that nothing needs reclaim.
 */
#define FILLER_LEFT_MB 64
static bool fill_node1(struct region *f)
{
	unsigned long mask = 1UL << 1;
	long total = node1_kb("MemTotal:");
	size_t off;

	if (total <= 0) {
		ksft_print_msg("cannot read node 1's meminfo\n");
		return false;
	}
	if (map_region(f, (size_t)total * 1024 / pmd_size * pmd_size)) {
		ksft_perror("mmap");
		return false;
	}
	if (syscall(SYS_mbind, f->p, f->len, MPOL_BIND, &mask, 8 * sizeof(mask), 0) ||
	    madvise(f->p, f->len, MADV_HUGEPAGE)) {
		ksft_perror("mbind or MADV_HUGEPAGE");
		return false;
	}
	for (off = 0; off < f->len && node1_kb("MemFree:") > FILLER_LEFT_MB * 1024;
	     off += pmd_size)
		f->p[off] = 1;
	/* khugepaged leaves the filler alone. */
	madvise(f->p, f->len, MADV_NOHUGEPAGE);
	if (node1_kb("MemFree:") > FILLER_LEFT_MB * 1024) {
		ksft_print_msg("node 1 still has %ld kB free\n", node1_kb("MemFree:"));
		return false;
	}
	return true;
}

/* ------------------------------------------------ cgroups */

static bool cgroup_setup(void)
{
	struct stat st;

	if (stat(CGROOT "/cgroup.controllers", &st) &&
	    (mkdir(CGROOT, 0755), mount("none", CGROOT, "cgroup2", 0, NULL))) {
		ksft_perror("mount cgroup2");
		return false;
	}
	if (write_file(CGROOT "/cgroup.subtree_control", "+cpuset")) {
		ksft_perror("enabling cpuset in " CGROOT);
		return false;
	}
	return true;
}

static bool cg_write_pid(const char *path, long pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", pid);
	return write_checked(path, buf);
}

/* Removes a cgroup; its last task may take a moment to leave. */
static void cg_remove(const char *path)
{
	int i;

	for (i = 0; i < 100 && rmdir(path) && errno == EBUSY; i++)
		usleep(10000);
}

/* ------------------------------------------------ tests */

/* Cases 1 and 2: 3/4 of the range on node 1, the rest on node 0. */
static void test_majority(bool by_khugepaged)
{
	const char *name = by_khugepaged ?
		"khugepaged puts the huge page on the node holding most of the range" :
		"MADV_COLLAPSE puts the huge page on the node holding most of the range";
	uint64_t seed = by_khugepaged ? 0x6e756d61b0b0cafeULL : 0x6e756d61c0ffee11ULL;
	struct region r;
	bool ok;

	ok = populate(&r, 1, seed);
	if (ok && by_khugepaged) {
		if (madvise(r.p, pmd_size, MADV_HUGEPAGE)) {
			ksft_perror("MADV_HUGEPAGE");
			ok = false;
		}
		wait_khugepaged(&r, (unsigned long)-1);
	} else if (ok && madvise(r.p, pmd_size, MADV_COLLAPSE)) {
		ksft_perror("MADV_COLLAPSE");
		ok = false;
	}
	ok = ok && huge_on(&r, 1);
	ok = contents_intact(&r, 1, seed) && ok;
	unmap_region(&r);
	ksft_test_result(ok, "- %s\n", name);
}

struct collapse_call {
	char *p;
	int ret, err;
	bool moved;
};

/* Case 3's thread: into the cpuset of node 0, then MADV_COLLAPSE. */
static void *collapse_in_cpuset(void *arg)
{
	struct collapse_call *c = arg;

	c->moved = cg_write_pid(THREAD_CG "/cgroup.threads", syscall(SYS_gettid));
	if (!c->moved)
		return NULL;
	errno = 0;
	c->ret = madvise(c->p, pmd_size, MADV_COLLAPSE);
	c->err = errno;
	return NULL;
}

/* Case 3. */
static void test_cpuset_madvise(void)
{
	const char *name = "MADV_COLLAPSE in a cpuset without the range's node collapses onto the cpuset's node";
	uint64_t seed = 0x6e756d6100c0ffeeULL;
	struct collapse_call c = { 0 };
	struct region r;
	pthread_t t;
	bool ok;

	ok = populate(&r, 0, seed);
	mkdir(PROC_CG, 0755);
	mkdir(THREAD_CG, 0755);
	ok = ok && write_checked(THREAD_CG "/cgroup.type", "threaded") &&
	     write_checked(PROC_CG "/cgroup.subtree_control", "+cpuset") &&
	     write_checked(THREAD_CG "/cpuset.mems", "0") &&
	     cg_write_pid(PROC_CG "/cgroup.procs", getpid());
	c.p = r.p;
	if (ok && pthread_create(&t, NULL, collapse_in_cpuset, &c) == 0) {
		pthread_join(t, NULL);
		ok = c.moved;
	} else if (ok) {
		ksft_perror("pthread_create");
		ok = false;
	}
	if (ok && c.ret) {
		ksft_print_msg("MADV_COLLAPSE failed: %s\n", strerror(c.err));
		ok = false;
	}
	ok = ok && huge_on(&r, 0);
	ok = contents_intact(&r, 0, seed) && ok;
	cg_write_pid(CGROOT "/cgroup.procs", getpid());
	cg_remove(THREAD_CG);
	cg_remove(PROC_CG);
	unmap_region(&r);
	ksft_test_result(ok, "- %s\n", name);
}

/* Case 4. */
static void test_node_full(void)
{
	const char *name = "khugepaged does not fall back to another node when the range's node has no huge page to give";
	uint64_t seed = 0x6e756d61feedf00dULL;
	struct region r, filler = { 0 };
	unsigned long failed, min_free = (unsigned long)-1;
	char buf[64];
	long free_kb;
	bool ok, swapped;

	/* Node 1 ends up below its watermarks: reclaim must not swap it free. */
	swapped = !swapoff(SWAP_DEV);
	set_mode(KHUGEPAGED "/defrag", "0");
	ok = populate(&r, 0, seed);
	ok = ok && fill_node1(&filler);
	/*
	 * Watermarks above what node 1 has free, far below what node 0 has:
	 * min_free_kbytes is shared among the zones by size, and both nodes
	 * have the same.
	 */
	min_free = read_ulong(MIN_FREE);
	free_kb = node1_kb("MemFree:");
	if (ok && (min_free == (unsigned long)-1 || free_kb < 0)) {
		ksft_print_msg("cannot read %s or node 1's MemFree\n", MIN_FREE);
		ok = false;
	}
	if (ok) {
		snprintf(buf, sizeof(buf), "%ld", 4 * free_kb);
		ok = write_checked(MIN_FREE, buf);
	}
	failed = vmstat("thp_collapse_alloc_failed");
	if (ok && madvise(r.p, pmd_size, MADV_HUGEPAGE)) {
		ksft_perror("MADV_HUGEPAGE");
		ok = false;
	}
	if (ok)
		wait_khugepaged(&r, failed);
	if (ok && vmstat("thp_collapse_alloc_failed") <= failed) {
		ksft_print_msg("thp_collapse_alloc_failed did not grow\n");
		ok = false;
	}
	ok = small_on_1(&r) && ok;
	ok = contents_intact(&r, 0, seed) && ok;
	unmap_region(&r);
	if (filler.base)
		unmap_region(&filler);
	if (min_free != (unsigned long)-1) {
		snprintf(buf, sizeof(buf), "%lu", min_free);
		write_checked(MIN_FREE, buf);
	}
	if (swapped && swapon(SWAP_DEV, 0))
		ksft_perror("swapon " SWAP_DEV);
	ksft_test_result(ok, "- %s\n", name);
}

int main(void)
{
	char buf[32] = "", path[128];

	ksft_print_header();
	thp_util_init();
	ksft_set_plan(4);
	if (!two_nodes()) {
		read_line("/sys/devices/system/node/online", buf, sizeof(buf));
		ksft_print_msg("online nodes '%s': needs exactly 0-1 (tools/vm/run --numa 2)\n", buf);
		ksft_exit_skip("needs two NUMA nodes\n");
	}
	setup_thp();
	/* khugepaged collapses to the PMD size only; faults still take small pages. */
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled", pmd_size / 1024);
	set_mode(path, "inherit");
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	if (!cgroup_setup())
		ksft_exit_fail_msg("no cgroup v2 cpuset\n");

	test_majority(false);
	test_majority(true);
	test_cpuset_madvise();
	test_node_full();
	ksft_finished();
}
