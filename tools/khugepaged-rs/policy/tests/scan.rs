// SPDX-License-Identifier: GPL-2.0

//! Scan accounting against a port of 7.3's `khugepaged_do_scan()` and
//! `collapse_scan_mm_slot()` over synthetic mm lists (without hints the wake-ups must scan
//! the same PMDs, sleep and count full scans at the same points), and the hint phase's
//! rules one by one.

use khugepaged_policy::scan::{ScanCursor, ScanPass, SlotEnd, Step, Work};
use proptest::prelude::*;

/// `HPAGE_PMD_NR` for the synthetic worlds.
const NR: u32 = 512;

/// A PMD as the scan meets it.
#[derive(Clone, Copy, Debug)]
struct PmdSpec {
    /// No page table: progress 1 instead of `HPAGE_PMD_NR`.
    empty: bool,
    /// The scan went on to a collapse, which drops the mmap lock.
    collapse: bool,
    /// That collapse failed to allocate a huge page.
    alloc_fail: bool,
}

#[derive(Clone, Debug)]
struct VmaSpec {
    /// Not eligible (`collapse_possible()` false): skipped for 1.
    skip: bool,
    /// Its PMD-aligned extent, in PMDs from the mm's first one.
    start: usize,
    pmds: Vec<PmdSpec>,
}

#[derive(Clone, Debug)]
struct MmSpec {
    trylock_fails: bool,
    exiting: bool,
    vmas: Vec<VmaSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    /// A PMD of (slot, address in PMDs) scanned.
    Pmd(usize, usize),
    Sleep,
    FullScan,
}

/// The walk's position, as in C: `khugepaged_scan.mm_slot` and `.address`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CScan {
    slot: Option<usize>,
    address: usize,
    full_scans: u64,
}

fn pmd_cost(p: &PmdSpec) -> u32 {
    if p.empty {
        1
    } else {
        NR
    }
}

/// `collapse_scan_mm_slot()`: the decisions that depend on progress and position.
fn c_scan_mm_slot(
    mms: &[MmSpec],
    scan: &mut CScan,
    progress: &mut u32,
    progress_max: u32,
    events: &mut Vec<Event>,
) -> bool {
    let mut alloc_failed = false; // *result = SCAN_FAIL
    let slot = match scan.slot {
        Some(s) => s,
        None => {
            scan.address = 0;
            scan.slot = Some(0);
            0
        }
    };
    let mm = &mms[slot];
    // `vma` is non-NULL when the VMA loop was left early.
    let mut vma_left_early = false;
    'out: {
        if mm.trylock_fails {
            break 'out;
        }
        *progress += 1;
        if mm.exiting {
            break 'out;
        }
        // vma_iter_init(&vmi, mm, khugepaged_scan.address); for_each_vma(vmi, vma)
        let from = scan.address;
        for vma in mm.vmas.iter().filter(|v| v.start + v.pmds.len() > from) {
            if vma.skip {
                *progress += 1;
                continue;
            }
            let hend = vma.start + vma.pmds.len();
            if scan.address < vma.start {
                scan.address = vma.start;
            }
            while scan.address < hend {
                let pmd = &vma.pmds[scan.address - vma.start];
                events.push(Event::Pmd(slot, scan.address));
                *progress += pmd_cost(pmd);
                alloc_failed = pmd.collapse && pmd.alloc_fail;
                scan.address += 1;
                if pmd.collapse || *progress >= progress_max {
                    vma_left_early = true;
                    break 'out;
                }
            }
        }
    }
    if mm.exiting || !vma_left_early {
        if slot + 1 < mms.len() {
            scan.slot = Some(slot + 1);
            scan.address = 0;
        } else {
            scan.slot = None;
            scan.full_scans += 1;
            events.push(Event::FullScan);
        }
    }
    alloc_failed
}

