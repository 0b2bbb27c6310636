// SPDX-License-Identifier: GPL-2.0
/*
 * shmem_races, case 3: a memcg that cannot take the huge page (shmem_races.c
 * says what is checked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"
#include "shmem_races.h"
#include "shmem_util.h"

/* ------------------------------------------------ 3: memcg charge failure */

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
void test_memcg(enum kind kind)
{
	const size_t stride = 2, room = pmd_nr / 2 < 64 ? pmd_nr / 2 : 64;
	const uint64_t seed0 = 0x3300 + kind;
	char name[256], name2[256], buf[64], fname[256];
	bool traced;
	long cur, cur1, blocks, shmem0, thp0, slack, stale;
	uint64_t *model = calloc(pmd_nr, sizeof(*model));
	bool *data = calloc(pmd_nr, sizeof(*data)), ok = true, joined = false;
	struct counters c;
	struct shm m = { 0 };
	size_t i;
	int fd = -1, err;

	snprintf(name, sizeof(name), "%s in a memcg with no room for a THP: MADV_COLLAPSE of a range with holes fails with EBUSY, page cache and charges unchanged",
		 kind_name[kind]);
	snprintf(name2, sizeof(name2), "%s in a memcg: with memory.max lifted, MADV_COLLAPSE collapses, charged to the memcg",
		 kind_name[kind]);
	if (!model || !data || !memcg_ready() || (kind == K_FILE && !mounted)) {
		tap_fail("%s: set-up\n", name);
		tap_fail("%s\n", name2);
		goto out;
	}
	/* No swap: nothing of ours can be reclaimed to make room. */
	if (write_file(MEMCG "/memory.swap.max", "0"))
		ksft_print_msg("memory.swap.max: %s\n", strerror(errno));
	write_file(MEMCG "/memory.max", "max");
	if (write_file(MEMCG "/cgroup.procs", "0")) {
		tap_fail("%s: joining the memcg: %s\n", name, strerror(errno));
		tap_fail("%s\n", name2);
		goto out;
	}
	joined = true;
	fd = open_kind(kind, "races_memcg", pmd_size);
	if (fd < 0 || map_shm(&m, fd, pmd_size, MAP_SHARED)) {
		tap_fail("%s: %s\n", name, strerror(errno));
		tap_fail("%s\n", name2);
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
	blocks = st_blocks(fd);
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
	err = collapse(m.p, pmd_size);
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
		long want[C_NR] = { 1, 0, 0, 0, 0, 0, ANY };

		ok = counters_moved(&c, want) && ok;
	}
	if (st_blocks(fd) != blocks) {
		ksft_print_msg("st_blocks %ld, was %ld\n", st_blocks(fd), blocks);
		ok = false;
	}
	ok = holes_are(fd, data, pmd_nr) && ok;
	ok = pread_matches(fd, 0, model, pmd_nr) && ok;
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
	tap_result(ok, "%s\n", name);

	write_file(MEMCG "/memory.max", "max");
	read_counters(&c);
	err = collapse(m.p, pmd_size);
	ok = want_err(err, 0, name2);
	{
		/* thp_file_mapped counts faults that map a PMD (do_set_pmd()) only. */
		long want[C_NR] = { 1, 0, 1, ANY, ANY, ANY, ANY };

		ok = counters_moved(&c, want) && ok;
	}
	ok = shmem_pmd_mapped(m.p, pmd_kb) && ok;
	ok = pread_matches(fd, 0, model, pmd_nr) && ok;
	ok = mapped_matches(m.p, model, 0, pmd_nr, "mapping") && ok;
	if (bad_range(memcg_stat("shmem_thp"), thp0 + pmd_size, thp0 + pmd_size,
		      "memcg shmem_thp"))
		ok = false;
	tap_result(ok, "%s\n", name2);
out:
	if (m.base)
		unmap_shm(&m);
	if (fd >= 0)
		close(fd);
	if (joined && write_file(CGROUP "/cgroup.procs", "0"))
		ksft_print_msg("leaving the memcg: %s\n", strerror(errno));
	rmdir(MEMCG);
	free(model);
	free(data);
}

