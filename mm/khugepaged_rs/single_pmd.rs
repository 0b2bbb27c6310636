// SPDX-License-Identifier: GPL-2.0

//! One PMD range, scanned and then collapsed if it qualifies: what the round-robin walk, the
//! hints and `MADV_COLLAPSE` call (C: `collapse_single_pmd()`, and the end of
//! `collapse_scan_pmd()`).

use crate::{
    collapse::collapse_huge_page,
    control::CollapseControl,
    eligible,
    file_collapse::collapse_scan_file,
    mthp::{mthp_collapse, nothing_planned},
    policy::scan_result::ScanResult,
    pte_mapped_thp::try_collapse_pte_mapped_thp,
    scan::{self, ScanStats},
    settings,
};
use kernel::{
    fs::File,
    mm::{MmWithUser, MmapReadGuard},
    page::PAGE_SIZE,
    sync::{aref::ARef, atomic::Relaxed},
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
/// memory type takes (C: `collapse_single_pmd()`).
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
            // Hints are only taken for anonymous memory.
            if hinted {
                return Err(guard);
            }
            let Some(file) = vma.file() else {
                return Ok((ScanResult::VmaCheck, Some(guard)));
            };
            let file = ARef::from(file);
            let pgoff = vma.linear_page_index(addr);
            drop(guard);
            return Ok(collapse_file_pmd(cc, mm, addr, file, pgoff));
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

/// Scans and collapses the PMD range at `addr`, index `pgoff` of `file`, without the mmap
/// lock, which the caller dropped; then, for `MADV_COLLAPSE` or a folio already PMD-sized,
/// maps the range by its PMD under the lock again (C: the file half of
/// `collapse_single_pmd()`). `MADV_COLLAPSE` writes back dirty pages and tries once more.
/// Returns without the lock.
pub(crate) fn collapse_file_pmd<'a>(
    cc: &mut CollapseControl,
    mm: &'a MmWithUser,
    addr: usize,
    file: ARef<File>,
    pgoff: usize,
) -> (ScanResult, Option<MmapReadGuard<'a>>) {
    let mut result = collapse_scan_file(cc, mm, addr, &file, pgoff);
    let mapping = file.mapping();
    if !cc.is_khugepaged && result == ScanResult::PageDirtyOrWriteback && mapping.can_writeback() {
        let size = cc.geo.size;
        let lstart = pgoff.saturating_mul(PAGE_SIZE);
        let lend = lstart.saturating_add(size - 1);
        if let (Ok(lstart), Ok(lend)) = (i64::try_from(lstart), i64::try_from(lend)) {
            // Errors show as pages still dirty on the retry.
            let _ = mapping.write_and_wait_range(lstart, lend);
        }
        result = collapse_scan_file(cc, mm, addr, &file, pgoff);
    }
    drop(file);
    if result == ScanResult::PteMappedHugepage {
        let guard = mm.mmap_read_lock();
        result = if eligible::exit_or_disabled(mm) {
            ScanResult::AnyProcess
        } else {
            try_collapse_pte_mapped_thp(&guard, addr, !cc.is_khugepaged)
        };
        if result == ScanResult::PmdMapped {
            result = ScanResult::Succeed;
        }
    }
    if cc.is_khugepaged && result == ScanResult::Succeed {
        settings::PAGES_COLLAPSED.fetch_add(1, Relaxed);
    }
    (result, None)
}
