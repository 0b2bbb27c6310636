// SPDX-License-Identifier: GPL-2.0

//! Swap-in of a range as page faults would do it, and the LRU batches that hold pages just
//! swapped in.
//!
//! C headers: [`include/linux/swap.h`](srctree/include/linux/swap.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h).

use crate::{
    bindings,
    mm::{
        pgtable::{ptes_per_table, ptes_to_pmd_end, MmapLocked, Pte},
        virt::VmaRef,
        MmapReadGuard,
    },
    page::PAGE_SIZE,
};

/// Drains this CPU's LRU batches, so that recently added folios are on the LRU lists.
pub fn lru_add_drain() {
    // SAFETY: Always allowed in process context.
    unsafe { bindings::lru_add_drain() }
}

/// Drains every CPU's LRU batches (may sleep).
pub fn lru_add_drain_all() {
    // SAFETY: Always allowed in sleepable process context.
    unsafe { bindings::lru_add_drain_all() }
}

/// Why swapping in a range stopped. In every case the mmap lock has been released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapinError {
    /// The PMD no longer maps a page table, or the VMA is gone.
    NoTable,
    /// The fault handler dropped the mmap lock to wait (for the folio lock, most likely).
    Retry,
    /// The fault failed (out of memory, a poisoned page).
    Fault,
    /// A swap entry was found and the caller asked not to swap in.
    FoundSwap,
}

const VM_FAULT_ERROR: u32 = bindings::vm_fault_reason_VM_FAULT_OOM
    | bindings::vm_fault_reason_VM_FAULT_SIGBUS
    | bindings::vm_fault_reason_VM_FAULT_SIGSEGV
    | bindings::vm_fault_reason_VM_FAULT_HWPOISON
    | bindings::vm_fault_reason_VM_FAULT_HWPOISON_LARGE
    | bindings::vm_fault_reason_VM_FAULT_FALLBACK;

/// Brings every swapped-out page of the `nr` PTEs from `start` back in, as page faults would,
/// in the anonymous VMA at `start` (C's `__collapse_huge_page_swapin()`). With `allow` false,
/// stops at the first swap entry instead. The range must lie in the VMA and in one page
/// table ([`SwapinError::NoTable`] otherwise).
///
/// On success the mmap read lock is still held and the count of pages swapped in comes back
/// with it; on failure the lock has been released.
pub fn swap_in<'a>(
    guard: MmapReadGuard<'a>,
    start: usize,
    nr: usize,
    allow: bool,
) -> Result<(MmapReadGuard<'a>, u32), (SwapinError, u32)> {
    let mm = guard.mm().as_raw();
    let in_vma = |vma: &VmaRef| {
        let end = nr
            .checked_mul(PAGE_SIZE)
            .and_then(|len| start.checked_add(len));
        end.is_some_and(|end| end <= vma.end())
    };
    let vma = match guard.vma_lookup(start) {
        Some(vma)
            if vma.is_anonymous()
                && in_vma(vma)
                && start.is_multiple_of(PAGE_SIZE)
                && nr <= ptes_to_pmd_end(start, ptes_per_table()) =>
        {
            vma.as_ptr()
        }
        _ => return Err((SwapinError::NoTable, 0)),
    };
    // SAFETY: We hold the mmap lock.
    let pmd = unsafe { bindings::mm_find_pmd(mm, start) };
    if pmd.is_null() {
        return Err((SwapinError::NoTable, 0));
    }
    let mut pte: *mut bindings::pte_t = core::ptr::null_mut();
    let mut ptl: *mut bindings::spinlock_t = core::ptr::null_mut();
    let mut swapped_in = 0u32;
    for i in 0..nr {
        let addr = start.wrapping_add(i.wrapping_mul(PAGE_SIZE));
        if pte.is_null() {
            // SAFETY: `pmd` is a PMD entry of `mm`, whose mmap lock we hold.
            pte = unsafe { bindings::pte_offset_map_ro_nolock(mm, pmd, addr, &mut ptl) };
            if pte.is_null() {
                return Err((SwapinError::NoTable, swapped_in));
            }
        } else {
            // SAFETY: `addr` lies in the same page table as the previous entry (the range
            // does not cross a PMD), which is still mapped.
            pte = unsafe { pte.add(1) };
        }
        // SAFETY: `pte` is mapped.
        let orig = Pte(unsafe { bindings::ptep_get_lockless(pte) });
        if orig.is_none() || orig.is_present() {
            continue;
        }
        if !allow {
            // SAFETY: Mapped above.
            unsafe { bindings::pte_unmap(pte) };
            return Err((SwapinError::FoundSwap, swapped_in));
        }
        // SAFETY: A zeroed `vm_fault` is a valid value (pointers NULL, flags 0).
        let mut vmf: bindings::vm_fault = unsafe { core::mem::zeroed() };
        vmf.__bindgen_anon_1.vma = vma;
        vmf.__bindgen_anon_1.address = addr;
        // SAFETY: `vma` is valid under the mmap lock.
        vmf.__bindgen_anon_1.pgoff = unsafe { bindings::linear_page_index(vma, addr) };
        vmf.flags = bindings::fault_flag_FAULT_FLAG_ALLOW_RETRY;
        vmf.pmd = pmd;
        vmf.__bindgen_anon_2.orig_pte = orig.0;
        vmf.pte = pte;
        vmf.ptl = ptl;
        // SAFETY: `vmf` describes a swap PTE of an anonymous VMA under the mmap read lock, as
        // the fault path would; `do_swap_page()` unmaps `pte` whatever happens.
        let ret = unsafe { bindings::do_swap_page(&mut vmf) };
        pte = core::ptr::null_mut();
        if ret & bindings::vm_fault_reason_VM_FAULT_RETRY != 0 {
            // The fault handler released the mmap lock (`release_fault_lock()`).
            core::mem::forget(guard);
            return Err((SwapinError::Retry, swapped_in));
        }
        if ret & VM_FAULT_ERROR != 0 {
            return Err((SwapinError::Fault, swapped_in));
        }
        swapped_in = swapped_in.saturating_add(1);
    }
    if !pte.is_null() {
        // SAFETY: Mapped by the loop and not handed to the fault handler.
        unsafe { bindings::pte_unmap(pte) };
    }
    if swapped_in > 0 {
        // The pages swapped in sit in this CPU's LRU batch with an extra reference.
        lru_add_drain();
    }
    Ok((guard, swapped_in))
}
