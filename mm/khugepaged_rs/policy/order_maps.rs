// SPDX-License-Identifier: GPL-2.0

//! The order selector's maps (see [`order`](super::order)): unless the PMD order alone is
//! planned, a plan packs the whole PMD once into maps of one bit per block. Order 2's
//! comes from the bitmaps, each next order's from the one below (a block's halves are
//! adjacent bits), down to the *base* order, the first whose map is one word:
//! `max(2, pmd_order - 6)`. An order below the base keeps its qualifying blocks and, for a
//! walk to return, those in no qualifying block of the next larger enabled order. An
//! order from the base on has blocks that are lanes of the base map's one word: its two
//! maps, one word each, come from that word in a few word operations, marked by the
//! blocks' first bits. The maps and the walks that retries interrupt live in a
//! [`PlanScratch`], which the kernel lends
//! ([`Planner::with_scratch`](super::order::Planner::with_scratch)).

use super::{
    order_lanes::{bit_range, halve, idx, pack_quads, pow2, Lanes, WORD_ORDER},
    order_rules::{Selector, MAX_PMD_ORDER, MIN_ORDER},
};

/// Where the map of order `k`, 2 to 7, starts in each kind of map, at index `k - 2`: the
/// largest PMD's, `2^(13 - k)` bits; the last entry is the end. Orders from the base on
/// use only the base order's.
const MAP_AT: [u32; 7] = [0, 32, 48, 56, 60, 62, 63];

/// Words of one kind of map below the base order.
// CAST: 63 fits any `usize`.
pub(super) const MAP_WORDS: usize = MAP_AT[6] as usize;

/// Orders from the base order to the PMD order: at most 6.
const LANE_ORDERS: u32 = WORD_ORDER;

/// Where the one-word maps of the orders from the base order on start: their qualifying
/// blocks, then the starts, one word per order from the base order.
const LANE_AT: u32 = 2 * MAP_AT[6];

/// Retry levels a [`Planner`](super::order::Planner) can hold: the PMD plan, then one per
/// failed order from [`MAX_PMD_ORDER`] down to `MIN_ORDER + 1`.
// CAST: 12 fits any `usize`.
pub(super) const MAX_DEPTH: usize = (MAX_PMD_ORDER - MIN_ORDER + 1) as usize;

/// Words of a saved `Walk`.
pub(super) const WALK_WORDS: usize = 3;

/// Where a [`PlanScratch`] keeps the walks that retries interrupted, [`WALK_WORDS`] each.
// CAST: 138 fits any `usize`.
pub(super) const SAVED_AT: usize = (LANE_AT + 2 * LANE_ORDERS) as usize;

/// Words of a [`PlanScratch`]: the maps, then the interrupted walks (at most one per
/// retry level below the PMD plan's).
pub const PLAN_SCRATCH_WORDS: usize = SAVED_AT + (MAX_DEPTH - 1) * WALK_WORDS;

/// Room for what a plan packs, `PLAN_SCRATCH_WORDS` words (1368 bytes), which a caller
/// with little stack lends ([`Planner::with_scratch`](super::order::Planner::with_scratch)).
///
/// First two kinds of map for each order `k` from 2 to the base order, bit `i` of word `w`
/// for block `64 * w + i` of order `k`: a block is good when it has no swapped-out or
/// shared PTE and, unless one present PTE suffices, every PTE present; occupied when it
/// has a present PTE (kept only when that suffices). The base order's keeps both; those
/// below it, once the next order is made from them, keep their qualifying blocks (good and
/// occupied) and those of them in no qualifying block of the next larger enabled order: a
/// walk's starts, unless that order is not below its region's. Then the same two maps for
/// each order from the base on, one word each, a block marked at bit `i` for its first
/// block `i` of the base order. Then the walks that retries interrupted.
pub type PlanScratch = [u64; PLAN_SCRATCH_WORDS];

