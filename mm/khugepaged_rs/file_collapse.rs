// SPDX-License-Identifier: GPL-2.0

//! Scanning one PMD range of a file's or shmem's page cache and collapsing it into one
//! PMD-sized folio, then removing the page tables that mapped the small folios (C:
//! `collapse_scan_file()` and `collapse_file()`).
//!
//! Both run without the mmap lock: the page cache is walked under RCU, then locked folio by
//! folio. The mechanics (the XArray, the folio locks, the rollback) are
//! [`CacheCollapse`]'s; the choices 7.3 makes for each kind of entry are here.

use crate::{
    collapse::alloc_charge_folio,
    control::{max_ptes_none, max_ptes_swap, CollapseControl},
    policy::scan_result::ScanResult,
};
use core::ops::ControlFlow;
use kernel::{
    fs::File,
    mm::{
        cache_collapse::{AddError, CacheCollapse, CommitError, Slot},
        khugepaged_trace as trace,
        page_cache::{CacheEntry, LockedFolio},
        swap::lru_add_drain,
        vmstat::{count_vm_event, VmEvent},
        MmWithUser,
    },
};

/// Scans the PMD range of `file`'s page cache at index `start` (mapped at `addr` in `mm`)
/// and collapses it if it qualifies (C: `collapse_scan_file()`).
///
/// 7.3 looks at no accessed bits here (the rmap walk would cost too much), so a file range
/// qualifies on its holes and swap entries alone.
pub(crate) fn collapse_scan_file(
    cc: &mut CollapseControl,
    mm: &MmWithUser,
    addr: usize,
    file: &File,
    start: usize,
) -> ScanResult {
    let geo = cc.geometry();
    let max_none = max_ptes_none(cc.is_khugepaged, false, geo, geo.order);
    let max_swap = max_ptes_swap(cc.is_khugepaged);
    let mut present = 0u32;
    let mut swap = 0u32;
    let mut failed_pfn = None;
    let mut result = ScanResult::Succeed;
    cc.clear_scan_state();
    let last = start.saturating_add(geo.nr - 1);
    file.mapping().scan(start, last, |entry| {
        let pages = match entry {
            CacheEntry::Swap { pages } => {
                swap = swap.saturating_add(u32::try_from(pages).unwrap_or(u32::MAX));
                if swap > max_swap {
                    result = ScanResult::ExceedSwapPte;
                    count_vm_event(VmEvent::ExceedSwapPte);
                    return ControlFlow::Break(());
                }
                return ControlFlow::Continue(());
            }
            CacheEntry::Folio(cached) => {
                let folio = cached.folio();
                let fail = if folio.order() == geo.order {
                    // Only the page table can be retracted.
                    Some(ScanResult::PteMappedHugepage)
                } else {
                    let nid = usize::try_from(folio.nid()).unwrap_or(0);
                    if cc.scan_abort(nid) {
                        Some(ScanResult::ScanAbort)
                    } else {
                        // 7.3 counts a folio once, whatever its size.
                        cc.add_node_load(nid, 1);
                        if !folio.is_lru() {
                            Some(ScanResult::PageLru)
                        } else if cached.has_extra_refs() {
                            Some(ScanResult::PageCount)
                        } else {
                            None
                        }
                    }
                };
                if let Some(r) = fail {
                    result = r;
                    failed_pfn = Some(folio.pfn());
                    return ControlFlow::Break(());
                }
                1u32.checked_shl(folio.order()).unwrap_or(0)
            }
        };
        present = present.saturating_add(pages);
        ControlFlow::Continue(())
    });
    cc.tick(if result == ScanResult::PteMappedHugepage {
        1
    } else {
        geo.nr
    });
    if result == ScanResult::Succeed {
        let nr = u32::try_from(geo.nr).unwrap_or(u32::MAX);
        if present < nr.saturating_sub(max_none) {
            result = ScanResult::ExceedNonePte;
            count_vm_event(VmEvent::ExceedNonePte);
        } else {
            result = collapse_file(cc, mm, addr, file, start);
        }
    }
    trace::scan_file(mm, failed_pfn, file, present, swap, result as i32);
    result
}

/// Replaces the small folios of the PMD range at index `start` of `file`'s page cache by
/// one PMD-sized folio, and removes the page tables that mapped them (C: `collapse_file()`).
/// `MADV_COLLAPSE` gets [`ScanResult::PteMappedHugepage`] on success, its cue to map the
/// new folio by a PMD at once.
///
/// On failure the page cache is exactly as before: every old folio back, holes still holes.
fn collapse_file(
    cc: &mut CollapseControl,
    mm: &MmWithUser,
    addr: usize,
    file: &File,
    start: usize,
) -> ScanResult {
    let geo = cc.geometry();
    let mapping = file.mapping();
    if !mapping.is_shmem() {
        read_in(file, start, geo.nr);
    }
    let (result, index, new_pfn) = match alloc_charge_folio(cc, mm, geo.order) {
        Err(r) => (r, 0, None),
        Ok(new) => {
            let pfn = new.folio().pfn();
            match CacheCollapse::new(mapping, start, new) {
                // The XArray could not allocate its nodes.
                Err(_new) => (ScanResult::Fail, start, Some(pfn)),
                Ok(mut c) => {
                    let r = take_range(file, &mut c, start);
                    let index = c.next_index();
                    let r = if r == ScanResult::Succeed {
                        commit(cc, c)
                    } else {
                        r
                    };
                    (r, index, Some(pfn))
                }
            }
        }
    };
    trace::collapse_file(
        mm,
        new_pfn,
        index,
        addr,
        mapping.is_shmem(),
        file,
        u32::try_from(geo.nr).unwrap_or(u32::MAX),
        result as i32,
    );
    result
}

