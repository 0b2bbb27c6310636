// SPDX-License-Identifier: GPL-2.0

//! The page cache of a file: its mapping (`struct address_space`), the XArray of its folios
//! (`i_pages`), read under RCU or through a cursor, and locked page-cache folios. The
//! replacement of a range of small folios by one large folio is
//! [`cache_collapse`](super::cache_collapse)'s.
//!
//! Lock order, as `mm/filemap.c` gives it: the folio lock, then `i_mmap_rwsem`, then the
//! `i_pages` lock (taken with interrupts off).
//!
//! C headers: [`include/linux/pagemap.h`](srctree/include/linux/pagemap.h),
//! [`include/linux/xarray.h`](srctree/include/linux/xarray.h),
//! [`include/linux/shmem_fs.h`](srctree/include/linux/shmem_fs.h).

use crate::{
    bindings,
    error::{to_result, Result},
    fs::File,
    mm::folio::Folio,
    sync::rcu,
    types::Opaque,
};
use core::{ops::ControlFlow, ptr::NonNull};

/// A file's page cache (C's `struct address_space`), borrowed from something that keeps the
/// file alive.
///
/// # Invariants
///
/// A `&Mapping` points to a live `address_space` for its lifetime.
#[repr(transparent)]
pub struct Mapping(Opaque<bindings::address_space>);

impl File {
    /// The file's page cache (`f_mapping`), which lives as long as the file.
    pub fn mapping(&self) -> &Mapping {
        // SAFETY: The file is valid for the borrow (type invariant of `File`), and its
        // `f_mapping` is set at open and lives as long as the file's inode, which the file
        // pins.
        unsafe { &*bindings::file_mapping(self.as_ptr()).cast::<Mapping>() }
    }
}

impl Mapping {
    pub(crate) fn as_raw(&self) -> *mut bindings::address_space {
        self.0.get()
    }

    /// Whether this is the page cache of a shmem or tmpfs file.
    pub fn is_shmem(&self) -> bool {
        // SAFETY: The mapping is alive (type invariant).
        unsafe { bindings::shmem_mapping(self.as_raw()) }
    }

    /// Whether dirty folios of this mapping are written back to storage.
    pub fn can_writeback(&self) -> bool {
        // SAFETY: The mapping is alive (type invariant).
        unsafe { bindings::mapping_can_writeback(self.as_raw()) }
    }

    /// Whether the file system can keep PMD-sized folios in this mapping.
    pub fn pmd_folio_support(&self) -> bool {
        // SAFETY: The mapping is alive (type invariant).
        unsafe { bindings::mapping_pmd_folio_support(self.as_raw()) }
    }

    /// Whether some file description has the file open for writing.
    pub fn open_for_write(&self) -> bool {
        // SAFETY: The mapping is alive (type invariant), and so is its host inode.
        unsafe { bindings::mapping_host_open_for_write(self.as_raw()) }
    }

    /// Starts writing back the mapping's dirty folios, without waiting (C's
    /// `filemap_flush()`). Failures show later as folios still dirty.
    pub fn flush(&self) {
        // SAFETY: The mapping is alive (type invariant).
        let _ = unsafe { bindings::filemap_flush(self.as_raw()) };
    }

    /// Writes back the dirty folios of the byte range `start..=end` and waits for them.
    pub fn write_and_wait_range(&self, start: i64, end: i64) -> Result {
        // SAFETY: The mapping is alive (type invariant); any range is accepted.
        to_result(unsafe { bindings::filemap_write_and_wait_range(self.as_raw(), start, end) })
    }

    /// Starts reading `nr` pages from `index` into the page cache, if they are not there
    /// (C's `page_cache_sync_readahead()`). `file` must be the file this mapping is of.
    ///
    /// Readahead takes the mapping's `invalidate_lock` for reading, which truncation and hole
    /// punching hold for writing while they wait for folio locks: a caller holding a folio
    /// of this mapping locked can deadlock with them.
    pub fn sync_readahead(&self, file: &File, index: usize, nr: usize) {
        if !core::ptr::eq(file.mapping(), self) {
            return;
        }
        // SAFETY: The mapping and the file are alive, and the file is of this mapping.
        unsafe { bindings::page_cache_sync_readahead(self.as_raw(), file.as_ptr(), index, nr) };
    }