/// Fills order 2's map in `map` with the blocks whose 4 bits of `f(w, words[w])` are all
/// set (`ALL`) or one is: bitmap word `w` gives bits `16 * (w % 4)..` of map word `w / 4`.
fn quads<const ALL: bool>(map: &mut [u64], words: &[u64], f: impl Fn(usize, u64) -> u64) {
    let lanes = Lanes::of(MIN_ORDER);
    let quad = |w: usize, x: u64| {
        let x = f(w, x);
        let x = if ALL { lanes.all(x) } else { lanes.any(x) };
        pack_quads(lanes.to_first(x))
    };
    let mut chunks = words.chunks_exact(4);
    for ((m, ws), w) in map.iter_mut().zip(&mut chunks).zip((0usize..).step_by(4)) {
        if let [w0, w1, w2, w3] = *ws {
            let at = |i: usize| w.wrapping_add(i);
            *m =
                quad(w, w0) | quad(at(1), w1) << 16 | quad(at(2), w2) << 32 | quad(at(3), w3) << 48;
        }
    }
    // A PMD of 32 PTEs: one bitmap word.
    if let (Some(m), [w0]) = (map.first_mut(), chunks.remainder()) {
        *m = quad(0, *w0);
    }
}

/// Where the map of order `k`, 2 to 7, starts in a kind of map.
fn map_at(k: u32) -> usize {
    idx(MAP_AT
        .get(idx(k.wrapping_sub(MIN_ORDER)))
        .copied()
        .unwrap_or(0))
}

