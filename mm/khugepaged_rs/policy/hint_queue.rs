// SPDX-License-Identifier: GPL-2.0

//! The collapse hint queue: PMD ranges worth scanning soon, by priority, fair across
//! processes. 7.3 has no counterpart; its khugepaged only walks every mm in turn.
//!
//! A hint is `(mm, address, priority)`. The mm is an opaque key (the kernel passes the
//! `mm_struct` address; the queue never dereferences it) and the address is aligned down
//! to its PMD. Priority levels run from 0, the highest, to [`HINT_LEVELS`] - 1.
//!
//! - [`HintQueue::add`] keeps one hint per `(mm, PMD)`: a second one is counted as
//!   deduplicated and raises the first one's priority if it is higher.
//! - [`Iterator::next`] serves the highest non-empty level. Within a level, the mms with
//!   hints take turns (round robin, in the order they got their first hint there), and
//!   each mm's hints come oldest first: one busy mm cannot starve the others.
//! - [`HintQueue::remove_mm`] drops every hint of an exiting mm.
//! - The capacity is fixed. When the queue is full, a new hint drops the lowest-priority
//!   oldest hint, which is the new hint itself when its priority is lower than every
//!   queued one.
//!
//! All memory comes from the caller at construction: one [`HintSlot`] per hint, each also
//! holding one `(mm, level)` record and two hash buckets, so nothing allocates afterwards
//! and `add()` can run from reclaim under a spinlock. Everything is index-linked lists in
//! that storage. `add()`, `next()` and `remove_mm()` are O(1) (`remove_mm()` is O(levels))
//! apart from the hash chain walks, which are O(1) expected at a load factor of at most 2.
//!
//! `remove_mm()` does not touch the mm's hints one by one: it bumps the generation of the
//! mm's records, which turns their hints into zombies at once, and queues them for reuse.
//! Lookups skip zombies, and [`HintQueue::add`] reclaims one per call, so a full queue
//! never drops a live hint while a zombie holds a slot.

use core::ops::DerefMut;

/// Priority levels; 0 is the highest.
pub const HINT_LEVELS: usize = 4;

/// The largest capacity: more hints than any PMD-sized work list needs.
pub const MAX_HINT_CAPACITY: usize = 1 << 24;

/// "No slot" in the index links.
const NIL: u32 = u32::MAX;

/// Links of a doubly linked list through the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Link {
    prev: u32,
    next: u32,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
};

/// The ends of a doubly linked list through the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// One unit of the queue's storage, to be allocated by the caller (e.g. a `KVec` filled
/// with [`HintSlot::EMPTY`]).
///
/// Slot `i` is at once hint `i`, `(mm, level)` record `i` and hash buckets `i`; the queue
/// uses as many of each as there are slots, so records and buckets can never run out.
/// 120 bytes on 64-bit: 1024 hints take 120 KiB.
#[derive(Clone, Copy, Debug)]
pub struct HintSlot {
    // As a hint.
    mm: usize,
    addr: usize,
    /// The generation of `rec` when the hint joined it; a different one means a zombie.
    gen: u64,
    rec: u32,
    level: u8,
    /// The caller's tag (where the hint came from).
    tag: u8,
    /// The chain of the hint's bucket.
    hash: Link,
    /// Its record's list; also the free list and the zombie list.
    fifo: Link,
    /// Its level's list, oldest first.
    age: Link,
    // As an `(mm, level)` record.
    rec_mm: usize,
    rec_gen: u64,
    rec_level: u8,
    /// The chain of the record's bucket.
    rec_hash: Link,
    /// Its level's round-robin ring; also the free list of records.
    ring: Link,
    /// The mm's hints at this level, oldest first.
    hints: List,
    count: u32,
    // As buckets.
    hint_bucket: List,
    rec_bucket: List,
}

impl HintSlot {
    /// A slot before [`HintQueue::new`] links it.
    pub const EMPTY: HintSlot = HintSlot {
        mm: 0,
        addr: 0,
        gen: 0,
        rec: NIL,
        level: 0,
        tag: 0,
        hash: UNLINKED,
        fifo: UNLINKED,
        age: UNLINKED,
        rec_mm: 0,
        rec_gen: 0,
        rec_level: 0,
        rec_hash: UNLINKED,
        ring: UNLINKED,
        hints: EMPTY,
        count: 0,
        hint_bucket: EMPTY,
        rec_bucket: EMPTY,
    };
}

