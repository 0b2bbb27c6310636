// SPDX-License-Identifier: GPL-2.0

//! Removing the page table that maps a PMD range of a file once a large folio of the page
//! cache covers it, so that the range is mapped by a PMD: in every mm at once after a
//! collapse in the page cache (C's `retract_page_tables()`), and in one mm for a
//! PTE-mapped folio (C's `try_collapse_pte_mapped_thp()` and `set_huge_pmd()`).
//!
//! Lock order: the mmap lock (or, for retraction, `i_mmap_rwsem` alone), the folio lock, the
//! PMD lock, the PTE lock.
//!
//! Built with khugepaged-rs, whose C glue provides `flush_tlb_mm()` (x86 hides it from the
//! Rust build).
//!
//! C headers: [`include/linux/pgtable.h`](srctree/include/linux/pgtable.h),
//! [`include/linux/mmu_notifier.h`](srctree/include/linux/mmu_notifier.h).

use crate::{
    bindings,
    mm::{
        page_cache::{LockedFolio, Mapping},
        pgtable::{ptes_per_table, MmapLocked, PmdState},
        virt::{flags, VmaRef},
    },
    page::PAGE_SIZE,
};

/// Whether the page tables of a file VMA may be removed: not if they may hold anonymous
/// (copied-on-write) pages, userfaultfd write-protect markers or guard markers, which a
/// PMD mapping could not carry (C's `file_backed_vma_is_retractable()`).
///
/// # Safety
///
/// `vma` is valid.
unsafe fn retractable(vma: *mut bindings::vm_area_struct) -> bool {
    // SAFETY: The caller promises a valid VMA; the fields are read once each.
    unsafe {
        !bindings::vma_anon_vma_once(vma)
            && !bindings::userfaultfd_protected(vma)
            && !bindings::vma_maybe_guard(vma)
    }
}

/// Removes the empty page tables that map the page-cache range of `nr` indices at `pgoff`
/// in every VMA that maps all of it PMD-aligned. Returns how many were removed.
///
/// # Safety
///
/// A large folio covering the range is in `mapping`'s page cache, locked by the caller, and
/// the small folios it replaced were unmapped: faults on the range wait for the folio lock,
/// so the tables map nothing of this range (anything else, the checks here exclude).
pub(crate) unsafe fn retract_page_tables(mapping: &Mapping, pgoff: usize, nr: usize) -> usize {
    if nr != ptes_per_table() {
        return 0;
    }
    let size = nr.wrapping_mul(PAGE_SIZE);
    let mut removed = 0;
    let m = mapping.as_raw();
    // SAFETY: The mapping is alive. Under `i_mmap_rwsem` the VMAs in the tree stay valid, and
    // so do their page tables: munmap unlinks a VMA from the tree before freeing its tables.
    unsafe {
        bindings::i_mmap_lock_read(m);
        let mut vma = bindings::mapping_rmap_tree_iter_first(m, pgoff, pgoff);
        while !vma.is_null() {
            if retract_one(vma, pgoff, size) {
                removed += 1;
            }
            vma = bindings::mapping_rmap_tree_iter_next(vma, pgoff, pgoff);
        }
        bindings::i_mmap_unlock_read(m);
    }
    removed
}

