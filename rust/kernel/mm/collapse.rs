// SPDX-License-Identifier: GPL-2.0

//! What collapsing small pages into a huge page needs from the mm: the mmap write lock, the
//! anon_vma lock, swap-in of a range, and [`DetachedTable`], a page table taken out of its
//! address space so that its pages can be copied into a new folio and the PMD mapped by it,
//! or else put back exactly as it was.
//!
//! The order of operations is the one `mm/khugepaged.c` established; the types make the
//! steps that C documents in comments (restore the PMD before releasing the pages, no page
//! released before it is unmapped, the new folio filled before it is mapped) follow from
//! ownership.
//!
//! C headers: [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h),
//! [`include/linux/rmap.h`](srctree/include/linux/rmap.h),
//! [`include/linux/mmu_notifier.h`](srctree/include/linux/mmu_notifier.h).

use crate::{
    bindings,
    mm::{
        folio::{Folio, IsolateError, IsolatedFolios, NewFolio},
        pgtable::{ptes_per_table, ptes_to_pmd_end, MmapLocked, Pmd, PmdState, Pte},
        virt::VmaRef,
        Mm, MmWithUser, MmapReadGuard,
    },
    page::PAGE_SIZE,
    types::NotThreadSafe,
};
use core::{marker::PhantomData, ptr::NonNull};

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

    /// Whether an MMU notifier (KVM, say) saw the page at `addr` accessed since it last asked.
    #[inline]
    pub fn notifier_test_young(&self, addr: usize) -> bool {
        // SAFETY: `self` is a valid mm; any address is accepted.
        unsafe { bindings::mmu_notifier_test_young(self.as_raw(), addr) }
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

    /// Marks `vma` as being written ([`MmapWriteGuard::vma_start_write`]: first, as the lock
    /// order wants) and takes the write lock of its anon_vma, if it has one.
    pub fn lock_anon_vma<'b>(&'b self, vma: &'b VmaRef) -> Option<AnonVmaWriteGuard<'b>> {
        if !self.vma_start_write(vma) {
            return None;
        }
        // SAFETY: The VMA is valid under our mmap lock; its anon_vma cannot change while we
        // hold the lock for writing.
        let anon_vma = NonNull::new(unsafe { (*vma.as_ptr()).anon_vma })?;
        // SAFETY: The anon_vma lives as long as the VMA refers to it.
        unsafe { bindings::anon_vma_lock_write(anon_vma.as_ptr()) };
        // INVARIANT: Just taken.
        Some(AnonVmaWriteGuard {
            anon_vma,
            _lock: PhantomData,
        })
    }
}

impl Drop for MmapWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: We hold the lock (type invariant).
        unsafe { bindings::mmap_write_unlock(self.mm.as_raw()) };
    }
}

/// The write lock of an anon_vma, which keeps rmap walks away from its pages.
///
/// # Invariants
///
/// The current task holds `anon_vma`'s (root) rwsem for writing until drop, and the anon_vma
/// outlives the guard (its VMA is pinned by the mmap write lock the guard borrows). That VMA
/// is marked as being written (`vma_start_write()`), so no page fault runs in it.
pub struct AnonVmaWriteGuard<'a> {
    anon_vma: NonNull<bindings::anon_vma>,
    _lock: PhantomData<&'a MmapWriteGuard<'a>>,
}

impl AnonVmaWriteGuard<'_> {
    /// Whether this is the lock of `vma`'s anon_vma.
    fn locks(&self, vma: &VmaRef) -> bool {
        // SAFETY: The VMA is valid (`VmaRef` invariant); its anon_vma cannot change under the
        // mmap write lock the guard borrows.
        core::ptr::eq(unsafe { (*vma.as_ptr()).anon_vma }, self.anon_vma.as_ptr())
    }
}

impl Drop for AnonVmaWriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: We hold the lock (type invariant).
        unsafe { bindings::anon_vma_unlock_write(self.anon_vma.as_ptr()) };
    }
}

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

