// SPDX-License-Identifier: GPL-2.0

//! What khugepaged asks of a VMA beyond [`VmaRef`]'s own accessors.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/userfaultfd_k.h`](srctree/include/linux/userfaultfd_k.h),
//! [`include/linux/huge_mm.h`](srctree/include/linux/huge_mm.h).

use crate::{bindings, mm::virt::VmaRef};

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
}
