// SPDX-License-Identifier: GPL-2.0

//! The hint queue against a model built on a plain vector kept sorted by (priority, age),
//! over random sequences of adds (duplicates, raises, overflow), serves and mm removals.

use khugepaged_policy::{
    hint_heat::{young_level, ALL_LEVELS, MIN_PASSES},
    hint_queue::{
        AddOutcome, Hint, HintCounters, HintQueue, HintQueueError, HintSlot, Sighting, HINT_LEVELS,
        MAX_EXPIRED_PER_SERVE,
    },
};
use proptest::prelude::*;

/// 2 MiB PMDs.
const PMD_SHIFT: u32 = 21;
const PMD: usize = 1 << PMD_SHIFT;

fn queue(cap: usize) -> HintQueue<Vec<HintSlot>> {
    HintQueue::new(vec![HintSlot::EMPTY; cap], PMD_SHIFT).unwrap()
}

/// A model hint.
#[derive(Clone, Copy, Debug)]
struct Entry {
    level: u8,
    seq: u64,
    mm: usize,
    addr: usize,
    tag: u8,
    /// The level asked for, if any.
    asked: Option<u8>,
    passes: u8,
    epoch: u32,
    seen: u32,
    young: u16,
}

/// The queue's rules, written as plainly as possible.
#[derive(Debug)]
struct Model {
    cap: usize,
    seq: u64,
    /// Sorted by (level, seq).
    hints: Vec<Entry>,
    /// Per level, the mms with hints there, in turn order.
    rings: Vec<Vec<usize>>,
    counters: HintCounters,
    /// The average gap between two sightings of a range, 0 before the first.
    avg: u64,
}

impl Model {
    fn new(cap: usize) -> Self {
        Model {
            cap,
            seq: 0,
            hints: vec![],
            rings: vec![vec![]; ALL_LEVELS],
            counters: HintCounters::default(),
            avg: 0,
        }
    }

    /// Gone cold: unseen for more than 4 average gaps, and at least 1000 ticks.
    fn expired(&self, gap: u32) -> bool {
        self.avg != 0 && u64::from(gap) > (4 * self.avg).max(1000)
    }

    fn sample(&mut self, gap: u32) {
        let mut gap = u64::from(gap);
        if self.avg != 0 {
            gap = gap.min((4 * self.avg).max(1000));
        }
        let gap = gap.clamp(1, 3_600_000);
        self.avg = if self.avg == 0 {
            gap
        } else {
            ((3 * self.avg + gap) / 4).max(1)
        };
    }

    fn insert(&mut self, mut e: Entry) {
        self.seq += 1;
        e.seq = self.seq;
        let at = self
            .hints
            .partition_point(|h| (h.level, h.seq) < (e.level, e.seq));
        self.hints.insert(at, e);
        let ring = &mut self.rings[e.level as usize];
        if !ring.contains(&e.mm) {
            ring.push(e.mm);
        }
    }

    fn take(&mut self, at: usize) -> Entry {
        let e = self.hints.remove(at);
        if !self
            .hints
            .iter()
            .any(|h| h.mm == e.mm && h.level == e.level)
        {
            self.rings[e.level as usize].retain(|&m| m != e.mm);
        }
        e
    }

    /// A new hint, evicting the lowest-level oldest one if full.
    fn add_new(&mut self, e: Entry, young: bool) -> AddOutcome {
        let mut outcome = AddOutcome::Added;
        if self.hints.len() == self.cap {
            let lowest = self.hints.iter().map(|h| h.level).max().unwrap();
            self.counters.dropped += 1;
            if e.level > lowest {
                return AddOutcome::Dropped;
            }
            let oldest = self.hints.iter().position(|h| h.level == lowest).unwrap();
            let v = self.hints[oldest];
            if young && v.passes != 0 && v.epoch == e.epoch {
                return AddOutcome::Dropped;
            }
            self.take(oldest);
            outcome = AddOutcome::Evicted;
        }
        self.insert(e);
        self.counters.added += 1;
        outcome
    }

