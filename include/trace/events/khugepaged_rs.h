/* SPDX-License-Identifier: GPL-2.0 */
/*
 * khugepaged-rs's own huge_memory event: one per collapse hint served.  Created in
 * mm/khugepaged_rs/trace.c, apart from <trace/events/huge_memory.h>, which glue.c creates.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM huge_memory
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE khugepaged_rs

#if !defined(_TRACE_KHUGEPAGED_RS_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_KHUGEPAGED_RS_H

#include <linux/tracepoint.h>

/*
 * @passes is the number of aging passes the range was seen young in (0 for a hint asked
 * for by khugepaged_add_collapse_hint()); @status the scan result (enum scan_result, as
 * mm_khugepaged_scan_pmd prints it by name); @collapsed whether the hint's PMD range
 * gained a new folio (0 or 1).
 */
TRACE_EVENT(mm_khugepaged_collapse_hint,

	TP_PROTO(struct mm_struct *mm, unsigned long addr, unsigned int prio,
		 unsigned int source, unsigned int passes, int status, unsigned int collapsed),

	TP_ARGS(mm, addr, prio, source, passes, status, collapsed),

	TP_STRUCT__entry(
		__field(struct mm_struct *, mm)
		__field(unsigned long, addr)
		__field(unsigned int, prio)
		__field(unsigned int, source)
		__field(unsigned int, passes)
		__field(int, status)
		__field(unsigned int, collapsed)
	),

	TP_fast_assign(
		__entry->mm = mm;
		__entry->addr = addr;
		__entry->prio = prio;
		__entry->source = source;
		__entry->passes = passes;
		__entry->status = status;
		__entry->collapsed = collapsed;
	),

	TP_printk("mm=%p, addr=0x%lx, prio=%u, source=%s, passes=%u, status=%d, collapsed=%u",
		  __entry->mm, __entry->addr, __entry->prio,
		  __print_symbolic(__entry->source,
				   { 0, "other" }, { 1, "walk" }, { 2, "look_around" }),
		  __entry->passes, __entry->status, __entry->collapsed)
);

#endif /* _TRACE_KHUGEPAGED_RS_H */

#include <trace/define_trace.h>
