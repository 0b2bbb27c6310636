// SPDX-License-Identifier: GPL-2.0
/* What the shmem collapse tests share: see shmem_util.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "shmem_util.h"
#include "thp_util.h"

long pmd_kb;

/* ------------------------------------------------ settings and mounts */

void setup_shmem_thp(size_t max_ptes_none)
{
	char buf[256];

	pmd_kb = pmd_size >> 10;
	setup_thp();
	set_mode(THP_DIR "/shmem_enabled", "advise");
	snprintf(buf, sizeof(buf), THP_DIR "/hugepages-%ldkB/shmem_enabled", pmd_kb);
	if (!access(buf, F_OK))
		set_mode(buf, "inherit");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_mode(KHUGEPAGED "/pages_to_scan", buf);
	set_mode(KHUGEPAGED "/scan_sleep_millisecs", "10");
	set_mode(KHUGEPAGED "/alloc_sleep_millisecs", "10");
	snprintf(buf, sizeof(buf), "%zu", max_ptes_none);
	set_mode(KHUGEPAGED "/max_ptes_none", buf);
}

bool mount_tmpfs(const char *dir, const char *opts)
{
	mkdir(dir, 0755);
	if (mount("tmpfs", dir, "tmpfs", 0, opts)) {
		ksft_print_msg("mount tmpfs %s on %s: %s\n", opts, dir, strerror(errno));
		return false;
	}
	return true;
}

/* ------------------------------------------------ files and mappings */

int open_shmem(const char *dir, const char *name, size_t size)
{
	static int n;
	char path[256];
	int fd;

	if (!dir) {
		fd = memfd_create(name, 0);
	} else {
		snprintf(path, sizeof(path), "%s/%s.%d", dir, name, n++);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			unlink(path);
	}
	if (fd >= 0 && size && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

int map_shm(struct shm *s, int fd, size_t len, int flags)
{
	uintptr_t a;

	s->fd = fd;
	s->total = len + 2 * pmd_size;
	s->base = mmap(NULL, s->total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (s->base == MAP_FAILED)
		return -1;
	a = ((uintptr_t)s->base + page_size + pmd_size - 1) & ~(pmd_size - 1);
	s->p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
		    flags | MAP_FIXED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (s->p == MAP_FAILED) {
		munmap(s->base, s->total);
		return -1;
	}
	s->len = len;
	return 0;
}

void unmap_shm(struct shm *s)
{
	munmap(s->base, s->total);
}

int collapse(char *p, size_t len)
{
	return madvise(p, len, MADV_COLLAPSE) ? errno : 0;
}

/* ------------------------------------------------ contents and page cache */

bool page_matches(const char *pg, size_t i, uint64_t seed, const char *how)
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

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, sig);
}

bool mapped_matches(char *p, const uint64_t *model, size_t first, size_t n, const char *how)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile bool ok = true;
	volatile size_t i = first;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		for (; ok && i < first + n; i++)
			ok = page_matches(p + i * page_size, i, model[i], how);
	} else {
		ksft_print_msg("%s: SIGBUS reading page %zu\n", how, i);
		ok = false;
	}
	sigaction(SIGBUS, &old, NULL);
	return ok;
}

bool pread_matches(int fd, off_t off, const uint64_t *model, size_t n)
{
	char *pg = malloc(page_size);
	bool ok = pg != NULL;
	size_t i;

	for (i = 0; ok && i < n; i++) {
		if (pread(fd, pg, page_size, off + i * page_size) != (ssize_t)page_size) {
			ksft_print_msg("pread page %zu: %s\n", i, strerror(errno));
			ok = false;
		} else {
			ok = page_matches(pg, i, model[i], "pread");
		}
	}
	free(pg);
	return ok;
}

bool data_pages(int fd, size_t n, bool *has)
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

bool holes_are(int fd, const bool *want, size_t n)
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

long st_blocks(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long)st.st_blocks;
}

bool shmem_pmd_mapped(char *p, long want_kb)
{
	long kb = smaps_kb(p, "ShmemPmdMapped");

	if (kb != want_kb) {
		ksft_print_msg("ShmemPmdMapped %ld kB, expected %ld\n", kb, want_kb);
		return false;
	}
	return true;
}

unsigned long wait_full_scans(unsigned long scans)
{
	int loops;

	for (loops = 0; loops < 1200; loops++) {
		if (read_ulong(KHUGEPAGED "/full_scans") >= scans)
			break;
		usleep(50000);
	}
	return read_ulong(KHUGEPAGED "/full_scans");
}

/* ------------------------------------------------ counters */

static const char *const counter_names[C_NR] = {
	"thp_collapse_alloc", "thp_collapse_alloc_failed", "nr_shmem_hugepages",
	"nr_file_pages", "nr_shmem", "thp_file_mapped", "size collapse_alloc",
};

void stat_refresh(void)
{
	if (write_file("/proc/sys/vm/stat_refresh", "1"))
		ksft_print_msg("stat_refresh: %s\n", strerror(errno));
}

void read_counters(struct counters *c)
{
	char path[256];
	int i;

	stat_refresh();
	for (i = 0; i < C_SIZE_ALLOC; i++)
		c->v[i] = vmstat(counter_names[i]);
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/stats/collapse_alloc",
		 pmd_size >> 10);
	c->v[C_SIZE_ALLOC] = read_ulong(path);
}

bool counters_moved(const struct counters *a, const long *want)
{
	struct counters b;
	bool ok = true;
	char msg[512];
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

bool want_err(int err, int want, const char *what)
{
	if (err == want)
		return true;
	ksft_print_msg("%s: MADV_COLLAPSE returned %s, expected %s\n", what,
		       err ? strerror(err) : "0", want ? strerror(want) : "0");
	return false;
}

bool swap_on(void)
{
	char buf[4096], *nl;

	/* The header line, then one line per swap device. */
	return !read_file("/proc/swaps", buf, sizeof(buf)) && (nl = strchr(buf, '\n')) && nl[1];
}