    fn add(&mut self, mm: usize, addr: usize, prio: u8, tag: u8) -> AddOutcome {
        let addr = addr & !(PMD - 1);
        let level = prio.min(HINT_LEVELS as u8 - 1);
        if let Some(at) = self.hints.iter().position(|h| h.mm == mm && h.addr == addr) {
            self.counters.deduplicated += 1;
            let asked = self.hints[at].asked.map_or(level, |a| a.min(level));
            self.hints[at].asked = Some(asked);
            if level >= self.hints[at].level {
                return AddOutcome::Duplicate;
            }
            let mut e = self.take(at);
            e.level = level;
            e.tag = tag;
            self.insert(e);
            self.counters.raised += 1;
            return AddOutcome::Raised;
        }
        let e = Entry {
            level,
            seq: 0,
            mm,
            addr,
            tag,
            asked: Some(level),
            passes: 0,
            epoch: 0,
            seen: 0,
            young: 0,
        };
        self.add_new(e, false)
    }

    fn add_young(&mut self, mm: usize, addr: usize, sighting: Sighting, tag: u8) -> AddOutcome {
        let Sighting {
            share,
            young,
            epoch,
            now,
        } = sighting;
        let addr = addr & !(PMD - 1);
        if let Some(at) = self.hints.iter().position(|h| h.mm == mm && h.addr == addr) {
            self.counters.deduplicated += 1;
            let old = self.hints[at];
            if old.passes != 0 && old.epoch == epoch {
                return AddOutcome::Duplicate;
            }
            let mut passes = (old.passes + 1).min(15);
            if old.passes != 0 {
                let gap = now.wrapping_sub(old.seen);
                if self.expired(gap) {
                    self.counters.expired += 1;
                    passes = 1;
                }
                self.sample(gap);
            }
            let mut e = self.take(at);
            e.level = young_level(passes, share).min(old.asked.unwrap_or(u8::MAX));
            e.passes = passes;
            e.epoch = epoch;
            e.seen = now;
            e.young = young;
            e.tag = tag;
            self.insert(e);
            self.counters.renewed += 1;
            if e.level < old.level {
                self.counters.raised += 1;
                return AddOutcome::Raised;
            }
            return AddOutcome::Renewed;
        }
        let e = Entry {
            level: young_level(1, share),
            seq: 0,
            mm,
            addr,
            tag,
            asked: None,
            passes: 1,
            epoch,
            seen: now,
            young,
        };
        self.add_new(e, true)
    }

    fn serve(&mut self, now: u32) -> Option<Hint> {
        let mut dropped = 0;
        loop {
            let level = self
                .hints
                .first()
                .filter(|h| usize::from(h.level) < HINT_LEVELS)?
                .level;
            let mm = self.rings[level as usize][0];
            let at = self
                .hints
                .iter()
                .position(|h| h.level == level && h.mm == mm)
                .unwrap();
            let e = self.take(at);
            let ring = &mut self.rings[level as usize];
            if ring.first() == Some(&mm) {
                ring.remove(0);
                ring.push(mm);
            }
            if e.asked.is_none() && e.passes != 0 && self.expired(now.wrapping_sub(e.seen)) {
                self.counters.expired += 1;
                dropped += 1;
                if dropped >= MAX_EXPIRED_PER_SERVE {
                    return None;
                }
                continue;
            }
            self.counters.served += 1;
            return Some(Hint {
                mm: e.mm,
                addr: e.addr,
                prio: e.level,
                tag: e.tag,
                passes: e.passes,
                young: e.young,
            });
        }
    }

    fn remove_mm(&mut self, mm: usize) -> usize {
        let before = self.hints.len();
        self.hints.retain(|h| h.mm != mm);
        for ring in &mut self.rings {
            ring.retain(|&m| m != mm);
        }
        let n = before - self.hints.len();
        self.counters.removed += n as u64;
        n
    }
}

#[derive(Clone, Debug)]
enum Op {
    Add {
        mm: usize,
        addr: usize,
        prio: u8,
        tag: u8,
    },
    Young {
        mm: usize,
        addr: usize,
        share: u8,
        young: u16,
        /// Added to the current pass: sightings in the same pass, the next, or later.
        epoch_step: u32,
        tag: u8,
    },
    /// Time goes on.
    Tick(u32),
    Serve,
    RemoveMm(usize),
}

/// mm keys like kernel pointers, a few of them so that they collide on PMDs and rings.
fn mm_key(k: usize) -> usize {
    0xffff_8880_0000_0000 + k * 0x440
}

