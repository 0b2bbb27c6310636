// SPDX-License-Identifier: GPL-2.0

//! Doubly linked lists threaded through a slice by index, for structures that get all
//! their memory up front ([`crate::policy::hint_queue`]): a slot may sit on several lists
//! at once, one per [`Link`] field, and a list is just its two ends.

/// "No slot" in the index links.
pub(crate) const NIL: u32 = u32::MAX;

/// Links of a doubly linked list through the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

pub(crate) const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

/// The ends of a doubly linked list through the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct List {
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

pub(crate) const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// Selects one of a slot's link pairs.
pub(crate) type LinkOf<T> = fn(&mut T) -> &mut Link;

/// Widens a slot index; lossless on the 64-bit targets.
pub(crate) fn idx(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// Appends `i` to `list`.
pub(crate) fn push_back<T>(slots: &mut [T], list: &mut List, i: u32, link: LinkOf<T>) {
    let tail = list.tail;
    if let Some(s) = slots.get_mut(idx(i)) {
        *link(s) = Link {
            prev: tail,
            next: NIL,
        };
    }
    match slots.get_mut(idx(tail)) {
        Some(t) => link(t).next = i,
        None => list.head = i,
    }
    list.tail = i;
}

/// Takes `i` out of `list`, which holds it.
pub(crate) fn unlink<T>(slots: &mut [T], list: &mut List, i: u32, link: LinkOf<T>) {
    let Some(s) = slots.get_mut(idx(i)) else {
        return;
    };
    let l = core::mem::replace(link(s), UNLINKED);
    match slots.get_mut(idx(l.prev)) {
        Some(p) => link(p).next = l.next,
        None => list.head = l.next,
    }
    match slots.get_mut(idx(l.next)) {
        Some(n) => link(n).prev = l.prev,
        None => list.tail = l.prev,
    }
}

/// Takes the head of `list`.
pub(crate) fn pop_front<T>(slots: &mut [T], list: &mut List, link: LinkOf<T>) -> Option<u32> {
    let head = list.head;
    if head == NIL {
        return None;
    }
    unlink(slots, list, head, link);
    Some(head)
}

/// Moves all of `other` to the end of `list`.
pub(crate) fn append<T>(slots: &mut [T], list: &mut List, other: List, link: LinkOf<T>) {
    if other.head == NIL {
        return;
    }
    match slots.get_mut(idx(list.tail)) {
        Some(t) => link(t).next = other.head,
        None => list.head = other.head,
    }
    if let Some(h) = slots.get_mut(idx(other.head)) {
        link(h).prev = list.tail;
    }
    list.tail = other.tail;
}
