// SPDX-License-Identifier: GPL-2.0

//! `MADV_HUGEPAGE`, `MADV_NOHUGEPAGE` and `MADV_COLLAPSE` (C: `hugepage_madvise()` and
//! `madvise_collapse()`).
//!
//! This version does not collapse yet: `MADV_COLLAPSE` checks the VMA and range as 7.3 does,
//! returns success when the range holds no aligned PMD (nothing to do), and otherwise fails
//! with the error 7.3 gives when no PMD of the range could be collapsed for a reason intrinsic
//! to it (`EINVAL`), so that callers take their fallback path.

use crate::policy::{
    madvise::{collapse_errno, CollapseErrno},
    scan_result::ScanResult,
};
use kernel::{
    mm::{
        thp::{self, TvaType},
        virt::{flags, vm_flags_t, VmaRef},
    },
    page::PAGE_SIZE,
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

/// Collapses the PMD-aligned part of `start..end` in `vma` (`madvise_collapse()`).
///
/// The caller holds the mmap read lock, which this version never drops.
pub(crate) fn madvise_collapse(vma: &VmaRef, start: usize, end: usize) -> Result {
    let pmd_order = thp::pmd_order();
    let pmd_bit = 1usize.checked_shl(pmd_order).unwrap_or(0);
    if thp::vma_allowable_orders(vma, vma.flags(), TvaType::ForcedCollapse, pmd_bit) == 0 {
        return Err(EINVAL);
    }
    // A PMD's size is a power of two: align with a mask, no division or overflow to check.
    let pmd_mask = !PAGE_SIZE
        .checked_shl(pmd_order)
        .unwrap_or(0)
        .wrapping_sub(1);
    let hend = end & pmd_mask;
    match start.checked_add(!pmd_mask) {
        Some(s) if s & pmd_mask < hend => Err(to_error(collapse_errno(ScanResult::Fail))),
        _ => Ok(()),
    }
}
