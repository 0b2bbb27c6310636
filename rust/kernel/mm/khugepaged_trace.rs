// SPDX-License-Identifier: GPL-2.0

//! The `huge_memory` tracepoints of a khugepaged scan and collapse, with 7.3's fields, and
//! khugepaged-rs's own hint tracepoint. Results are passed by their `enum scan_result`
//! number, which the trace prints by name.
//!
//! They live here rather than in the khugepaged crate, as Rust Binder keeps its own
//! `trace.rs`, because [`declare_trace!`](crate::declare_trace) makes `unsafe` functions and
//! khugepaged itself has no `unsafe` but its entry points: these take only live objects and
//! plain values, so they are safe to call.
//!
//! C header: [`include/trace/events/huge_memory.h`](srctree/include/trace/events/huge_memory.h).

use crate::{
    bindings,
    fs::File,
    mm::{folio::Folio, Mm},
};

/// `mm_khugepaged_collapse_hint`: a collapse hint served, the aging passes it was seen
/// young in, the result of its scan and whether the range gained a new folio.
#[cfg(CONFIG_KHUGEPAGED_RS)]
pub fn collapse_hint(
    mm: usize,
    addr: usize,
    prio: u8,
    source: u8,
    passes: u8,
    status: i32,
    collapsed: bool,
) {
    // The mm is printed, never dereferenced: the hint may outlive it.
    let mm = core::ptr::without_provenance_mut::<bindings::mm_struct>(mm);
    // SAFETY: The tracepoint records the values only.
    unsafe {
        bindings::khugepaged_rs_trace_hint(
            mm,
            addr,
            prio.into(),
            source.into(),
            passes.into(),
            status,
            collapsed.into(),
        )
    }
}

/// `mm_khugepaged_scan_pmd`: the scan of one PMD range; `pfn` is the page that stopped it.
pub fn scan_pmd(
    mm: &Mm,
    pfn: Option<usize>,
    referenced: u32,
    none_or_zero: u32,
    status: i32,
    unmapped: u32,
) {
    // CAST: Counts are bounded by the PTEs in a PMD; C's trace takes them as `int`.
    // SAFETY: `mm` is valid; the tracepoint only records the values.
    unsafe {
        bindings::trace_mm_khugepaged_scan_pmd(
            mm.as_raw(),
            pfn.unwrap_or(usize::MAX),
            referenced as i32,
            none_or_zero as i32,
            status,
            unmapped as i32,
        )
    }
}

/// `mm_collapse_huge_page`: the end of one collapse attempt.
pub fn collapse_huge_page(mm: &Mm, isolated: bool, status: i32, order: u32) {
    // SAFETY: As for `scan_pmd`.
    unsafe { bindings::trace_mm_collapse_huge_page(mm.as_raw(), isolated.into(), status, order) }
}

/// `mm_collapse_huge_page_isolate`: the isolation step; `folio` is the last one looked at.
pub fn collapse_huge_page_isolate(
    folio: Option<&Folio>,
    none_or_zero: u32,
    referenced: u32,
    status: i32,
    order: u32,
) {
    let folio = folio.map_or(core::ptr::null_mut(), Folio::as_raw);
    // CAST: As for `scan_pmd`.
    // SAFETY: `folio` is NULL or alive (borrowed); the tracepoint reads its PFN only.
    unsafe {
        bindings::trace_mm_collapse_huge_page_isolate(
            folio,
            none_or_zero as i32,
            referenced as i32,
            status,
            order,
        )
    }
}

/// `mm_collapse_huge_page_swapin`: the swap-in step.
pub fn collapse_huge_page_swapin(
    mm: &Mm,
    swapped_in: u32,
    referenced: u32,
    status: i32,
    order: u32,
) {
    // CAST: As for `scan_pmd`.
    // SAFETY: As for `scan_pmd`.
    unsafe {
        bindings::trace_mm_collapse_huge_page_swapin(
            mm.as_raw(),
            swapped_in as i32,
            referenced as i32,
            status,
            order,
        )
    }
}

/// `mm_khugepaged_scan`: the end of one visit of an mm's slot.
pub fn scan(mm: &Mm, progress: u32, full_scan_finished: bool) {
    // SAFETY: As for `scan_pmd`.
    unsafe { bindings::trace_mm_khugepaged_scan(mm.as_raw(), progress, full_scan_finished) }
}

/// `mm_khugepaged_scan_file`: the scan of one PMD range of a file's page cache; `pfn` is the
/// folio that stopped it.
pub fn scan_file(mm: &Mm, pfn: Option<usize>, file: &File, present: u32, swap: u32, status: i32) {
    // CAST: As for `scan_pmd`.
    // SAFETY: `mm` and `file` are valid; the tracepoint records the values and the file's
    // name.
    unsafe {
        bindings::trace_mm_khugepaged_scan_file(
            mm.as_raw(),
            pfn.unwrap_or(usize::MAX),
            file.as_ptr(),
            present as i32,
            swap as i32,
            status,
        )
    }
}

/// `mm_khugepaged_collapse_file`: the end of one collapse in a file's page cache; `index` is
/// where it stopped, `new_pfn` the new folio's first page if one was allocated.
#[expect(clippy::too_many_arguments)]
pub fn collapse_file(
    mm: &Mm,
    new_pfn: Option<usize>,
    index: usize,
    addr: usize,
    is_shmem: bool,
    file: &File,
    nr: u32,
    status: i32,
) {
    // CAST: As for `scan_pmd`.
    // SAFETY: As for `scan_file`.
    unsafe {
        bindings::trace_mm_khugepaged_collapse_file(
            mm.as_raw(),
            new_pfn.unwrap_or(usize::MAX),
            index,
            addr,
            is_shmem,
            file.as_ptr(),
            nr as i32,
            status,
        )
    }
}
