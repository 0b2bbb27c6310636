// SPDX-License-Identifier: GPL-2.0

//! One PMD range, scanned and then collapsed if it qualifies: what the round-robin walk, the
//! hints and `MADV_COLLAPSE` call (C: `collapse_single_pmd()`, and the end of
//! `collapse_scan_pmd()`).

use crate::{
    collapse::collapse_huge_page,
    control::CollapseControl,
    eligible,
    mthp::{mthp_collapse, nothing_planned},
    policy::scan_result::ScanResult,
    scan::{self, ScanStats},
    settings,
};
use kernel::{
    mm::{
        pgtable::{MmapLocked, PmdState},
        MmWithUser, MmapReadGuard,
    },
    sync::atomic::Relaxed,
};

/// Collapses the PMD range at `addr`, which a scan under the mmap lock `guard` just found
/// worth it, to the PMD order or to the mTHP sizes the order selector plans.
///
/// The plan is made first, under the lock: a range with nothing to collapse at any enabled
/// size fails with [`ScanResult::Fail`] (7.3's result) and keeps the lock, where 7.3 drops
/// and retakes it. Otherwise the lock is dropped, as the allocation may reclaim and compact.
/// Returns the result, and the lock if it is still held.
pub(crate) fn collapse_scanned<'a>(
    cc: &mut CollapseControl,
    mm: &'a MmWithUser,
    guard: MmapReadGuard<'a>,
    addr: usize,
    stats: &ScanStats,
) -> (ScanResult, Option<MmapReadGuard<'a>>) {
    let pmd_bit = 1usize.checked_shl(cc.geo.order).unwrap_or(0);
    let pmd_only = stats.enabled_orders == pmd_bit;
    if !pmd_only && nothing_planned(cc, stats) {
        return (ScanResult::Fail, Some(guard));
    }
    drop(guard);
    let result = if pmd_only {
        collapse_huge_page(cc, mm, addr, stats.referenced, stats.unmapped, cc.geo.order)
    } else {
        mthp_collapse(cc, mm, addr, stats)
    };
    if cc.is_khugepaged && result == ScanResult::Succeed {
        settings::PAGES_COLLAPSED.fetch_add(1, Relaxed);
    }
    (result, None)
}

/// Scans the PMD range at `addr` and collapses it if it qualifies, through whichever path its
/// memory type takes; only anonymous memory is collapsed so far (C: `collapse_single_pmd()`).
///
/// Returns the result and the mmap read lock if it is still held: a collapse drops it.
pub(crate) fn collapse_single_pmd<'a>(
    cc: &mut CollapseControl,
    mm: &'a MmWithUser,
    guard: MmapReadGuard<'a>,
    addr: usize,
) -> (ScanResult, Option<MmapReadGuard<'a>>) {
    match single_pmd(cc, mm, guard, addr, false) {
        Ok(done) => done,
        Err(guard) => (ScanResult::Fail, Some(guard)),
    }
}

/// As [`collapse_single_pmd`], for the range of a collapse hint, which may be stale: gives the
/// lock back as an error, without scanning, unless the whole PMD still lies in a VMA
/// khugepaged may collapse. One VMA lookup serves the check and the scan.
pub(crate) fn collapse_hinted_pmd<'a>(
    cc: &mut CollapseControl,
    mm: &'a MmWithUser,
    guard: MmapReadGuard<'a>,
    addr: usize,
) -> Result<(ScanResult, Option<MmapReadGuard<'a>>), MmapReadGuard<'a>> {
    single_pmd(cc, mm, guard, addr, true)
}

fn single_pmd<'a>(
    cc: &mut CollapseControl,
    mm: &'a MmWithUser,
    guard: MmapReadGuard<'a>,
    addr: usize,
    hinted: bool,
) -> Result<(ScanResult, Option<MmapReadGuard<'a>>), MmapReadGuard<'a>> {
    let (result, stats) = {
        let Some(vma) = guard.vma_lookup(addr) else {
            return Err(guard);
        };
        let orders =
            eligible::collapse_possible_orders(vma, vma.flags(), eligible::tva(cc.is_khugepaged));
        if hinted && (orders == 0 || !cc.geo.holds(vma.start(), vma.end(), addr)) {
            return Err(guard);
        }
        if !vma.is_anonymous() {
            // File and shmem collapse are not written yet; a range their huge page already
            // maps by its PMD is what 7.3 reports it as (`try_collapse_pte_mapped_thp()`),
            // which `MADV_COLLAPSE` counts as done.
            let huge = guard
                .find_pmd(vma, addr)
                .is_some_and(|pmd| pmd.state() == PmdState::Huge);
            let result = if huge {
                ScanResult::PmdMapped
            } else {
                ScanResult::Fail
            };
            return Ok((result, Some(guard)));
        }
        scan::scan_pmd(cc, &guard, vma, orders, addr)
    };
    let (result, guard) = if result == ScanResult::Succeed {
        collapse_scanned(cc, mm, guard, addr, &stats)
    } else {
        (result, Some(guard))
    };
    scan::trace(mm, &stats, result);
    Ok((result, guard))
}
