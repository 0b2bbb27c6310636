// SPDX-License-Identifier: GPL-2.0

//! [`DetachedTable`]: a page table taken out of its address space so that its pages can be
//! copied into a new folio and the range mapped by it, or else put back exactly as it was.
//!
//! The order of operations is the one `mm/khugepaged.c` established; the types make the
//! steps that C documents in comments (restore the PMD before releasing the pages, no page
//! released before it is unmapped, the new folio filled before it is mapped) follow from
//! ownership.
//!
//! C headers: [`include/linux/pgtable.h`](srctree/include/linux/pgtable.h),
//! [`include/linux/rmap.h`](srctree/include/linux/rmap.h),
//! [`include/linux/mmu_notifier.h`](srctree/include/linux/mmu_notifier.h).

use crate::{
    bindings,
    mm::{
        folio::{Folio, IsolateError, IsolatedFolios, NewFolio},
        mmap_lock::MmapWriteGuard,
        pgtable::{ptes_per_table, ptes_to_pmd_end, MmapLocked, Pmd, PmdState, Pte},
        rmap::AnonVmaWriteGuard,
        virt::VmaRef,
        MmWithUser,
    },
    page::PAGE_SIZE,
};
use core::ptr::NonNull;

/// Why [`DetachedTable::copy_into`] failed. Either way the table is still detached and the
/// caller drops it to put everything back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError {
    /// A machine check (memory poison) hit while reading a source page.
    MachineCheck,
    /// The new folio does not have the table's size, a mapped page was not isolated first, or
    /// one is write-protected by userfaultfd.
    Mismatch,
}

/// A page table unlinked from its PMD for a collapse.
///
/// While it exists, no one can reach the table's PTEs: the PMD entry is empty, the mmap lock
/// is held for writing and the VMA marked as being written (no faults, no munmap), GUP-fast
/// has been synchronised against, and the table holds the anon_vma lock (no rmap walk) for as
/// long as some folio it maps is not isolated. Dropping it puts the table back, releases the
/// isolated folios and the new folio, then the anon_vma lock, in that order;
/// [`DetachedTable::commit`] instead maps the copied folio.
///
/// # Invariants
///
/// `pmd` is the (now empty) PMD entry of `vma` that held `orig`, a page table of `pmd_nr`
/// PTEs, all of whose range `vma` maps; `ptes` points to its `nr` entries from `start`
/// (`1 <= nr`, all in the table) and is mapped (`pte_offset_map`); `ptl`, the table's lock,
/// is held exactly when `locked` is set. `anon` is `vma`'s anon_vma lock; it is `None` only
/// once every page the table maps was isolated and `nr == pmd_nr`. `copied`, if any, is a
/// folio of `nr` pages holding a copy of the range, made after every page of it was
/// isolated. `committed` is set once the range is mapped by the new folio and the old pages
/// released; the PMD entry then is no longer ours.
pub struct DetachedTable<'a> {
    vma: &'a VmaRef,
    mm: &'a MmWithUser,
    pmd: NonNull<bindings::pmd_t>,
    orig: bindings::pmd_t,
    ptes: NonNull<bindings::pte_t>,
    ptl: *mut bindings::spinlock_t,
    locked: bool,
    committed: bool,
    start: usize,
    nr: usize,
    pmd_nr: usize,
    isolated: &'a mut IsolatedFolios,
    copied: Option<NewFolio>,
    anon: Option<AnonVmaWriteGuard<'a>>,
}

