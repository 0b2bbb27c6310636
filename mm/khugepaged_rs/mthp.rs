// SPDX-License-Identifier: GPL-2.0

//! Collapse of one PMD range to the mTHP sizes the order selector plans from the scan's
//! bitmaps, retrying a failed range at the smaller enabled orders as 7.3 does
//! (C: `mthp_collapse()`).

use crate::{
    collapse::collapse_huge_page,
    control::{warn_max_ptes_none, CollapseControl, Geometry},
    policy::{
        knobs::Knob,
        order::{self, PlanScratch, Planner, PmdScan},
        scan_result::ScanResult,
    },
    scan::ScanStats,
    settings,
};
use kernel::{
    mm::{
        vmstat::{add_mthp_stat, MthpStat},
        MmWithUser,
    },
    page::PAGE_SIZE,
};

/// What the order selector plans from: the bitmaps of the range just scanned and the limits.
fn pmd_scan<'b>(
    geo: Geometry,
    (present, swap, shared): (&'b [u64], &'b [u64], &'b [u64]),
    stats: &ScanStats,
) -> PmdScan<'b> {
    PmdScan {
        present,
        swap,
        shared,
        pmd_order: geo.order,
        enabled_orders: u64::try_from(stats.enabled_orders).unwrap_or(0),
        max_ptes_none: if stats.uffd_armed {
            0
        } else {
            settings::get(Knob::MaxPtesNone)
        },
        max_ptes_swap: settings::get(Knob::MaxPtesSwap),
        max_ptes_shared: settings::get(Knob::MaxPtesShared),
    }
}

/// Whether the order selector plans nothing for the range just scanned; if so, counts the
/// ranges 7.3's walk would have tried and refused, as [`mthp_collapse`] does otherwise.
pub(crate) fn nothing_planned(cc: &mut CollapseControl, stats: &ScanStats) -> bool {
    let scan = pmd_scan(cc.geo, (&cc.present, &cc.swap, &cc.shared), stats);
    let Ok(mut planner) = Planner::with_scratch(&scan, &mut cc.plan_scratch) else {
        return false;
    };
    if planner.next().is_some() {
        return false;
    }
    if planner.max_ptes_none_unsupported() {
        warn_max_ptes_none(cc.geo);
    }
    if planner.walked_below_pmd() {
        count_blocked(&scan, cc.geo);
    }
    true
}

/// Collapses the PMD range at `addr` to the sizes the order selector plans from the scan's
/// bitmaps, retrying a failed range at the smaller enabled orders as 7.3 does
/// (C: `mthp_collapse()`). Called and returns without the mmap lock.
pub(crate) fn mthp_collapse(
    cc: &mut CollapseControl,
    mm: &MmWithUser,
    addr: usize,
    stats: &ScanStats,
) -> ScanResult {
    let geo = cc.geo;
    // The bitmaps and the scratch are the planner's while the collapses below use the
    // control.
    let present = core::mem::take(&mut cc.present);
    let swap = core::mem::take(&mut cc.swap);
    let shared = core::mem::take(&mut cc.shared);
    let mut scratch = core::mem::take(&mut cc.plan_scratch);
    let scan = pmd_scan(geo, (&present, &swap, &shared), stats);
    let result = match Planner::with_scratch(&scan, &mut scratch) {
        Ok(mut planner) => {
            if planner.max_ptes_none_unsupported() {
                warn_max_ptes_none(geo);
            }
            let result = run_plan(cc, mm, addr, stats, &mut planner);
            if planner.walked_below_pmd() {
                count_blocked(&scan, geo);
            }
            result
        }
        Err(_) => ScanResult::Fail,
    };
    cc.present = present;
    cc.swap = swap;
    cc.shared = shared;
    cc.plan_scratch = scratch;
    result
}

/// Counts the ranges below the PMD order that 7.3's walk would have tried and refused for
/// a swapped-out or shared PTE; the plan never tries them.
fn count_blocked(scan: &PmdScan<'_>, geo: Geometry) {
    let Ok(blocked) = order::blocked(scan) else {
        return;
    };
    for k in order::MIN_ORDER..geo.order {
        if blocked.swap(k) != 0 {
            add_mthp_stat(k, MthpStat::ExceedSwap, blocked.swap(k));
        }
        if blocked.shared(k) != 0 {
            add_mthp_stat(k, MthpStat::ExceedShared, blocked.shared(k));
        }
    }
}

fn run_plan(
    cc: &mut CollapseControl,
    mm: &MmWithUser,
    addr: usize,
    stats: &ScanStats,
    planner: &mut Planner<'_, &mut PlanScratch>,
) -> ScanResult {
    let mut collapsed = false;
    let mut alloc_failed = false;
    let mut last = ScanResult::Fail;
    while let Some(range) = planner.next() {
        // CAST: Offsets are below `HPAGE_PMD_NR`.
        let start = addr.wrapping_add((range.offset as usize).wrapping_mul(PAGE_SIZE));
        let r = collapse_huge_page(cc, mm, start, stats.referenced, stats.unmapped, range.order);
        match r {
            ScanResult::Succeed => collapsed = true,
            // Already a folio of this size or larger: leave it, go on after it.
            ScanResult::PteMappedHugepage => {}
            // Reasons a smaller order may still succeed.
            ScanResult::AllocHugePageFail
            | ScanResult::LackReferencedPage
            | ScanResult::ExceedNonePte
            | ScanResult::ExceedSwapPte
            | ScanResult::ExceedSharedPte
            | ScanResult::PageLock
            | ScanResult::PageCount
            | ScanResult::PageNull
            | ScanResult::DelPageLru
            | ScanResult::PteNonPresent
            | ScanResult::PteUffd
            | ScanResult::PageLazyfree => {
                alloc_failed |= r == ScanResult::AllocHugePageFail;
                last = r;
                planner.retry_smaller();
            }
            // Nothing more can be collapsed here.
            _ => {
                last = r;
                break;
            }
        }
    }
    if collapsed {
        ScanResult::Succeed
    } else if alloc_failed {
        ScanResult::AllocHugePageFail
    } else {
        last
    }
}
