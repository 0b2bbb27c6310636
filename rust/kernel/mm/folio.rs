// SPDX-License-Identifier: GPL-2.0

//! Folios: borrowed views of folios mapped in user page tables, freshly allocated folios
//! owned by their allocator, and sets of folios isolated from the LRU.
//!
//! C headers: [`include/linux/mm.h`](srctree/include/linux/mm.h),
//! [`include/linux/page-flags.h`](srctree/include/linux/page-flags.h).

use crate::{
    alloc::{Flags, KVVec, KVec},
    bindings,
    error::{code::ENOMEM, Result},
    mm::{
        nodemask::{self, NodeMask},
        MmWithUser,
    },
    types::Opaque,
};
use core::ptr::NonNull;

/// A folio that the caller knows to be alive for the borrow (for instance because a locked
/// page table maps it).
///
/// # Invariants
///
/// A `&Folio` points to a live `struct folio` for its lifetime.
#[repr(transparent)]
pub struct Folio(Opaque<bindings::folio>);

impl Folio {
    /// # Safety
    ///
    /// `ptr` is a valid folio that stays alive for `'a`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::folio) -> &'a Folio {
        // SAFETY: `Folio` is a transparent wrapper of `struct folio`; the caller guarantees
        // validity for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    #[inline]
    pub(crate) fn as_raw(&self) -> *mut bindings::folio {
        self.0.get()
    }

    /// Whether the folio is anonymous memory.
    #[inline]
    pub fn is_anon(&self) -> bool {
        // SAFETY: The folio is alive (type invariant); reading its flags is always allowed.
        unsafe { bindings::folio_test_anon(self.as_raw()) }
    }

    /// Whether the folio is lazily freeable (`MADV_FREE`d anonymous memory, still clean).
    #[inline]
    pub fn is_lazyfree(&self) -> bool {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_test_lazyfree(self.as_raw()) }
    }

    /// Whether any page of the folio may be mapped by more than one process.
    #[inline]
    pub fn maybe_mapped_shared(&self) -> bool {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_maybe_mapped_shared(self.as_raw()) }
    }

    /// Whether the folio is on an LRU list.
    #[inline]
    pub fn is_lru(&self) -> bool {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_test_lru(self.as_raw()) }
    }

    /// Whether the folio is locked (by anyone).
    #[inline]
    pub fn is_locked(&self) -> bool {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_test_locked(self.as_raw()) }
    }

    /// Whether the folio or one of its PTEs was recently used, per the folio's own flags
    /// (`PG_young` from idle tracking, `PG_referenced`).
    #[inline]
    pub fn is_young_or_referenced(&self) -> bool {
        // SAFETY: As for `is_anon`.
        unsafe {
            bindings::folio_test_young(self.as_raw())
                || bindings::folio_test_referenced(self.as_raw())
        }
    }

    /// Whether the folio holds more than one page.
    #[inline]
    pub fn is_large(&self) -> bool {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_test_large(self.as_raw()) }
    }

    /// The folio's order (0 for a single page).
    #[inline]
    pub fn order(&self) -> u32 {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_order(self.as_raw()) }
    }

    /// The NUMA node the folio lives on.
    #[inline]
    pub fn nid(&self) -> i32 {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_nid(self.as_raw()) }
    }

    /// The folio's first page frame number.
    #[inline]
    pub fn pfn(&self) -> usize {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_pfn(self.as_raw()) }
    }

    /// Whether someone holds a reference the folio's mappings and caches do not explain, a
    /// GUP pin for instance (`folio_expected_ref_count() != folio_ref_count()`).
    #[inline]
    pub fn has_extra_refs(&self) -> bool {
        // SAFETY: As for `is_anon`.
        unsafe { bindings::folio_has_extra_refs(self.as_raw()) }
    }

    /// Whether the same folio as `other`.
    #[inline]
    pub fn same(&self, other: &Folio) -> bool {
        core::ptr::eq(self.as_raw(), other.as_raw())
    }
}

/// A folio just allocated for the caller, which holds its only reference and may charge it to
/// a memory cgroup and fill it before mapping it.
///
/// # Invariants
///
/// `folio` is a valid folio whose allocation reference this value owns; no one else maps it.
pub struct NewFolio {
    folio: NonNull<bindings::folio>,
}

// SAFETY: The folio is owned exclusively; it can be released from any task.
unsafe impl Send for NewFolio {}

