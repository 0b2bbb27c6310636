// SPDX-License-Identifier: GPL-2.0

//! khugepaged-rs: khugepaged in Rust, built in place of `mm/khugepaged.c` when
//! `CONFIG_KHUGEPAGED_RS=y`.
//!
//! This file holds only what C links against: the `include/linux/khugepaged.h` API, the
//! madvise hooks declared in `include/linux/huge_mm.h`, `set_recommended_min_free_kbytes()`
//! from `mm/internal.h`, and the two data symbols C reads directly. Each entry point turns its
//! raw pointers into safe handles and calls one function of a module:
//!
//! - [`daemon`]: the kernel thread, started and stopped with the THP modes;
//! - [`settings`] and [`sysfs`]: the `khugepaged/` knobs;
//! - [`madvise`]: `MADV_[NO]HUGEPAGE` and `MADV_COLLAPSE`;
//! - [`min_free`]: the `min_free_kbytes` THP asks for;
//! - [`policy`]: the pure policy core, also built and tested on the host.
//!
//! Not yet here: mm registration, scanning and collapse. Until they land the thread only
//! sleeps and `MADV_COLLAPSE` fails with `EINVAL` wherever a collapse would be needed.

use kernel::{
    bindings,
    ffi::{c_int, c_ulong},
    mm::virt::{vm_flags_t, VmaRef},
    sync::atomic::Atomic,
    sysfs::AttributeGroup,
};

mod daemon;
mod madvise;
mod min_free;
pub mod policy;
mod settings;
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

/// Registers `mm` with khugepaged. Nothing is scanned yet, so nothing is registered.
#[no_mangle]
pub extern "C" fn __khugepaged_enter(_mm: *mut bindings::mm_struct) {}

/// Registers the VMA's mm if THP could collapse in it. Nothing is scanned yet.
#[no_mangle]
pub extern "C" fn khugepaged_enter_vma(_vma: *mut bindings::vm_area_struct, _flags: vm_flags_t) {}

/// Unregisters an exiting mm; none is ever registered yet.
#[no_mangle]
pub extern "C" fn __khugepaged_exit(_mm: *mut bindings::mm_struct) {}

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

/// Tries to map a PTE-mapped THP at `addr` by a PMD. This is an optimisation callers cannot
/// rely on (uprobes); without collapse support it does nothing.
#[no_mangle]
pub extern "C" fn collapse_pte_mapped_thp(
    _mm: *mut bindings::mm_struct,
    _addr: c_ulong,
    _install_pmd: bool,
) {
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
#[no_mangle]
pub unsafe extern "C" fn madvise_collapse(
    vma: *mut bindings::vm_area_struct,
    start: c_ulong,
    end: c_ulong,
    _lock_dropped: *mut bool,
) -> c_int {
    // SAFETY: The caller holds the mmap read lock on a valid VMA.
    let vma = unsafe { VmaRef::from_raw(vma) };
    // CAST: `unsigned long` and `usize` are the same width on every Linux architecture.
    match madvise::madvise_collapse(vma, start as usize, end as usize) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