/// A flag of `mm_struct::flags` (the `MMF_*` bits) that khugepaged uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MmFlag {
    /// The mm is registered with khugepaged.
    VmHugepage = bindings::MMF_VM_HUGEPAGE,
    /// `PR_SET_THP_DISABLE` without exceptions: no THP anywhere in the mm.
    DisableThpCompletely = bindings::MMF_DISABLE_THP_COMPLETELY,
}

impl Mm {
    /// Whether the mm's last user is gone: it is exiting and its page tables are going away.
    pub fn users_gone(&self) -> bool {
        // SAFETY: `self` is a valid mm (it is at least grabbed).
        unsafe { bindings::mm_users(self.as_raw()) == 0 }
    }

    /// Whether `flag` is set.
    pub fn test_flag(&self, flag: MmFlag) -> bool {
        // CAST: The MMF_* bit numbers are small.
        // SAFETY: `self` is valid; the flags are read atomically.
        unsafe { bindings::mm_flags_test(flag as i32, self.as_raw()) }
    }

    /// Sets `flag`, returning whether it was already set (atomically).
    pub fn test_and_set_flag(&self, flag: MmFlag) -> bool {
        // SAFETY: As for `test_flag`.
        unsafe { bindings::mm_flags_test_and_set(flag as i32, self.as_raw()) }
    }

    /// Clears `flag`.
    pub fn clear_flag(&self, flag: MmFlag) {
        // SAFETY: As for `test_flag`.
        unsafe { bindings::mm_flags_clear(flag as i32, self.as_raw()) }
    }
}

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

/// A `/proc/vmstat` event khugepaged counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum VmEvent {
    /// `thp_collapse_alloc`.
    CollapseAlloc = bindings::vm_event_item_THP_COLLAPSE_ALLOC,
    /// `thp_collapse_alloc_failed`.
    CollapseAllocFailed = bindings::vm_event_item_THP_COLLAPSE_ALLOC_FAILED,
    /// `thp_scan_exceed_none_pte`.
    ExceedNonePte = bindings::vm_event_item_THP_SCAN_EXCEED_NONE_PTE,
    /// `thp_scan_exceed_swap_pte`.
    ExceedSwapPte = bindings::vm_event_item_THP_SCAN_EXCEED_SWAP_PTE,
    /// `thp_scan_exceed_share_pte`.
    ExceedSharedPte = bindings::vm_event_item_THP_SCAN_EXCEED_SHARED_PTE,
}

/// A per-size THP statistic (`hugepages-<size>kB/stats/`) khugepaged counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MthpStat {
    /// `collapse_alloc`.
    CollapseAlloc = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_ALLOC,
    /// `collapse_alloc_failed`.
    CollapseAllocFailed = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_ALLOC_FAILED,
    /// `collapse_exceed_none_pte`.
    ExceedNone = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_EXCEED_NONE,
    /// `collapse_exceed_swap_pte`.
    ExceedSwap = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_EXCEED_SWAP,
    /// `collapse_exceed_shared_pte`.
    ExceedShared = bindings::mthp_stat_item_MTHP_STAT_COLLAPSE_EXCEED_SHARED,
}

/// Counts one `event` in `/proc/vmstat`.
pub fn count_vm_event(event: VmEvent) {
    // SAFETY: Per-CPU counter update, allowed in any context.
    unsafe { bindings::count_vm_event(event as u32) }
}

/// Counts one `stat` for THPs of `order`.
pub fn count_mthp_stat(order: u32, stat: MthpStat) {
    // CAST: Orders are tiny.
    // SAFETY: Per-CPU counter update; out-of-range orders are ignored by C.
    unsafe { bindings::count_mthp_stat(order as i32, stat as u32) }
}

/// Counts `n` of `stat` for THPs of `order` at once.
pub fn add_mthp_stat(order: u32, stat: MthpStat, n: u32) {
    let delta = i32::try_from(n).unwrap_or(i32::MAX);
    // CAST: Orders are tiny.
    // SAFETY: Per-CPU counter update; out-of-range orders are ignored by C.
    unsafe { bindings::mod_mthp_stat(order as i32, stat as u32, delta) }
}

