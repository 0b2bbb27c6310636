// SPDX-License-Identifier: GPL-2.0

//! The order selector's packed maps (see [`order`](super::order)): unless the PMD order
//! alone is planned, a plan packs the whole PMD once into maps of one bit per block, for
//! orders 2 to 6: order 2 from the bitmaps, each next order from the one below (a block's
//! halves are adjacent bits), and for orders 2 to 5 the blocks a walk returns, those in no
//! qualifying block of the next larger enabled order. The maps and the walks that retries
//! interrupt live in a [`PlanScratch`], which the kernel lends
//! ([`Planner::with_scratch`](super::order::Planner::with_scratch)).

use super::{
    order_lanes::{bit_range, halve, idx, pack, pow2, Lanes, WORD_ORDER},
    order_rules::{Selector, MAX_PMD_ORDER, MIN_ORDER},
};

/// Words of one kind of packed map: orders 2 to 6 of the largest PMD, `2^(13 - k)` bits
/// for order `k`.
// CAST: 62 fits any `usize`.
pub(super) const MAP_WORDS: usize = MAP_AT[5] as usize;

/// Where the map of order `k` starts, at index `k - 2`; the last entry is the end.
pub(super) const MAP_AT: [u32; 6] = [0, 32, 48, 56, 60, 62];

/// Retry levels a [`Planner`](super::order::Planner) can hold: the PMD plan, then one per
/// failed order from [`MAX_PMD_ORDER`] down to `MIN_ORDER + 1`.
// CAST: 12 fits any `usize`.
pub(super) const MAX_DEPTH: usize = (MAX_PMD_ORDER - MIN_ORDER + 1) as usize;

/// Words of a saved `Walk`.
pub(super) const WALK_WORDS: usize = 3;

/// Where a [`PlanScratch`] keeps the walks that retries interrupted, [`WALK_WORDS`] each.
pub(super) const SAVED_AT: usize = 2 * MAP_WORDS;

/// Words of a [`PlanScratch`]: the maps, then the interrupted walks (at most one per
/// retry level below the PMD plan's).
pub const PLAN_SCRATCH_WORDS: usize = SAVED_AT + (MAX_DEPTH - 1) * WALK_WORDS;

/// Room for what a plan packs, `PLAN_SCRATCH_WORDS` words (1256 bytes), which a caller
/// with little stack lends ([`Planner::with_scratch`](super::order::Planner::with_scratch)).
/// First two kinds of map for each order `k` from 2 to 6, bit `i` of word `w` for block
/// `64 * w + i` of order `k`: a block is good when it has no swapped-out or shared PTE
/// and, unless one present PTE suffices, every PTE present; occupied when it has a present
/// PTE (kept only when that suffices). Order 6 keeps both; orders 2 to 5, once the next
/// order is made from them, keep their qualifying blocks (good and occupied) and those of
/// them in no qualifying block of the next larger enabled order: a walk's starts, unless
/// that order is not below its region's. Then the walks that retries interrupted.
pub type PlanScratch = [u64; PLAN_SCRATCH_WORDS];

/// Fills order 2's map in `map` with the blocks whose 4 bits of `f(w, present[w])` are all
/// set (`ALL`) or one is: bitmap word `w` gives bits `16 * (w % 4)..` of map word `w / 4`.
fn quads<const ALL: bool>(map: &mut [u64], present: &[u64], f: impl Fn(usize, u64) -> u64) {
    let lanes = Lanes::of(MIN_ORDER);
    let quad = |w: usize, p: u64| {
        let x = f(w, p);
        let x = if ALL { lanes.all(x) } else { lanes.any(x) };
        pack::<MIN_ORDER>(lanes.to_first(x))
    };
    for (j, (m, ps)) in map.iter_mut().zip(present.chunks(4)).enumerate() {
        *m = match *ps {
            [p0, p1, p2, p3] => {
                let w = |i: usize| j.wrapping_mul(4).wrapping_add(i);
                quad(w(0), p0) | quad(w(1), p1) << 16 | quad(w(2), p2) << 32 | quad(w(3), p3) << 48
            }
            // A PMD of 32 PTEs: one word.
            _ => ps.first().map_or(0, |&p| quad(0, p)),
        };
    }
}

