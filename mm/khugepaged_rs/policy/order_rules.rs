// SPDX-License-Identifier: GPL-2.0

//! The order selector's input and output (see [`order`](super::order)), and the scan as a
//! plan sees it: the bitmaps checked, and the rules' inputs derived once, among them
//! whether the PMD order qualifies. One pass over the bitmaps tells whether any PTE is
//! present, all are, any is swapped out or shared; PTEs are counted only where a rule
//! needs the number.

use super::order_lanes::{bit_range, idx, pow2};

/// The largest PMD order: 8192 PTEs per PMD (`MAX_PTRS_PER_PTE`, arm64 with 64K pages).
pub const MAX_PMD_ORDER: u32 = 13;

/// The smallest mTHP order khugepaged collapses to (`KHUGEPAGED_MIN_MTHP_ORDER`).
pub const MIN_ORDER: u32 = 2;

/// The highest enabled order in `orders` below `below`, if it is at least [`MIN_ORDER`].
pub(super) fn order_below(orders: u64, below: u32) -> Option<u32> {
    let m = orders & bit_range(0, below.min(64));
    let k = 63u32.saturating_sub(m.leading_zeros());
    (m != 0 && k >= MIN_ORDER).then_some(k)
}

/// What a scan of one PMD's page table found, and the limits that apply.
#[derive(Clone, Copy, Debug)]
pub struct PmdScan<'a> {
    /// One bit per PTE, bit `i % 64` of word `i / 64`: present and not the zero page.
    pub present: &'a [u64],
    /// One bit per PTE: swapped out (not present).
    pub swap: &'a [u64],
    /// One bit per PTE: present, with a folio maybe mapped by another process.
    pub shared: &'a [u64],
    /// `HPAGE_PMD_ORDER`: 5, 8, 9, 11 or 13 on the architectures we target.
    pub pmd_order: u32,
    /// The orders allowed for this VMA: bit `k` for order `k`.
    pub enabled_orders: u64,
    /// `max_ptes_none`: none or zero-page PTEs a PMD-order collapse may fill.
    pub max_ptes_none: u32,
    /// `max_ptes_swap`: swapped-out PTEs a PMD-order collapse may swap in.
    pub max_ptes_swap: u32,
    /// `max_ptes_shared`: shared PTEs a PMD-order collapse may copy.
    pub max_ptes_shared: u32,
}

/// Why a plan could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// `pmd_order` is below [`MIN_ORDER`] or above [`MAX_PMD_ORDER`].
    PmdOrder,
    /// A bitmap has fewer words than the PMD has PTEs.
    BitmapTooShort,
    /// The range to re-plan is not a naturally aligned range inside the PMD.
    BadRange,
}

/// A naturally aligned range of PTEs in the PMD, to collapse into one folio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    /// The first PTE: a multiple of `1 << order`.
    pub offset: u32,
    /// The folio order.
    pub order: u32,
}

impl Range {
    /// The PTEs in the range, `1 << order`.
    pub fn nr_ptes(self) -> u32 {
        pow2(self.order)
    }

    /// The PTE just past the range.
    pub fn end(self) -> u32 {
        self.offset.saturating_add(self.nr_ptes())
    }
}

/// The PMD's PTEs by kind, as the plan counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PteCounts {
    /// Present PTEs (shared ones included).
    pub present: u32,
    /// Swapped-out PTEs.
    pub swap: u32,
    /// Shared PTEs.
    pub shared: u32,
}

/// The plan's view of the scan: the bitmaps, checked, and what is derived from them once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Selector<'a> {
    pub(super) present: &'a [u64],
    pub(super) swap: &'a [u64],
    pub(super) shared: &'a [u64],
    pub(super) pmd_order: u32,
    /// The base order of the maps ([`Selector::base_order`]).
    pub(super) base: u32,
    /// Enabled orders below the PMD order, at least [`MIN_ORDER`].
    pub(super) sub_orders: u64,
    /// Below the PMD order one present PTE suffices (`max_ptes_none == HPAGE_PMD_NR - 1`);
    /// otherwise every PTE must be present.
    pub(super) scaled: bool,
    /// `max_ptes_none` is neither 0 nor `HPAGE_PMD_NR - 1` and an order below PMD is enabled.
    pub(super) none_unsupported: bool,
    /// Some PTE is present.
    pub(super) occupied: bool,
    /// No PTE is swapped out or shared: the passes need not read those bitmaps.
    pub(super) clean: bool,
    /// The PMD order is enabled and qualifies.
    pub(super) pmd_qualifies: bool,
    /// The packed maps are filled in.
    pub(super) packed: bool,
    /// Swapped-out and shared PTEs, counted when there are any.
    pub(super) swap_count: u32,
    pub(super) shared_count: u32,
    /// The orders of `sub_orders` with a qualifying block somewhere, once `packed`.
    pub(super) busy: u64,
    /// Orders with a start somewhere: a qualifying block in no qualifying block of the
    /// next larger enabled order. All until a retry looks ([`Selector::find_open`]).
    pub(super) open: u64,
}

