// SPDX-License-Identifier: GPL-2.0

//! Collapse hints: PMD ranges worth collapsing soon, queued by priority and served by the
//! thread before its round-robin walk. 7.3 has no counterpart.
//!
//! Hints come from `khugepaged_add_collapse_hint()` and from MGLRU, which clears access
//! bits while it ages memory: its page-table walk (`walk_mm()`) and its rmap look-around
//! (`lru_gen_look_around()`) report how many of the PTEs they looked at were young, in
//! which generation (`max_seq`), and a dense enough range that is not yet at the largest
//! size its VMA allows is queued ([`add_young`]). Such a hint is held until the range was
//! found young in several aging passes, which memory touched once never is
//! ([`crate::policy::hint_heat`]). Adding runs in reclaim, maybe under a page-table lock
//! and with IRQs off, but never in an interrupt handler (the queue's spinlock is not
//! IRQ-safe): it takes that one lock, never allocates, never sleeps and never takes the
//! mmap lock.
//!
//! The queue is the policy core's [`HintQueue`], in storage allocated when the capacity is
//! set. It holds mms by address only, so a hint never keeps an mm alive: hints are taken
//! only for mms registered with khugepaged, and [`remove_mm`], called by
//! `__khugepaged_exit()` after it cleared the registration flag, drops an exiting mm's
//! hints under the same lock. A served hint is advice: the thread looks the mm up among
//! its slots and scans the range with every check of the walk, under the locks, but one:
//! MGLRU cleared the access bits it found young, so the PTEs it last found young count as
//! referenced ([`young_ptes`]), no more.

use crate::{
    eligible,
    policy::{
        hint_budget::HintBudget,
        hint_heat,
        hint_queue::{AddOutcome, Hint, HintQueue, HintSlot, Sighting},
        knobs::HINT_CAPACITY_DEFAULT,
    },
};
use core::fmt::Write;
use kernel::{
    alloc::KVVec,
    mm::{
        khugepaged_trace,
        mm_struct::MmFlag,
        thp::{self, RmapVma, TvaType},
        Mm,
    },
    new_mutex, new_spinlock,
    page::PAGE_SHIFT,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex, SetOnce, SpinLock,
    },
    time::{Instant, Monotonic},
};

/// The queue with its storage.
pub(crate) type Queue = HintQueue<KVVec<HintSlot>>;

/// Where a hint came from: `enum khugepaged_hint_source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Source {
    /// `khugepaged_add_collapse_hint()`.
    Other = 0,
    /// MGLRU's page-table walk.
    Walk = 1,
    /// MGLRU's rmap look-around.
    LookAround = 2,
}

impl Source {
    const ALL: [Source; 3] = [Source::Other, Source::Walk, Source::LookAround];

    /// The C enum's value; unknown values count as [`Source::Other`].
    pub(crate) fn from_raw(raw: u32) -> Self {
        match raw {
            1 => Source::Walk,
            2 => Source::LookAround,
            _ => Source::Other,
        }
    }

    fn from_tag(tag: u8) -> Self {
        Self::from_raw(tag.into())
    }

    fn name(self) -> &'static str {
        match self {
            Source::Other => "other",
            Source::Walk => "walk",
            Source::LookAround => "look_around",
        }
    }

    fn index(self) -> usize {
        usize::from(self as u8)
    }
}

/// Whether hints are taken and served (`khugepaged/hints`).
static ENABLED: Atomic<bool> = Atomic::new(false);

/// The hints' share of each wake-up ([`HintBudget::to_raw`]): updated by the thread as it
/// serves hints, started over when hints are turned on.
static BUDGET: Atomic<u32> = Atomic::new(HintBudget::new().to_raw());

/// The counters of `khugepaged/hint_stats`. The queue counts too, but it is replaced when
/// the capacity changes; these last for the boot.
struct Stats {
    added: [Atomic<u64>; 3],
    deduplicated: Atomic<u64>,
    raised: Atomic<u64>,
    renewed: Atomic<u64>,
    expired: Atomic<u64>,
    dropped: Atomic<u64>,
    removed: Atomic<u64>,
    served: Atomic<u64>,
    /// Served hints whose mm was gone or whose range could not be scanned.
    stale: Atomic<u64>,
    collapsed_hint: [Atomic<u64>; 3],
    collapsed_scan: Atomic<u64>,
}

