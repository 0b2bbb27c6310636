// SPDX-License-Identifier: GPL-2.0

//! The anon_vma lock, which keeps rmap walks away from a VMA's anonymous pages.
//!
//! C header: [`include/linux/rmap.h`](srctree/include/linux/rmap.h).

use crate::{
    bindings,
    mm::{mmap_lock::MmapWriteGuard, virt::VmaRef},
};
use core::{marker::PhantomData, ptr::NonNull};

impl MmapWriteGuard<'_> {
    /// Marks `vma` as being written ([`MmapWriteGuard::vma_start_write`]: first, as the lock
    /// order wants) and takes the write lock of its anon_vma, if it has one.
    pub fn lock_anon_vma<'b>(&'b self, vma: &'b VmaRef) -> Option<AnonVmaWriteGuard<'b>> {
        if !self.vma_start_write(vma) {
            return None;
        }
        // SAFETY: The VMA is valid under our mmap lock; its anon_vma cannot change while we
        // hold the lock for writing.
        let anon_vma = NonNull::new(unsafe { (*vma.as_ptr()).anon_vma })?;
        let vma_ptr = NonNull::new(vma.as_ptr())?;
        // SAFETY: The anon_vma lives as long as the VMA refers to it.
        unsafe { bindings::anon_vma_lock_write(anon_vma.as_ptr()) };
        // INVARIANT: Just taken.
        Some(AnonVmaWriteGuard {
            anon_vma,
            vma: vma_ptr,
            _lock: PhantomData,
        })
    }
}

/// The write lock of an anon_vma, which keeps rmap walks away from its pages.
///
/// # Invariants
///
/// The current task holds `anon_vma`'s (root) rwsem for writing until drop, and the anon_vma
/// outlives the guard (`vma`, which refers to it, is pinned by the mmap write lock the guard
/// borrows). `vma` is marked as being written (`vma_start_write()`), so no page fault runs
/// in it; the other VMAs sharing the anon_vma (after a split, say) are not.
pub struct AnonVmaWriteGuard<'a> {
    anon_vma: NonNull<bindings::anon_vma>,
    vma: NonNull<bindings::vm_area_struct>,
    _lock: PhantomData<&'a MmapWriteGuard<'a>>,
}

impl AnonVmaWriteGuard<'_> {
    /// Whether this guard was taken for `vma`: its anon_vma is locked and it is marked as
    /// being written.
    pub(crate) fn locks(&self, vma: &VmaRef) -> bool {
        core::ptr::eq(vma.as_ptr(), self.vma.as_ptr())
    }
}

impl Drop for AnonVmaWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: We hold the lock (type invariant).
        unsafe { bindings::anon_vma_unlock_write(self.anon_vma.as_ptr()) };
    }
}
