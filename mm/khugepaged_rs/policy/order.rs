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
//! No allocation, no recursion and no loop over single PTEs: a rule takes a few word
//! operations for all the blocks of a word at once (adding 1 at each block's first PTE
//! carries into its last when the block is full). [`plan`] counts the bits a word at a time
//! (at most 128 words a bitmap); unless the PMD order alone is planned, it then summarizes
//! each word once (good, occupied, which orders from 2 to 5 find a qualifying block in it)
//! and makes one pass per enabled order that may find a range. From order 6 a pass judges
//! blocks of words on the summaries, 64 words to a `u64`; below, it takes `2^k` words at a
//! time, visits those with a qualifying block, packs their blocks into one `u64`, one bit
//! each, drops those inside a qualifying block of the next larger order, and returns the
//! rest with `trailing_zeros`. [`replan`] summarizes the words of its range only. A
//! [`Planner`] keeps one 24-byte pass per level of retry, at most [`MAX_PMD_ORDER`] - 1 of
//! them: 496 bytes in all on 64-bit.

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
    counts: PteCounts,
    /// Words with no swapped-out or shared PTE and, unless `scaled`, every PTE present: a
    /// block of words qualifies when all its words are good and (if `scaled`) one occupied.
    good: WordSet,
    /// If `scaled`: the words with a present PTE.
    occupied: WordSet,
    /// For each order `k` from 2 to 5: the words with a qualifying block of order `k`.
    has: [WordSet; SMALL_ORDERS],
    /// The orders of `sub_orders` whose pass may find a range: those below 6 with a word in
    /// `has`, those from 6 on if a word is good.
    busy: u64,
}