impl<'a> DetachedTable<'a> {
    /// Unlinks the page table `pmd` points to, for the `nr` PTEs from `start` to be collapsed
    /// (the notifier range covers just those), locks it, and runs `f` on it; then puts the
    /// table back as it was, unless `f` committed a collapse. `anon` is the guard
    /// [`MmapWriteGuard::lock_anon_vma`] took for the VMA, which the table keeps until it is
    /// back or every page it maps is isolated.
    ///
    /// The table lives only in this call, so it cannot be leaked: leaking it would leave the
    /// PMD empty under pages rmap believes mapped, and the table mapped for good.
    ///
    /// Returns `None`, with nothing changed (`anon` is unlocked), unless `pmd` still points
    /// to a page table, its VMA is anonymous and maps the whole PMD range, `anon` was taken
    /// for that VMA, and the `nr` PTEs from `start` are a naturally aligned range of the table.
    pub fn detach<R>(
        guard: &'a MmapWriteGuard<'a>,
        anon: AnonVmaWriteGuard<'a>,
        pmd: Pmd<'a>,
        start: usize,
        nr: usize,
        isolated: &'a mut IsolatedFolios,
        f: impl FnOnce(&mut DetachedTable<'a>) -> R,
    ) -> Option<R> {
        let mut table = Self::unlink(guard, anon, pmd, start, nr, isolated)?;
        let r = f(&mut table);
        drop(table);
        Some(r)
    }

    fn unlink(
        guard: &'a MmapWriteGuard<'a>,
        anon: AnonVmaWriteGuard<'a>,
        pmd: Pmd<'a>,
        start: usize,
        nr: usize,
        isolated: &'a mut IsolatedFolios,
    ) -> Option<Self> {
        let mm = guard.mm();
        let vma = pmd.vma();
        let pmd_nr = ptes_per_table();
        let pmd_size = pmd_nr.checked_mul(PAGE_SIZE)?;
        let pmd_addr = pmd.addr();
        let end = start.checked_add(nr.checked_mul(PAGE_SIZE)?)?;
        if !core::ptr::eq(pmd.mm().as_raw(), mm.as_raw())
            || !vma.is_anonymous()
            || !anon.locks(vma)
            || vma.start() > pmd_addr
            || pmd_addr.checked_add(pmd_size)? > vma.end()
            || start & !pmd_size.wrapping_sub(1) != pmd_addr
            || !nr.is_power_of_two()
            || !start.is_multiple_of(PAGE_SIZE.checked_mul(nr)?)
            || nr > ptes_to_pmd_end(start, pmd_nr)
        {
            return None;
        }
        let pmd_entry = NonNull::new(pmd.as_ptr())?;
        let pmdp = pmd_entry.as_ptr();
        // SAFETY: A zeroed range is a valid value for `_init()` to fill in.
        let mut range: bindings::mmu_notifier_range = unsafe { core::mem::zeroed() };
        // SAFETY: We hold the mmap write lock of `mm` and `vma` is marked as being written
        // (`anon` was taken for it), `pmdp` is one of its PMD entries and `vma` maps its
        // whole range: this is the sequence `collapse_huge_page()` uses to take a page table out of the tree, with the
        // entry checked under its lock first. GUP-fast backs off from the changed PMD, and the
        // sync makes sure none is still walking the old table.
        let mut orig = unsafe {
            bindings::mmu_notifier_range_init_clear(&mut range, mm.as_raw(), start, end);
            bindings::mmu_notifier_invalidate_range_start(&mut range);
            let ptl = bindings::pmd_lock(mm.as_raw(), pmdp);
            let orig = if PmdState::of(bindings::pmdp_get(pmdp)) == PmdState::Table {
                Some(bindings::pmdp_collapse_flush(vma.as_ptr(), pmd_addr, pmdp))
            } else {
                None
            };
            bindings::spin_unlock(ptl);
            bindings::mmu_notifier_invalidate_range_end(&mut range);
            if orig.is_some() {
                bindings::tlb_remove_table_sync_one();
            }
            orig?
        };
        let mut ptl = core::ptr::null_mut();
        // SAFETY: `orig` is the page-table entry we just took out; mapping the table it
        // points to through a copy of the entry is what C does.
        let ptes =
            unsafe { bindings::pte_offset_map_lock(mm.as_raw(), &mut orig, start, &mut ptl) };
        let Some(ptes) = NonNull::new(ptes) else {
            // SAFETY: Put the entry we took back; nothing else could have filled it.
            unsafe { restore_pmd(mm, pmdp, orig) };
            return None;
        };
        isolated.release_all();
        // INVARIANT: Detached, mapped and locked just above; the checks above cover the rest.
        Some(Self {
            vma,
            mm,
            pmd: pmd_entry,
            orig,
            ptes,
            ptl,
            locked: true,
            committed: false,
            start,
            nr,
            pmd_nr,
            isolated,
            copied: None,
            anon: Some(anon),
        })
    }

    /// The number of PTEs being collapsed.
    #[inline]
    pub fn len(&self) -> usize {
        self.nr
    }

    /// Whether there is nothing to collapse (never: [`DetachedTable::detach`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.nr == 0
    }