impl Default for HintSlot {
    fn default() -> Self {
        HintSlot::EMPTY
    }
}

/// A hint served by the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hint {
    /// The mm's key, as added.
    pub mm: usize,
    /// The PMD-aligned address.
    pub addr: usize,
    /// The level it was served from.
    pub prio: u8,
    /// The tag it was added with, or the one of the hint that last raised it.
    pub tag: u8,
}

/// Priority levels by the share of young PTEs, highest first: a hint at level `i` needs at
/// least `YOUNG_SHARE[i]` eighths of the PTEs looked at to be young.
const YOUNG_SHARE: [u32; HINT_LEVELS] = [7, 4, 2, 1];

/// Fewest young PTEs worth a hint: the smallest mTHP (order 2).
pub const MIN_YOUNG: u32 = 4;

/// The priority of a hint from an access-bit scan that found `young` of `scanned` PTEs
/// young: level 0 from 7/8 young, 1 from 1/2, 2 from 1/4, 3 from 1/8; `None` below 1/8 or
/// below [`MIN_YOUNG`] young PTEs.
pub fn young_priority(young: u32, scanned: u32) -> Option<u8> {
    // A look-around counts the young PTE it started from on top of its window.
    let young = young.min(scanned);
    if young < MIN_YOUNG {
        return None;
    }
    let eighths = u64::from(young).saturating_mul(8);
    let level = YOUNG_SHARE
        .iter()
        .position(|&share| eighths >= u64::from(share).saturating_mul(u64::from(scanned)))?;
    u8::try_from(level).ok()
}

/// What [`HintQueue::add`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// Queued.
    Added,
    /// Queued; the queue was full, so the lowest-priority oldest hint was dropped.
    Evicted,
    /// The `(mm, PMD)` was queued already, at this priority or a higher one.
    Duplicate,
    /// The `(mm, PMD)` was queued already at a lower priority, now raised to this one.
    Raised,
    /// The queue was full of hints of higher priority: this one was dropped.
    Dropped,
}

/// Event counts since construction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HintCounters {
    /// Hints queued ([`AddOutcome::Added`] and [`AddOutcome::Evicted`]).
    pub added: u64,
    /// Hints for an `(mm, PMD)` already queued ([`AddOutcome::Duplicate`] and
    /// [`AddOutcome::Raised`]).
    pub deduplicated: u64,
    /// Of those, the ones that raised the queued hint's priority.
    pub raised: u64,
    /// Hints lost to a full queue: evicted ones and refused new ones.
    pub dropped: u64,
    /// Hints returned by `next()`.
    pub served: u64,
    /// Hints dropped by [`HintQueue::remove_mm`].
    pub removed: u64,
}

/// Why a queue could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintQueueError {
    /// No slot, or more than [`MAX_HINT_CAPACITY`].
    Capacity,
    /// The PMD shift is not below the address width.
    PmdShift,
}

/// One priority level.
#[derive(Clone, Copy, Debug)]
struct Level {
    /// Records with hints at this level; the head is served next.
    ring: List,
    /// Hints at this level, oldest first; zombies stay until reclaimed.
    age: List,
    /// Live hints at this level.
    live: u32,
}

const NO_HINTS: Level = Level {
    ring: EMPTY,
    age: EMPTY,
    live: 0,
};

/// Selects one of a slot's link pairs.
type LinkOf = fn(&mut HintSlot) -> &mut Link;

fn hash_link(s: &mut HintSlot) -> &mut Link {
    &mut s.hash
}

fn fifo_link(s: &mut HintSlot) -> &mut Link {
    &mut s.fifo
}

fn age_link(s: &mut HintSlot) -> &mut Link {
    &mut s.age
}

fn rec_hash_link(s: &mut HintSlot) -> &mut Link {
    &mut s.rec_hash
}

fn ring_link(s: &mut HintSlot) -> &mut Link {
    &mut s.ring
}