/// `khugepaged_do_scan()`.
fn c_do_scan(mms: &[MmSpec], scan: &mut CScan, progress_max: u32) -> Vec<Event> {
    let mut events = vec![];
    let mut progress = 0;
    let mut pass_through_head = 0;
    let mut wait = true;
    let mut alloc_failed = false;
    loop {
        if scan.slot.is_none() {
            pass_through_head += 1;
        }
        if !mms.is_empty() && pass_through_head < 2 {
            alloc_failed = c_scan_mm_slot(mms, scan, &mut progress, progress_max, &mut events);
        } else {
            progress = progress_max;
        }
        if progress >= progress_max {
            break;
        }
        if alloc_failed {
            if !wait {
                break;
            }
            wait = false;
            events.push(Event::Sleep);
        }
    }
    events
}

/// The kernel's side of one slot scan, with the state machine deciding when to stop.
fn scan_slot(
    mms: &[MmSpec],
    pass: &mut ScanPass,
    slot: usize,
    mut address: usize,
    events: &mut Vec<Event>,
) -> (SlotEnd<usize>, bool) {
    let mm = &mms[slot];
    let next = (slot + 1 < mms.len()).then_some(slot + 1);
    if mm.trylock_fails {
        return (SlotEnd::Finished { next }, false);
    }
    pass.charge(1);
    if mm.exiting {
        return (SlotEnd::Finished { next }, false);
    }
    let from = address;
    for vma in mm.vmas.iter().filter(|v| v.start + v.pmds.len() > from) {
        if vma.skip {
            pass.charge(1);
            continue;
        }
        address = address.max(vma.start);
        while address < vma.start + vma.pmds.len() {
            let pmd = &vma.pmds[address - vma.start];
            events.push(Event::Pmd(slot, address));
            pass.charge(pmd_cost(pmd));
            address += 1;
            if pmd.collapse || !pass.budget_left() {
                let end = SlotEnd::Paused {
                    slot,
                    next_address: address,
                };
                return (end, pmd.collapse && pmd.alloc_fail);
            }
        }
    }
    (SlotEnd::Finished { next }, false)
}

/// One wake-up driven by [`ScanPass`], without hints.
fn rs_do_scan(mms: &[MmSpec], cursor: &mut ScanCursor<usize>, pages: u32) -> Vec<Event> {
    let mut events = vec![];
    let mut pass = ScanPass::with_hint_budget(pages, 0);
    let work = Work {
        hints_pending: true,
        has_work: !mms.is_empty(),
        should_stop: false,
    };
    // Bounded: every scan charges at least 1 or moves the walk on.
    for _ in 0..10_000 {
        match pass.step(cursor, work) {
            Step::Scan(ticket) => {
                let slot = ticket.slot().unwrap_or(0);
                let (end, alloc_failed) =
                    scan_slot(mms, &mut pass, slot, ticket.address(), &mut events);
                if pass.slot_done(ticket, cursor, end, alloc_failed) {
                    events.push(Event::FullScan);
                }
            }
            Step::AllocSleep => events.push(Event::Sleep),
            Step::Done => return events,
            Step::Hint(_) => panic!("no hint budget, yet a hint"),
        }
    }
    panic!("wake-up never ended");
}

fn pmd_strategy() -> impl Strategy<Value = PmdSpec> {
    (
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(empty, collapse, alloc_fail)| PmdSpec {
            empty,
            collapse,
            alloc_fail,
        })
}

