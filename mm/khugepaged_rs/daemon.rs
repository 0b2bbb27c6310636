// SPDX-License-Identifier: GPL-2.0

//! The khugepaged kernel thread (C: `khugepaged()`, `start_stop_khugepaged()`,
//! `khugepaged_wait_work()` and `khugepaged_mutex`).
//!
//! The thread runs while any THP mode could use it: global `enabled`, any anonymous size, or
//! PMD-sized shmem. It is created and stopped under [`Daemon::thread`], which also serialises
//! the `min_free_kbytes` updates, as `khugepaged_mutex` does in C.
//!
//! The mms to scan live in [`Daemon::slots`] (C: `mm_slots_hash` and
//! `khugepaged_scan.mm_head`); the thread walks them round-robin in the order they registered,
//! each wake-up scanning up to `pages_to_scan` PTEs, then sleeps `scan_sleep_millisecs`.
//!
//! An mm is scanned only while the scan holds a user reference (`mmget_not_zero()`), so its
//! page tables cannot be torn down under the scan and `__khugepaged_exit()`, which runs when
//! the last user goes, never races with it: it just takes the slot out. The reference is
//! dropped with `mmput_async()` ([`user_of`]): when the owner exits meanwhile, its teardown
//! runs in a worker, never in this nice-19 thread (7.3 holds no user reference at all).
//!
//! Each wake-up first serves collapse hints ([`hints`]), highest priority first, with the
//! share of `pages_to_scan` their recent success earns them ([`hints::budget_limit`]),
//! then goes on with the round-robin walk where it left off.
//!
//! Lock order: `Daemon::thread`, then `Daemon::wake`; `Daemon::slots` is taken alone. The
//! hint queue's locks are the hints' own ([`hints`]).

use crate::{
    control::CollapseControl,
    eligible, hints, min_free,
    policy::{hint_queue::Hint, knobs::Knob, scan_result::ScanResult},
    scan::{self, ScanStats},
    settings, single_pmd,
    slots::{NewSlot, Slots},
};
use kernel::{
    fs::File,
    kthread::{self, Kthread, ThreadFn, ThreadTask},
    mm::{
        khugepaged_trace as trace, mm_struct::MmFlag, pgtable::MmapLocked, thp::TvaType, Mm,
        MmWithUser, MmWithUserAsync, MmapReadGuard,
    },
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    sync::{aref::ARef, atomic::Relaxed, Arc, CondVar, Mutex, SetOnce, SpinLock},
    time::msecs_to_jiffies,
};

/// What the thread's sleep waits for.
struct Wake {
    /// The thread must return: set before `kthread_stop()`, cleared before a new thread starts.
    stop: bool,
    /// Something changed (a knob, new work) since the thread last looked.
    kicked: bool,
}

/// The khugepaged thread and its wakeups.
#[pin_data]
struct Daemon {
    /// The running thread, if any (C: `khugepaged_thread` under `khugepaged_mutex`).
    #[pin]
    thread: Mutex<Option<Kthread<Khugepaged>>>,
    #[pin]
    wake: SpinLock<Wake>,
    /// Notified when `wake` changes (C: `khugepaged_wait`).
    #[pin]
    wait: CondVar,
    /// The registered mms; each holds an `mmgrab()` reference.
    #[pin]
    slots: SpinLock<Slots>,
}

/// Where the round-robin walk stands: the registration number of the mm being scanned and
/// the next address in it. Only the thread uses it (C: `khugepaged_scan`).
struct Cursor {
    seq: Option<u64>,
    address: usize,
}

/// Set once by [`init`]; the THP code calls into this file only after that, except for
/// [`min_free_kbytes_update`], which runs at boot before it and finds no thread.
static DAEMON: SetOnce<Arc<Daemon>> = SetOnce::new();

/// The thread body; [`KHUGEPAGED_TASK`] names the task running it, for
/// `current_is_khugepaged()`.
pub(crate) struct Khugepaged;

/// The task running [`Khugepaged`], for `current_is_khugepaged()`.
static KHUGEPAGED_TASK: ThreadTask = ThreadTask::new();

