// SPDX-License-Identifier: GPL-2.0

//! Kernel threads.
//!
//! A [`Kthread`] owns a running kernel thread created with `kthread_create()`; stopping it
//! (explicitly or by dropping the handle) calls `kthread_stop()` and waits for the thread
//! function to return. The thread function is a [`ThreadFn`] type; while it runs, its
//! [`ThreadTask`] names the task running it, so that C code asking whether `current` is a
//! known thread, as `current_is_khugepaged()` does, can be answered with [`current_runs`].
//! (C compares `kthread_func(current)` with the function's address; Rust does not promise
//! that a generic function's instance has one address, nor that two have different ones.)
//!
//! C header: [`include/linux/kthread.h`](srctree/include/linux/kthread.h)

use crate::{
    bindings,
    error::{from_err_ptr, Result},
    ffi::{c_int, c_void},
    str::{CStr, CStrExt},
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
    task::Task,
};
use core::{marker::PhantomData, mem::ManuallyDrop, ptr::NonNull};

/// The body of a kernel thread.
pub trait ThreadFn {
    /// The task running this body, while it runs: one static per body.
    const TASK: &'static ThreadTask;

    /// Runs in the new thread; the thread exits when this returns.
    ///
    /// It should return once [`should_stop`] is true, which [`Kthread::stop`] arranges.
    fn run() -> i32;
}

/// Which task runs a [`ThreadFn`]'s body: set by the thread itself as the body starts,
/// cleared as it returns, so that it never names a task that may have been freed.
pub struct ThreadTask(Atomic<usize>);

impl ThreadTask {
    /// No task.
    pub const fn new() -> Self {
        Self(Atomic::new(0))
    }

    /// Whether `current` is the task running the body.
    pub fn is_current(&self) -> bool {
        // CAST: The address is compared, never turned back into a pointer.
        self.0.load(Relaxed) == Task::current_raw() as usize
    }
}

impl Default for ThreadTask {
    fn default() -> Self {
        Self::new()
    }
}

/// The C entry point of every thread running `T`.
///
/// # Safety
///
/// Only `kthread_create_on_node()` calls this, as a thread function.
unsafe extern "C" fn thread_entry<T: ThreadFn>(_data: *mut c_void) -> c_int {
    // Only this thread writes its own address, so a relaxed store is seen by its own reads;
    // any other task compares its own, different address.
    // CAST: As in `ThreadTask::is_current()`.
    T::TASK.0.store(Task::current_raw() as usize, Relaxed);
    let ret = T::run();
    T::TASK.0.store(0, Relaxed);
    ret
}

/// A running kernel thread whose body is `T`.
///
/// # Invariants
///
/// `task` is a kernel thread created by `kthread_create_on_node()` with [`thread_entry::<T>`],
/// already woken up, on which `kthread_stop()` has not been called yet.
pub struct Kthread<T: ThreadFn> {
    task: ARef<Task>,
    _p: PhantomData<T>,
}

impl<T: ThreadFn> Kthread<T> {
    /// Creates a kernel thread named `name` running `T::run()` and wakes it up.
    pub fn run(name: &CStr) -> Result<Self> {
        // SAFETY: `thread_entry::<T>` has the signature C expects and ignores its argument;
        // the name is passed through a "%s" format, so it is never interpreted.
        let ptr = from_err_ptr(unsafe {
            bindings::kthread_create_on_node(
                Some(thread_entry::<T>),
                core::ptr::null_mut(),
                bindings::NUMA_NO_NODE,
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            )
        })?;
        // SAFETY: `kthread_create_on_node()` returned a valid task; we take our own reference
        // before waking it, so the task stays valid however soon the thread function returns.
        let task = unsafe {
            bindings::get_task_struct(ptr);
            ARef::from_raw(NonNull::new_unchecked(ptr.cast::<Task>()))
        };
        // SAFETY: `ptr` is a valid, newly created task that nobody has woken yet.
        unsafe { bindings::wake_up_process(ptr) };
        // INVARIANT: Created with `thread_entry::<T>`, woken, not stopped.
        Ok(Self {
            task,
            _p: PhantomData,
        })
    }

    /// Asks the thread to stop, wakes it and waits until `T::run()` has returned its value.
    pub fn stop(self) -> i32 {
        let this = ManuallyDrop::new(self);
        // SAFETY: By the type invariants, `task` is a kernel thread not stopped yet; `this`
        // is never used again, so `kthread_stop()` runs once.
        let ret = unsafe { bindings::kthread_stop(this.task.as_ptr()) };
        // SAFETY: `this.task` is read once and never used after `ManuallyDrop` forgot it.
        drop(unsafe { core::ptr::read(&this.task) });
        ret
    }
}

impl<T: ThreadFn> Drop for Kthread<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `task` is a kernel thread not stopped yet, and
        // `drop` runs at most once.
        unsafe { bindings::kthread_stop(self.task.as_ptr()) };
    }
}

/// Returns whether the current kernel thread has been asked to stop.
pub fn should_stop() -> bool {
    // SAFETY: Always safe to call; it is false outside kernel threads.
    unsafe { bindings::kthread_should_stop() }
}

/// Returns whether the current task is a kernel thread running `T`.
pub fn current_runs<T: ThreadFn>() -> bool {
    T::TASK.is_current()
}

/// Lets the freezer freeze the current kernel thread (`set_freezable()`).
pub fn set_freezable() {
    // SAFETY: Always safe to call from a kernel thread; it only sets flags of `current`.
    unsafe { bindings::set_freezable() };
}

/// Sets the nice value of the current task (`set_user_nice()`), clamped to `-20..=19`.
pub fn set_current_nice(nice: i32) {
    // MIN_NICE and MAX_NICE of `include/linux/sched/prio.h`.
    let nice = nice.clamp(-20, 19);
    // SAFETY: `current` is a valid task.
    // CAST: Lossless, `nice` is within -20..=19.
    unsafe { bindings::set_user_nice(Task::current_raw(), nice as isize) };
}

/// Enters the refrigerator if the system is freezing (C's `try_to_freeze()`): a freezable
/// thread that sleeps in a non-freezable wait calls it after each wakeup. Returns whether the
/// thread was frozen.
pub fn try_to_freeze() -> bool {
    // SAFETY: Always allowed for the current task in sleepable context.
    unsafe { bindings::try_to_freeze() }
}

/// Gives the CPU to another task if one should run (C's `cond_resched()`): long loops in
/// kernel threads call it between steps.
pub fn cond_resched() {
    // SAFETY: Always allowed in sleepable context.
    unsafe { bindings::cond_resched() }
}
