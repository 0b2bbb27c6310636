// SPDX-License-Identifier: GPL-2.0

//! The replacement of a naturally aligned range of small folios in a file's page cache by
//! one large folio ([`CacheCollapse`], the mechanics of 7.3's `collapse_file()`), and what
//! follows a success ([`Committed`]: the new folio in place, the old ones to free, the page
//! tables to retract).
//!
//! Lock order, as `mm/filemap.c` gives it: the folio lock, then `i_mmap_rwsem`, then the
//! `i_pages` lock (taken with interrupts off).
//!
//! C headers: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/xarray.h`](srctree/include/linux/xarray.h),
//! [`include/linux/shmem_fs.h`](srctree/include/linux/shmem_fs.h).

use crate::{
    alloc::{flags::GFP_KERNEL, KVVec},
    bindings,
    mm::{
        folio::{Folio, NewFolio},
        page_cache::{LockedFolio, Mapping, XaState},
        retract,
    },
};
use core::{mem::ManuallyDrop, ptr::NonNull};

/// What [`CacheCollapse::lookup`] found at the next index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Every index of the range has been taken.
    End,
    /// Nothing: a hole.
    Hole,
    /// A swap entry (shmem).
    Swap,
    /// A folio, with its state as read under the `i_pages` lock.
    Folio {
        /// Its data is valid.
        uptodate: bool,
        /// It has data not yet written back.
        dirty: bool,
        /// It is being written back.
        writeback: bool,
    },
}

/// Why a folio could not join a [`CacheCollapse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The folio is not up to date.
    NotUptodate,
    /// The folio is already as large as the range.
    Huge,
    /// The folio left the mapping (truncated, or hole-punched) or is not where expected.
    Truncated,
    /// A file folio is dirty or under writeback.
    Dirty,
    /// The folio is not on an LRU list.
    Lru,
    /// The file system would not release the folio's private data.
    Private,
    /// Someone else holds a reference (a pin, say).
    Count,
}

/// Why a [`CacheCollapse`] could not be put in the page cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitError {
    /// Copying a page hit a memory error.
    CopyMc,
    /// The XArray could not take a retry entry.
    Store,
    /// A hole was filled meanwhile.
    Filled,
    /// A VMA mapping the range has a userfaultfd that must see its holes' faults.
    UffdMissing,
    /// The walk did not reach the end of the range, or the holes were not charged.
    Incomplete,
}

/// The collapse of the naturally aligned range of `nr` indices at `start` of a mapping into
/// one new folio, in progress: the new folio, locked and pointed at the mapping, and the old
/// folios found so far, each locked, isolated from the LRU and unmapped.
///
/// Dropping it before [`CacheCollapse::commit`] leaves the page cache as it was: the old
/// folios unlocked and back on the LRU, the holes still holes and their shmem charge
/// returned, the new folio freed.
///
/// # Invariants
///
/// - `new` is locked (by us, before anyone else could see it), of order `order`, with its
///   `mapping` and `index` set to `mapping` and `start`; `start` is a multiple of `nr`,
///   which is `1 << order`, and the `i_pages` nodes for the range exist.
/// - `old` holds distinct folios of `mapping` covering indices from `start` up to `next`
///   (with `holes` holes among them), in order, each locked by us, isolated, unmapped, with
///   exactly our reference, the page cache's and the isolation's.
/// - `loaded` is the entry at `next`, valid only while `locked`.
pub struct CacheCollapse<'m> {
    mapping: &'m Mapping,
    xas: XaState,
    locked: bool,
    loaded: *mut core::ffi::c_void,
    start: usize,
    nr: usize,
    order: u32,
    next: usize,
    holes: usize,
    charged: usize,
    flush_pending: bool,
    shmem: bool,
    new: Option<NewFolio>,
    old: KVVec<NonNull<bindings::folio>>,
}

