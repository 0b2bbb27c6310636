// SPDX-License-Identifier: GPL-2.0

//! Where one plan of the order selector stands (see [`order`](super::order)): a pass per
//! enabled order, largest first, over one region. A pass reads the starts of its order
//! from the maps a word at a time (see [`order_maps`](super::order_maps)) and returns
//! them with `trailing_zeros`; a retry reads the same maps.
//!
//! A range costs a few word operations on the current map word ([`Word::range`]); the
//! walk's other state is read only when a word runs out ([`Walk::refill`]), once per map
//! word with a start, and when a pass ends.

use core::num::NonZeroU64;

use super::{
    order_lanes::{bit_range, idx, narrow, narrow_u64, pow2, WORD_ORDER},
    order_maps::{PlanScratch, WALK_WORDS},
    order_rules::{Range, Selector, MIN_ORDER},
};

/// The `map` of the PMD order's pass, planned without the maps: one word, with one start.
const PMD_RANGE: u8 = u8::MAX;

/// The map word a walk returns ranges from: all that a range takes, in two registers.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Word {
    /// Its starts: bit `i` for the range at PTE `at + (i << shift)`. The lowest is the
    /// range last returned, the others are still to return; none when no range of the
    /// walk has been returned yet, or it is done.
    pub(super) starts: u64,
    /// The first PTE of the map word.
    at: u32,
    shift: u8,
    order: u8,
}

impl Word {
    /// The range of the start `bit`.
    #[inline]
    pub(super) fn range(&self, bit: NonZeroU64) -> Range {
        Range {
            offset: self
                .at
                .wrapping_add(bit.trailing_zeros().wrapping_shl(self.shift.into())),
            order: self.order.into(),
        }
    }

    /// The range last returned, if any.
    pub(super) fn last(&self) -> Option<Range> {
        NonZeroU64::new(self.starts).map(|bit| self.range(bit))
    }
}

/// Where one plan stands: one pass per enabled order that may find a range, largest first,
/// over one region, a map word at a time. Saved in [`WALK_WORDS`] words: PTE offsets are
/// below 8192, map words below 128, and orders at most 13.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Walk {
    /// The current map word.
    pub(super) word: Word,
    /// The bits of each map word of the pass that lie in the region: all, unless the
    /// region is smaller than a map word's blocks.
    mask: u64,
    /// The region planned: `base..base + 2^top`, naturally aligned.
    base: u32,
    /// The pass's next map word, and the one past its last.
    next: u32,
    end: u32,
    top: u8,
    /// The order of the current pass, below `top`; for a plan of the PMD order alone, that
    /// order, over a `top` of [`MIN_ORDER`] that leaves no pass after it.
    order: u8,
    /// The order of the blocks of the map the pass reads: the pass's order, or the base
    /// order.
    shift: u8,
    /// Where the pass's map begins in the [`PlanScratch`], or [`PMD_RANGE`].
    map: u8,
}

/// The bits of a map word of blocks of order `2^shift` that lie in the region of order
/// `top` at `base`: a run of `2^(top - shift)` if that is below 64.
fn region_mask(base: u32, top: u32, shift: u32) -> u64 {
    let n = top.wrapping_sub(shift);
    if n < WORD_ORDER {
        let lo = base.wrapping_shr(shift) & 63;
        bit_range(lo, lo.wrapping_add(pow2(n)))
    } else {
        u64::MAX
    }
}

impl Walk {
    /// The walk as words, for the [`PlanScratch`] to keep while a retry interrupts it.
    pub(super) fn save(&self) -> [u64; WALK_WORDS] {
        let words = [self.word.at, self.base, self.next, self.end];
        let bytes = [self.top, self.order, self.shift, self.map];
        let (mut a, mut b) = (0u64, 0u64);
        for (i, w) in (0u32..).zip(words) {
            a |= u64::from(w).wrapping_shl(16u32.wrapping_mul(i));
        }
        for (i, x) in (0u32..).zip(bytes) {
            b |= u64::from(x).wrapping_shl(8u32.wrapping_mul(i));
        }
        [self.word.starts, a, b]
    }

