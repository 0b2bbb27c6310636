// SPDX-License-Identifier: GPL-2.0

//! The `/proc/vmstat` events, per-size THP statistics and memory cgroup events khugepaged
//! counts.
//!
//! C headers: [`include/linux/vmstat.h`](srctree/include/linux/vmstat.h),
//! [`include/linux/huge_mm.h`](srctree/include/linux/huge_mm.h),
//! [`include/linux/memcontrol.h`](srctree/include/linux/memcontrol.h).

use crate::{bindings, mm::folio::Folio};

/// A `/proc/vmstat` event khugepaged counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum VmEvent {
    /// `thp_collapse_alloc`.
    CollapseAlloc = bindings::vm_event_item_THP_COLLAPSE_ALLOC,
    /// `thp_collapse_alloc_failed`.
    CollapseAllocFailed = bindings::vm_event_item_THP_COLLAPSE_ALLOC_FAILED,
    /// `thp_scan_exceed_none_pte`.
    ExceedNonePte = bindings::vm_event_item_THP_SCAN_EXCEED_NONE_PTE,
    /// `thp_scan_exceed_swap_pte`.
    ExceedSwapPte = bindings::vm_event_item_THP_SCAN_EXCEED_SWAP_PTE,
    /// `thp_scan_exceed_share_pte`.
    ExceedSharedPte = bindings::vm_event_item_THP_SCAN_EXCEED_SHARED_PTE,
}

/// A per-size THP statistic (`hugepages-<size>kB/stats/`) khugepaged counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MthpStat {
    /// `collapse_alloc`.
    CollapseAlloc = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_ALLOC,
    /// `collapse_alloc_failed`.
    CollapseAllocFailed = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_ALLOC_FAILED,
    /// `collapse_exceed_none_pte`.
    ExceedNone = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_EXCEED_NONE,
    /// `collapse_exceed_swap_pte`.
    ExceedSwap = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_EXCEED_SWAP,
    /// `collapse_exceed_shared_pte`.
    ExceedShared = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_EXCEED_SHARED,
}

/// Counts one `event` in `/proc/vmstat`.
pub fn count_vm_event(event: VmEvent) {
    // SAFETY: Per-CPU counter update, allowed in any context.
    unsafe { bindings::count_vm_event(event as u32) }
}

/// Counts one `stat` for THPs of `order`.
pub fn count_mthp_stat(order: u32, stat: MthpStat) {
    // CAST: Orders are tiny.
    // SAFETY: Per-CPU counter update; out-of-range orders are ignored by C.
    unsafe { bindings::count_mthp_stat(order as i32, stat as u32) }
}

/// Counts `n` of `stat` for THPs of `order` at once.
pub fn add_mthp_stat(order: u32, stat: MthpStat, n: u32) {
    let delta = i32::try_from(n).unwrap_or(i32::MAX);
    // CAST: Orders are tiny.
    // SAFETY: Per-CPU counter update; out-of-range orders are ignored by C.
    unsafe { bindings::mod_mthp_stat(order as i32, stat as u32, delta) }
}

/// Counts one `event` in the memory cgroup `folio` is charged to.
pub fn count_memcg_folio_event(folio: &Folio, event: VmEvent) {
    // SAFETY: The folio is alive (`Folio` invariant).
    unsafe { bindings::count_memcg_folio_events(folio.as_raw(), event as u32, 1) }
}
