/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The outcome of a khugepaged scan or collapse, by the names and numbers 7.3's
 * mm/khugepaged.c gives them: include/trace/events/huge_memory.h prints them by number.
 * mm/khugepaged_rs/policy/scan_result.rs mirrors this enum value for value, and a host
 * test (tools/khugepaged-rs/policy) checks that the two agree. The last one,
 * SCAN_MMAP_LOCK_BUSY, is khugepaged-rs's own: khugepaged found the mmap lock busy and
 * left the range for a later pass (the trace prints it by the name patch 0005 gives it).
 */
#ifndef _MM_KHUGEPAGED_RS_SCAN_RESULT_H
#define _MM_KHUGEPAGED_RS_SCAN_RESULT_H

enum scan_result {
	SCAN_FAIL,
	SCAN_SUCCEED,
	SCAN_NO_PTE_TABLE,
	SCAN_PMD_MAPPED,
	SCAN_EXCEED_NONE_PTE,
	SCAN_EXCEED_SWAP_PTE,
	SCAN_EXCEED_SHARED_PTE,
	SCAN_PTE_NON_PRESENT,
	SCAN_PTE_UFFD,
	SCAN_PTE_MAPPED_HUGEPAGE,
	SCAN_LACK_REFERENCED_PAGE,
	SCAN_PAGE_NULL,
	SCAN_SCAN_ABORT,
	SCAN_PAGE_COUNT,
	SCAN_PAGE_LRU,
	SCAN_PAGE_LOCK,
	SCAN_PAGE_ANON,
	SCAN_PAGE_LAZYFREE,
	SCAN_PAGE_COMPOUND,
	SCAN_ANY_PROCESS,
	SCAN_VMA_NULL,
	SCAN_VMA_CHECK,
	SCAN_ADDRESS_RANGE,
	SCAN_DEL_PAGE_LRU,
	SCAN_ALLOC_HUGE_PAGE_FAIL,
	SCAN_CGROUP_CHARGE_FAIL,
	SCAN_TRUNCATED,
	SCAN_PAGE_HAS_PRIVATE,
	SCAN_STORE_FAILED,
	SCAN_COPY_MC,
	SCAN_PAGE_FILLED,
	SCAN_PAGE_DIRTY_OR_WRITEBACK,
	SCAN_MMAP_LOCK_BUSY,
};

#endif /* _MM_KHUGEPAGED_RS_SCAN_RESULT_H */
