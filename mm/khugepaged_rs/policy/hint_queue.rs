// SPDX-License-Identifier: GPL-2.0

//! The collapse hint queue: PMD ranges worth scanning soon, by priority, fair across
//! processes. 7.3 has no counterpart; its khugepaged only walks every mm in turn.
//!
//! A hint is `(mm, address, level)`. The mm is an opaque key (the kernel passes the
//! `mm_struct` address; the queue never dereferences it) and the address is aligned down
//! to its PMD. Served levels run from 0, the highest, to [`HINT_LEVELS`] - 1; below them
//! are the held levels of young hints not seen in enough aging passes yet
//! ([`super::hint_heat`]), which are kept but never served.
//!
//! - [`HintQueue::add`] queues a hint asked for at a priority, served from there.
//! - [`HintQueue::add_young`] queues a sighting of a young range by an access-bit scan.
//!   Its level follows the number of aging passes the range was seen young in
//!   ([`super::hint_heat::young_level`]): held at first, served from
//!   [`super::hint_heat::MIN_PASSES`] passes on, higher with more.
//! - Either keeps one hint per `(mm, PMD)`: a second one is counted as deduplicated. An
//!   asked-for priority above the queued level raises the hint; a sighting in a new pass
//!   renews it (one more pass, or a count started over if it had gone cold), and it goes
//!   last at its new level.
//! - [`HintQueue::serve`] serves the highest non-empty served level. Within a level, the
//!   mms with hints take turns (round robin, in the order they got their first hint
//!   there), and each mm's hints come oldest first: one busy mm cannot starve the others.
//!   A young hint that has gone cold is dropped instead (expired).
//! - [`HintQueue::remove_mm`] drops every hint of an exiting mm.
//! - The capacity is fixed. When the queue is full, a new hint drops the lowest-level
//!   oldest hint, which is the new hint itself when its level is lower than every queued
//!   one. A new young sighting never drops a hint last seen in the same pass: during one
//!   aging, what came first stays, so that a later pass can confirm it.
//!
//! All memory comes from the caller at construction: one [`HintSlot`] per hint, each also
//! holding one `(mm, level)` record and two hash buckets, so nothing allocates afterwards
//! and adding can run from reclaim under a spinlock. Everything is index-linked lists in
//! that storage. Adding, serving and `remove_mm()` are O(1) (`remove_mm()` is O(levels))
//! apart from the hash chain walks, which are O(1) expected at a load factor of at most 2.
//!
//! `remove_mm()` does not touch the mm's hints one by one: it bumps the generation of the
//! mm's records, which turns their hints into zombies at once, and queues them for reuse.
//! Lookups skip zombies, and each add reclaims one, so a full queue never drops a live
//! hint while a zombie holds a slot.

use super::{
    hint_heat::{self, PassInterval, ALL_LEVELS},
    slot_list::{append, idx, pop_front, push_back, unlink, Link, List, EMPTY, NIL, UNLINKED},
};
use core::ops::DerefMut;

/// Served priority levels; 0 is the highest.
pub const HINT_LEVELS: usize = 4;

/// `HintSlot::asked` of a hint only seen young, never asked for.
const NOT_ASKED: u8 = u8::MAX;

/// At most this many cold hints are dropped by one [`HintQueue::serve`] call, to bound
/// the time under the queue's lock.
pub const MAX_EXPIRED_PER_SERVE: usize = 32;

/// The largest capacity: more hints than any PMD-sized work list needs.
pub const MAX_HINT_CAPACITY: usize = 1 << 24;