impl<'m> CacheCollapse<'m> {
    /// Starts the collapse of the range of `new`'s size at `start` in `mapping`, into `new`.
    /// Fails with `new` back if the range is misaligned, if the mapping cannot hold a folio
    /// that large, or if the XArray's nodes for the range cannot be allocated.
    pub fn new(
        mapping: &'m Mapping,
        start: usize,
        new: NewFolio,
    ) -> core::result::Result<Self, NewFolio> {
        let order = new.folio().order();
        let nr = 1usize.checked_shl(order).unwrap_or(0);
        if nr < 2 || !start.is_multiple_of(nr) || start.checked_add(nr).is_none() {
            return Err(new);
        }
        // The file system must be able to handle a folio that large; shmem always can.
        // SAFETY: The mapping is alive (type invariant).
        let max_order = unsafe { bindings::mapping_max_folio_order(mapping.as_raw()) };
        if !mapping.is_shmem() && order > max_order {
            return Err(new);
        }
        let Ok(old) = KVVec::with_capacity(nr, GFP_KERNEL) else {
            return Err(new);
        };
        let mut xas = XaState::new(mapping, start);
        // SAFETY: The cursor is over the live mapping's `i_pages`.
        unsafe {
            bindings::xas_set_order(xas.as_raw(), start, order);
            bindings::mapping_set_update(xas.as_raw(), mapping.as_raw());
        }
        // Make the XArray's slots for the whole range, allocating outside the lock. This
        // leaves the cursor at `start`, for single-index entries.
        loop {
            // SAFETY: The cursor is over the live mapping's `i_pages`; `xas_nomem()` runs
            // without the lock and may sleep to allocate.
            unsafe {
                bindings::xas_lock_irq(xas.as_raw());
                bindings::xas_create_range(xas.as_raw());
                let err = bindings::xas_error(xas.as_raw());
                bindings::xas_unlock_irq(xas.as_raw());
                if err == 0 {
                    break;
                }
                if !bindings::xas_nomem(xas.as_raw(), bindings::GFP_KERNEL) {
                    return Err(new);
                }
            }
        }
        let shmem = mapping.is_shmem();
        let folio = new.as_raw();
        // SAFETY: No one else can see the new folio yet, so its flags and fields are ours to
        // set without atomics.
        unsafe {
            bindings::__folio_set_locked(folio);
            if shmem {
                bindings::__folio_set_swapbacked(folio);
            }
            bindings::folio_set_mapping(folio, mapping.as_raw(), start);
        }
        Ok(Self {
            mapping,
            xas,
            locked: false,
            loaded: core::ptr::null_mut(),
            start,
            nr,
            order,
            next: start,
            holes: 0,
            charged: 0,
            flush_pending: false,
            shmem,
            new: Some(new),
            old,
        })
    }

    fn lock(&mut self) {
        if !self.locked {
            // SAFETY: The cursor is over the live mapping's `i_pages`.
            unsafe { bindings::xas_lock_irq(self.xas.as_raw()) };
            self.locked = true;
        }
    }

    /// Drops the `i_pages` lock, if held, as the caller must before it sleeps.
    pub fn unlock(&mut self) {
        if self.locked {
            // SAFETY: We hold the lock.
            unsafe { bindings::xas_unlock_irq(self.xas.as_raw()) };
            self.locked = false;
            self.loaded = core::ptr::null_mut();
        }
    }

    /// Whether the range is shmem.
    pub fn is_shmem(&self) -> bool {
        self.shmem
    }

    /// The next index to take.
    pub fn next_index(&self) -> usize {
        self.next
    }

    /// The range's end (exclusive).
    pub fn end(&self) -> usize {
        self.start.wrapping_add(self.nr)
    }

    /// The holes taken so far.
    pub fn holes(&self) -> usize {
        self.holes
    }

    /// The new folio's first page frame.
    pub fn new_pfn(&self) -> usize {
        self.new.as_ref().map_or(0, |n| n.folio().pfn())
    }

