// SPDX-License-Identifier: GPL-2.0

//! Scanning one PMD range of anonymous memory: whether it is worth collapsing, and the
//! bitmaps the order selector plans its mTHP collapses from (C: `collapse_scan_pmd()`).
//!
//! The scan runs under the mmap read lock and the page-table lock, and reads each PTE once.
//! A large folio mapped by a run of PTEs is looked up and checked once for the whole run
//! (C's `folio_pte_batch()`), where 7.3 looks it up again for every PTE; only what may
//! differ between the PTEs of a run (their accessed bits, and their dirty bits for a
//! lazyfree folio) is read per PTE. The outcome is exactly 7.3's: a run is taken whole only
//! when no PTE of it can fail a check the first one passed.
//!
//! The caller looks up the VMA and its enabled orders once for all the ranges it scans in it.

use crate::control::{
    count_pmd_event, max_ptes_none, max_ptes_shared, max_ptes_swap, CollapseControl,
};
use crate::policy::scan_result::ScanResult;
use kernel::{
    mm::{
        khugepaged_trace as trace,
        pgtable::{MmapLocked, PmdState, PteTable},
        virt::VmaRef,
        vmstat::{MthpStat, VmEvent},
        MmWithUser, MmapReadGuard,
    },
    page::PAGE_SIZE,
};

/// What a scan of one PMD range found, for the tracepoint and the collapse that follows.
pub(crate) struct ScanStats {
    /// The orders khugepaged may collapse this VMA to (bit n = order n).
    pub(crate) enabled_orders: usize,
    /// Whether userfaultfd tracks the VMA: no empty PTE may be filled.
    pub(crate) uffd_armed: bool,
    pub(crate) referenced: u32,
    pub(crate) none_or_zero: u32,
    pub(crate) unmapped: u32,
    pub(crate) failed_pfn: Option<usize>,
}

/// Scans the PMD range at `addr` (PMD-aligned, inside the anonymous `vma`, whose collapse
/// orders are `enabled_orders`). [`ScanResult::Succeed`] means the range qualifies for a
/// collapse. The caller fires the tracepoint ([`trace`]) once it knows the final result.
pub(crate) fn scan_pmd(
    cc: &mut CollapseControl,
    guard: &MmapReadGuard<'_>,
    vma: &VmaRef,
    enabled_orders: usize,
    addr: usize,
) -> (ScanResult, ScanStats) {
    let mut stats = ScanStats {
        uffd_armed: vma.userfaultfd_armed(),
        enabled_orders,
        referenced: 0,
        none_or_zero: 0,
        unmapped: 0,
        failed_pfn: None,
    };
    let result = scan_ptes(cc, guard, vma, addr, &mut stats);
    (result, stats)
}

/// Fires `mm_khugepaged_scan_pmd` for a scanned range with its final result: the scan's if
/// it refused the range, else the collapse's, as 7.3 reports it.
pub(crate) fn trace(mm: &MmWithUser, stats: &ScanStats, result: ScanResult) {
    trace::scan_pmd(
        mm,
        stats.failed_pfn,
        stats.referenced,
        stats.none_or_zero,
        result as i32,
        stats.unmapped,
    );
}

fn scan_ptes(
    cc: &mut CollapseControl,
    guard: &MmapReadGuard<'_>,
    vma: &VmaRef,
    addr: usize,
    stats: &mut ScanStats,
) -> ScanResult {
    let geo = cc.geometry();
    let max_shared = max_ptes_shared(cc.is_khugepaged, geo, geo.order);
    let max_swap = max_ptes_swap(cc.is_khugepaged);
    let mut max_none = max_ptes_none(cc.is_khugepaged, stats.uffd_armed, geo, geo.order);
    let Some(pmd) = guard.find_pmd(vma, addr) else {
        cc.tick(1);
        return ScanResult::NoPteTable;
    };
    match pmd.state() {
        PmdState::Table => {}
        PmdState::NoTable => {
            cc.tick(1);
            return ScanResult::NoPteTable;
        }
        PmdState::Huge => {
            cc.tick(1);
            return ScanResult::PmdMapped;
        }
    }
    cc.clear_scan_state();
    // With smaller orders enabled, scan the whole range: the selector decides per order.
    if stats.enabled_orders != 1usize.checked_shl(geo.order).unwrap_or(0) {
        max_none = u32::try_from(geo.nr.saturating_sub(1)).unwrap_or(u32::MAX);
    }
    let Some(ptes) = pmd.lock_ptes(addr) else {
        cc.tick(1);
        return ScanResult::NoPteTable;
    };
    let limits = Limits {
        none: max_none,
        swap: max_swap,
        shared: max_shared,
        keeps_lazyfree: !cc.is_khugepaged || vma.is_droppable(),
    };
    // Progress is charged per PTE looked at, as in 7.3, once for the whole walk.
    let (result, looked) = walk_ptes(cc, guard, &ptes, addr, &limits, stats);
    cc.tick(looked);
    if result != ScanResult::Succeed {
        return result;
    }
    // khugepaged wants some sign of use, and more of it when pages must be swapped in (7.3:
    // half the range). A hint's young PTEs count, and only those: a hint from a few young
    // PTEs must not drive the swap-in of a mostly swapped-out range.
    let half = u32::try_from(geo.nr / 2).unwrap_or(u32::MAX);
    let referenced = stats.referenced.saturating_add(cc.hint_young);
    if cc.is_khugepaged && (referenced == 0 || (stats.unmapped > 0 && referenced < half)) {
        ScanResult::LackReferencedPage
    } else {
        ScanResult::Succeed
    }
}

