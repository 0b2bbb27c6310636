// SPDX-License-Identifier: GPL-2.0

//! Keeping enough memory free for huge page allocations (C: `set_recommended_min_free_kbytes()`).
//!
//! The recommendation itself is the policy core's; this file reads its inputs from the page
//! allocator and applies it. Callers serialise through the daemon's thread mutex, or are
//! `hugepage_init()` and the shmem sysfs handlers, as in C.

use crate::{
    eligible,
    policy::min_free::{recommended_min_free_kbytes, Reserves},
};
use kernel::{mm::page_alloc, page::PAGE_SHIFT};

/// Raises `min_free_kbytes` to what THP needs (never lowers it), or recomputes the default if
/// THP is off, then updates the zone watermarks.
pub(crate) fn set_recommended() {
    if eligible::hugepage_enabled() {
        let reserves = Reserves {
            nr_zones: page_alloc::nr_populated_user_zones() as u64,
            pageblock_nr_pages: page_alloc::pageblock_nr_pages() as u64,
            migrate_pcptypes: page_alloc::MIGRATE_PCPTYPES.into(),
            nr_free_buffer_pages: page_alloc::nr_free_buffer_pages() as u64,
            // CAST: PAGE_SHIFT is at most 18 on every architecture.
            page_shift: PAGE_SHIFT as u32,
        };
        let recommended = recommended_min_free_kbytes(&reserves);
        let current = page_alloc::min_free_kbytes();
        if recommended > u64::try_from(current).unwrap_or(0) {
            if page_alloc::user_min_free_kbytes() >= 0 {
                page_alloc::report_min_free_raised(current, recommended);
            }
            page_alloc::set_min_free_kbytes(i32::try_from(recommended).unwrap_or(i32::MAX));
        }
    } else {
        page_alloc::calculate_min_free_kbytes();
    }
    page_alloc::setup_per_zone_wmarks();
}
