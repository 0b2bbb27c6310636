// SPDX-License-Identifier: GPL-2.0

//! Page allocator reserves: zones and the `min_free_kbytes` watermark.
//!
//! The few page-allocator facts THP policy reads or tunes: the populated zones, the pageblock
//! size, and `min_free_kbytes` with the watermarks derived from it. Writers of
//! `min_free_kbytes` (its sysctl, memory hotplug and THP) do not share a lock in C either; each
//! access here is a single load or store.
//!
//! C headers: [`include/linux/mmzone.h`](srctree/include/linux/mmzone.h),
//! [`mm/internal.h`](srctree/mm/internal.h) (through `include/linux/khugepaged_rs.h`).

use crate::bindings;

/// Counts the populated zones usable by `GFP_USER` allocations (so not `ZONE_MOVABLE`).
pub fn nr_populated_user_zones() -> usize {
    // SAFETY: `gfp_zone()` only computes on its argument.
    let user_zone = unsafe { bindings::gfp_zone(bindings::GFP_USER) };
    let mut count = 0;
    // SAFETY: `first_online_pgdat()` and `next_zone()` walk the statically allocated zone
    // arrays of online nodes; this is `for_each_populated_zone()`, which C also uses without
    // a lock.
    unsafe {
        let pgdat = bindings::first_online_pgdat();
        let mut zone = if pgdat.is_null() {
            core::ptr::null_mut()
        } else {
            (&raw mut (*pgdat).node_zones).cast::<bindings::zone>()
        };
        while !zone.is_null() {
            // CAST: `zone_idx()` is below `MAX_NR_ZONES`.
            if bindings::populated_zone(zone) && bindings::zone_idx(zone) <= user_zone as usize {
                count += 1;
            }
            zone = bindings::next_zone(zone);
        }
    }
    count
}

/// Returns the number of base pages in a pageblock.
pub fn pageblock_nr_pages() -> usize {
    // SAFETY: Evaluates `pageblock_nr_pages`, which may read a boot-time constant.
    unsafe { bindings::pageblock_nr_pages() }
}

/// Returns the number of pages usable for buffers (`nr_free_buffer_pages()`).
pub fn nr_free_buffer_pages() -> usize {
    // SAFETY: Always safe to call; it sums per-zone counters.
    unsafe { bindings::nr_free_buffer_pages() }
}

/// Returns `min_free_kbytes`.
pub fn min_free_kbytes() -> i32 {
    // SAFETY: A valid global `int`; a volatile load reads a value it held.
    unsafe { core::ptr::read_volatile(&raw const bindings::min_free_kbytes) }
}

/// Sets `min_free_kbytes`; [`setup_per_zone_wmarks`] makes it take effect.
pub fn set_min_free_kbytes(kbytes: i32) {
    // SAFETY: A valid global `int`, written with one store as C writers do.
    unsafe { core::ptr::write_volatile(&raw mut bindings::min_free_kbytes, kbytes) }
}

/// Returns `user_min_free_kbytes`: the value set through sysctl, or negative if never set.
pub fn user_min_free_kbytes() -> i32 {
    // SAFETY: A valid global `int`; a volatile load reads a value it held.
    unsafe { core::ptr::read_volatile(&raw const bindings::user_min_free_kbytes) }
}

/// Logs that THP raised `min_free_kbytes` from `from` to `to`, at most 10 times in 5 s as
/// `pr_info_ratelimited()` does (its state is a static of the C call site).
#[cfg(CONFIG_KHUGEPAGED_RS)]
pub fn report_min_free_raised(from: i32, to: u64) {
    // SAFETY: Prints two integers; callable from any context that may print.
    unsafe { bindings::khugepaged_rs_min_free_raised(from, to.try_into().unwrap_or(!0)) }
}

/// Recomputes `min_free_kbytes` from the memory size (`calculate_min_free_kbytes()`).
pub fn calculate_min_free_kbytes() {
    // SAFETY: Always safe to call from process context.
    unsafe { bindings::calculate_min_free_kbytes() }
}

/// Recomputes every zone's watermarks from `min_free_kbytes` (`setup_per_zone_wmarks()`).
pub fn setup_per_zone_wmarks() {
    // SAFETY: Always safe to call from process context; it takes the locks it needs.
    unsafe { bindings::setup_per_zone_wmarks() }
}

/// `MIGRATE_PCPTYPES`: the number of migrate types that have per-CPU free lists.
// CAST: A small non-negative enumerator.
pub const MIGRATE_PCPTYPES: u32 = bindings::migratetype_MIGRATE_PCPTYPES as u32;