/// Counts one `event` in the memory cgroup `folio` is charged to.
pub fn count_memcg_folio_event(folio: &Folio, event: VmEvent) {
    // SAFETY: The folio is alive (`Folio` invariant).
    unsafe { bindings::count_memcg_folio_events(folio.as_raw(), event as u32, 1) }
}

/// Whether `node_reclaim_mode` asks to keep allocations on the local node.
pub fn node_reclaim_enabled() -> bool {
    // SAFETY: Reads a global.
    unsafe { bindings::node_reclaim_enabled() }
}

/// Whether nodes `a` and `b` are further apart than `node_reclaim_distance`.
pub fn node_too_far(a: i32, b: i32) -> bool {
    // SAFETY: Reads the distance table and a global.
    unsafe { bindings::node_too_far(a, b) }
}

/// The number of NUMA node ids (`MAX_NUMNODES`).
pub fn max_numnodes() -> usize {
    // CAST: At most 1024.
    // SAFETY: Evaluates a constant.
    unsafe { bindings::max_numnodes() as usize }
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

/// Why [`DetachedTable::copy_into`] failed. Either way the table is still detached and the
/// caller drops it to put everything back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError {
    /// A machine check (memory poison) hit while reading a source page.
    MachineCheck,
    /// The new folio does not have the table's size, or a mapped page was not isolated first.
    Mismatch,
}

/// A page table unlinked from its PMD for a collapse.
///
/// While it exists, no one can reach the table's PTEs: the PMD entry is empty, the mmap lock
/// is held for writing and the VMA marked as being written (no faults, no munmap), GUP-fast
/// has been synchronised against, and the table holds the anon_vma lock (no rmap walk) for as
/// long as some folio it maps is not isolated. Dropping it puts the table back, releases the
/// isolated folios and the new folio, then the anon_vma lock, in that order;
/// [`DetachedTable::commit`] instead maps the copied folio.
///
/// # Invariants
///
/// `pmd` is the (now empty) PMD entry of `vma` that held `orig`, a page table of `pmd_nr`
/// PTEs, all of whose range `vma` maps; `ptes` points to its `nr` entries from `start`
/// (`1 <= nr`, all in the table) and is mapped (`pte_offset_map`); `ptl`, the table's lock,
/// is held exactly when `locked` is set. `anon` is `vma`'s anon_vma lock; it is `None` only
/// once every page the table maps was isolated and `nr == pmd_nr`. `copied`, if any, is a
/// folio of `nr` pages holding a copy of the range, made after every page of it was
/// isolated. `committed` is set once the range is mapped by the new folio and the old pages
/// released; the PMD entry then is no longer ours.
pub struct DetachedTable<'a> {
    vma: &'a VmaRef,
    mm: &'a MmWithUser,
    pmd: NonNull<bindings::pmd_t>,
    orig: bindings::pmd_t,
    ptes: NonNull<bindings::pte_t>,
    ptl: *mut bindings::spinlock_t,
    locked: bool,
    committed: bool,
    start: usize,
    nr: usize,
    pmd_nr: usize,
    isolated: &'a mut IsolatedFolios,
    copied: Option<NewFolio>,
    anon: Option<AnonVmaWriteGuard<'a>>,
}

