// SPDX-License-Identifier: GPL-2.0
/*
 * khugepaged-rs's own tracepoint (<trace/events/khugepaged_rs.h>), in its own file: two
 * headers of one trace system cannot both be created in glue.c.  Rust calls the wrapper.
 */
#include <linux/khugepaged_rs.h>
#include <linux/mm_types.h>

#define CREATE_TRACE_POINTS
#include <trace/events/khugepaged_rs.h>

void khugepaged_rs_trace_hint(struct mm_struct *mm, unsigned long addr, unsigned int prio,
			      unsigned int source, unsigned int passes, int status,
			      unsigned int collapsed)
{
	trace_mm_khugepaged_collapse_hint(mm, addr, prio, source, passes, status, collapsed);
}
