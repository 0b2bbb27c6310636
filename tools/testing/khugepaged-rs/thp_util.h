/* SPDX-License-Identifier: GPL-2.0 */
/*
 * THP helpers shared by the khugepaged-rs guest programs: the PMD geometry,
 * THP modes for a test, fenced PMD-aligned mappings, data patterns, and
 * whether a range is one PMD-order THP (pagemap + kpageflags).
 */
#ifndef KHUGEPAGED_RS_THP_UTIL_H
#define KHUGEPAGED_RS_THP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KPF_COMPOUND_HEAD	15
#define KPF_COMPOUND_TAIL	16
#define KPF_THP			22
#define PM_PRESENT		(1ULL << 63)
#define PM_PFN_MASK		((1ULL << 55) - 1)

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

extern size_t page_size, pmd_size, pmd_nr;
extern int pagemap_fd, kpageflags_fd;

/* Reads the PMD geometry and opens pagemap/kpageflags; exits the test on error. */
void thp_util_init(void);
/* A child must call this: the inherited pagemap fd shows the parent's memory. */
void thp_util_reopen_pagemap(void);
/* THP "enabled" to madvise, every per-size anon "enabled" to never; restored at exit. */
void setup_thp(void);
void set_mode(const char *path, const char *mode);

struct region {
	char *base;		/* whole reservation, for munmap */
	size_t total;
	char *p;		/* the aligned, writable part */
	size_t len;
};

int map_region(struct region *r, size_t len);
void unmap_region(struct region *r);
/* Every 8-byte word holds its offset xor seed; intact() reports the first difference. */
void fill(char *p, size_t len, uint64_t seed);
bool intact(char *p, size_t len, uint64_t seed);
/*
 * Drops the CPUs' cached translations of [p, p + len) with an mprotect()
 * round trip (it takes the mmap lock for writing).  MGLRU clears access bits
 * without a TLB flush, and QEMU's soft TLB holds far more than a hardware
 * one: without this, touching the memory again may leave the bits clear.
 */
void drop_translations(char *p, size_t len);
/* PFNs of n pages from addr: 0, -1 if PFNs cannot be seen, 1 if a page is not present. */
int get_pfns(char *addr, size_t n, uint64_t *pfns);
/* Is [addr, addr + pmd_size) one PMD-order THP?  1 yes, 0 no, -1 cannot tell. */
int kpf_pmd_thp(char *addr);
/* How many of n pages at p are resident (mincore), or (size_t)-1. */
size_t resident_pages(char *p, size_t n);

#endif
