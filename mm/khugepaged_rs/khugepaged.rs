// SPDX-License-Identifier: GPL-2.0

//! khugepaged-rs: khugepaged in Rust, built in place of `mm/khugepaged.c` when
//! `CONFIG_KHUGEPAGED_RS=y`.
//!
//! This file holds only what C links against: the `include/linux/khugepaged.h` API, the
//! madvise hooks declared in `include/linux/huge_mm.h`, `set_recommended_min_free_kbytes()`
//! from `mm/internal.h`, and the two data symbols C reads directly. Each entry point turns its
//! raw pointers into safe handles and calls one function of a module:
//!
//! - [`daemon`]: the kernel thread, started and stopped with the THP modes, and the mms it
//!   scans;
//! - [`collapse`]: scanning a PMD range of anonymous memory and collapsing it;
//! - [`file_collapse`] and [`pte_mapped_thp`]: the same for a file's or shmem's page cache;
//! - [`hints`]: the collapse hints, served before the walk;
//! - [`settings`] and [`sysfs`]: the `khugepaged/` knobs;
//! - [`madvise`]: `MADV_[NO]HUGEPAGE` and `MADV_COLLAPSE`;
//! - [`min_free`]: the `min_free_kbytes` THP asks for;
//! - [`policy`]: the pure policy core, also built and tested on the host.
//!
//! Anonymous memory is collapsed to PMD size and to the mTHP sizes; file and shmem memory to
//! PMD size, in the page cache ([`file_collapse`]).

use kernel::{
    bindings,
    ffi::{c_int, c_uint, c_ulong},
    mm::{
        mm_struct::MmFlag,
        thp::{RmapVma, TvaType},
        virt::{vm_flags_t, VmaRef},
        Mm, MmWithUser,
    },
    sync::atomic::Atomic,
    sysfs::AttributeGroup,
};

mod collapse;
mod control;
mod daemon;
mod eligible;
mod file_collapse;
mod hints;
mod madvise;
mod min_free;
mod mthp;
pub mod policy;
mod pte_mapped_thp;
mod scan;
mod settings;
mod single_pmd;
mod slots;
mod sysfs;

const __LOG_PREFIX: &[u8] = b"khugepaged\0";

/// The owner `#[vtable]` implementations name. Built-in code has no `struct module`.
struct LocalModule;

impl kernel::ModuleMetadata for LocalModule {
    const NAME: &'static kernel::str::CStr = c"khugepaged";
    // SAFETY: A NULL module is what `THIS_MODULE` is for built-in C code too.
    const THIS_MODULE: kernel::ThisModule =
        unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
}

/// `max_ptes_none`: read by the THP shrinker in `mm/huge_memory.c` as an `unsigned int`.
#[no_mangle]
pub static khugepaged_max_ptes_none: Atomic<u32> = Atomic::new(0);

/// `/sys/kernel/mm/transparent_hugepage/khugepaged/`, registered by `hugepage_init()` before
/// [`khugepaged_init`] runs, hence static.
#[no_mangle]
pub static khugepaged_attr_group: AttributeGroup =
    AttributeGroup::new(c"khugepaged", &sysfs::ATTRS);