impl Selector<'_> {
    /// The base order: the first whose map of the PMD is one word.
    pub(super) fn base_order(pmd_order: u32) -> u32 {
        pmd_order.saturating_sub(WORD_ORDER).max(MIN_ORDER)
    }

    /// Where a walk's pass of order `k` reads: the first word of its map in the
    /// [`PlanScratch`], the starts (`starts`) or every qualifying block, and the order of
    /// the blocks of the map's bits.
    pub(super) fn pass_map(&self, k: u32, starts: bool) -> (u32, u32) {
        let base = self.base;
        if k < base {
            let at = MAP_AT.get(idx(k.wrapping_sub(MIN_ORDER))).copied();
            let kind = if starts { MAP_AT[6] } else { 0 };
            (at.unwrap_or(0).wrapping_add(kind), k)
        } else {
            let kind = if starts { LANE_ORDERS } else { 0 };
            (
                LANE_AT
                    .wrapping_add(kind)
                    .wrapping_add(k.wrapping_sub(base)),
                base,
            )
        }
    }

    /// The next larger enabled order below the PMD order than `k`, or 64 if none.
    fn parent(&self, k: u32) -> u32 {
        (self.sub_orders & !bit_range(0, k.wrapping_add(1))).trailing_zeros()
    }

    /// Fills in the maps of the whole PMD, once, and sets `busy`: the good and occupied
    /// blocks of order 2 from the bitmaps, then those of each next order from the order
    /// below, whose pairs of bits are its blocks' halves, down to the base order (see
    /// [`PlanScratch`]).
    pub(super) fn pack(&mut self, maps: &mut PlanScratch) {
        if self.packed {
            return;
        }
        self.packed = true;
        self.busy = 0;
        if !self.occupied {
            // No block qualifies: it needs every PTE present, or one.
            return;
        }
        let valid = self.valid();
        let (present, swap, shared) = (self.present, self.swap, self.shared);
        let bad = move |w: usize| {
            let s = swap.get(w).copied().unwrap_or(0);
            s | shared.get(w).copied().unwrap_or(0)
        };
        let words = idx(pow2(self.pmd_order).div_ceil(256));
        let (good, second) = maps.split_at_mut(MAP_WORDS);
        let (good2, second2) = (
            good.get_mut(..words).unwrap_or_default(),
            second.get_mut(..words).unwrap_or_default(),
        );
        match (self.scaled, self.clean) {
            (true, _) => {
                quads::<true>(good2, present, move |w, _| !bad(w) & valid);
                quads::<false>(second2, present, move |_, p| p & valid);
                self.pack_orders::<true>(maps);
            }
            (false, true) => {
                quads::<true>(good2, present, move |_, p| p & valid);
                self.pack_orders::<false>(maps);
            }
            (false, false) => {
                quads::<true>(good2, present, move |w, p| p & !bad(w) & valid);
                self.pack_orders::<false>(maps);
            }
        }
    }

    /// [`Selector::pack`] from order 2's maps on: good blocks, and (`SCALED` only)
    /// occupied ones, which become the starts. Unless `SCALED`, every block is occupied:
    /// a good block qualifies and the occupied maps are never read.
    fn pack_orders<const SCALED: bool>(&mut self, maps: &mut PlanScratch) {
        let word = |maps: &PlanScratch, i: usize| maps.get(i).copied().unwrap_or(0);
        let (base, pmd_order) = (self.base, self.pmd_order);
        let mut far = false;
        let (mut busy, mut words) = (0u64, idx(pow2(pmd_order).div_ceil(256)));
        // Each order below the base: the next order's maps from its pairs of words, then,
        // if it is enabled, its qualifying blocks and starts.
        for k in MIN_ORDER..base {
            let (at, above) = (map_at(k), map_at(k.wrapping_add(1)));
            Self::halve_map::<true>(maps, at, above, words);
            if SCALED {
                let (at, above) = (MAP_WORDS.wrapping_add(at), MAP_WORDS.wrapping_add(above));
                Self::halve_map::<false>(maps, at, above, words);
            }
            if self.sub_orders & 1u64.wrapping_shl(k) == 0 {
                words /= 2;
                continue;
            }
            // The next larger enabled order, which covers this one's blocks in a walk of
            // the whole PMD, or in any walk where it lies below the region's order: a lane
            // of the map if it fits one, else a block holding whole map words (`far`).
            let parent = self.parent(k);
            let j = parent.wrapping_sub(k);
            let near = parent < pmd_order && j <= WORD_ORDER;
            far |= parent < pmd_order && !near;
            let (lanes, judged) = (Lanes::of(j), if near { u64::MAX } else { 0 });
            let (good, second) = maps.split_at_mut(MAP_WORDS);
            let range = at..at.wrapping_add(words);
            let good = good.get_mut(range.clone()).unwrap_or_default();
            let second = second.get_mut(range).unwrap_or_default();
            let mut found = 0;
            for (g, s) in good.iter_mut().zip(second) {
                let o = if SCALED { *s } else { u64::MAX };
                let q = *g & o;
                found |= q;
                let cover = lanes.all(*g & judged) & lanes.any(o);
                if SCALED {
                    *g = q;
                }
                *s = q & !lanes.fill(lanes.to_first(cover));
            }
            busy |= u64::from(found != 0).wrapping_shl(k);
            words /= 2;
        }
        // The base map's one word, and from it the qualifying blocks of each order from
        // the base on: lanes of `2^j` bits of the word, marked by their first bit. A lane
        // is good when both its halves are, occupied when one of them is.
        let at = map_at(base);
        let good = word(maps, at);
        let occupied = if SCALED {
            word(maps, MAP_WORDS.wrapping_add(at))
        } else {
            u64::MAX
        };
        let mut qualifying = [0; LANE_ORDERS as usize];
        let (mut g, mut o) = (good, occupied);
        for (j, q) in (0u32..).zip(&mut qualifying) {
            if let Some(half) = j.checked_sub(1).map(|h| 1u32.wrapping_shl(h)) {
                let first = Lanes::of(j).first;
                g &= g.wrapping_shr(half) & first;
                if SCALED {
                    o = (o | o.wrapping_shr(half)) & first;
                }
            }
            *q = if SCALED { g & o } else { g };
        }
        // Their maps, largest order first: each is covered by the enabled one before.
        let enabled = self.sub_orders.wrapping_shr(base);
        let lane_maps = idx(LANE_AT)..idx(LANE_AT.wrapping_add(2 * LANE_ORDERS));
        if let Some(lane_maps) = maps.get_mut(lane_maps) {
            let (all, starts) = lane_maps.split_at_mut(idx(LANE_ORDERS));
            let maps = qualifying.iter().zip(all).zip(starts);
            let mut cover = 0;
            for (j, ((&q, all), starts)) in (0..LANE_ORDERS).zip(maps).rev() {
                *all = q;
                *starts = q & !cover;
                if enabled.wrapping_shr(j) & 1 != 0 {
                    // Every bit of its lanes: the first times `2^(2^j) - 1`, for `j <= 5`.
                    cover = q.wrapping_mul(1u64.wrapping_shl(1u32.wrapping_shl(j)).wrapping_sub(1));
                    busy |= u64::from(q != 0).wrapping_shl(base.wrapping_add(j));
                }
            }
        }
        if far {
            self.far_covers(maps, good, occupied);
        }
        self.busy = busy;
    }

    /// Finds which orders have a start somewhere, once the maps are packed: a walk of a
    /// retried range skips the orders its larger ones leave nothing of (every one, when
    /// every PTE is present). Only retries look: a walk of the whole PMD gains little.
    pub(super) fn find_open(&mut self, maps: &PlanScratch) {
        if self.open != u64::MAX {
            return;
        }
        let mut open = 0;
        let mut orders = self.busy;
        while orders != 0 {
            let k = orders.trailing_zeros();
            orders &= orders.wrapping_sub(1);
            let (at, shift) = self.pass_map(k, true);
            let words = pow2(self.pmd_order.wrapping_sub(shift)).div_ceil(64);
            let at = idx(at);
            let starts = maps.get(at..at.saturating_add(idx(words)));
            if starts.is_some_and(|starts| starts.iter().any(|&s| s != 0)) {
                open |= 1u64.wrapping_shl(k);
            }
        }
        self.open = open;
    }

    /// Makes the map of `words` words at `above` from the one of `2 * words` words at
    /// `at`: bit `i` when bits `2i` and `2i + 1` are both set (`ALL`) or one is.
    fn halve_map<const ALL: bool>(maps: &mut PlanScratch, at: usize, above: usize, words: usize) {
        let Some((from, to)) = maps.split_at_mut_checked(above) else {
            return;
        };
        let from = from.get(at..).unwrap_or_default().chunks_exact(2);
        for (pair, m) in from.zip(to.iter_mut().take(words / 2)) {
            if let [lo, hi] = *pair {
                *m = halve::<ALL>(lo, hi);
            }
        }
    }

    /// Drops from the starts of the enabled orders below the base the map words lying in a
    /// qualifying block of their next larger enabled order when that block holds whole
    /// map words, as judged on the base map (`good`, `occupied`).
    #[cold]
    fn far_covers(&self, maps: &mut PlanScratch, good: u64, occupied: u64) {
        let base = self.base;
        let mut words = idx(pow2(self.pmd_order).div_ceil(256));
        for k in MIN_ORDER..base {
            let (enabled, parent) = (self.sub_orders & 1u64.wrapping_shl(k) != 0, self.parent(k));
            if enabled && parent < self.pmd_order && parent.wrapping_sub(k) > WORD_ORDER {
                // Below the PMD order, so a lane of the base map.
                let larger = Lanes::of(parent.wrapping_sub(base));
                let q = larger.to_first(larger.all(good) & larger.any(occupied));
                let at = MAP_WORDS.wrapping_add(map_at(k));
                let starts = maps
                    .get_mut(at..at.saturating_add(words))
                    .unwrap_or_default();
                for (i, os) in (0u32..).zip(starts) {
                    // The first bit of the lane of the base map that holds this map word.
                    let first = i.wrapping_shl(k.wrapping_add(WORD_ORDER).wrapping_sub(base));
                    if q.wrapping_shr(first & !larger.span) & 1 != 0 {
                        *os = 0;
                    }
                }
            }
            words /= 2;
        }
    }
}
