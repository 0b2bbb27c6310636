// SPDX-License-Identifier: GPL-2.0

//! Page-table entries and the locks that guard them.
//!
//! [`Pte`] is a copied PTE value with the predicates callers need. [`Pmd`] is a PMD entry of
//! an address space whose mmap lock is held (any [`MmapLocked`] guard), and [`PteTable`] is a
//! page table it points to, mapped and locked by its split page-table lock (PTL) for as long
//! as the guard lives.
//!
//! C headers: [`include/linux/pgtable.h`](srctree/include/linux/pgtable.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h).

use crate::{
    bindings,
    mm::{folio::Folio, virt::VmaRef, MmWithUser},
    page::PAGE_SIZE,
};
use core::{marker::PhantomData, ptr::NonNull};

/// A guard that holds the mmap lock of an address space, for reading or writing.
///
/// # Safety
///
/// For as long as a value of the implementing type exists, [`MmapLocked::mm`]'s mmap lock is
/// held by the current task (at least for reading).
pub unsafe trait MmapLocked {
    /// The address space whose mmap lock is held.
    fn mm(&self) -> &MmWithUser;

    /// Returns the first VMA that ends above `addr` (C's `find_vma()`), which may start above
    /// `addr`: iterating with it visits every VMA from `addr` upwards.
    fn find_vma(&self, addr: usize) -> Option<&VmaRef> {
        // SAFETY: The mmap lock is held (trait invariant), which `find_vma()` requires.
        let vma = unsafe { bindings::find_vma(self.mm().as_raw(), addr) };
        if vma.is_null() {
            return None;
        }
        // SAFETY: A VMA found under the mmap lock stays valid while the lock is held, which
        // the returned borrow of `self` guarantees.
        Some(unsafe { VmaRef::from_raw(vma) })
    }

    /// Returns the PMD entry that maps `addr`, if the upper levels of the page table exist
    /// (C's `mm_find_pmd()`).
    fn find_pmd(&self, addr: usize) -> Option<Pmd<'_>> {
        // SAFETY: The mmap lock is held (trait invariant), as `mm_find_pmd()` requires.
        let ptr = unsafe { bindings::mm_find_pmd(self.mm().as_raw(), addr) };
        Some(Pmd {
            ptr: NonNull::new(ptr)?,
            mm: self.mm(),
        })
    }
}

// SAFETY: An `MmapReadGuard` holds the mmap read lock of its mm for its whole life.
unsafe impl MmapLocked for crate::mm::MmapReadGuard<'_> {
    fn mm(&self) -> &MmWithUser {
        self.mm
    }
}

/// A PTE value, read once from a page table.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Pte(pub(crate) bindings::pte_t);

impl Pte {
    /// Whether the entry is empty (never mapped, or zapped).
    #[inline]
    pub fn is_none(self) -> bool {
        // SAFETY: A pure function of the value.
        unsafe { bindings::pte_none(self.0) }
    }

    /// Whether the entry maps a page (as opposed to a swap or migration entry).
    #[inline]
    pub fn is_present(self) -> bool {
        // SAFETY: A pure function of the value.
        unsafe { bindings::pte_present(self.0) }
    }

    /// Whether the entry is empty or maps the shared zero page: no data of its own.
    #[inline]
    pub fn is_none_or_zero(self) -> bool {
        // SAFETY: A pure function of the value; the PFN is only compared, never dereferenced.
        unsafe { bindings::pte_none_or_zero(self.0) }
    }

    /// Whether a present entry is dirty.
    #[inline]
    pub fn is_dirty(self) -> bool {
        // SAFETY: A pure function of the value.
        unsafe { bindings::pte_dirty(self.0) }
    }

    /// Whether a present entry was accessed since its accessed bit was last cleared.
    #[inline]
    pub fn is_young(self) -> bool {
        // SAFETY: A pure function of the value.
        unsafe { bindings::pte_young(self.0) }
    }

    /// Whether a present entry carries a userfaultfd marker (write-protect or minor).
    #[inline]
    pub fn is_uffd(self) -> bool {
        // SAFETY: A pure function of the value.
        unsafe { bindings::pte_uffd(self.0) }
    }

