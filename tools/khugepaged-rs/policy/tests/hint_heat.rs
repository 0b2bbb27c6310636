// SPDX-License-Identifier: GPL-2.0

//! What a young sighting is worth: density classes, levels by passes, the pass interval,
//! and the hints' share of the scan budget.

use khugepaged_policy::{
    hint_budget::{HintBudget, MAX_EIGHTHS, MIN_EIGHTHS},
    hint_heat::{
        young_level, young_share, PassInterval, ALL_LEVELS, EXPIRY_PASSES, MAX_PASSES, MIN_EXPIRY,
        MIN_PASSES, MIN_YOUNG,
    },
    hint_queue::HINT_LEVELS,
};
use proptest::prelude::*;

#[test]
fn young_share_by_eighths() {
    assert_eq!(young_share(512, 512), Some(0));
    assert_eq!(young_share(448, 512), Some(0));
    assert_eq!(young_share(447, 512), Some(1));
    assert_eq!(young_share(256, 512), Some(1));
    assert_eq!(young_share(128, 512), Some(2));
    assert_eq!(young_share(64, 512), Some(3));
    assert_eq!(young_share(63, 512), None);
    assert_eq!(young_share(MIN_YOUNG - 1, MIN_YOUNG - 1), None);
    assert_eq!(young_share(MIN_YOUNG, MIN_YOUNG), Some(0));
    assert_eq!(
        young_share(70, 64),
        Some(0),
        "more young than scanned is all young"
    );
    assert_eq!(young_share(0, 0), None);
}

#[test]
fn levels_by_passes() {
    let held = HINT_LEVELS as u8;
    assert_eq!(young_level(0, 0), held + 1);
    assert_eq!(young_level(1, 0), held + 1);
    assert_eq!(young_level(2, 0), held);
    assert_eq!(
        young_level(1, 3),
        held + 1,
        "density does not matter while held"
    );
    assert_eq!(young_level(3, 0), 2);
    assert_eq!(young_level(4, 0), 1);
    assert_eq!(young_level(5, 0), 0);
    assert_eq!(young_level(MAX_PASSES, 0), 0);
    assert_eq!(young_level(3, 1), 2);
    assert_eq!(young_level(3, 2), 3, "sparse: one lower");
    assert_eq!(young_level(5, 3), 1);
    assert_eq!(usize::from(young_level(1, 0)), ALL_LEVELS - 1);
}

proptest! {
    /// Against the definition: the first density class whose share is reached.
    #[test]
    fn young_share_is_the_first_share_reached(young in 0u32..9000, scanned in 0u32..9000) {
        let y = young.min(scanned);
        let want = if y < MIN_YOUNG {
            None
        } else {
            [7u64, 4, 2, 1]
                .iter()
                .position(|&e| 8 * u64::from(y) >= e * u64::from(scanned))
                .map(|l| l as u8)
        };
        prop_assert_eq!(young_share(young, scanned), want);
    }

    /// Served exactly from MIN_PASSES on; never lower for more passes or a denser sighting;
    /// always a level the queue has.
    #[test]
    fn young_level_is_monotone(passes in 0u8..=MAX_PASSES, share in 0u8..4) {
        let l = young_level(passes, share);
        prop_assert!(usize::from(l) < ALL_LEVELS);
        prop_assert_eq!(usize::from(l) < HINT_LEVELS, passes >= MIN_PASSES);
        if passes < MAX_PASSES {
            prop_assert!(young_level(passes + 1, share) <= l);
        }
        if share > 0 {
            prop_assert!(young_level(passes, share - 1) <= l);
        }
    }

    /// The interval stays within its samples' range, and a range goes cold only after
    /// EXPIRY_PASSES intervals and MIN_EXPIRY.
    #[test]
    fn pass_interval_tracks_its_samples(gaps in prop::collection::vec(0u32..100_000, 1..40)) {
        let mut p = PassInterval::new();
        prop_assert_eq!(p.expiry(), None);
        prop_assert!(!p.expired(u32::MAX));
        for &g in &gaps {
            p.sample(g);
        }
        let avg = p.get().unwrap();
        let lo = gaps.iter().copied().min().unwrap().max(1);
        let hi = gaps.iter().copied().max().unwrap().max(1);
        prop_assert!(lo <= avg && avg <= hi, "{} not in {}..={}", avg, lo, hi);
        let e = p.expiry().unwrap();
        prop_assert_eq!(e, (avg * EXPIRY_PASSES).max(MIN_EXPIRY));
        prop_assert!(!p.expired(e) && p.expired(e + 1));
    }

    /// The share stays within its bounds and grows with every collapse, shrinks with
    /// every miss.
    #[test]
    fn budget_follows_success(outcomes in prop::collection::vec(any::<bool>(), 0..200),
                              pages in 1u32..1_000_000) {
        let mut b = HintBudget::new();
        prop_assert_eq!(b.limit(pages), (u64::from(pages) * 4 / 8) as u32);
        for &c in &outcomes {
            let before = b.limit(pages);
            b.record(c);
            let after = b.limit(pages);
            prop_assert!(after >= (u64::from(pages) * u64::from(MIN_EIGHTHS) / 8) as u32);
            prop_assert!(after <= (u64::from(pages) * u64::from(MAX_EIGHTHS) / 8) as u32);
            let moved_right = if c { after >= before } else { after <= before };
            prop_assert!(moved_right);
        }
    }
}

#[test]
fn budget_round_trips_through_one_word() {
    let mut b = HintBudget::new();
    for c in [true, true, false, true] {
        b.record(c);
    }
    assert_eq!(HintBudget::from_raw(b.to_raw()), b);
    assert_eq!(HintBudget::from_raw(u32::MAX).success_percent(), 100);
}

#[test]
fn budget_reaches_its_bounds() {
    let mut b = HintBudget::new();
    for _ in 0..100 {
        b.record(true);
    }
    assert_eq!(b.success_percent(), 100);
    assert_eq!(b.limit(4096), 4096 * 7 / 8);
    for _ in 0..100 {
        b.record(false);
    }
    assert_eq!(b.success_percent(), 0);
    assert_eq!(b.limit(4096), 4096 / 8);
}