    /// The address PTE `i` maps.
    #[inline]
    pub fn addr(&self, i: usize) -> usize {
        self.start.wrapping_add(i.wrapping_mul(PAGE_SIZE))
    }

    /// Reads PTE `i`.
    #[inline]
    pub fn pte(&self, i: usize) -> Option<Pte> {
        if i >= self.nr {
            return None;
        }
        // SAFETY: `i < nr` entries of the mapped table (type invariant).
        Some(Pte(unsafe {
            bindings::ptep_get(self.ptes.as_ptr().add(i))
        }))
    }

    /// The folio PTE `i` maps, if it maps a normal page. It cannot go away while the table is
    /// detached: the PTE holds a reference and only we can clear it.
    #[inline]
    pub fn folio(&self, i: usize) -> Option<&Folio> {
        let pte = self.pte(i)?;
        if !pte.is_present() {
            return None;
        }
        // SAFETY: `vma` maps the table and `pte` was read from it; a page the detached table
        // maps stays mapped for the borrow of `self` (see above).
        unsafe { crate::mm::pgtable::normal_folio(self.vma, self.addr(i), pte) }
    }

    /// Locks and isolates the folio PTE `i` maps. Returns whether it was newly isolated
    /// (`false` for another PTE of a large folio isolated before).
    pub fn isolate(&mut self, i: usize) -> Result<bool, IsolateError> {
        if self.committed {
            return Err(IsolateError::Count);
        }
        let folio = match self.folio(i) {
            // SAFETY: As in `folio()`: alive while the table is detached, whatever the borrow.
            Some(f) => unsafe { Folio::from_raw(f.as_raw()) },
            None => return Err(IsolateError::Count),
        };
        self.isolated.isolate(folio, i)
    }

    /// Drops the page-table lock once every folio is isolated; the copy does not need it.
    pub fn unlock(&mut self) {
        if self.locked {
            // SAFETY: Held (type invariant).
            unsafe { bindings::spin_unlock(self.ptl) };
            self.locked = false;
        }
    }

    /// Drops the anon_vma lock early, once it guards nothing: the table is the whole PMD and
    /// every page it maps is isolated, so no rmap walk can miss a mapping (C releases it
    /// before the copy of a PMD-sized collapse). Returns whether it was dropped.
    pub fn release_anon_vma(&mut self) -> bool {
        if self.anon.is_none() {
            return true;
        }
        if self.nr != self.pmd_nr || !self.all_isolated() {
            return false;
        }
        self.anon = None;
        true
    }

    /// Whether every present entry of the range maps an isolated folio.
    fn all_isolated(&self) -> bool {
        // A swap, migration or device entry has no isolated folio: rmap must still see it.
        (0..self.nr).all(|i| {
            self.pte(i).is_some_and(|pte| {
                pte.is_none_or_zero() || (pte.is_present() && self.isolated.slot_isolated(i))
            })
        })
    }

    /// Copies the detached PTEs' contents into `new`, zero-filling empty and zero-page
    /// entries, and keeps it for [`DetachedTable::commit`]. Every present PTE's folio must have
    /// been isolated, and `new` must have as many pages as the range and not be mapped yet.
    pub fn copy_into(&mut self, new: NewFolio) -> Result<(), (CopyError, NewFolio)> {
        let order_ok = 1usize
            .checked_shl(new.folio().order())
            .is_some_and(|n| n == self.nr);
        if !order_ok || self.copied.is_some() || self.committed {
            return Err((CopyError::Mismatch, new));
        }
        for i in 0..self.nr {
            let Some(pte) = self.pte(i) else {
                return Err((CopyError::Mismatch, new));
            };
            let addr = self.addr(i);
            // SAFETY: `i` is below the folio's page count (checked above).
            let dst = unsafe { bindings::folio_page(new.as_raw(), i) };
            if pte.is_none_or_zero() {
                // SAFETY: `dst` is a page of our unmapped new folio.
                unsafe { bindings::clear_user_highpage(dst, addr) };
                continue;
            }
            // A userfaultfd write-protected entry must stay one: the new mapping could not
            // carry the marker.
            if !pte.is_present() || pte.is_uffd() || !self.isolated.slot_isolated(i) {
                return Err((CopyError::Mismatch, new));
            }
            // SAFETY: The source page is mapped by the detached table and its folio is
            // isolated and locked by us; `dst` is ours.
            let failed = unsafe {
                bindings::copy_mc_user_highpage(
                    dst,
                    bindings::pte_page(pte.0),
                    addr,
                    self.vma.as_ptr(),
                )
            };
            if failed > 0 {
                return Err((CopyError::MachineCheck, new));
            }
        }
        self.copied = Some(new);
        Ok(())
    }