impl NewFolio {
    /// Allocates a folio of `order` with `gfp` on one of the nodes in `nodes`, preferring node
    /// `nid` (C's `__folio_alloc()`, counted by memory-allocation profiling). As in C, the page
    /// allocator drops a mask that shares no node with the task's cpuset (an empty one too,
    /// once cpusets are in use) for the cpuset's nodes; otherwise an empty mask fails. A `nid`
    /// that is not a possible node (`NUMA_NO_NODE`, say) prefers the local node, as
    /// `alloc_pages_node()` does.
    pub fn alloc(gfp: bindings::gfp_t, order: u32, nid: i32, nodes: &NodeMask) -> Option<NewFolio> {
        let nid = if nodemask::node_possible(nid) {
            nid
        } else {
            nodemask::numa_mem_id()
        };
        // SAFETY: Every possible node has a `pg_data_t` and zonelists for the allocator to
        // start from, and `numa_mem_id()` is one. The allocator only reads the mask, which
        // outlives the call; any flags and order are accepted (an order beyond
        // `MAX_PAGE_ORDER` fails).
        let folio = unsafe { bindings::__folio_alloc(gfp, order, nid, nodes.as_ptr()) };
        Some(NewFolio {
            folio: NonNull::new(folio)?,
        })
    }

    /// Charges the folio to `mm`'s memory cgroup (C's `mem_cgroup_charge()`).
    pub fn charge(&self, mm: &MmWithUser, gfp: bindings::gfp_t) -> Result {
        // SAFETY: The folio is ours and not yet charged or mapped; `mm` is valid.
        let ret = unsafe { bindings::mem_cgroup_charge(self.as_raw(), mm.as_raw(), gfp) };
        if ret == 0 {
            Ok(())
        } else {
            Err(ENOMEM)
        }
    }

    /// Sets up the folio's deferred-split list in its memory cgroup, which a THP needs before
    /// it is mapped (C's `folio_memcg_alloc_deferred()`).
    pub fn alloc_deferred(&self) -> Result {
        // SAFETY: The folio is ours and charged.
        if unsafe { bindings::folio_memcg_alloc_deferred(self.as_raw()) } == 0 {
            Ok(())
        } else {
            Err(ENOMEM)
        }
    }

    /// The folio, borrowed.
    pub fn folio(&self) -> &Folio {
        // SAFETY: We own a reference (type invariant).
        unsafe { Folio::from_raw(self.as_raw()) }
    }

    pub(crate) fn as_raw(&self) -> *mut bindings::folio {
        self.folio.as_ptr()
    }

    /// Gives up ownership: the caller has handed the reference to the page tables.
    pub(crate) fn into_raw(self) -> *mut bindings::folio {
        let ptr = self.as_raw();
        core::mem::forget(self);
        ptr
    }
}

impl Drop for NewFolio {
    fn drop(&mut self) {
        // SAFETY: We own the allocation reference (type invariant) and nothing maps the folio.
        unsafe { bindings::folio_put(self.as_raw()) };
    }
}

/// Why a folio could not be isolated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolateError {
    /// Someone else holds the folio lock.
    Lock,
    /// The folio has references its mappings do not explain (a GUP pin, say).
    Count,
    /// The folio is not on an LRU list (reclaim or migration has it).
    Lru,
}

/// The folios a collapse has locked and taken off the LRU, with the page-table slots whose
/// folio is among them. Preallocated once for a page table of `capacity` PTEs, so that
/// isolating under a page-table lock never allocates; the folio array may fall back to
/// vmalloc (a pointer per PTE is 64 KiB with 64K pages, an order-4 kmalloc).
///
/// # Invariants
///
/// Every pointer in `folios` is a distinct folio that the current task has locked and
/// isolated from the LRU (`folio_isolate_lru()`, which holds a reference), and whose
/// `NR_ISOLATED_*` count was raised by its size. `slots` has one bit per PTE of the largest
/// table (`capacity`), set for PTEs whose folio is in `folios`.
pub struct IsolatedFolios {
    folios: KVVec<NonNull<bindings::folio>>,
    slots: KVec<u64>,
    capacity: usize,
}

// SAFETY: The folios are only referred to by pointer and released by whoever owns the set.
unsafe impl Send for IsolatedFolios {}