    /// Whether a non-present (swap) entry carries a userfaultfd marker.
    #[inline]
    pub fn is_swap_uffd(self) -> bool {
        // SAFETY: A pure function of the value.
        unsafe { bindings::pte_swp_uffd_any(self.0) }
    }
}

/// What a PMD entry holds, as far as collapsing it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmdState {
    /// No page table: empty, not present or bad.
    NoTable,
    /// A huge page, or one under migration that will become a huge page mapping again.
    Huge,
    /// A page table of PTEs.
    Table,
}

/// A PMD entry of `mm`, which stays allocated while the mmap lock the borrow comes from is
/// held.
///
/// # Invariants
///
/// `ptr` points to a PMD entry in `mm`'s page tables, and the caller's mmap lock keeps the
/// table holding it allocated for `'a` (page-table pages above the PTE level are only freed by
/// `free_pgtables()` for unmapped ranges, and a range is only scanned after its VMA was found
/// under this same lock).
pub struct Pmd<'a> {
    ptr: NonNull<bindings::pmd_t>,
    mm: &'a MmWithUser,
}

impl<'a> Pmd<'a> {
    /// An identity for the entry, to check that it is still the same one after the mmap lock
    /// was dropped and taken again.
    #[inline]
    pub fn id(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The address space the entry belongs to.
    #[inline]
    pub fn mm(&self) -> &'a MmWithUser {
        self.mm
    }

    /// The raw entry pointer, for the collapse abstractions.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut bindings::pmd_t {
        self.ptr.as_ptr()
    }

    /// Reads the entry without its lock and classifies it (C's `check_pmd_state()`).
    #[inline]
    pub fn state(&self) -> PmdState {
        // SAFETY: `ptr` is valid (type invariant); the lockless read is what C does too.
        let pmd = unsafe { bindings::pmdp_get_lockless(self.ptr.as_ptr()) };
        // SAFETY: Pure functions of the value just read.
        unsafe {
            if bindings::pmd_none(pmd) {
                PmdState::NoTable
            } else if bindings::pmd_is_migration_entry(pmd) {
                PmdState::Huge
            } else if !bindings::pmd_present(pmd) {
                PmdState::NoTable
            } else if bindings::pmd_trans_huge(pmd) {
                PmdState::Huge
            } else if bindings::pmd_bad(pmd) {
                PmdState::NoTable
            } else {
                PmdState::Table
            }
        }
    }

    /// Maps and locks the page table from `addr` to the end of the PMD, or returns `None` if
    /// the entry no longer points to a page table (C's `pte_offset_map_lock()`).
    ///
    /// `pmd_nr` is the number of PTEs in a page table (`HPAGE_PMD_NR`).
    #[inline]
    pub fn lock_ptes(&self, addr: usize, pmd_nr: usize) -> Option<PteTable<'_>> {
        let mut ptl = core::ptr::null_mut();
        // SAFETY: `ptr` is a valid PMD entry of `mm` (type invariant), and `ptl` is a valid
        // place for the lock pointer.
        let pte = unsafe {
            bindings::pte_offset_map_lock(self.mm.as_raw(), self.ptr.as_ptr(), addr, &mut ptl)
        };
        let pte = NonNull::new(pte)?;
        Some(PteTable {
            pte,
            ptl,
            len: ptes_to_pmd_end(addr, pmd_nr),
            start: addr,
            _lock: PhantomData,
        })
    }
}

/// The number of PTEs from `addr` to the end of its page table of `pmd_nr` entries.
#[inline]
pub(crate) fn ptes_to_pmd_end(addr: usize, pmd_nr: usize) -> usize {
    let index = (addr / PAGE_SIZE) & pmd_nr.wrapping_sub(1);
    pmd_nr.saturating_sub(index)
}

/// A page table mapped and locked by its PTL, from one address to the end of the table.
///
/// # Invariants
///
/// `pte` points to `len` consecutive PTEs, the first mapping `start`, of a page table that is
/// mapped (`pte_offset_map*()`) and whose lock `ptl` the current task holds until drop.
pub struct PteTable<'a> {
    pte: NonNull<bindings::pte_t>,
    ptl: *mut bindings::spinlock_t,
    len: usize,
    start: usize,
    _lock: PhantomData<&'a Pmd<'a>>,
}