/// Widens a slot index; lossless on the 64-bit targets.
fn idx(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// Appends `i` to `list`.
fn push_back(slots: &mut [HintSlot], list: &mut List, i: u32, link: LinkOf) {
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
fn unlink(slots: &mut [HintSlot], list: &mut List, i: u32, link: LinkOf) {
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
fn pop_front(slots: &mut [HintSlot], list: &mut List, link: LinkOf) -> Option<u32> {
    let head = list.head;
    if head == NIL {
        return None;
    }
    unlink(slots, list, head, link);
    Some(head)
}

/// Moves all of `other` to the end of `list`.
fn append(slots: &mut [HintSlot], list: &mut List, other: List, link: LinkOf) {
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

/// Mixes a key into a hash whose high bits pick the bucket (Fibonacci hashing).
fn mix(a: usize, b: u64) -> u64 {
    // CAST: `usize` is 64 bits wide on every target.
    let x = (a as u64) ^ b.rotate_left(29);
    (x ^ (x >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The hint queue, over caller-provided storage `S` (a `KVec<HintSlot>`, a
/// `&mut [HintSlot]`, ...).
pub struct HintQueue<S> {
    slots: S,
    /// Slots in use: `slots.len()`, checked to fit the index links.
    cap: u32,
    /// The bucket of a hash is its top bits: `hash >> bucket_shift`.
    bucket_shift: u32,
    pmd_mask: usize,
    free: List,
    free_recs: List,
    zombies: List,
    levels: [Level; HINT_LEVELS],
    live: u32,
    counters: HintCounters,
}

impl<S: DerefMut<Target = [HintSlot]>> HintQueue<S> {
    /// Builds an empty queue in `storage`, one hint per slot, for PMDs of `1 << pmd_shift`
    /// bytes. O(capacity), once.
    pub fn new(storage: S, pmd_shift: u32) -> Result<Self, HintQueueError> {
        let len = storage.len();
        if len == 0 || len > MAX_HINT_CAPACITY {
            return Err(HintQueueError::Capacity);
        }
        let pmd_size = 1usize
            .checked_shl(pmd_shift)
            .ok_or(HintQueueError::PmdShift)?;
        // The largest power of two not above the capacity.
        let bucket_bits = usize::BITS
            .saturating_sub(1)
            .saturating_sub(len.leading_zeros());
        let mut queue = HintQueue {
            slots: storage,
            cap: u32::try_from(len).map_err(|_| HintQueueError::Capacity)?,
            bucket_shift: u64::BITS.saturating_sub(bucket_bits),
            pmd_mask: !pmd_size.wrapping_sub(1),
            free: EMPTY,
            free_recs: EMPTY,
            zombies: EMPTY,
            levels: [NO_HINTS; HINT_LEVELS],
            live: 0,
            counters: HintCounters::default(),
        };
        queue.clear();
        Ok(queue)
    }

    /// Drops every hint, uncounted, keeping the counters. O(capacity).
    pub fn clear(&mut self) {
        self.free = EMPTY;
        self.free_recs = EMPTY;
        self.zombies = EMPTY;
        self.levels = [NO_HINTS; HINT_LEVELS];
        self.live = 0;
        let slots = &mut *self.slots;
        for i in 0..self.cap {
            if let Some(s) = slots.get_mut(idx(i)) {
                // Keep the record generations: a stale index must never look live again.
                let rec_gen = s.rec_gen.wrapping_add(1);
                *s = HintSlot {
                    rec_gen,
                    ..HintSlot::EMPTY
                };
            }
            push_back(slots, &mut self.free, i, fifo_link);
            push_back(slots, &mut self.free_recs, i, ring_link);
        }
    }

    /// How many hints the queue holds at most.
    pub fn capacity(&self) -> usize {
        idx(self.cap)
    }

    /// Queued hints.
    pub fn len(&self) -> usize {
        idx(self.live)
    }

    /// Whether no hint is queued.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Event counts since construction.
    pub fn counters(&self) -> HintCounters {
        self.counters
    }

    /// Queued hints at `prio`.
    pub fn len_at(&self, prio: u8) -> usize {
        self.levels
            .get(usize::from(prio))
            .map_or(0, |l| idx(l.live))
    }

    fn slot(&self, i: u32) -> Option<&HintSlot> {
        self.slots.get(idx(i))
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut HintSlot> {
        self.slots.get_mut(idx(i))
    }

    fn bucket(&self, hash: u64) -> u32 {
        // The shift is in 1..=64: a single bucket takes no bits.
        u32::try_from(hash.checked_shr(self.bucket_shift).unwrap_or(0)).unwrap_or(0)
    }

    fn hint_bucket(&self, mm: usize, addr: usize) -> u32 {
        // CAST: `usize` is 64 bits wide on every target.
        self.bucket(mix(mm, addr as u64))
    }

    fn rec_bucket(&self, mm: usize, level: u8) -> u32 {
        self.bucket(mix(mm, u64::from(level).wrapping_add(0x5bd1_e995)))
    }

    /// Whether hint `i` is queued, rather than a zombie of a removed mm.
    ///
    /// The generation check makes this true whatever the order of reclaim. As it is, a
    /// zombie is always reclaimed before its record is reused: a freed record goes last
    /// among the free ones, which are at least as many as the zombies, and every `add()`
    /// reclaims one zombie before it takes a record.
    fn is_live(&self, i: u32) -> bool {
        self.slot(i).is_some_and(|s| {
            self.slot(s.rec)
                .is_some_and(|r| r.rec_gen == s.gen && r.count != 0)
        })
    }

    /// The live hint for `(mm, addr)`.
    fn find_hint(&self, mm: usize, addr: usize) -> Option<u32> {
        let mut i = self.slot(self.hint_bucket(mm, addr))?.hint_bucket.head;
        while let Some(s) = self.slot(i) {
            if s.mm == mm && s.addr == addr && self.is_live(i) {
                return Some(i);
            }
            i = s.hash.next;
        }
        None
    }

    /// The record of `(mm, level)`.
    fn find_rec(&self, mm: usize, level: u8) -> Option<u32> {
        let mut r = self.slot(self.rec_bucket(mm, level))?.rec_bucket.head;
        while let Some(s) = self.slot(r) {
            if s.rec_mm == mm && s.rec_level == level {
                return Some(r);
            }
            r = s.rec_hash.next;
        }
        None
    }

    /// Takes a free record for `(mm, level)` and puts it last in the level's ring.
    fn new_rec(&mut self, mm: usize, level: u8) -> Option<u32> {
        let r = pop_front(&mut self.slots, &mut self.free_recs, ring_link)?;
        let b = self.rec_bucket(mm, level);
        let s = self.slot_mut(r)?;
        s.rec_mm = mm;
        s.rec_level = level;
        s.hints = EMPTY;
        s.count = 0;
        self.with_list(
            b,
            |s| &mut s.rec_bucket,
            |slots, list| {
                push_back(slots, list, r, rec_hash_link);
            },
        );
        let ring = &mut self.levels.get_mut(usize::from(level))?.ring;
        push_back(&mut self.slots, ring, r, ring_link);
        Some(r)
    }

    /// Frees record `r`, which has no hint left: out of its ring and bucket, and a new
    /// generation so that hints still naming it are zombies.
    fn free_rec(&mut self, r: u32) {
        let Some(s) = self.slot_mut(r) else {
            return;
        };
        s.rec_gen = s.rec_gen.wrapping_add(1);
        s.count = 0;
        s.hints = EMPTY;
        let (mm, level) = (s.rec_mm, s.rec_level);
        let b = self.rec_bucket(mm, level);
        self.with_list(
            b,
            |s| &mut s.rec_bucket,
            |slots, list| {
                unlink(slots, list, r, rec_hash_link);
            },
        );
        if let Some(l) = self.levels.get_mut(usize::from(level)) {
            unlink(&mut self.slots, &mut l.ring, r, ring_link);
        }
        push_back(&mut self.slots, &mut self.free_recs, r, ring_link);
    }

    /// Runs `f` on the list that slot `i` holds in the field `field` selects.
    fn with_list(
        &mut self,
        i: u32,
        field: fn(&mut HintSlot) -> &mut List,
        f: impl FnOnce(&mut [HintSlot], &mut List),
    ) {
        let Some(s) = self.slot_mut(i) else {
            return;
        };
        let mut list = *field(s);
        f(&mut self.slots, &mut list);
        if let Some(s) = self.slot_mut(i) {
            *field(s) = list;
        }
    }

    /// Takes live hint `i` out of its record and level (not its bucket), freeing the record
    /// if it was the last one there.
    fn detach(&mut self, i: u32) {
        let Some(s) = self.slot(i) else {
            return;
        };
        let (r, level) = (s.rec, s.level);
        self.with_list(
            r,
            |s| &mut s.hints,
            |slots, list| {
                unlink(slots, list, i, fifo_link);
            },
        );
        let left = self.slot_mut(r).map_or(0, |s| {
            s.count = s.count.saturating_sub(1);
            s.count
        });
        if left == 0 {
            self.free_rec(r);
        }
        if let Some(l) = self.levels.get_mut(usize::from(level)) {
            unlink(&mut self.slots, &mut l.age, i, age_link);
            l.live = l.live.saturating_sub(1);
        }
        self.live = self.live.saturating_sub(1);
    }

    /// Puts detached hint `i` last in `(its mm, level)`'s list and in the level's.
    /// Returns `false` if no record was free, which the capacity argument rules out: every
    /// record in use holds a live hint other than `i`.
    fn attach(&mut self, i: u32, level: u8) -> bool {
        let Some(mm) = self.slot(i).map(|s| s.mm) else {
            return false;
        };
        let Some(r) = self.find_rec(mm, level).or_else(|| self.new_rec(mm, level)) else {
            return false;
        };
        let gen = self.slot(r).map_or(0, |s| s.rec_gen);
        self.with_list(
            r,
            |s| &mut s.hints,
            |slots, list| {
                push_back(slots, list, i, fifo_link);
            },
        );
        if let Some(s) = self.slot_mut(r) {
            s.count = s.count.saturating_add(1);
        }
        if let Some(s) = self.slot_mut(i) {
            s.rec = r;
            s.gen = gen;
            s.level = level;
        }
        if let Some(l) = self.levels.get_mut(usize::from(level)) {
            push_back(&mut self.slots, &mut l.age, i, age_link);
            l.live = l.live.saturating_add(1);
        }
        self.live = self.live.saturating_add(1);
        true
    }

    /// Takes hint `i` out of its bucket.
    fn unhash(&mut self, i: u32) {
        let Some(s) = self.slot(i) else {
            return;
        };
        let b = self.hint_bucket(s.mm, s.addr);
        self.with_list(
            b,
            |s| &mut s.hint_bucket,
            |slots, list| {
                unlink(slots, list, i, hash_link);
            },
        );
    }

    /// Moves one zombie to the free list.
    fn reclaim_zombie(&mut self) -> bool {
        let Some(z) = pop_front(&mut self.slots, &mut self.zombies, fifo_link) else {
            return false;
        };
        self.unhash(z);
        if let Some(level) = self.slot(z).map(|s| usize::from(s.level)) {
            if let Some(l) = self.levels.get_mut(level) {
                unlink(&mut self.slots, &mut l.age, z, age_link);
            }
        }
        push_back(&mut self.slots, &mut self.free, z, fifo_link);
        true
    }

    /// Frees a slot for a new hint at `level` in a full queue by evicting the
    /// lowest-priority oldest hint; `false` if the new hint has the lowest priority.
    ///
    /// Called with no free slot after `add()` reclaimed a zombie, so there is none: every
    /// age list holds live hints only.
    fn evict_for(&mut self, level: u8) -> bool {
        let Some(lowest) = self.levels.iter().rposition(|l| l.live != 0) else {
            return false;
        };
        if usize::from(level) > lowest {
            return false;
        }
        let Some(victim) = self.levels.get(lowest).map(|l| l.age.head) else {
            return false;
        };
        self.detach(victim);
        self.unhash(victim);
        push_back(&mut self.slots, &mut self.free, victim, fifo_link);
        true
    }

    /// Queues a hint for the PMD holding `addr` in `mm`, at priority `prio` (0 highest;
    /// values past the last level mean the last level).
    pub fn add(&mut self, mm: usize, addr: usize, prio: u8) -> AddOutcome {
        self.add_tagged(mm, addr, prio, 0)
    }

    /// [`HintQueue::add`] with a tag for the caller, served with the hint; a duplicate that
    /// raises the priority replaces the tag.
    pub fn add_tagged(&mut self, mm: usize, addr: usize, prio: u8, tag: u8) -> AddOutcome {
        let addr = addr & self.pmd_mask;
        let last = u8::try_from(HINT_LEVELS.saturating_sub(1)).unwrap_or(0);
        let level = prio.min(last);
        // Keep the hash chains short: one zombie back to the free list per call.
        self.reclaim_zombie();
        if let Some(i) = self.find_hint(mm, addr) {
            self.counters.deduplicated = self.counters.deduplicated.saturating_add(1);
            let queued = self.slot(i).map_or(level, |s| s.level);
            if level >= queued {
                return AddOutcome::Duplicate;
            }
            self.detach(i);
            if let Some(s) = self.slot_mut(i) {
                s.tag = tag;
            }
            if !self.attach(i, level) {
                // Unreachable (see `attach`); drop rather than leak the slot.
                self.unhash(i);
                push_back(&mut self.slots, &mut self.free, i, fifo_link);
                self.counters.dropped = self.counters.dropped.saturating_add(1);
                return AddOutcome::Dropped;
            }
            self.counters.raised = self.counters.raised.saturating_add(1);
            return AddOutcome::Raised;
        }
        let mut outcome = AddOutcome::Added;
        if self.free.head == NIL {
            self.counters.dropped = self.counters.dropped.saturating_add(1);
            if !self.evict_for(level) {
                return AddOutcome::Dropped;
            }
            outcome = AddOutcome::Evicted;
        }
        let Some(i) = pop_front(&mut self.slots, &mut self.free, fifo_link) else {
            self.counters.dropped = self.counters.dropped.saturating_add(1);
            return AddOutcome::Dropped;
        };
        if let Some(s) = self.slot_mut(i) {
            s.mm = mm;
            s.addr = addr;
            s.tag = tag;
        }
        if !self.attach(i, level) {
            push_back(&mut self.slots, &mut self.free, i, fifo_link);
            self.counters.dropped = self.counters.dropped.saturating_add(1);
            return AddOutcome::Dropped;
        }
        let b = self.hint_bucket(mm, addr);
        self.with_list(
            b,
            |s| &mut s.hint_bucket,
            |slots, list| {
                push_back(slots, list, i, hash_link);
            },
        );
        self.counters.added = self.counters.added.saturating_add(1);
        outcome
    }

    /// Drops every hint of `mm`; returns how many. O([`HINT_LEVELS`]).
    pub fn remove_mm(&mut self, mm: usize) -> usize {
        let mut removed = 0u32;
        for level in 0..HINT_LEVELS {
            let level = u8::try_from(level).unwrap_or(u8::MAX);
            let Some(r) = self.find_rec(mm, level) else {
                continue;
            };
            let Some((hints, count)) = self.slot(r).map(|s| (s.hints, s.count)) else {
                continue;
            };
            append(&mut self.slots, &mut self.zombies, hints, fifo_link);
            // Freeing the record bumps its generation: its hints are zombies from now on.
            self.free_rec(r);
            if let Some(l) = self.levels.get_mut(usize::from(level)) {
                l.live = l.live.saturating_sub(count);
            }
            self.live = self.live.saturating_sub(count);
            removed = removed.saturating_add(count);
        }
        self.counters.removed = self.counters.removed.saturating_add(u64::from(removed));
        idx(removed)
    }
}

impl<S: DerefMut<Target = [HintSlot]>> Iterator for HintQueue<S> {
    type Item = Hint;

    /// Serves the next hint: the highest non-empty level, the mm whose turn it is there,
    /// that mm's oldest hint at that level; the mm then goes last in the level's ring.
    fn next(&mut self) -> Option<Hint> {
        let level = self.levels.iter().position(|l| l.ring.head != NIL)?;
        let r = self.levels.get(level)?.ring.head;
        let i = self.slot(r)?.hints.head;
        let s = self.slot(i)?;
        let hint = Hint {
            mm: s.mm,
            addr: s.addr,
            prio: s.level,
            tag: s.tag,
        };
        let more = self.slot(r).is_some_and(|s| s.count > 1);
        self.detach(i);
        self.unhash(i);
        push_back(&mut self.slots, &mut self.free, i, fifo_link);
        if more {
            if let Some(l) = self.levels.get_mut(level) {
                unlink(&mut self.slots, &mut l.ring, r, ring_link);
                push_back(&mut self.slots, &mut l.ring, r, ring_link);
            }
        }
        self.counters.served = self.counters.served.saturating_add(1);
        Some(hint)
    }
}
