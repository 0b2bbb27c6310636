// SPDX-License-Identifier: GPL-2.0

//! The mTHP order selector against brute-force oracles, on every PMD geometry khugepaged-rs
//! targets: a per-PTE count of each candidate range (the plan is valid, maximal, and exactly
//! the documented greedy rule), a port of 7.3's `mthp_collapse()` walk (the plan collapses
//! at least what 7.3 would, and the same when 7.3's scan does not stop early, with and
//! without failed attempts), and a replay of the plan (no creep).

use khugepaged_policy::order::{
    blocked, plan, replan, PlanError, Planner, PmdScan, PteCounts, Range, MAX_PMD_ORDER,
};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// PMD orders: x86_64 and arm64 4K (512), arm64 16K (2048), arm64 64K (8192), s390x and
/// ppc64le hash 64K (256), ppc64le radix 64K (32).
const PMD_ORDERS: [u32; 5] = [9, 11, 13, 8, 5];

/// What one PTE holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pte {
    None,
    Present,
    Shared,
    Swap,
}

/// One PMD's page table as the scan reports it: the three bitmaps, and running counts of
/// their bits for the oracles.
#[derive(Clone, Debug)]
struct Pmd {
    order: u32,
    present: Vec<u64>,
    swap: Vec<u64>,
    shared: Vec<u64>,
    /// Bits set in PTEs `0..i`, for each `i` in `0..=nr`: (present, swap, shared).
    sums: Vec<(u32, u32, u32)>,
}

fn bit(v: &[u64], i: u32) -> bool {
    v[i as usize / 64] >> (i % 64) & 1 != 0
}

impl Pmd {
    fn from_bitmaps(order: u32, present: Vec<u64>, swap: Vec<u64>, shared: Vec<u64>) -> Self {
        let mut sums = vec![(0, 0, 0)];
        for i in 0..1u32 << order {
            let (p, s, h) = *sums.last().unwrap();
            sums.push((
                p + u32::from(bit(&present, i)),
                s + u32::from(bit(&swap, i)),
                h + u32::from(bit(&shared, i)),
            ));
        }
        Pmd {
            order,
            present,
            swap,
            shared,
            sums,
        }
    }

    fn new(order: u32, ptes: Vec<Pte>) -> Self {
        assert_eq!(ptes.len(), 1 << order);
        let words = ptes.len().div_ceil(64);
        let (mut present, mut swap, mut shared) = (vec![0; words], vec![0; words], vec![0; words]);
        for (i, pte) in ptes.iter().enumerate() {
            let bit = 1u64 << (i % 64);
            match pte {
                Pte::None => {}
                Pte::Present => present[i / 64] |= bit,
                Pte::Shared => {
                    present[i / 64] |= bit;
                    shared[i / 64] |= bit;
                }
                Pte::Swap => swap[i / 64] |= bit,
            }
        }
        Pmd::from_bitmaps(order, present, swap, shared)
    }

    fn filled(order: u32, pte: Pte) -> Self {
        Pmd::new(order, vec![pte; 1 << order])
    }

    fn with(order: u32, set: &[(usize, Pte)]) -> Self {
        let mut ptes = vec![Pte::None; 1 << order];
        for &(i, p) in set {
            ptes[i] = p;
        }
        Pmd::new(order, ptes)
    }

    fn nr(&self) -> u32 {
        1 << self.order
    }

    fn scan(&self, l: Limits) -> PmdScan<'_> {
        PmdScan {
            present: &self.present,
            swap: &self.swap,
            shared: &self.shared,
            pmd_order: self.order,
            enabled_orders: l.enabled,
            max_ptes_none: l.none,
            max_ptes_swap: l.swap,
            max_ptes_shared: l.shared,
        }
    }

    /// The bits set in `r`: (present, swap, shared).
    fn count(&self, r: Range) -> (u32, u32, u32) {
        let (a, b) = (self.sums[r.offset as usize], self.sums[r.end() as usize]);
        (b.0 - a.0, b.1 - a.1, b.2 - a.2)
    }

    /// The rule of `r`'s order, written out from the module documentation.
    fn qualifies(&self, l: Limits, r: Range) -> bool {
        let (present, swap, shared) = self.count(r);
        let n = r.nr_ptes();
        if r.order == self.order {
            present + swap >= n.saturating_sub(l.none) && swap <= l.swap && shared <= l.shared
        } else {
            let limit = if l.none == self.nr() - 1 { n - 1 } else { 0 };
            swap == 0 && shared == 0 && present >= n - limit
        }
    }

    /// The PMD after collapsing `ranges`: each is one folio of present, exclusive pages.
    fn apply(&self, ranges: &[Range]) -> Pmd {
        let (mut present, mut swap, mut shared) =
            (self.present.clone(), self.swap.clone(), self.shared.clone());
        for r in ranges {
            for i in r.offset..r.end() {
                let (w, b) = (i as usize / 64, 1u64 << (i % 64));
                present[w] |= b;
                swap[w] &= !b;
                shared[w] &= !b;
            }
        }
        Pmd::from_bitmaps(self.order, present, swap, shared)
    }
}

/// The sysfs side of the input.
#[derive(Clone, Copy, Debug)]
struct Limits {
    enabled: u64,
    none: u32,
    swap: u32,
    shared: u32,
}

