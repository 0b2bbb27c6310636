// SPDX-License-Identifier: GPL-2.0

//! Transparent huge page settings.
//!
//! Read-only views of the THP policy that `mm/huge_memory.c` and `mm/shmem.c` own: the global
//! and per-size `enabled` modes and the `transparent_hugepage_flags` bits. The values can change
//! at any time through sysfs, so every read is a single `READ_ONCE`-style load and callers must
//! tolerate a stale answer, as C's callers do.
//!
//! C headers: [`include/linux/huge_mm.h`](srctree/include/linux/huge_mm.h),
//! [`include/linux/shmem_fs.h`](srctree/include/linux/shmem_fs.h).

use crate::bindings;

/// Returns whether THP is enabled globally (`enabled` is `always` or `madvise`).
pub fn global_enabled() -> bool {
    // SAFETY: The helper only reads `transparent_hugepage_flags`.
    unsafe { bindings::hugepage_global_enabled() }
}

/// Returns whether shmem may allocate PMD-sized huge pages.
pub fn shmem_pmd_enabled() -> bool {
    // SAFETY: The helper only reads shmem's huge page settings.
    unsafe { bindings::shmem_hpage_pmd_enabled() }
}

/// Per-size anonymous THP settings: bit `order` is set when that size is in the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnonOrders {
    /// Sizes whose `enabled` is `always`.
    pub always: usize,
    /// Sizes whose `enabled` is `madvise`.
    pub madvise: usize,
    /// Sizes whose `enabled` is `inherit` (they follow the global mode).
    pub inherit: usize,
}

/// Returns the current per-size anonymous THP modes.
pub fn anon_orders() -> AnonOrders {
    // SAFETY: These are plain `unsigned long` globals that `mm/huge_memory.c` updates with
    // atomic bit operations; a volatile load observes a value that was current at some point.
    unsafe {
        AnonOrders {
            always: core::ptr::read_volatile(&raw const bindings::huge_anon_orders_always),
            madvise: core::ptr::read_volatile(&raw const bindings::huge_anon_orders_madvise),
            inherit: core::ptr::read_volatile(&raw const bindings::huge_anon_orders_inherit),
        }
    }
}

/// `madvise(MADV_HUGEPAGE)`: allow THP in a range.
// CAST: Small positive uapi constants.
pub const MADV_HUGEPAGE: i32 = bindings::MADV_HUGEPAGE as i32;
/// `madvise(MADV_NOHUGEPAGE)`: forbid THP in a range.
pub const MADV_NOHUGEPAGE: i32 = bindings::MADV_NOHUGEPAGE as i32;

/// Returns `HPAGE_PMD_ORDER`: the order of a PMD-sized page.
///
/// This is a runtime value on some architectures (powerpc picks it at boot from the MMU in
/// use), so it must never be treated as a compile-time constant.
pub fn pmd_order() -> u32 {
    // SAFETY: The helper only evaluates `HPAGE_PMD_ORDER`.
    unsafe { bindings::hpage_pmd_order() }
}

/// Returns `HPAGE_PMD_NR`: the number of base pages (PTEs) a PMD maps.
pub fn pmd_nr() -> u32 {
    // `HPAGE_PMD_ORDER` is far below 32 on every architecture; saturate rather than panic.
    1u32.checked_shl(pmd_order()).unwrap_or(u32::MAX)
}

/// A bit of `transparent_hugepage_flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Flag {
    /// `khugepaged/defrag`: khugepaged may direct-compact when allocating huge pages.
    DefragKhugepaged =
        bindings::transparent_hugepage_flag_TRANSPARENT_HUGEPAGE_DEFRAG_KHUGEPAGED_FLAG,
}

/// Returns whether `flag` is set in `transparent_hugepage_flags`.
pub fn flag(flag: Flag) -> bool {
    // SAFETY: A valid global that is only changed with atomic bit operations; a volatile load
    // observes a value it held at some point.
    let flags =
        unsafe { core::ptr::read_volatile(&raw const bindings::transparent_hugepage_flags) };
    flags & (1 << flag as u32) != 0
}

/// Sets or clears `flag` in `transparent_hugepage_flags`.
pub fn set_flag(flag: Flag, value: bool) {
    let addr = &raw mut bindings::transparent_hugepage_flags;
    // SAFETY: `set_bit` and `clear_bit` are atomic read-modify-writes of a valid global, the
    // same operations `mm/huge_memory.c` uses on it.
    unsafe {
        if value {
            bindings::set_bit(flag as usize, addr);
        } else {
            bindings::clear_bit(flag as usize, addr);
        }
    }
}