/// Reads the missing pages of a file's PMD range at `start` into the page cache, as far as
/// readahead brings them, before any folio of the range is locked.
///
/// 7.3 reads each missing page in during its walk, with the folios before it locked; but
/// readahead takes the `invalidate_lock` that truncation holds while it waits for those folio
/// locks, and a truncation racing `MADV_COLLAPSE` deadlocks both (seen on XFS). Here the walk
/// reads in only at its first index, when it holds no folio lock.
fn read_in(file: &File, start: usize, nr: usize) {
    let mapping = file.mapping();
    let end = start.saturating_add(nr);
    let mut from = start;
    let mut read = false;
    while let Some(miss) = mapping.next_miss(from, end - from) {
        mapping.sync_readahead(file, miss, end - miss);
        read = true;
        match mapping.next_miss(miss, end - miss) {
            // Readahead could not bring it (past the end of the file, or no memory): the
            // walk will meet the hole and give up, as 7.3's does after its readahead.
            Some(next) if next == miss => break,
            Some(next) => from = next,
            None => break,
        }
    }
    if read {
        // The new folios wait in this CPU's LRU batches; the walk isolates them from the LRU.
        lru_add_drain();
    }
}

/// Takes every index of the range into the collapse: each folio locked, isolated and
/// unmapped; shmem's swapped-out and fallocated pages brought in and its holes counted;
/// a file's missing pages read in.
fn take_range(file: &File, c: &mut CacheCollapse<'_>, start: usize) -> ScanResult {
    let mapping = file.mapping();
    let shmem = c.is_shmem();
    loop {
        let index = c.next_index();
        let slot = c.lookup();
        let folio: LockedFolio = match slot {
            Slot::End => return ScanResult::Succeed,
            Slot::Hole if shmem => {
                // Truncated or hole-punched: nothing left to collapse.
                if index == start && c.rest_is_empty() {
                    return ScanResult::Truncated;
                }
                c.take_hole();
                continue;
            }
            Slot::Swap
            | Slot::Folio {
                uptodate: false, ..
            } if shmem => {
                c.unlock();
                let Some(folio) = mapping.shmem_get_folio(index) else {
                    return ScanResult::Fail;
                };
                // Helps the isolation that follows.
                lru_add_drain();
                folio
            }
            // Read in before the walk, and gone again since: truncated, punched or
            // reclaimed. Reading it in now, with folios of the range locked, could deadlock
            // with a truncation (see `read_in()`); only the first index may.
            Slot::Hole | Slot::Swap if index != start => {
                c.unlock();
                return ScanResult::Fail;
            }
            Slot::Hole | Slot::Swap => {
                c.unlock();
                mapping.sync_readahead(file, index, c.end().saturating_sub(index));
                lru_add_drain();
                let Some(folio) = mapping.lock_folio(index) else {
                    return ScanResult::Fail;
                };
                folio
            }
            // Still being read in by `read_in()`'s readahead, and locked by that read: wait
            // for it, as 7.3 waits for the folio its own readahead brings. Sleeping on a
            // folio lock above the ones held is the order truncation takes them in.
            Slot::Folio {
                uptodate: false, ..
            } => {
                c.unlock();
                let Some(folio) = mapping.lock_folio(index) else {
                    return ScanResult::Fail;
                };
                folio
            }
            Slot::Folio { dirty: true, .. } if !shmem => {
                c.unlock();
                // Not flushed since it was first written: start a write-back of a file no
                // one writes to, once, and let a later pass find it clean. Writable files'
                // folios may be dirtied at any time; flushing them would only add I/O.
                if !mapping.open_for_write() {
                    mapping.flush();
                }
                return ScanResult::PageDirtyOrWriteback;
            }
            Slot::Folio {
                writeback: true, ..
            } if !shmem => {
                c.unlock();
                return ScanResult::PageDirtyOrWriteback;
            }
            Slot::Folio { .. } => match c.trylock_found() {
                Some(folio) => folio,
                None => {
                    c.unlock();
                    return ScanResult::PageLock;
                }
            },
        };
        if let Err(e) = c.add(folio) {
            return match e {
                AddError::NotUptodate => ScanResult::Fail,
                // Truncated and refilled before we locked it: a THP may be there already.
                AddError::Huge => ScanResult::PteMappedHugepage,
                AddError::Truncated => ScanResult::Truncated,
                AddError::Dirty => ScanResult::PageDirtyOrWriteback,
                AddError::Lru => ScanResult::DelPageLru,
                AddError::Private => ScanResult::PageHasPrivate,
                AddError::Count => ScanResult::PageCount,
            };
        }
    }
}

/// Charges the holes, copies, and puts the new folio in place; then retracts the page tables.
fn commit(cc: &CollapseControl, mut c: CacheCollapse<'_>) -> ScanResult {
    c.end_walk();
    if !c.charge_holes() {
        return ScanResult::Fail;
    }
    match c.commit() {
        Ok(committed) => {
            committed.retract_page_tables();
            drop(committed);
            if cc.is_khugepaged {
                ScanResult::Succeed
            } else {
                ScanResult::PteMappedHugepage
            }
        }
        Err(CommitError::CopyMc) => ScanResult::CopyMc,
        Err(CommitError::Store) => ScanResult::StoreFailed,
        Err(CommitError::Filled) => ScanResult::PageFilled,
        // A missing-page fault userfaultfd would have seen: as 7.3 reports it.
        Err(CommitError::UffdMissing) => ScanResult::ExceedNonePte,
        Err(CommitError::Incomplete) => ScanResult::Fail,
    }
}
