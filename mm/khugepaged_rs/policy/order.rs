// SPDX-License-Identifier: GPL-2.0

//! The mTHP order selector: which naturally aligned ranges of one PMD to collapse, and to
//! which order (7.3's `mthp_collapse()` with `collapse_max_ptes_none()`,
//! `collapse_max_ptes_swap()` and `collapse_max_ptes_shared()`).
//!
//! The input is what a scan of the PMD's page table found, as bitmaps with one bit per PTE
//! ([`PmdScan`]); the output is a plan: `(offset, order)` ranges ([`Range`]), naturally
//! aligned, disjoint, largest order first and by offset within an order.
//!
//! # Rules
//!
//! A range of order `k` *qualifies* when:
//!
//! - at the PMD order: `present + swap >= HPAGE_PMD_NR - max_ptes_none`,
//!   `swap <= max_ptes_swap` and `shared <= max_ptes_shared`, the sysfs limits as they are;
//! - below the PMD order: no swapped-out and no shared PTE in the range, and
//!   `present >= 2^k - limit`, where `limit` is `2^k - 1` when `max_ptes_none` is
//!   `HPAGE_PMD_NR - 1` and 0 for any other value. A value other than 0 and
//!   `HPAGE_PMD_NR - 1` is not supported below the PMD order; [`Plan::max_ptes_none_unsupported`]
//!   says so, for the caller to warn once as 7.3 does.
//!
//! The plan holds every enabled range that qualifies and lies in no larger enabled range
//! that qualifies: the largest qualifying range wins, as in 7.3's walk, which tries the PMD
//! order first and halves the range on each failure. Orders 0 and 1 are never planned, nor
//! orders above the PMD order.
//!
//! No creep: every order is judged on the bitmaps as scanned, never on the pages a planned
//! collapse will make present. Below the PMD order a range needs either every PTE present
//! or (scaled limit) one present PTE and no swapped-out or shared one, so a collapse never
//! makes an enclosing range qualify that did not already: applying a plan and planning
//! again gives the same plan.
//!
//! # Differences from 7.3
//!
//! 7.3's scan applies the PMD-order `max_ptes_swap` and `max_ptes_shared` to the whole PMD
//! before any order is tried, so one PMD with too many swapped-out or shared PTEs gets no
//! mTHP collapse at all, even in ranges with none of either. Here those limits gate the PMD
//! order only: the ranges below it have no swapped-out or shared PTE by their own rule. The
//! plan therefore collapses at least what 7.3's walk would, and exactly that when 7.3's
//! scan does not stop early.
//!
//! # Ranges refused for swapped-out or shared PTEs
//!
//! 7.3 tries a range below the PMD order once enough of it is present, and only its
//! collapse refuses a swapped-out PTE (`collapse_exceed_swap_pte`) or a shared one
//! (`collapse_exceed_shared_pte`) in it, counting that in the size's stats. The plan never
//! holds such a range; [`blocked`] counts them instead, per order, exactly as 7.3's walk
//! would meet them: every enabled range below the PMD order that passes its order's
//! present-PTE rule and holds a swapped-out PTE (counted as swap), or else a shared one. A
//! caller counts them once per PMD whose walk went below the PMD order
//! ([`Planner::walked_below_pmd`]).
//!
//! # What the selector assumes
//!
//! - `present` marks PTEs that map a page other than the zero page (7.3's
//!   `mthp_present_ptes`), shared ones included; `swap` marks swapped-out (non-present)
//!   PTEs; `shared` marks present PTEs whose folio may be mapped by another process.
//!   Whatever else a scan rejects (uffd-wp, non-anonymous or pinned folios, too few
//!   referenced pages) is the caller's to check before planning.
//! - The caller passes the limits in force: 0 for `max_ptes_none` under userfaultfd, and
//!   `HPAGE_PMD_NR` for all three for `MADV_COLLAPSE` (with only the PMD order enabled).
//! - The bitmaps do not know folios. A planned range already mapped by one folio of its
//!   order or larger is for the caller to leave alone (7.3's `SCAN_PTE_MAPPED_HUGEPAGE`),
//!   without retrying smaller orders.
//! - When the collapse of a planned range fails for a reason that a smaller order may not
//!   hit (allocation, locks, references), [`replan`] (or [`Planner::retry_smaller`])
//!   plans that range again with the smaller enabled orders only, as 7.3 tries them.
//!
//! # Cost
//!
//! No allocation, no recursion and no loop over single PTEs or blocks: a rule takes a few
//! word operations for all the blocks of a word at once (adding 1 at each block's first
//! PTE carries into its last when the block is full). A plan counts the bits a word at a
//! time (at most 128 words a bitmap); unless the PMD order alone is planned, it then packs
//! the whole PMD once into maps of one bit per block, for orders 2 to 6 ([`PlanScratch`]):
//! order 2 from the bitmaps, each next order from the one below (a block's halves are
//! adjacent bits), and for orders 2 to 5 the blocks a walk returns, those in no qualifying
//! block of the next larger enabled order. A pass of order `k` then reads 64 starts a word
//! from its map (from order 6, 64 words of blocks at a time from order 6's map) and returns
//! them with `trailing_zeros`; a retry reads the same maps. The maps and the walks that
//! retries interrupt live in a [`PlanScratch`], which the kernel lends
//! ([`Planner::with_scratch`]): the [`Planner`] itself is 136 bytes on 64-bit.

