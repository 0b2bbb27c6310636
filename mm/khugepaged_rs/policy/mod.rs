// SPDX-License-Identifier: GPL-2.0

//! The pure policy core of khugepaged-rs.
//!
//! Decisions that need no kernel object: how the `khugepaged/` sysfs knobs parse and which
//! values they take, and how much memory THP asks the page allocator to keep free; which
//! ranges of a PMD to collapse and to which mTHP order ([`order`]); the queue of collapse
//! hints ([`hint_queue`]); and how much each wake-up scans, and where ([`scan`]). Nothing
//! here touches kernel types, so the same files also build as the host crate in
//! `tools/khugepaged-rs/policy`, where they are unit- and property-tested against simple
//! models and benchmarked. Nothing here may panic or allocate: every arithmetic step is
//! checked or saturating, and storage comes from the caller.

pub mod hint_budget;
pub mod hint_heat;
pub mod hint_queue;
pub mod knobs;
pub mod madvise;
pub mod min_free;
pub mod order;
mod order_blocked;
mod order_lanes;
mod order_maps;
mod order_planner;
mod order_rules;
mod order_walk;
pub mod scan;
pub mod scan_result;
mod slot_list;
