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
    daemon,
    policy::{
        knobs::Knob,
        order::{self, Planner, PmdScan},
        scan_result::ScanResult,
    },
    scan::{self, ScanStats},
    settings,
};
use kernel::{
    alloc::KVec,
    bindings,
    mm::{
        collapse::{
            self, add_mthp_stat, count_memcg_folio_event, count_mthp_stat, count_vm_event, trace,
            CopyError, DetachedTable, MthpStat, SwapinError, VmEvent,
        },
        folio::{IsolateError, IsolatedFolios, NewFolio},
        nodemask::{self, NodeMask},
        pgtable::{MmapLocked, PmdState},
        thp::{self, TvaType},
        virt::VmaRef,
        Mm, MmWithUser, MmapReadGuard,
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// The size of a PMD mapping on this machine (a run-time value on powerpc).
#[derive(Clone, Copy)]
pub(crate) struct Geometry {
    /// `HPAGE_PMD_ORDER`.
    pub(crate) order: u32,
    /// `HPAGE_PMD_NR`: PTEs per page table.
    pub(crate) nr: usize,
    /// `HPAGE_PMD_SIZE`.
    pub(crate) size: usize,
}

impl Geometry {
    pub(crate) fn get() -> Self {
        let order = thp::pmd_order();
        let nr = 1usize.checked_shl(order).unwrap_or(0);
        Self {
            order,
            nr,
            size: nr.saturating_mul(PAGE_SIZE),
        }
    }

    /// Rounds `addr` down to a PMD boundary.
    pub(crate) fn align_down(&self, addr: usize) -> usize {
        addr & !self.size.wrapping_sub(1)
    }

    /// Whether the whole PMD range at `addr` (PMD-aligned) lies in `start..end`.
    pub(crate) fn holds(&self, start: usize, end: usize, addr: usize) -> bool {
        addr >= self.align_up(start)
            && addr
                .checked_add(self.size)
                .is_some_and(|e| e <= self.align_down(end))
    }

    /// Rounds `addr` up to a PMD boundary (saturating at the top of the address space).
    pub(crate) fn align_up(&self, addr: usize) -> usize {
        match addr.checked_add(self.size.wrapping_sub(1)) {
            Some(a) => self.align_down(a),
            None => self.align_down(usize::MAX),
        }
    }
}

/// The state of one scan-and-collapse run: khugepaged keeps one for its life, each
/// `MADV_COLLAPSE` call makes its own (C: `struct collapse_control`).
pub(crate) struct CollapseControl {
    /// khugepaged applies the `max_ptes_*` limits and the referenced checks; `MADV_COLLAPSE`
    /// does not.
    pub(crate) is_khugepaged: bool,
    /// PTEs, PMDs and VMAs looked at, against `pages_to_scan`.
    pub(crate) progress: u32,
    /// The range comes from an access-bit hint: MGLRU found this many PTEs young there and
    /// cleared the bits the referenced checks would look at, so they count as referenced.
    /// 0 otherwise.
    pub(crate) hint_young: u32,
    /// Pages seen per NUMA node in the current range, to pick the node for the new folio.
    node_load: KVec<u32>,
    /// Preallocated room for the folios a collapse isolates.
    isolated: IsolatedFolios,
    /// Per PTE of the range scanned last: occupied (not none, not the zero page), swapped
    /// out, mapping a shared page. The order selector plans mTHP collapses from them.
    present: KVec<u64>,
    swap: KVec<u64>,
    shared: KVec<u64>,
    geo: Geometry,
}

impl CollapseControl {
    pub(crate) fn new(is_khugepaged: bool) -> Result<Self> {
        let geo = Geometry::get();
        Ok(Self {
            is_khugepaged,
            progress: 0,
            hint_young: 0,
            node_load: KVec::from_elem(0u32, collapse::max_numnodes(), GFP_KERNEL)?,
            isolated: IsolatedFolios::new(geo.nr, GFP_KERNEL)?,
            present: KVec::from_elem(0u64, geo.nr.div_ceil(64), GFP_KERNEL)?,
            swap: KVec::from_elem(0u64, geo.nr.div_ceil(64), GFP_KERNEL)?,
            shared: KVec::from_elem(0u64, geo.nr.div_ceil(64), GFP_KERNEL)?,
            geo,
        })
    }

    pub(crate) fn geometry(&self) -> Geometry {
        self.geo
    }

    /// Charges `n` PTEs (or one PMD or VMA) to the progress against `pages_to_scan`.
    pub(crate) fn tick(&mut self, n: usize) {
        self.progress = self
            .progress
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Forgets what the last scanned range left: node loads and bitmaps.
    pub(crate) fn clear_scan_state(&mut self) {
        self.node_load.iter_mut().for_each(|n| *n = 0);
        for map in [&mut self.present, &mut self.swap, &mut self.shared] {
            map.iter_mut().for_each(|w| *w = 0);
        }
    }

    /// Marks PTE `i` of the scanned range as swapped out.
    pub(crate) fn mark_swap(&mut self, i: usize) {
        set_bits(&mut self.swap, i, 1);
    }

    /// Marks PTEs `i..i + n` of the scanned range as present, and as shared if `shared`.
    pub(crate) fn mark_present(&mut self, i: usize, n: usize, shared: bool) {
        set_bits(&mut self.present, i, n);
        if shared {
            set_bits(&mut self.shared, i, n);
        }
    }

    /// Counts `n` pages of the scanned range on node `nid`.
    pub(crate) fn add_node_load(&mut self, nid: usize, n: usize) {
        if let Some(load) = self.node_load.get_mut(nid) {
            *load = load.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }

    /// With `node_reclaim_mode` on, gives up on a range whose pages lie on nodes too far
    /// apart for one local huge page (C: `collapse_scan_abort()`).
    pub(crate) fn scan_abort(&self, nid: usize) -> bool {
        if !collapse::node_reclaim_enabled() {
            return false;
        }
        if self.node_load.get(nid).is_some_and(|&n| n != 0) {
            return false;
        }
        self.node_load.iter().enumerate().any(|(other, &load)| {
            // CAST: Node ids are below `MAX_NUMNODES`.
            load != 0 && collapse::node_too_far(nid as i32, other as i32)
        })
    }

    /// Where the new folio may go: the first node with the most pages of the range, preferred,
    /// and every online node with as many (C: `collapse_find_target_node()`). As in 7.3, the
    /// collapse fails rather than fall back to a node holding fewer of the pages.
    fn target_nodes(&self) -> (i32, NodeMask) {
        let max = self.node_load.iter().copied().max().unwrap_or(0);
        let mut first = None;
        let mut nodes = NodeMask::new();
        for (nid, &load) in self.node_load.iter().enumerate() {
            if load != max {
                continue;
            }
            // CAST: Node ids are below `MAX_NUMNODES`.
            let nid = nid as i32;
            first.get_or_insert(nid);
            if nodemask::node_online(nid) {
                nodes.set(nid);
            }
        }
        (first.unwrap_or(0), nodes)
    }
}

/// Sets bits `start..start + n` of a bitmap, a word at a time.
fn set_bits(map: &mut [u64], start: usize, n: usize) {
    let mut i = start;
    let end = start.saturating_add(n);
    while i < end {
        let bit = i % 64;
        let len = (end - i).min(64 - bit);
        let mask = if len == 64 {
            u64::MAX
        } else {
            ((1u64 << len) - 1) << bit
        };
        if let Some(w) = map.get_mut(i / 64) {
            *w |= mask;
        }
        i += len;
    }
}

/// Set once the unsupported-`max_ptes_none` warning was printed.
static NONE_WARNED: Atomic<u32> = Atomic::new(0);

/// Warns, once, that mTHP collapse treats `max_ptes_none` other than 0 or `HPAGE_PMD_NR - 1`
/// as 0 (7.3's message).
fn warn_max_ptes_none(geo: Geometry) {
    if NONE_WARNED.xchg(1, Relaxed) == 0 {
        pr_warn!(
            "mTHP collapse does not support max_ptes_none values other than 0 or {}, defaulting to 0.\n",
            geo.nr.saturating_sub(1)
        );
    }
}

/// The `max_ptes_none` limit for a collapse to `order` (C: `collapse_max_ptes_none()`):
/// below the PMD order only 0 and `HPAGE_PMD_NR - 1` (scaled to the order) are supported.
pub(crate) fn max_ptes_none(
    is_khugepaged: bool,
    uffd_armed: bool,
    geo: Geometry,
    order: u32,
) -> u32 {
    if uffd_armed {
        return 0;
    }
    if !is_khugepaged {
        return u32::MAX;
    }
    let value = settings::get(Knob::MaxPtesNone);
    if order == geo.order {
        return value;
    }
    let limit = u32::try_from(geo.nr.saturating_sub(1)).unwrap_or(u32::MAX);
    if value == limit {
        return 1u32.checked_shl(order).unwrap_or(0).saturating_sub(1);
    }
    if value != 0 {
        warn_max_ptes_none(geo);
    }
    0
}

/// The `max_ptes_shared` limit for a collapse to `order` (C: `collapse_max_ptes_shared()`):
/// none below the PMD order, as collapsing shared pages to an mTHP could make a later scan
/// creep.
pub(crate) fn max_ptes_shared(is_khugepaged: bool, geo: Geometry, order: u32) -> u32 {
    if !is_khugepaged {
        u32::MAX
    } else if order == geo.order {
        settings::get(Knob::MaxPtesShared)
    } else {
        0
    }
}

/// The `max_ptes_swap` limit at the PMD order (C: `collapse_max_ptes_swap()`); below it,
/// pages are never swapped in.
pub(crate) fn max_ptes_swap(is_khugepaged: bool) -> u32 {
    if !is_khugepaged {
        u32::MAX
    } else {
        settings::get(Knob::MaxPtesSwap)
    }
}

fn tva(cc: &CollapseControl) -> TvaType {
    if cc.is_khugepaged {
        TvaType::Khugepaged
    } else {
        TvaType::ForcedCollapse
    }
}

/// Counts a PMD-order scan event both in `/proc/vmstat` and in the PMD size's stats.
pub(crate) fn count_pmd_event(geo: Geometry, event: VmEvent, stat: MthpStat) {
    count_collapse_event(geo, geo.order, event, stat);
}

/// Counts a collapse event of `order`: in `/proc/vmstat` for the PMD order only, in the
/// size's own stats always (C: `count_collapse_event()`).
fn count_collapse_event(geo: Geometry, order: u32, event: VmEvent, stat: MthpStat) {
    if order == geo.order {
        count_vm_event(event);
    }
    count_mthp_stat(order, stat);
}

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

/// Finds the VMA at `addr` again after the mmap lock was dropped and checks it can still take
/// a THP of `order` there (C: `hugepage_vma_revalidate()`).
pub(crate) fn revalidate<'g>(
    guard: &'g impl MmapLocked,
    cc: &CollapseControl,
    addr: usize,
    expect_anon: bool,
    order: u32,
) -> Result<&'g VmaRef, ScanResult> {
    if exit_or_disabled(guard.mm()) {
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
    if thp::vma_allowable_orders(vma, vma.flags(), tva(cc), bit) == 0 {
        return Err(ScanResult::VmaCheck);
    }
    if expect_anon && (!vma.has_anon_vma() || !vma.is_anonymous()) {
        return Err(ScanResult::PageAnon);
    }
    Ok(vma)
}

/// Whether the mm is exiting or THP was disabled for all of it (C:
/// `collapse_test_exit_or_disable()`).
pub(crate) fn exit_or_disabled(mm: &Mm) -> bool {
    mm.users_gone() || mm.test_flag(collapse::MmFlag::DisableThpCompletely)
}

/// Allocates and charges the new folio (C: `alloc_charge_folio()`).
fn alloc_charge_folio(
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
fn collapse_huge_page(
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
    let folio = alloc_charge_folio(cc, mm, order)?;
    if folio.alloc_deferred().is_err() {
        return Err(ScanResult::AllocHugePageFail);
    }

    let guard = mm.mmap_read_lock();
    let pmd_id = {
        revalidate(&guard, cc, pmd_addr, true, order)?;
        let pmd = guard.find_pmd(pmd_addr).ok_or(ScanResult::NoPteTable)?;
        match pmd.state() {
            PmdState::Table => pmd.id(),
            PmdState::NoTable => return Err(ScanResult::NoPteTable),
            PmdState::Huge => return Err(ScanResult::PmdMapped),
        }
    };
    let guard = if unmapped > 0 {
        // Below the PMD order, pages are never swapped in: that could make a later scan
        // collapse a larger order than the process touched (creep).
        match collapse::swap_in(guard, addr, nr, is_pmd) {
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
    let wguard = mm.mmap_write_lock();
    let vma = revalidate(&wguard, cc, pmd_addr, true, order)?;
    wguard.vma_start_write(vma);
    let pmd = wguard.find_pmd(pmd_addr).ok_or(ScanResult::NoPteTable)?;
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
    let Some(mut table) =
        DetachedTable::detach(&wguard, vma, pmd, addr, nr, geo.nr, &mut cc.isolated)
    else {
        return Err(ScanResult::NoPteTable);
    };
    let limits = IsolateLimits {
        is_khugepaged: cc.is_khugepaged,
        hint_young: cc.hint_young,
        max_none: max_ptes_none(cc.is_khugepaged, uffd, geo, order),
        max_shared: max_ptes_shared(cc.is_khugepaged, geo, order),
        droppable: vma.is_droppable(),
        order,
        geo,
    };
    // On failure `table` is dropped first: the PMD is restored, then the pages released,
    // then the anon_vma and mmap locks dropped.
    isolate(&mut table, mm, &limits)?;
    table.unlock();
    if is_pmd {
        // Every page is isolated and locked: rmap cannot reach them any more.
        drop(anon_lock);
        let copied = copy(&table, folio)?;
        table.commit_pmd(copied).map_err(|_| ScanResult::Fail)
    } else {
        // The whole table is out but only part of it isolated: keep rmap walks of the
        // neighbouring folios away until the table is back.
        let copied = copy(&table, folio)?;
        let done = table.commit_ptes(copied).map_err(|_| ScanResult::Fail);
        drop(anon_lock);
        done
    }
}

fn copy(table: &DetachedTable<'_>, folio: NewFolio) -> Result<collapse::CopiedFolio, ScanResult> {
    match table.copy_into(folio) {
        Ok(copied) => Ok(copied),
        Err((CopyError::MachineCheck, _folio)) => Err(ScanResult::CopyMc),
        Err((CopyError::Mismatch, _folio)) => Err(ScanResult::Fail),
    }
}

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
fn nothing_planned(cc: &CollapseControl, stats: &ScanStats) -> bool {
    let scan = pmd_scan(cc.geo, (&cc.present, &cc.swap, &cc.shared), stats);
    let Ok(mut planner) = Planner::new(&scan) else {
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
fn mthp_collapse(
    cc: &mut CollapseControl,
    mm: &MmWithUser,
    addr: usize,
    stats: &ScanStats,
) -> ScanResult {
    let geo = cc.geo;
    // The bitmaps are read by the planner while the collapses below use the control.
    let present = core::mem::take(&mut cc.present);
    let swap = core::mem::take(&mut cc.swap);
    let shared = core::mem::take(&mut cc.shared);
    let scan = pmd_scan(geo, (&present, &swap, &shared), stats);
    let result = match Planner::new(&scan) {
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
    planner: &mut Planner<'_>,
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
        let orders = daemon::collapse_possible_orders(vma, vma.flags(), tva(cc));
        if hinted && (orders == 0 || !cc.geo.holds(vma.start(), vma.end(), addr)) {
            return Err(guard);
        }
        if !vma.is_anonymous() {
            return Ok((ScanResult::Fail, Some(guard)));
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