    /// Looks at the next index under the `i_pages` lock, which stays held.
    pub fn lookup(&mut self) -> Slot {
        if self.next >= self.end() {
            return Slot::End;
        }
        self.lock();
        // SAFETY: The lock is held; the entry is only used while it is.
        let entry = unsafe {
            bindings::xas_set(self.xas.as_raw(), self.next);
            bindings::xas_load(self.xas.as_raw())
        };
        self.loaded = entry;
        if entry.is_null() {
            return Slot::Hole;
        }
        // SAFETY: As above.
        if unsafe { bindings::xa_is_value(entry) } {
            return Slot::Swap;
        }
        let folio = entry.cast::<bindings::folio>();
        // SAFETY: A folio in `i_pages` stays alive while the lock is held.
        unsafe {
            Slot::Folio {
                uptodate: bindings::folio_test_uptodate(folio),
                dirty: bindings::folio_test_dirty(folio),
                writeback: bindings::folio_test_writeback(folio),
            }
        }
    }

    /// Whether the range holds nothing at all from the next index on (truncated or
    /// hole-punched), with the lock held.
    pub fn rest_is_empty(&mut self) -> bool {
        self.lock();
        let last = self.end().wrapping_sub(1);
        // SAFETY: The lock is held; the entry is only compared with null.
        let entry = unsafe {
            bindings::xas_set(self.xas.as_raw(), self.next);
            bindings::xas_find(self.xas.as_raw(), last)
        };
        self.loaded = core::ptr::null_mut();
        entry.is_null()
    }

    /// Takes the hole [`CacheCollapse::lookup`] just found into a shmem collapse, to be
    /// filled with zeroes. Refused (`false`) elsewhere: a file's hole must be read in.
    ///
    /// [`CacheCollapse::commit`] counts the empty slots of the range under the `i_pages`
    /// lock and gives up unless there are exactly as many as holes taken, so a hole filled
    /// meanwhile, or an index taken as a hole that was none, can only fail the collapse.
    pub fn take_hole(&mut self) -> bool {
        if !self.shmem || !self.locked || !self.loaded.is_null() || self.next >= self.end() {
            return false;
        }
        self.holes += 1;
        self.next += 1;
        true
    }

    /// Locks the folio [`CacheCollapse::lookup`] just found, if no one else has, takes a
    /// reference and drops the `i_pages` lock. `None` (with the lock still held) if the
    /// folio is locked already or nothing was found.
    pub fn trylock_found(&mut self) -> Option<LockedFolio> {
        let entry = self.loaded;
        // SAFETY: The lock is held while `loaded` is set, so the entry is current.
        if !self.locked || entry.is_null() || unsafe { bindings::xa_is_value(entry) } {
            return None;
        }
        let folio = entry.cast::<bindings::folio>();
        // SAFETY: The folio is in `i_pages` and the lock is held, so it is alive; the
        // reference is taken before the lock goes.
        unsafe {
            if !bindings::folio_trylock(folio) {
                return None;
            }
            bindings::folio_get(folio);
        }
        self.unlock();
        // INVARIANT: Locked and referenced just above.
        Some(LockedFolio {
            folio: NonNull::new(folio)?,
        })
    }

