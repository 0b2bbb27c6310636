// SPDX-License-Identifier: GPL-2.0

//! How much one khugepaged wake-up scans and where it resumes: 7.3's
//! `khugepaged_do_scan()` and the accounting of `collapse_scan_mm_slot()`, plus the hint
//! queue in front of the round-robin walk.
//!
//! The walk's position ([`ScanCursor`], C's `struct khugepaged_scan`) outlives wake-ups: an
//! mm slot and the address to resume at, or the head of the list. Slots are opaque (`S`:
//! whatever the caller uses to name one), and the caller owns the list.
//!
//! A wake-up ([`ScanPass`]) has a budget of `pages_to_scan` units of progress, counted as
//! in 7.3 with [`ScanPass::charge`]: 1 for each mm whose mmap lock was taken, 1 for each
//! VMA skipped, and per PMD 1 when there is no page table to scan (or a file THP is only
//! PTE-mapped) and `HPAGE_PMD_NR` otherwise. Each check happens after a whole PMD, so a
//! wake-up may overrun its budget by one PMD, as in 7.3. In order:
//!
//! 1. Hints: while the hint queue has any and the progress made on hints is below the
//!    hint budget (their share of `pages_to_scan`, [`super::hint_budget`]), serve one
//!    ([`Step::Hint`]). What hints leave unused goes to the walk.
//! 2. The walk, as 7.3 does it: scan the cursor's slot from its address, or the list's first
//!    slot from 0 ([`Step::Scan`]), until the budget is spent; move to the next slot when
//!    an mm is done, and count a full scan after the last one. The walk starts from the
//!    head of the list at most once per wake-up.
//!
//! The first failed huge page allocation of a wake-up asks for a sleep of
//! `alloc_sleep_millisecs` ([`Step::AllocSleep`]); the second one ends the wake-up.
//!
//! [`ScanPass::step`] hands out a ticket for each scan, to give back with the outcome
//! ([`ScanPass::hint_done`], [`ScanPass::slot_done`]).

/// Where the round-robin walk stands between wake-ups (C's `khugepaged_scan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanCursor<S> {
    /// The slot being scanned and the address to resume at; `None` at the list's head.
    pos: Option<(S, usize)>,
    full_scans: u64,
}

impl<S: Copy + PartialEq> ScanCursor<S> {
    /// At the head of the list, no full scan yet.
    pub const fn new() -> Self {
        ScanCursor {
            pos: None,
            full_scans: 0,
        }
    }

    /// The slot being scanned, if the walk is not at the list's head.
    pub fn slot(&self) -> Option<S> {
        self.pos.map(|(s, _)| s)
    }

    /// The address the walk resumes at in [`ScanCursor::slot`]; 0 at the list's head.
    pub fn address(&self) -> usize {
        self.pos.map_or(0, |(_, a)| a)
    }

    /// Completed passes over the whole list (`khugepaged/full_scans`).
    pub fn full_scans(&self) -> u64 {
        self.full_scans
    }

    /// Whether `slot` is the one being scanned. As in `__khugepaged_exit()`, an exiting mm's
    /// slot is then left for the walk to free when it moves on, not freed at once.
    pub fn is_current(&self, slot: S) -> bool {
        self.slot() == Some(slot)
    }

    /// Goes back to the list's head, returning the slot that was being scanned, for the
    /// caller to free if its mm has exited (the thread stopping, in C's `khugepaged()`).
    pub fn take(&mut self) -> Option<S> {
        self.pos.take().map(|(s, _)| s)
    }
}

impl<S: Copy + PartialEq> Default for ScanCursor<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// What the caller knows at each step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// The hint queue is not empty.
    pub hints_pending: bool,
    /// There are mm slots and THP is enabled (`khugepaged_has_work()`).
    pub has_work: bool,
    /// The thread is asked to stop (`kthread_should_stop()`).
    pub should_stop: bool,
}

/// Leave to scan one hint; give it back to [`ScanPass::hint_done`].
#[derive(Debug)]
#[must_use]
pub struct HintTicket(());

/// Leave to scan one mm slot; give it back to [`ScanPass::slot_done`].
#[derive(Debug)]
#[must_use]
pub struct SlotTicket<S> {
    slot: Option<S>,
    address: usize,
}

impl<S: Copy> SlotTicket<S> {
    /// The slot to scan; `None` for the list's first slot.
    pub fn slot(&self) -> Option<S> {
        self.slot
    }

    /// The address to start at (0 for the list's first slot).
    pub fn address(&self) -> usize {
        self.address
    }
}

/// What to do next.
#[derive(Debug)]
#[must_use]
pub enum Step<S> {
    /// Take the next hint from the queue and scan its PMD, charging the work.
    Hint(HintTicket),
    /// Scan an mm slot, charging the work, and stop early once
    /// [`ScanPass::budget_left`] is false after a PMD.
    Scan(SlotTicket<S>),
    /// Sleep `alloc_sleep_millisecs` (`khugepaged_alloc_sleep()`), then step again.
    AllocSleep,
    /// The wake-up is over.
    Done,
}

