// SPDX-License-Identifier: GPL-2.0

//! Scanning one PMD range of anonymous memory and collapsing it into a PMD-mapped THP
//! (C: `collapse_scan_pmd()`, `collapse_huge_page()`, `__collapse_huge_page_isolate()`,
//! `hugepage_vma_revalidate()`, `alloc_charge_folio()`).
//!
//! The scan runs under the mmap read lock and the page-table lock and decides whether the
//! range is worth collapsing. The collapse then drops the mmap lock to allocate, retakes it
//! for writing, checks everything again, and hands the page table to
//! [`DetachedTable`], which either maps the new folio or puts every page back as it was.

use crate::{
    control::{count_collapse_event, max_ptes_none, max_ptes_shared, CollapseControl, Geometry},
    eligible,
    policy::scan_result::ScanResult,
    settings,
};
use kernel::{
    bindings,
    mm::{
        collapse::{CopyError, DetachedTable},
        folio::{IsolateError, NewFolio},
        khugepaged_trace as trace,
        mmap_lock::MmapWriteGuard,
        pgtable::{MmapLocked, PmdState},
        swap::{self, SwapinError},
        thp,
        virt::VmaRef,
        vmstat::{count_memcg_folio_event, count_mthp_stat, MthpStat, VmEvent},
        MmWithUser,
    },
    prelude::*,
    sync::atomic::Relaxed,
    time::{delay::fsleep, Delta},
};

/// The sleeps between khugepaged's tries for the mmap write lock, in microseconds: about
/// 7.5 ms in all. A reader that queued while the lock was last held for writing (by the
/// previous collapse, often) usually lets go within a fraction of that; a reader that holds
/// on longer leaves the range for a later pass. Sleeping between tries never queues
/// khugepaged as a writer.
const WRITE_TRYLOCK_BACKOFF_US: [i64; 4] = [500, 1000, 2000, 4000];

/// Takes `mm`'s mmap write lock if it comes free within [`WRITE_TRYLOCK_BACKOFF_US`],
/// without ever waiting for it.
fn mmap_write_trylock_backoff(mm: &MmWithUser) -> Option<MmapWriteGuard<'_>> {
    if let Some(g) = mm.mmap_write_trylock() {
        return Some(g);
    }
    for us in WRITE_TRYLOCK_BACKOFF_US {
        fsleep(Delta::from_micros(us));
        if let Some(g) = mm.mmap_write_trylock() {
            return Some(g);
        }
    }
    None
}

/// Finds the VMA at `addr` again after the mmap lock was dropped and checks it can still take
/// a THP of `order` there (C: `hugepage_vma_revalidate()`).
pub(crate) fn revalidate<'g>(
    guard: &'g impl MmapLocked,
    cc: &CollapseControl,
    addr: usize,
    expect_anon: bool,
    order: u32,
) -> Result<&'g VmaRef, ScanResult> {
    if eligible::exit_or_disabled(guard.mm()) {
        return Err(ScanResult::AnyProcess);
    }
    let vma = match guard.find_vma(addr) {
        Some(vma) if vma.start() <= addr => vma,
        // `find_vma()` may return a VMA above `addr`; C then fails the range check.
        Some(_) => return Err(ScanResult::AddressRange),
        None => return Err(ScanResult::VmaNull),
    };
    // The whole PMD must lie in this VMA: another VMA sharing the page table could race.
    if !vma.thp_suitable_order(addr, cc.geo.order) {
        return Err(ScanResult::AddressRange);
    }
    let bit = 1usize.checked_shl(order).unwrap_or(0);
    if thp::vma_allowable_orders(vma, vma.flags(), eligible::tva(cc.is_khugepaged), bit) == 0 {
        return Err(ScanResult::VmaCheck);
    }
    if expect_anon && (!vma.has_anon_vma() || !vma.is_anonymous()) {
        return Err(ScanResult::PageAnon);
    }
    Ok(vma)
}

/// Allocates and charges the new folio (C: `alloc_charge_folio()`).
pub(crate) fn alloc_charge_folio(
    cc: &CollapseControl,
    mm: &MmWithUser,
    order: u32,
) -> Result<NewFolio, ScanResult> {
    let gfp = if !cc.is_khugepaged || thp::flag(thp::Flag::DefragKhugepaged) {
        bindings::GFP_TRANSHUGE
    } else {
        bindings::GFP_TRANSHUGE_LIGHT
    };
    let (nid, nodes) = cc.target_nodes();
    let Some(folio) = NewFolio::alloc(gfp, order, nid, &nodes) else {
        count_collapse_event(
            cc.geo,
            order,
            VmEvent::CollapseAllocFailed,
            MthpStat::CollapseAllocFailed,
        );
        return Err(ScanResult::AllocHugePageFail);
    };
    count_collapse_event(
        cc.geo,
        order,
        VmEvent::CollapseAlloc,
        MthpStat::CollapseAlloc,
    );
    if folio.charge(mm, gfp).is_err() {
        return Err(ScanResult::CgroupChargeFail);
    }
    if order == cc.geo.order {
        count_memcg_folio_event(folio.folio(), VmEvent::CollapseAlloc);
    }
    Ok(folio)
}