fn op_strategy(mms: usize, pmds: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..mms, 0..pmds, 0..PMD, 0u8..(HINT_LEVELS as u8 + 2), 0u8..3).prop_map(
            |(m, p, low, prio, tag)| Op::Add {
                mm: mm_key(m),
                addr: 0x7f00_0000_0000 + p * PMD + low,
                prio,
                tag,
            }
        ),
        6 => (0..mms, 0..pmds, 0..PMD, 0u8..4, 4u16..600, prop_oneof![3 => Just(0u32), 3 => Just(1u32), 1 => 2u32..5], 1u8..3).prop_map(
            |(m, p, low, share, young, epoch_step, tag)| Op::Young {
                mm: mm_key(m),
                addr: 0x7f00_0000_0000 + p * PMD + low,
                share,
                young,
                epoch_step,
                tag,
            }
        ),
        2 => prop_oneof![3 => 0u32..800, 1 => 800u32..20_000].prop_map(Op::Tick),
        3 => Just(Op::Serve),
        1 => (0..mms).prop_map(|m| Op::RemoveMm(mm_key(m))),
    ]
}

fn check_same(q: &HintQueue<Vec<HintSlot>>, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(q.len(), m.hints.len());
    prop_assert_eq!(q.is_empty(), m.hints.is_empty());
    prop_assert_eq!(q.counters(), m.counters);
    prop_assert_eq!(q.pass_interval().map_or(0, u64::from), m.avg);
    for level in 0..ALL_LEVELS as u8 {
        let n = m.hints.iter().filter(|h| h.level == level).count();
        prop_assert_eq!(q.len_at(level), n);
    }
    let held = m
        .hints
        .iter()
        .filter(|h| usize::from(h.level) >= HINT_LEVELS)
        .count();
    prop_assert_eq!(q.held(), held);
    Ok(())
}

fn run(cap: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut q = queue(cap);
    let mut m = Model::new(cap);
    // Start near the wrap of the clock and of the pass counter.
    let mut now = u32::MAX - 5000;
    let mut epoch = u32::MAX - 2;
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Add {
                mm,
                addr,
                prio,
                tag,
            } => {
                prop_assert_eq!(
                    q.add_tagged(mm, addr, prio, tag),
                    m.add(mm, addr, prio, tag),
                    "step {}",
                    step
                )
            }
            Op::Young {
                mm,
                addr,
                share,
                young,
                epoch_step,
                tag,
            } => {
                epoch = epoch.wrapping_add(epoch_step);
                let sighting = Sighting {
                    share,
                    young,
                    epoch,
                    now,
                };
                prop_assert_eq!(
                    q.add_young(mm, addr, sighting, tag),
                    m.add_young(mm, addr, sighting, tag),
                    "step {}",
                    step
                )
            }
            Op::Tick(dt) => now = now.wrapping_add(dt),
            Op::Serve => prop_assert_eq!(q.serve(now), m.serve(now), "step {}", step),
            Op::RemoveMm(mm) => prop_assert_eq!(q.remove_mm(mm), m.remove_mm(mm), "step {}", step),
        }
        check_same(&q, &m)?;
    }
    // Drain: the rest comes out in the model's order too.
    loop {
        let (a, b) = (q.serve(now), m.serve(now));
        prop_assert_eq!(a, b);
        if a.is_none() && m.hints.iter().all(|h| usize::from(h.level) >= HINT_LEVELS) {
            break;
        }
    }
    check_same(&q, &m)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Small queues: overflow, eviction and refusal all the time.
    #[test]
    fn matches_model_small(
        cap in 1usize..12,
        ops in prop::collection::vec(op_strategy(4, 6), 0..160),
    ) {
        run(cap, &ops)?;
    }

    /// Larger queues with many mms: deep rings, long lists, zombies reused after removals.
    #[test]
    fn matches_model_large(
        cap in 24usize..96,
        ops in prop::collection::vec(op_strategy(12, 40), 0..400),
    ) {
        run(cap, &ops)?;
    }
}

// Rules, one by one.

/// The hints served from now on, at time 0.
fn served<S: std::ops::DerefMut<Target = [HintSlot]>>(
    q: &mut HintQueue<S>,
) -> impl Iterator<Item = Hint> + '_ {
    std::iter::from_fn(move || q.serve(0))
}