/// Sets the knobs' defaults and allocates the daemon; called once by `hugepage_init()`.
#[no_mangle]
pub extern "C" fn khugepaged_init() -> c_int {
    settings::init_defaults();
    match daemon::init() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Undoes [`khugepaged_init`] when `hugepage_init()` fails later on. The daemon's state is a
/// few dozen bytes with no thread yet, so it is kept.
#[no_mangle]
pub extern "C" fn khugepaged_destroy() {}

/// Starts or stops the khugepaged thread to match the THP modes.
#[no_mangle]
pub extern "C" fn start_stop_khugepaged() -> c_int {
    match daemon::start_stop() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Registers `mm` with khugepaged.
///
/// # Safety
///
/// `mm` is a valid mm that is not exiting (the callers, fork and VMA set-up, hold a user).
#[no_mangle]
pub unsafe extern "C" fn __khugepaged_enter(mm: *mut bindings::mm_struct) {
    // SAFETY: Valid for the call, by the caller's guarantee.
    let mm = unsafe { Mm::from_raw(mm) };
    daemon::enter(mm);
}

/// Registers the VMA's mm if khugepaged could collapse in it with the flags `vm_flags`.
///
/// # Safety
///
/// `vma` is valid and its mm's mmap lock or the VMA's lock is held.
#[no_mangle]
pub unsafe extern "C" fn khugepaged_enter_vma(
    vma: *mut bindings::vm_area_struct,
    vm_flags: vm_flags_t,
) {
    // SAFETY: The caller holds a lock that keeps the VMA valid.
    let vma = unsafe { VmaRef::from_raw(vma) };
    let mm: &Mm = vma.mm();
    if !mm.test_flag(MmFlag::VmHugepage)
        && eligible::hugepage_enabled()
        && eligible::collapse_possible(vma, vm_flags, TvaType::Khugepaged)
    {
        daemon::enter(mm);
    }
}

/// Unregisters an exiting mm.
///
/// # Safety
///
/// `mm` is valid; `__mmput()` calls this once its last user is gone.
#[no_mangle]
pub unsafe extern "C" fn __khugepaged_exit(mm: *mut bindings::mm_struct) {
    // SAFETY: Valid for the call, by the caller's guarantee.
    let mm = unsafe { Mm::from_raw(mm) };
    daemon::exit(mm);
}

/// Asks khugepaged to look at the PMD range holding `address` in `mm` soon, at `priority`
/// (0 highest, 3 lowest; larger values mean 3). Returns whether the hint was queued: hints
/// are on, `mm` is registered with khugepaged, and the queue had room. Never allocates,
/// sleeps or takes the mmap lock.
///
/// # Safety
///
/// `mm` is valid for the call.
#[no_mangle]
pub unsafe extern "C" fn khugepaged_add_collapse_hint(
    mm: *mut bindings::mm_struct,
    address: c_ulong,
    priority: c_uint,
) -> bool {
    // SAFETY: Valid for the call, by the caller's guarantee.
    let mm = unsafe { Mm::from_raw(mm) };
    let prio = u8::try_from(priority).unwrap_or(u8::MAX);
    hints::add(mm, address, prio, hints::Source::Other)
}

/// The MGLRU feeder behind `khugepaged_add_young_hint()`: an access-bit scan of `vma` in
/// generation `seq` found `young` of `scanned` PTEs around `address` young, the smallest of
/// their folios of order `min_order`.
///
/// # Safety
///
/// `vma` is valid and cannot be freed during the call: the caller holds its mmap read lock
/// (MGLRU's walk) or its rmap lock with the page-table lock (the look-around).
#[no_mangle]
pub unsafe extern "C" fn __khugepaged_add_young_hint(
    vma: *mut bindings::vm_area_struct,
    address: c_ulong,
    young: c_uint,
    scanned: c_uint,
    min_order: c_uint,
    seq: c_ulong,
    source: c_uint,
) -> bool {
    // SAFETY: The VMA stays valid for the call, under the mmap read lock or the rmap lock
    // (see above), which is what `RmapVma` asks; a VMA changing meanwhile only makes the
    // hint stale, and a hint is re-checked under the mmap lock when served.
    let vma = unsafe { RmapVma::from_raw(vma) };
    let source = hints::Source::from_raw(source);
    hints::add_young(vma, address, young, scanned, min_order, seq, source)
}

/// Recomputes `min_free_kbytes` after memory changed, if khugepaged runs.
#[no_mangle]
pub extern "C" fn khugepaged_min_free_kbytes_update() {
    daemon::min_free_kbytes_update();
}

/// Returns whether `current` is the khugepaged thread.
#[no_mangle]
pub extern "C" fn current_is_khugepaged() -> bool {
    daemon::current_is_khugepaged()
}

/// Removes the page table under the PMD range at `addr` if it only maps parts of the range's
/// PMD-sized page-cache folio, so that the folio is mapped by the PMD: now if `install_pmd`,
/// else by the next fault. An optimisation callers cannot rely on (uprobes).
///
/// # Safety
///
/// `mm` is valid, with a user reference, and its mmap lock is held (uprobes holds it for
/// writing, which also excludes other readers).
#[no_mangle]
pub unsafe extern "C" fn collapse_pte_mapped_thp(
    mm: *mut bindings::mm_struct,
    addr: c_ulong,
    install_pmd: bool,
) {
    // SAFETY: Valid, with a user, by the caller's guarantee.
    let mm: &MmWithUser = unsafe { MmWithUser::from_raw(mm) };
    // SAFETY: The caller holds the mmap lock for the call; the guard is never released.
    let guard = unsafe { mm.adopt_mmap_read_lock() };
    pte_mapped_thp::try_collapse_pte_mapped_thp(&guard, addr, install_pmd);
    // The lock stays the caller's.
    core::mem::forget(guard);
}

/// Sets `min_free_kbytes` for THP (called when a THP mode changes).
#[no_mangle]
pub extern "C" fn set_recommended_min_free_kbytes() {
    min_free::set_recommended();
}

/// Applies `MADV_HUGEPAGE` or `MADV_NOHUGEPAGE` to `*vm_flags`.
///
/// # Safety
///
/// `vm_flags` points to a valid `vm_flags_t` that the caller lets us update.
#[no_mangle]
pub unsafe extern "C" fn hugepage_madvise(
    _vma: *mut bindings::vm_area_struct,
    vm_flags: *mut vm_flags_t,
    advice: c_int,
) -> c_int {
    // SAFETY: The caller promises `vm_flags` is valid for reads and writes.
    let flags = unsafe { &mut *vm_flags };
    *flags = madvise::hugepage_madvise(*flags, advice);
    0
}

/// `MADV_COLLAPSE` of `start..end`, which lies inside `vma`.
///
/// # Safety
///
/// `vma` is valid and its mm's mmap lock is held for reading, as `madvise_vma_behavior()`
/// guarantees; `start..end` lies within it.
///
/// The mmap lock may be dropped and retaken on the way; `*lock_dropped` is then set. It is
/// held again on return.
#[no_mangle]
pub unsafe extern "C" fn madvise_collapse(
    vma: *mut bindings::vm_area_struct,
    start: c_ulong,
    end: c_ulong,
    lock_dropped: *mut bool,
) -> c_int {
    // SAFETY: The VMA is valid under the caller's mmap read lock, so is its mm, and the
    // madvise caller holds a user reference to the mm for the whole call (current's own mm,
    // or `process_madvise()`'s `mmget`), which outlives any lock drop here.
    let mm: &MmWithUser = unsafe { MmWithUser::from_raw((*vma).vm_mm) };
    // SAFETY: The caller holds the read lock and lets us drop and retake it.
    let guard = unsafe { mm.adopt_mmap_read_lock() };
    let mut dropped = false;
    let (result, guard) = madvise::madvise_collapse(mm, guard, start, end, &mut dropped);
    // The lock goes back to the caller, held.
    core::mem::forget(guard);
    if dropped {
        // SAFETY: The caller passes a valid flag to report this.
        unsafe { *lock_dropped = true };
    }
    match result {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
