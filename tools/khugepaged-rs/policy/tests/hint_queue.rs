// SPDX-License-Identifier: GPL-2.0

//! The hint queue against a model built on a plain vector kept sorted by (priority, age),
//! over random sequences of adds (duplicates, raises, overflow), serves and mm removals.

use khugepaged_policy::hint_queue::{
    young_priority, AddOutcome, Hint, HintCounters, HintQueue, HintQueueError, HintSlot,
    HINT_LEVELS, MIN_YOUNG,
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
}

impl Model {
    fn new(cap: usize) -> Self {
        Model {
            cap,
            seq: 0,
            hints: vec![],
            rings: vec![vec![]; HINT_LEVELS],
            counters: HintCounters::default(),
        }
    }

    fn insert(&mut self, mm: usize, addr: usize, level: u8, tag: u8) {
        self.seq += 1;
        let e = Entry {
            level,
            seq: self.seq,
            mm,
            addr,
            tag,
        };
        let at = self
            .hints
            .partition_point(|h| (h.level, h.seq) < (e.level, e.seq));
        self.hints.insert(at, e);
        let ring = &mut self.rings[level as usize];
        if !ring.contains(&mm) {
            ring.push(mm);
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

    fn add(&mut self, mm: usize, addr: usize, prio: u8, tag: u8) -> AddOutcome {
        let addr = addr & !(PMD - 1);
        let level = prio.min(HINT_LEVELS as u8 - 1);
        if let Some(at) = self.hints.iter().position(|h| h.mm == mm && h.addr == addr) {
            self.counters.deduplicated += 1;
            if level >= self.hints[at].level {
                return AddOutcome::Duplicate;
            }
            self.take(at);
            self.insert(mm, addr, level, tag);
            self.counters.raised += 1;
            return AddOutcome::Raised;
        }
        let mut outcome = AddOutcome::Added;
        if self.hints.len() == self.cap {
            let lowest = self.hints.iter().map(|h| h.level).max().unwrap();
            self.counters.dropped += 1;
            if level > lowest {
                return AddOutcome::Dropped;
            }
            let oldest = self.hints.iter().position(|h| h.level == lowest).unwrap();
            self.take(oldest);
            outcome = AddOutcome::Evicted;
        }
        self.insert(mm, addr, level, tag);
        self.counters.added += 1;
        outcome
    }

    fn next(&mut self) -> Option<Hint> {
        let level = self.hints.first()?.level;
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
        self.counters.served += 1;
        Some(Hint {
            mm: e.mm,
            addr: e.addr,
            prio: e.level,
            tag: e.tag,
        })
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
    Next,
    RemoveMm(usize),
}

/// mm keys like kernel pointers, a few of them so that they collide on PMDs and rings.
fn mm_key(k: usize) -> usize {
    0xffff_8880_0000_0000 + k * 0x440
}

fn op_strategy(mms: usize, pmds: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..mms, 0..pmds, 0..PMD, 0u8..(HINT_LEVELS as u8 + 2), 0u8..3).prop_map(
            |(m, p, low, prio, tag)| Op::Add {
                mm: mm_key(m),
                addr: 0x7f00_0000_0000 + p * PMD + low,
                prio,
                tag,
            }
        ),
        3 => Just(Op::Next),
        1 => (0..mms).prop_map(|m| Op::RemoveMm(mm_key(m))),
    ]
}

fn check_same(q: &HintQueue<Vec<HintSlot>>, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(q.len(), m.hints.len());
    prop_assert_eq!(q.is_empty(), m.hints.is_empty());
    prop_assert_eq!(q.counters(), m.counters);
    for level in 0..HINT_LEVELS as u8 {
        let n = m.hints.iter().filter(|h| h.level == level).count();
        prop_assert_eq!(q.len_at(level), n);
    }
    Ok(())
}

fn run(cap: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut q = queue(cap);
    let mut m = Model::new(cap);
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
            Op::Next => prop_assert_eq!(q.next(), m.next(), "step {}", step),
            Op::RemoveMm(mm) => prop_assert_eq!(q.remove_mm(mm), m.remove_mm(mm), "step {}", step),
        }
        check_same(&q, &m)?;
    }
    // Drain: the rest comes out in the model's order too.
    loop {
        let (a, b) = (q.next(), m.next());
        prop_assert_eq!(a, b);
        if a.is_none() {
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
    assert_eq!(q.next().map(|h| h.mm), Some(1));
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
        q.next(),
        Some(Hint {
            mm: 1,
            addr: 0x20_0000,
            prio: 0,
            tag: 0,
        })
    );
    assert_eq!(q.next().map(|h| (h.mm, h.prio)), Some((2, 2)));
    assert_eq!(q.next(), None);
}

