// SPDX-License-Identifier: GPL-2.0
/*
 * What only C can define for the Rust khugepaged: the huge_memory tracepoints (they need
 * CREATE_TRACE_POINTS and the scan results by name) and a compile-time check that
 * <linux/khugepaged_rs.h> still matches the mm-internal headers it mirrors.
 */
#include <linux/mm.h>
#include <linux/khugepaged_rs.h>
#include "../internal.h"
#include "../page_alloc.h"
#include "scan_result.h"

#define CREATE_TRACE_POINTS
#include <trace/events/huge_memory.h>