impl PteTable<'_> {
    /// The number of PTEs, from the first address to the end of the table.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no PTEs (never true for a table returned by [`Pmd::lock_ptes`]).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address the first PTE maps.
    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    /// Reads PTE number `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Pte> {
        if i >= self.len {
            return None;
        }
        // SAFETY: `i < len`, so the entry lies in the mapped table (type invariant).
        Some(Pte(unsafe { bindings::ptep_get(self.pte.as_ptr().add(i)) }))
    }

    /// Returns the folio that PTE number `i`, read as `pte`, maps in `vma`, if it is a normal
    /// page (not the zero page, a special mapping or device memory).
    ///
    /// The folio stays valid while the table stays locked: the mapping holds a reference.
    #[inline]
    pub fn folio(&self, vma: &VmaRef, i: usize, pte: Pte) -> Option<&Folio> {
        let addr = self.start.checked_add(i.checked_mul(PAGE_SIZE)?)?;
        // SAFETY: `vma` maps this table's range under the mmap lock the table borrow depends
        // on, `pte` was read from it, and the locked table keeps the page mapped for the
        // borrow of `self`.
        unsafe { normal_folio(vma, addr, pte) }
    }

    /// Returns the folio that present PTE number `i` maps in `vma`, as [`PteTable::folio`]
    /// does, with
    /// the number of entries from `i` on (at least 1, at most to the end of the table) that
    /// map consecutive pages of it: C's `folio_pte_batch()`, which lets the dirty,
    /// soft-dirty and accessed bits of the entries after the first differ from it, but no
    /// other bit (so not the userfaultfd write-protect bit).
    ///
    /// One folio lookup for a whole large folio mapped by a run of PTEs.
    #[inline]
    pub fn folio_run(&self, vma: &VmaRef, i: usize) -> Option<(&Folio, usize)> {
        let pte = self.get(i).filter(|pte| pte.is_present())?;
        let folio = self.folio(vma, i, pte)?;
        if !folio.is_large() {
            return Some((folio, 1));
        }
        let left = self.len - i;
        // SAFETY: `i < len` (checked by `get()`), so the `left` entries from `i` lie in the
        // mapped, locked table (type invariant); `pte` is the value just read from the first
        // and maps a page of `folio`, which the lock keeps mapped.
        let n = unsafe {
            bindings::folio_pte_batch(
                folio.as_raw(),
                self.pte.as_ptr().add(i),
                pte.0,
                u32::try_from(left).unwrap_or(u32::MAX),
            )
        };
        // CAST: `u32` to `usize` is lossless on the 64-bit targets.
        Some((folio, (n as usize).clamp(1, left)))
    }
}

/// The folio a present PTE value maps at `addr` in `vma`, if it is a normal page (not the
/// zero page, a special mapping or device memory): C's `vm_normal_page()` and
/// `page_folio()`.
///
/// # Safety
///
/// `pte` was read from a page table of `vma` for `addr`, under a lock that keeps `vma`
/// valid, and the page it maps stays mapped (hence alive) for `'a`.
#[inline]
pub(crate) unsafe fn normal_folio<'a>(vma: &VmaRef, addr: usize, pte: Pte) -> Option<&'a Folio> {
    // SAFETY: By the function's requirements.
    let page = unsafe { bindings::vm_normal_page(vma.as_ptr(), addr, pte.0) };
    if page.is_null() {
        return None;
    }
    // SAFETY: `page` is mapped and stays so for `'a` (the function's requirements).
    unsafe {
        if bindings::is_zone_device_page(page) {
            return None;
        }
        Some(Folio::from_raw(bindings::page_folio(page)))
    }
}

impl Drop for PteTable<'_> {
    fn drop(&mut self) {
        // SAFETY: The table is mapped and `ptl` is held (type invariant); this ends both.
        unsafe {
            bindings::spin_unlock(self.ptl);
            bindings::pte_unmap(self.pte.as_ptr());
        }
    }
}
