// SPDX-License-Identifier: GPL-2.0

//! The order selector's plans (see [`order`](super::order)): [`plan`], [`replan`], and
//! the [`Planner`] that holds a plan with its retries. The [`Planner`] itself is 160 bytes
//! on 64-bit; its maps and the walks that retries interrupt live in a [`PlanScratch`].
//!
//! Iterating a plan costs, per range, a few word operations on the current map word
//! ([`Planner::next`]'s inlined part), and per map word with a start one call that finds
//! the next ([`Planner::next_word`]).

use super::{
    order_lanes::pow2,
    order_maps::{PlanScratch, PLAN_SCRATCH_WORDS, SAVED_AT, WALK_WORDS},
    order_rules::{order_below, PlanError, PmdScan, PteCounts, Range, Selector},
    order_walk::Walk,
};
use core::{borrow::BorrowMut, num::NonZeroU64};

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
        self.0.sel.counts()
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
        below_pmd: false,
    }))
}

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
    /// The innermost walk: the one ranges come from. Its lowest start, if any, is the
    /// range last returned, unless retried since: a retry starts a new walk.
    cur: Walk,
    /// The walks it interrupted, saved in the maps' room, the innermost last.
    depth: usize,
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
            below_pmd: !sel.pmd_qualifies,
        })
    }

    /// Plans the range last returned again with the smaller enabled orders; its ranges
    /// come next. Returns whether any smaller order is enabled below it.
    pub fn retry_smaller(&mut self) -> bool {
        let Some(range) = self.cur.word.last() else {
            return false;
        };
        let pmd = range.order == self.sel.pmd_order;
        self.below_pmd |= pmd;
        if order_below(self.sel.sub_orders, range.order).is_none() {
            // Retrying it again gives the same answer.
            return false;
        }
        // The plan was the PMD order alone, made without the maps.
        self.sel.pack(self.maps.borrow_mut());
        self.sel.find_open(self.maps.borrow());
        // The walk of the failed range, even one that finds no range: it ends the failed
        // range's turn as the range last returned. The failed range came from the
        // innermost walk, whose ranges are all smaller than its region (the PMD plan's own
        // PMD range aside): regions shrink by at least one order per level from the PMD
        // order down to 3, so `depth` stays below `MAX_DEPTH`.
        let cur = Walk::below(&self.sel, range);
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
        self.sel.counts()
    }

    /// Whether 7.3's walk, met with the same failures, goes below the PMD order over the
    /// whole PMD: the PMD order is not planned, or its collapse was retried at smaller
    /// orders. The ranges [`blocked`](super::order::blocked) counts are then the ones it met.
    pub fn walked_below_pmd(&self) -> bool {
        self.below_pmd
    }
}

impl<S: BorrowMut<PlanScratch>> Planner<'_, S> {
    /// Moves to the next map word with a range, from the innermost walk or, once it is
    /// done, from the walks it interrupted, and returns its starts: none once the plan is
    /// done. Out of line: once per map word, it keeps the walk's state out of
    /// [`Planner::next`]'s registers.
    #[inline(never)]
    fn next_word(&mut self) -> u64 {
        loop {
            if self.cur.refill(&self.sel, self.maps.borrow()) {
                return self.cur.word.starts;
            }
            if self.depth == 0 {
                return 0;
            }
            match self.resume() {
                Some(0) => continue,
                Some(rest) => return rest,
                None => return 0,
            }
        }
    }

    /// Goes back to the walk the finished one interrupted, past its range that failed:
    /// its starts still to return, or `None` if there is no such walk.
    #[cold]
    fn resume(&mut self) -> Option<u64> {
        let resumed = self.depth.checked_sub(1)?;
        let at = SAVED_AT.saturating_add(resumed.saturating_mul(WALK_WORDS));
        let slot = self.maps.borrow().get(at..at.saturating_add(WALK_WORDS));
        let saved = slot.and_then(|slot| <[u64; WALK_WORDS]>::try_from(slot).ok());
        self.cur = Walk::load(saved.unwrap_or_default());
        self.depth = resumed;
        let word = &mut self.cur.word;
        word.starts &= word.starts.wrapping_sub(1);
        Some(word.starts)
    }
}

impl<S: BorrowMut<PlanScratch>> Iterator for Planner<'_, S> {
    type Item = Range;

    /// The next start of the current map word, if it has one: a few word operations.
    #[inline]
    fn next(&mut self) -> Option<Range> {
        let word = &mut self.cur.word;
        let bit = match NonZeroU64::new(word.starts & word.starts.wrapping_sub(1)) {
            Some(rest) => {
                word.starts = rest.get();
                rest
            }
            None => {
                // Stored here too, for the compiler to know the starts it reads next time.
                let starts = self.next_word();
                self.cur.word.starts = starts;
                NonZeroU64::new(starts)?
            }
        };
        Some(self.cur.word.range(bit))
    }
}
