/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mm-internal declarations the Rust khugepaged (mm/khugepaged_rs/) uses through bindgen,
 * which cannot include mm/internal.h or mm/page_alloc.h.  They repeat those headers'
 * declarations; mm/khugepaged_rs/glue.c includes both, so any drift fails to compile.
 * Also the two C functions of mm/khugepaged_rs/ that Rust calls.
 */
#ifndef _LINUX_KHUGEPAGED_RS_H
#define _LINUX_KHUGEPAGED_RS_H

#include <linux/types.h>

extern int min_free_kbytes;
extern int user_min_free_kbytes;
void setup_per_zone_wmarks(void);
void calculate_min_free_kbytes(void);

struct mm_struct;

/* set_recommended_min_free_kbytes()'s rate-limited message (glue.c). */
void khugepaged_rs_min_free_raised(int from, unsigned long to);

/* Collapse hints (glue.c, trace.c): the feeders' static key, and the served-hint event. */
void khugepaged_rs_hints_key_set(bool on);

/* flush_tlb_mm(), which x86 hides from modules, as bindgen and inlined helpers are built. */
void khugepaged_rs_flush_tlb_mm(struct mm_struct *mm);
void khugepaged_rs_trace_hint(struct mm_struct *mm, unsigned long addr, unsigned int prio,
			      unsigned int source, unsigned int passes, int status,
			      unsigned int collapsed);

#endif /* _LINUX_KHUGEPAGED_RS_H */