/// Removes the page table of `vma` that maps index `pgoff`, if it maps a whole PMD range
/// of the VMA and may be removed.
///
/// # Safety
///
/// As [`retract_page_tables`], with `vma` in the tree under `i_mmap_rwsem`.
unsafe fn retract_one(vma: *mut bindings::vm_area_struct, pgoff: usize, size: usize) -> bool {
    // SAFETY: The caller holds `i_mmap_rwsem`, so the VMA, its mm and its page tables are
    // valid (see above); the PMD is re-checked under its lock before the table goes, and the
    // retractable checks are repeated under the PTE lock, which marker installation takes.
    unsafe {
        // A file VMA's bounds change only under `i_mmap_rwsem` held for writing.
        let v = VmaRef::from_raw(vma);
        let start = v.start();
        let Some(off) = pgoff.checked_sub(bindings::vma_start_pgoff(vma)) else {
            return false;
        };
        let addr = start.wrapping_add(off.wrapping_mul(PAGE_SIZE));
        if !addr.is_multiple_of(size) || addr.checked_add(size).is_none_or(|e| v.end() < e) {
            return false;
        }
        let mm = (*vma).vm_mm;
        let pmd = bindings::mm_find_pmd(mm, addr);
        if pmd.is_null() || PmdState::of(bindings::pmdp_get_lockless(pmd)) != PmdState::Table {
            return false;
        }
        // An exiting mm's tables go with it.
        if bindings::mm_users(mm) == 0 || !retractable(vma) {
            return false;
        }
        let mut range: bindings::mmu_notifier_range = core::mem::zeroed();
        bindings::mmu_notifier_range_init_clear(&mut range, mm, addr, addr + size);
        bindings::mmu_notifier_invalidate_range_start(&mut range);
        let pml = bindings::pmd_lock(mm, pmd);
        let mut removed = None;
        // The new folio's lock keeps faults out, so a table that replaced the old one
        // meanwhile is empty too: only the entry's kind matters.
        if PmdState::of(bindings::pmdp_get(pmd)) == PmdState::Table {
            let ptl = bindings::pte_lockptr(mm, pmd);
            if ptl != pml {
                bindings::spin_lock_nested_single(ptl);
            }
            if retractable(vma) {
                removed = Some(bindings::pmdp_collapse_flush(vma, addr, pmd));
                bindings::pmdp_get_lockless_sync();
            }
            if ptl != pml {
                bindings::spin_unlock(ptl);
            }
        }
        bindings::spin_unlock(pml);
        bindings::mmu_notifier_invalidate_range_end(&mut range);
        match removed {
            Some(table) => {
                bindings::mm_dec_nr_ptes(mm);
                bindings::page_table_check_pte_clear_range(mm, addr, table);
                bindings::pte_free_defer_from(mm, table);
                true
            }
            None => false,
        }
    }
}

/// Why a PTE-mapped folio could not be mapped by its PMD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PteMappedError {
    /// The range, the VMA or the folio is not what a PMD mapping of the folio needs.
    Invalid,
    /// A PMD maps the range already.
    PmdMapped,
    /// A PTE of the range is a swap or migration entry.
    NonPresent,
    /// A PTE maps something other than the folio's page for its address, or the table
    /// changed meanwhile, or the PMD could not be set.
    Fail,
}

/// Maps `folio`, a PMD-sized folio of `vma`'s page cache at `haddr`, by the PMD instead of
/// the page table that maps parts of it, which is freed (C's `try_collapse_pte_mapped_thp()`);
/// if `install`, the PMD then maps the folio, else the next fault does.
///
/// Every PTE of the table must be empty or map the folio's page for its address, so nothing
/// is lost: the table only held references to the folio.
pub fn collapse_pte_mapped_thp(
    guard: &impl MmapLocked,
    vma: &VmaRef,
    haddr: usize,
    folio: &LockedFolio,
    install: bool,
) -> Result<(), PteMappedError> {
    let nr = ptes_per_table();
    let size = nr.wrapping_mul(PAGE_SIZE);
    let mm = guard.mm();
    let Some(file) = vma.file() else {
        return Err(PteMappedError::Invalid);
    };
    if !core::ptr::eq(vma.mm().as_raw(), mm.as_raw())
        || !haddr.is_multiple_of(size)
        || haddr < vma.start()
        || haddr.checked_add(size).is_none_or(|e| e > vma.end())
        || folio.folio().order() != nr.trailing_zeros()
        || !folio.belongs_to(file.mapping())
        || folio.index() != vma.linear_page_index(haddr)
    {
        return Err(PteMappedError::Invalid);
    }
    let uffd_private = vma.userfaultfd_armed() && vma.flags() & flags::SHARED == 0;
    let f = folio.as_raw();
    let vp = vma.as_ptr();
    let m = mm.as_raw();
    // SAFETY: The mmap lock is held (the guard), so the VMA and its page tables stay; the
    // folio is locked, so no fault maps more of it meanwhile. Every step below is 7.3's, with
    // each PTE checked against the folio before it is cleared and the PMD re-checked under
    // its lock.
    unsafe {
        let mut pmd = bindings::mm_find_pmd(m, haddr);
        let state = if pmd.is_null() {
            PmdState::NoTable
        } else {
            PmdState::of(bindings::pmdp_get_lockless(pmd))
        };
        match state {
            PmdState::Huge => return Err(PteMappedError::PmdMapped),
            PmdState::NoTable => {}
            PmdState::Table => remove_table(vp, m, pmd, haddr, f, nr, uffd_private)?,
        }
        if !install {
            return Ok(());
        }
        if pmd.is_null() {
            pmd = bindings::mm_alloc_pmd(m, haddr);
            if pmd.is_null() {
                return Err(PteMappedError::Fail);
            }
        }
        if bindings::do_set_pmd_at(vp, haddr, pmd, f) != 0 {
            return Err(PteMappedError::Fail);
        }
        // The PMD's reference.
        bindings::folio_get(f);
    }
    Ok(())
}

