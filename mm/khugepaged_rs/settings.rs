// SPDX-License-Identifier: GPL-2.0

//! The khugepaged tunables and counters behind `/sys/kernel/mm/transparent_hugepage/khugepaged/`
//! (C: the `khugepaged_*` file-scope statics of `mm/khugepaged.c`).
//!
//! Each value is one atomic word: readers take a snapshot, writers replace it whole, and no
//! two values need to change together, so no lock is needed.

use crate::policy::knobs::Knob;
use kernel::{
    mm::thp,
    sync::atomic::{Atomic, Relaxed},
};

static PAGES_TO_SCAN: Atomic<u32> = Atomic::new(0);
static SCAN_SLEEP_MILLISECS: Atomic<u32> = Atomic::new(0);
static ALLOC_SLEEP_MILLISECS: Atomic<u32> = Atomic::new(0);
static MAX_PTES_SWAP: Atomic<u32> = Atomic::new(0);
static MAX_PTES_SHARED: Atomic<u32> = Atomic::new(0);

/// PMD-sized pages collapsed by khugepaged (`pages_collapsed`).
pub(crate) static PAGES_COLLAPSED: Atomic<u32> = Atomic::new(0);
/// Completed passes over every registered mm (`full_scans`).
pub(crate) static FULL_SCANS: Atomic<u32> = Atomic::new(0);
/// `mmap_lock_busy` (khugepaged-rs, read-only): collapses left for a later pass because the
/// mmap lock was busy.
pub(crate) static MMAP_LOCK_BUSY: Atomic<u32> = Atomic::new(0);

fn cell(knob: Knob) -> &'static Atomic<u32> {
    match knob {
        Knob::PagesToScan => &PAGES_TO_SCAN,
        Knob::ScanSleepMillisecs => &SCAN_SLEEP_MILLISECS,
        Knob::AllocSleepMillisecs => &ALLOC_SLEEP_MILLISECS,
        // The THP shrinker in mm/huge_memory.c reads this one directly, by its C name.
        Knob::MaxPtesNone => &crate::khugepaged_max_ptes_none,
        Knob::MaxPtesSwap => &MAX_PTES_SWAP,
        Knob::MaxPtesShared => &MAX_PTES_SHARED,
    }
}

/// Returns the current value of `knob`.
pub(crate) fn get(knob: Knob) -> u32 {
    cell(knob).load(Relaxed)
}

/// Sets `knob`; the caller has validated `value`.
pub(crate) fn set(knob: Knob, value: u32) {
    cell(knob).store(value, Relaxed)
}

/// Sets every knob to its boot default (`khugepaged_init()`).
pub(crate) fn init_defaults() {
    let pmd_nr = thp::pmd_nr();
    for knob in Knob::ALL {
        set(knob, knob.default(pmd_nr));
    }
}
