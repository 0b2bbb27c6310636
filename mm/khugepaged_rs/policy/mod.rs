// SPDX-License-Identifier: GPL-2.0

//! The pure policy core of khugepaged-rs.
//!
//! Decisions that need no kernel object: how the `khugepaged/` sysfs knobs parse and which
//! values they take, and how much memory THP asks the page allocator to keep free. Nothing
//! here touches kernel types, so the same files also build as the host crate in
//! `tools/khugepaged-rs/policy`, where they are unit- and property-tested against simple
//! models. Nothing here may panic: every arithmetic step is checked or saturating.

pub mod knobs;
pub mod madvise;
pub mod min_free;
pub mod scan_result;