impl ThreadFn for Khugepaged {
    const TASK: &'static ThreadTask = &KHUGEPAGED_TASK;

    fn run() -> i32 {
        kthread::set_freezable();
        // MAX_NICE: collapsing is background work.
        kthread::set_current_nice(19);
        if let Some(daemon) = DAEMON.as_ref() {
            daemon.serve();
        }
        0
    }
}

impl Daemon {
    /// The thread's main loop: returns when asked to stop.
    fn serve(&self) {
        let Ok(mut cc) = CollapseControl::new(true) else {
            pr_err!("khugepaged: no memory for the scan state\n");
            return;
        };
        let mut cursor = Cursor {
            seq: None,
            address: 0,
        };
        while !kthread::should_stop() && !self.wake.lock().stop {
            self.do_scan(&mut cc, &mut cursor);
            self.wait_work();
        }
    }

    /// Whether there is an mm to scan and THP wants scanning (C: `khugepaged_has_work()`).
    fn has_work(&self) -> bool {
        !self.slots.lock().is_empty() && eligible::hugepage_enabled()
    }

    /// Sleeps until the next scan is due, a knob changes, work arrives or the thread must
    /// stop (C: `khugepaged_wait_work()`).
    fn wait_work(&self) {
        if self.has_work() {
            let msecs = settings::get(Knob::ScanSleepMillisecs);
            if msecs == 0 {
                return;
            }
            self.sleep(Some(msecs));
        } else if eligible::hugepage_enabled() {
            self.sleep(None);
        }
    }

    /// Sleeps for `msecs` (or until kicked, if `None`), freezable. A kick ends a sleep under
    /// way; one that came while the thread was scanning is spent, as in 7.3, whose knob
    /// writes set a deadline the next sleep replaces: a knob written during a scan must not
    /// cut the next sleep short.
    fn sleep(&self, msecs: Option<u32>) {
        let mut wake = self.wake.lock();
        wake.kicked = false;
        if wake.stop {
            return;
        }
        match msecs {
            Some(ms) => {
                let _ = self
                    .wait
                    .wait_interruptible_timeout(&mut wake, msecs_to_jiffies(ms));
            }
            None => {
                while !wake.kicked && !wake.stop && self.slots.lock().is_empty() {
                    // A signal cannot reach a kernel thread; the loop re-checks anyway.
                    let _ = self.wait.wait_interruptible_freezable(&mut wake);
                }
            }
        }
        wake.kicked = false;
        drop(wake);
        kthread::try_to_freeze();
    }

    /// Sleeps `alloc_sleep_millisecs` after a huge page allocation failed
    /// (C: `khugepaged_alloc_sleep()`).
    fn alloc_sleep(&self) {
        let msecs = settings::get(Knob::AllocSleepMillisecs);
        let mut wake = self.wake.lock();
        if !wake.stop {
            let _ = self
                .wait
                .wait_interruptible_timeout(&mut wake, msecs_to_jiffies(msecs));
        }
        drop(wake);
        kthread::try_to_freeze();
    }

    /// One wake-up's work: serve collapse hints with up to their share of `pages_to_scan`,
    /// then scan up to the rest over the registered mms (C: `khugepaged_do_scan()`).
    fn do_scan(&self, cc: &mut CollapseControl, cursor: &mut Cursor) {
        let progress_max = settings::get(Knob::PagesToScan);
        let mut pass_through_head = 0u32;
        let mut may_wait = true;
        kernel::mm::swap::lru_add_drain_all();
        cc.progress = 0;
        let hint_budget = hints::budget_limit(progress_max);
        while cc.progress < hint_budget {
            kthread::cond_resched();
            if kthread::should_stop() {
                return;
            }
            let Some(hint) = hints::next() else {
                break;
            };
            if self.serve_hint(cc, &hint) == ScanResult::AllocHugePageFail {
                if !may_wait {
                    return;
                }
                may_wait = false;
                self.alloc_sleep();
            }
        }
        loop {
            kthread::cond_resched();
            if kthread::should_stop() {
                break;
            }
            if cursor.seq.is_none() {
                pass_through_head += 1;
            }
            let result = if self.has_work() && pass_through_head < 2 {
                self.scan_mm_slot(progress_max, cc, cursor)
            } else {
                cc.progress = progress_max;
                ScanResult::Succeed
            };
            if cc.progress >= progress_max {
                break;
            }
            if result == ScanResult::AllocHugePageFail {
                // Sleep once after a failed allocation; give up this round if it fails again.
                if !may_wait {
                    break;
                }
                may_wait = false;
                self.alloc_sleep();
            }
        }
    }