/// Collapses the naturally aligned range of `order` at `addr` into a new THP: PMD-mapped at
/// the PMD order, PTE-mapped below. Called and returns without the mmap lock
/// (C: `collapse_huge_page()`).
pub(crate) fn collapse_huge_page(
    cc: &mut CollapseControl,
    mm: &MmWithUser,
    addr: usize,
    referenced: u32,
    unmapped: u32,
    order: u32,
) -> ScanResult {
    let result = match collapse_locked(cc, mm, addr, referenced, unmapped, order) {
        Ok(()) => ScanResult::Succeed,
        Err(r) => r,
    };
    trace::collapse_huge_page(mm, result == ScanResult::Succeed, result as i32, order);
    result
}

fn collapse_locked(
    cc: &mut CollapseControl,
    mm: &MmWithUser,
    addr: usize,
    referenced: u32,
    unmapped: u32,
    order: u32,
) -> Result<(), ScanResult> {
    let geo = cc.geo;
    let is_pmd = order == geo.order;
    let nr = 1usize.checked_shl(order).unwrap_or(0);
    let pmd_addr = geo.align_down(addr);
    // Dropped last on every path, after the locks, as C puts it.
    let mut folio = Some(alloc_charge_folio(cc, mm, order)?);
    if folio.as_ref().is_some_and(|f| f.alloc_deferred().is_err()) {
        return Err(ScanResult::AllocHugePageFail);
    }

    let guard = mm.mmap_read_lock();
    let pmd_id = {
        let vma = revalidate(&guard, cc, pmd_addr, true, order)?;
        let pmd = guard
            .find_pmd(vma, pmd_addr)
            .ok_or(ScanResult::NoPteTable)?;
        match pmd.state() {
            PmdState::Table => pmd.id(),
            PmdState::NoTable => return Err(ScanResult::NoPteTable),
            PmdState::Huge => return Err(ScanResult::PmdMapped),
        }
    };
    let guard = if unmapped > 0 {
        // Below the PMD order, pages are never swapped in: that could make a later scan
        // collapse a larger order than the process touched (creep).
        match swap::swap_in(guard, addr, nr, is_pmd) {
            Ok((guard, swapped_in)) => {
                trace::collapse_huge_page_swapin(
                    mm,
                    swapped_in,
                    referenced,
                    ScanResult::Succeed as i32,
                    order,
                );
                guard
            }
            Err((err, swapped_in)) => {
                let r = match err {
                    SwapinError::NoTable => ScanResult::NoPteTable,
                    SwapinError::Retry => ScanResult::PageLock,
                    SwapinError::Fault => ScanResult::Fail,
                    SwapinError::FoundSwap => {
                        count_mthp_stat(order, MthpStat::ExceedSwap);
                        ScanResult::ExceedSwapPte
                    }
                };
                trace::collapse_huge_page_swapin(mm, swapped_in, referenced, r as i32, order);
                return Err(r);
            }
        }
    } else {
        guard
    };
    drop(guard);

    // Keep page faults, GUP (but GUP-fast) and rmap away from the page table from here on.
    // khugepaged never waits for the lock: as a waiting writer it would hold back every
    // reader behind it, the process's own threads included, for as long as the slowest
    // reader ahead of it. A busy lock leaves the range for a later pass. `MADV_COLLAPSE`
    // waits, as 7.3 does: its caller asked for the collapse.
    let wguard = if cc.is_khugepaged {
        match mmap_write_trylock_backoff(mm) {
            Some(g) => g,
            None => {
                settings::MMAP_LOCK_BUSY.fetch_add(1, Relaxed);
                return Err(ScanResult::MmapLockBusy);
            }
        }
    } else {
        mm.mmap_write_lock()
    };
    let vma = revalidate(&wguard, cc, pmd_addr, true, order)?;
    let pmd = wguard
        .find_pmd(vma, pmd_addr)
        .ok_or(ScanResult::NoPteTable)?;
    match pmd.state() {
        PmdState::Table => {}
        PmdState::NoTable => return Err(ScanResult::NoPteTable),
        PmdState::Huge => return Err(ScanResult::PmdMapped),
    }
    if pmd.id() != pmd_id {
        return Err(ScanResult::Fail);
    }
    let anon_lock = wguard.lock_anon_vma(vma).ok_or(ScanResult::PageAnon)?;
    let uffd = vma.userfaultfd_armed();
    let limits = IsolateLimits {
        is_khugepaged: cc.is_khugepaged,
        hint_young: cc.hint_young,
        max_none: max_ptes_none(cc.is_khugepaged, uffd, geo, order),
        max_shared: max_ptes_shared(cc.is_khugepaged, geo, order),
        droppable: vma.is_droppable(),
        order,
        geo,
    };
    // The table keeps the anon_vma lock until rmap can no longer miss a mapping. On failure
    // it is put back as `detach()` returns: the PMD restored, then the pages released, then
    // the anon_vma lock dropped; the new folio goes back to `folio`, dropped after the mmap
    // lock.
    let collapse = |table: &mut DetachedTable<'_>| {
        isolate(table, mm, &limits)?;
        table.unlock();
        // A PMD-sized range has every page isolated and locked now: rmap cannot reach them,
        // so the copy need not hold the anon_vma lock. Below PMD size the table keeps it
        // until the table is back, for rmap walks of the neighbouring folios.
        if is_pmd {
            table.release_anon_vma();
        }
        let new = folio.take().ok_or(ScanResult::Fail)?;
        if let Err((err, new)) = table.copy_into(new) {
            folio = Some(new);
            return Err(match err {
                CopyError::MachineCheck => ScanResult::CopyMc,
                CopyError::Mismatch => ScanResult::Fail,
            });
        }
        table.commit().map_err(|_| ScanResult::Fail)
    };
    DetachedTable::detach(
        &wguard,
        anon_lock,
        pmd,
        addr,
        nr,
        &mut cc.isolated,
        collapse,
    )
    .unwrap_or(Err(ScanResult::NoPteTable))
}

