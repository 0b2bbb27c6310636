// SPDX-License-Identifier: GPL-2.0

//! Where one plan of the order selector stands (see [`order`](super::order)): a pass per
//! enabled order, largest first, over one region. A pass of order `k` reads 64 starts a
//! word from its packed map (from order 6, 64 words of blocks at a time from order 6's
//! map) and returns them with `trailing_zeros`; a retry reads the same maps.

use super::{
    order_lanes::{bit_range, idx, narrow, narrow_u64, pow2, WORD_ORDER},
    order_maps::{PlanScratch, MAP_AT, WALK_WORDS},
    order_rules::{Range, Selector, MIN_ORDER},
};

/// Where one plan stands: one pass per enabled order that may find a range, largest first,
/// over one region, a map word at a time. 24 bytes: PTE offsets are below 8192 and orders
/// at most 13.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Walk {
    /// The starts still to return from the current map word: bit `i` for PTE
    /// `at + (i << shift)`.
    pub(super) starts: u64,
    /// The first PTE of the current map word.
    pub(super) at: u16,
    /// The region planned: `base..base + 2^top`, naturally aligned.
    pub(super) base: u16,
    /// The pass's next map word, and the one past its last.
    pub(super) next: u16,
    pub(super) end: u16,
    pub(super) top: u8,
    /// The order of the current pass, below `top`; for a plan of the PMD order alone, that
    /// order, over a `top` of [`MIN_ORDER`] that leaves no pass after it.
    pub(super) order: u8,
    /// `min(order, 6)`: the order of the map the pass reads.
    pub(super) shift: u8,
    /// The next larger enabled order below `top`, or 0.
    pub(super) parent: u8,
    /// Below order 6, where the pass's map of starts begins in the [`PlanScratch`].
    pub(super) map: u8,
}

impl Walk {
    /// The walk as words, for the [`PlanScratch`] to keep while a retry interrupts it.
    pub(super) fn save(&self) -> [u64; WALK_WORDS] {
        let words = [self.at, self.base, self.next, self.end];
        let bytes = [self.top, self.order, self.shift, self.parent, self.map];
        let (mut a, mut b) = (0u64, 0u64);
        for (i, w) in (0u32..).zip(words) {
            a |= u64::from(w).wrapping_shl(16u32.wrapping_mul(i));
        }
        for (i, x) in (0u32..).zip(bytes) {
            b |= u64::from(x).wrapping_shl(8u32.wrapping_mul(i));
        }
        [self.starts, a, b]
    }

    /// A walk [`Walk::save`] saved.
    pub(super) fn load([starts, a, b]: [u64; WALK_WORDS]) -> Self {
        let word = |i: u32| narrow_u64(a.wrapping_shr(16u32.wrapping_mul(i)) & 0xffff, u16::MAX);
        let byte = |i: u32| narrow_u64(b.wrapping_shr(8u32.wrapping_mul(i)) & 0xff, u8::MAX);
        Walk {
            starts,
            at: word(0),
            base: word(1),
            next: word(2),
            end: word(3),
            top: byte(0),
            order: byte(1),
            shift: byte(2),
            parent: byte(3),
            map: byte(4),
        }
    }

    /// Plans `range` with the enabled orders below its own.
    pub(super) fn below(sel: &Selector<'_>, range: Range) -> Self {
        let mut walk = Walk {
            base: narrow(range.offset, u16::MAX),
            top: narrow(range.order, 0),
            order: narrow(range.order, 0),
            ..Walk::default()
        };
        walk.next_order(sel);
        walk
    }

    /// Plans the whole PMD: the PMD order alone if it qualifies, the smaller orders if not.
    pub(super) fn pmd(sel: &Selector<'_>) -> Self {
        if sel.pmd_qualifies {
            // Its one range, then no pass: none is below a `top` of `MIN_ORDER`.
            return Walk {
                starts: 1,
                top: narrow(MIN_ORDER, 0),
                order: narrow(sel.pmd_order, 0),
                ..Walk::default()
            };
        }
        Walk::below(sel, sel.whole())
    }

    /// Starts the pass of the next smaller enabled order that may find a range; false
    /// (with no word left to read) if there is none.
    pub(super) fn next_order(&mut self, sel: &Selector<'_>) -> bool {
        let (top, order) = (u32::from(self.top), u32::from(self.order));
        // Orders are at most 13: the shifts fit.
        let below = sel.busy & 1u64.wrapping_shl(order).wrapping_sub(1);
        if below == 0 || order > top {
            self.end = self.next;
            return false;
        }
        let order = 63 ^ below.leading_zeros();
        // The lowest enabled order above it and below `top`, if any.
        let above = sel.sub_orders & 2u64.wrapping_shl(order).wrapping_sub(1) ^ sel.sub_orders;
        let parent = above.trailing_zeros();
        let parent = if parent < top { parent } else { 0 };
        let shift = order.min(WORD_ORDER);
        // Below order 6: the qualifying blocks with no parent, else those it leaves.
        let map = MAP_AT[idx(order.wrapping_sub(MIN_ORDER)).min(4)];
        let map = if parent == 0 {
            map
        } else {
            map.wrapping_add(MAP_AT[5])
        };
        let base = u32::from(self.base);
        let end = base.wrapping_add(pow2(top));
        self.order = narrow(order, 0);
        self.parent = narrow(parent, 0);
        self.shift = narrow(shift, 0);
        self.map = narrow(map, 0);
        self.next = narrow(base >> shift >> 6, 0);
        self.end = narrow((end >> shift).div_ceil(64), 0);
        true
    }

    /// The next range of the plan.
    #[inline]
    pub(super) fn advance(&mut self, sel: &Selector<'_>, maps: &PlanScratch) -> Option<Range> {
        if self.starts == 0 && !self.next_batch(sel, maps) {
            return None;
        }
        let bit = self.starts.trailing_zeros();
        self.starts &= self.starts.wrapping_sub(1);
        Some(Range {
            offset: u32::from(self.at).wrapping_add(bit.wrapping_shl(self.shift.into())),
            order: self.order.into(),
        })
    }

    /// Fills `starts` with the next map word that has a range, starting smaller orders as
    /// passes end; false once the plan is done. Each loop iteration takes a word or an
    /// order. Inline: out of line, its call per map word cost more than its loop.
    #[inline]
    fn next_batch(&mut self, sel: &Selector<'_>, maps: &PlanScratch) -> bool {
        loop {
            let wi = u32::from(self.next);
            if wi >= u32::from(self.end) {
                if !self.next_order(sel) {
                    return false;
                }
                continue;
            }
            let (k, shift) = (u32::from(self.order), u32::from(self.shift));
            // A block inside a qualifying block of the next larger enabled order is covered
            // by that block or by a larger one: whichever range covers the larger block is
            // planned instead (see `Planner`'s proof).
            let starts = if k < WORD_ORDER {
                let at = idx(u32::from(self.map).wrapping_add(wi));
                maps.get(at).copied().unwrap_or(0)
            } else {
                sel.word_starts(maps, k, wi, self.parent.into())
            };
            self.next = narrow(wi.wrapping_add(1), u16::MAX);
            // The region's bits of the map word: all, or `2^(top - shift)` of one.
            let n = u32::from(self.top).wrapping_sub(shift);
            self.starts = if n < WORD_ORDER {
                let lo = u32::from(self.base) >> shift & 63;
                starts & bit_range(lo, lo.wrapping_add(pow2(n)))
            } else {
                starts
            };
            if self.starts != 0 {
                self.at = narrow((wi << 6).wrapping_shl(shift), u16::MAX);
                return true;
            }
        }
    }
}