impl<'a> DetachedTable<'a> {
    /// Unlinks the page table `pmd` points to, for the `nr` PTEs from `start` to be collapsed
    /// (the notifier range covers just those), and locks it. `anon` is the lock of the VMA's
    /// anon_vma, which the table keeps until it is back or every page it maps is isolated.
    ///
    /// Returns `None`, with nothing changed (`anon` is unlocked), unless `pmd` still points
    /// to a page table, its VMA is anonymous and maps the whole PMD range, `anon` locks its
    /// anon_vma, and the `nr` PTEs from `start` lie in the table.
    pub fn detach(
        guard: &'a MmapWriteGuard<'a>,
        anon: AnonVmaWriteGuard<'a>,
        pmd: Pmd<'a>,
        start: usize,
        nr: usize,
        isolated: &'a mut IsolatedFolios,
    ) -> Option<Self> {
        let mm = guard.mm();
        let vma = pmd.vma();
        let pmd_nr = ptes_per_table();
        let pmd_size = pmd_nr.checked_mul(PAGE_SIZE)?;
        let pmd_addr = pmd.addr();
        let end = start.checked_add(nr.checked_mul(PAGE_SIZE)?)?;
        if !core::ptr::eq(pmd.mm().as_raw(), mm.as_raw())
            || !vma.is_anonymous()
            || !anon.locks(vma)
            || vma.start() > pmd_addr
            || pmd_addr.checked_add(pmd_size)? > vma.end()
            || start & !pmd_size.wrapping_sub(1) != pmd_addr
            || !start.is_multiple_of(PAGE_SIZE)
            || nr == 0
            || nr > ptes_to_pmd_end(start, pmd_nr)
        {
            return None;
        }
        let pmd_entry = NonNull::new(pmd.as_ptr())?;
        let pmdp = pmd_entry.as_ptr();
        // SAFETY: A zeroed range is a valid value for `_init()` to fill in.
        let mut range: bindings::mmu_notifier_range = unsafe { core::mem::zeroed() };
        // SAFETY: We hold the mmap write lock of `mm` and `vma` is marked as being written
        // (`anon`'s invariant), `pmdp` is one of its PMD entries and `vma` maps its whole range: this is the
        // sequence `collapse_huge_page()` uses to take a page table out of the tree, with the
        // entry checked under its lock first. GUP-fast backs off from the changed PMD, and the
        // sync makes sure none is still walking the old table.
        let mut orig = unsafe {
            bindings::mmu_notifier_range_init_clear(&mut range, mm.as_raw(), start, end);
            bindings::mmu_notifier_invalidate_range_start(&mut range);
            let ptl = bindings::pmd_lock(mm.as_raw(), pmdp);
            let orig = if PmdState::of(bindings::pmdp_get(pmdp)) == PmdState::Table {
                Some(bindings::pmdp_collapse_flush(vma.as_ptr(), pmd_addr, pmdp))
            } else {
                None
            };
            bindings::spin_unlock(ptl);
            bindings::mmu_notifier_invalidate_range_end(&mut range);
            if orig.is_some() {
                bindings::tlb_remove_table_sync_one();
            }
            orig?
        };
        let mut ptl = core::ptr::null_mut();
        // SAFETY: `orig` is the page-table entry we just took out; mapping the table it
        // points to through a copy of the entry is what C does.
        let ptes =
            unsafe { bindings::pte_offset_map_lock(mm.as_raw(), &mut orig, start, &mut ptl) };
        let Some(ptes) = NonNull::new(ptes) else {
            // SAFETY: Put the entry we took back; nothing else could have filled it.
            unsafe { restore_pmd(mm, pmdp, orig) };
            return None;
        };
        isolated.release_all();
        // INVARIANT: Detached, mapped and locked just above; the checks above cover the rest.
        Some(Self {
            vma,
            mm,
            pmd: pmd_entry,
            orig,
            ptes,
            ptl,
            locked: true,
            committed: false,
            start,
            nr,
            pmd_nr,
            isolated,
            copied: None,
            anon: Some(anon),
        })
    }

    /// The number of PTEs being collapsed.
    #[inline]
    pub fn len(&self) -> usize {
        self.nr
    }