    /// Takes `folio`, which must be the folio at the next index, into the collapse: isolates
    /// it from the LRU, releases its private data and unmaps it, then checks that no one
    /// else uses it. Returns with the `i_pages` lock held on success; on failure the folio
    /// is unlocked, back on the LRU and dropped, and the lock is not held.
    pub fn add(&mut self, folio: LockedFolio) -> core::result::Result<(), AddError> {
        self.unlock();
        let raw = folio.as_raw();
        if !folio.is_uptodate() {
            return Err(AddError::NotUptodate);
        }
        if folio.folio().order() >= self.order {
            return Err(AddError::Huge);
        }
        let nr = 1usize
            .checked_shl(folio.folio().order())
            .unwrap_or(usize::MAX);
        if !folio.belongs_to(self.mapping)
            || folio.index() != self.next
            || nr > self.end().wrapping_sub(self.next)
        {
            return Err(AddError::Truncated);
        }
        // Collapsing a dirty file folio into a clean one would lose its data.
        if !self.shmem && (folio.is_dirty() || folio.is_writeback()) {
            return Err(AddError::Dirty);
        }
        // SAFETY: The folio is alive and locked by us.
        if !unsafe { bindings::folio_isolate_lru(raw) } {
            return Err(AddError::Lru);
        }
        // SAFETY: As above; releasing private data may sleep, which is allowed here.
        if !unsafe { bindings::filemap_release_folio(raw, bindings::GFP_KERNEL) } {
            folio.putback();
            return Err(AddError::Private);
        }
        // SAFETY: The folio is locked and isolated; unmapping it from every mm is what a
        // collapse needs, and faults wait for the folio lock before mapping it again.
        unsafe {
            if bindings::folio_mapped(raw) {
                bindings::try_to_unmap_batched(raw);
                self.flush_pending = true;
            }
        }
        self.lock();
        // SAFETY: The lock is held.
        let here = unsafe {
            bindings::xas_set(self.xas.as_raw(), self.next);
            bindings::xas_load(self.xas.as_raw())
        };
        self.loaded = here;
        if here.cast::<bindings::folio>() != raw {
            self.unlock();
            folio.putback();
            return Err(AddError::Truncated);
        }
        // Our reference, the page cache's (one per page) and the isolation's: anyone else
        // must find the folio in the page cache and lock it first, and we hold the lock.
        // SAFETY: The folio is alive.
        let refs = unsafe { bindings::folio_ref_count(raw) };
        let expected = nr.checked_add(2).and_then(|n| i32::try_from(n).ok());
        if Some(refs) != expected {
            self.unlock();
            folio.putback();
            return Err(AddError::Count);
        }
        // Unmapping moved any dirty PTE bit to the folio.
        if !self.shmem && folio.is_dirty() {
            self.unlock();
            folio.putback();
            return Err(AddError::Dirty);
        }
        if self.old.push_within_capacity(folio.folio).is_err() {
            // The capacity is one folio per index of the range.
            self.unlock();
            folio.putback();
            return Err(AddError::Count);
        }
        core::mem::forget(folio);
        self.next = self.next.wrapping_add(nr);
        Ok(())
    }

    /// Ends the walk: drops the `i_pages` lock and flushes the TLBs of the unmapped folios.
    pub fn end_walk(&mut self) {
        self.unlock();
        if self.flush_pending {
            // SAFETY: Flushes what `try_to_unmap()` batched for the current task.
            unsafe { bindings::try_to_unmap_flush() };
            self.flush_pending = false;
        }
    }

    /// Charges the holes to the shmem inode (`shmem_charge()`): the new folio fills them.
    pub fn charge_holes(&mut self) -> bool {
        let holes = self.holes.wrapping_sub(self.charged);
        if holes == 0 {
            return true;
        }
        let Ok(pages) = isize::try_from(holes) else {
            return false;
        };
        // SAFETY: The mapping is a live shmem mapping (holes are only taken in shmem).
        if !unsafe { bindings::mapping_shmem_charge(self.mapping.as_raw(), pages) } {
            return false;
        }
        self.charged = self.holes;
        true
    }

