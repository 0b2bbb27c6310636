// SPDX-License-Identifier: GPL-2.0

//! `set_recommended_min_free_kbytes()`'s arithmetic against a wide-integer model.

use khugepaged_policy::min_free::{recommended_min_free_kbytes, Reserves};
use proptest::prelude::*;

/// 7.3's formula in 128-bit arithmetic, which cannot overflow for these inputs.
fn model(r: &Reserves) -> u128 {
    let per_type = u128::from(r.pageblock_nr_pages) * u128::from(r.nr_zones);
    let pages = per_type * 2 + per_type * u128::from(r.migrate_pcptypes).pow(2);
    let pages = pages.min(u128::from(r.nr_free_buffer_pages / 20));
    pages << (r.page_shift - 10)
}

#[test]
fn x86_64_two_gib_guest() {
    // 2 GiB, DMA + DMA32 populated, 2 MiB pageblocks of 4 KiB pages, 3 PCP types.
    let r = Reserves {
        nr_zones: 2,
        pageblock_nr_pages: 512,
        migrate_pcptypes: 3,
        nr_free_buffer_pages: 500_000,
        page_shift: 12,
    };
    // (512*2*2 + 512*2*9) pages = 11264 pages, capped at 25000 pages; in KiB: 45056.
    assert_eq!(recommended_min_free_kbytes(&r), 45_056);
}

#[test]
fn capped_at_five_percent() {
    let r = Reserves {
        nr_zones: 4,
        pageblock_nr_pages: 8192,
        migrate_pcptypes: 3,
        nr_free_buffer_pages: 100_000,
        page_shift: 16,
    };
    assert_eq!(recommended_min_free_kbytes(&r), (100_000 / 20) << 6);
}

proptest! {
    #[test]
    fn matches_model(
        nr_zones in 0u64..8,
        pageblock_order in 0u32..14,
        migrate_pcptypes in 1u64..5,
        nr_free_buffer_pages in 0u64..(1 << 40),
        page_shift in prop::sample::select(vec![12u32, 14, 16]),
    ) {
        let r = Reserves {
            nr_zones,
            pageblock_nr_pages: 1 << pageblock_order,
            migrate_pcptypes,
            nr_free_buffer_pages,
            page_shift,
        };
        prop_assert_eq!(u128::from(recommended_min_free_kbytes(&r)), model(&r));
    }
}