#[test]
fn rejects_bad_storage() {
    assert_eq!(
        HintQueue::new(Vec::<HintSlot>::new(), PMD_SHIFT).err(),
        Some(HintQueueError::Capacity)
    );
    assert_eq!(
        HintQueue::new(vec![HintSlot::EMPTY; 4], 64).err(),
        Some(HintQueueError::PmdShift)
    );
    // Borrowed storage works as well as owned.
    let mut slots = [HintSlot::EMPTY; 8];
    let mut q = HintQueue::new(&mut slots[..], PMD_SHIFT).unwrap();
    assert_eq!(q.capacity(), 8);
    assert_eq!(q.add(1, 0, 0), AddOutcome::Added);
    assert_eq!(q.serve(0).map(|h| h.mm), Some(1));
}

#[test]
fn dedups_by_pmd_and_raises_priority() {
    let mut q = queue(16);
    assert_eq!(q.add(1, 0x20_0123, 2), AddOutcome::Added);
    assert_eq!(q.add(1, 0x3f_ffff, 2), AddOutcome::Duplicate);
    assert_eq!(q.add(1, 0x20_0000, 3), AddOutcome::Duplicate);
    assert_eq!(q.add(2, 0x20_0000, 2), AddOutcome::Added, "another mm");
    assert_eq!(q.add(1, 0x20_0000, 0), AddOutcome::Raised);
    assert_eq!(q.len(), 2);
    assert_eq!((q.len_at(0), q.len_at(2)), (1, 1));
    let c = q.counters();
    assert_eq!((c.added, c.deduplicated, c.raised), (2, 3, 1));
    assert_eq!(
        q.serve(0),
        Some(Hint {
            mm: 1,
            addr: 0x20_0000,
            prio: 0,
            tag: 0,
            passes: 0,
            young: 0,
        })
    );
    assert_eq!(q.serve(0).map(|h| (h.mm, h.prio)), Some((2, 2)));
    assert_eq!(q.serve(0), None);
}

#[test]
fn priorities_past_the_last_level_mean_the_last() {
    let mut q = queue(4);
    q.add(1, 0, 200);
    assert_eq!(
        q.serve(0).map(|h| usize::from(h.prio)),
        Some(HINT_LEVELS - 1)
    );
}

#[test]
fn busy_mm_does_not_starve_others() {
    let mut q = queue(256);
    for i in 0..100 {
        q.add(1, i * PMD, 1);
    }
    q.add(2, 0, 1);
    q.add(3, 0, 1);
    q.add(2, PMD, 1);
    let order: Vec<_> = served(&mut q).take(6).map(|h| h.mm).collect();
    assert_eq!(order, [1, 2, 3, 1, 2, 1]);
    assert_eq!(q.len(), 97);
    // Each mm's hints come oldest first.
    let addrs: Vec<_> = served(&mut q).take(3).map(|h| h.addr / PMD).collect();
    assert_eq!(addrs, [3, 4, 5]);
}

#[test]
fn higher_level_first() {
    let mut q = queue(8);
    q.add(1, 0, 3);
    q.add(2, 0, 1);
    q.add(3, 0, 2);
    q.add(4, 0, 0);
    let order: Vec<_> = served(&mut q).map(|h| h.mm).collect();
    assert_eq!(order, [4, 2, 3, 1]);
}

#[test]
fn full_queue_drops_lowest_priority_oldest() {
    let mut q = queue(3);
    q.add(1, 0, 1);
    q.add(1, PMD, 2);
    q.add(2, 0, 2);
    // A lower-priority newcomer is itself the lowest-priority hint.
    assert_eq!(q.add(3, 0, 3), AddOutcome::Dropped);
    // An equal one evicts the oldest of that level.
    assert_eq!(q.add(3, 0, 2), AddOutcome::Evicted);
    let left: Vec<_> = served(&mut q).map(|h| (h.mm, h.addr)).collect();
    assert_eq!(left, [(1, 0), (2, 0), (3, 0)]);
    let c = q.counters();
    assert_eq!((c.added, c.dropped, c.served), (4, 2, 3));
}

#[test]
fn remove_mm_drops_its_hints_everywhere() {
    let mut q = queue(16);
    for level in 0..4 {
        q.add(7, level * PMD, level as u8);
        q.add(8, level * PMD, level as u8);
    }
    assert_eq!(q.remove_mm(7), 4);
    assert_eq!(q.remove_mm(7), 0);
    assert_eq!(q.len(), 4);
    assert!(served(&mut q).all(|h| h.mm == 8));
    assert_eq!(q.counters().removed, 4);
}