    /// Finishes the collapse with the folio [`DetachedTable::copy_into`] filled: unmaps and
    /// releases the old pages, then maps the new folio by the PMD if the range is the whole
    /// table (depositing the table for a later split), or puts the table back and maps the
    /// folio by the range's PTEs, one reference each, as a freshly faulted mTHP (the other
    /// PTEs of the table are untouched). Without a copy, fails and changes nothing: the
    /// table goes back when [`DetachedTable::detach`] returns.
    pub fn commit(&mut self) -> Result<(), CopyError> {
        let Some(new) = self.copied.take() else {
            return Err(CopyError::Mismatch);
        };
        self.unlock();
        self.release_old_pages();
        let mm = self.mm.as_raw();
        let folio = new.into_raw();
        if self.nr == self.pmd_nr {
            let pmd_size = self.pmd_nr.wrapping_mul(PAGE_SIZE);
            let pmd_addr = self.start & !pmd_size.wrapping_sub(1);
            // SAFETY: The old pages are unmapped and released, the PMD entry is empty and only
            // we can reach it (mmap write lock); the folio is filled, of PMD order (checked by
            // `copy_into()`) and ours to hand over: its allocation reference becomes the PMD
            // mapping's. The page table is deposited for a later split, as for any anonymous
            // PMD mapping.
            unsafe {
                bindings::__folio_mark_uptodate(folio);
                let ptl = bindings::pmd_lock(mm, self.pmd.as_ptr());
                bindings::pgtable_deposit_from(mm, self.pmd.as_ptr(), self.orig);
                bindings::map_anon_folio_pmd_nopf(
                    folio,
                    self.pmd.as_ptr(),
                    self.vma.as_ptr(),
                    pmd_addr,
                );
                bindings::spin_unlock(ptl);
            }
        } else {
            // The range's old pages are unmapped and released and its PTEs are empty; the rest
            // of the table is as it was. The page table goes back, then the folio is mapped
            // into the range under both locks (nested when they differ), as
            // `collapse_huge_page()` does.
            // SAFETY: The PMD entry is still empty and only we can reach it (mmap write lock,
            // and the anon_vma lock we hold keeps rmap walks of neighbouring folios away); the
            // folio is filled, has `nr` pages (checked by `copy_into()`) and is ours to hand
            // over: its allocation reference becomes the mappings'.
            unsafe {
                bindings::__folio_mark_uptodate(folio);
                let pmd_ptl = bindings::pmd_lock(mm, self.pmd.as_ptr());
                let nested = !core::ptr::eq(pmd_ptl, self.ptl);
                if nested {
                    bindings::spin_lock_nested_single(self.ptl);
                }
                bindings::pmd_populate_from(mm, self.pmd.as_ptr(), self.orig);
                bindings::map_anon_folio_pte_nopf(
                    folio,
                    self.ptes.as_ptr(),
                    self.vma.as_ptr(),
                    self.start,
                    false,
                );
                if nested {
                    bindings::spin_unlock(self.ptl);
                }
                bindings::spin_unlock(pmd_ptl);
            }
        }
        // Dropping the table now only unmaps it and then drops the anon_vma lock.
        self.committed = true;
        Ok(())
    }