    /// Scans the PMD range of one collapse hint, with every check the walk makes: the mm
    /// must still be registered and have users, the range must lie in a VMA khugepaged may
    /// collapse, and the scan and collapse re-check everything under their locks.
    ///
    /// A hint whose range was scanned counts for the hints' budget, collapsed or not; one
    /// that could not be (mm gone, lock contended) or whose huge page could not be
    /// allocated does not.
    fn serve_hint(&self, cc: &mut CollapseControl, hint: &Hint) -> ScanResult {
        let mm = self.slots.lock().get(hint.mm);
        let progress_prev = cc.progress;
        let mut result = ScanResult::Fail;
        let mut stale = true;
        if let Some(mm) = mm {
            cc.progress = cc.progress.saturating_add(1);
            if let Some(user) = user_of(&mm) {
                if let Some(guard) = user.mmap_read_trylock() {
                    result = ScanResult::VmaCheck;
                    if !eligible::exit_or_disabled(&user) {
                        cc.hint_young = hints::young_ptes(hint);
                        if let Ok((r, _)) =
                            single_pmd::collapse_hinted_pmd(cc, &user, guard, hint.addr)
                        {
                            stale = false;
                            result = r;
                        }
                        cc.hint_young = 0;
                    }
                } else {
                    stale = false;
                }
            }
        }
        // Whatever the hint led to, it cost at least what a skipped VMA does.
        if cc.progress == progress_prev {
            cc.progress = cc.progress.saturating_add(1);
        }
        let collapsed = result == ScanResult::Succeed;
        if !stale && result != ScanResult::AllocHugePageFail && result != ScanResult::Fail {
            hints::record_served(collapsed);
        }
        hints::served(hint, result as i32, collapsed, stale);
        result
    }

    /// Scans the mm under the cursor until the budget is spent, the mmap lock had to be
    /// dropped, or the mm is done; then moves the cursor on if the mm is done
    /// (C: `collapse_scan_mm_slot()`).
    fn scan_mm_slot(
        &self,
        progress_max: u32,
        cc: &mut CollapseControl,
        cursor: &mut Cursor,
    ) -> ScanResult {
        let progress_prev = cc.progress;
        let mut result = ScanResult::Fail;
        let found = self.slots.lock().at_or_after(cursor.seq.unwrap_or(0));
        let Some((seq, mm)) = found else {
            // The mm we were in went away and was the last: the pass is over.
            cursor.seq = None;
            settings::FULL_SCANS.fetch_add(1, Relaxed);
            return result;
        };
        // Another mm than the one we were in, which went away (7.3 moves its cursor off a
        // slot it frees): start it from its first address.
        if cursor.seq != Some(seq) {
            cursor.seq = Some(seq);
            cursor.address = 0;
        }
        let mut done = true;
        // A user reference keeps the page tables alive while we scan; if the mm has no users
        // left it is exiting and `__khugepaged_exit()` takes the slot out.
        if let Some(user) = user_of(&mm) {
            // Do not wait for the lock: move on to the next mm instead (as C does).
            if let Some(guard) = user.mmap_read_trylock() {
                cc.progress = cc.progress.saturating_add(1);
                done = scan_vmas(cc, &user, guard, cursor, progress_max, &mut result);
            }
            // `user` may be the last reference: dropped here, without any of our locks held,
            // and the teardown left to a worker.
        }
        if done || eligible::exit_or_disabled(&mm) {
            let next = seq
                .checked_add(1)
                .and_then(|next| self.slots.lock().next_seq(next));
            cursor.address = 0;
            cursor.seq = next;
            if next.is_none() {
                settings::FULL_SCANS.fetch_add(1, Relaxed);
            }
        }
        let finished = cursor.seq.is_none();
        trace::scan(&mm, cc.progress.wrapping_sub(progress_prev), finished);
        result
    }
}