#[test]
fn removed_mm_key_can_come_back() {
    // An exited mm's address is reused by a new mm: its old hints must not count as
    // duplicates, nor be served.
    let mut q = queue(8);
    q.add(5, 0, 1);
    q.add(5, PMD, 1);
    q.remove_mm(5);
    assert_eq!(q.add(5, 0, 1), AddOutcome::Added);
    assert_eq!(q.serve(0).map(|h| (h.mm, h.addr)), Some((5, 0)));
    assert_eq!(q.serve(0), None);
}

#[test]
fn removed_hints_free_their_slots() {
    // Fill, remove everything, fill again: the zombies make room, nothing is dropped.
    let mut q = queue(64);
    for i in 0..64 {
        assert_eq!(q.add(1, i * PMD, 0), AddOutcome::Added);
    }
    assert_eq!(q.add(2, 0, 0), AddOutcome::Evicted);
    assert_eq!(q.remove_mm(1), 63);
    for i in 0..63 {
        assert_eq!(q.add(3, i * PMD, 3), AddOutcome::Added, "hint {i}");
    }
    assert_eq!(q.counters().dropped, 1);
    assert_eq!(q.len(), 64);
}

#[test]
fn clear_keeps_counters() {
    let mut q = queue(4);
    q.add(1, 0, 0);
    q.add(1, PMD, 0);
    q.clear();
    assert!(q.is_empty());
    assert_eq!(q.serve(0), None);
    assert_eq!(q.counters().added, 2);
    assert_eq!(q.add(1, 0, 0), AddOutcome::Added);
}

#[test]
fn single_slot_queue() {
    let mut q = queue(1);
    assert_eq!(q.add(1, 0, 2), AddOutcome::Added);
    assert_eq!(q.add(2, 0, 3), AddOutcome::Dropped);
    assert_eq!(q.add(2, 0, 0), AddOutcome::Evicted);
    assert_eq!(q.serve(0).map(|h| h.mm), Some(2));
}

#[test]
fn slot_size() {
    // The storage cost per hint, for the kernel's sizing (see the documentation).
    assert!(std::mem::size_of::<HintSlot>() <= 128);
}

#[test]
fn raising_duplicate_brings_its_tag() {
    let mut q = queue(4);
    assert_eq!(q.add_tagged(1, 0, 2, 1), AddOutcome::Added);
    assert_eq!(q.add_tagged(1, 0, 3, 2), AddOutcome::Duplicate);
    assert_eq!(
        q.serve(0).map(|h| h.tag),
        Some(1),
        "a lower duplicate keeps the tag"
    );
    q.add_tagged(1, 0, 2, 1);
    assert_eq!(q.add_tagged(1, 0, 1, 2), AddOutcome::Raised);
    assert_eq!(q.serve(0).map(|h| (h.prio, h.tag)), Some((1, 2)));
}

/// A dense sighting (all 512 PTEs young) in pass `epoch` at time `now`.
fn at(epoch: u32, now: u32) -> Sighting {
    Sighting {
        share: 0,
        young: 512,
        epoch,
        now,
    }
}

/// The `n`th sighting of one range, one pass and 100 ticks apart.
fn sight(q: &mut HintQueue<Vec<HintSlot>>, mm: usize, addr: usize, n: u32) -> AddOutcome {
    q.add_young(mm, addr, at(n, n * 100), 1)
}

#[test]
fn once_young_is_held_until_seen_in_enough_passes() {
    let mut q = queue(16);
    assert_eq!(sight(&mut q, 1, 0, 1), AddOutcome::Added);
    assert_eq!(q.held(), 1);
    assert_eq!(
        q.serve(100),
        None,
        "a range young in one pass is not served"
    );
    // Again in the same pass: a duplicate, nothing more.
    assert_eq!(q.add_young(1, 0, at(1, 150), 1), AddOutcome::Duplicate);
    // Each new pass raises it, through the held levels to the served ones.
    for n in 2..u32::from(MIN_PASSES) {
        assert_eq!(sight(&mut q, 1, 0, n), AddOutcome::Raised);
        assert_eq!(q.serve(n * 100), None);
    }
    assert_eq!(
        sight(&mut q, 1, 0, u32::from(MIN_PASSES)),
        AddOutcome::Raised
    );
    assert_eq!(q.held(), 0);
    let h = q.serve(400).unwrap();
    assert_eq!((h.mm, h.passes, h.tag, h.young), (1, MIN_PASSES, 1, 512));
    let c = q.counters();
    assert_eq!((c.added, c.deduplicated, c.renewed, c.served), (1, 3, 2, 1));
    // At the top, a new pass renews without raising.
    for n in 1..=6 {
        sight(&mut q, 1, 0, n);
    }
    assert_eq!(sight(&mut q, 1, 0, 7), AddOutcome::Renewed);
}

