// SPDX-License-Identifier: GPL-2.0

//! The ranges below the PMD order that 7.3's walk would try and its collapse refuse for a
//! swapped-out or shared PTE (see [`order`](super::order)): the plan never holds them, so
//! [`blocked`] counts them for the per-size stats.

use super::{
    order_lanes::{bit_range, idx, narrow, pow2, Lanes, WordSet, WORD_ORDER},
    order_rules::{PlanError, PmdScan, Selector, MAX_PMD_ORDER},
};

/// The ranges below the PMD order that 7.3's walk would try and its collapse refuse, per
/// order (see [`blocked`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocked {
    swap: [u16; SUB_ORDERS],
    shared: [u16; SUB_ORDERS],
}

/// Orders below the largest PMD order: 0 to [`MAX_PMD_ORDER`] - 1.
// CAST: 13 fits any `usize`.
const SUB_ORDERS: usize = MAX_PMD_ORDER as usize;

impl Blocked {
    /// Ranges of `order` refused for a swapped-out PTE.
    pub fn swap(&self, order: u32) -> u32 {
        self.swap.get(idx(order)).copied().unwrap_or(0).into()
    }

    /// Ranges of `order` refused for a shared PTE (and no swapped-out one).
    pub fn shared(&self, order: u32) -> u32 {
        self.shared.get(idx(order)).copied().unwrap_or(0).into()
    }

    /// Counts the lanes (blocks of order `k`) that pass the present-PTE rule
    /// (`present_ok`, by their last bit) and have a bit of `swap`, or else one of `shared`.
    fn add(&mut self, k: u32, lanes: Lanes, present_ok: u64, swap: u64, shared: u64) {
        let swapped = present_ok & lanes.any(swap);
        let shared = present_ok & !swapped & lanes.any(shared);
        for (counts, n) in [(&mut self.swap, swapped), (&mut self.shared, shared)] {
            if let Some(c) = counts.get_mut(idx(k)) {
                *c = c.saturating_add(narrow(n.count_ones(), u16::MAX));
            }
        }
    }
}

/// Counts the ranges below the PMD order that 7.3's walk over the whole PMD would try and
/// refuse for a swapped-out or shared PTE: for each enabled order, the aligned ranges that
/// pass the order's present-PTE rule (one present PTE with the scaled limit, every PTE
/// present otherwise) and hold a swapped-out PTE, or else a shared one.
///
/// Every range holding such a PTE fails, so 7.3's walk reaches all of them once it goes
/// below the PMD order: none lies in a range that collapses.
pub fn blocked(scan: &PmdScan<'_>) -> Result<Blocked, PlanError> {
    let sel = Selector::new(scan)?;
    let mut out = Blocked::default();
    if sel.clean {
        return Ok(out);
    }
    let valid = bit_range(0, pow2(sel.pmd_order).min(64));
    let present_ok = |lanes: Lanes, p: u64, full: u64| {
        if sel.scaled {
            lanes.any(p)
        } else {
            lanes.all(full)
        }
    };
    // Orders below a word, in the words with a swapped-out or shared PTE; for the larger
    // ones, per word: a present PTE, every PTE present, a swapped-out PTE, a shared one.
    let small = sel.sub_orders & bit_range(0, WORD_ORDER);
    let mut sets = [WordSet::default(); 4];
    let words = sel.present.iter().zip(sel.swap).zip(sel.shared);
    for (w, ((&p, &s), &h)) in (0u32..).zip(words) {
        let (p, s, h) = (p & valid, s & valid, h & valid);
        for (set, on) in sets.iter_mut().zip([p != 0, p == u64::MAX, s != 0, h != 0]) {
            if let Some(x) = set.0.get_mut(idx(w >> WORD_ORDER)) {
                *x |= u64::from(on).wrapping_shl(w & 63);
            }
        }
        let mut orders = if s | h != 0 { small } else { 0 };
        while orders != 0 {
            let k = orders.trailing_zeros();
            orders &= orders.wrapping_sub(1);
            let lanes = Lanes::of(k);
            out.add(k, lanes, present_ok(lanes, p, p), s, h);
        }
    }
    // Orders of a word or more, on those summaries: lanes of `2^(k - 6)` words.
    let [any_p, all_p, any_s, any_h] = sets;
    let mut orders = sel.sub_orders & !bit_range(0, WORD_ORDER);
    while orders != 0 {
        let k = orders.trailing_zeros();
        orders &= orders.wrapping_sub(1);
        let lanes = Lanes::of(k.saturating_sub(WORD_ORDER));
        for g in 0..2 {
            let ok = present_ok(lanes, any_p.group(g), all_p.group(g));
            out.add(k, lanes, ok, any_s.group(g), any_h.group(g));
        }
    }
    Ok(out)
}