use core::borrow::BorrowMut;

/// The largest PMD order: 8192 PTEs per PMD (`MAX_PTRS_PER_PTE`, arm64 with 64K pages).
pub const MAX_PMD_ORDER: u32 = 13;

/// The smallest mTHP order khugepaged collapses to (`KHUGEPAGED_MIN_MTHP_ORDER`).
pub const MIN_ORDER: u32 = 2;

/// The order of a bitmap word: 64 PTEs.
const WORD_ORDER: u32 = 6;

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

/// `1 << order`, or 0 when that does not fit (never for the orders used here).
fn pow2(order: u32) -> u32 {
    1u32.checked_shl(order).unwrap_or(0)
}

/// Widens a PTE or word index; lossless on the 64-bit targets.
fn idx(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// Narrows a PTE offset, word index or order; they all fit (see [`Walk`]).
fn narrow<T: TryFrom<u32> + Copy>(x: u32, max: T) -> T {
    T::try_from(x).unwrap_or(max)
}

/// Narrows a field of a saved [`Walk`]; they all fit.
fn narrow_u64<T: TryFrom<u64> + Copy>(x: u64, max: T) -> T {
    T::try_from(x).unwrap_or(max)
}

/// Bits `lo..hi` of a word, `lo <= hi <= 64`.
fn bit_range(lo: u32, hi: u32) -> u64 {
    let below_hi = u64::MAX.checked_shr(64u32.saturating_sub(hi)).unwrap_or(0);
    let from_lo = u64::MAX.checked_shl(lo).unwrap_or(0);
    below_hi & from_lo
}

/// The highest enabled order in `orders` below `below`, if it is at least [`MIN_ORDER`].
fn order_below(orders: u64, below: u32) -> Option<u32> {
    let m = orders & bit_range(0, below.min(64));
    let k = 63u32.saturating_sub(m.leading_zeros());
    (m != 0 && k >= MIN_ORDER).then_some(k)
}

/// A word cut into aligned lanes of `2^j` bits, `j <= 6`: blocks of order `j` of PTEs, or
/// of order `j + 6` of words ([`WordSet`]). Adding 1 at a lane's first bit carries into its
/// last bit (cleared first: no carry leaves the lane) when the bits below are all set;
/// adding all ones but the last bit carries into it when one of them is set.
#[derive(Clone, Copy)]
struct Lanes {
    /// The first bit of each lane.
    first: u64,
    /// The last bit of each lane.
    last: u64,
    /// One lane's bits, from bit 0.
    one: u64,
    /// The distance from a lane's first bit to its last: `2^j - 1`.
    span: u32,
}

impl Lanes {
    const ALL: [Lanes; 7] = [
        Lanes::new(0),
        Lanes::new(1),
        Lanes::new(2),
        Lanes::new(3),
        Lanes::new(4),
        Lanes::new(5),
        Lanes::new(6),
    ];

    const fn new(j: u32) -> Self {
        let span = (1 << j) - 1;
        let one = u64::MAX >> (63 - span);
        let first = u64::MAX / one;
        Lanes {
            first,
            last: first << span,
            one,
            span,
        }
    }

    fn of(j: u32) -> Self {
        Self::ALL.get(idx(j)).copied().unwrap_or(Self::ALL[6])
    }

    /// The last bit of each lane of `x` that has every bit set.
    fn all(self, x: u64) -> u64 {
        (x & !self.last).wrapping_add(self.first) & x & self.last
    }

    /// The last bit of each lane of `x` that has a bit set.
    fn any(self, x: u64) -> u64 {
        ((x & !self.last).wrapping_add(self.last.wrapping_sub(self.first)) | x) & self.last
    }

    /// Lanes marked by their last bit, marked by their first.
    fn to_first(self, x: u64) -> u64 {
        x.wrapping_shr(self.span)
    }

    /// Lanes marked by their first bit, every bit set.
    fn fill(self, x: u64) -> u64 {
        x.wrapping_mul(self.one)
    }
}

/// Lanes of `2^K` bits marked by their first bit, `2 <= K <= 5`, one bit per lane: lane `i`
/// at bit `i`. Multiplying `n` fields of `f` bits, `d` bits apart, by the sum of bits
/// `(d - f) * (i + 1)`, `i < n`, brings field `n - 1 - i` to the top `n * f` bits, and no
/// two products meet; order 2 first gathers its 16 lanes into 4 fields of 4 bits, 16 apart.
fn pack<const K: u32>(x: u64) -> u64 {
    match K {
        2 => {
            let x = (x | x >> 3) & 0x0303_0303_0303_0303;
            let x = (x | x >> 6) & 0x000f_000f_000f_000f;
            x.wrapping_mul(0x0001_0010_0100_1000) >> 48
        }
        3 => x.wrapping_mul(0x0102_0408_1020_4080) >> 56,
        4 => x.wrapping_mul(0x1000_2000_4000_8000) >> 60,
        _ => x.wrapping_mul(0x4000_0000_8000_0000) >> 62,
    }
}

/// One bit per bitmap word of the PMD (at most 128), 64 words to a group: whether the word
/// has some property.
#[derive(Clone, Copy, Debug, Default)]
struct WordSet([u64; 2]);

impl WordSet {
    /// The members among words `64 * g..64 * (g + 1)`.
    fn group(&self, g: u32) -> u64 {
        self.0.get(idx(g)).copied().unwrap_or(0)
    }
}

/// Words of one kind of packed map: orders 2 to 6 of the largest PMD, `2^(13 - k)` bits
/// for order `k`.
// CAST: 62 fits any `usize`.
const MAP_WORDS: usize = MAP_AT[5] as usize;

/// Where the map of order `k` starts, at index `k - 2`; the last entry is the end.
const MAP_AT: [u32; 6] = [0, 32, 48, 56, 60, 62];

/// Where a [`PlanScratch`] keeps the walks that retries interrupted, [`WALK_WORDS`] each.
const SAVED_AT: usize = 2 * MAP_WORDS;

/// Words of a [`PlanScratch`]: the maps, then the interrupted walks (at most one per
/// retry level below the PMD plan's).
pub const PLAN_SCRATCH_WORDS: usize = SAVED_AT + (MAX_DEPTH - 1) * WALK_WORDS;

/// Room for what a plan packs, `PLAN_SCRATCH_WORDS` words (1256 bytes), which a caller
/// with little stack lends ([`Planner::with_scratch`]). First two kinds of map for each
/// order `k` from 2 to 6, bit `i` of word `w` for block `64 * w + i` of order `k`: a block
/// is good when it has no swapped-out or shared PTE and, unless one present PTE suffices,
/// every PTE present; occupied when it has a present PTE (kept only when that suffices).
/// Order 6 keeps both; orders 2 to 5, once the next order is made from them, keep their
/// qualifying blocks (good and occupied) and those of them in no qualifying block of the
/// next larger enabled order: a walk's starts, unless that order is not below its
/// region's. Then the walks that retries interrupted.
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

/// The blocks of the next order from those of `x`'s: bit `i` when bits `2i` and `2i + 1`
/// are both set (`ALL`) or one is.
fn halve<const ALL: bool>(x: u64) -> u64 {
    let x = if ALL { x & x >> 1 } else { x | x >> 1 } & 0x5555_5555_5555_5555;
    let x = (x | x >> 1) & 0x3333_3333_3333_3333;
    let x = (x | x >> 2) & 0x0f0f_0f0f_0f0f_0f0f;
    let x = (x | x >> 4) & 0x00ff_00ff_00ff_00ff;
    let x = (x | x >> 8) & 0x0000_ffff_0000_ffff;
    (x | x >> 16) & 0x0000_0000_ffff_ffff
}

/// The plan's view of the scan: the bitmaps, checked, and what is derived from them once.
#[derive(Clone, Copy, Debug)]
struct Selector<'a> {
    present: &'a [u64],
    swap: &'a [u64],
    shared: &'a [u64],
    pmd_order: u32,
    /// Enabled orders below the PMD order, at least [`MIN_ORDER`].
    sub_orders: u64,
    /// Below the PMD order one present PTE suffices (`max_ptes_none == HPAGE_PMD_NR - 1`);
    /// otherwise every PTE must be present.
    scaled: bool,
    /// `max_ptes_none` is neither 0 nor `HPAGE_PMD_NR - 1` and an order below PMD is enabled.
    none_unsupported: bool,
    /// No PTE is swapped out or shared: the passes need not read those bitmaps.
    clean: bool,
    /// The PMD order is enabled and qualifies.
    pmd_qualifies: bool,
    /// The packed maps are filled in.
    packed: bool,
    counts: PteCounts,
    /// The orders of `sub_orders` with a qualifying block somewhere, once `packed`.
    busy: u64,
}