/// How the scan of one mm slot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotEnd<S> {
    /// Stopped inside the mm (the mmap lock was dropped for a collapse, or the budget ran
    /// out): the walk resumes in `slot` at `next_address`.
    Paused {
        /// The slot scanned: the ticket's, or the list's first slot when it named none.
        slot: S,
        /// The PMD after the last one scanned.
        next_address: usize,
    },
    /// Done with the mm: every VMA was scanned, the mm is exiting or THP is disabled for
    /// it, or its mmap lock was contended. The walk moves to `next`, the slot after it on
    /// the list, or `None` if it was the last.
    Finished {
        /// The next slot.
        next: Option<S>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Hints,
    HintScan,
    Walk,
    SlotScan,
    /// A sleep was asked for; then back to `Hints` or `Walk`.
    Sleep {
        hints: bool,
    },
    Done,
}

/// One wake-up's budget and progress (C's `khugepaged_do_scan()` with `cc->progress`).
#[derive(Clone, Copy, Debug)]
pub struct ScanPass {
    budget: u32,
    hint_budget: u32,
    progress: u32,
    hint_progress: u32,
    /// Times the walk started at the list's head (`pass_through_head`).
    head_starts: u32,
    /// An allocation failed earlier in this wake-up (C's `wait` cleared).
    alloc_failed: bool,
    phase: Phase,
}

impl ScanPass {
    /// A wake-up of `pages_to_scan`, half of which hints may use.
    pub fn new(pages_to_scan: u32) -> Self {
        Self::with_hint_budget(pages_to_scan, pages_to_scan / 2)
    }

    /// A wake-up of `pages_to_scan`, of which hints may use `hint_budget` (0: no hints;
    /// `pages_to_scan` or more: hints may take it all and starve the walk).
    pub fn with_hint_budget(pages_to_scan: u32, hint_budget: u32) -> Self {
        ScanPass {
            budget: pages_to_scan,
            hint_budget,
            progress: 0,
            hint_progress: 0,
            head_starts: 0,
            alloc_failed: false,
            phase: Phase::Hints,
        }
    }

    /// Progress so far.
    pub fn progress(&self) -> u32 {
        self.progress
    }

    /// Progress on hints so far.
    pub fn hint_progress(&self) -> u32 {
        self.hint_progress
    }

    /// Whether the scan in progress may go on to another PMD. The walk checks after each
    /// PMD; a hint is one PMD.
    pub fn budget_left(&self) -> bool {
        self.progress < self.budget
    }

    /// Counts work done (see the module documentation for the units).
    pub fn charge(&mut self, units: u32) {
        self.progress = self.progress.saturating_add(units);
        if self.phase == Phase::HintScan {
            self.hint_progress = self.hint_progress.saturating_add(units);
        }
    }

    /// The next thing to do. `cursor` is the walk's position.
    pub fn step<S: Copy + PartialEq>(&mut self, cursor: &ScanCursor<S>, work: Work) -> Step<S> {
        if work.should_stop {
            self.phase = Phase::Done;
        }
        // A ticket dropped without its report: go on as if nothing had been scanned.
        match self.phase {
            Phase::HintScan => self.phase = Phase::Hints,
            Phase::SlotScan => self.phase = Phase::Walk,
            _ => {}
        }
        if let Phase::Sleep { hints } = self.phase {
            self.phase = if hints { Phase::Hints } else { Phase::Walk };
            return Step::AllocSleep;
        }
        if self.phase == Phase::Hints {
            if work.hints_pending && self.hint_progress < self.hint_budget && self.budget_left() {
                self.phase = Phase::HintScan;
                return Step::Hint(HintTicket(()));
            }
            self.phase = Phase::Walk;
        }
        if self.phase != Phase::Walk {
            return Step::Done;
        }
        if cursor.pos.is_none() {
            self.head_starts = self.head_starts.saturating_add(1);
        }
        if work.has_work && self.head_starts < 2 && self.budget_left() {
            self.phase = Phase::SlotScan;
            return Step::Scan(SlotTicket {
                slot: cursor.slot(),
                address: cursor.address(),
            });
        }
        self.phase = Phase::Done;
        Step::Done
    }

    /// Where the wake-up goes after a scan: done when the budget is spent, else on, after
    /// a sleep for a first failed allocation or to the end for a second.
    fn after_scan(&mut self, alloc_failed: bool, hints: bool) {
        self.phase = if !self.budget_left() {
            Phase::Done
        } else if !alloc_failed {
            if hints {
                Phase::Hints
            } else {
                Phase::Walk
            }
        } else if self.alloc_failed {
            Phase::Done
        } else {
            self.alloc_failed = true;
            Phase::Sleep { hints }
        };
    }

    /// Reports a hint scanned; `alloc_failed` if its last collapse failed to allocate.
    pub fn hint_done(&mut self, ticket: HintTicket, alloc_failed: bool) {
        let HintTicket(()) = ticket;
        self.after_scan(alloc_failed, true);
    }

    /// Reports a slot scanned and moves the walk: `alloc_failed` if the last PMD's collapse
    /// failed to allocate. Returns whether this completed a full scan.
    pub fn slot_done<S: Copy + PartialEq>(
        &mut self,
        ticket: SlotTicket<S>,
        cursor: &mut ScanCursor<S>,
        end: SlotEnd<S>,
        alloc_failed: bool,
    ) -> bool {
        let SlotTicket { .. } = ticket;
        let mut full = false;
        cursor.pos = match end {
            SlotEnd::Paused { slot, next_address } => Some((slot, next_address)),
            SlotEnd::Finished { next: Some(next) } => Some((next, 0)),
            SlotEnd::Finished { next: None } => {
                cursor.full_scans = cursor.full_scans.saturating_add(1);
                full = true;
                None
            }
        };
        self.after_scan(alloc_failed, false);
        full
    }
}