impl Selector<'_> {
    /// Fills in the packed maps of the whole PMD, once, and sets `busy`: the good and
    /// occupied blocks of order 2 from the bitmaps, then those of each next order from the
    /// order below, whose pairs of bits are its blocks' halves, after which the order
    /// below keeps only its qualifying blocks and the starts a walk returns (see
    /// [`PlanScratch`]).
    pub(super) fn pack(&mut self, maps: &mut PlanScratch) {
        if self.packed {
            return;
        }
        self.packed = true;
        if self.counts.present == 0 {
            // No block qualifies: it needs every PTE present, or one.
            self.busy = 0;
            return;
        }
        let valid = bit_range(0, pow2(self.pmd_order).min(64));
        let (present, swap, shared) = (self.present, self.swap, self.shared);
        let bad =
            |w: usize| swap.get(w).copied().unwrap_or(0) | shared.get(w).copied().unwrap_or(0);
        {
            let (good, occupied) = maps.split_at_mut(MAP_WORDS);
            match (self.scaled, self.clean) {
                (false, true) => quads::<true>(good, present, |_, p| p & valid),
                (false, false) => quads::<true>(good, present, |w, p| p & valid & !bad(w)),
                (true, _) => {
                    quads::<true>(good, present, |w, _| !bad(w) & valid);
                    quads::<false>(occupied, present, |_, p| p & valid);
                }
            }
        }
        let word = |maps: &PlanScratch, i: usize| maps.get(i).copied().unwrap_or(0);
        let set = |maps: &mut PlanScratch, i: usize, x: u64| {
            if let Some(m) = maps.get_mut(i) {
                *m = x;
            }
        };
        let mut far = false;
        let (mut busy, mut words) = (0u64, idx(pow2(self.pmd_order).div_ceil(256)));
        // Each order below both 6 and the PMD order, with the next order's maps if that is
        // below the PMD order: order 6's judges the larger orders.
        let last = WORD_ORDER.min(self.pmd_order);
        for k in MIN_ORDER..last {
            // The next larger enabled order, which covers this one's blocks in a walk of
            // the whole PMD, or in any walk where it lies below the region's order: a lane
            // of the map if it fits one, else a block holding whole map words (`far`).
            let parent = (self.sub_orders & !bit_range(0, k.wrapping_add(1))).trailing_zeros();
            let j = parent.wrapping_sub(k);
            let near = parent < self.pmd_order && j <= WORD_ORDER;
            far |= parent < self.pmd_order && !near;
            let (lanes, judged) = (Lanes::of(j), if near { u64::MAX } else { 0 });
            let mut found = 0;
            // Each word of this order's maps, read once: the next order's from its pairs,
            // then its own qualifying blocks and starts in place.
            let mut settle = |maps: &mut PlanScratch, w: usize, g: u64, o: u64| {
                let q = g & o;
                found |= q;
                let cover = lanes.all(g & judged) & lanes.any(o);
                set(maps, w, q);
                let starts = q & !lanes.fill(lanes.to_first(cover));
                set(maps, MAP_WORDS.wrapping_add(w), starts);
            };
            let map_at = |k: u32| {
                idx(MAP_AT
                    .get(idx(k.wrapping_sub(MIN_ORDER)))
                    .copied()
                    .unwrap_or(0))
            };
            let (at, above) = (map_at(k), map_at(k.wrapping_add(1)));
            let occupied = |maps: &PlanScratch, w: usize| {
                if self.scaled {
                    word(maps, MAP_WORDS.wrapping_add(w))
                } else {
                    u64::MAX
                }
            };
            // A map of one word is at most half full: the next order's fits one word too.
            for d in 0..words.div_ceil(2) {
                let lo = at.wrapping_add(d.wrapping_mul(2));
                let (g, o) = (word(maps, lo), occupied(maps, lo));
                let (mut g2, mut o2) = (halve::<true>(g), halve::<false>(o));
                settle(maps, lo, g, o);
                let hi = lo.wrapping_add(1);
                if hi < at.wrapping_add(words) {
                    let (g, o) = (word(maps, hi), occupied(maps, hi));
                    g2 |= halve::<true>(g) << 32;
                    o2 |= halve::<false>(o) << 32;
                    settle(maps, hi, g, o);
                }
                if k.wrapping_add(1) < self.pmd_order {
                    set(maps, above.wrapping_add(d), g2);
                    if self.scaled {
                        set(maps, MAP_WORDS.wrapping_add(above).wrapping_add(d), o2);
                    }
                }
            }
            busy |= u64::from(found != 0).wrapping_shl(k);
            words = words.div_ceil(2);
        }
        let at6 = idx(MAP_AT[4]);
        let six = |kind: usize, g: usize| word(maps, kind.wrapping_add(at6).wrapping_add(g));
        let good6 = [six(0, 0), six(0, 1)];
        let occupied6 = if self.scaled {
            [six(MAP_WORDS, 0), six(MAP_WORDS, 1)]
        } else {
            [u64::MAX; 2]
        };
        // A qualifying block's halves are good and one qualifies: orders from 6 on have
        // none if 6 has none.
        if good6[0] & occupied6[0] | good6[1] & occupied6[1] != 0 {
            busy |= !bit_range(0, WORD_ORDER);
        }
        if far {
            self.far_covers(maps, good6, occupied6);
        }
        self.busy = busy & self.sub_orders;
    }

    /// Drops from the starts of orders 2 to 5 the map words lying in a qualifying block of
    /// their next larger enabled order when that block holds whole map words, as judged on
    /// order 6's map (`good6`, `occupied6`).
    #[cold]
    fn far_covers(&self, maps: &mut PlanScratch, good6: [u64; 2], occupied6: [u64; 2]) {
        let mut words = idx(pow2(self.pmd_order).div_ceil(256));
        for k in MIN_ORDER..WORD_ORDER {
            let parent = (self.sub_orders & !bit_range(0, k.wrapping_add(1))).trailing_zeros();
            if parent < self.pmd_order && parent.wrapping_sub(k) > WORD_ORDER {
                let larger = Lanes::of(parent.wrapping_sub(WORD_ORDER));
                let q = [0, 1].map(|g| larger.all(good6[g]) & larger.any(occupied6[g]));
                let at = MAP_WORDS.wrapping_add(idx(MAP_AT[idx(k.wrapping_sub(MIN_ORDER))]));
                let starts = maps
                    .get_mut(at..at.saturating_add(words))
                    .unwrap_or_default();
                for (i, os) in (0u32..).zip(starts) {
                    // The last bit of the lane of order 6's map that holds this map word.
                    let first = i.wrapping_shl(k);
                    let q = q.get(idx(first >> WORD_ORDER & 1)).copied().unwrap_or(0);
                    let qualifies = q.wrapping_shr(first & 63 | larger.span);
                    if qualifies & 1 != 0 {
                        *os = 0;
                    }
                }
            }
            words = words.div_ceil(2);
        }
    }

    /// Word `w` of the maps of order 6: good blocks, and occupied ones (all of them unless
    /// `scaled`).
    fn map(&self, maps: &PlanScratch, w: u32) -> (u64, u64) {
        let at = idx(MAP_AT[4].wrapping_add(w));
        let good = maps.get(at).copied().unwrap_or(0);
        if !self.scaled {
            return (good, u64::MAX);
        }
        (
            good,
            maps.get(MAP_WORDS.wrapping_add(at)).copied().unwrap_or(0),
        )
    }

    /// The blocks of order `k` (6 or more) in words `64 * g..64 * (g + 1)` that qualify and
    /// lie in no qualifying block of order `parent` (if not 0): bit `i` for the block
    /// starting at word `64 * g + i`. Both are lanes of order 6's map. Out of line: rare,
    /// and inlined it costs the walk's loop registers for the common orders.
    #[inline(never)]
    pub(super) fn word_starts(&self, maps: &PlanScratch, k: u32, g: u32, parent: u32) -> u64 {
        let (good, occupied) = self.map(maps, g);
        let qualifying = |j: u32| {
            let lanes = Lanes::of(j);
            lanes.to_first(lanes.all(good) & lanes.any(occupied))
        };
        let cover = match parent.checked_sub(WORD_ORDER) {
            Some(j) => Lanes::of(j).fill(qualifying(j)),
            None => 0,
        };
        qualifying(k.wrapping_sub(WORD_ORDER)) & !cover
    }
}
