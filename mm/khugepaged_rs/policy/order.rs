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
//! No allocation and no recursion. [`plan`] reads the bitmaps once, counting their bits and
//! noting which words are full, clean or occupied (at most 128 words); the plan then makes
//! one pass per enabled order below the PMD order, each linear in the bitmap words (blocks
//! of 64 PTEs or more are judged on the word summary), with 40 bytes of state. A
//! [`Planner`] keeps one such state per level of retry, at most [`MAX_PMD_ORDER`] - 1 of
//! them packed in 24 bytes each: 440 bytes in all on 64-bit.

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

/// Bits `lo..hi` of a word, `lo <= hi <= 64`.
fn bit_range(lo: u32, hi: u32) -> u64 {
    let below_hi = u64::MAX.checked_shr(64u32.saturating_sub(hi)).unwrap_or(0);
    let from_lo = u64::MAX.checked_shl(lo).unwrap_or(0);
    below_hi & from_lo
}

/// The bits at which blocks of `order < 6` start in a word.
fn block_starts(order: u32) -> u64 {
    match order {
        0 => u64::MAX,
        1 => 0x5555_5555_5555_5555,
        2 => 0x1111_1111_1111_1111,
        3 => 0x0101_0101_0101_0101,
        4 => 0x0001_0001_0001_0001,
        5 => 0x0000_0001_0000_0001,
        _ => 1,
    }
}

/// Shift distances that fold a word onto block starts, one per order below 6.
const FOLDS: [u32; 6] = [1, 2, 4, 8, 16, 32];

/// Sets bit `i` iff bits `i..i + 2^order` are all set (for block starts of `order < 6`).
fn fold_all(mut x: u64, order: u32) -> u64 {
    for &d in FOLDS.iter().take(idx(order)) {
        x &= x.wrapping_shr(d);
    }
    x
}

/// Sets bit `i` iff one of bits `i..i + 2^order` is set (for block starts of `order < 6`).
fn fold_any(mut x: u64, order: u32) -> u64 {
    for &d in FOLDS.iter().take(idx(order)) {
        x |= x.wrapping_shr(d);
    }
    x
}

/// Widens block-start bits of `order < 6` to cover their whole blocks.
fn spread(mut x: u64, order: u32) -> u64 {
    for &d in FOLDS.iter().take(idx(order)) {
        x |= x.wrapping_shl(d);
    }
    x
}

/// The highest enabled order in `orders` below `below`, if it is at least [`MIN_ORDER`].
fn order_below(orders: u64, below: u32) -> Option<u32> {
    let mask = u64::MAX
        .checked_shr(64u32.saturating_sub(below))
        .unwrap_or(0);
    let m = orders & mask;
    if m == 0 {
        return None;
    }
    let k = 63u32.saturating_sub(m.leading_zeros());
    (k >= MIN_ORDER).then_some(k)
}

/// The lowest enabled order in `orders` above `above` and below `below`.
fn order_above(orders: u64, above: u32, below: u32) -> Option<u32> {
    let m = orders & u64::MAX.checked_shl(above.saturating_add(1)).unwrap_or(0);
    let k = m.trailing_zeros();
    (m != 0 && k < below).then_some(k)
}

/// One bit per bitmap word of the PMD (at most 128): whether the word has some property.
#[derive(Clone, Copy, Debug, Default)]
struct WordSet([u64; 2]);

impl WordSet {
    fn insert(&mut self, w: u32) {
        if let Some(x) = self.0.get_mut(idx(w >> WORD_ORDER)) {
            *x |= 1u64.wrapping_shl(w & 63);
        }
    }

    /// The members among words `start..start + 2^order`, `order <= 7`, `start` aligned:
    /// within one `u64` below order 6, whole ones from there.
    fn range(&self, start: u32, order: u32) -> (u64, u64) {
        let x = self.0.get(idx(start >> WORD_ORDER)).copied().unwrap_or(0);
        match order {
            0..=5 => {
                let bits = bit_range(0, pow2(order)).wrapping_shl(start & 63);
                (x & bits, bits)
            }
            6 => (x, u64::MAX),
            _ => {
                // Both halves must be in the set: fold them into one.
                let y = self.0.get(1).copied().unwrap_or(0);
                (x & y, u64::MAX)
            }
        }
    }