/// Orders from [`MIN_ORDER`] up to a word's, exclusive.
// CAST: 4 fits any `usize`.
const SMALL_ORDERS: usize = (WORD_ORDER - MIN_ORDER) as usize;

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
        // bits: no sum overflows. Swapped-out and shared PTEs are rare: skip empty words.
        let valid = bit_range(0, nr.min(64));
        let count = |n: u32, &x: &u64| n.wrapping_add((x & valid).count_ones());
        let rare = |n: u32, x: &u64| if *x == 0 { n } else { count(n, x) };
        let counts = PteCounts {
            present: present.iter().fold(0, count),
            swap: swap.iter().fold(0, rare),
            shared: shared.iter().fold(0, rare),
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
            counts,
            good: WordSet::default(),
            occupied: WordSet::default(),
            has: [WordSet::default(); SMALL_ORDERS],
            busy: 0,
        })
    }

    /// Fills in the summaries of the words that hold PTEs of `range` (the orders below the
    /// PMD order plan with them), once.
    fn summarize(&mut self, range: Range) {
        let words = (range.offset >> WORD_ORDER, range.end().div_ceil(64));
        if self.scaled {
            self.summarize_as::<true>(words);
        } else {
            self.summarize_as::<false>(words);
        }
        let found = |set: &WordSet| set.0 != [0, 0];
        let mut busy = if found(&self.good) {
            !bit_range(0, WORD_ORDER)
        } else {
            0
        };
        for (k, has) in (MIN_ORDER..).zip(&self.has) {
            busy |= u64::from(found(has)).wrapping_shl(k);
        }
        self.busy = busy & self.sub_orders;
    }

    /// [`Selector::summarize`] for `scaled == SCALED`, words `from..to`, a word at a time.
    fn summarize_as<const SCALED: bool>(&mut self, (from, to): (u32, u32)) {
        let valid = bit_range(0, pow2(self.pmd_order).min(64));
        let small = self.sub_orders & bit_range(0, WORD_ORDER) != 0;
        let word = |bitmap: &[u64], w: u32| bitmap.get(idx(w)).copied().unwrap_or(0) & valid;
        for g in 0..2 {
            let (mut good, mut occupied, mut has) = (0u64, 0u64, [0u64; SMALL_ORDERS]);
            for w in from.max(64 * g)..to.min(64 * (g + 1)) {
                let (p, bit) = (word(self.present, w), w & 63);
                let bad = if self.clean {
                    0
                } else {
                    word(self.swap, w) | word(self.shared, w)
                };
                // A block qualifies when all its bits of `all` and (if `SCALED`) one of
                // `p` are set.
                let all = if SCALED { !bad } else { p & !bad };
                good |= u64::from(all == u64::MAX).wrapping_shl(bit);
                // Only a word with a present PTE can hold a qualifying block.
                if p == 0 {
                    continue;
                }
                occupied |= u64::from(SCALED).wrapping_shl(bit);
                if !small {
                    continue;
                }
                // Order by order, each block from the two halves the order below judged.
                let mut all = Lanes::of(MIN_ORDER).all(all);
                let mut any = if SCALED {
                    Lanes::of(MIN_ORDER).any(p)
                } else {
                    u64::MAX
                };
                for (k, has) in (MIN_ORDER..).zip(&mut has) {
                    if k > MIN_ORDER {
                        let (half, last) = (pow2(k.saturating_sub(1)), Lanes::of(k).last);
                        all &= all.wrapping_shl(half) & last;
                        if SCALED {
                            any = (any | any.wrapping_shl(half)) & last;
                        }
                    }
                    // A qualifying block's halves qualify: no larger order has one either.
                    if all & any == 0 {
                        break;
                    }
                    *has |= 1u64.wrapping_shl(bit);
                }
            }
            let store = |set: &mut WordSet, bits| set.0.get_mut(idx(g)).map(|x| *x = bits);
            store(&mut self.good, good);
            store(&mut self.occupied, occupied);
            for (set, bits) in self.has.iter_mut().zip(has) {
                store(set, bits);
            }
        }
    }

    /// The words of group `g` that start a qualifying block of order `6 + j`, `j <= 6`.
    fn word_blocks(&self, g: u32, j: u32) -> u64 {
        let lanes = Lanes::of(j);
        let mut q = lanes.all(self.good.group(g));
        if self.scaled {
            q &= lanes.any(self.occupied.group(g));
        }
        lanes.to_first(q)
    }

    /// The words of group `g` in no qualifying block of order `parent`, if that is 6 or
    /// more.
    fn uncovered(&self, g: u32, parent: u32) -> u64 {
        match parent.checked_sub(WORD_ORDER) {
            Some(j) => !Lanes::of(j).fill(self.word_blocks(g, j)),
            None => u64::MAX,
        }
    }

    /// The whole PMD, as a range.
    fn whole(&self) -> Range {
        Range {
            offset: 0,
            order: self.pmd_order,
        }
    }

    /// The blocks of order `K < 6` that qualify below the PMD order and lie in no
    /// qualifying block of order `parent` (if not 0), in words `first..first + n` (at most
    /// `2^K`, in one group), their PTEs limited to `in_word`: bit `i` for the `i`-th block.
    fn blocks<const K: u32>(&self, first: u32, n: u32, parent: u32, in_word: u64) -> u64 {
        let g = first >> WORD_ORDER;
        let has = self.has.get(idx(K.wrapping_sub(MIN_ORDER)));
        let words = has.map_or(0, |has| has.group(g)) & self.uncovered(g, parent);
        let mut words = words.wrapping_shr(first) & bit_range(0, n);
        if words == 0 {
            return 0;
        }
        let (lanes, per_word) = (Lanes::of(K), 64u32.wrapping_shr(K));
        let word = |bitmap: &[u64], w: u32| bitmap.get(idx(w)).copied().unwrap_or(0);
        let pack = |x: u64, i: u32| {
            pack::<K>(lanes.to_first(x) & in_word).wrapping_shl(i.wrapping_mul(per_word))
        };
        // The blocks with every PTE good and (if `scaled`) those with a present PTE, one bit
        // per block: a block qualifies when it is in both.
        let (mut all, mut any) = (0, if self.scaled { 0 } else { u64::MAX });
        while words != 0 {
            let i = words.trailing_zeros();
            words &= words.wrapping_sub(1);
            let w = first.wrapping_add(i);
            let p = word(self.present, w);
            let bad = if self.clean {
                0
            } else {
                word(self.swap, w) | word(self.shared, w)
            };
            if self.scaled {
                all |= pack(lanes.all(!bad), i);
                any |= pack(lanes.any(p), i);
            } else {
                all |= pack(lanes.all(p & !bad), i);
            }
        }
        // A block of `parent` is a lane of `2^(parent - K)` bits here.
        let cover = match parent.checked_sub(K).filter(|&j| j < WORD_ORDER) {
            Some(j) => {
                let larger = Lanes::of(j);
                larger.fill(larger.to_first(larger.all(all) & larger.any(any)))
            }
            None => 0,
        };
        all & any & !cover
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
/// over one region, a batch at a time: below order 6 `2^k` words, from there 64 words. 24
/// bytes: PTE offsets are below 8192 and orders at most 13.
#[derive(Clone, Copy, Debug, Default)]
struct Walk {
    /// The starts still to return in the batch at `chunk`: below order 6 bit `i` for its
    /// `i`-th block, from there bit `i` for its `i`-th word.
    starts: u64,
    /// The region planned: `base..base + 2^top`, naturally aligned.
    base: u16,
    /// The first PTE of the batch that `starts` is about.
    chunk: u16,
    /// The first PTE of this pass's next batch.
    next: u16,
    top: u8,
    /// The order of the current pass, below `top` (but for a plan of just the PMD order);
    /// below [`MIN_ORDER`] once done.
    order: u8,
    /// `order`, at most 6: bit `i` of `starts` is PTE `chunk + (i << shift)`.
    shift: u8,
    /// The next larger enabled order below `top`, or 0.
    parent: u8,
}

impl Walk {
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
        let mut walk = Walk::below(sel, sel.whole());
        if sel.pmd_qualifies {
            // Its one range, then nothing: `next_batch()` ends a pass of order `top`.
            (walk.starts, walk.chunk, walk.shift, walk.order) = (1, 0, 0, walk.top);
        }
        walk
    }

    /// Starts the pass of the next smaller enabled order that may find a range.
    fn next_order(&mut self, sel: &Selector<'_>) {
        let order = order_below(sel.busy, self.order.into()).unwrap_or(0);
        // The lowest enabled order above it and below `top`, if any.
        let parent = (sel.sub_orders & !bit_range(0, order.saturating_add(1))).trailing_zeros();
        self.parent = if parent < self.top.into() {
            narrow(parent, 0)
        } else {
            0
        };
        self.order = narrow(order, 0);
        self.shift = narrow(order.min(WORD_ORDER), 0);
        self.next = self.base;
    }

    /// The next range of the plan.
    #[inline]
    fn advance(&mut self, sel: &Selector<'_>) -> Option<Range> {
        if self.starts == 0 && !self.next_batch(sel) {
            return None;
        }
        let bit = self.starts.trailing_zeros();
        self.starts &= self.starts.wrapping_sub(1);
        Some(Range {
            offset: u32::from(self.chunk).wrapping_add(bit.wrapping_shl(self.shift.into())),
            order: self.order.into(),
        })
    }

    /// Fills `starts` with the next batch that has a range, starting smaller orders as passes
    /// end; false once the plan is done. Each loop iteration takes a batch or an order.
    #[inline(never)]
    fn next_batch(&mut self, sel: &Selector<'_>) -> bool {
        let (top, base) = (u32::from(self.top), u32::from(self.base));
        let end = base.saturating_add(pow2(top));
        // The region's words: `2^(top - 6)`, or a part of one.
        let region = top.saturating_sub(WORD_ORDER);
        loop {
            let (k, next) = (u32::from(self.order), u32::from(self.next));
            if k < MIN_ORDER || k >= top {
                return false;
            }
            if next >= end {
                self.next_order(sel);
                continue;
            }
            // A block inside a qualifying block of the next larger enabled order is covered
            // by that block or by a larger one: whichever range covers the larger block is
            // planned instead (see `Planner`'s proof).
            let parent = u32::from(self.parent);
            let (chunk, len) = if k < WORD_ORDER {
                let (chunk, n) = (next & !63, pow2(k.min(region)));
                let in_word = Lanes::of(top.min(WORD_ORDER)).one.wrapping_shl(base & 63);
                let first = chunk >> WORD_ORDER;
                // One instance per order, for its masks and shifts to be constants.
                self.starts = match k {
                    2 => sel.blocks::<2>(first, n, parent, in_word),
                    3 => sel.blocks::<3>(first, n, parent, in_word),
                    4 => sel.blocks::<4>(first, n, parent, in_word),
                    _ => sel.blocks::<5>(first, n, parent, in_word),
                };
                (chunk, pow2(k.saturating_add(WORD_ORDER)))
            } else {
                let (g, first) = (next >> (2 * WORD_ORDER), (next >> WORD_ORDER) & 63);
                let words = bit_range(first, first.saturating_add(pow2(region)).min(64));
                let found = sel.word_blocks(g, k.saturating_sub(WORD_ORDER));
                self.starts = found & sel.uncovered(g, parent) & words;
                (next & !4095, 4096)
            };
            self.chunk = narrow(chunk, u16::MAX);
            self.next = narrow(chunk.saturating_add(len), u16::MAX);
            if self.starts != 0 {
                return true;
            }
        }
    }
}

