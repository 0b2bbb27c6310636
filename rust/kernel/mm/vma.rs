// SPDX-License-Identifier: GPL-2.0

//! What khugepaged asks of a VMA beyond [`VmaRef`]'s own accessors.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/userfaultfd_k.h`](srctree/include/linux/userfaultfd_k.h),
//! [`include/linux/huge_mm.h`](srctree/include/linux/huge_mm.h).

use crate::{bindings, fs::File, mm::virt::VmaRef};

impl VmaRef {
    /// Whether the VMA is anonymous memory (no `vm_ops`).
    #[inline]
    pub fn is_anonymous(&self) -> bool {
        // SAFETY: The VMA is valid (`VmaRef` invariant).
        unsafe { bindings::vma_is_anonymous(self.as_ptr()) }
    }

    /// Whether the VMA has an anon_vma, i.e. has had anonymous pages.
    #[inline]
    pub fn has_anon_vma(&self) -> bool {
        // SAFETY: The VMA is valid (`VmaRef` invariant).
        unsafe { !(*self.as_ptr()).anon_vma.is_null() }
    }

    /// Whether the VMA's pages may be dropped under memory pressure (`VM_DROPPABLE`).
    #[inline]
    pub fn is_droppable(&self) -> bool {
        // SAFETY: The VMA is valid (`VmaRef` invariant).
        unsafe { bindings::vma_is_droppable(self.as_ptr()) }
    }

    /// Whether userfaultfd tracks missing pages or write protection in the VMA.
    #[inline]
    pub fn userfaultfd_armed(&self) -> bool {
        // SAFETY: The VMA is valid (`VmaRef` invariant).
        unsafe { bindings::userfaultfd_armed(self.as_ptr()) }
    }

    /// Whether the naturally aligned range of `order` around `addr` fits in the VMA and is
    /// aligned the same way in the file, if any (C's `thp_vma_suitable_order()`).
    pub fn thp_suitable_order(&self, addr: usize, order: u32) -> bool {
        // CAST: Orders are tiny.
        // SAFETY: The VMA is valid (`VmaRef` invariant).
        unsafe { bindings::thp_vma_suitable_order(self.as_ptr(), addr, order as i32) }
    }

    /// The file the VMA maps, if any; the VMA holds a reference on it.
    #[inline]
    pub fn file(&self) -> Option<&File> {
        // SAFETY: The VMA is valid (`VmaRef` invariant).
        let file = unsafe { bindings::vma_file(self.as_ptr()) };
        if file.is_null() {
            return None;
        }
        // SAFETY: `vm_file` is a live file the VMA holds a reference on for its whole life,
        // which outlasts the borrow of the VMA.
        Some(unsafe { File::from_raw_file(file) })
    }

    /// The index in the VMA's file (or its anonymous offset) of the page at `addr` (C's
    /// `linear_page_index()`).
    #[inline]
    pub fn linear_page_index(&self, addr: usize) -> usize {
        // SAFETY: The VMA is valid (`VmaRef` invariant); this is arithmetic on its fields.
        unsafe { bindings::linear_page_index(self.as_ptr(), addr) }
    }

    /// Whether userfaultfd write-protects the VMA's pages, or tracks them with markers a PMD
    /// could not carry (C's `userfaultfd_protected()`).
    #[inline]
    pub fn userfaultfd_protected(&self) -> bool {
        // SAFETY: The VMA is valid (`VmaRef` invariant).
        unsafe { bindings::userfaultfd_protected(self.as_ptr()) }
    }
}
