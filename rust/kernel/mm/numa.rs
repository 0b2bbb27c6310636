// SPDX-License-Identifier: GPL-2.0

//! NUMA nodes as khugepaged sees them: how many, how far apart, and whether node reclaim
//! wants allocations kept local.
//!
//! C headers: [`include/linux/numa.h`](srctree/include/linux/numa.h),
//! [`include/linux/swap.h`](srctree/include/linux/swap.h).

use crate::bindings;

/// Whether `node_reclaim_mode` asks to keep allocations on the local node.
pub fn node_reclaim_enabled() -> bool {
    // SAFETY: Reads a global.
    unsafe { bindings::node_reclaim_enabled() }
}

/// Whether nodes `a` and `b` are further apart than `node_reclaim_distance`.
pub fn node_too_far(a: i32, b: i32) -> bool {
    // SAFETY: Reads the distance table and a global.
    unsafe { bindings::node_too_far(a, b) }
}

/// The number of NUMA node ids (`MAX_NUMNODES`).
pub fn max_numnodes() -> usize {
    // CAST: At most 1024.
    // SAFETY: Evaluates a constant.
    unsafe { bindings::max_numnodes() as usize }
}