impl Limits {
    /// 7.3's defaults for a PMD of `nr` PTEs.
    fn defaults(nr: u32, enabled: u64) -> Self {
        Limits {
            enabled,
            none: nr - 1,
            swap: nr / 8,
            shared: nr / 2,
        }
    }

    fn enabled(&self, order: u32, pmd_order: u32) -> bool {
        (2..=pmd_order).contains(&order) && self.enabled & (1 << order) != 0
    }
}

fn all_orders(pmd_order: u32) -> u64 {
    (1 << (pmd_order + 1)) - 1
}

fn collect(scan: &PmdScan<'_>) -> Vec<Range> {
    plan(scan).unwrap().collect()
}

fn r(offset: u32, order: u32) -> Range {
    Range { offset, order }
}

/// Every aligned range of `order` inside `within`.
fn blocks(within: Range, order: u32) -> impl Iterator<Item = Range> {
    (within.offset..within.end())
        .step_by(1 << order)
        .map(move |offset| r(offset, order))
}

/// The documented greedy rule, by brute force: inside `within`, every enabled range below
/// `top` (or, for the whole PMD, up to it) that qualifies and lies in no larger enabled
/// range below `top` that qualifies. Largest order first, then by offset.
fn oracle(pmd: &Pmd, l: Limits, within: Range, include_top: bool) -> Vec<Range> {
    let top = if include_top {
        within.order
    } else {
        within.order.saturating_sub(1)
    };
    let mut out = Vec::new();
    for k in (2..=top).rev() {
        if !l.enabled(k, pmd.order) || k > within.order {
            continue;
        }
        for b in blocks(within, k) {
            if !pmd.qualifies(l, b) {
                continue;
            }
            let covered = (k + 1..=top).any(|j| {
                l.enabled(j, pmd.order) && pmd.qualifies(l, r(b.offset & !((1 << j) - 1), j))
            });
            if !covered {
                out.push(b);
            }
        }
    }
    out
}

/// Checks the plan's shape and rules without reference to how it was found: aligned, inside
/// the PMD, disjoint, largest order first, every range enabled and qualifying; and maximal:
/// every enabled qualifying range lies in a planned one, and no planned range lies in a
/// larger enabled qualifying one.
fn check_plan(pmd: &Pmd, l: Limits, plan: &[Range]) {
    let mut owner = vec![None; pmd.nr() as usize];
    for (i, p) in plan.iter().enumerate() {
        assert!(l.enabled(p.order, pmd.order), "{p:?} not enabled");
        assert_eq!(p.offset % p.nr_ptes(), 0, "{p:?} not aligned");
        assert!(p.end() <= pmd.nr(), "{p:?} outside the PMD");
        assert!(pmd.qualifies(l, *p), "{p:?} does not qualify");
        for o in &mut owner[p.offset as usize..p.end() as usize] {
            assert!(o.is_none(), "{p:?} overlaps");
            *o = Some(i);
        }
    }
    for w in plan.windows(2) {
        assert!(
            (w[0].order, w[1].offset) > (w[1].order, w[0].offset),
            "{:?} before {:?}",
            w[0],
            w[1]
        );
    }
    let whole = r(0, pmd.order);
    for k in 2..=pmd.order {
        if !l.enabled(k, pmd.order) {
            continue;
        }
        for b in blocks(whole, k) {
            if !pmd.qualifies(l, b) {
                continue;
            }
            // Aligned ranges nest or are disjoint: the planned range holding b's first PTE
            // must hold all of b, or b is uncollapsed or collapsed in smaller pieces.
            let holder = owner[b.offset as usize].map(|i: usize| plan[i]);
            assert!(
                holder.is_some_and(|p| p.order >= k),
                "qualifying {b:?} left uncollapsed or in smaller pieces ({holder:?})"
            );
        }
    }
}

/// Whether 7.3's `collapse_huge_page()` would get past its checks for `r` (the swap-in for
/// mTHP orders and `__collapse_huge_page_isolate()`), on input the scan accepted.
fn upstream_collapse_ok(pmd: &Pmd, l: Limits, r: Range) -> bool {
    let (present, swap, shared) = pmd.count(r);
    let n = r.nr_ptes();
    if r.order == pmd.order {
        // Swapped-out PTEs are swapped in; the scan checked them against max_ptes_swap.
        n - present - swap <= l.none && shared <= l.shared
    } else {
        let max_none = if l.none == pmd.nr() - 1 { n - 1 } else { 0 };
        swap == 0 && n - present <= max_none && shared == 0
    }
}

