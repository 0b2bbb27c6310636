// SPDX-License-Identifier: GPL-2.0

//! The khugepaged kernel thread (C: `khugepaged()`, `start_stop_khugepaged()`,
//! `khugepaged_wait_work()` and `khugepaged_mutex`).
//!
//! The thread runs while any THP mode could use it: global `enabled`, any anonymous size, or
//! PMD-sized shmem. It is created and stopped under [`Daemon::thread`], which also serialises
//! the `min_free_kbytes` updates, as `khugepaged_mutex` does in C.
//!
//! This version has no mm to scan yet: the thread sleeps, freezable, until it is stopped or
//! kicked by a knob change.
//!
//! Lock order: `Daemon::thread`, then `Daemon::wake`.

use crate::min_free;
use kernel::{
    kthread::{self, Kthread, ThreadFn},
    mm::thp,
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, CondVar, Mutex, SetOnce, SpinLock},
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
}

/// Set once by [`init`]; the THP code calls into this file only after that, except for
/// [`min_free_kbytes_update`], which runs at boot before it and finds no thread.
static DAEMON: SetOnce<Arc<Daemon>> = SetOnce::new();

/// The thread body; its entry function is what `current_is_khugepaged()` recognises.
pub(crate) struct Khugepaged;

impl ThreadFn for Khugepaged {
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
        let mut wake = self.wake.lock();
        loop {
            if wake.stop {
                return;
            }
            if wake.kicked {
                // Nothing to scan yet: a kick only ends the current sleep.
                wake.kicked = false;
            }
            // A pending signal cannot reach a kernel thread; the loop re-checks anyway.
            let _ = self.wait.wait_interruptible_freezable(&mut wake);
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
        }),
        GFP_KERNEL,
    )?;
    if !DAEMON.populate(daemon) {
        // `khugepaged_init()` runs once, from `hugepage_init()`.
        return Err(EBUSY);
    }
    Ok(())
}

/// Returns whether any THP mode could use khugepaged (C: `hugepage_enabled()`).
pub(crate) fn hugepage_enabled() -> bool {
    if thp::global_enabled() {
        return true;
    }
    let anon = thp::anon_orders();
    if anon.always != 0 || anon.madvise != 0 {
        return true;
    }
    // `inherit` sizes follow the global mode, which is off here.
    thp::shmem_pmd_enabled()
}

/// Starts or stops the thread to match the THP modes, then updates `min_free_kbytes`
/// (`start_stop_khugepaged()`).
pub(crate) fn start_stop() -> Result {
    let Some(daemon) = DAEMON.as_ref() else {
        min_free::set_recommended();
        return Ok(());
    };
    let mut thread = daemon.thread.lock();
    if hugepage_enabled() {
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
    if hugepage_enabled() && thread.is_some() {
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
