// SPDX-License-Identifier: GPL-2.0

//! `MADV_HUGEPAGE`, `MADV_NOHUGEPAGE` and `MADV_COLLAPSE` (C: `hugepage_madvise()` and
//! `madvise_collapse()`).
//!
//! `MADV_COLLAPSE` collapses anonymous, file and shmem memory synchronously, a PMD range at a
//! time, and maps a file range by its PMD at once.

use crate::{
    collapse,
    control::{CollapseControl, Geometry},
    eligible,
    policy::{
        madvise::{collapse_errno, CollapseErrno},
        scan_result::ScanResult,
    },
    single_pmd,
};
use kernel::{
    kthread::cond_resched,
    mm::{
        swap::lru_add_drain_all,
        thp::{self, TvaType},
        virt::{flags, vm_flags_t},
        MmWithUser, MmapReadGuard,
    },
    prelude::*,
};

/// Returns `vm_flags` updated for `advice` (only the THP advices change anything).
pub(crate) fn hugepage_madvise(vm_flags: vm_flags_t, advice: i32) -> vm_flags_t {
    match advice {
        thp::MADV_HUGEPAGE => (vm_flags & !flags::NOHUGEPAGE) | flags::HUGEPAGE,
        // VM_NOHUGEPAGE also keeps khugepaged away if the mm is already registered.
        thp::MADV_NOHUGEPAGE => (vm_flags & !flags::HUGEPAGE) | flags::NOHUGEPAGE,
        _ => vm_flags,
    }
}

fn to_error(errno: CollapseErrno) -> Error {
    match errno {
        CollapseErrno::NoMem => ENOMEM,
        CollapseErrno::Busy => EBUSY,
        CollapseErrno::Again => EAGAIN,
        CollapseErrno::Inval => EINVAL,
    }
}

/// Collapses every PMD-aligned range of `start..end`, which lies in one VMA, synchronously
/// (C: `madvise_collapse()`), ignoring the `max_ptes_*` limits.
///
/// `guard` is the caller's mmap read lock. It may be dropped and retaken on the way
/// (`lock_dropped` then says so); the lock is held again when this returns, in the guard
/// handed back.
pub(crate) fn madvise_collapse<'a>(
    mm: &'a MmWithUser,
    guard: MmapReadGuard<'a>,
    start: usize,
    end: usize,
    lock_dropped: &mut bool,
) -> (Result, MmapReadGuard<'a>) {
    let geo = Geometry::get();
    let Some(vma) = guard.vma_lookup(start) else {
        return (Err(EINVAL), guard);
    };
    if !eligible::collapse_possible(vma, vma.flags(), TvaType::ForcedCollapse) {
        return (Err(EINVAL), guard);
    }
    let hstart = geo.align_up(start);
    let mut hend = geo.align_down(end);
    if hstart >= hend {
        return (Ok(()), guard);
    }
    let Ok(mut cc) = CollapseControl::new(false) else {
        return (Err(ENOMEM), guard);
    };
    lru_add_drain_all();

    let mut held = Some(guard);
    let mut thps = 0usize;
    let mut last_fail = ScanResult::Fail;
    let mut addr = hstart;
    while addr < hend {
        let g = match held.take() {
            Some(g) => g,
            None => {
                cond_resched();
                let g = mm.mmap_read_lock();
                *lock_dropped = true;
                match collapse::revalidate(&g, &cc, addr, false, geo.order) {
                    Ok(vma) => {
                        hend = hend.min(geo.align_down(vma.end()));
                        g
                    }
                    Err(r) => {
                        last_fail = r;
                        held = Some(g);
                        break;
                    }
                }
            }
        };
        let (result, back) = single_pmd::collapse_single_pmd(&mut cc, mm, g, addr);
        held = back;
        match result {
            ScanResult::Succeed | ScanResult::PmdMapped => thps += 1,
            // Failures specific to this range: try the next one.
            ScanResult::NoPteTable
            | ScanResult::PteNonPresent
            | ScanResult::PteUffd
            | ScanResult::LackReferencedPage
            | ScanResult::PageNull
            | ScanResult::PageCount
            | ScanResult::PageLock
            | ScanResult::PageCompound
            | ScanResult::PageLru
            | ScanResult::DelPageLru => last_fail = result,
            _ => {
                last_fail = result;
                break;
            }
        }
        addr = addr.saturating_add(geo.size);
    }
    // The caller expects the lock held on return.
    let guard = match held {
        Some(g) => g,
        None => {
            *lock_dropped = true;
            mm.mmap_read_lock()
        }
    };
    let wanted = hend
        .saturating_sub(hstart)
        .checked_div(geo.size)
        .unwrap_or(0);
    if thps == wanted {
        (Ok(()), guard)
    } else {
        (Err(to_error(collapse_errno(last_fail))), guard)
    }
}
