// SPDX-License-Identifier: GPL-2.0
/*
 * thp_demo - watch khugepaged collapse memory (a demo, not a test).
 *
 * Maps 8 PMD-sized, PMD-aligned anonymous ranges, faults them in as small
 * pages, then lets khugepaged at them and shows AnonHugePages,
 * pages_collapsed and full_scans every 0.5 s for up to --seconds N
 * (default 20).  Whatever is left is then collapsed with MADV_COLLAPSE.
 * A kernel that does not collapse simply shows 0 until the timeout.
 *
 * Exit status is 0 unless the data got corrupted or a syscall that must
 * work failed.  THP/khugepaged/tracing settings are restored at exit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest_util.h"


#define NR_RANGES	8
#define THP_DIR		"/sys/kernel/mm/transparent_hugepage"
#define KH_DIR		THP_DIR "/khugepaged"
#define TRACE_DIR	"/sys/kernel/tracing"
#define HM_ENABLE	TRACE_DIR "/events/huge_memory/enable"

static size_t page_size, pmd_size, pmd_nr;

static void set_demo_setting(const char *path, const char *value)
{
	if (set_setting(path, value))
		printf("  (cannot set %s to %s: %s)\n", path, value,
		       strerror(errno));
}

static const char *knob(const char *name)
{
	static char buf[4][64];
	static int i;
	char path[256];

	i = (i + 1) % 4;
	snprintf(path, sizeof(path), KH_DIR "/%s", name);
	if (read_line(path, buf[i], sizeof(buf[i])))
		snprintf(buf[i], sizeof(buf[i]), "?");
	return buf[i];
}

static void print_settings(void)
{
	static const char * const knobs[] = {
		"defrag", "max_ptes_none", "max_ptes_swap", "max_ptes_shared",
		"pages_to_scan", "pages_collapsed", "full_scans",
		"scan_sleep_millisecs", "alloc_sleep_millisecs",
	};
	char buf[256], path[256];
	unsigned int i;

	if (!read_line(THP_DIR "/enabled", buf, sizeof(buf)))
		printf("  enabled: %s\n", buf);
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/enabled",
		 pmd_size / 1024);
	if (!read_line(path, buf, sizeof(buf)))
		printf("  hugepages-%zukB/enabled: %s\n", pmd_size / 1024, buf);
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		printf("  khugepaged/%s: %s\n", knobs[i], knob(knobs[i]));
}

static bool khugepaged_running(void)
{
	char comm[32];
	glob_t g;
	size_t i;
	bool found = false;

	if (glob("/proc/[0-9]*/comm", 0, NULL, &g))
		return false;
	for (i = 0; i < g.gl_pathc && !found; i++)
		found = !read_line(g.gl_pathv[i], comm, sizeof(comm)) &&
			!strcmp(comm, "khugepaged");
	globfree(&g);
	return found;
}

/* Tracing: enable huge_memory events, show khugepaged/collapse lines. */
static bool tracing;

static void trace_start(void)
{
	int fd;

	if (access(HM_ENABLE, W_OK))
		return;
	set_demo_setting(HM_ENABLE, "1");
	set_demo_setting(TRACE_DIR "/tracing_on", "1");
	fd = open(TRACE_DIR "/trace", O_WRONLY | O_TRUNC);	/* clear it */
	if (fd >= 0)
		close(fd);
	tracing = true;
}

/*
 * Up to 20 matching lines; runs of events that differ only in their
 * timestamp (a scan walking many PMDs) are folded into one line.
 */
static void trace_show(void)
{
	char line[512], prev[512] = "";
	int n = 0, repeats = 0;
	FILE *f;

	if (!tracing)
		return;
	f = fopen(TRACE_DIR "/trace", "r");
	printf("huge_memory trace events (up to 20):\n");
	while (f && n < 20 && fgets(line, sizeof(line), f)) {
		char *ev = strstr(line, ": ");	/* after the timestamp */

		if (line[0] == '#' || !ev ||
		    (!strstr(line, "khugepaged") && !strstr(line, "collapse")))
			continue;
		if (!strcmp(ev, prev)) {
			repeats++;
			continue;
		}
		if (repeats)
			printf("  (... %d more like the above)\n", repeats);
		repeats = 0;
		snprintf(prev, sizeof(prev), "%s", ev);
		printf("  %s", line);
		n++;
	}
	if (repeats)
		printf("  (... %d more like the above)\n", repeats);
	if (!n)
		printf("  (none)\n");
	if (f)
		fclose(f);
	write_file(HM_ENABLE, "0");
}