/// A collapse plan for one PMD, or for one range of it ([`replan`]): an iterator over the
/// ranges to collapse, largest order first, then by offset.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    sel: Selector<'a>,
    cur: Walk,
}

impl Plan<'_> {
    /// Whether `max_ptes_none` is neither 0 nor `HPAGE_PMD_NR - 1` while an order below the
    /// PMD order is enabled: those orders then use 0, and 7.3 warns once
    /// (`pr_warn_once()` in `collapse_max_ptes_none()`).
    pub fn max_ptes_none_unsupported(&self) -> bool {
        self.sel.none_unsupported
    }

    /// The PMD's PTEs by kind.
    pub fn counts(&self) -> PteCounts {
        self.sel.counts
    }
}

impl Iterator for Plan<'_> {
    type Item = Range;

    #[inline]
    fn next(&mut self) -> Option<Range> {
        self.cur.advance(&self.sel)
    }
}

/// Plans the collapse of one PMD.
pub fn plan<'a>(scan: &PmdScan<'a>) -> Result<Plan<'a>, PlanError> {
    let mut sel = Selector::new(scan)?;
    if !sel.pmd_qualifies && sel.sub_orders != 0 {
        sel.summarize(sel.whole());
    }
    Ok(Plan {
        cur: Walk::pmd(&sel),
        sel,
    })
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
    sel.summarize(failed);
    Ok(Plan {
        cur: Walk::below(&sel, failed),
        sel,
    })
}

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
/// Why covering is judged by the next larger enabled order alone: below the PMD order, a
/// qualifying block has no swapped-out or shared PTE and either all PTEs present or one
/// present; if it lies in a qualifying larger block, every enabled block between the two
/// also has no swapped-out or shared PTE, and is full (the larger block is) or holds a
/// present PTE (the smaller one does), so it qualifies too.
#[derive(Clone, Debug)]
pub struct Planner<'a> {
    sel: Selector<'a>,
    stack: [Walk; MAX_DEPTH],
    /// Walks in use, the innermost retry last; 0 once everything is done.
    depth: usize,
    last: Option<Range>,
    /// The walk went below the PMD order over the whole PMD.
    below_pmd: bool,
}

