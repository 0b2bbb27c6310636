// SPDX-License-Identifier: GPL-2.0

//! Which memory khugepaged and `MADV_COLLAPSE` may collapse, and when the thread has a
//! reason to run: the eligibility rules the daemon, the scan, the collapse, the hints and
//! `min_free_kbytes` all ask (C: `hugepage_enabled()`, `collapse_possible_orders()`,
//! `collapse_possible()`, `collapse_test_exit_or_disable()`).

use kernel::mm::{
    mm_struct::MmFlag,
    thp::{self, TvaType},
    virt::{vm_flags_t, VmaRef},
    Mm,
};

/// Returns whether any THP mode could use khugepaged (C: `hugepage_enabled()`).
pub(crate) fn hugepage_enabled() -> bool {
    if thp::global_enabled() {
        return true;
    }
    let anon = thp::anon_orders();
    if anon.always != 0 || anon.madvise != 0 {
        return true;
    }
    // `inherit` sizes follow the global mode, which is off here.
    thp::shmem_pmd_enabled()
}

/// The orders a collapse of `tva`'s kind may produce in `vma`, as a mask (bit n = order n):
/// every anonymous THP size for khugepaged in an anonymous VMA, the PMD size otherwise,
/// filtered by the VMA's and the sysfs settings (C: `collapse_possible_orders()`).
pub(crate) fn collapse_possible_orders(vma: &VmaRef, flags: vm_flags_t, tva: TvaType) -> usize {
    let orders = candidate_orders(tva, vma.is_anonymous());
    thp::vma_allowable_orders(vma, flags, tva, orders)
}

/// The orders a collapse of `tva`'s kind could produce in an anonymous VMA or another one,
/// before the VMA's and the sysfs settings filter them.
pub(crate) fn candidate_orders(tva: TvaType, anonymous: bool) -> usize {
    let pmd_order = thp::pmd_order();
    if tva == TvaType::Khugepaged && anonymous {
        // THP_ORDERS_ALL_ANON: every order up to the PMD's but 0 and 1.
        1usize
            .checked_shl(pmd_order.saturating_add(1))
            .map_or(usize::MAX, |b| b.wrapping_sub(1))
            & !0b11
    } else {
        1usize.checked_shl(pmd_order).unwrap_or(0)
    }
}

/// Whether khugepaged could collapse anything in `vma` (C: `collapse_possible()`).
pub(crate) fn collapse_possible(vma: &VmaRef, flags: vm_flags_t, tva: TvaType) -> bool {
    collapse_possible_orders(vma, flags, tva) != 0
}

/// The kind of collapse khugepaged's thread (`is_khugepaged`) or `MADV_COLLAPSE` makes, for
/// the eligibility checks.
pub(crate) fn tva(is_khugepaged: bool) -> TvaType {
    if is_khugepaged {
        TvaType::Khugepaged
    } else {
        TvaType::ForcedCollapse
    }
}

/// Whether the mm is exiting or THP was disabled for all of it (C:
/// `collapse_test_exit_or_disable()`).
pub(crate) fn exit_or_disabled(mm: &Mm) -> bool {
    mm.users_gone() || mm.test_flag(MmFlag::DisableThpCompletely)
}