fn mm_strategy() -> impl Strategy<Value = MmSpec> {
    let vma = (
        prop::bool::weighted(0.2),
        0usize..3,
        prop::collection::vec(pmd_strategy(), 0..6),
    );
    (
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        prop::collection::vec(vma, 0..4),
    )
        .prop_map(|(trylock_fails, exiting, vmas)| {
            // Lay the VMAs out one after the other, with gaps.
            let mut at = 0;
            let vmas = vmas
                .into_iter()
                .map(|(skip, gap, pmds)| {
                    let start = at + gap;
                    at = start + pmds.len();
                    VmaSpec { skip, start, pmds }
                })
                .collect();
            MmSpec {
                trylock_fails,
                exiting,
                vmas,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Ten wake-ups in a row: the same PMDs, sleeps and full scans as 7.3, and the same
    /// position after each.
    #[test]
    fn walk_matches_c(
        mms in prop::collection::vec(mm_strategy(), 0..5),
        pages in prop_oneof![1u32..64, 64u32..4096, Just(NR * 8)],
    ) {
        let mut c = CScan::default();
        let mut cursor = ScanCursor::new();
        for wakeup in 0..10 {
            let expected = c_do_scan(&mms, &mut c, pages);
            let got = rs_do_scan(&mms, &mut cursor, pages);
            prop_assert_eq!(got, expected, "wake-up {}", wakeup);
            prop_assert_eq!(cursor.slot(), c.slot);
            prop_assert_eq!(cursor.address(), if c.slot.is_some() { c.address } else { 0 });
            prop_assert_eq!(cursor.full_scans(), c.full_scans);
        }
    }
}

// The state machine's rules, one by one.

const IDLE: Work = Work {
    hints_pending: false,
    has_work: true,
    should_stop: false,
};

const HINTS: Work = Work {
    hints_pending: true,
    ..IDLE
};

fn expect_scan(step: Step<usize>) -> khugepaged_policy::scan::SlotTicket<usize> {
    match step {
        Step::Scan(t) => t,
        other => panic!("expected a scan, got {other:?}"),
    }
}

fn expect_hint(step: Step<usize>) -> khugepaged_policy::scan::HintTicket {
    match step {
        Step::Hint(t) => t,
        other => panic!("expected a hint, got {other:?}"),
    }
}

#[test]
fn hints_first_up_to_their_budget_then_the_walk() {
    let cursor = ScanCursor::<usize>::new();
    let mut pass = ScanPass::new(8 * NR);
    for _ in 0..4 {
        let t = expect_hint(pass.step(&cursor, HINTS));
        pass.charge(NR);
        pass.hint_done(t, false);
    }
    assert_eq!(pass.hint_progress(), 4 * NR);
    // Half the budget went to hints: the walk gets the rest although hints remain.
    let t = expect_scan(pass.step(&cursor, HINTS));
    assert_eq!((t.slot(), t.address()), (None, 0));
    pass.charge(4 * NR);
    let mut cursor = cursor;
    let end = SlotEnd::Paused {
        slot: 3,
        next_address: 0x4000_0000,
    };
    assert!(!pass.slot_done(t, &mut cursor, end, false));
    assert!(matches!(pass.step(&cursor, HINTS), Step::Done));
    assert_eq!(cursor.slot(), Some(3));
    assert_eq!(cursor.address(), 0x4000_0000);
}

#[test]
fn unused_hint_budget_goes_to_the_walk() {
    let mut cursor = ScanCursor::<usize>::new();
    let mut pass = ScanPass::new(8 * NR);
    let t = expect_hint(pass.step(&cursor, HINTS));
    pass.charge(1);
    pass.hint_done(t, false);
    // The queue is empty now.
    let t = expect_scan(pass.step(&cursor, IDLE));
    pass.charge(8 * NR - 2);
    assert!(pass.budget_left());
    pass.charge(NR);
    let end = SlotEnd::Paused {
        slot: 0,
        next_address: 0x20_0000,
    };
    pass.slot_done(t, &mut cursor, end, false);
    assert!(matches!(pass.step(&cursor, HINTS), Step::Done));
    assert_eq!(pass.progress(), 9 * NR - 1);
}

#[test]
fn no_hint_budget_no_hints() {
    let cursor = ScanCursor::<usize>::new();
    let mut pass = ScanPass::with_hint_budget(NR, 0);
    expect_scan(pass.step(&cursor, HINTS)).slot();
}

#[test]
fn hints_alone_when_nothing_to_walk() {
    let cursor = ScanCursor::<usize>::new();
    let mut pass = ScanPass::new(8 * NR);
    let nothing = Work {
        has_work: false,
        ..HINTS
    };
    let t = expect_hint(pass.step(&cursor, nothing));
    pass.charge(NR);
    pass.hint_done(t, false);
    let none_left = Work {
        hints_pending: false,
        ..nothing
    };
    assert!(matches!(pass.step(&cursor, none_left), Step::Done));
}

#[test]
fn first_allocation_failure_sleeps_second_ends() {
    let cursor = ScanCursor::<usize>::new();
    let mut pass = ScanPass::new(8 * NR);
    let t = expect_hint(pass.step(&cursor, HINTS));
    pass.charge(NR);
    pass.hint_done(t, true);
    assert!(matches!(pass.step(&cursor, HINTS), Step::AllocSleep));
    let t = expect_hint(pass.step(&cursor, HINTS));
    pass.charge(NR);
    pass.hint_done(t, true);
    assert!(matches!(pass.step(&cursor, HINTS), Step::Done));
    assert!(matches!(pass.step(&cursor, HINTS), Step::Done));
}

#[test]
fn stop_ends_at_once() {
    let cursor = ScanCursor::<usize>::new();
    let mut pass = ScanPass::new(8 * NR);
    let stop = Work {
        should_stop: true,
        ..HINTS
    };
    assert!(matches!(pass.step(&cursor, stop), Step::Done));
    assert!(matches!(pass.step(&cursor, HINTS), Step::Done));
}

#[test]
fn dropped_ticket_is_no_scan() {
    let cursor = ScanCursor::<usize>::new();
    let mut pass = ScanPass::new(8 * NR);
    drop(expect_hint(pass.step(&cursor, HINTS)));
    drop(expect_hint(pass.step(&cursor, HINTS)));
    assert_eq!(pass.progress(), 0);
}

#[test]
fn full_scans_from_head_and_from_the_middle() {
    // Three mms of one PMD each, a budget large enough for everything.
    let one = MmSpec {
        trylock_fails: false,
        exiting: false,
        vmas: vec![VmaSpec {
            skip: false,
            start: 0,
            pmds: vec![PmdSpec {
                empty: false,
                collapse: false,
                alloc_fail: false,
            }],
        }],
    };
    let mms = vec![one.clone(), one.clone(), one];
    let mut cursor = ScanCursor::new();
    // From the head: one full scan, then the walk would start at the head again: stop.
    let ev = rs_do_scan(&mms, &mut cursor, 100 * NR);
    assert_eq!(ev.iter().filter(|e| **e == Event::FullScan).count(), 1);
    assert_eq!(cursor.full_scans(), 1);
    // From the middle: the rest, a full scan, then once more from the head.
    cursor = ScanCursor::new();
    let mut pass = ScanPass::with_hint_budget(100 * NR, 0);
    let t = expect_scan(pass.step(&cursor, IDLE));
    pass.charge(1);
    pass.slot_done(t, &mut cursor, SlotEnd::Finished { next: Some(1) }, false);
    let ev = rs_do_scan(&mms, &mut cursor, 100 * NR);
    assert_eq!(ev.iter().filter(|e| **e == Event::FullScan).count(), 2);
    assert_eq!(cursor.full_scans(), 2);
}

#[test]
fn cursor_helpers() {
    let mut cursor = ScanCursor::<u32>::default();
    assert!(!cursor.is_current(7));
    let mut pass = ScanPass::new(NR);
    let t = match pass.step(&cursor, IDLE) {
        Step::Scan(t) => t,
        other => panic!("{other:?}"),
    };
    let end = SlotEnd::Paused {
        slot: 7,
        next_address: 0x60_0000,
    };
    pass.slot_done(t, &mut cursor, end, false);
    assert!(cursor.is_current(7));
    assert_eq!(cursor.take(), Some(7));
    assert_eq!((cursor.slot(), cursor.address()), (None, 0));
}
