// SPDX-License-Identifier: GPL-2.0
/* Small helpers shared by the khugepaged-rs guest programs. */
#include <dirent.h>
#include <glob.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -1;
	/* proc and trace files come a page or a record at a time: read to the end. */
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	close(fd);
	if (n < 0)
		return -1;
	buf[got] = '\0';
	return 0;
}

int read_line(const char *path, char *buf, size_t len)
{
	if (read_file(path, buf, len))
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

unsigned long read_ulong(const char *path)
{
	char buf[64];

	if (read_line(path, buf, sizeof(buf)))
		return (unsigned long)-1;
	return strtoul(buf, NULL, 10);
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

int clear_trace(void)
{
	int fd = open("/sys/kernel/tracing/trace", O_WRONLY | O_TRUNC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

unsigned long vmstat(const char *name)
{
	static char buf[65536];
	size_t n = strlen(name);
	char *p;

	if (read_file("/proc/vmstat", buf, sizeof(buf)))
		return (unsigned long)-1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, n) && p[n] == ' ')
			return strtoul(p + n + 1, NULL, 10);
	return (unsigned long)-1;
}

pid_t khugepaged_pid(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t pid = 0;

	while (d && (e = readdir(d))) {
		char path[300], comm[64];

		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (!read_line(path, comm, sizeof(comm)) && !strcmp(comm, "khugepaged")) {
			pid = atoi(e->d_name);
			break;
		}
	}
	if (d)
		closedir(d);
	return pid;
}

long meminfo_field(const char *buf, const char *field)
{
	const char *p = strstr(buf, field);

	return p ? strtol(p + strlen(field), NULL, 10) : -1;
}

long meminfo_kb(const char *field)
{
	char buf[8192];

	if (read_file("/proc/meminfo", buf, sizeof(buf)))
		return -1;
	return meminfo_field(buf, field);
}

/* AnonHugePages (kB) of the VMA containing addr, or -1. */
long smaps_kb(void *addr, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long start, end, a = (unsigned long)addr;
	size_t n = strlen(field);
	char line[512], perms[8];
	bool in_vma = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3)
			in_vma = start <= a && a < end;
		else if (in_vma && !strncmp(line, field, n) && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	}
	fclose(f);
	return kb;
}

long anon_huge_kb(void *addr)
{
	return smaps_kb(addr, "AnonHugePages");
}

/* Settings changed through set_setting(), in the order they were changed. */
static struct {
	char path[256];
	char value[256];
} saved[64];
static int nr_saved;

int set_setting(const char *path, const char *value)
{
	char buf[256], *l, *r;

	if (nr_saved == (int)(sizeof(saved) / sizeof(saved[0]))) {
		errno = ENOSPC;
		return -1;
	}
	if (read_line(path, buf, sizeof(buf)))
		return -1;
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (r) {
		*r = '\0';
		memmove(buf, l + 1, r - l);
	}
	snprintf(saved[nr_saved].path, sizeof(saved[0].path), "%s", path);
	snprintf(saved[nr_saved].value, sizeof(saved[0].value), "%s", buf);
	nr_saved++;
	return write_file(path, value);
}

void restore_settings(void)
{
	while (nr_saved > 0) {
		nr_saved--;
		write_file(saved[nr_saved].path, saved[nr_saved].value);
	}
}

static void on_signal(int sig)
{
	exit(128 + sig);	/* runs restore_settings() */
}

void restore_settings_at_exit(void)
{
	atexit(restore_settings);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

long hint_stat(const char *name)
{
	char buf[2048], *line, *save;
	size_t n = strlen(name);

	if (read_file("/sys/kernel/mm/transparent_hugepage/khugepaged/hint_stats", buf,
		      sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, name, n) && line[n] == ' ')
			return strtol(line + n + 1, NULL, 10);
	return -1;
}

/*
 * /sys/kernel/debug/lru_gen lists "memcg ID PATH", then per node "node NID"
 * and one line per generation, oldest first: the last one read for the memcg's
 * node 0 is its max_seq, which the "+ memcg_id node_id max_gen" command needs.
 */
int lru_gen_age(const char *memcg_path)
{
	static char buf[65536];
	char cmd[64], *line, *save;
	long memcg = -1, gen = -1;
	bool in_memcg = false, node0 = false;

	if (read_file(LRU_GEN, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char path[256];
		long id, nr;

		if (sscanf(line, " memcg %ld %255s", &id, path) == 2) {
			in_memcg = !strcmp(path, memcg_path);
			if (in_memcg)
				memcg = id;
			node0 = false;
		} else if (sscanf(line, " node %ld", &id) == 1) {
			node0 = in_memcg && id == 0;
		} else if (node0 && sscanf(line, " %ld", &nr) == 1) {
			gen = nr;
		}
	}
	if (memcg < 0 || gen < 0) {
		errno = ENOENT;
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "+ %ld 0 %ld", memcg, gen);
	return write_file(LRU_GEN, cmd);
}

bool lru_gen_walks(char *caps, size_t len)
{
	if (read_line(LRU_GEN_ENABLED, caps, len) < 0) {
		snprintf(caps, len, "unreadable");
		return false;
	}
	return strtoul(caps, NULL, 16) & 0x0002;
}

static long slab_active(const char *cache)
{
	static char buf[1 << 18];
	char *line, *save;
	size_t n = strlen(cache);

	if (read_file("/proc/slabinfo", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, cache, n) && line[n] == ' ')
			return strtol(line + n, NULL, 10);
	return -1;
}

/*
 * Free pages parked on the per-CPU lists, which MemFree does not count.  They
 * hold a few thousand pages a CPU: tens of MB with 4K pages, hundreds with 64K.
 */
static long pcp_kb(void)
{
	static char buf[1 << 16];
	long pages = 0;
	char *p = buf;

	if (read_file("/proc/zoneinfo", buf, sizeof(buf)) < 0)
		return 0;
	while ((p = strstr(p, "count:")))
		pages += strtol(p += 6, NULL, 10);
	return pages * (getpagesize() / 1024);
}

/*
 * Every worker has been reaped, but the last reference to an exiting mm may
 * be khugepaged's, held through a collapse (seconds for a 512 MB PMD under
 * TCG): the mm is torn down, and its hints dropped, when it lets go.  Waits
 * up to a minute for the workers' memory to be gone.
 */
void wait_teardown(void)
{
	char buf[8192];
	int i;

	for (i = 0; i < 60; i++) {
		read_file("/proc/meminfo", buf, sizeof(buf));
		if (meminfo_field(buf, "\nAnonPages:") + meminfo_field(buf, "SwapTotal:") -
		    meminfo_field(buf, "SwapFree:") < 16384)
			break;
		sleep(1);
	}
}

/*
 * Once the workers are torn down, drops what the kernel caches, compacts
 * zram's pool, lets RCU-freed objects go and shrinks every slab cache, then
 * reads the counts.  The shrink flushes
 * the per-CPU slabs, whose free objects /proc/slabinfo counts as active.
 */
void mem_snapshot(struct mem_snap *s)
{
	char buf[8192];
	glob_t g;

	wait_teardown();
	write_file("/sys/block/zram0/compact", "1");
	write_file("/proc/sys/vm/drop_caches", "3");
	sleep(3);
	write_file("/proc/sys/vm/drop_caches", "3");
	if (glob("/sys/kernel/slab/*/shrink", 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			write_file(g.gl_pathv[i], "1");
		globfree(&g);
	}
	s->mm_structs = slab_active("mm_struct");
	read_file("/proc/meminfo", buf, sizeof(buf));
	s->sunreclaim = meminfo_field(buf, "\nSUnreclaim:");
	s->page_tables = meminfo_field(buf, "\nPageTables:");
	s->kernel_stack = meminfo_field(buf, "\nKernelStack:");
	s->anon = meminfo_field(buf, "\nAnonPages:");	/* THPs included */
	s->swap = meminfo_field(buf, "SwapTotal:") - meminfo_field(buf, "SwapFree:");
	s->used = meminfo_field(buf, "MemTotal:") - meminfo_field(buf, "\nMemFree:") - pcp_kb();
}

/* Is `after` within `slack` of `before` (growth only: shrinking is fine)? */
bool mem_flat(const char *what, long before, long after, long slack, const char *unit)
{
	bool ok = after - before <= slack;

	ksft_print_msg("%-13s before %8ld after %8ld %s (allowed growth %ld)%s\n", what, before,
		       after, unit, slack, ok ? "" : "  <-- grew");
	return ok;
}

bool mem_all_flat(const struct mem_snap *s0, const struct mem_snap *s1)
{
	bool ok = true;

	if (s0->mm_structs >= 0)
		/* An idle CPU may keep the last mm it ran as its lazy TLB mm. */
		ok &= mem_flat("mm_struct", s0->mm_structs, s1->mm_structs,
			       sysconf(_SC_NPROCESSORS_ONLN), "objects");
	else
		ksft_print_msg("no /proc/slabinfo: mm_structs not compared\n");
	ok &= mem_flat("SUnreclaim", s0->sunreclaim, s1->sunreclaim, 2048, "kB");
	ok &= mem_flat("PageTables", s0->page_tables, s1->page_tables, 256, "kB");
	ok &= mem_flat("KernelStack", s0->kernel_stack, s1->kernel_stack, 256, "kB");
	ok &= mem_flat("Anon", s0->anon, s1->anon, 1024, "kB");
	ok &= mem_flat("Swap used", s0->swap, s1->swap, 256, "kB");
	/* zsmalloc's pool and the page cache keep some freed pages: a loose bound. */
	ok &= mem_flat("MemTotal-Free", s0->used, s1->used, 32768, "kB");
	return ok;
}