/// One unit of the queue's storage, to be allocated by the caller (e.g. a `KVec` filled
/// with [`HintSlot::EMPTY`]).
///
/// Slot `i` is at once hint `i`, `(mm, level)` record `i` and hash buckets `i`; the queue
/// uses as many of each as there are slots, so records and buckets can never run out.
/// 128 bytes on 64-bit: 1024 hints take 128 KiB.
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
    /// The level asked for by [`HintQueue::add`], or [`NOT_ASKED`].
    asked: u8,
    /// Aging passes the range was seen young in; 0 if never.
    passes: u8,
    /// The pass (MGLRU generation, truncated) of the last sighting.
    epoch: u32,
    /// When it was last seen young, in the caller's clock.
    seen: u32,
    /// Young PTEs in the last sighting.
    young: u16,
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
        asked: NOT_ASKED,
        passes: 0,
        epoch: 0,
        seen: 0,
        young: 0,
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
    /// The tag of the add that last raised or renewed it.
    pub tag: u8,
    /// Aging passes its range was seen young in; 0 for a hint only asked for.
    pub passes: u8,
    /// Young PTEs in its range's last sighting; 0 for a hint only asked for.
    pub young: u16,
}

/// A sighting of a young range by an access-bit scan, for [`HintQueue::add_young`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// Its density class ([`hint_heat::young_share`]).
    pub share: u8,
    /// The young PTEs it found.
    pub young: u16,
    /// Its aging pass: the MGLRU generation, truncated.
    pub epoch: u32,
    /// When, in the caller's clock.
    pub now: u32,
}

/// What [`HintQueue::add`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// Queued.
    Added,
    /// Queued; the queue was full, so the lowest-priority oldest hint was dropped.
    Evicted,
    /// The `(mm, PMD)` was queued already, at this priority or a higher one, or seen young
    /// in this pass already.
    Duplicate,
    /// The `(mm, PMD)` was queued already at a lower level, now raised.
    Raised,
    /// The `(mm, PMD)` was queued already and is now seen young in a new pass, which did
    /// not raise it (it is still held, at the top, or counting again after going cold).
    Renewed,
    /// The queue was full of hints of higher priority: this one was dropped.
    Dropped,
}