/// 7.3's `collapse_scan_pmd()` and `mthp_collapse()`, ported line by line for the decisions
/// that depend on the bitmaps. `fails` says whether an attempt fails for another (retryable)
/// reason. Returns the attempts and the successful collapses, in walk order.
fn upstream(pmd: &Pmd, l: Limits, fails: &dyn Fn(Range) -> bool) -> (Vec<Range>, Vec<Range>) {
    let nr = pmd.nr();
    let pmd_order = pmd.order;
    let unmapped = pmd.count(r(0, pmd_order)).1;
    let enabled_orders = upstream_enabled(pmd, l);
    if upstream_scan_stops(pmd, l) {
        return (vec![], vec![]);
    }
    let (mut tried, mut done) = (vec![], vec![]);
    let mut offset = 0u32;
    let mut order = pmd_order;
    while offset < nr {
        let nr_ptes = 1u32 << order;
        let mut next_offset = false;
        if enabled_orders & (1 << order) != 0 {
            // collapse_max_ptes_none() for khugepaged, without userfaultfd.
            let max_ptes_none = if order == pmd_order {
                l.none
            } else if l.none == nr - 1 {
                nr_ptes - 1
            } else {
                0
            };
            let mut nr_occupied = pmd.count(r(offset, order)).0;
            if order == pmd_order {
                nr_occupied += unmapped;
            }
            if nr_occupied >= nr_ptes - max_ptes_none {
                let range = r(offset, order);
                tried.push(range);
                if upstream_collapse_ok(pmd, l, range) && !fails(range) {
                    done.push(range);
                    next_offset = true;
                }
            }
        }
        if !next_offset && order > 2 && enabled_orders & ((1 << order) - 1) != 0 {
            order -= 1;
            continue;
        }
        offset += nr_ptes;
        order = if offset == 0 {
            pmd_order
        } else {
            offset.trailing_zeros().min(pmd_order)
        };
    }
    (tried, done)
}

/// Drives a [`Planner`] as the kernel does: a failed attempt is retried at smaller orders.
fn drive(pmd: &Pmd, l: Limits, fails: &dyn Fn(Range) -> bool) -> (Vec<Range>, Vec<Range>) {
    let mut planner = Planner::new(&pmd.scan(l)).unwrap();
    let (mut tried, mut done) = (vec![], vec![]);
    while let Some(range) = planner.next() {
        tried.push(range);
        assert!(pmd.qualifies(l, range), "{range:?} does not qualify");
        if fails(range) {
            planner.retry_smaller();
        } else {
            done.push(range);
        }
    }
    (tried, done)
}

/// 7.3's `collapse_possible_orders()` for anonymous memory: THP_ORDERS_ALL_ANON, orders
/// 2 to PMD.
fn upstream_enabled(pmd: &Pmd, l: Limits) -> u64 {
    l.enabled & all_orders(pmd.order) & !3
}

/// Whether 7.3's `collapse_scan_pmd()` stops before its walk: PMD-order swap and shared
/// limits for the whole PMD, and `max_ptes_none`, which is `HPAGE_PMD_NR - 1` for the scan
/// when a smaller order is enabled (so an empty PMD stops there even with a limit of
/// `HPAGE_PMD_NR`).
fn upstream_scan_stops(pmd: &Pmd, l: Limits) -> bool {
    let nr = pmd.nr();
    let (present, unmapped, shared) = pmd.count(r(0, pmd.order));
    let scan_none = if upstream_enabled(pmd, l) == 1 << pmd.order {
        l.none
    } else {
        nr - 1
    };
    let none_or_zero = nr - present - unmapped;
    none_or_zero > scan_none || unmapped > l.swap || shared > l.shared
}

/// Per order, the ranges below the PMD order that 7.3 tried and refused: (swap, shared),
/// a swapped-out PTE taking precedence as 7.3's swap-in comes before its isolation.
fn refused(pmd: &Pmd, l: Limits, tried: &[Range]) -> Vec<(u32, u32)> {
    let mut out = vec![(0, 0); MAX_PMD_ORDER as usize];
    for &t in tried {
        if t.order == pmd.order || upstream_collapse_ok(pmd, l, t) {
            continue;
        }
        let (_, swap, shared) = pmd.count(t);
        if swap > 0 {
            out[t.order as usize].0 += 1;
        } else if shared > 0 {
            out[t.order as usize].1 += 1;
        }
    }
    out
}

/// [`blocked`] by order, or nothing when the walk stayed at the PMD order.
fn blocked_by_order(scan: &PmdScan<'_>, walked_below_pmd: bool) -> Vec<(u32, u32)> {
    let b = blocked(scan).unwrap();
    (0..MAX_PMD_ORDER)
        .map(|k| {
            if walked_below_pmd {
                (b.swap(k), b.shared(k))
            } else {
                (0, 0)
            }
        })
        .collect()
}

/// [`blocked`]'s definition, PTE by PTE.
fn blocked_oracle(pmd: &Pmd, l: Limits) -> Vec<(u32, u32)> {
    let mut out = vec![(0, 0); MAX_PMD_ORDER as usize];
    for k in 2..pmd.order {
        if !l.enabled(k, pmd.order) {
            continue;
        }
        for b in blocks(r(0, pmd.order), k) {
            let (present, swap, shared) = pmd.count(b);
            let present_ok = if l.none == pmd.nr() - 1 {
                present > 0
            } else {
                present == b.nr_ptes()
            };
            if present_ok && swap > 0 {
                out[k as usize].0 += 1;
            } else if present_ok && shared > 0 {
                out[k as usize].1 += 1;
            }
        }
    }
    out
}

fn covered(ranges: &[Range]) -> BTreeSet<u32> {
    ranges.iter().flat_map(|r| r.offset..r.end()).collect()
}

fn sorted(mut v: Vec<Range>) -> Vec<Range> {
    v.sort();
    v
}

// Rules, one by one.

