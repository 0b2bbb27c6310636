// SPDX-License-Identifier: GPL-2.0
/*
 * What only C can define for the Rust khugepaged: the huge_memory tracepoints (they need
 * CREATE_TRACE_POINTS and the scan results by name), the static key the collapse-hint
 * feeders in mm/vmscan.c test, flush_tlb_mm() (x86 hides it from modules, and bindgen
 * and the inlined helpers are built as one), a rate-limited message (its state is a
 * static of the call site), and a compile-time check that <linux/khugepaged_rs.h> still
 * matches the mm-internal headers it mirrors.
 */
#define pr_fmt(fmt) "khugepaged: " fmt

#include <linux/jump_label.h>
#include <linux/khugepaged.h>
#include <linux/mm.h>
#include <asm/tlbflush.h>
#include <linux/khugepaged_rs.h>
#include "../internal.h"
#include "../page_alloc.h"
#include "scan_result.h"

#define CREATE_TRACE_POINTS
#include <trace/events/huge_memory.h>

/* Off until khugepaged_init() has the hint queue, then as the "hints" knob says. */
DEFINE_STATIC_KEY_FALSE(khugepaged_hints_key);

/* set_recommended_min_free_kbytes()'s message, with its rate limit. */
void khugepaged_rs_min_free_raised(int from, unsigned long to)
{
	pr_info_ratelimited("raising min_free_kbytes from %d to %lu to help transparent hugepage allocations\n",
			    from, to);
}

void khugepaged_rs_flush_tlb_mm(struct mm_struct *mm)
{
	flush_tlb_mm(mm);
}

void khugepaged_rs_hints_key_set(bool on)
{
	if (on)
		static_branch_enable(&khugepaged_hints_key);
	else
		static_branch_disable(&khugepaged_hints_key);
}