impl<'a> Planner<'a> {
    /// Plans the collapse of one PMD.
    pub fn new(scan: &PmdScan<'a>) -> Result<Self, PlanError> {
        let mut sel = Selector::new(scan)?;
        if !sel.pmd_qualifies && sel.sub_orders != 0 {
            sel.summarize(sel.whole());
        }
        // Only `stack[..depth]` is ever read: the other slots are filled before they are.
        Ok(Planner {
            sel,
            stack: [Walk::pmd(&sel); MAX_DEPTH],
            depth: 1,
            last: None,
            below_pmd: !sel.pmd_qualifies,
        })
    }

    /// Plans the range last returned again with the smaller enabled orders; its ranges
    /// come next. Returns whether any smaller order is enabled below it.
    pub fn retry_smaller(&mut self) -> bool {
        let Some(range) = self.last.take() else {
            return false;
        };
        let pmd = range.order == self.sel.pmd_order;
        self.below_pmd |= pmd;
        if order_below(self.sel.sub_orders, range.order).is_none() {
            return false;
        }
        if pmd {
            // The plan was the PMD order alone, planned without the word summaries.
            self.sel.summarize(range);
        }
        let cur = Walk::below(&self.sel, range);
        if u32::from(cur.order) < MIN_ORDER {
            // Enabled orders, but none that would find a range.
            return true;
        }
        // The failed range came from the innermost walk, whose ranges are all smaller than
        // its region (the PMD plan's own PMD range aside): regions shrink by at least one
        // order per level from the PMD order down to 3, so `depth` stays below `MAX_DEPTH`.
        match self.stack.get_mut(self.depth) {
            Some(slot) => {
                *slot = cur;
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

impl Iterator for Planner<'_> {
    type Item = Range;

    #[inline]
    fn next(&mut self) -> Option<Range> {
        while let Some(top) = self.depth.checked_sub(1) {
            let sel = &self.sel;
            let found = self.stack.get_mut(top).and_then(|walk| walk.advance(sel));
            if found.is_some() {
                self.last = found;
                return found;
            }
            self.depth = top;
        }
        self.last = None;
        None
    }
}