#[test]
fn rejects_bad_geometry() {
    let pmd = Pmd::filled(9, Pte::Present);
    let l = Limits::defaults(512, all_orders(9));
    for order in [0, 1, MAX_PMD_ORDER + 1, 64] {
        let scan = PmdScan {
            pmd_order: order,
            ..pmd.scan(l)
        };
        assert_eq!(plan(&scan).err(), Some(PlanError::PmdOrder));
    }
    let short = &pmd.present[..7];
    let scan = PmdScan {
        swap: short,
        ..pmd.scan(l)
    };
    assert_eq!(plan(&scan).err(), Some(PlanError::BitmapTooShort));
    assert_eq!(Planner::new(&scan).err(), Some(PlanError::BitmapTooShort));
}

#[test]
fn full_pmd_is_one_pmd_range() {
    for order in PMD_ORDERS {
        let pmd = Pmd::filled(order, Pte::Present);
        let l = Limits::defaults(1 << order, all_orders(order));
        assert_eq!(collect(&pmd.scan(l)), [r(0, order)]);
    }
}

#[test]
fn pmd_order_max_ptes_none_as_set() {
    let nr = 512;
    for none in [0, 1, 100, 256, 511] {
        let l = Limits {
            none,
            ..Limits::defaults(nr, 1 << 9)
        };
        let enough: Vec<_> = (0..(nr - none) as usize)
            .map(|i| (i, Pte::Present))
            .collect();
        assert_eq!(collect(&Pmd::with(9, &enough).scan(l)), [r(0, 9)]);
        let short = &enough[1..];
        assert_eq!(collect(&Pmd::with(9, short).scan(l)), []);
    }
}

#[test]
fn pmd_order_counts_swap_as_occupied_within_max_ptes_swap() {
    let l = Limits {
        none: 0,
        ..Limits::defaults(512, 1 << 9)
    };
    let mut ptes = vec![Pte::Present; 512];
    for p in ptes.iter_mut().take(64) {
        *p = Pte::Swap;
    }
    assert_eq!(collect(&Pmd::new(9, ptes.clone()).scan(l)), [r(0, 9)]);
    ptes[64] = Pte::Swap;
    assert_eq!(collect(&Pmd::new(9, ptes).scan(l)), []);
}

#[test]
fn pmd_order_max_ptes_shared() {
    let l = Limits::defaults(512, 1 << 9);
    let mut ptes = vec![Pte::Shared; 256];
    ptes.resize(512, Pte::None);
    assert_eq!(collect(&Pmd::new(9, ptes.clone()).scan(l)), [r(0, 9)]);
    ptes[256] = Pte::Shared;
    assert_eq!(collect(&Pmd::new(9, ptes).scan(l)), []);
}

#[test]
fn below_pmd_no_swap_or_shared_at_all() {
    // max_ptes_none = 511: one present PTE suffices below PMD, but not next to a swapped-out
    // or shared one. The PMD order is off.
    let l = Limits::defaults(512, all_orders(9) & !(1 << 9));
    let pmd = Pmd::with(
        9,
        &[(0, Pte::Present), (300, Pte::Present), (301, Pte::Swap)],
    );
    // [0, 256) holds a present PTE and nothing bad. [256, 512) has a swap PTE at 301, so its
    // pieces go down to [300, 304), which holds it too; [296, 300) and [304, 308) are empty.
    assert_eq!(collect(&pmd.scan(l)), [r(0, 8)]);
    let pmd = Pmd::with(
        9,
        &[(0, Pte::Present), (300, Pte::Present), (303, Pte::Shared)],
    );
    assert_eq!(collect(&pmd.scan(l)), [r(0, 8)]);
    // A shared PTE further away: [288, 304) is clean and holds 300; [288, 320) holds 310.
    let pmd = Pmd::with(
        9,
        &[(0, Pte::Present), (300, Pte::Present), (310, Pte::Shared)],
    );
    assert_eq!(collect(&pmd.scan(l)), [r(0, 8), r(288, 4)]);
}

#[test]
fn blocked_counts_ranges_upstream_tries_and_refuses() {
    // 64K (order 4) only, scaled limit: [16, 32) has a present and a swapped-out PTE,
    // [32, 48) a shared one, [48, 64) only a swapped-out one (not tried: nothing present).
    let l = Limits::defaults(512, 1 << 4);
    let pmd = Pmd::with(
        9,
        &[
            (0, Pte::Present),
            (16, Pte::Present),
            (17, Pte::Swap),
            (40, Pte::Shared),
            (50, Pte::Swap),
        ],
    );
    let scan = pmd.scan(l);
    let b = blocked(&scan).unwrap();
    assert_eq!((b.swap(4), b.shared(4)), (1, 1));
    assert_eq!((b.swap(9), b.shared(9), b.swap(3)), (0, 0, 0));
    let planner = Planner::new(&scan).unwrap();
    assert!(planner.walked_below_pmd());
    assert_eq!(planner.collect::<Vec<_>>(), [r(0, 4)]);

    // max_ptes_none 0: a swapped-out PTE leaves its range short of present ones, so only
    // the full range with a shared PTE is tried.
    let l = Limits { none: 0, ..l };
    let mut ptes = vec![Pte::Present; 512];
    ptes[17] = Pte::Swap;
    ptes[40] = Pte::Shared;
    let pmd = Pmd::new(9, ptes);
    let b = blocked(&pmd.scan(l)).unwrap();
    assert_eq!((b.swap(4), b.shared(4)), (0, 1));

    // The PMD order planned: nothing below it is met unless its collapse is retried.
    let l = Limits::defaults(512, 1 << 9 | 1 << 4);
    let scan = pmd.scan(l);
    let mut planner = Planner::new(&scan).unwrap();
    assert!(!planner.walked_below_pmd());
    assert_eq!(planner.next(), Some(r(0, 9)));
    assert!(planner.retry_smaller());
    assert!(planner.walked_below_pmd());
}