static STATS: Stats = Stats {
    added: [Atomic::new(0), Atomic::new(0), Atomic::new(0)],
    deduplicated: Atomic::new(0),
    raised: Atomic::new(0),
    renewed: Atomic::new(0),
    expired: Atomic::new(0),
    dropped: Atomic::new(0),
    removed: Atomic::new(0),
    served: Atomic::new(0),
    stale: Atomic::new(0),
    collapsed_hint: [Atomic::new(0), Atomic::new(0), Atomic::new(0)],
    collapsed_scan: Atomic::new(0),
};

/// The clock's zero: hints keep their times as 32-bit milliseconds since then.
static ORIGIN: SetOnce<Instant<Monotonic>> = SetOnce::new();

/// Milliseconds since [`init`], wrapping every 49 days (the queue compares them by
/// difference). Safe from any context but NMI.
fn now_ms() -> u32 {
    let Some(origin) = ORIGIN.as_ref() else {
        return 0;
    };
    let ms = (Instant::<Monotonic>::now() - *origin).as_nanos() / 1_000_000;
    // CAST: Wrapping is intended.
    ms as u32
}

fn inc(counter: &Atomic<u64>) {
    counter.fetch_add(1, Relaxed);
}

fn add_to(counter: &Atomic<u64>, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Relaxed);
}

/// Allocates an empty queue of `capacity` hints. May sleep.
pub(crate) fn new_queue(capacity: u32) -> Result<Queue> {
    let len = usize::try_from(capacity).map_err(|_| EINVAL)?;
    let storage = KVVec::from_elem(HintSlot::EMPTY, len, GFP_KERNEL)?;
    let pmd_shift = PAGE_SHIFT
        .try_into()
        .map_or(u32::MAX, |s: u32| s.saturating_add(thp::pmd_order()));
    HintQueue::new(storage, pmd_shift).map_err(|_| EINVAL)
}

/// The queue, and the lock that makes the `hints` knob's two steps one.
#[pin_data]
struct Hints {
    #[pin]
    queue: SpinLock<Queue>,
    /// Serialises the changes of the `hints` knob: its flag and the feeders' static key.
    /// Taken before `cpus_read_lock()` (the static key), never under `queue`, and never
    /// under `Daemon::thread`, which memory hotplug takes under `cpus_read_lock()`.
    #[pin]
    knob: Mutex<()>,
}

/// Set once by [`init`]; the feeders and the thread find no queue before that.
static HINTS: SetOnce<Arc<Hints>> = SetOnce::new();

/// Allocates the boot-time queue and turns hints on: called once, from `khugepaged_init()`.
pub(crate) fn init() -> Result {
    ORIGIN.populate(Instant::now());
    let queue = new_queue(HINT_CAPACITY_DEFAULT)?;
    let hints = Arc::pin_init(
        pin_init!(Hints {
            queue <- new_spinlock!(queue, "Hints::queue"),
            knob <- new_mutex!((), "Hints::knob"),
        }),
        GFP_KERNEL,
    )?;
    if !HINTS.populate(hints) {
        return Err(EBUSY);
    }
    set_enabled(true);
    Ok(())
}

/// Runs `f` on the hint queue under its lock; `None` before [`init`].
fn with_queue<R>(f: impl FnOnce(&mut Queue) -> R) -> Option<R> {
    HINTS.as_ref().map(|h| f(&mut h.queue.lock()))
}

/// Whether hints are on.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// How many PTEs of a wake-up's `pages_to_scan` hints may take.
pub(crate) fn budget_limit(pages_to_scan: u32) -> u32 {
    HintBudget::from_raw(BUDGET.load(Relaxed)).limit(pages_to_scan)
}

/// Takes in what serving a hint whose range was scanned did: whether it collapsed. Only the
/// thread calls this; a racing restart by [`set_enabled`] may be lost, which costs nothing.
pub(crate) fn record_served(collapsed: bool) {
    let mut budget = HintBudget::from_raw(BUDGET.load(Relaxed));
    budget.record(collapsed);
    BUDGET.store(budget.to_raw(), Relaxed);
}

/// `khugepaged/hints`: on or off. Turning them off drops every queued hint (counted as
/// removed); turning them on starts the budget over: what came before says nothing of the
/// new hints. May sleep (the feeders' static key).
///
/// The flag and the static key change together under `Hints::knob`: two writers
/// racing could otherwise leave the flag on and the feeders off, for good, since a write
/// that changes nothing does nothing.
pub(crate) fn set_enabled(on: bool) {
    // Before `init()` there is no one to race with.
    let _guard = HINTS.as_ref().map(|h| h.knob.lock());
    set_enabled_locked(on);
}

