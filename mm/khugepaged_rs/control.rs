// SPDX-License-Identifier: GPL-2.0

//! What one scan-and-collapse run carries (C: `struct collapse_control`), the PMD geometry,
//! the `max_ptes_*` limits per order and the collapse counters: what the scan, the anonymous
//! collapse and its mTHP plans share.

use crate::{
    policy::{knobs::Knob, order::PLAN_SCRATCH_WORDS},
    settings,
};
use kernel::{
    alloc::KVec,
    mm::{
        folio::IsolatedFolios,
        nodemask::{self, NodeMask},
        thp,
        vmstat::{count_mthp_stat, count_vm_event, MthpStat, VmEvent},
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// The size of a PMD mapping on this machine (a run-time value on powerpc).
#[derive(Clone, Copy)]
pub(crate) struct Geometry {
    /// `HPAGE_PMD_ORDER`.
    pub(crate) order: u32,
    /// `HPAGE_PMD_NR`: PTEs per page table.
    pub(crate) nr: usize,
    /// `HPAGE_PMD_SIZE`.
    pub(crate) size: usize,
}

impl Geometry {
    pub(crate) fn get() -> Self {
        let order = thp::pmd_order();
        let nr = 1usize.checked_shl(order).unwrap_or(0);
        Self {
            order,
            nr,
            size: nr.saturating_mul(PAGE_SIZE),
        }
    }

    /// Rounds `addr` down to a PMD boundary.
    pub(crate) fn align_down(&self, addr: usize) -> usize {
        addr & !self.size.wrapping_sub(1)
    }

    /// Whether the whole PMD range at `addr` (PMD-aligned) lies in `start..end`.
    pub(crate) fn holds(&self, start: usize, end: usize, addr: usize) -> bool {
        addr >= self.align_up(start)
            && addr
                .checked_add(self.size)
                .is_some_and(|e| e <= self.align_down(end))
    }

    /// Rounds `addr` up to a PMD boundary (saturating at the top of the address space).
    pub(crate) fn align_up(&self, addr: usize) -> usize {
        match addr.checked_add(self.size.wrapping_sub(1)) {
            Some(a) => self.align_down(a),
            None => self.align_down(usize::MAX),
        }
    }
}

/// The state of one scan-and-collapse run: khugepaged keeps one for its life, each
/// `MADV_COLLAPSE` call makes its own (C: `struct collapse_control`).
pub(crate) struct CollapseControl {
    /// khugepaged applies the `max_ptes_*` limits and the referenced checks; `MADV_COLLAPSE`
    /// does not.
    pub(crate) is_khugepaged: bool,
    /// PTEs, PMDs and VMAs looked at, against `pages_to_scan`.
    pub(crate) progress: u32,
    /// The range comes from an access-bit hint: MGLRU found this many PTEs young there and
    /// cleared the bits the referenced checks would look at, so they count as referenced.
    /// 0 otherwise.
    pub(crate) hint_young: u32,
    /// Pages seen per NUMA node in the current range, to pick the node for the new folio.
    node_load: KVec<u32>,
    /// Preallocated room for the folios a collapse isolates.
    pub(crate) isolated: IsolatedFolios,
    /// Per PTE of the range scanned last: occupied (not none, not the zero page), swapped
    /// out, mapping a shared page. The order selector plans mTHP collapses from them.
    pub(crate) present: KVec<u64>,
    pub(crate) swap: KVec<u64>,
    pub(crate) shared: KVec<u64>,
    /// Room for the order selector's packed maps and retries, lent to each plan so that
    /// the planner stays small on the stack across the collapses it drives.
    pub(crate) plan_scratch: KVec<u64>,
    pub(crate) geo: Geometry,
}

impl CollapseControl {
    pub(crate) fn new(is_khugepaged: bool) -> Result<Self> {
        let geo = Geometry::get();
        Ok(Self {
            is_khugepaged,
            progress: 0,
            hint_young: 0,
            node_load: KVec::from_elem(0u32, nodemask::MAX_NUMNODES, GFP_KERNEL)?,
            isolated: IsolatedFolios::new(geo.nr, GFP_KERNEL)?,
            present: KVec::from_elem(0u64, geo.nr.div_ceil(64), GFP_KERNEL)?,
            swap: KVec::from_elem(0u64, geo.nr.div_ceil(64), GFP_KERNEL)?,
            shared: KVec::from_elem(0u64, geo.nr.div_ceil(64), GFP_KERNEL)?,
            plan_scratch: KVec::from_elem(0u64, PLAN_SCRATCH_WORDS, GFP_KERNEL)?,
            geo,
        })
    }

    pub(crate) fn geometry(&self) -> Geometry {
        self.geo
    }

    /// Charges `n` PTEs (or one PMD or VMA) to the progress against `pages_to_scan`.
    pub(crate) fn tick(&mut self, n: usize) {
        self.progress = self
            .progress
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Forgets what the last scanned range left: node loads and bitmaps.
    pub(crate) fn clear_scan_state(&mut self) {
        self.node_load.iter_mut().for_each(|n| *n = 0);
        for map in [&mut self.present, &mut self.swap, &mut self.shared] {
            map.iter_mut().for_each(|w| *w = 0);
        }
    }

    /// Marks PTE `i` of the scanned range as swapped out.
    pub(crate) fn mark_swap(&mut self, i: usize) {
        set_bits(&mut self.swap, i, 1);
    }

    /// Marks PTEs `i..i + n` of the scanned range as present, and as shared if `shared`.
    pub(crate) fn mark_present(&mut self, i: usize, n: usize, shared: bool) {
        set_bits(&mut self.present, i, n);
        if shared {
            set_bits(&mut self.shared, i, n);
        }
    }

    /// Counts `n` pages of the scanned range on node `nid`.
    pub(crate) fn add_node_load(&mut self, nid: usize, n: usize) {
        if let Some(load) = self.node_load.get_mut(nid) {
            *load = load.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }

    /// With `node_reclaim_mode` on, gives up on a range whose pages lie on nodes too far
    /// apart for one local huge page (C: `collapse_scan_abort()`).
    pub(crate) fn scan_abort(&self, nid: usize) -> bool {
        if !nodemask::node_reclaim_enabled() {
            return false;
        }
        if self.node_load.get(nid).is_some_and(|&n| n != 0) {
            return false;
        }
        self.node_load.iter().enumerate().any(|(other, &load)| {
            // CAST: Node ids are below `MAX_NUMNODES`.
            load != 0 && nodemask::node_too_far(nid as i32, other as i32)
        })
    }

    /// Where the new folio may go: the first node with the most pages of the range, preferred,
    /// and every online node with as many (C: `collapse_find_target_node()`). As in 7.3, the
    /// collapse fails rather than fall back to a node holding fewer of the pages.
    pub(crate) fn target_nodes(&self) -> (i32, NodeMask) {
        let max = self.node_load.iter().copied().max().unwrap_or(0);
        let mut first = None;
        let mut nodes = NodeMask::new();
        for (nid, &load) in self.node_load.iter().enumerate() {
            if load != max {
                continue;
            }
            // CAST: Node ids are below `MAX_NUMNODES`.
            let nid = nid as i32;
            first.get_or_insert(nid);
            if nodemask::node_online(nid) {
                nodes.set(nid);
            }
        }
        (first.unwrap_or(0), nodes)
    }
}

/// Sets bits `start..start + n` of a bitmap, a word at a time.
fn set_bits(map: &mut [u64], start: usize, n: usize) {
    let mut i = start;
    let end = start.saturating_add(n);
    while i < end {
        let bit = i % 64;
        let len = (end - i).min(64 - bit);
        let mask = if len == 64 {
            u64::MAX
        } else {
            ((1u64 << len) - 1) << bit
        };
        if let Some(w) = map.get_mut(i / 64) {
            *w |= mask;
        }
        i += len;
    }
}

/// Set once the unsupported-`max_ptes_none` warning was printed.
static NONE_WARNED: Atomic<u32> = Atomic::new(0);

/// Warns, once, that mTHP collapse treats `max_ptes_none` other than 0 or `HPAGE_PMD_NR - 1`
/// as 0 (7.3's message).
pub(crate) fn warn_max_ptes_none(geo: Geometry) {
    if NONE_WARNED.xchg(1, Relaxed) == 0 {
        pr_warn!(
            "mTHP collapse does not support max_ptes_none values other than 0 or {}, defaulting to 0.\n",
            geo.nr.saturating_sub(1)
        );
    }
}

/// The `max_ptes_none` limit for a collapse to `order` (C: `collapse_max_ptes_none()`):
/// below the PMD order only 0 and `HPAGE_PMD_NR - 1` (scaled to the order) are supported.
pub(crate) fn max_ptes_none(
    is_khugepaged: bool,
    uffd_armed: bool,
    geo: Geometry,
    order: u32,
) -> u32 {
    if uffd_armed {
        return 0;
    }
    if !is_khugepaged {
        return u32::MAX;
    }
    let value = settings::get(Knob::MaxPtesNone);
    if order == geo.order {
        return value;
    }
    let limit = u32::try_from(geo.nr.saturating_sub(1)).unwrap_or(u32::MAX);
    if value == limit {
        return 1u32.checked_shl(order).unwrap_or(0).saturating_sub(1);
    }
    if value != 0 {
        warn_max_ptes_none(geo);
    }
    0
}

/// The `max_ptes_shared` limit for a collapse to `order` (C: `collapse_max_ptes_shared()`):
/// none below the PMD order, as collapsing shared pages to an mTHP could make a later scan
/// creep.
pub(crate) fn max_ptes_shared(is_khugepaged: bool, geo: Geometry, order: u32) -> u32 {
    if !is_khugepaged {
        u32::MAX
    } else if order == geo.order {
        settings::get(Knob::MaxPtesShared)
    } else {
        0
    }
}

/// The `max_ptes_swap` limit at the PMD order (C: `collapse_max_ptes_swap()`); below it,
/// pages are never swapped in.
pub(crate) fn max_ptes_swap(is_khugepaged: bool) -> u32 {
    if !is_khugepaged {
        u32::MAX
    } else {
        settings::get(Knob::MaxPtesSwap)
    }
}

/// Counts a PMD-order scan event both in `/proc/vmstat` and in the PMD size's stats.
pub(crate) fn count_pmd_event(geo: Geometry, event: VmEvent, stat: MthpStat) {
    count_collapse_event(geo, geo.order, event, stat);
}

/// Counts a collapse event of `order`: in `/proc/vmstat` for the PMD order only, in the
/// size's own stats always (C: `count_collapse_event()`).
pub(crate) fn count_collapse_event(geo: Geometry, order: u32, event: VmEvent, stat: MthpStat) {
    if order == geo.order {
        count_vm_event(event);
    }
    count_mthp_stat(order, stat);
}