#[test]
fn priorities_past_the_last_level_mean_the_last() {
    let mut q = queue(4);
    q.add(1, 0, 200);
    assert_eq!(q.next().map(|h| usize::from(h.prio)), Some(HINT_LEVELS - 1));
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
    let served: Vec<_> = q.by_ref().take(6).map(|h| h.mm).collect();
    assert_eq!(served, [1, 2, 3, 1, 2, 1]);
    assert_eq!(q.len(), 97);
    // Each mm's hints come oldest first.
    let addrs: Vec<_> = q.by_ref().take(3).map(|h| h.addr / PMD).collect();
    assert_eq!(addrs, [3, 4, 5]);
}

#[test]
fn higher_level_first() {
    let mut q = queue(8);
    q.add(1, 0, 3);
    q.add(2, 0, 1);
    q.add(3, 0, 2);
    q.add(4, 0, 0);
    let order: Vec<_> = q.by_ref().map(|h| h.mm).collect();
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
    let left: Vec<_> = q.by_ref().map(|h| (h.mm, h.addr)).collect();
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
    assert!(q.by_ref().all(|h| h.mm == 8));
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
    assert_eq!(q.next().map(|h| (h.mm, h.addr)), Some((5, 0)));
    assert_eq!(q.next(), None);
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
    assert_eq!(q.next(), None);
    assert_eq!(q.counters().added, 2);
    assert_eq!(q.add(1, 0, 0), AddOutcome::Added);
}

#[test]
fn single_slot_queue() {
    let mut q = queue(1);
    assert_eq!(q.add(1, 0, 2), AddOutcome::Added);
    assert_eq!(q.add(2, 0, 3), AddOutcome::Dropped);
    assert_eq!(q.add(2, 0, 0), AddOutcome::Evicted);
    assert_eq!(q.next().map(|h| h.mm), Some(2));
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
        q.next().map(|h| h.tag),
        Some(1),
        "a lower duplicate keeps the tag"
    );
    q.add_tagged(1, 0, 2, 1);
    assert_eq!(q.add_tagged(1, 0, 1, 2), AddOutcome::Raised);
    assert_eq!(q.next().map(|h| (h.prio, h.tag)), Some((1, 2)));
}

#[test]
fn young_priority_by_eighths() {
    assert_eq!(young_priority(512, 512), Some(0));
    assert_eq!(young_priority(448, 512), Some(0));
    assert_eq!(young_priority(447, 512), Some(1));
    assert_eq!(young_priority(256, 512), Some(1));
    assert_eq!(young_priority(128, 512), Some(2));
    assert_eq!(young_priority(64, 512), Some(3));
    assert_eq!(young_priority(63, 512), None);
    assert_eq!(young_priority(MIN_YOUNG - 1, MIN_YOUNG - 1), None);
    assert_eq!(young_priority(MIN_YOUNG, MIN_YOUNG), Some(0));
    assert_eq!(
        young_priority(70, 64),
        Some(0),
        "more young than scanned is all young"
    );
    assert_eq!(young_priority(0, 0), None);
}

proptest! {
    /// Against the definition: the first level whose share of young PTEs is reached.
    #[test]
    fn young_priority_is_the_first_share_reached(young in 0u32..9000, scanned in 0u32..9000) {
        let y = young.min(scanned);
        let want = if y < MIN_YOUNG {
            None
        } else {
            [7u64, 4, 2, 1]
                .iter()
                .position(|&e| 8 * u64::from(y) >= e * u64::from(scanned))
                .map(|l| l as u8)
        };
        prop_assert_eq!(young_priority(young, scanned), want);
        if let Some(l) = want {
            prop_assert!(usize::from(l) < HINT_LEVELS);
        }
    }
}