#[test]
fn below_pmd_scaled_limit_takes_largest_enabled_order() {
    let l = Limits::defaults(512, 1 << 4 | 1 << 6 | 1 << 2);
    let pmd = Pmd::with(
        9,
        &[(5, Pte::Present), (70, Pte::Present), (130, Pte::Present)],
    );
    assert_eq!(collect(&pmd.scan(l)), [r(0, 6), r(64, 6), r(128, 6)]);
    // With a shared PTE next to it, the one at 130 falls back to order 4, then 2.
    let pmd = Pmd::with(
        9,
        &[(5, Pte::Present), (130, Pte::Present), (140, Pte::Shared)],
    );
    assert_eq!(collect(&pmd.scan(l)), [r(0, 6), r(128, 2)]);
}

#[test]
fn below_pmd_zero_limit_needs_every_pte() {
    let l = Limits {
        none: 0,
        ..Limits::defaults(512, all_orders(9))
    };
    let mut ptes = vec![Pte::None; 512];
    for p in &mut ptes[16..64] {
        *p = Pte::Present;
    }
    let pmd = Pmd::new(9, ptes.clone());
    // [16, 64) is [16, 32) at order 4 and [32, 64) at order 5: largest first.
    assert_eq!(collect(&pmd.scan(l)), [r(32, 5), r(16, 4)]);
    ptes[40] = Pte::None;
    let pmd = Pmd::new(9, ptes);
    assert_eq!(
        collect(&pmd.scan(l)),
        [r(16, 4), r(48, 4), r(32, 3), r(44, 2)]
    );
    assert!(!plan(&pmd.scan(l)).unwrap().max_ptes_none_unsupported());
}

#[test]
fn other_max_ptes_none_behaves_as_zero_below_pmd_and_is_reported() {
    let nr = 512;
    let mut ptes = vec![Pte::None; 512];
    for p in &mut ptes[..8] {
        *p = Pte::Present;
    }
    ptes[8] = Pte::Present;
    let pmd = Pmd::new(9, ptes);
    for none in [1, 255, 510] {
        let l = Limits {
            none,
            ..Limits::defaults(nr, all_orders(9) & !(1 << 9))
        };
        let p = plan(&pmd.scan(l)).unwrap();
        assert!(p.max_ptes_none_unsupported());
        // Scaled, [0, 256) would go at order 8; as 0, only the full [0, 8) goes.
        assert_eq!(p.collect::<Vec<_>>(), [r(0, 3)]);
        // With only the PMD order, the value is just the PMD limit.
        let l = Limits {
            enabled: 1 << 9,
            ..l
        };
        assert!(!plan(&pmd.scan(l)).unwrap().max_ptes_none_unsupported());
    }
    for none in [0, 511] {
        let l = Limits {
            none,
            ..Limits::defaults(nr, all_orders(9))
        };
        assert!(!plan(&pmd.scan(l)).unwrap().max_ptes_none_unsupported());
    }
}

#[test]
fn orders_zero_one_and_above_pmd_are_ignored() {
    let pmd = Pmd::filled(5, Pte::Present);
    let l = Limits::defaults(32, 0b11 | 1 << 6 | 1 << 40);
    assert_eq!(collect(&pmd.scan(l)), []);
    let l = Limits::defaults(32, !(1 << 5));
    assert_eq!(collect(&pmd.scan(l)), [r(0, 4), r(16, 4)]);
}

#[test]
fn nothing_enabled_nothing_planned() {
    let pmd = Pmd::filled(9, Pte::Present);
    assert_eq!(collect(&pmd.scan(Limits::defaults(512, 0))), []);
}

#[test]
fn bits_past_a_small_pmd_are_ignored() {
    // 32 PTEs per PMD: only the low half of the word is the PMD.
    let l = Limits {
        none: 0,
        ..Limits::defaults(32, all_orders(5))
    };
    let scan = PmdScan {
        present: &[0xffff_ffff_0000_ffff],
        swap: &[0xffff_0000_0000_0000],
        shared: &[0x00ff_0000_0000_0000],
        ..Pmd::filled(5, Pte::None).scan(l)
    };
    assert_eq!(collect(&scan), [r(0, 4)]);
    assert_eq!(
        plan(&scan).unwrap().counts(),
        PteCounts {
            present: 16,
            swap: 0,
            shared: 0
        }
    );
}

#[test]
fn madv_collapse_limits_take_any_pmd() {
    // MADV_COLLAPSE: HPAGE_PMD_NR for every limit, the PMD order only.
    let l = Limits {
        enabled: 1 << 9,
        none: 512,
        swap: 512,
        shared: 512,
    };
    let pmd = Pmd::with(9, &[(7, Pte::Swap), (9, Pte::Shared)]);
    assert_eq!(collect(&pmd.scan(l)), [r(0, 9)]);
    assert_eq!(collect(&Pmd::filled(9, Pte::None).scan(l)), [r(0, 9)]);
}