    /// Clears the detached PTEs, drops their rmap entries and references, and releases the
    /// isolated folios (C's `__collapse_huge_page_copy_succeeded()`).
    fn release_old_pages(&mut self) {
        let mm = self.mm.as_raw();
        let mut i = 0;
        while i < self.nr {
            let Some(pte) = self.pte(i) else { break };
            let addr = self.addr(i);
            // SAFETY: `i < nr`, within the mapped table.
            let ptep = unsafe { self.ptes.as_ptr().add(i) };
            if pte.is_none_or_zero() {
                // The new folio's page replaces an empty entry: one more anonymous page.
                // SAFETY: `mm` is valid.
                unsafe { bindings::add_mm_counter(mm, bindings::MM_ANONPAGES as i32, 1) };
                if !pte.is_none() {
                    // SAFETY: A zero-page entry of our detached table; the lock keeps the
                    // per-CPU page-table-check accounting consistent, as in C.
                    unsafe {
                        bindings::spin_lock(self.ptl);
                        bindings::ptep_clear(mm, addr, ptep);
                        bindings::spin_unlock(self.ptl);
                        bindings::ksm_might_unmap_zero_page(mm, pte.0);
                    }
                }
                i += 1;
                continue;
            }
            // SAFETY: A present entry (copy_into checked) of our table.
            let page = unsafe { bindings::pte_page(pte.0) };
            // SAFETY: `page` is mapped by the entry.
            let folio = unsafe { bindings::page_folio(page) };
            let left = self.nr - i;
            // SAFETY: The folio is isolated and locked by us.
            let nr_ptes = if unsafe { bindings::folio_test_large(folio) } {
                // CAST: At most `pmd_nr`, far below `u32::MAX`.
                // SAFETY: `ptep` and the `left` entries after it lie in our mapped table, and
                // `pte` is the value of the first.
                let n = unsafe { bindings::folio_pte_batch(folio, ptep, pte.0, left as u32) };
                (n as usize).clamp(1, left)
            } else {
                1
            };
            // SAFETY: Unmap `nr_ptes` entries mapping consecutive pages of `folio` and drop
            // their rmap and references. The isolation reference keeps the folio alive until
            // it is released below. The lock disables preemption for the per-CPU stats the
            // rmap update touches.
            unsafe {
                bindings::spin_lock(self.ptl);
                // CAST: As above.
                bindings::clear_ptes(mm, addr, ptep, nr_ptes as u32);
                bindings::folio_remove_rmap_ptes(folio, page, nr_ptes as i32, self.vma.as_ptr());
                bindings::spin_unlock(self.ptl);
                bindings::folio_put_refs(folio, nr_ptes as i32);
            }
            i += nr_ptes;
        }
        self.isolated.drain(|folio| {
            // SAFETY: Each folio is locked and isolated by us; now unmapped, it goes back to
            // the LRU, where dropping the isolation reference frees it.
            unsafe {
                let nr = 1isize
                    .checked_shl(bindings::folio_order(folio))
                    .unwrap_or(0);
                bindings::node_stat_mod_folio_isolated(folio, -nr);
                bindings::folio_unlock(folio);
                bindings::free_swap_cache(folio);
                bindings::folio_putback_lru(folio);
            }
        });
    }
}

impl Drop for DetachedTable<'_> {
    fn drop(&mut self) {
        self.unlock();
        if !self.committed {
            // SAFETY: The PMD entry is still empty and only we can reach it; the PTEs are
            // untouched. The entry goes back before the pages are released, so that no rmap
            // walk finds a mapped page whose PMD is missing.
            unsafe { restore_pmd(self.mm, self.pmd.as_ptr(), self.orig) };
        }
        // SAFETY: Mapped by `detach()` (type invariant), unmapped only here.
        unsafe { bindings::pte_unmap(self.ptes.as_ptr()) };
        self.isolated.release_all();
        // Then the fields: the new folio, if any, is freed, and the anon_vma lock, if still
        // held, is dropped last.
    }
}

/// Puts the page table `orig` pointed to back into the PMD entry `pmd`.
///
/// # Safety
///
/// `pmd` is an empty PMD entry of `mm`, which the caller took `orig` out of and which no one
/// else can have filled (the caller holds the mmap write lock).
unsafe fn restore_pmd(mm: &MmWithUser, pmd: *mut bindings::pmd_t, orig: bindings::pmd_t) {
    // SAFETY: By the function's requirements.
    unsafe {
        let ptl = bindings::pmd_lock(mm.as_raw(), pmd);
        bindings::pmd_populate_from(mm.as_raw(), pmd, orig);
        bindings::spin_unlock(ptl);
    }
}