    /// Copies the old folios into the new one and zeroes the holes (the old folios are
    /// locked and unmapped, so their data cannot change), then puts the new folio in the
    /// page cache in their place. Dropped (rolled back) on failure.
    pub fn commit(mut self) -> core::result::Result<Committed<'m>, CommitError> {
        self.end_walk();
        if self.next != self.end() || self.charged != self.holes {
            return Err(CommitError::Incomplete);
        }
        let Some(new) = self.new.as_ref() else {
            return Err(CommitError::Incomplete);
        };
        let dst = new.as_raw();
        let mut index = self.start;
        for f in self.old.iter() {
            let f = f.as_ptr();
            // SAFETY: Every old folio is locked by us and alive (type invariant); the page
            // offsets stay below the new folio's size since the old folios lie in the range.
            unsafe {
                let nr_pages = 1usize << bindings::folio_order(f);
                while index < bindings::folio_index(f) {
                    bindings::clear_highpage(bindings::folio_page(dst, index - self.start));
                    index += 1;
                }
                for i in 0..nr_pages {
                    let to = bindings::folio_page(dst, index - self.start);
                    if bindings::copy_mc_highpage(to, bindings::folio_page(f, i)) > 0 {
                        return Err(CommitError::CopyMc);
                    }
                    index += 1;
                }
            }
        }
        while index < self.end() {
            // SAFETY: As above.
            unsafe { bindings::clear_highpage(bindings::folio_page(dst, index - self.start)) };
            index += 1;
        }
        if self.holes > 0 {
            self.fill_holes()?;
        } else {
            self.lock();
        }
        let nr = i32::try_from(self.nr).unwrap_or(i32::MAX);
        // SAFETY: The new folio is ours, locked, charged, full, and about to replace the old
        // ones under the `i_pages` lock, with retry entries in the holes: no one can have
        // looked it up or filled a hole meanwhile.
        unsafe {
            if self.shmem {
                bindings::lruvec_stat_mod_folio(dst, bindings::node_stat_item_NR_SHMEM, nr);
                bindings::lruvec_stat_mod_folio(dst, bindings::node_stat_item_NR_SHMEM_THPS, nr);
            } else {
                bindings::lruvec_stat_mod_folio(dst, bindings::node_stat_item_NR_FILE_THPS, nr);
            }
            bindings::lruvec_stat_mod_folio(dst, bindings::node_stat_item_NR_FILE_PAGES, nr);
            // Up to date before it is visible, so it is not taken for an fallocated folio.
            bindings::folio_mark_uptodate(dst);
            // The page cache holds a reference per page; ours becomes one of them.
            bindings::folio_ref_add(dst, nr - 1);
            if self.shmem {
                bindings::folio_mark_dirty(dst);
            }
            bindings::folio_add_lru(dst);
            bindings::xas_set_order(self.xas.as_raw(), self.start, self.order);
            bindings::xas_store(self.xas.as_raw(), dst.cast());
        }
        self.unlock();
        let Some(new) = self.new.take() else {
            return Err(CommitError::Incomplete);
        };
        // The old folios are the committed collapse's now, and the holes are filled.
        let old = core::mem::take(&mut self.old);
        self.holes = 0;
        self.charged = 0;
        Ok(Committed {
            mapping: self.mapping,
            start: self.start,
            nr: self.nr,
            shmem: self.shmem,
            new: ManuallyDrop::new(new),
            old,
        })
    }

    /// Puts retry entries in the holes, so that no one fills them before the new folio
    /// takes them, and checks that every hole is still one and that no VMA mapping the
    /// range wants to see its missing pages' faults. Returns with the `i_pages` lock held
    /// on success; on failure the holes are holes again and the lock is not held.
    fn fill_holes(&mut self) -> core::result::Result<(), CommitError> {
        let mapping = self.mapping.as_raw();
        // SAFETY: The mapping is alive; `i_mmap_rwsem` comes before the `i_pages` lock.
        unsafe { bindings::i_mmap_lock_read(mapping) };
        self.lock();
        let mut result = Ok(());
        let mut found = 0usize;
        // SAFETY: The `i_pages` lock is held for the walk and the stores.
        unsafe {
            bindings::xas_set(self.xas.as_raw(), self.start);
            for _ in 0..self.nr {
                if bindings::xas_next(self.xas.as_raw()).is_null() {
                    bindings::xas_store(self.xas.as_raw(), bindings::xa_retry_entry());
                    if bindings::xas_error(self.xas.as_raw()) != 0 {
                        result = Err(CommitError::Store);
                        break;
                    }
                    found += 1;
                }
            }
        }
        if result.is_ok() && found != self.holes {
            result = Err(CommitError::Filled);
        }
        if result.is_ok() {
            let last = self.end();
            // SAFETY: `i_mmap_rwsem` is held, so the tree and its VMAs stay valid.
            unsafe {
                let mut vma = bindings::mapping_rmap_tree_iter_first(mapping, self.start, last);
                while !vma.is_null() {
                    if bindings::userfaultfd_missing(vma) {
                        result = Err(CommitError::UffdMissing);
                        break;
                    }
                    vma = bindings::mapping_rmap_tree_iter_next(vma, self.start, last);
                }
            }
        }
        // SAFETY: Taken above.
        unsafe { bindings::i_mmap_unlock_read(mapping) };
        if result.is_err() {
            // SAFETY: The `i_pages` lock is held; only our retry entries are removed.
            unsafe {
                let retry = bindings::xa_retry_entry();
                bindings::xas_set(self.xas.as_raw(), self.start);
                for _ in 0..self.nr {
                    if bindings::xas_next(self.xas.as_raw()) == retry {
                        bindings::xas_store(self.xas.as_raw(), core::ptr::null_mut());
                    }
                }
            }
            self.unlock();
        }
        result
    }
}