impl<'a> Selector<'a> {
    fn new(scan: &PmdScan<'a>) -> Result<Self, PlanError> {
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
        // Only the low `nr` bits count when the PMD is smaller than a word. At most 8192
        // bits: no sum overflows. Swapped-out and shared PTEs are rare: count them if any.
        let valid = bit_range(0, nr.min(64));
        let count = |n: u32, &x: &u64| n.wrapping_add((x & valid).count_ones());
        let rare = |map: &[u64]| {
            let any = map.iter().fold(0, |any, &x| any | x) & valid != 0;
            if any {
                map.iter().fold(0, count)
            } else {
                0
            }
        };
        let counts = PteCounts {
            present: present.iter().fold(0, count),
            swap: rare(swap),
            shared: rare(shared),
        };
        let sub_orders = scan.enabled_orders & bit_range(MIN_ORDER, pmd_order);
        let pmd_enabled =
            scan.enabled_orders & bit_range(pmd_order, pmd_order.saturating_add(1)) != 0;
        let pmd_qualifies = pmd_enabled
            && counts.present.saturating_add(counts.swap) >= nr.saturating_sub(scan.max_ptes_none)
            && counts.swap <= scan.max_ptes_swap
            && counts.shared <= scan.max_ptes_shared;
        Ok(Selector {
            present,
            swap,
            shared,
            pmd_order,
            sub_orders,
            scaled: scan.max_ptes_none == limit,
            none_unsupported: sub_orders != 0
                && scan.max_ptes_none != 0
                && scan.max_ptes_none != limit,
            pmd_qualifies,
            clean: counts.swap == 0 && counts.shared == 0,
            packed: false,
            counts,
            busy: 0,
        })
    }

