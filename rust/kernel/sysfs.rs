// SPDX-License-Identifier: GPL-2.0

//! Sysfs attributes of kobjects.
//!
//! Static `struct kobj_attribute`s and `struct attribute_group`s, built at compile time so that
//! C code can register a group before any Rust initialisation has run (as `hugepage_init()`
//! does with `khugepaged_attr_group`). Each attribute is a type implementing
//! [`KobjAttributeOps`]; reads format into a [`ShowBuffer`], writes receive the bytes user
//! space wrote and answer with a [`Result`], so a rejected value is an error code and no
//! state change.
//!
//! C headers: [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h),
//! [`include/linux/kobject.h`](srctree/include/linux/kobject.h)

use crate::{
    bindings,
    error::{Result, VTABLE_DEFAULT_ERROR},
    ffi::c_char,
    page::PAGE_SIZE,
    prelude::*,
    str::CStr,
    types::Opaque,
};
use core::{fmt, marker::PhantomData};

/// The buffer a sysfs `show` callback fills: one page, like `sysfs_emit()`'s.
///
/// Output beyond the page is dropped, as `sysfs_emit()` drops it.
pub struct ShowBuffer<'a> {
    buf: &'a mut [u8; PAGE_SIZE],
    len: usize,
}

impl ShowBuffer<'_> {
    /// Returns the number of bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Write for ShowBuffer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep the last byte for the NUL that sysfs expects after the text.
        let room = PAGE_SIZE - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Operations of one sysfs attribute.
///
/// An attribute without `store` is read-only (mode 0444); with it, 0644.
#[vtable]
pub trait KobjAttributeOps {
    /// Formats the attribute's value into `buf`.
    fn show(buf: &mut ShowBuffer<'_>) -> Result;

    /// Parses and applies a value written by user space.
    ///
    /// On error nothing may have changed.
    fn store(_input: &[u8]) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A static `struct kobj_attribute` whose operations are `T`.
///
/// # Invariants
///
/// The wrapped `kobj_attribute` has `show` set to [`Self::show_callback`], and `store` set to
/// [`Self::store_callback`] exactly when `T` implements `store`.
#[repr(transparent)]
pub struct KobjAttribute<T: KobjAttributeOps>(Opaque<bindings::kobj_attribute>, PhantomData<T>);

// SAFETY: The attribute is immutable once built; the kernel only reads it.
unsafe impl<T: KobjAttributeOps> Sync for KobjAttribute<T> {}

impl<T: KobjAttributeOps> KobjAttribute<T> {
    /// Builds the attribute for a file called `name`.
    pub const fn new(name: &'static CStr) -> Self {
        // SAFETY: All-zero is a valid `kobj_attribute`: null pointers, `None` callbacks and
        // zeroed lockdep keys, as `__ATTR()` leaves them.
        let mut attr: bindings::kobj_attribute = unsafe { core::mem::zeroed() };
        attr.attr.name = crate::str::as_char_ptr_in_const_context(name);
        attr.attr.mode = if T::HAS_STORE { 0o644 } else { 0o444 };
        attr.__bindgen_anon_1.show = Some(Self::show_callback);
        attr.__bindgen_anon_2.store = if T::HAS_STORE {
            Some(Self::store_callback)
        } else {
            None
        };
        // INVARIANT: `show` and `store` are set as the invariants require.
        Self(Opaque::new(attr), PhantomData)
    }

    /// Returns the `struct attribute` to list in an [`AttributeList`].
    pub const fn as_attribute(&'static self) -> Attribute {
        // INVARIANT: `attr` is the first member of `struct kobj_attribute`, which is static
        // and built by `new()`.
        Attribute(self.0.get().cast())
    }

    /// # Safety
    ///
    /// Only sysfs calls this, with `buf` pointing to a writable page.
    unsafe extern "C" fn show_callback(
        _kobj: *mut bindings::kobject,
        _attr: *mut bindings::kobj_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: The caller promises that `buf` is a writable page, used only by us now.
        let page = unsafe { &mut *buf.cast::<[u8; PAGE_SIZE]>() };
        let mut out = ShowBuffer { buf: page, len: 0 };
        match T::show(&mut out) {
            // CAST: `len` is below `PAGE_SIZE`, which fits an `isize`.
            Ok(()) => out.len as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Only sysfs calls this, with `buf` pointing to `count` readable bytes.
    unsafe extern "C" fn store_callback(
        _kobj: *mut bindings::kobject,
        _attr: *mut bindings::kobj_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: The caller promises that `buf` holds `count` readable bytes.
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        match T::store(input) {
            // CAST: sysfs never passes more than a page.
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}

/// The `struct attribute` of a static [`KobjAttribute`], as sysfs lists it.
///
/// # Invariants
///
/// Points to the `struct attribute` of a [`KobjAttribute`] that lives forever.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Attribute(*mut bindings::attribute);

/// A NULL-terminated array of `N` attributes, for an [`AttributeGroup`].
///
/// # Invariants
///
/// `attrs` holds `N` [`Attribute`]s (never NULL) and `end` is NULL, laid out as the array
/// `struct attribute_group::attrs` points to.
#[repr(C)]
pub struct AttributeList<const N: usize> {
    attrs: [Attribute; N],
    end: *mut bindings::attribute,
}

// SAFETY: The list is immutable once built; the kernel only reads it.
unsafe impl<const N: usize> Sync for AttributeList<N> {}

impl<const N: usize> AttributeList<N> {
    /// Builds the list from [`KobjAttribute::as_attribute`]s.
    pub const fn new(attrs: [Attribute; N]) -> Self {
        // INVARIANT: `Attribute` is a transparent non-NULL attribute pointer, and `repr(C)`
        // puts `end` right after the array.
        Self {
            attrs,
            end: core::ptr::null_mut(),
        }
    }
}

/// A static `struct attribute_group`: a directory of attributes.
#[repr(transparent)]
pub struct AttributeGroup(Opaque<bindings::attribute_group>);

// SAFETY: The group is immutable once built; the kernel only reads it.
unsafe impl Sync for AttributeGroup {}

impl AttributeGroup {
    /// Builds a group of `attrs` in a subdirectory called `name`.
    pub const fn new<const N: usize>(
        name: &'static CStr,
        attrs: &'static AttributeList<N>,
    ) -> Self {
        // SAFETY: All-zero is a valid `attribute_group`: no callbacks, no binary attributes.
        let mut group: bindings::attribute_group = unsafe { core::mem::zeroed() };
        group.name = crate::str::as_char_ptr_in_const_context(name);
        // `AttributeList` is `repr(C)`: its first member is the NULL-terminated array.
        group.__bindgen_anon_2.attrs = core::ptr::from_ref(attrs).cast_mut().cast();
        Self(Opaque::new(group))
    }
}
