// SPDX-License-Identifier: GPL-2.0

//! NUMA nodes: which node ids exist, and sets of node ids.
//!
//! A [`NodeMask`] is C's `nodemask_t`, a bitmap of `MAX_NUMNODES` bits, built and read in safe
//! Rust; the page allocator takes it to restrict where an allocation may land. Node ids are
//! `i32`, as in C, so that `NUMA_NO_NODE` (-1) can be passed around; a set ignores ids it
//! cannot hold.
//!
//! C headers: [`include/linux/nodemask.h`](srctree/include/linux/nodemask.h),
//! [`include/linux/topology.h`](srctree/include/linux/topology.h).

use crate::bindings;

/// The number of node ids (`MAX_NUMNODES`): 1 without `CONFIG_NUMA`.
// CAST: `NODES_SHIFT` is at most 10, so this is at most 1024.
pub const MAX_NUMNODES: usize = bindings::MAX_NUMNODES as usize;

const BITS_PER_WORD: usize = core::mem::size_of::<crate::ffi::c_ulong>() * 8;

/// The index of `nid` in a node bitmap, if it is a node id at all.
fn index(nid: i32) -> Option<usize> {
    usize::try_from(nid).ok().filter(|&i| i < MAX_NUMNODES)
}

/// Whether `nid` is an online node now (C's `node_online()`). Nodes can go online and offline
/// with memory hotplug, so the answer may be stale by the time it is used.
pub fn node_online(nid: i32) -> bool {
    // SAFETY: `index()` checked that `nid` is below `MAX_NUMNODES`, the size of the bitmap
    // `node_online()` reads.
    index(nid).is_some() && unsafe { bindings::node_online(nid) }
}

/// Whether `nid` is a possible node (C's `node_possible()`): one the firmware described. The
/// set of possible nodes is fixed at boot, and every possible node has its `pg_data_t` and
/// zonelists, so the page allocator accepts it as the preferred node.
pub fn node_possible(nid: i32) -> bool {
    // SAFETY: As for `node_online()`.
    index(nid).is_some() && unsafe { bindings::node_possible(nid) }
}

/// Whether `node_reclaim_mode` asks to keep allocations on the local node.
pub fn node_reclaim_enabled() -> bool {
    // SAFETY: Reads a global.
    unsafe { bindings::node_reclaim_enabled() }
}

/// Whether nodes `a` and `b` are further apart than `node_reclaim_distance`; `false` unless
/// both are node ids.
pub fn node_too_far(a: i32, b: i32) -> bool {
    // SAFETY: Both ids are below `MAX_NUMNODES` (checked), which the distance lookups accept
    // (ids beyond the firmware's table count as remote); the rest reads a global.
    index(a).is_some() && index(b).is_some() && unsafe { bindings::node_too_far(a, b) }
}

/// The nearest node with memory to the CPU running this (C's `numa_mem_id()`); the task may
/// move to another CPU at any time after.
pub fn numa_mem_id() -> i32 {
    // SAFETY: Reads a per-CPU variable with `raw_cpu_read()`, allowed in any context.
    unsafe { bindings::numa_mem_id() }
}

/// A set of NUMA node ids (C's `nodemask_t`).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct NodeMask(bindings::nodemask_t);

impl NodeMask {
    /// An empty set (C's `NODE_MASK_NONE`).
    pub const fn new() -> Self {
        Self(bindings::nodemask_t {
            bits: [0; MAX_NUMNODES.div_ceil(BITS_PER_WORD)],
        })
    }

    /// Adds node `nid` (C's `node_set()`). Ids outside `0..MAX_NUMNODES` are ignored.
    pub fn set(&mut self, nid: i32) {
        if let Some(i) = index(nid) {
            if let Some(word) = self.0.bits.get_mut(i / BITS_PER_WORD) {
                *word |= 1 << (i % BITS_PER_WORD);
            }
        }
    }

    /// Whether node `nid` is in the set (C's `node_isset()`).
    pub fn contains(&self, nid: i32) -> bool {
        index(nid).is_some_and(|i| {
            self.0
                .bits
                .get(i / BITS_PER_WORD)
                .is_some_and(|word| word & (1 << (i % BITS_PER_WORD)) != 0)
        })
    }

    /// Whether the set is empty (C's `nodes_empty()`).
    pub fn is_empty(&self) -> bool {
        self.0.bits.iter().all(|&word| word == 0)
    }

    /// The C mask, for functions that only read it.
    pub(crate) fn as_ptr(&self) -> *mut bindings::nodemask_t {
        (&raw const self.0).cast_mut()
    }
}

impl Default for NodeMask {
    fn default() -> Self {
        Self::new()
    }
}