    /// The first member from word `w` on.
    fn next_from(&self, w: u32) -> Option<u32> {
        let (lo, hi) = (self.0.first().copied()?, self.0.get(1).copied()?);
        let lo = if w < 64 {
            lo & u64::MAX.wrapping_shl(w)
        } else {
            0
        };
        let hi = if w < 64 {
            hi
        } else {
            hi & u64::MAX.checked_shl(w.saturating_sub(64)).unwrap_or(0)
        };
        if lo != 0 {
            Some(lo.trailing_zeros())
        } else if hi != 0 {
            Some(hi.trailing_zeros().saturating_add(64))
        } else {
            None
        }
    }

    /// Whether every word of `start..start + 2^order` is a member.
    fn all(&self, start: u32, order: u32) -> bool {
        let (m, bits) = self.range(start, order);
        m == bits
    }

    /// Whether some word of `start..start + 2^order` is a member.
    fn any(&self, start: u32, order: u32) -> bool {
        match order {
            7.. => self.0.iter().any(|&x| x != 0),
            _ => self.range(start, order).0 != 0,
        }
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
    /// The PMD order is enabled and qualifies.
    pmd_qualifies: bool,
    counts: PteCounts,
    /// Words with every PTE present and none swapped out or shared.
    full: WordSet,
    /// Words with no swapped-out or shared PTE.
    clean: WordSet,
    /// Words with a present PTE.
    occupied: WordSet,
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
        // Only the low `nr` bits count when the PMD is smaller than a word.
        let valid = bit_range(0, nr.min(64));
        let mut counts = PteCounts::default();
        let (mut full, mut clean, mut occupied) =
            (WordSet::default(), WordSet::default(), WordSet::default());
        for (w, ((&p, &s), &h)) in (0u32..).zip(present.iter().zip(swap).zip(shared)) {
            let (p, s, h) = (p & valid, s & valid, h & valid);
            counts.present = counts.present.saturating_add(p.count_ones());
            counts.swap = counts.swap.saturating_add(s.count_ones());
            counts.shared = counts.shared.saturating_add(h.count_ones());
            if p & !(s | h) == u64::MAX {
                full.insert(w);
            }
            if s | h == 0 {
                clean.insert(w);
            }
            if p != 0 {
                occupied.insert(w);
            }
        }
        let limit = nr.saturating_sub(1);
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
            counts,
            full,
            clean,
            occupied,
        })
    }

    fn word(bitmap: &[u64], w: u32) -> u64 {
        bitmap.get(idx(w)).copied().unwrap_or(0)
    }

    /// The starts of the blocks of `order < 6` in word `w` that qualify below the PMD order.
    fn qualifying_starts(&self, w: u32, order: u32) -> u64 {
        let p = Self::word(self.present, w);
        let bad = Self::word(self.swap, w) | Self::word(self.shared, w);
        let q = if self.scaled {
            fold_all(!bad, order) & fold_any(p, order)
        } else {
            fold_all(p & !bad, order)
        };
        q & block_starts(order)
    }

    /// Whether the block of `order >= 6` at `start` qualifies below the PMD order: all its
    /// words full, or (scaled limit) all clean and one occupied.
    fn block_qualifies(&self, start: u32, order: u32) -> bool {
        let w = start >> WORD_ORDER;
        let k = order.saturating_sub(WORD_ORDER);
        if self.scaled {
            self.clean.all(w, k) && self.occupied.any(w, k)
        } else {
            self.full.all(w, k)
        }
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

    fn add(counts: &mut [u16], order: u32, n: u32) {
        if let Some(c) = counts.get_mut(idx(order)) {
            *c = c.saturating_add(narrow(n, u16::MAX));
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
    let nr = pow2(sel.pmd_order);
    let valid = bit_range(0, nr.min(64));
    let words = nr.div_ceil(64);
    let mut orders = sel.sub_orders;
    while orders != 0 {
        let k = orders.trailing_zeros();
        orders &= orders.wrapping_sub(1);
        let (mut swap, mut shared) = (0u32, 0u32);
        if k < WORD_ORDER {
            let starts = block_starts(k) & valid;
            for w in 0..words {
                let p = Selector::word(sel.present, w) & valid;
                let s = Selector::word(sel.swap, w) & valid;
                let h = Selector::word(sel.shared, w) & valid;
                let present_ok = if sel.scaled {
                    fold_any(p, k)
                } else {
                    fold_all(p, k)
                };
                let has_swap = fold_any(s, k);
                let m = starts & present_ok;
                swap = swap.saturating_add((m & has_swap).count_ones());
                shared = shared.saturating_add((m & !has_swap & fold_any(h, k)).count_ones());
            }
        } else {
            let per_block = pow2(k.saturating_sub(WORD_ORDER));
            let mut w = 0;
            while w < words {
                let (mut any_p, mut all_p, mut any_s, mut any_h) = (false, true, false, false);
                for i in w..w.saturating_add(per_block).min(words) {
                    let p = Selector::word(sel.present, i);
                    any_p |= p != 0;
                    all_p &= p == u64::MAX;
                    any_s |= Selector::word(sel.swap, i) != 0;
                    any_h |= Selector::word(sel.shared, i) != 0;
                }
                if if sel.scaled { any_p } else { all_p } {
                    if any_s {
                        swap = swap.saturating_add(1);
                    } else if any_h {
                        shared = shared.saturating_add(1);
                    }
                }
                w = w.saturating_add(per_block);
            }
        }
        Blocked::add(&mut out.swap, k, swap);
        Blocked::add(&mut out.shared, k, shared);
    }
    Ok(out)
}

/// Where one plan stands: one pass per enabled order, largest first, over one region.
#[derive(Clone, Copy, Debug)]
struct Walk {
    /// The region planned: `base..end`, naturally aligned.
    base: u32,
    end: u32,
    /// Orders considered are below `top`, the region's own order.
    top: u32,
    /// The order of the current pass; below [`MIN_ORDER`] once the plan is done.
    order: u32,
    /// The next PTE the pass looks at.
    pos: u32,
    /// Up to here lies in a block of the next larger enabled order (of at least a word)
    /// that is known not to qualify.
    clear_until: u32,
    /// The whole PMD is still to be offered (a plan's first step).
    pmd_pending: bool,
    /// Below order 6: the starts still to return in word `word` of this pass.
    word: u32,
    starts: u64,
}

/// A [`Walk`] as a [`Planner`] keeps it, in 24 bytes rather than 40: PTE offsets are at
/// most 8192 and orders at most 13.
#[derive(Clone, Copy, Debug, Default)]
struct Packed {
    starts: u64,
    base: u16,
    end: u16,
    pos: u16,
    clear_until: u16,
    top: u8,
    order: u8,
    word: u8,
    pmd_pending: bool,
}

/// Narrows a PTE offset or an order; they all fit (see [`Packed`]).
fn narrow<T: TryFrom<u32> + Copy>(x: u32, max: T) -> T {
    T::try_from(x).unwrap_or(max)
}

impl From<Walk> for Packed {
    fn from(w: Walk) -> Self {
        Packed {
            starts: w.starts,
            base: narrow(w.base, u16::MAX),
            end: narrow(w.end, u16::MAX),
            pos: narrow(w.pos, u16::MAX),
            clear_until: narrow(w.clear_until, u16::MAX),
            top: narrow(w.top, 0),
            order: narrow(w.order, 0),
            word: narrow(w.word, u8::MAX),
            pmd_pending: w.pmd_pending,
        }
    }
}

impl From<Packed> for Walk {
    fn from(p: Packed) -> Self {
        Walk {
            base: p.base.into(),
            end: p.end.into(),
            top: p.top.into(),
            order: p.order.into(),
            pos: p.pos.into(),
            clear_until: p.clear_until.into(),
            pmd_pending: p.pmd_pending,
            word: p.word.into(),
            starts: p.starts,
        }
    }
}

impl Walk {
    /// Plans `range` with the enabled orders below its own.
    fn below(sel: &Selector<'_>, range: Range) -> Self {
        Walk {
            base: range.offset,
            end: range.end(),
            top: range.order,
            order: order_below(sel.sub_orders, range.order).unwrap_or(0),
            pos: range.offset,
            clear_until: range.offset,
            pmd_pending: false,
            word: 0,
            starts: 0,
        }
    }

    /// Plans the whole PMD.
    fn pmd(sel: &Selector<'_>) -> Self {
        let whole = Range {
            offset: 0,
            order: sel.pmd_order,
        };
        Walk {
            pmd_pending: true,
            ..Walk::below(sel, whole)
        }
    }

    /// The next range of the plan. Each call resumes the pass where the last one stopped;
    /// every loop iteration moves `pos` forward or starts the next (smaller) order.
    fn advance(&mut self, sel: &Selector<'_>) -> Option<Range> {
        if self.pmd_pending {
            self.pmd_pending = false;
            if sel.pmd_qualifies {
                self.order = 0;
                return Some(Range {
                    offset: 0,
                    order: sel.pmd_order,
                });
            }
        }
        while self.order >= MIN_ORDER {
            let k = self.order;
            if self.pos >= self.end {
                self.order = order_below(sel.sub_orders, k).unwrap_or(0);
                self.pos = self.base;
                self.clear_until = self.base;
                self.starts = 0;
                continue;
            }
            let w = self.pos >> WORD_ORDER;
            if self.starts != 0 && self.word == w {
                // The rest of the word found by the last call: same order, same parent.
                let offset = (w << WORD_ORDER).saturating_add(self.starts.trailing_zeros());
                self.starts &= self.starts.wrapping_sub(1);
                self.pos = offset.saturating_add(pow2(k));
                return Some(Range { offset, order: k });
            }
            // A block inside a qualifying block of the next larger enabled order is covered
            // by that block or by a larger one: whichever range covers the larger block is
            // planned instead (see `Planner`'s proof).
            let parent = order_above(sel.sub_orders, k, self.top);
            if let Some(p) = parent.filter(|&p| p >= WORD_ORDER) {
                if self.pos >= self.clear_until {
                    let start = self.pos & !pow2(p).wrapping_sub(1);
                    let end = start.saturating_add(pow2(p));
                    if sel.block_qualifies(start, p) {
                        self.pos = end;
                        continue;
                    }
                    self.clear_until = end;
                }
            }
            if k >= WORD_ORDER {
                let start = self.pos;
                self.pos = start.saturating_add(pow2(k));
                if sel.block_qualifies(start, k) {
                    return Some(Range {
                        offset: start,
                        order: k,
                    });
                }
                continue;
            }
            // Blocks of every mode need a present PTE: go to the next word that has one.
            match sel.occupied.next_from(w) {
                Some(next) if next == w => {}
                Some(next) => {
                    self.pos = next << WORD_ORDER;
                    continue;
                }
                None => {
                    self.pos = self.end;
                    continue;
                }
            }
            let word_start = w << WORD_ORDER;
            let hi = self.end.saturating_sub(word_start).min(64);
            let mut m = sel.qualifying_starts(w, k) & bit_range(self.pos & 63, hi);
            if let Some(p) = parent.filter(|&p| p < WORD_ORDER) {
                m &= !spread(sel.qualifying_starts(w, p), p);
            }
            if m == 0 {
                self.pos = word_start.saturating_add(64);
                continue;
            }
            let offset = word_start.saturating_add(m.trailing_zeros());
            self.pos = offset.saturating_add(pow2(k));
            self.word = w;
            self.starts = m & m.wrapping_sub(1);
            return Some(Range { offset, order: k });
        }
        None
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

    fn next(&mut self) -> Option<Range> {
        self.cur.advance(&self.sel)
    }
}

/// Plans the collapse of one PMD.
pub fn plan<'a>(scan: &PmdScan<'a>) -> Result<Plan<'a>, PlanError> {
    let sel = Selector::new(scan)?;
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
    let sel = Selector::new(scan)?;
    check_range(&sel, failed)?;
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
    stack: [Packed; MAX_DEPTH],
    /// Walks in use, the innermost retry last; 0 once everything is done.
    depth: usize,
    last: Option<Range>,
    /// The walk went below the PMD order over the whole PMD.
    below_pmd: bool,
}

impl<'a> Planner<'a> {
    /// Plans the collapse of one PMD.
    pub fn new(scan: &PmdScan<'a>) -> Result<Self, PlanError> {
        let sel = Selector::new(scan)?;
        let mut stack = [Packed::default(); MAX_DEPTH];
        stack[0] = Walk::pmd(&sel).into();
        Ok(Planner {
            sel,
            stack,
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
        self.below_pmd |= range.order == self.sel.pmd_order;
        let cur = Walk::below(&self.sel, range);
        if cur.order < MIN_ORDER {
            return false;
        }
        // The failed range came from the innermost walk, whose ranges are all smaller than
        // its region (the PMD plan's own PMD range aside): regions shrink by at least one
        // order per level from the PMD order down to 3, so `depth` stays below `MAX_DEPTH`.
        match self.stack.get_mut(self.depth) {
            Some(slot) => {
                *slot = cur.into();
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

    fn next(&mut self) -> Option<Range> {
        while let Some(top) = self.depth.checked_sub(1) {
            let sel = &self.sel;
            let found = self.stack.get_mut(top).and_then(|slot| {
                let mut walk = Walk::from(*slot);
                let found = walk.advance(sel);
                *slot = walk.into();
                found
            });
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