/// Event counts since construction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HintCounters {
    /// Hints queued ([`AddOutcome::Added`] and [`AddOutcome::Evicted`]).
    pub added: u64,
    /// Hints for an `(mm, PMD)` already queued ([`AddOutcome::Duplicate`],
    /// [`AddOutcome::Raised`] and [`AddOutcome::Renewed`]).
    pub deduplicated: u64,
    /// Of those, the ones that raised the queued hint's level.
    pub raised: u64,
    /// Of those, the young sightings in a new aging pass.
    pub renewed: u64,
    /// Young hints that had gone cold: counted again from one pass when seen again, or
    /// dropped when their turn to be served came.
    pub expired: u64,
    /// Hints lost to a full queue: evicted ones and refused new ones.
    pub dropped: u64,
    /// Hints returned by [`HintQueue::serve`].
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
    /// The served levels, then the held ones.
    levels: [Level; ALL_LEVELS],
    live: u32,
    counters: HintCounters,
    /// When a young range has gone cold.
    interval: PassInterval,
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
            levels: [NO_HINTS; ALL_LEVELS],
            live: 0,
            counters: HintCounters::default(),
            interval: PassInterval::new(),
        };
        queue.clear();
        Ok(queue)
    }

    /// Drops every hint, uncounted, keeping the counters and the pass interval.
    /// O(capacity).
    pub fn clear(&mut self) {
        self.free = EMPTY;
        self.free_recs = EMPTY;
        self.zombies = EMPTY;
        self.levels = [NO_HINTS; ALL_LEVELS];
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

    /// Queued hints at level `level` (served or held).
    pub fn len_at(&self, level: u8) -> usize {
        self.levels
            .get(usize::from(level))
            .map_or(0, |l| idx(l.live))
    }

    /// Queued hints that are held: seen young in too few passes to be served.
    pub fn held(&self) -> usize {
        self.levels
            .get(HINT_LEVELS..)
            .map_or(0, |held| held.iter().map(|l| idx(l.live)).sum())
    }

    /// The usual interval between two passes that find a range young, in the caller's
    /// clock ticks; `None` until a hint was seen young again.
    pub fn pass_interval(&self) -> Option<u32> {
        self.interval.get()
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

    /// Frees a slot for a new hint at `level` in a full queue by evicting the lowest-level
    /// oldest hint. Refuses (`false`) if the new hint is lower than every queued one, or if
    /// it is a young sighting in pass `epoch` and that oldest hint was seen in the same one.
    ///
    /// Called with no free slot after the add reclaimed a zombie, so there is none: every
    /// age list holds live hints only.
    fn evict_for(&mut self, level: u8, epoch: Option<u32>) -> bool {
        let Some(lowest) = self.levels.iter().rposition(|l| l.live != 0) else {
            return false;
        };
        if usize::from(level) > lowest {
            return false;
        }
        let Some(victim) = self.levels.get(lowest).map(|l| l.age.head) else {
            return false;
        };
        if let (Some(e), Some(v)) = (epoch, self.slot(victim)) {
            if v.passes != 0 && v.epoch == e {
                return false;
            }
        }
        self.detach(victim);
        self.unhash(victim);
        push_back(&mut self.slots, &mut self.free, victim, fifo_link);
        true
    }

    /// Moves live hint `i` to the end of `level`. Returns `false`, having freed the slot,
    /// if no record was free, which the capacity argument rules out (see `attach`).
    fn relevel(&mut self, i: u32, level: u8) -> bool {
        self.detach(i);
        if self.attach(i, level) {
            return true;
        }
        self.unhash(i);
        push_back(&mut self.slots, &mut self.free, i, fifo_link);
        self.counters.dropped = self.counters.dropped.saturating_add(1);
        false
    }

    /// Queues a new hint for `(mm, addr)` at `level`, with the fields of `new`; a young
    /// sighting passes its `epoch` for [`HintQueue::evict_for`].
    fn insert(
        &mut self,
        mm: usize,
        addr: usize,
        level: u8,
        new: HintSlot,
        epoch: Option<u32>,
    ) -> AddOutcome {
        let mut outcome = AddOutcome::Added;
        if self.free.head == NIL {
            self.counters.dropped = self.counters.dropped.saturating_add(1);
            if !self.evict_for(level, epoch) {
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
            s.tag = new.tag;
            s.asked = new.asked;
            s.passes = new.passes;
            s.epoch = new.epoch;
            s.seen = new.seen;
            s.young = new.young;
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

    /// Queues a hint for the PMD holding `addr` in `mm`, asked for at priority `prio` (0
    /// highest; values past the last served level mean the last one).
    pub fn add(&mut self, mm: usize, addr: usize, prio: u8) -> AddOutcome {
        self.add_tagged(mm, addr, prio, 0)
    }

    /// [`HintQueue::add`] with a tag for the caller, served with the hint; a duplicate that
    /// raises the level replaces the tag.
    pub fn add_tagged(&mut self, mm: usize, addr: usize, prio: u8, tag: u8) -> AddOutcome {
        let addr = addr & self.pmd_mask;
        let last = u8::try_from(HINT_LEVELS.saturating_sub(1)).unwrap_or(0);
        let level = prio.min(last);
        // Keep the hash chains short: one zombie back to the free list per call.
        self.reclaim_zombie();
        if let Some(i) = self.find_hint(mm, addr) {
            self.counters.deduplicated = self.counters.deduplicated.saturating_add(1);
            let Some(s) = self.slot_mut(i) else {
                return AddOutcome::Duplicate;
            };
            s.asked = s.asked.min(level);
            if level >= s.level {
                return AddOutcome::Duplicate;
            }
            s.tag = tag;
            if !self.relevel(i, level) {
                return AddOutcome::Dropped;
            }
            self.counters.raised = self.counters.raised.saturating_add(1);
            return AddOutcome::Raised;
        }
        let new = HintSlot {
            tag,
            asked: level,
            ..HintSlot::EMPTY
        };
        self.insert(mm, addr, level, new, None)
    }

    /// Queues a sighting by an access-bit scan of the PMD holding `addr` in `mm`. Tagged as
    /// [`HintQueue::add_tagged`].
    pub fn add_young(&mut self, mm: usize, addr: usize, sighting: Sighting, tag: u8) -> AddOutcome {
        let Sighting {
            share,
            young,
            epoch,
            now,
        } = sighting;
        let addr = addr & self.pmd_mask;
        self.reclaim_zombie();
        if let Some(i) = self.find_hint(mm, addr) {
            self.counters.deduplicated = self.counters.deduplicated.saturating_add(1);
            let Some(s) = self.slot(i).copied() else {
                return AddOutcome::Duplicate;
            };
            if s.passes != 0 && s.epoch == epoch {
                return AddOutcome::Duplicate;
            }
            let mut passes = s.passes.saturating_add(1).min(hint_heat::MAX_PASSES);
            if s.passes != 0 {
                let gap = now.wrapping_sub(s.seen);
                if self.interval.expired(gap) {
                    self.counters.expired = self.counters.expired.saturating_add(1);
                    passes = 1;
                }
                self.interval.sample(gap);
            }
            let level = hint_heat::young_level(passes, share).min(s.asked);
            if let Some(s) = self.slot_mut(i) {
                s.passes = passes;
                s.epoch = epoch;
                s.seen = now;
                s.young = young;
                s.tag = tag;
            }
            self.counters.renewed = self.counters.renewed.saturating_add(1);
            if !self.relevel(i, level) {
                return AddOutcome::Dropped;
            }
            if level < s.level {
                self.counters.raised = self.counters.raised.saturating_add(1);
                return AddOutcome::Raised;
            }
            return AddOutcome::Renewed;
        }
        let new = HintSlot {
            tag,
            passes: 1,
            epoch,
            seen: now,
            young,
            ..HintSlot::EMPTY
        };
        self.insert(mm, addr, hint_heat::young_level(1, share), new, Some(epoch))
    }

    /// Drops every hint of `mm`; returns how many. O(levels).
    pub fn remove_mm(&mut self, mm: usize) -> usize {
        let mut removed = 0u32;
        for level in 0..ALL_LEVELS {
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

    /// Takes the next hint in serving order: the highest non-empty served level, the mm
    /// whose turn it is there, that mm's oldest hint at that level; the mm then goes last
    /// in the level's ring.
    fn take_next(&mut self) -> Option<HintSlot> {
        let served = self.levels.get(..HINT_LEVELS)?;
        let level = served.iter().position(|l| l.ring.head != NIL)?;
        let r = served.get(level)?.ring.head;
        let i = self.slot(r)?.hints.head;
        let s = *self.slot(i)?;
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
        Some(s)
    }

    /// Serves the next hint at time `now` of the caller's clock, in the order of
    /// `take_next`. Young hints that have gone cold are dropped on the way, at most
    /// [`MAX_EXPIRED_PER_SERVE`]: then `None`, as when no hint is left.
    pub fn serve(&mut self, now: u32) -> Option<Hint> {
        let mut dropped = 0;
        loop {
            let s = self.take_next()?;
            let young = s.asked == NOT_ASKED && s.passes != 0;
            if young && self.interval.expired(now.wrapping_sub(s.seen)) {
                self.counters.expired = self.counters.expired.saturating_add(1);
                dropped += 1;
                if dropped >= MAX_EXPIRED_PER_SERVE {
                    return None;
                }
                continue;
            }
            self.counters.served = self.counters.served.saturating_add(1);
            return Some(Hint {
                mm: s.mm,
                addr: s.addr,
                prio: s.level,
                tag: s.tag,
                passes: s.passes,
                young: s.young,
            });
        }
    }
}