fn set_enabled_locked(on: bool) {
    let was = ENABLED.xchg(on, Relaxed);
    if was == on {
        return;
    }
    if on {
        BUDGET.store(HintBudget::new().to_raw(), Relaxed);
    }
    thp::hints_key_set(on);
    if !on {
        if let Some(n) = with_queue(|q| {
            let n = q.len();
            q.clear();
            n
        }) {
            add_to(&STATS.removed, n);
        }
    }
}

/// The queue's capacity.
pub(crate) fn capacity() -> usize {
    with_queue(|q| q.capacity()).unwrap_or(0)
}

/// `khugepaged/hint_capacity`: a new, empty queue of `capacity` hints. The queued hints
/// are dropped (counted as removed). May sleep.
pub(crate) fn set_capacity(capacity: u32) -> Result {
    let queue = new_queue(capacity)?;
    let old = with_queue(|q| core::mem::replace(q, queue)).ok_or(ENODEV)?;
    add_to(&STATS.removed, old.len());
    // The old storage is freed here, outside the queue's lock.
    drop(old);
    Ok(())
}

/// Runs `f` on the queue with `mm`'s key, if hints are on and `mm` is registered with
/// khugepaged; `None` otherwise. Never allocates or sleeps.
fn with_registered<R>(mm: &Mm, f: impl FnOnce(&mut Queue, usize) -> R) -> Option<R> {
    // Most mms a reclaim walk meets are not registered: keep them off the queue's lock.
    if !enabled() || !mm.test_flag(MmFlag::VmHugepage) {
        return None;
    }
    // CAST: The mm's address is the hint's key; it is never turned back into a pointer.
    let key = mm.as_raw() as usize;
    // The registration flag is tested under the queue's lock: `__khugepaged_exit()` clears
    // it before it takes the lock to drop the mm's hints, so no hint of an exited mm stays.
    with_queue(|q| mm.test_flag(MmFlag::VmHugepage).then(|| f(q, key))).flatten()
}

/// Runs `f` on `q`, adding the hints it found gone cold to `hint_stats` (the queue's own
/// counters go with it when the capacity changes).
fn counting_expired<R>(q: &mut Queue, f: impl FnOnce(&mut Queue) -> R) -> R {
    let before = q.counters().expired;
    let r = f(q);
    STATS
        .expired
        .fetch_add(q.counters().expired.wrapping_sub(before), Relaxed);
    r
}

/// Queues a hint for the PMD range holding `addr` in `mm`, if hints are on and `mm` is
/// registered with khugepaged. Never allocates or sleeps.
pub(crate) fn add(mm: &Mm, addr: usize, prio: u8, source: Source) -> bool {
    with_registered(mm, |q, key| q.add_tagged(key, addr, prio, source as u8))
        .is_some_and(|o| count(o, source))
}

/// Counts what an add did; returns whether the hint is queued.
fn count(outcome: AddOutcome, source: Source) -> bool {
    let added = || {
        if let Some(c) = STATS.added.get(source.index()) {
            inc(c);
        }
    };
    match outcome {
        AddOutcome::Added => added(),
        AddOutcome::Evicted => {
            added();
            inc(&STATS.dropped);
        }
        AddOutcome::Duplicate => inc(&STATS.deduplicated),
        AddOutcome::Raised => {
            inc(&STATS.deduplicated);
            inc(&STATS.raised);
        }
        AddOutcome::Renewed => {
            inc(&STATS.deduplicated);
        }
        AddOutcome::Dropped => {
            inc(&STATS.dropped);
            return false;
        }
    }
    true
}

/// A sighting by an access-bit scan of `vma` in aging pass `seq` (the MGLRU generation):
/// `young` of `scanned` PTEs around `addr` were young, the smallest of their folios of
/// order `min_order`. Queued if the range is dense enough ([`hint_heat::young_share`]),
/// anonymous, and not all at the largest order khugepaged could collapse it to already;
/// served once seen in enough passes.
pub(crate) fn add_young(
    vma: &RmapVma,
    addr: usize,
    young: u32,
    scanned: u32,
    min_order: u32,
    seq: usize,
    source: Source,
) -> bool {
    if !enabled() || !vma.is_anonymous() {
        return false;
    }
    let Some(share) = hint_heat::young_share(young, scanned) else {
        return false;
    };
    let orders = vma.allowable_orders(
        vma.flags(),
        TvaType::Khugepaged,
        eligible::candidate_orders(TvaType::Khugepaged, true),
    );
    let Some(top) = usize::BITS
        .checked_sub(orders.leading_zeros())
        .and_then(|n| n.checked_sub(1))
    else {
        return false;
    };
    if min_order >= top {
        return false;
    }
    // CAST: The pass is compared for equality only, truncated.
    let epoch = seq as u32;
    let sighting = Sighting {
        share,
        young: u16::try_from(young.min(scanned)).unwrap_or(u16::MAX),
        epoch,
        now: now_ms(),
    };
    let Some(outcome) = with_registered(vma.mm(), |q, key| {
        counting_expired(q, |q| q.add_young(key, addr, sighting, source as u8))
    }) else {
        return false;
    };
    if matches!(outcome, AddOutcome::Raised | AddOutcome::Renewed) {
        inc(&STATS.renewed);
    }
    count(outcome, source)
}