#[test]
fn pmd_wide_swap_limit_does_not_block_clean_mthp_ranges() {
    // The deliberate difference from 7.3: too many swapped-out PTEs in the upper half stop
    // 7.3's scan; here the clean lower half still collapses.
    let l = Limits::defaults(512, all_orders(9));
    let mut ptes = vec![Pte::Present; 256];
    ptes.resize(512, Pte::Swap);
    let pmd = Pmd::new(9, ptes);
    assert_eq!(upstream(&pmd, l, &|_| false).1, []);
    assert_eq!(collect(&pmd.scan(l)), [r(0, 8)]);
}

#[test]
fn empty_pmd_with_the_madv_collapse_none_limit() {
    // max_ptes_none = HPAGE_PMD_NR (MADV_COLLAPSE's) lets the PMD order take an empty PMD.
    // 7.3's scan caps none PTEs at HPAGE_PMD_NR - 1 as soon as a smaller order is enabled,
    // and stops there; our rule has no such cap. khugepaged never passes this limit.
    let pmd = Pmd::filled(5, Pte::None);
    let l = Limits {
        none: 32,
        ..Limits::defaults(32, all_orders(5))
    };
    assert!(upstream_scan_stops(&pmd, l));
    assert_eq!(collect(&pmd.scan(l)), [r(0, 5)]);
}

#[test]
fn replan_goes_below_the_failed_order_only() {
    let l = Limits {
        none: 0,
        ..Limits::defaults(512, all_orders(9))
    };
    let pmd = Pmd::filled(9, Pte::Present);
    let scan = pmd.scan(l);
    let again: Vec<_> = replan(&scan, r(0, 9)).unwrap().collect();
    assert_eq!(again, [r(0, 8), r(256, 8)]);
    let again: Vec<_> = replan(&scan, r(64, 6)).unwrap().collect();
    assert_eq!(again, [r(64, 5), r(96, 5)]);
    assert_eq!(replan(&scan, r(8, 2)).unwrap().count(), 0);
    let only_pmd = Limits {
        enabled: 1 << 9,
        ..l
    };
    assert_eq!(replan(&pmd.scan(only_pmd), r(0, 9)).unwrap().count(), 0);
    for bad in [r(4, 3), r(0, 10), r(512, 2), r(508, 3)] {
        assert_eq!(
            replan(&scan, bad).err(),
            Some(PlanError::BadRange),
            "{bad:?}"
        );
    }
}

#[test]
fn planner_retries_inside_the_failed_range_then_resumes() {
    let l = Limits {
        none: 0,
        ..Limits::defaults(512, 1 << 9 | 1 << 8 | 1 << 7 | 1 << 2)
    };
    let pmd = Pmd::filled(9, Pte::Present);
    let mut planner = Planner::new(&pmd.scan(l)).unwrap();
    assert!(!planner.retry_smaller(), "nothing returned yet");
    assert_eq!(planner.next(), Some(r(0, 9)));
    assert!(planner.retry_smaller());
    assert!(!planner.retry_smaller(), "only once per range");
    assert_eq!(planner.next(), Some(r(0, 8)));
    assert_eq!(planner.next(), Some(r(256, 8)));
    assert!(planner.retry_smaller());
    assert_eq!(planner.next(), Some(r(256, 7)));
    assert!(planner.retry_smaller());
    let smallest: Vec<_> = planner.by_ref().take(32).collect();
    assert_eq!(smallest, blocks(r(256, 7), 2).collect::<Vec<_>>());
    assert!(!planner.retry_smaller(), "nothing below order 2");
    assert_eq!(planner.next(), Some(r(384, 7)));
    assert_eq!(planner.next(), None);
    assert_eq!(planner.next(), None);
}

#[test]
fn planner_retry_with_no_range_below_ends_that_range() {
    // The PMD order qualifies by its own limits, but a swapped-out PTE in every order-2
    // block leaves no smaller range: the retry finds nothing, and is still the one retry.
    let ptes = (0..512)
        .map(|i| if i % 4 == 1 { Pte::Swap } else { Pte::Present })
        .collect();
    let pmd = Pmd::new(9, ptes);
    let l = Limits {
        swap: 512,
        ..Limits::defaults(512, all_orders(9))
    };
    let mut planner = Planner::new(&pmd.scan(l)).unwrap();
    assert!(!planner.walked_below_pmd());
    assert_eq!(planner.next(), Some(r(0, 9)));
    assert!(planner.retry_smaller(), "smaller orders are enabled");
    assert!(planner.walked_below_pmd());
    assert!(!planner.retry_smaller(), "only once per range");
    assert_eq!(planner.next(), None);
    assert!(!planner.retry_smaller(), "nothing returned since");
    assert_eq!(planner.next(), None);
}