    /// Fills in the packed maps of the whole PMD, once, and sets `busy`: the good and
    /// occupied blocks of order 2 from the bitmaps, then those of each next order from the
    /// order below, whose pairs of bits are its blocks' halves, after which the order
    /// below keeps only its qualifying blocks and the starts a walk returns (see
    /// [`PlanScratch`]).
    fn pack(&mut self, maps: &mut PlanScratch) {
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

    /// The whole PMD, as a range.
    fn whole(&self) -> Range {
        Range {
            offset: 0,
            order: self.pmd_order,
        }
    }

    /// The blocks of order `k` (6 or more) in words `64 * g..64 * (g + 1)` that qualify and
    /// lie in no qualifying block of order `parent` (if not 0): bit `i` for the block
    /// starting at word `64 * g + i`. Both are lanes of order 6's map. Out of line: rare,
    /// and inlined it costs the walk's loop registers for the common orders.
    #[inline(never)]
    fn word_starts(&self, maps: &PlanScratch, k: u32, g: u32, parent: u32) -> u64 {
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
    if sel.counts.swap == 0 && sel.counts.shared == 0 {
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

/// Where one plan stands: one pass per enabled order that may find a range, largest first,
/// over one region, a map word at a time. 24 bytes: PTE offsets are below 8192 and orders
/// at most 13.
#[derive(Clone, Copy, Debug, Default)]
struct Walk {
    /// The starts still to return from the current map word: bit `i` for PTE
    /// `at + (i << shift)`.
    starts: u64,
    /// The first PTE of the current map word.
    at: u16,
    /// The region planned: `base..base + 2^top`, naturally aligned.
    base: u16,
    /// The pass's next map word, and the one past its last.
    next: u16,
    end: u16,
    top: u8,
    /// The order of the current pass, below `top`; for a plan of the PMD order alone, that
    /// order, over a `top` of [`MIN_ORDER`] that leaves no pass after it.
    order: u8,
    /// `min(order, 6)`: the order of the map the pass reads.
    shift: u8,
    /// The next larger enabled order below `top`, or 0.
    parent: u8,
    /// Below order 6, where the pass's map of starts begins in the [`PlanScratch`].
    map: u8,
}

/// Words of a saved [`Walk`].
const WALK_WORDS: usize = 3;

impl Walk {
    /// The walk as words, for the [`PlanScratch`] to keep while a retry interrupts it.
    fn save(&self) -> [u64; WALK_WORDS] {
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
    fn load([starts, a, b]: [u64; WALK_WORDS]) -> Self {
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
    fn below(sel: &Selector<'_>, range: Range) -> Self {
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
    fn pmd(sel: &Selector<'_>) -> Self {
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
    fn next_order(&mut self, sel: &Selector<'_>) -> bool {
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
    fn advance(&mut self, sel: &Selector<'_>, maps: &PlanScratch) -> Option<Range> {
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

/// A collapse plan for one PMD, or for one range of it ([`replan`]): an iterator over the
/// ranges to collapse, largest order first, then by offset.
#[derive(Clone, Debug)]
pub struct Plan<'a>(Planner<'a>);

impl Plan<'_> {
    /// Whether `max_ptes_none` is neither 0 nor `HPAGE_PMD_NR - 1` while an order below the
    /// PMD order is enabled: those orders then use 0, and 7.3 warns once
    /// (`pr_warn_once()` in `collapse_max_ptes_none()`).
    pub fn max_ptes_none_unsupported(&self) -> bool {
        self.0.sel.none_unsupported
    }

    /// The PMD's PTEs by kind.
    pub fn counts(&self) -> PteCounts {
        self.0.sel.counts
    }
}

impl Iterator for Plan<'_> {
    type Item = Range;

    #[inline]
    fn next(&mut self) -> Option<Range> {
        self.0.next()
    }
}

/// Plans the collapse of one PMD.
pub fn plan<'a>(scan: &PmdScan<'a>) -> Result<Plan<'a>, PlanError> {
    Planner::new(scan).map(Plan)
}

/// Checks that `range` is naturally aligned and inside the PMD.
fn check_range(sel: &Selector<'_>, range: Range) -> Result<(), PlanError> {
    let aligned = range.offset & pow2(range.order).wrapping_sub(1) == 0;
    if range.order > sel.pmd_order || !aligned || range.end() > pow2(sel.pmd_order) {
        return Err(PlanError::BadRange);
    }
    Ok(())
}

/// Plans `failed` again with the enabled orders below its own, after its collapse failed
/// for a reason a smaller order may not hit: the ranges inside it that 7.3's walk would try
/// next, with the rules of their orders (never the PMD order's).
pub fn replan<'a>(scan: &PmdScan<'a>, failed: Range) -> Result<Plan<'a>, PlanError> {
    let mut sel = Selector::new(scan)?;
    check_range(&sel, failed)?;
    let mut maps = [0; PLAN_SCRATCH_WORDS];
    sel.pack(&mut maps);
    Ok(Plan(Planner {
        cur: Walk::below(&sel, failed),
        sel,
        maps,
        depth: 0,
        last: NO_RANGE,
        below_pmd: false,
    }))
}

/// No range to retry (orders are below 256).
const NO_RANGE: u32 = u32::MAX;

/// Retry levels a [`Planner`] can hold: the PMD plan, then one per failed order from
/// [`MAX_PMD_ORDER`] down to `MIN_ORDER + 1`.
// CAST: 12 fits any `usize`.
const MAX_DEPTH: usize = (MAX_PMD_ORDER - MIN_ORDER + 1) as usize;

/// A plan with its retries: [`plan`] and [`replan`] in one fixed-size object.
///
/// The caller takes ranges with [`Iterator::next`] and, when a collapse fails for a reason
/// a smaller order may not hit, calls [`Planner::retry_smaller`]: the next ranges are then
/// the failed range's plan with the smaller orders, after which the interrupted plan goes
/// on. This is 7.3's walk with its failures, largest order first within each plan.
///
/// `S` holds the packed maps: a [`PlanScratch`] of its own ([`Planner::new`]), or one the
/// caller lends ([`Planner::with_scratch`]), for the planner to stay small.
///
/// Why covering is judged by the next larger enabled order alone: below the PMD order, a
/// qualifying block has no swapped-out or shared PTE and either all PTEs present or one
/// present; if it lies in a qualifying larger block, every enabled block between the two
/// also has no swapped-out or shared PTE, and is full (the larger block is) or holds a
/// present PTE (the smaller one does), so it qualifies too.
#[derive(Clone, Debug)]
pub struct Planner<'a, S = PlanScratch> {
    sel: Selector<'a>,
    maps: S,
    /// The innermost walk: the one ranges come from.
    cur: Walk,
    /// The walks it interrupted, saved in the maps' room, the innermost last.
    depth: usize,
    /// The range last returned, unless retried since: `offset << 8 | order`, or `NO_RANGE`.
    last: u32,
    /// The walk went below the PMD order over the whole PMD.
    below_pmd: bool,
}

impl<'a> Planner<'a> {
    /// Plans the collapse of one PMD, with maps of its own.
    pub fn new(scan: &PmdScan<'a>) -> Result<Self, PlanError> {
        Self::with_maps(scan, [0; PLAN_SCRATCH_WORDS])
    }
}

impl<'a> Planner<'a, &'a mut PlanScratch> {
    /// Plans the collapse of one PMD, with the packed maps in `scratch`, at least
    /// [`PLAN_SCRATCH_WORDS`] words ([`PlanError::BitmapTooShort`] if not): what was there
    /// is overwritten.
    pub fn with_scratch(scan: &PmdScan<'a>, scratch: &'a mut [u64]) -> Result<Self, PlanError> {
        let maps = scratch
            .get_mut(..PLAN_SCRATCH_WORDS)
            .and_then(|maps| <&mut PlanScratch>::try_from(maps).ok())
            .ok_or(PlanError::BitmapTooShort)?;
        Self::with_maps(scan, maps)
    }
}

impl<'a, S: BorrowMut<PlanScratch>> Planner<'a, S> {
    fn with_maps(scan: &PmdScan<'a>, mut maps: S) -> Result<Self, PlanError> {
        let mut sel = Selector::new(scan)?;
        if !sel.pmd_qualifies && sel.sub_orders != 0 {
            sel.pack(maps.borrow_mut());
        }
        Ok(Planner {
            cur: Walk::pmd(&sel),
            sel,
            maps,
            depth: 0,
            last: NO_RANGE,
            below_pmd: !sel.pmd_qualifies,
        })
    }

    /// Plans the range last returned again with the smaller enabled orders; its ranges
    /// come next. Returns whether any smaller order is enabled below it.
    pub fn retry_smaller(&mut self) -> bool {
        if self.last == NO_RANGE {
            return false;
        }
        let range = Range {
            offset: self.last >> 8,
            order: self.last & 0xff,
        };
        self.last = NO_RANGE;
        let pmd = range.order == self.sel.pmd_order;
        self.below_pmd |= pmd;
        if order_below(self.sel.sub_orders, range.order).is_none() {
            return false;
        }
        // The plan was the PMD order alone, made without the maps.
        self.sel.pack(self.maps.borrow_mut());
        let cur = Walk::below(&self.sel, range);
        if cur.next >= cur.end {
            // Enabled orders, but none that would find a range.
            return true;
        }
        // The failed range came from the innermost walk, whose ranges are all smaller than
        // its region (the PMD plan's own PMD range aside): regions shrink by at least one
        // order per level from the PMD order down to 3, so `depth` stays below `MAX_DEPTH`.
        let at = SAVED_AT.saturating_add(self.depth.saturating_mul(WALK_WORDS));
        match self
            .maps
            .borrow_mut()
            .get_mut(at..at.saturating_add(WALK_WORDS))
        {
            Some(slot) => {
                slot.iter_mut()
                    .zip(self.cur.save())
                    .for_each(|(s, x)| *s = x);
                self.cur = cur;
                self.depth = self.depth.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// See [`Plan::max_ptes_none_unsupported`].
    pub fn max_ptes_none_unsupported(&self) -> bool {
        self.sel.none_unsupported
    }

    /// The PMD's PTEs by kind.
    pub fn counts(&self) -> PteCounts {
        self.sel.counts
    }

    /// Whether 7.3's walk, met with the same failures, goes below the PMD order over the
    /// whole PMD: the PMD order is not planned, or its collapse was retried at smaller
    /// orders. The ranges [`blocked`] counts are then the ones it met.
    pub fn walked_below_pmd(&self) -> bool {
        self.below_pmd
    }
}

impl<S: BorrowMut<PlanScratch>> Iterator for Planner<'_, S> {
    type Item = Range;

    #[inline]
    fn next(&mut self) -> Option<Range> {
        let maps = self.maps.borrow();
        loop {
            if let Some(range) = self.cur.advance(&self.sel, maps) {
                self.last = range.offset.wrapping_shl(8) | range.order;
                return Some(range);
            }
            // Back to the walk the finished one interrupted.
            let Some(resumed) = self.depth.checked_sub(1) else {
                self.last = NO_RANGE;
                return None;
            };
            let at = SAVED_AT.saturating_add(resumed.saturating_mul(WALK_WORDS));
            let mut saved = [0; WALK_WORDS];
            if let Some(slot) = maps.get(at..at.saturating_add(WALK_WORDS)) {
                saved.iter_mut().zip(slot).for_each(|(x, s)| *x = *s);
            }
            self.cur = Walk::load(saved);
            self.depth = resumed;
        }
    }
}
