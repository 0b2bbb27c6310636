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

    /// Returns the PMD entry that maps `addr` in `vma`, if the upper levels of the page table
    /// exist (C's `mm_find_pmd()`).
    ///
    /// `None` if `vma` is not one of this address space's or does not contain `addr`: only
    /// the tables of a mapped range are sure to stay allocated under the lock, since munmap
    /// frees an unmapped range's tables after downgrading to the read lock.
    fn find_pmd<'a>(&'a self, vma: &'a VmaRef, addr: usize) -> Option<Pmd<'a>> {
        let mm = self.mm();
        if !core::ptr::eq(vma.mm().as_raw(), mm.as_raw()) || addr < vma.start() || addr >= vma.end()
        {
            return None;
        }
        // SAFETY: The mmap lock is held (trait invariant), as `mm_find_pmd()` requires.
        let ptr = unsafe { bindings::mm_find_pmd(mm.as_raw(), addr) };
        // INVARIANT: Found under the lock for an address `vma` maps.
        Some(Pmd {
            ptr: NonNull::new(ptr)?,
            mm,
            vma,
            addr: addr & !pmd_size().wrapping_sub(1),
        })
    }
}

/// The number of PTEs in a page table (C's `PTRS_PER_PTE`, a variable on ppc64, where radix
/// and hash MMUs differ).
#[inline]
pub fn ptes_per_table() -> usize {
    // CAST: At most a few thousand.
    // SAFETY: Reads a constant, or a variable set once at boot.
    unsafe { bindings::ptrs_per_pte() as usize }
}

/// The size of the range a page table maps (C's `PMD_SIZE`).
#[inline]
fn pmd_size() -> usize {
    ptes_per_table().wrapping_mul(PAGE_SIZE)
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
/// `ptr` points to the PMD entry for the PMD-aligned `addr` in `mm`'s page tables, `vma` is a
/// VMA of `mm` that maps an address of that range, and the caller's mmap lock keeps the table
/// holding the entry allocated for `'a` (page-table pages above the PTE level are only freed
/// by `free_pgtables()` for unmapped ranges, and `vma` is mapped).
pub struct Pmd<'a> {
    ptr: NonNull<bindings::pmd_t>,
    mm: &'a MmWithUser,
    vma: &'a VmaRef,
    addr: usize,
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

    /// The VMA the entry was looked up for.
    #[inline]
    pub fn vma(&self) -> &'a VmaRef {
        self.vma
    }

    /// The first address of the range the entry maps.
    #[inline]
    pub fn addr(&self) -> usize {
        self.addr
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
        PmdState::of(unsafe { bindings::pmdp_get_lockless(self.ptr.as_ptr()) })
    }

    /// Maps and locks the page table from `addr` to the end of the PMD or of the VMA,
    /// whichever comes first, or returns `None` if the entry no longer points to a page table
    /// (C's `pte_offset_map_lock()`) or `addr` is not page-aligned or lies outside the VMA or
    /// the entry's range.
    #[inline]
    pub fn lock_ptes(&self, addr: usize) -> Option<PteTable<'_>> {
        if !addr.is_multiple_of(PAGE_SIZE)
            || addr < self.vma.start()
            || addr >= self.vma.end()
            || addr & !pmd_size().wrapping_sub(1) != self.addr
        {
            return None;
        }
        let len = ptes_to_pmd_end(addr, ptes_per_table()).min((self.vma.end() - addr) / PAGE_SIZE);
        let mut ptl = core::ptr::null_mut();
        // SAFETY: `ptr` is a valid PMD entry of `mm` (type invariant), and `ptl` is a valid
        // place for the lock pointer.
        let pte = unsafe {
            bindings::pte_offset_map_lock(self.mm.as_raw(), self.ptr.as_ptr(), addr, &mut ptl)
        };
        let pte = NonNull::new(pte)?;
        // INVARIANT: Mapped and locked just above; `len` entries from `addr` lie in the table
        // and in `vma`.
        Some(PteTable {
            pte,
            ptl,
            len,
            start: addr,
            vma: self.vma,
            _lock: PhantomData,
        })
    }
}

impl PmdState {
    /// Classifies a PMD value.
    #[inline]
    pub(crate) fn of(pmd: bindings::pmd_t) -> Self {
        // SAFETY: Pure functions of the value.
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
}

/// The number of PTEs from `addr` to the end of its page table of `pmd_nr` entries.
#[inline]
pub(crate) fn ptes_to_pmd_end(addr: usize, pmd_nr: usize) -> usize {
    let index = (addr / PAGE_SIZE) & pmd_nr.wrapping_sub(1);
    pmd_nr.saturating_sub(index)
}

/// A page table mapped and locked by its PTL, from one address to the end of the table or of
/// the VMA.
///
/// # Invariants
///
/// `pte` points to `len` consecutive PTEs, the first mapping `start`, of a page table that is
/// mapped (`pte_offset_map*()`) and whose lock `ptl` the current task holds until drop; `vma`
/// maps all `len` addresses, and stays valid under the mmap lock the borrow depends on.
pub struct PteTable<'a> {
    pte: NonNull<bindings::pte_t>,
    ptl: *mut bindings::spinlock_t,
    len: usize,
    start: usize,
    vma: &'a VmaRef,
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

    /// Returns the folio that PTE number `i` maps, if it is present and maps a normal page
    /// (not the zero page, a special mapping or device memory).
    ///
    /// The folio stays valid while the table stays locked: the mapping holds a reference.
    #[inline]
    pub fn folio(&self, i: usize) -> Option<&Folio> {
        let pte = self.get(i).filter(|pte| pte.is_present())?;
        self.folio_of(i, pte)
    }

    /// The folio of PTE `i`, whose value `pte` was just read from the table.
    #[inline]
    fn folio_of(&self, i: usize, pte: Pte) -> Option<&Folio> {
        let addr = self.start.wrapping_add(i.wrapping_mul(PAGE_SIZE));
        // SAFETY: `i < len` (the caller read `pte` with `get(i)`), so `vma` maps `addr`
        // (type invariant); `pte` is the entry's value, and the locked table keeps the page
        // mapped for the borrow of `self`.
        unsafe { normal_folio(self.vma, addr, pte) }
    }

    /// Returns the folio that present PTE number `i` maps, as [`PteTable::folio`] does, with
    /// the number of entries from `i` on (at least 1, at most to the end of the table) that
    /// map consecutive pages of it: C's `folio_pte_batch()`, which lets the dirty,
    /// soft-dirty and accessed bits of the entries after the first differ from it, but no
    /// other bit (so not the userfaultfd write-protect bit).
    ///
    /// One folio lookup for a whole large folio mapped by a run of PTEs.
    #[inline]
    pub fn folio_run(&self, i: usize) -> Option<(&Folio, usize)> {
        let pte = self.get(i).filter(|pte| pte.is_present())?;
        let folio = self.folio_of(i, pte)?;
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