/// A user reference to scan `mm` with, unless it is exiting. Dropped with `mmput_async()`,
/// so that if it turns out to be the last one, the process's teardown (all of its memory)
/// runs in a worker rather than in khugepaged at nice 19, which would hold back memory an
/// OOM victim is about to free.
fn user_of(mm: &Mm) -> Option<ARef<MmWithUserAsync>> {
    mm.mmget_not_zero().map(MmWithUser::into_mmput_async)
}

/// Yields the CPU, then tells whether the walk must end because the mm is exiting or THP
/// was disabled for it (charged as one step, as in 7.3).
fn must_stop(cc: &mut CollapseControl, mm: &MmWithUser) -> bool {
    kthread::cond_resched();
    let stop = eligible::exit_or_disabled(mm);
    if stop {
        cc.tick(1);
    }
    stop
}

/// The next PMD range [`scan_vmas`] found to work on.
enum Found {
    /// An anonymous range whose scan found it worth collapsing.
    Anon(usize, ScanStats),
    /// A range of a file or shmem, at this index of the file, not scanned yet.
    File(usize, ARef<File>, usize),
}

/// Walks the VMAs of `mm` from the cursor, scanning each PMD range of the eligible ones.
/// Returns whether every VMA was visited (the mm is done for this pass).
///
/// A VMA is looked up and checked once for all its PMD ranges, as 7.3's walk does.
fn scan_vmas<'a>(
    cc: &mut CollapseControl,
    mm: &'a MmWithUser,
    guard: MmapReadGuard<'a>,
    cursor: &mut Cursor,
    progress_max: u32,
    result: &mut ScanResult,
) -> bool {
    let geo = cc.geometry();
    let mut guard = guard;
    loop {
        // The next range that qualifies for a collapse, and what its scan found; or the next
        // range of a file, which is scanned without the mmap lock.
        let found = 'found: loop {
            let Some(vma) = guard.find_vma(cursor.address) else {
                return true;
            };
            if must_stop(cc, mm) {
                return false;
            }
            let vend = vma.end();
            let orders = eligible::collapse_possible_orders(vma, vma.flags(), TvaType::Khugepaged);
            if orders == 0 {
                cc.tick(1);
                cursor.address = vend;
                continue;
            }
            let hstart = geo.align_up(vma.start());
            let hend = geo.align_down(vend);
            if cursor.address < hstart {
                cursor.address = hstart;
            }
            loop {
                let addr = geo.align_up(cursor.address);
                if !geo.holds(vma.start(), vend, addr) {
                    if cursor.address > hend {
                        cc.tick(1);
                    }
                    cursor.address = vend.max(cursor.address);
                    break;
                }
                if !vma.is_anonymous() {
                    if let Some(file) = vma.file() {
                        let pgoff = vma.linear_page_index(addr);
                        break 'found Found::File(addr, ARef::from(file), pgoff);
                    }
                    cursor.address = vend;
                    break;
                }
                let (r, stats) = scan::scan_pmd(cc, &guard, vma, orders, addr);
                if r == ScanResult::Succeed {
                    break 'found Found::Anon(addr, stats);
                }
                scan::trace(mm, &stats, r);
                *result = r;
                cursor.address = addr.saturating_add(geo.size);
                if cc.progress >= progress_max || must_stop(cc, mm) {
                    return false;
                }
            }
        };
        let (addr, r, back) = match found {
            Found::Anon(addr, stats) => {
                let (r, back) = single_pmd::collapse_scanned(cc, mm, guard, addr, &stats);
                scan::trace(mm, &stats, r);
                if r == ScanResult::Succeed {
                    hints::collapsed_by_scan();
                }
                (addr, r, back)
            }
            Found::File(addr, file, pgoff) => {
                drop(guard);
                let (r, back) = single_pmd::collapse_file_pmd(cc, mm, addr, file, pgoff);
                (addr, r, back)
            }
        };
        *result = r;
        cursor.address = addr.saturating_add(geo.size);
        match back {
            // Nothing was collapsed, and the lock is still held: go on.
            Some(g) if cc.progress < progress_max => guard = g,
            Some(_) => return false,
            // The mmap lock was dropped for a collapse: resume here next time.
            None => return false,
        }
    }
}