#[test]
fn more_passes_outrank_fewer() {
    let mut q = queue(16);
    // Range A is seen in passes 1..=5, B in 3..=5: B reaches MIN_PASSES later and stays
    // below A even though it was seen last.
    for n in 1..=5 {
        sight(&mut q, 1, 0, n);
        if n >= 3 {
            sight(&mut q, 1, PMD, n);
        }
    }
    let order: Vec<_> = std::iter::from_fn(|| q.serve(500))
        .map(|h| (h.addr, h.prio))
        .collect();
    assert_eq!(order, [(0, 0), (PMD, young_level(3, 0))]);
}

#[test]
fn cold_range_starts_over_and_is_not_served() {
    let mut q = queue(16);
    // Teach the queue a pass interval of 100 ticks with another range.
    for n in 1..=4 {
        sight(&mut q, 2, 0, n);
    }
    assert_eq!(q.pass_interval(), Some(100));
    q.remove_mm(2);
    // Seen in two passes, then not for a long time: the count starts over.
    sight(&mut q, 1, 0, 1);
    sight(&mut q, 1, 0, 2);
    assert_eq!(q.add_young(1, 0, at(3, 100_000), 1), AddOutcome::Renewed);
    assert_eq!(q.counters().expired, 1);
    assert_eq!(q.held(), 1);
    // A served level's hint that went cold is dropped, not served.
    for n in 1..=3 {
        sight(&mut q, 3, 0, n);
    }
    assert_eq!(q.held(), 1);
    assert_eq!(q.serve(300 + 100_000), None);
    assert_eq!(q.counters().expired, 2);
    assert_eq!((q.len(), q.counters().served), (1, 0));
}

#[test]
fn asked_for_hints_never_expire_and_raise_held_ones() {
    let mut q = queue(16);
    for n in 1..=4 {
        sight(&mut q, 2, 0, n);
    }
    sight(&mut q, 1, 0, 1);
    assert_eq!(q.add(1, 0, 3), AddOutcome::Raised);
    assert_eq!(q.held(), 0);
    let h = q.serve(1_000_000).unwrap();
    assert_eq!((h.mm, h.prio, h.passes), (1, 3, 1));
}

#[test]
fn full_queue_keeps_what_this_pass_saw_first() {
    let mut q = queue(2);
    assert_eq!(q.add_young(1, 0, at(7, 0), 1), AddOutcome::Added);
    assert_eq!(q.add_young(1, PMD, at(7, 0), 1), AddOutcome::Added);
    // Same pass: the newcomer is dropped, not the first ones.
    assert_eq!(q.add_young(1, 2 * PMD, at(7, 0), 1), AddOutcome::Dropped);
    // The next pass renews the first one; a newcomer takes the place of the one not seen
    // again, and the next newcomer of the pass is dropped.
    assert_eq!(q.add_young(1, 0, at(8, 100), 1), AddOutcome::Raised);
    assert_eq!(q.add_young(1, 2 * PMD, at(8, 100), 1), AddOutcome::Evicted);
    assert_eq!(q.add_young(1, 3 * PMD, at(8, 100), 1), AddOutcome::Dropped);
    assert_eq!(q.add_young(1, 0, at(9, 200), 1), AddOutcome::Raised);
    assert_eq!(q.add_young(1, 3 * PMD, at(9, 200), 1), AddOutcome::Evicted);
    // An asked-for hint evicts the lowest whatever the pass.
    assert_eq!(q.add(2, 0, 3), AddOutcome::Evicted);
    assert_eq!(q.held(), 0);
    let left: Vec<_> = std::iter::from_fn(|| q.serve(200))
        .map(|h| (h.mm, h.addr))
        .collect();
    assert_eq!(left, [(1, 0), (2, 0)]);
}