/// Drops the hints of an exiting `mm`, whose registration flag is already clear.
pub(crate) fn remove_mm(mm: &Mm) {
    // CAST: As in `add()`.
    let key = mm.as_raw() as usize;
    if let Some(n) = with_queue(|q| q.remove_mm(key)) {
        add_to(&STATS.removed, n);
    }
}

/// Takes the next hint to serve; those gone cold on the way are dropped.
pub(crate) fn next() -> Option<Hint> {
    if !enabled() {
        return None;
    }
    let now = now_ms();
    let hint = with_queue(|q| counting_expired(q, |q| q.serve(now))).flatten()?;
    inc(&STATS.served);
    Some(hint)
}

/// The PTEs an access-bit scan (MGLRU) found young in `hint`'s range when it last saw it,
/// and whose access bits it cleared: they count as referenced in khugepaged's checks. 0
/// for a hint asked for.
pub(crate) fn young_ptes(hint: &Hint) -> u32 {
    if Source::from_tag(hint.tag) == Source::Other {
        return 0;
    }
    u32::from(hint.young).max(1)
}

/// Records what serving `hint` did: `collapsed` if its range gained a folio, `stale` if
/// its mm was gone or the range could not be scanned.
pub(crate) fn served(hint: &Hint, status: i32, collapsed: bool, stale: bool) {
    let source = Source::from_tag(hint.tag);
    if collapsed {
        if let Some(c) = STATS.collapsed_hint.get(source.index()) {
            inc(c);
        }
    }
    if stale {
        inc(&STATS.stale);
    }
    khugepaged_trace::collapse_hint(
        hint.mm,
        hint.addr,
        hint.prio,
        hint.tag,
        hint.passes,
        status,
        collapsed,
    );
}

/// Counts a PMD range collapsed by the round-robin walk.
pub(crate) fn collapsed_by_scan() {
    inc(&STATS.collapsed_scan);
}

/// Writes `khugepaged/hint_stats`: one `name value` line per counter, as `/proc/vmstat`.
pub(crate) fn write_stats(w: &mut impl Write) -> core::fmt::Result {
    let get = |c: &Atomic<u64>| c.load(Relaxed);
    for s in Source::ALL {
        let c = STATS.added.get(s.index()).map_or(0, get);
        writeln!(w, "hints_added_{} {c}", s.name())?;
    }
    writeln!(w, "hints_deduplicated {}", get(&STATS.deduplicated))?;
    writeln!(w, "hints_raised {}", get(&STATS.raised))?;
    writeln!(w, "hints_renewed {}", get(&STATS.renewed))?;
    writeln!(w, "hints_expired {}", get(&STATS.expired))?;
    writeln!(w, "hints_dropped {}", get(&STATS.dropped))?;
    writeln!(w, "hints_removed {}", get(&STATS.removed))?;
    writeln!(w, "hints_served {}", get(&STATS.served))?;
    writeln!(w, "hints_stale {}", get(&STATS.stale))?;
    for s in Source::ALL {
        let c = STATS.collapsed_hint.get(s.index()).map_or(0, get);
        writeln!(w, "collapsed_hint_{} {c}", s.name())?;
    }
    writeln!(w, "collapsed_scan {}", get(&STATS.collapsed_scan))?;
    let (queued, held, interval) =
        with_queue(|q| (q.len(), q.held(), q.pass_interval())).unwrap_or((0, 0, None));
    writeln!(w, "hints_queued {queued}")?;
    writeln!(w, "hints_held {held}")?;
    writeln!(w, "hint_pass_interval_ms {}", interval.unwrap_or(0))?;
    let budget = HintBudget::from_raw(BUDGET.load(Relaxed));
    writeln!(w, "hint_success_percent {}", budget.success_percent())
}