    /// A walk [`Walk::save`] saved.
    #[inline]
    pub(super) fn load([starts, a, b]: [u64; WALK_WORDS]) -> Self {
        let word = |i: u32| narrow_u64(a.wrapping_shr(16u32.wrapping_mul(i)) & 0xffff, 0);
        let byte = |i: u32| narrow_u64(b.wrapping_shr(8u32.wrapping_mul(i)) & 0xff, u8::MAX);
        let (base, top, order, shift) = (word(1), byte(0), byte(1), byte(2));
        Walk {
            word: Word {
                starts,
                at: word(0),
                shift,
                order,
            },
            mask: region_mask(base, top.into(), shift.into()),
            base,
            next: word(2),
            end: word(3),
            top,
            order,
            shift,
            map: byte(3),
        }
    }

    /// Plans `range` with the enabled orders below its own.
    pub(super) fn below(sel: &Selector<'_>, range: Range) -> Self {
        let mut walk = Walk {
            base: range.offset,
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
            // One computed word with its one range, then no pass: none is below a `top`
            // of `MIN_ORDER`.
            let (top, order) = (narrow(MIN_ORDER, 0), narrow(sel.pmd_order, 0));
            return Walk {
                mask: region_mask(0, top.into(), 0),
                end: 1,
                top,
                order,
                map: PMD_RANGE,
                ..Walk::default()
            };
        }
        Walk::below(sel, sel.whole())
    }

    /// Starts the pass of the next smaller enabled order that may find a range; false
    /// (with no word left to read) if there is none. Out of line: once per pass, and
    /// inlined its set-up would run on every word [`Walk::refill`] reads.
    #[inline(never)]
    fn next_order(&mut self, sel: &Selector<'_>) -> bool {
        let (top, order) = (u32::from(self.top), u32::from(self.order));
        // Orders are at most 13: the shifts fit, and so do the narrowed values.
        let mut below = sel.busy & 1u64.wrapping_shl(order).wrapping_sub(1);
        let (order, covered) = loop {
            if below == 0 || order > top {
                self.end = self.next;
                return false;
            }
            let order = 63 ^ below.leading_zeros();
            // The enabled orders above it. If the lowest is below `top`, it covers this
            // order's blocks in the region: the pass reads the starts that it leaves, if
            // there are any, else every qualifying block.
            let above = sel.sub_orders & 2u64.wrapping_shl(order).wrapping_sub(1) ^ sel.sub_orders;
            let covered = above.trailing_zeros() < top;
            if !covered || sel.open & 1u64.wrapping_shl(order) != 0 {
                break (order, covered);
            }
            below ^= 1u64.wrapping_shl(order);
        };
        let (map, shift) = sel.pass_map(order, covered);
        let base = self.base;
        self.mask = region_mask(base, top, shift);
        self.order = narrow(order, 0);
        self.shift = narrow(shift, 0);
        self.map = narrow(map, 0);
        self.next = base.wrapping_shr(shift) >> WORD_ORDER;
        // The region's last block, then its map word.
        let last = base
            .wrapping_add(1u32.wrapping_shl(top))
            .wrapping_sub(1)
            .wrapping_shr(shift);
        self.end = (last >> WORD_ORDER).wrapping_add(1);
        true
    }

    /// Moves to the next map word that has a range, starting smaller orders as passes end:
    /// true if there is one, its lowest start the range to return; false once the walk is
    /// done, with no start left.
    #[inline]
    pub(super) fn refill(&mut self, sel: &Selector<'_>, maps: &PlanScratch) -> bool {
        loop {
            while self.next < self.end {
                let wi = self.next;
                self.next = wi.wrapping_add(1);
                // A block inside a qualifying block of the next larger enabled order is
                // covered by that block or by a larger one: whichever range covers the
                // larger block is planned instead (see `Planner`'s proof).
                let word = if self.map != PMD_RANGE {
                    let at = idx(u32::from(self.map).wrapping_add(wi));
                    maps.get(at).copied().unwrap_or(0)
                } else {
                    1
                };
                let starts = word & self.mask;
                if starts != 0 {
                    self.word = Word {
                        starts,
                        at: (wi << 6).wrapping_shl(self.shift.into()),
                        shift: self.shift,
                        order: self.order,
                    };
                    return true;
                }
            }
            if !self.next_order(sel) {
                self.word.starts = 0;
                return false;
            }
        }
    }
}