#[test]
fn sparse_orders_cover_whole_map_words() {
    // Order 2 and one order far above it: a qualifying block of the larger order covers
    // whole words of order 2's map, on every geometry.
    for order in PMD_ORDERS {
        for top in 3..order {
            let pmd = Pmd::with(
                order,
                &(0..1usize << order)
                    .filter(|i| i >> top != 1)
                    .map(|i| (i, Pte::Present))
                    .collect::<Vec<_>>(),
            );
            let l = Limits {
                none: 0,
                ..Limits::defaults(1 << order, 1 << top | 1 << 2)
            };
            let got = collect(&pmd.scan(l));
            check_plan(&pmd, l, &got);
            assert_eq!(got, oracle(&pmd, l, r(0, order), true), "{order} {top}");
            let hole = r(1 << top, top);
            assert!(got
                .iter()
                .all(|g| g.end() <= hole.offset || g.offset >= hole.end()));
            assert_eq!(
                got.iter().filter(|g| g.order == 2).count(),
                0,
                "{order} {top}"
            );
        }
    }
}

#[test]
fn planner_retry_stack_never_overflows() {
    // Every attempt fails: each range is retried down to order 2, on every geometry.
    for order in PMD_ORDERS {
        let pmd = Pmd::filled(order, Pte::Present);
        let l = Limits::defaults(1 << order, all_orders(order));
        let (tried, done) = drive(&pmd, l, &|_| true);
        assert!(done.is_empty());
        // A DFS of the full buddy tree: 2^(order-k) ranges at each order k.
        assert_eq!(
            tried.len(),
            (2..=order).map(|k| 1usize << (order - k)).sum()
        );
        assert_eq!(upstream(&pmd, l, &|_| true).0.len(), tried.len());
    }
}

#[test]
fn upstream_comment_example() {
    // "if we collapsed a order-2 mTHP at offset 0, offset becomes 4 and __ffs(4) == 2".
    let l = Limits {
        none: 0,
        ..Limits::defaults(512, all_orders(9))
    };
    let pmd = Pmd::with(
        9,
        &[
            (0, Pte::Present),
            (1, Pte::Present),
            (2, Pte::Present),
            (3, Pte::Present),
        ],
    );
    assert_eq!(upstream(&pmd, l, &|_| false).1, [r(0, 2)]);
    assert_eq!(collect(&pmd.scan(l)), [r(0, 2)]);
}

// Properties.

/// A PMD's PTEs built from runs, so that full, empty and mixed aligned blocks of every size
/// all turn up: each run is a length (a power of two) and a fill.
fn pmd_strategy(order: u32) -> impl Strategy<Value = Pmd> {
    let nr = 1usize << order;
    let run = (0..=order, 0u8..8, any::<u64>());
    prop::collection::vec(run, 1..24).prop_map(move |runs| {
        let mut ptes = Vec::with_capacity(nr);
        for (len_order, fill, seed) in runs.iter().cycle() {
            if ptes.len() >= nr {
                break;
            }
            let mut x = *seed | 1;
            for _ in 0..(1usize << len_order) {
                // xorshift: a cheap per-PTE pseudo-random draw.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let pte = match fill {
                    0 | 1 => Pte::Present,
                    2 => Pte::None,
                    3 if x % 16 == 0 => Pte::Shared,
                    3 => Pte::Present,
                    4 if x % 32 == 0 => Pte::Swap,
                    4 => Pte::Present,
                    5 if x % 64 == 0 => Pte::None,
                    5 => Pte::Present,
                    _ => [
                        Pte::None,
                        Pte::Present,
                        Pte::Present,
                        Pte::Shared,
                        Pte::Swap,
                    ][(x % 5) as usize],
                };
                ptes.push(pte);
            }
        }
        ptes.truncate(nr);
        Pmd::new(order, ptes)
    })
}

fn limits_strategy(order: u32) -> impl Strategy<Value = Limits> {
    let nr = 1u32 << order;
    let any_limit = prop_oneof![Just(0), Just(nr - 1), Just(nr), 0..=nr];
    let orders = prop_oneof![
        Just(all_orders(order)),
        Just(1u64 << order),
        Just(all_orders(order) & !(1 << order)),
        any::<u64>(),
    ];
    (
        orders,
        prop_oneof![3 => Just(nr - 1), 2 => Just(0), 1 => 0..=nr],
        any_limit.clone(),
        any_limit,
    )
        .prop_map(|(enabled, none, swap, shared)| Limits {
            enabled,
            none,
            swap,
            shared,
        })
}

/// Property cases per geometry: fewer for the large ones, whose oracles are slower.
fn cases(order: u32) -> u32 {
    match order {
        13 => 48,
        11 => 96,
        _ => 256,
    }
}