/// The limits isolation applies, read once before the page table is taken out.
struct IsolateLimits {
    is_khugepaged: bool,
    /// See [`CollapseControl::hint_young`].
    hint_young: u32,
    max_none: u32,
    max_shared: u32,
    droppable: bool,
    order: u32,
    geo: Geometry,
}

/// Checks every PTE of the detached table again and isolates the pages
/// (C: `__collapse_huge_page_isolate()`).
fn isolate(
    table: &mut DetachedTable<'_>,
    mm: &MmWithUser,
    limits: &IsolateLimits,
) -> Result<(), ScanResult> {
    let geo = limits.geo;
    let order = limits.order;
    let mut none_or_zero = 0u32;
    let mut shared = 0u32;
    let mut referenced = 0u32;
    let mut last: Option<usize> = None;
    let mut result = ScanResult::Succeed;
    for i in 0..table.len() {
        let Some(pte) = table.pte(i) else { break };
        if pte.is_none_or_zero() {
            none_or_zero += 1;
            if none_or_zero > limits.max_none {
                count_collapse_event(geo, order, VmEvent::ExceedNonePte, MthpStat::ExceedNone);
                result = ScanResult::ExceedNonePte;
                break;
            }
            continue;
        }
        if !pte.is_present() {
            result = ScanResult::PteNonPresent;
            break;
        }
        if pte.is_uffd() {
            result = ScanResult::PteUffd;
            break;
        }
        let Some(folio) = table.folio(i) else {
            result = ScanResult::PageNull;
            break;
        };
        last = Some(i);
        if limits.is_khugepaged && !limits.droppable && folio.is_lazyfree() && !pte.is_dirty() {
            result = ScanResult::PageLazyfree;
            break;
        }
        if folio.maybe_mapped_shared() {
            shared += 1;
            if shared > limits.max_shared {
                count_collapse_event(geo, order, VmEvent::ExceedSharedPte, MthpStat::ExceedShared);
                result = ScanResult::ExceedSharedPte;
                break;
            }
        }
        // Below the PMD order, a folio already this large or larger stays as it is.
        if order != geo.order && folio.order() >= order {
            result = ScanResult::PteMappedHugepage;
            break;
        }
        let young = folio.is_young_or_referenced() || pte.is_young();
        match table.isolate(i) {
            Ok(_) => {}
            Err(IsolateError::Lock) => {
                result = ScanResult::PageLock;
                break;
            }
            Err(IsolateError::Count) => {
                result = ScanResult::PageCount;
                break;
            }
            Err(IsolateError::Lru) => {
                result = ScanResult::DelPageLru;
                break;
            }
        }
        if limits.is_khugepaged && (young || mm.notifier_test_young(table.addr(i))) {
            referenced += 1;
        }
    }
    if result == ScanResult::Succeed
        && limits.is_khugepaged
        && referenced.saturating_add(limits.hint_young) == 0
    {
        result = ScanResult::LackReferencedPage;
    }
    // The table is still detached, so the last folio looked at is still mapped by it.
    trace::collapse_huge_page_isolate(
        last.and_then(|i| table.folio(i)),
        none_or_zero,
        referenced,
        result as i32,
        limits.order,
    );
    if result == ScanResult::Succeed {
        Ok(())
    } else {
        Err(result)
    }
}