/// Allocates the daemon's state (`khugepaged_init()`).
pub(crate) fn init() -> Result {
    let daemon = Arc::pin_init(
        pin_init!(Daemon {
            thread <- new_mutex!(None, "Daemon::thread"),
            wake <- new_spinlock!(Wake { stop: false, kicked: false }, "Daemon::wake"),
            wait <- new_condvar!("Daemon::wait"),
            slots <- new_spinlock!(Slots::new(), "Daemon::slots"),
        }),
        GFP_KERNEL,
    )?;
    if !DAEMON.populate(daemon) {
        // `khugepaged_init()` runs once, from `hugepage_init()`.
        return Err(EBUSY);
    }
    hints::init()
}

/// Starts or stops the thread to match the THP modes, then updates `min_free_kbytes`
/// (`start_stop_khugepaged()`).
pub(crate) fn start_stop() -> Result {
    let Some(daemon) = DAEMON.as_ref() else {
        min_free::set_recommended();
        return Ok(());
    };
    let mut thread = daemon.thread.lock();
    if eligible::hugepage_enabled() {
        if thread.is_none() {
            daemon.wake.lock().stop = false;
            match Kthread::run(c"khugepaged") {
                Ok(t) => *thread = Some(t),
                Err(e) => {
                    pr_err!("khugepaged: kthread_run(khugepaged) failed\n");
                    return Err(e);
                }
            }
        }
    } else if let Some(t) = thread.take() {
        daemon.wake.lock().stop = true;
        daemon.wait.notify_all();
        t.stop();
    }
    min_free::set_recommended();
    Ok(())
}

/// Recomputes `min_free_kbytes` if the thread runs (`khugepaged_min_free_kbytes_update()`).
pub(crate) fn min_free_kbytes_update() {
    let Some(daemon) = DAEMON.as_ref() else {
        return;
    };
    let thread = daemon.thread.lock();
    if eligible::hugepage_enabled() && thread.is_some() {
        min_free::set_recommended();
    }
}

/// Ends the thread's current sleep, so that it sees changed settings at once.
pub(crate) fn kick() {
    if let Some(daemon) = DAEMON.as_ref() {
        daemon.wake.lock().kicked = true;
        daemon.wait.notify_all();
    }
}

/// Returns whether the current task is the khugepaged thread.
pub(crate) fn current_is_khugepaged() -> bool {
    kthread::current_runs::<Khugepaged>()
}

/// Registers `mm` for scanning (C: `__khugepaged_enter()`); called on the first eligible VMA
/// and on fork. Nothing happens if it is already registered or memory is short.
pub(crate) fn enter(mm: &Mm) {
    let Some(daemon) = DAEMON.as_ref() else {
        return;
    };
    // Allocate before the flag, as C does: a failed allocation leaves the mm unregistered,
    // and a later VMA tries again.
    let Ok(slot) = NewSlot::new(mm) else {
        return;
    };
    if mm.test_and_set_flag(MmFlag::VmHugepage) {
        return;
    }
    let (was_empty, old) = {
        let mut slots = daemon.slots.lock();
        let was_empty = slots.is_empty();
        (was_empty, slots.insert(slot))
    };
    // An exited mm at the same address was taken out by `exit()`; never expected here.
    drop(old);
    if was_empty {
        kick();
    }
}

/// Unregisters an exiting mm (C: `__khugepaged_exit()`). Runs from `__mmput()` once the last
/// user is gone, so no scan can be using the mm's page tables: scans hold a user reference.
pub(crate) fn exit(mm: &Mm) {
    let Some(daemon) = DAEMON.as_ref() else {
        return;
    };
    let slot = daemon.slots.lock().remove(mm);
    if slot.is_some() {
        mm.clear_flag(MmFlag::VmHugepage);
    }
    // After the flag: a hint added from now on is refused (see `hints::add()`).
    hints::remove_mm(mm);
    // The slot's `mmgrab()` reference, dropped outside the lock.
    drop(slot);
}