    /// Whether there is nothing to collapse (never: [`DetachedTable::detach`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.nr == 0
    }

    /// The address PTE `i` maps.
    #[inline]
    pub fn addr(&self, i: usize) -> usize {
        self.start.wrapping_add(i.wrapping_mul(PAGE_SIZE))
    }

    /// Reads PTE `i`.
    #[inline]
    pub fn pte(&self, i: usize) -> Option<Pte> {
        if i >= self.nr {
            return None;
        }
        // SAFETY: `i < nr` entries of the mapped table (type invariant).
        Some(Pte(unsafe {
            bindings::ptep_get(self.ptes.as_ptr().add(i))
        }))
    }

    /// The folio PTE `i` maps, if it maps a normal page. It cannot go away while the table is
    /// detached: the PTE holds a reference and only we can clear it.
    #[inline]
    pub fn folio(&self, i: usize) -> Option<&Folio> {
        let pte = self.pte(i)?;
        if !pte.is_present() {
            return None;
        }
        // SAFETY: `vma` maps the table and `pte` was read from it; a page the detached table
        // maps stays mapped for the borrow of `self` (see above).
        unsafe { crate::mm::pgtable::normal_folio(self.vma, self.addr(i), pte) }
    }

    /// Locks and isolates the folio PTE `i` maps. Returns whether it was newly isolated
    /// (`false` for another PTE of a large folio isolated before).
    pub fn isolate(&mut self, i: usize) -> Result<bool, IsolateError> {
        let folio = match self.folio(i) {
            // SAFETY: As in `folio()`: alive while the table is detached, whatever the borrow.
            Some(f) => unsafe { Folio::from_raw(f.as_raw()) },
            None => return Err(IsolateError::Count),
        };
        self.isolated.isolate(folio, i)
    }

    /// Drops the page-table lock once every folio is isolated; the copy does not need it.
    pub fn unlock(&mut self) {
        if self.locked {
            // SAFETY: Held (type invariant).
            unsafe { bindings::spin_unlock(self.ptl) };
            self.locked = false;
        }
    }

    /// Drops the anon_vma lock early, once it guards nothing: the table is the whole PMD and
    /// every page it maps is isolated, so no rmap walk can miss a mapping (C releases it
    /// before the copy of a PMD-sized collapse). Returns whether it was dropped.
    pub fn release_anon_vma(&mut self) -> bool {
        if self.anon.is_none() {
            return true;
        }
        if self.nr != self.pmd_nr || !self.all_isolated() {
            return false;
        }
        self.anon = None;
        true
    }

    /// Whether every present entry of the range maps an isolated folio.
    fn all_isolated(&self) -> bool {
        (0..self.nr).all(|i| {
            self.pte(i).is_some_and(|pte| {
                pte.is_none_or_zero() || !pte.is_present() || self.isolated.slot_isolated(i)
            })
        })
    }

    /// Copies the detached PTEs' contents into `new`, zero-filling empty and zero-page
    /// entries, and keeps it for [`DetachedTable::commit`]. Every present PTE's folio must have
    /// been isolated, and `new` must have as many pages as the range and not be mapped yet.
    pub fn copy_into(&mut self, new: NewFolio) -> Result<(), (CopyError, NewFolio)> {
        let order_ok = 1usize
            .checked_shl(new.folio().order())
            .is_some_and(|n| n == self.nr);
        if !order_ok || self.copied.is_some() {
            return Err((CopyError::Mismatch, new));
        }
        for i in 0..self.nr {
            let Some(pte) = self.pte(i) else {
                return Err((CopyError::Mismatch, new));
            };
            let addr = self.addr(i);
            // SAFETY: `i` is below the folio's page count (checked above).
            let dst = unsafe { bindings::folio_page(new.as_raw(), i) };
            if pte.is_none_or_zero() {
                // SAFETY: `dst` is a page of our unmapped new folio.
                unsafe { bindings::clear_user_highpage(dst, addr) };
                continue;
            }
            if !pte.is_present() || !self.isolated.slot_isolated(i) {
                return Err((CopyError::Mismatch, new));
            }
            // SAFETY: The source page is mapped by the detached table and its folio is
            // isolated and locked by us; `dst` is ours.
            let failed = unsafe {
                bindings::copy_mc_user_highpage(
                    dst,
                    bindings::pte_page(pte.0),
                    addr,
                    self.vma.as_ptr(),
                )
            };
            if failed > 0 {
                return Err((CopyError::MachineCheck, new));
            }
        }
        self.copied = Some(new);
        Ok(())
    }

    /// Finishes the collapse with the folio [`DetachedTable::copy_into`] filled: unmaps and
    /// releases the old pages, then maps the new folio by the PMD if the range is the whole
    /// table (depositing the table for a later split), or puts the table back and maps the
    /// folio by the range's PTEs, one reference each, as a freshly faulted mTHP (the other
    /// PTEs of the table are untouched). Without a copy, gives the table back unchanged.
    pub fn commit(mut self) -> Result<(), Self> {
        let Some(new) = self.copied.take() else {
            return Err(self);
        };
        self.unlock();
        self.release_old_pages();
        let mm = self.mm.as_raw();
        let folio = new.into_raw();
        if self.nr == self.pmd_nr {
            let pmd_size = self.pmd_nr.wrapping_mul(PAGE_SIZE);
            let pmd_addr = self.start & !pmd_size.wrapping_sub(1);
            // SAFETY: The old pages are unmapped and released, the PMD entry is empty and only
            // we can reach it (mmap write lock); the folio is filled, of PMD order (checked by
            // `copy_into()`) and ours to hand over: its allocation reference becomes the PMD
            // mapping's. The page table is deposited for a later split, as for any anonymous
            // PMD mapping.
            unsafe {
                bindings::__folio_mark_uptodate(folio);
                let ptl = bindings::pmd_lock(mm, self.pmd.as_ptr());
                bindings::pgtable_deposit_from(mm, self.pmd.as_ptr(), self.orig);
                bindings::map_anon_folio_pmd_nopf(
                    folio,
                    self.pmd.as_ptr(),
                    self.vma.as_ptr(),
                    pmd_addr,
                );
                bindings::spin_unlock(ptl);
            }
        } else {
            // The range's old pages are unmapped and released and its PTEs are empty; the rest
            // of the table is as it was. The page table goes back, then the folio is mapped
            // into the range under both locks (nested when they differ), as
            // `collapse_huge_page()` does.
            // SAFETY: The PMD entry is still empty and only we can reach it (mmap write lock,
            // and the anon_vma lock we hold keeps rmap walks of neighbouring folios away); the
            // folio is filled, has `nr` pages (checked by `copy_into()`) and is ours to hand
            // over: its allocation reference becomes the mappings'.
            unsafe {
                bindings::__folio_mark_uptodate(folio);
                let pmd_ptl = bindings::pmd_lock(mm, self.pmd.as_ptr());
                let nested = !core::ptr::eq(pmd_ptl, self.ptl);
                if nested {
                    bindings::spin_lock_nested_single(self.ptl);
                }
                bindings::pmd_populate_from(mm, self.pmd.as_ptr(), self.orig);
                bindings::map_anon_folio_pte_nopf(
                    folio,
                    self.ptes.as_ptr(),
                    self.vma.as_ptr(),
                    self.start,
                    false,
                );
                if nested {
                    bindings::spin_unlock(self.ptl);
                }
                bindings::spin_unlock(pmd_ptl);
            }
        }
        // Dropping `self` now only unmaps the table and then drops the anon_vma lock.
        self.committed = true;
        Ok(())
    }

    /// Clears the detached PTEs, drops their rmap entries and references, and releases the
    /// isolated folios (C's `__collapse_huge_page_copy_succeeded()`).
    fn release_old_pages(&mut self) {
        let mm = self.mm.as_raw();
        let mut i = 0;
        while i < self.nr {
            let Some(pte) = self.pte(i) else { break };
            let addr = self.addr(i);
            // SAFETY: `i < nr`, within the mapped table.
            let ptep = unsafe { self.ptes.as_ptr().add(i) };
            if pte.is_none_or_zero() {
                // The new folio's page replaces an empty entry: one more anonymous page.
                // SAFETY: `mm` is valid.
                unsafe { bindings::add_mm_counter(mm, bindings::MM_ANONPAGES as i32, 1) };
                if !pte.is_none() {
                    // SAFETY: A zero-page entry of our detached table; the lock keeps the
                    // per-CPU page-table-check accounting consistent, as in C.
                    unsafe {
                        bindings::spin_lock(self.ptl);
                        bindings::ptep_clear(mm, addr, ptep);
                        bindings::spin_unlock(self.ptl);
                        bindings::ksm_might_unmap_zero_page(mm, pte.0);
                    }
                }
                i += 1;
                continue;
            }
            // SAFETY: A present entry (copy_into checked) of our table.
            let page = unsafe { bindings::pte_page(pte.0) };
            // SAFETY: `page` is mapped by the entry.
            let folio = unsafe { bindings::page_folio(page) };
            let left = self.nr - i;
            // SAFETY: The folio is isolated and locked by us.
            let nr_ptes = if unsafe { bindings::folio_test_large(folio) } {
                // CAST: At most `pmd_nr`, far below `u32::MAX`.
                // SAFETY: `ptep` and the `left` entries after it lie in our mapped table, and
                // `pte` is the value of the first.
                let n = unsafe { bindings::folio_pte_batch(folio, ptep, pte.0, left as u32) };
                (n as usize).clamp(1, left)
            } else {
                1
            };
            // SAFETY: Unmap `nr_ptes` entries mapping consecutive pages of `folio` and drop
            // their rmap and references. The isolation reference keeps the folio alive until
            // it is released below. The lock disables preemption for the per-CPU stats the
            // rmap update touches.
            unsafe {
                bindings::spin_lock(self.ptl);
                // CAST: As above.
                bindings::clear_ptes(mm, addr, ptep, nr_ptes as u32);
                bindings::folio_remove_rmap_ptes(folio, page, nr_ptes as i32, self.vma.as_ptr());
                bindings::spin_unlock(self.ptl);
                bindings::folio_put_refs(folio, nr_ptes as i32);
            }
            i += nr_ptes;
        }
        self.isolated.drain(|folio| {
            // SAFETY: Each folio is locked and isolated by us; now unmapped, it goes back to
            // the LRU, where dropping the isolation reference frees it.
            unsafe {
                let nr = 1isize
                    .checked_shl(bindings::folio_order(folio))
                    .unwrap_or(0);
                bindings::node_stat_mod_folio_isolated(folio, -nr);
                bindings::folio_unlock(folio);
                bindings::free_swap_cache(folio);
                bindings::folio_putback_lru(folio);
            }
        });
    }
}