/// Runs `body` on `cases(order)` inputs of each geometry.
fn for_each_geometry(body: impl Fn(&Pmd, Limits) -> Result<(), TestCaseError>) {
    for order in PMD_ORDERS {
        let config = ProptestConfig {
            cases: cases(order),
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let strategy = (pmd_strategy(order), limits_strategy(order));
        runner
            .run(&strategy, |(pmd, l)| body(&pmd, l))
            .unwrap_or_else(|e| panic!("PMD order {order}: {e}"));
    }
}

#[test]
fn plan_is_valid_maximal_and_the_documented_rule() {
    for_each_geometry(|pmd, l| {
        let got = collect(&pmd.scan(l));
        check_plan(pmd, l, &got);
        prop_assert_eq!(&got, &oracle(pmd, l, r(0, pmd.order), true));
        Ok(())
    });
}

#[test]
fn plan_collapses_at_least_what_upstream_does() {
    for_each_geometry(|pmd, l| {
        let (tried, done) = upstream(pmd, l, &|_| false);
        let ours = collect(&pmd.scan(l));
        prop_assert!(covered(&done).is_subset(&covered(&ours)));
        if !upstream_scan_stops(pmd, l) {
            // 7.3's scan went on to its walk: the same ranges, in another order. 7.3 also
            // tries ranges its collapse then refuses (a shared or swapped-out PTE below the
            // PMD order); we never plan those.
            prop_assert_eq!(sorted(done), sorted(ours.clone()));
            let tried_ok = tried
                .into_iter()
                .filter(|&t| upstream_collapse_ok(pmd, l, t));
            prop_assert_eq!(sorted(tried_ok.collect()), sorted(ours));
        }
        Ok(())
    });
}

#[test]
fn planner_with_failures_matches_upstream_walk() {
    for_each_geometry(|pmd, l| {
        // A fixed pseudo-random quarter of all attempts fails, retryably.
        let fails =
            |r: Range| (r.offset.wrapping_mul(2_654_435_761) ^ (r.order * 97)).is_multiple_of(4);
        let (tried, done) = drive(pmd, l, &fails);
        let (up_tried, up_done) = upstream(pmd, l, &fails);
        prop_assert!(covered(&up_done).is_subset(&covered(&done)));
        if !upstream_scan_stops(pmd, l) {
            let up_tried = up_tried
                .into_iter()
                .filter(|&t| upstream_collapse_ok(pmd, l, t));
            prop_assert_eq!(sorted(tried), sorted(up_tried.collect()));
            prop_assert_eq!(sorted(done), sorted(up_done));
        }
        Ok(())
    });
}

#[test]
fn blocked_is_what_upstream_tries_and_refuses() {
    for_each_geometry(|pmd, l| {
        let scan = pmd.scan(l);
        prop_assert_eq!(blocked_by_order(&scan, true), blocked_oracle(pmd, l));
        if upstream_scan_stops(pmd, l) {
            return Ok(());
        }
        let none = |_: Range| false;
        let some = |r: Range| r.order == pmd.order || r.offset.is_multiple_of(3);
        for fails in [&none as &dyn Fn(Range) -> bool, &some] {
            let mut planner = Planner::new(&scan).unwrap();
            while let Some(range) = planner.next() {
                if fails(range) {
                    planner.retry_smaller();
                }
            }
            let (up_tried, _) = upstream(pmd, l, fails);
            prop_assert_eq!(
                blocked_by_order(&scan, planner.walked_below_pmd()),
                refused(pmd, l, &up_tried)
            );
        }
        Ok(())
    });
}

#[test]
fn no_creep_applying_a_plan_changes_nothing() {
    for_each_geometry(|pmd, l| {
        let first = collect(&pmd.scan(l));
        let after = pmd.apply(&first);
        prop_assert_eq!(collect(&after.scan(l)), first);
        Ok(())
    });
}

#[test]
fn replan_is_the_rule_inside_the_range() {
    for_each_geometry(|pmd, l| {
        let scan = pmd.scan(l);
        // Every range of the plan, and the aligned ranges at a few other orders.
        let mut ranges = collect(&scan);
        for k in [2, 5, 6, 7, pmd.order] {
            if k <= pmd.order {
                ranges.extend(blocks(r(0, pmd.order), k).step_by(3).take(4));
            }
        }
        for range in ranges {
            let got: Vec<_> = replan(&scan, range).unwrap().collect();
            prop_assert_eq!(&got, &oracle(pmd, l, range, false), "{:?}", range);
            for g in &got {
                prop_assert!(g.order < range.order && range.offset <= g.offset);
                prop_assert!(g.end() <= range.end());
            }
        }
        Ok(())
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary words, not only consistent page tables (present and swapped out at once,
    /// shared and not present, bits past a 32-PTE PMD): never a panic, always the rule.
    #[test]
    fn arbitrary_bitmaps(
        (order, words, enabled, none, swap_max, shared_max) in
            prop::sample::select(PMD_ORDERS.to_vec()).prop_flat_map(|o| {
                let n = (1usize << o).div_ceil(64);
                let limit = prop_oneof![Just((1u32 << o) - 1), Just(0), 0u32..=(1 << o)];
                (
                    Just(o),
                    prop::collection::vec(any::<[u64; 3]>(), n),
                    any::<u64>(),
                    limit.clone(),
                    limit.clone(),
                    limit,
                )
            })
    ) {
        let pmd = Pmd::from_bitmaps(
            order,
            words.iter().map(|w| w[0]).collect(),
            words.iter().map(|w| w[1] & w[0].rotate_left(7)).collect(),
            words.iter().map(|w| w[2] & w[1]).collect(),
        );
        let l = Limits { enabled, none, swap: swap_max, shared: shared_max };
        let got = collect(&pmd.scan(l));
        check_plan(&pmd, l, &got);
        prop_assert_eq!(got, oracle(&pmd, l, r(0, order), true));
        prop_assert_eq!(blocked_by_order(&pmd.scan(l), true), blocked_oracle(&pmd, l));
    }
}