int main(int argc, char **argv)
{
	const uint64_t seed = 0x7e57da7a5eed0001ULL;
	long kb, pmd_kb, seconds = 20, collapsed = 0;
	double t0, t = 0;
	char buf[64], *base, *p;
	uint64_t *w;
	size_t len, i;
	int ret;

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < (size_t)argc) {
			seconds = strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: %s [--seconds N]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (read_line(THP_DIR "/hpage_pmd_size", buf, sizeof(buf))) {
		printf("demo: no THP support (%s/hpage_pmd_size missing)\n",
		       THP_DIR);
		return 1;
	}
	pmd_size = strtoul(buf, NULL, 10);
	page_size = sysconf(_SC_PAGESIZE);
	pmd_nr = pmd_size / page_size;
	pmd_kb = pmd_size / 1024;
	len = NR_RANGES * pmd_size;

	printf("khugepaged settings (PMD size %ld kB, page size %zu, HPAGE_PMD_NR %zu):\n",
	       pmd_kb, page_size, pmd_nr);
	print_settings();
	printf("  khugepaged thread: %s\n",
	       khugepaged_running() ? "running" : "NOT running");

	restore_settings_at_exit();
	printf("demo: enabled=madvise, scan_sleep_millisecs=100, pages_to_scan=%zu\n",
	       pmd_nr * 8);
	set_demo_setting(THP_DIR "/enabled", "madvise");
	set_demo_setting(KH_DIR "/scan_sleep_millisecs", "100");
	snprintf(buf, sizeof(buf), "%zu", pmd_nr * 8);
	set_demo_setting(KH_DIR "/pages_to_scan", buf);
	trace_start();

	/*
	 * PMD-aligned range, fenced by PROT_NONE so the VMA (and so its smaps
	 * AnonHugePages) is exactly ours.
	 */
	base = mmap(NULL, len + 2 * pmd_size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	p = (char *)(((uintptr_t)base + page_size + pmd_size - 1) & ~(pmd_size - 1));
	if (mmap(p, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* Fault in small pages only, then hand the range to khugepaged. */
	if (madvise(p, len, MADV_NOHUGEPAGE)) {
		perror("madvise(MADV_NOHUGEPAGE)");
		return 1;
	}
	w = (uint64_t *)p;
	for (i = 0; i < len / 8; i++)
		w[i] = (i * 8) ^ seed;
	kb = anon_huge_kb(p);
	printf("demo: %d x %ld kB at %p filled with %zu small pages, AnonHugePages=%ld kB\n",
	       NR_RANGES, pmd_kb, p, len / page_size, kb);
	if (madvise(p, len, MADV_HUGEPAGE)) {
		perror("madvise(MADV_HUGEPAGE)");
		return 1;
	}

	t0 = now();
	for (;;) {
		kb = anon_huge_kb(p);
		t = now() - t0;
		printf("t=%5.1fs AnonHugePages=%6ld kB pages_collapsed=%s full_scans=%s\n",
		       t, kb, knob("pages_collapsed"), knob("full_scans"));
		if (kb >= NR_RANGES * pmd_kb || t >= seconds)
			break;
		usleep(500000);
	}
	collapsed = kb > 0 ? kb / pmd_kb : 0;

	if (collapsed < NR_RANGES) {
		/* Already PMD-mapped ranges count as success for MADV_COLLAPSE. */
		errno = 0;
		ret = madvise(p, len, MADV_COLLAPSE);
		printf("demo: MADV_COLLAPSE of the remaining %ld range(s): %d (%s), AnonHugePages now %ld kB\n",
		       NR_RANGES - collapsed, ret, ret ? strerror(errno) : "ok",
		       anon_huge_kb(p));
	}

	for (i = 0; i < len / 8; i++) {
		if (w[i] != ((i * 8) ^ seed)) {
			printf("demo: DATA CORRUPTED at offset %#zx: %#llx, expected %#llx\n",
			       i * 8, (unsigned long long)w[i],
			       (unsigned long long)((i * 8) ^ seed));
			return 1;
		}
	}
	printf("demo: data intact\n");
	trace_show();
	printf("demo: collapsed %ld of %d PMD ranges by khugepaged in %.1f s\n",
	       collapsed, NR_RANGES, t);
	return 0;
}
