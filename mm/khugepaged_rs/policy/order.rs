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
//! # Layout
//!
//! This file is the selector's interface; the work is in files of their own:
//!
//! - `order_rules.rs`: the input, the output, and the rules as the
//!   bitmaps are checked and counted;
//! - `order_lanes.rs`: the word operations that judge all the blocks
//!   of a bitmap word at once;
//! - `order_maps.rs`: the packed maps of qualifying blocks, and the
//!   [`PlanScratch`] that holds them;
//! - `order_walk.rs` and `order_planner.rs`: the
//!   walk over those maps, the plan and its retries;
//! - `order_blocked.rs`: the ranges 7.3 would try and refuse.
//!
//! No allocation, no recursion and no loop over single PTEs or blocks.

pub use super::{
    order_blocked::{blocked, Blocked},
    order_maps::{PlanScratch, PLAN_SCRATCH_WORDS},
    order_planner::{plan, replan, Plan, Planner},
    order_rules::{PlanError, PmdScan, PteCounts, Range, MAX_PMD_ORDER, MIN_ORDER},
};
