// SPDX-License-Identifier: GPL-2.0
/* THP helpers shared by the khugepaged-rs guest programs (see thp_util.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

size_t page_size, pmd_size, pmd_nr;

/* ------------------------------------------------ THP settings */

void set_mode(const char *path, const char *mode)
{
	if (set_setting(path, mode))
		ksft_print_msg("cannot set %s to %s: %s\n", path, mode,
			       strerror(errno));
}

void setup_thp(void)
{
	glob_t g;
	size_t i;

	restore_settings_at_exit();
	set_mode(THP_DIR "/enabled", "madvise");
	if (glob(THP_DIR "/hugepages-*kB/enabled", 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++)
			set_mode(g.gl_pathv[i], "never");
		globfree(&g);
	}
}

/* ------------------------------------------------ memory helpers */

/*
 * A read-write anonymous mapping of len bytes at a PMD-aligned address,
 * fenced on both sides by PROT_NONE so that it can never merge with another
 * VMA: smaps statistics are per VMA.
 */
int map_region(struct region *r, size_t len)
{
	uintptr_t a;

	r->total = len + 2 * pmd_size;
	r->base = mmap(NULL, r->total, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->base == MAP_FAILED)
		return -1;
	a = ((uintptr_t)r->base + page_size + pmd_size - 1) & ~(pmd_size - 1);
	r->p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (r->p == MAP_FAILED) {
		munmap(r->base, r->total);
		return -1;
	}
	r->len = len;
	return 0;
}

void unmap_region(struct region *r)
{
	munmap(r->base, r->total);
}

/* Every 8-byte word holds its offset xor a per-test seed. */
void fill(char *p, size_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = (i * 8) ^ seed;
}

bool intact(char *p, size_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		if (w[i] != ((i * 8) ^ seed)) {
			ksft_print_msg("data corrupted at offset %#zx: %#llx, expected %#llx\n",
				       i * 8, (unsigned long long)w[i],
				       (unsigned long long)((i * 8) ^ seed));
			return false;
		}
	}
	return true;
}

void drop_translations(char *p, size_t len)
{
	mprotect(p, len, PROT_READ);
	mprotect(p, len, PROT_READ | PROT_WRITE);
}

int pagemap_fd = -1, kpageflags_fd = -1;

/*
 * PFNs of n pages from addr.  Returns 0, -1 if PFNs cannot be seen (not
 * root, no pagemap), or 1 if some page is not present.
 */
int get_pfns(char *addr, size_t n, uint64_t *pfns)
{
	size_t i;

	if (pagemap_fd < 0)
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t e;
		off_t off = (uintptr_t)(addr + i * page_size) / page_size * 8;

		if (pread(pagemap_fd, &e, 8, off) != 8)
			return -1;
		if (!(e & PM_PRESENT))
			return 1;
		pfns[i] = e & PM_PFN_MASK;
		if (!pfns[i])
			return -1;	/* PFNs hidden without CAP_SYS_ADMIN */
	}
	return 0;
}

/*
 * Is [addr, addr + pmd_size) one PMD-order THP according to kpageflags?
 * 1 = yes, 0 = no, -1 = cannot tell.
 */
int kpf_pmd_thp(char *addr)
{
	uint64_t *pfns = calloc(pmd_nr, sizeof(*pfns));
	int ret = 1, r;
	size_t i;

	if (!pfns)
		return -1;
	r = get_pfns(addr, pmd_nr, pfns);
	if (r || kpageflags_fd < 0) {
		ret = r == 1 ? 0 : -1;
		goto out;
	}
	if (pfns[0] % pmd_nr) {
		ret = 0;
		goto out;
	}
	for (i = 0; i < pmd_nr && ret == 1; i++) {
		uint64_t fl, want = 1ULL << KPF_THP;

		want |= 1ULL << (i ? KPF_COMPOUND_TAIL : KPF_COMPOUND_HEAD);
		if (pread(kpageflags_fd, &fl, 8, pfns[i] * 8) != 8)
			ret = -1;
		else if (pfns[i] != pfns[0] + i || (fl & want) != want)
			ret = 0;
	}
out:
	free(pfns);
	return ret;
}


void thp_util_reopen_pagemap(void)
{
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
}

void thp_util_init(void)
{
	char buf[64];

	if (read_file(THP_DIR "/hpage_pmd_size", buf, sizeof(buf)))
		ksft_exit_skip("no %s/hpage_pmd_size: no THP support\n", THP_DIR);
	pmd_size = strtoul(buf, NULL, 10);
	page_size = sysconf(_SC_PAGESIZE);
	if (!pmd_size || pmd_size % page_size)
		ksft_exit_fail_msg("bad hpage_pmd_size %zu\n", pmd_size);
	pmd_nr = pmd_size / page_size;
	thp_util_reopen_pagemap();
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
}

size_t resident_pages(char *p, size_t n)
{
	unsigned char *vec = malloc(n);
	size_t i, r = 0;

	if (!vec || mincore(p, n * page_size, vec)) {
		free(vec);
		return (size_t)-1;
	}
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}