/// The limits one scan applies, read once.
struct Limits {
    none: u32,
    swap: u32,
    shared: u32,
    /// The collapse keeps a lazyfree folio lazyfree (`MADV_COLLAPSE`, or a VM_DROPPABLE VMA),
    /// so a clean one need not be refused.
    keeps_lazyfree: bool,
}

/// Reads the PTEs of the locked table and checks what they map. Returns the result and the
/// number of PTEs looked at: up to and including the one that failed a check.
fn walk_ptes(
    cc: &mut CollapseControl,
    guard: &MmapReadGuard<'_>,
    ptes: &PteTable<'_>,
    addr: usize,
    limits: &Limits,
    stats: &mut ScanStats,
) -> (ScanResult, usize) {
    let geo = cc.geometry();
    let mut shared = 0u32;
    let mut i = 0;
    while let Some(pte) = ptes.get(i) {
        if pte.is_none_or_zero() {
            // Runs of them are what a sparse range is made of: count a run in a loop of its
            // own, with nothing but the count and the index live (both bounded by the table
            // size, hence the wrapping adds: no overflow checks in the loop).
            let mut none = stats.none_or_zero;
            loop {
                none = none.wrapping_add(1);
                i = i.wrapping_add(1);
                if none > limits.none {
                    stats.none_or_zero = none;
                    count_pmd_event(geo, VmEvent::ExceedNonePte, MthpStat::ExceedNone);
                    return (ScanResult::ExceedNonePte, i);
                }
                if !ptes.get(i).is_some_and(|p| p.is_none_or_zero()) {
                    break;
                }
            }
            stats.none_or_zero = none;
            continue;
        }
        if !pte.is_present() {
            stats.unmapped += 1;
            if stats.unmapped > limits.swap {
                count_pmd_event(geo, VmEvent::ExceedSwapPte, MthpStat::ExceedSwap);
                return (ScanResult::ExceedSwapPte, i + 1);
            }
            // Always strict with uffd-wp swap entries: the new PMD could not carry them.
            if pte.is_swap_uffd() {
                return (ScanResult::PteUffd, i + 1);
            }
            cc.mark_swap(i);
            i += 1;
            continue;
        }
        if pte.is_uffd() {
            return (ScanResult::PteUffd, i + 1);
        }
        let Some((folio, run)) = ptes.folio_run(i) else {
            return (ScanResult::PageNull, i + 1);
        };
        let fail = |stats: &mut ScanStats, result| {
            stats.failed_pfn = Some(folio.pfn());
            (result, i + 1)
        };
        // A clean lazyfree folio is about to be discarded: collapsing it would make it
        // dirty and keep it. Each PTE's own dirty bit decides, so such a folio is taken one
        // PTE at a time.
        let mut n = run;
        if !limits.keeps_lazyfree && folio.is_lazyfree() {
            if !pte.is_dirty() {
                return fail(stats, ScanResult::PageLazyfree);
            }
            n = 1;
        }
        if !folio.is_anon() {
            return fail(stats, ScanResult::PageAnon);
        }
        // A page counts as shared if any part of its folio is. A run that would cross the
        // limit is taken one PTE at a time, to stop exactly where 7.3 does.
        let is_shared = folio.maybe_mapped_shared();
        if is_shared {
            let ptes_in_run = u32::try_from(n).unwrap_or(u32::MAX);
            if shared.saturating_add(ptes_in_run) > limits.shared {
                n = 1;
            }
            shared = shared.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
            if shared > limits.shared {
                count_pmd_event(geo, VmEvent::ExceedSharedPte, MthpStat::ExceedShared);
                return fail(stats, ScanResult::ExceedSharedPte);
            }
        }
        cc.mark_present(i, n, is_shared);
        let nid = usize::try_from(folio.nid()).unwrap_or(0);
        if cc.scan_abort(nid) {
            return fail(stats, ScanResult::ScanAbort);
        }
        cc.add_node_load(nid, n);
        if !folio.is_lru() {
            return fail(stats, ScanResult::PageLru);
        }
        if folio.is_locked() {
            return fail(stats, ScanResult::PageLock);
        }
        // Racy here; isolation checks again under the locks.
        if folio.has_extra_refs() {
            return fail(stats, ScanResult::PageCount);
        }
        if cc.is_khugepaged {
            if folio.is_young_or_referenced() {
                stats.referenced += u32::try_from(n).unwrap_or(u32::MAX);
            } else {
                // Each PTE of the run has its own accessed bit.
                for j in i..i + n {
                    let pte_addr = addr.wrapping_add(j.wrapping_mul(PAGE_SIZE));
                    if ptes.get(j).is_some_and(|p| p.is_young())
                        || guard.mm().notifier_test_young(pte_addr)
                    {
                        stats.referenced += 1;
                    }
                }
            }
        }
        i += n;
    }
    (ScanResult::Succeed, i)
}