impl Drop for DetachedTable<'_> {
    fn drop(&mut self) {
        self.unlock();
        if !self.committed {
            // SAFETY: The PMD entry is still empty and only we can reach it; the PTEs are
            // untouched. The entry goes back before the pages are released, so that no rmap
            // walk finds a mapped page whose PMD is missing.
            unsafe { restore_pmd(self.mm, self.pmd.as_ptr(), self.orig) };
        }
        // SAFETY: Mapped by `detach()` (type invariant), unmapped only here.
        unsafe { bindings::pte_unmap(self.ptes.as_ptr()) };
        self.isolated.release_all();
        // Then the fields: the new folio, if any, is freed, and the anon_vma lock, if still
        // held, is dropped last.
    }
}

/// Puts the page table `orig` pointed to back into the PMD entry `pmd`.
///
/// # Safety
///
/// `pmd` is an empty PMD entry of `mm`, which the caller took `orig` out of and which no one
/// else can have filled (the caller holds the mmap write lock).
unsafe fn restore_pmd(mm: &MmWithUser, pmd: *mut bindings::pmd_t, orig: bindings::pmd_t) {
    // SAFETY: By the function's requirements.
    unsafe {
        let ptl = bindings::pmd_lock(mm.as_raw(), pmd);
        bindings::pmd_populate_from(mm.as_raw(), pmd, orig);
        bindings::spin_unlock(ptl);
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

/// The `huge_memory` tracepoints of a khugepaged scan and collapse, with 7.3's fields.
/// Results are passed by their `enum scan_result` number, which the trace prints by name.
pub mod trace {
    use crate::{
        bindings,
        mm::{folio::Folio, Mm},
    };

    /// `mm_khugepaged_collapse_hint`: a collapse hint served, the aging passes it was seen
    /// young in, the result of its scan and whether the range gained a new folio.
    #[cfg(CONFIG_KHUGEPAGED_RS)]
    pub fn collapse_hint(
        mm: usize,
        addr: usize,
        prio: u8,
        source: u8,
        passes: u8,
        status: i32,
        collapsed: bool,
    ) {
        // The mm is printed, never dereferenced: the hint may outlive it.
        let mm = core::ptr::without_provenance_mut::<bindings::mm_struct>(mm);
        // SAFETY: The tracepoint records the values only.
        unsafe {
            bindings::khugepaged_rs_trace_hint(
                mm,
                addr,
                prio.into(),
                source.into(),
                passes.into(),
                status,
                collapsed.into(),
            )
        }
    }

    /// `mm_khugepaged_scan_pmd`: the scan of one PMD range; `pfn` is the page that stopped it.
    pub fn scan_pmd(
        mm: &Mm,
        pfn: Option<usize>,
        referenced: u32,
        none_or_zero: u32,
        status: i32,
        unmapped: u32,
    ) {
        // CAST: Counts are bounded by the PTEs in a PMD; C's trace takes them as `int`.
        // SAFETY: `mm` is valid; the tracepoint only records the values.
        unsafe {
            bindings::trace_mm_khugepaged_scan_pmd(
                mm.as_raw(),
                pfn.unwrap_or(usize::MAX),
                referenced as i32,
                none_or_zero as i32,
                status,
                unmapped as i32,
            )
        }
    }

    /// `mm_collapse_huge_page`: the end of one collapse attempt.
    pub fn collapse_huge_page(mm: &Mm, isolated: bool, status: i32, order: u32) {
        // SAFETY: As for `scan_pmd`.
        unsafe {
            bindings::trace_mm_collapse_huge_page(mm.as_raw(), isolated.into(), status, order)
        }
    }

    /// `mm_collapse_huge_page_isolate`: the isolation step; `folio` is the last one looked at.
    pub fn collapse_huge_page_isolate(
        folio: Option<&Folio>,
        none_or_zero: u32,
        referenced: u32,
        status: i32,
        order: u32,
    ) {
        let folio = folio.map_or(core::ptr::null_mut(), Folio::as_raw);
        // CAST: As for `scan_pmd`.
        // SAFETY: `folio` is NULL or alive (borrowed); the tracepoint reads its PFN only.
        unsafe {
            bindings::trace_mm_collapse_huge_page_isolate(
                folio,
                none_or_zero as i32,
                referenced as i32,
                status,
                order,
            )
        }
    }

    /// `mm_collapse_huge_page_swapin`: the swap-in step.
    pub fn collapse_huge_page_swapin(
        mm: &Mm,
        swapped_in: u32,
        referenced: u32,
        status: i32,
        order: u32,
    ) {
        // CAST: As for `scan_pmd`.
        // SAFETY: As for `scan_pmd`.
        unsafe {
            bindings::trace_mm_collapse_huge_page_swapin(
                mm.as_raw(),
                swapped_in as i32,
                referenced as i32,
                status,
                order,
            )
        }
    }

    /// `mm_khugepaged_scan`: the end of one visit of an mm's slot.
    pub fn scan(mm: &Mm, progress: u32, full_scan_finished: bool) {
        // SAFETY: As for `scan_pmd`.
        unsafe { bindings::trace_mm_khugepaged_scan(mm.as_raw(), progress, full_scan_finished) }
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
