// SPDX-License-Identifier: GPL-2.0

//! The mms registered with khugepaged (C: `struct mm_slot`, `mm_slots_hash` and the
//! `khugepaged_scan.mm_head` list).
//!
//! Each mm gets a registration number that is never reused. The walk visits the mms in that
//! order, so a newly registered mm comes last, behind the cursor, as C's `list_add_tail()`
//! puts it; and a new mm that happens to get the address of one that exited is a different
//! slot. A second tree finds an mm's number from its address, for [`Slots::remove`] and the
//! hints, as C's hash does.

use kernel::{
    mm::Mm,
    prelude::*,
    rbtree::{RBTree, RBTreeNode},
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
};

/// Registrations so far: the next registration number.
static REGISTRATIONS: Atomic<u64> = Atomic::new(0);

/// The registered mms, each holding an `mmgrab()` reference.
pub(crate) struct Slots {
    /// By registration number: the walk's order.
    order: RBTree<u64, ARef<Mm>>,
    /// Registration number by mm address.
    by_mm: RBTree<usize, u64>,
}

/// A slot allocated for an mm, ready to be inserted without allocating (under a spinlock).
pub(crate) struct NewSlot {
    order: RBTreeNode<u64, ARef<Mm>>,
    by_mm: RBTreeNode<usize, u64>,
}

/// The key an mm is found by: its address.
fn mm_key(mm: &Mm) -> usize {
    // CAST: The address is only a key, never turned back into a pointer.
    mm.as_raw() as usize
}

impl NewSlot {
    /// Allocates a slot for `mm`, with the next registration number.
    pub(crate) fn new(mm: &Mm) -> Result<Self> {
        let seq = REGISTRATIONS.fetch_add(1, Relaxed);
        Ok(Self {
            order: RBTreeNode::new(seq, ARef::from(mm), GFP_KERNEL)?,
            by_mm: RBTreeNode::new(mm_key(mm), seq, GFP_KERNEL)?,
        })
    }
}

impl Slots {
    pub(crate) fn new() -> Self {
        Self {
            order: RBTree::new(),
            by_mm: RBTree::new(),
        }
    }

    /// Whether no mm is registered.
    pub(crate) fn is_empty(&self) -> bool {
        self.by_mm.is_empty()
    }

    /// Inserts `slot`; if its mm was registered already (never expected: the caller checks
    /// `MMF_VM_HUGEPAGE`), the old slot goes and its reference comes back.
    pub(crate) fn insert(&mut self, slot: NewSlot) -> Option<ARef<Mm>> {
        let old = self
            .by_mm
            .insert(slot.by_mm)
            .and_then(|node| self.order.remove(&node.to_key_value().1));
        self.order.insert(slot.order);
        old
    }

    /// Takes `mm`'s slot out, returning its reference.
    pub(crate) fn remove(&mut self, mm: &Mm) -> Option<ARef<Mm>> {
        let seq = self.by_mm.remove(&mm_key(mm))?;
        self.order.remove(&seq)
    }

    /// The registered mm at address `key`, with a new reference.
    pub(crate) fn get(&self, key: usize) -> Option<ARef<Mm>> {
        let seq = self.by_mm.get(&key)?;
        self.order.get(seq).cloned()
    }

    /// The number of the first mm registered as number `seq` or later.
    pub(crate) fn next_seq(&self, seq: u64) -> Option<u64> {
        Some(*self.order.cursor_lower_bound(&seq)?.current().0)
    }

    /// The first mm registered as number `seq` or later, with its number.
    pub(crate) fn at_or_after(&self, seq: u64) -> Option<(u64, ARef<Mm>)> {
        let cursor = self.order.cursor_lower_bound(&seq)?;
        let (seq, mm) = cursor.current();
        Some((*seq, mm.clone()))
    }
}
