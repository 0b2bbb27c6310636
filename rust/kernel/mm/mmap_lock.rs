// SPDX-License-Identifier: GPL-2.0

//! The mmap lock for writing (waiting for it, or only if it is free), and the read lock
//! handed over by C code that holds it.
//!
//! C header: [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h).

use crate::{
    bindings,
    mm::{pgtable::MmapLocked, virt::VmaRef, MmWithUser, MmapReadGuard},
    types::NotThreadSafe,
};

/// A guard for the mmap write lock.
///
/// # Invariants
///
/// The current task holds `mm`'s mmap lock for writing until the guard is dropped.
pub struct MmapWriteGuard<'a> {
    mm: &'a MmWithUser,
    _nts: NotThreadSafe,
}

impl MmWithUser {
    /// Takes the mmap lock for writing, sleeping until it is available.
    pub fn mmap_write_lock(&self) -> MmapWriteGuard<'_> {
        // SAFETY: `self` is a valid mm with users.
        unsafe { bindings::mmap_write_lock(self.as_raw()) };
        // INVARIANT: Just taken.
        MmapWriteGuard {
            mm: self,
            _nts: NotThreadSafe,
        }
    }

    /// Takes the mmap lock for writing if no one holds it, without waiting: a waiting writer
    /// would hold back every reader that comes after it.
    pub fn mmap_write_trylock(&self) -> Option<MmapWriteGuard<'_>> {
        // SAFETY: `self` is a valid mm with users.
        if !unsafe { bindings::mmap_write_trylock(self.as_raw()) } {
            return None;
        }
        // INVARIANT: Just taken.
        Some(MmapWriteGuard {
            mm: self,
            _nts: NotThreadSafe,
        })
    }
}

// SAFETY: The guard holds the mmap lock for writing (type invariant), which includes reading.
unsafe impl MmapLocked for MmapWriteGuard<'_> {
    fn mm(&self) -> &MmWithUser {
        self.mm
    }
}

impl MmapWriteGuard<'_> {
    /// Marks `vma` as being modified, so that page faults under the per-VMA lock back off to
    /// the mmap lock (C's `vma_start_write()`). Returns `false` if `vma` belongs to another mm.
    pub fn vma_start_write(&self, vma: &VmaRef) -> bool {
        if !core::ptr::eq(vma.mm().as_raw(), self.mm.as_raw()) {
            return false;
        }
        // SAFETY: We hold the mmap write lock of the VMA's mm.
        unsafe { bindings::vma_start_write(vma.as_ptr()) };
        true
    }
}

impl Drop for MmapWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: We hold the lock (type invariant).
        unsafe { bindings::mmap_write_unlock(self.mm.as_raw()) };
    }
}

impl MmWithUser {
    /// Wraps the mmap read lock the caller already holds in a guard, so that code that may
    /// drop and retake it (like `MADV_COLLAPSE`) can do so through the guard. Forget the guard
    /// (or one it was exchanged for) to hand the lock back to the caller.
    ///
    /// # Safety
    ///
    /// The current task holds `self`'s mmap lock for reading, and gives it to the guard.
    pub unsafe fn adopt_mmap_read_lock(&self) -> MmapReadGuard<'_> {
        // INVARIANT: The caller holds the read lock and hands it over.
        MmapReadGuard {
            mm: self,
            _nts: NotThreadSafe,
        }
    }
}