/// Set bits of `map` within `valid`. At most 8192: no sum overflows.
fn count(map: &[u64], valid: u64) -> u32 {
    map.iter()
        .fold(0, |n, &x| n.wrapping_add((x & valid).count_ones()))
}

impl<'a> Selector<'a> {
    pub(super) fn new(scan: &PmdScan<'a>) -> Result<Self, PlanError> {
        let pmd_order = scan.pmd_order;
        if !(MIN_ORDER..=MAX_PMD_ORDER).contains(&pmd_order) {
            return Err(PlanError::PmdOrder);
        }
        let nr = pow2(pmd_order);
        let words = idx(nr.div_ceil(64));
        if scan.present.len() < words || scan.swap.len() < words || scan.shared.len() < words {
            return Err(PlanError::BitmapTooShort);
        }
        let (present, swap, shared) = (
            scan.present.get(..words).unwrap_or(&[]),
            scan.swap.get(..words).unwrap_or(&[]),
            scan.shared.get(..words).unwrap_or(&[]),
        );
        let limit = nr.saturating_sub(1);
        // Only the low `nr` bits count when the PMD is smaller than a word. One pass tells
        // whether any PTE is present, all are, and any is swapped out or shared: the rules
        // need no count but for those, which are rare, or an unusual `max_ptes_none`.
        let valid = bit_range(0, nr.min(64));
        let (mut any, mut all, mut bad) = (0, u64::MAX, 0);
        for ((&p, &s), &h) in present.iter().zip(swap).zip(shared) {
            any |= p;
            all &= p;
            bad |= s | h;
        }
        let (occupied, full, clean) =
            (any & valid != 0, all | !valid == u64::MAX, bad & valid == 0);
        let (swap_count, shared_count) = if clean {
            (0, 0)
        } else {
            (count(swap, valid), count(shared, valid))
        };
        let sub_orders = scan.enabled_orders & bit_range(MIN_ORDER, pmd_order);
        let pmd_enabled =
            scan.enabled_orders & bit_range(pmd_order, pmd_order.saturating_add(1)) != 0;
        // `present + swap >= HPAGE_PMD_NR - max_ptes_none`, counting `present` only if
        // neither bound is trivial.
        let need = nr
            .saturating_sub(scan.max_ptes_none)
            .saturating_sub(swap_count);
        let pmd_qualifies = pmd_enabled
            && swap_count <= scan.max_ptes_swap
            && shared_count <= scan.max_ptes_shared
            && match need {
                0 => true,
                1 => occupied,
                n if n == nr => full,
                n => count(present, valid) >= n,
            };
        Ok(Selector {
            present,
            swap,
            shared,
            pmd_order,
            base: Selector::base_order(pmd_order),
            sub_orders,
            scaled: scan.max_ptes_none == limit,
            none_unsupported: sub_orders != 0
                && scan.max_ptes_none != 0
                && scan.max_ptes_none != limit,
            occupied,
            clean,
            pmd_qualifies,
            packed: false,
            swap_count,
            shared_count,
            busy: 0,
            open: u64::MAX,
        })
    }

    /// The PMD's PTEs by kind.
    pub(super) fn counts(&self) -> PteCounts {
        PteCounts {
            present: count(self.present, self.valid()),
            swap: self.swap_count,
            shared: self.shared_count,
        }
    }

    /// The bits of a bitmap word that are PTEs of the PMD: all, unless it has 32 PTEs.
    pub(super) fn valid(&self) -> u64 {
        bit_range(0, pow2(self.pmd_order).min(64))
    }

    /// The whole PMD, as a range.
    pub(super) fn whole(&self) -> Range {
        Range {
            offset: 0,
            order: self.pmd_order,
        }
    }
}
