// SPDX-License-Identifier: GPL-2.0

//! Mapping a PMD-sized file folio by its PMD where a page table maps it piecemeal: after a
//! collapse in the page cache (`MADV_COLLAPSE`, and khugepaged when it meets such a folio),
//! and for uprobes once an instruction patch is undone (C: `try_collapse_pte_mapped_thp()`).

use crate::{control::Geometry, policy::scan_result::ScanResult};
use kernel::mm::{
    pgtable::{MmapLocked, PmdState},
    retract::{self, PteMappedError},
    thp::{self, TvaType},
    MmapReadGuard,
};

/// Removes the page table under the PMD range at `addr` if every PTE in it is empty or maps
/// the page the range's PMD-sized page-cache folio has for it; with `install`, maps the
/// folio by the PMD too. Needs the mmap lock, which `guard` holds.
pub(crate) fn try_collapse_pte_mapped_thp(
    guard: &MmapReadGuard<'_>,
    addr: usize,
    install: bool,
) -> ScanResult {
    let geo = Geometry::get();
    let haddr = geo.align_down(addr);
    // A VMA first, in case its page tables are being torn down.
    let Some(vma) = guard.vma_lookup(haddr) else {
        return ScanResult::VmaCheck;
    };
    let Some(file) = vma.file() else {
        return ScanResult::VmaCheck;
    };
    if !geo.holds(vma.start(), vma.end(), haddr) {
        return ScanResult::VmaCheck;
    }
    if guard
        .find_pmd(vma, haddr)
        .is_some_and(|pmd| pmd.state() == PmdState::Huge)
    {
        return ScanResult::PmdMapped;
    }
    // A fault would map this folio by a PMD whatever the THP settings say, so they are not
    // asked here either (as 7.3 does).
    let pmd_bit = 1usize.checked_shl(geo.order).unwrap_or(0);
    if thp::vma_allowable_orders(vma, vma.flags(), TvaType::ForcedCollapse, pmd_bit) == 0 {
        return ScanResult::VmaCheck;
    }
    // Its markers live in the page table, which must stay.
    if vma.userfaultfd_protected() {
        return ScanResult::PteUffd;
    }
    let Some(folio) = file.mapping().lock_folio(vma.linear_page_index(haddr)) else {
        return ScanResult::PageNull;
    };
    if folio.folio().order() != geo.order {
        return ScanResult::PageCompound;
    }
    match retract::collapse_pte_mapped_thp(guard, vma, haddr, &folio, install) {
        Ok(()) => ScanResult::Succeed,
        Err(PteMappedError::PmdMapped) => ScanResult::PmdMapped,
        Err(PteMappedError::NonPresent) => ScanResult::PteNonPresent,
        Err(PteMappedError::Invalid) => ScanResult::VmaCheck,
        Err(PteMappedError::Fail) => ScanResult::Fail,
    }
}
