// SPDX-License-Identifier: GPL-2.0

//! The free memory THP asks the page allocator to keep (`set_recommended_min_free_kbytes()`).
//!
//! Huge page allocations need free pageblocks: keep two per zone free, plus enough that each
//! of the `MIGRATE_PCPTYPES` migrate types can fall back to a nearly free pageblock of another
//! type, but never more than 5% of the memory usable for buffers.

/// The inputs of the recommendation, read from the page allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserves {
    /// Populated zones usable by `GFP_USER` allocations.
    pub nr_zones: u64,
    /// Base pages per pageblock.
    pub pageblock_nr_pages: u64,
    /// `MIGRATE_PCPTYPES`: migrate types with per-CPU lists.
    pub migrate_pcptypes: u64,
    /// `nr_free_buffer_pages()`.
    pub nr_free_buffer_pages: u64,
    /// `PAGE_SHIFT`; at least 10.
    pub page_shift: u32,
}

/// The recommended `min_free_kbytes`, in KiB.
pub fn recommended_min_free_kbytes(r: &Reserves) -> u64 {
    let per_type = r.pageblock_nr_pages.saturating_mul(r.nr_zones);
    let pages = per_type.saturating_mul(2).saturating_add(
        per_type.saturating_mul(r.migrate_pcptypes.saturating_mul(r.migrate_pcptypes)),
    );
    let pages = pages.min(r.nr_free_buffer_pages / 20);
    pages
        .checked_shl(r.page_shift.saturating_sub(10))
        .unwrap_or(u64::MAX)
}