/// Why a caller asks which THP sizes a VMA may use (C's `enum tva_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum TvaType {
    /// Reporting `THPeligible` in smaps.
    Smaps = bindings::tva_type_TVA_SMAPS,
    /// Serving a page fault.
    PageFault = bindings::tva_type_TVA_PAGEFAULT,
    /// A khugepaged collapse.
    Khugepaged = bindings::tva_type_TVA_KHUGEPAGED,
    /// A forced collapse (`MADV_COLLAPSE`), which ignores the sysfs `enabled` modes.
    ForcedCollapse = bindings::tva_type_TVA_FORCED_COLLAPSE,
}

/// Returns the subset of `orders` (bit `n` = order `n`) that `vma` may use as THPs, judged
/// with `vm_flags` in place of the VMA's own flags (`thp_vma_allowable_orders()`).
pub fn vma_allowable_orders(
    vma: &crate::mm::virt::VmaRef,
    vm_flags: crate::mm::virt::vm_flags_t,
    tva: TvaType,
    orders: usize,
) -> usize {
    // SAFETY: `VmaRef` guarantees the VMA is valid and its mmap or VMA lock is held, which is
    // what `thp_vma_allowable_orders()` needs.
    unsafe { bindings::thp_vma_allowable_orders(vma.as_ptr(), vm_flags, tva as u32, orders) }
}

/// A VMA that an rmap walk met, as MGLRU's look-around does under its folio's rmap lock
/// and page-table lock, or that a page-table walk holds under the mmap read lock. Either
/// keeps the `vm_area_struct` and its `mm_struct` allocated, but not the VMA's flags
/// still (`mprotect()` changes them under the mmap write lock alone), nor the mm's users:
/// its process may be exiting. So each field is read once, as `READ_ONCE()` would, and
/// the mm is only an [`Mm`](crate::mm::Mm).
///
/// # Invariants
///
/// The VMA is valid, and one of the locks above is held, for the lifetime of the reference.
#[repr(transparent)]
pub struct RmapVma(crate::types::Opaque<bindings::vm_area_struct>);

impl RmapVma {
    /// Views `vma` for the lifetime `'a`.
    ///
    /// # Safety
    ///
    /// `vma` is valid, and for all of `'a` the caller holds its mm's mmap or VMA lock, or
    /// the rmap lock (the anon_vma's or the mapping's) through which it found the VMA.
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: By the caller's promise; `RmapVma` is a transparent wrapper.
        unsafe { &*vma.cast() }
    }

    fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.0.get()
    }

    /// The VMA's flags, as one load: they may change at any time under this view.
    #[inline]
    pub fn flags(&self) -> crate::mm::virt::vm_flags_t {
        // SAFETY: The VMA is valid (type invariant); a volatile load of an aligned word
        // reads some value the field held, as `READ_ONCE()` does.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_ptr()).__bindgen_anon_2.vm_flags) }
    }

    /// Whether the VMA is anonymous (C: `vma_is_anonymous()`, no `vm_ops`).
    #[inline]
    pub fn is_anonymous(&self) -> bool {
        // SAFETY: As in `flags()`.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_ptr()).vm_ops).is_null() }
    }

    /// The VMA's mm, which stays allocated as long as the VMA does; it may have no users
    /// left.
    #[inline]
    pub fn mm(&self) -> &crate::mm::Mm {
        // SAFETY: `vm_mm` is set when the VMA is created and never changes; the mm outlives
        // its VMAs, so it is valid for the lifetime of `&self`.
        unsafe { crate::mm::Mm::from_raw((*self.as_ptr()).vm_mm) }
    }

    /// The subset of `orders` this VMA may use as THPs, judged with `vm_flags` in place of
    /// its own flags (`thp_vma_allowable_orders()`): a hint, since the VMA may change
    /// under this view.
    pub fn allowable_orders(
        &self,
        vm_flags: crate::mm::virt::vm_flags_t,
        tva: TvaType,
        orders: usize,
    ) -> usize {
        // SAFETY: The VMA is valid (type invariant). `thp_vma_allowable_orders()` reads its
        // fields and its mm's flags, each of which some lock above keeps from being freed;
        // a field changing meanwhile only makes the answer stale, which callers accept.
        unsafe { bindings::thp_vma_allowable_orders(self.as_ptr(), vm_flags, tva as u32, orders) }
    }
}

/// Turns the collapse-hint feeders in `mm/vmscan.c` on or off (a static key: a few
/// microseconds of code patching, so not for hot paths). May sleep.
#[cfg(CONFIG_KHUGEPAGED_RS)]
pub fn hints_key_set(on: bool) {
    // SAFETY: `khugepaged_rs_hints_key_set()` toggles a static key defined in
    // mm/khugepaged_rs/glue.c; it may sleep, which the caller allows (process context).
    unsafe { bindings::khugepaged_rs_hints_key_set(on) }
}
