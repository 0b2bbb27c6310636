/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mm-internal declarations the Rust khugepaged (mm/khugepaged_rs/) uses through bindgen,
 * which cannot include mm/internal.h or mm/page_alloc.h.  They repeat those headers'
 * declarations; mm/khugepaged_rs/glue.c includes both, so any drift fails to compile.
 */
#ifndef _LINUX_KHUGEPAGED_RS_H
#define _LINUX_KHUGEPAGED_RS_H

extern int min_free_kbytes;
extern int user_min_free_kbytes;
void setup_per_zone_wmarks(void);
void calculate_min_free_kbytes(void);

#endif /* _LINUX_KHUGEPAGED_RS_H */