impl Drop for CacheCollapse<'_> {
    fn drop(&mut self) {
        self.end_walk();
        if self.charged > 0 {
            let pages = self.charged;
            self.lock();
            // SAFETY: `shmem_charge()` raised `nrpages` by the holes, under this lock.
            unsafe { bindings::mapping_sub_nrpages(self.mapping.as_raw(), pages) };
            self.unlock();
            // SAFETY: Returns the charge taken for the holes.
            unsafe {
                bindings::mapping_shmem_uncharge(
                    self.mapping.as_raw(),
                    isize::try_from(pages).unwrap_or(0),
                )
            };
        }
        while let Some(f) = self.old.pop() {
            // SAFETY: Each old folio is locked, isolated and referenced by us (type
            // invariant); `folio_putback_lru()` drops the isolation's reference.
            unsafe {
                bindings::folio_unlock(f.as_ptr());
                bindings::folio_putback_lru(f.as_ptr());
                bindings::folio_put(f.as_ptr());
            }
        }
        if let Some(new) = self.new.take() {
            // SAFETY: No one saw the new folio: clear its mapping and unlock it before it
            // is freed.
            unsafe {
                bindings::folio_set_mapping(new.as_raw(), core::ptr::null_mut(), 0);
                bindings::folio_unlock(new.as_raw());
            }
        }
    }
}

/// A collapse in the page cache that succeeded: the new folio is in place, still locked so
/// that no one maps it yet; the old folios are out of the page cache. Dropping it unlocks
/// the new folio and frees the old ones.
///
/// # Invariants
///
/// `new` is in `mapping`'s page cache at `start`, locked by us; its allocation reference
/// became one of the page cache's, so it is never put. `old` are as in [`CacheCollapse`], but
/// no longer in the page cache.
pub struct Committed<'m> {
    mapping: &'m Mapping,
    start: usize,
    nr: usize,
    shmem: bool,
    new: ManuallyDrop<NewFolio>,
    old: KVVec<NonNull<bindings::folio>>,
}

impl Committed<'_> {
    /// Removes the now empty page tables that mapped the range in every mm, so that the
    /// next fault maps the new folio by a PMD (C's `retract_page_tables()`). Returns how
    /// many tables were removed.
    pub fn retract_page_tables(&self) -> usize {
        // SAFETY: The new folio is locked and in the page cache at `start`, so faults on the
        // range wait for it, and every old folio was unmapped: the range's tables map nothing
        // of this file but what `retract` itself checks for.
        unsafe { retract::retract_page_tables(self.mapping, self.start, self.nr) }
    }

    /// The new folio.
    pub fn folio(&self) -> &Folio {
        // SAFETY: We hold the lock and the page cache holds references (type invariant).
        unsafe { Folio::from_raw(self.new.as_raw()) }
    }
}

impl Drop for Committed<'_> {
    fn drop(&mut self) {
        // SAFETY: We locked the new folio; the page cache keeps it.
        unsafe { bindings::folio_unlock(self.new.as_raw()) };
        while let Some(f) = self.old.pop() {
            let f = f.as_ptr();
            // SAFETY: Each old folio is locked, isolated and out of the page cache; we drop
            // our reference, the isolation's and the page cache's, which frees it.
            unsafe {
                let nr = 1i32 << bindings::folio_order(f);
                bindings::lruvec_stat_mod_folio(f, bindings::node_stat_item_NR_FILE_PAGES, -nr);
                if self.shmem {
                    bindings::lruvec_stat_mod_folio(f, bindings::node_stat_item_NR_SHMEM, -nr);
                }
                bindings::folio_set_mapping(f, core::ptr::null_mut(), bindings::folio_index(f));
                bindings::folio_clear_active(f);
                bindings::folio_clear_unevictable(f);
                bindings::folio_unlock(f);
                bindings::folio_put_refs(f, nr + 2);
            }
        }
    }
}