impl IsolatedFolios {
    /// Allocates a set for page tables of up to `capacity` PTEs.
    pub fn new(capacity: usize, flags: Flags) -> Result<Self> {
        let words = capacity.div_ceil(64);
        let mut slots = KVec::with_capacity(words, flags)?;
        for _ in 0..words {
            slots.push(0, flags)?;
        }
        Ok(Self {
            folios: KVVec::with_capacity(capacity, flags)?,
            slots,
            capacity,
        })
    }

    /// Whether PTE `i` of the table being collapsed maps an isolated folio.
    pub fn slot_isolated(&self, i: usize) -> bool {
        self.slots
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn mark_slot(&mut self, i: usize) {
        if let Some(w) = self.slots.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    /// Locks and isolates `folio`, which PTE `i` maps, unless it already is in the set (a
    /// large folio mapped by several PTEs). Returns whether it was newly added.
    ///
    /// `folio` must be mapped by a page table the caller has taken out of the mm or locked,
    /// so that it cannot be freed meanwhile; the borrow ensures it is alive.
    pub(crate) fn isolate(&mut self, folio: &Folio, i: usize) -> Result<bool, IsolateError> {
        if i >= self.capacity {
            return Err(IsolateError::Count);
        }
        if folio.is_large() && self.folios.iter().any(|f| f.as_ptr() == folio.as_raw()) {
            self.mark_slot(i);
            return Ok(false);
        }
        // SAFETY: The folio is alive (borrow); trylock is allowed in atomic context.
        if !unsafe { bindings::folio_trylock(folio.as_raw()) } {
            return Err(IsolateError::Lock);
        }
        if folio.has_extra_refs() {
            // SAFETY: We locked it just above.
            unsafe { bindings::folio_unlock(folio.as_raw()) };
            return Err(IsolateError::Count);
        }
        // SAFETY: The folio is alive and locked by us; isolation takes its own reference.
        if !unsafe { bindings::folio_isolate_lru(folio.as_raw()) } {
            // SAFETY: We locked it above.
            unsafe { bindings::folio_unlock(folio.as_raw()) };
            return Err(IsolateError::Lru);
        }
        // SAFETY: Isolated above; the count is lowered again when it is released.
        unsafe {
            bindings::node_stat_mod_folio_isolated(folio.as_raw(), folio_nr_pages(folio.order()));
        }
        // The capacity covers one folio per PTE, so this never allocates.
        if self
            .folios
            .push_within_capacity(NonNull::from(&folio.0).cast())
            .is_err()
        {
            // SAFETY: Isolated and locked just above; undo it all.
            unsafe { release_isolated(folio.as_raw()) };
            return Err(IsolateError::Count);
        }
        self.mark_slot(i);
        Ok(true)
    }

    /// Puts every folio back on the LRU and unlocks it, emptying the set.
    pub(crate) fn release_all(&mut self) {
        while let Some(f) = self.folios.pop() {
            // SAFETY: Every member is locked and isolated by us (type invariant).
            unsafe { release_isolated(f.as_ptr()) };
        }
        self.slots.iter_mut().for_each(|w| *w = 0);
    }

    /// Drains the set, handing each folio to `f` (still locked and isolated), and clears the
    /// slot bits.
    pub(crate) fn drain(&mut self, mut f: impl FnMut(*mut bindings::folio)) {
        while let Some(folio) = self.folios.pop() {
            f(folio.as_ptr());
        }
        self.slots.iter_mut().for_each(|w| *w = 0);
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.folios.is_empty()
    }
}

impl Drop for IsolatedFolios {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Undoes an isolation: lowers the isolated count, unlocks and puts the folio back on the LRU.
///
/// # Safety
///
/// `folio` is locked and isolated by the caller, who gives up both.
pub(crate) unsafe fn release_isolated(folio: *mut bindings::folio) {
    // SAFETY: The caller owns the lock and the isolation reference; `folio_putback_lru()`
    // drops that reference.
    unsafe {
        let nr = folio_nr_pages(bindings::folio_order(folio));
        bindings::node_stat_mod_folio_isolated(folio, -nr);
        bindings::folio_unlock(folio);
        bindings::folio_putback_lru(folio);
    }
}

/// The number of pages in a folio of `order`, for counters.
fn folio_nr_pages(order: u32) -> isize {
    1isize.checked_shl(order).unwrap_or(0)
}