    /// The first index of `index..index + nr` with no folio in the page cache (none, or a
    /// shadow or swap entry there), if any.
    ///
    /// Not C's `page_cache_next_miss()`, a readahead heuristic: started inside a large folio
    /// it reads the slots after by the wrong index, and started at index 0 it takes a folio
    /// there for a wrap past the last index.
    pub fn next_miss(&self, index: usize, nr: usize) -> Option<usize> {
        let last = index.checked_add(nr.checked_sub(1)?)?;
        let mut xas = XaState::new(self, index);
        let mut expect = index;
        let rcu = rcu::read_lock();
        // SAFETY: The cursor is over this mapping's live `i_pages`; RCU is held.
        let mut entry = unsafe { bindings::xas_find(xas.as_raw(), last) };
        while !entry.is_null() {
            // SAFETY: As above, for each call on the cursor and the entry it returned.
            unsafe {
                if !bindings::xas_retry(xas.as_raw(), entry) {
                    // A multi-index entry is naturally aligned; the cursor may stand on any
                    // of its indices.
                    let order = u32::try_from(bindings::xas_get_order(xas.as_raw())).unwrap_or(0);
                    let pages = 1usize.checked_shl(order).unwrap_or(1);
                    let first = xas.index() & !(pages - 1);
                    if first > expect || bindings::xa_is_value(entry) {
                        break;
                    }
                    expect = first.saturating_add(pages);
                }
                entry = bindings::xas_next_entry(xas.as_raw(), last);
            }
        }
        drop(rcu);
        (expect <= last).then_some(expect)
    }

    /// Finds the folio at `index` and locks it, sleeping for the lock if needed (C's
    /// `filemap_lock_folio()`). `None` if the index holds no folio.
    pub fn lock_folio(&self, index: usize) -> Option<LockedFolio> {
        // SAFETY: The mapping is alive; the call may sleep, which the caller allows by
        // calling a sleeping function.
        let folio = unsafe { bindings::filemap_lock_folio_or_null(self.as_raw(), index) };
        // INVARIANT: `filemap_lock_folio()` returns a folio locked, with a reference.
        Some(LockedFolio {
            folio: NonNull::new(folio)?,
        })
    }

    /// Finds the shmem folio at `index`, swapping it in or making an fallocated one up to
    /// date, and locks it (C's `shmem_get_folio(..., SGP_NOALLOC)`). `None` for a hole, a
    /// mapping that is not shmem, or a failure.
    pub fn shmem_get_folio(&self, index: usize) -> Option<LockedFolio> {
        if !self.is_shmem() {
            return None;
        }
        let mut folio = core::ptr::null_mut();
        // SAFETY: The mapping is a live shmem mapping; `folio` is a valid out-pointer.
        let ret =
            unsafe { bindings::mapping_shmem_get_folio_noalloc(self.as_raw(), index, &mut folio) };
        if ret != 0 {
            return None;
        }
        // INVARIANT: On success `shmem_get_folio()` returns the folio locked, with a
        // reference.
        Some(LockedFolio {
            folio: NonNull::new(folio)?,
        })
    }

    /// Walks the entries of indices `start..=last` under RCU (C's `xas_for_each()`), handing
    /// `f` each swap entry and each folio, with a reference held on the folio for the call.
    /// `f` runs in an RCU read-side critical section and must not sleep.
    pub fn scan(
        &self,
        start: usize,
        last: usize,
        mut f: impl FnMut(CacheEntry<'_>) -> ControlFlow<()>,
    ) {
        let mut xas = XaState::new(self, start);
        let rcu = rcu::read_lock();
        // SAFETY: The cursor is over this mapping's live `i_pages`; RCU is held.
        let mut entry = unsafe { bindings::xas_find(xas.as_raw(), last) };
        while !entry.is_null() {
            // SAFETY: As above, for each call on the cursor and the entry it returned.
            let flow = unsafe {
                if bindings::xas_retry(xas.as_raw(), entry) {
                    ControlFlow::Continue(())
                } else if bindings::xa_is_value(entry) {
                    let order = bindings::xas_get_order(xas.as_raw());
                    let order = u32::try_from(order).unwrap_or(u32::MAX);
                    f(CacheEntry::Swap {
                        pages: 1usize.checked_shl(order).unwrap_or(0),
                    })
                } else {
                    let folio = entry.cast::<bindings::folio>();
                    if !bindings::folio_try_get(folio) {
                        bindings::xas_reset(xas.as_raw());
                        ControlFlow::Continue(())
                    } else if bindings::xas_reload(xas.as_raw()) != entry {
                        bindings::folio_put(folio);
                        bindings::xas_reset(xas.as_raw());
                        ControlFlow::Continue(())
                    } else {
                        // The reference taken above keeps the folio alive for the call.
                        let flow = f(CacheEntry::Folio(CachedFolio(Folio::from_raw(folio))));
                        bindings::folio_put(folio);
                        if flow.is_continue() && bindings::need_resched() {
                            bindings::xas_pause(xas.as_raw());
                            bindings::cond_resched_rcu();
                        }
                        flow
                    }
                }
            };
            if flow.is_break() {
                break;
            }
            // SAFETY: As above.
            entry = unsafe { bindings::xas_next_entry(xas.as_raw(), last) };
        }
        drop(rcu);
    }
}

/// An entry [`Mapping::scan`] found.
pub enum CacheEntry<'a> {
    /// A swap entry (shmem) covering `pages` indices.
    Swap {
        /// How many indices the entry covers.
        pages: usize,
    },
    /// A folio, referenced for the call.
    Folio(CachedFolio<'a>),
}

/// A folio found in the page cache, which the walk holds a reference on.
pub struct CachedFolio<'a>(&'a Folio);