/// Clears the PTEs of the table at `pmd` that map `folio` and frees the table.
///
/// # Safety
///
/// As in [`collapse_pte_mapped_thp`], after its checks: the mmap lock of `mm` is held, `vma`
/// maps the whole PMD range at `haddr`, `pmd` pointed to a page table, and `folio` is the
/// locked PMD-sized page-cache folio at `haddr`, of `nr` pages. `uffd_private` says whether
/// the VMA is private with userfaultfd armed.
unsafe fn remove_table(
    vma: *mut bindings::vm_area_struct,
    mm: *mut bindings::mm_struct,
    pmd: *mut bindings::pmd_t,
    haddr: usize,
    folio: *mut bindings::folio,
    nr: usize,
    uffd_private: bool,
) -> Result<(), PteMappedError> {
    // SAFETY: The caller's promises; the table is read under its lock, and cleared under it.
    unsafe {
        let matches = |pte: *mut bindings::pte_t, i: usize| -> Result<bool, PteMappedError> {
            let ptent = bindings::ptep_get(pte);
            if bindings::pte_none(ptent) {
                return Ok(false);
            }
            if !bindings::pte_present(ptent) {
                return Err(PteMappedError::NonPresent);
            }
            let addr = haddr.wrapping_add(i.wrapping_mul(PAGE_SIZE));
            let page = bindings::vm_normal_page(vma, addr, ptent);
            if page.is_null() || page != bindings::folio_page(folio, i) {
                return Err(PteMappedError::Fail);
            }
            Ok(true)
        };

        // First check every PTE under the PTE lock.
        let mut ptl: *mut bindings::spinlock_t = core::ptr::null_mut();
        let start_pte = bindings::pte_offset_map_lock(mm, pmd, haddr, &mut ptl);
        if start_pte.is_null() {
            return Err(PteMappedError::Fail);
        }
        let mut checked = Ok(());
        for i in 0..nr {
            if let Err(e) = matches(start_pte.add(i), i) {
                checked = Err(e);
                break;
            }
        }
        bindings::pte_unmap_unlock(start_pte, ptl);
        checked?;

        let mut range: bindings::mmu_notifier_range = core::mem::zeroed();
        bindings::mmu_notifier_range_init_clear(&mut range, mm, haddr, haddr + nr * PAGE_SIZE);
        bindings::mmu_notifier_invalidate_range_start(&mut range);

        // userfaultfd on a private mapping inserts PTEs without the page cache, so the folio
        // lock does not keep it out: hold the PMD lock from the start then.
        let mut pml: *mut bindings::spinlock_t = core::ptr::null_mut();
        if uffd_private {
            pml = bindings::pmd_lock(mm, pmd);
        }
        let mut pgt_pmd: bindings::pmd_t = core::mem::zeroed();
        let start_pte = bindings::pte_offset_map_rw_nolock(mm, pmd, haddr, &mut pgt_pmd, &mut ptl);
        let mut mapped = 0usize;
        let mut result = Err(PteMappedError::Fail);
        let mut pte_locked = false;
        'out: {
            if start_pte.is_null() {
                break 'out;
            }
            if pml.is_null() {
                bindings::spin_lock(ptl);
            } else if ptl != pml {
                bindings::spin_lock_nested_single(ptl);
            }
            pte_locked = true;
            if !bindings::pmd_same(pgt_pmd, bindings::pmdp_get_lockless(pmd)) {
                break 'out;
            }
            // Then clear them, checking again: the PTE lock was dropped meanwhile, and a
            // write fault may have copied a page, or reclaim swapped one out.
            let mut i = 0;
            while i < nr {
                let pte = start_pte.add(i);
                match matches(pte, i) {
                    Ok(false) => {
                        i += 1;
                        continue;
                    }
                    Ok(true) => {}
                    Err(e) => {
                        result = Err(e);
                        break 'out;
                    }
                }
                let ptent = bindings::ptep_get(pte);
                let max = u32::try_from(nr - i).unwrap_or(1);
                let batch = (bindings::folio_pte_batch(folio, pte, ptent, max) as usize).max(1);
                let addr = haddr.wrapping_add(i.wrapping_mul(PAGE_SIZE));
                // CAST: At most the table's size.
                bindings::clear_ptes(mm, addr, pte, batch as u32);
                bindings::folio_remove_rmap_ptes(
                    folio,
                    bindings::folio_page(folio, i),
                    batch as i32,
                    vma,
                );
                mapped += batch;
                i += batch;
            }
            if pml.is_null() {
                // Relocked below, nested in the PMD lock.
                bindings::spin_unlock(ptl);
            }
            drop_mapped_refs(mm, folio, mapped);
            mapped = 0;
            if pml.is_null() {
                pml = bindings::pmd_lock(mm, pmd);
                if ptl != pml {
                    bindings::spin_lock_nested_single(ptl);
                    pte_locked = true;
                    if !bindings::pmd_same(pgt_pmd, bindings::pmdp_get_lockless(pmd)) {
                        bindings::khugepaged_rs_flush_tlb_mm(mm);
                        break 'out;
                    }
                }
            }
            let table = bindings::pmdp_collapse_flush(vma, haddr, pmd);
            bindings::pmdp_get_lockless_sync();
            bindings::pte_unmap_unlock(start_pte, ptl);
            if ptl != pml {
                bindings::spin_unlock(pml);
            }
            bindings::mmu_notifier_invalidate_range_end(&mut range);
            bindings::mm_dec_nr_ptes(mm);
            bindings::page_table_check_pte_clear_range(mm, haddr, table);
            bindings::pte_free_defer_from(mm, table);
            return Ok(());
        }
        // Failed: the cleared PTEs stay cleared (the next fault maps the folio again); only
        // their references and counters are settled.
        if mapped > 0 {
            bindings::khugepaged_rs_flush_tlb_mm(mm);
            drop_mapped_refs(mm, folio, mapped);
        }
        if !start_pte.is_null() {
            if pte_locked {
                bindings::pte_unmap_unlock(start_pte, ptl);
            } else {
                bindings::pte_unmap(start_pte);
            }
        }
        if !pml.is_null() && pml != ptl {
            bindings::spin_unlock(pml);
        }
        bindings::mmu_notifier_invalidate_range_end(&mut range);
        result
    }
}

/// Drops the references and the mm counter of `mapped` cleared PTEs of `folio`.
///
/// # Safety
///
/// The caller cleared `mapped` PTEs of `mm` that mapped `folio` and removed their rmap.
unsafe fn drop_mapped_refs(
    mm: *mut bindings::mm_struct,
    folio: *mut bindings::folio,
    mapped: usize,
) {
    // At most a page table's PTEs.
    let (Ok(refs), Ok(pages)) = (i32::try_from(mapped), isize::try_from(mapped)) else {
        return;
    };
    if mapped == 0 {
        return;
    }
    // SAFETY: The caller's promise: these references were the PTEs'.
    unsafe {
        bindings::folio_ref_sub(folio, refs);
        bindings::add_mm_counter(mm, bindings::mm_counter_file(folio), -pages);
    }
}