impl CachedFolio<'_> {
    /// The folio.
    pub fn folio(&self) -> &Folio {
        self.0
    }

    /// Whether someone holds a reference besides the page cache, its mappings and the walk
    /// (a GUP pin, say).
    pub fn has_extra_refs(&self) -> bool {
        // SAFETY: The folio is alive (the walk holds a reference).
        unsafe { bindings::folio_has_extra_refs_but_ours(self.0.as_raw()) }
    }
}

/// A folio locked by the current task, with a reference.
///
/// # Invariants
///
/// `folio` is a live folio that the current task locked and holds a reference on; both are
/// given up on drop.
pub struct LockedFolio {
    pub(crate) folio: NonNull<bindings::folio>,
}

impl LockedFolio {
    /// The folio.
    pub fn folio(&self) -> &Folio {
        // SAFETY: We hold a reference (type invariant).
        unsafe { Folio::from_raw(self.folio.as_ptr()) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::folio {
        self.folio.as_ptr()
    }

    /// Whether the folio's data is valid (read in, or written).
    pub fn is_uptodate(&self) -> bool {
        // SAFETY: The folio is alive (type invariant).
        unsafe { bindings::folio_test_uptodate(self.as_raw()) }
    }

    /// Whether the folio has data not yet written back.
    pub fn is_dirty(&self) -> bool {
        // SAFETY: The folio is alive (type invariant).
        unsafe { bindings::folio_test_dirty(self.as_raw()) }
    }

    /// Whether the folio is being written back.
    pub fn is_writeback(&self) -> bool {
        // SAFETY: The folio is alive (type invariant).
        unsafe { bindings::folio_test_writeback(self.as_raw()) }
    }

    /// The folio's index in its file.
    pub fn index(&self) -> usize {
        // SAFETY: The folio is alive and locked, so its index is stable.
        unsafe { bindings::folio_index(self.as_raw()) }
    }

    /// Whether the folio still belongs to `mapping` (truncation clears it under the lock).
    pub fn belongs_to(&self, mapping: &Mapping) -> bool {
        // SAFETY: The folio is alive and locked.
        core::ptr::eq(
            unsafe { bindings::folio_mapping(self.as_raw()) },
            mapping.as_raw(),
        )
    }

    /// Puts the folio back on the LRU after an isolation, then drops it.
    pub(crate) fn putback(self) {
        // SAFETY: The caller isolated the folio; `folio_putback_lru()` drops the isolation's
        // reference. The lock and our reference go with `self`.
        unsafe { bindings::folio_putback_lru(self.as_raw()) };
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: We hold the lock and a reference (type invariant).
        unsafe {
            bindings::folio_unlock(self.as_raw());
            bindings::folio_put(self.as_raw());
        }
    }
}

/// An XArray cursor over a mapping's `i_pages` (C's `struct xa_state`).
pub(crate) struct XaState {
    xas: bindings::xa_state,
}

impl XaState {
    pub(crate) fn new(mapping: &Mapping, index: usize) -> Self {
        let mut xas = core::mem::MaybeUninit::<bindings::xa_state>::uninit();
        // SAFETY: `xas_init()` writes the whole state; the XArray is the live mapping's.
        unsafe {
            bindings::xas_init(
                xas.as_mut_ptr(),
                bindings::mapping_i_pages(mapping.as_raw()),
                index,
            );
            Self {
                xas: xas.assume_init(),
            }
        }
    }

    pub(crate) fn as_raw(&mut self) -> *mut bindings::xa_state {
        &mut self.xas
    }

    /// The index the cursor stands on.
    pub(crate) fn index(&self) -> usize {
        self.xas.xa_index
    }
}
