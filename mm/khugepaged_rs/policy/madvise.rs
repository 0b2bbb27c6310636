// SPDX-License-Identifier: GPL-2.0

//! `MADV_COLLAPSE`'s error codes.
//!
//! `MADV_COLLAPSE` departs from madvise(2) conventions to tell the caller what to do next:
//! `ENOMEM` (no huge page), `EBUSY` (memcg charge or too many empty PTEs), `EAGAIN` (a
//! transient page state: trying again may work) or `EINVAL` (the range itself is the
//! problem: khugepaged would fail too).

use super::scan_result::ScanResult;

/// An `MADV_COLLAPSE` error, as a positive errno value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollapseErrno {
    /// `ENOMEM`.
    NoMem,
    /// `EBUSY`.
    Busy,
    /// `EAGAIN`.
    Again,
    /// `EINVAL`.
    Inval,
}

/// Maps the last failure of an `MADV_COLLAPSE` range to its error (7.3's
/// `madvise_collapse_errno()`).
pub fn collapse_errno(last_fail: ScanResult) -> CollapseErrno {
    use ScanResult::*;
    match last_fail {
        AllocHugePageFail => CollapseErrno::NoMem,
        CgroupChargeFail | ExceedNonePte => CollapseErrno::Busy,
        PageCount | PageLock | PageLru | DelPageLru | PageFilled | PageHasPrivate
        | PageDirtyOrWriteback | MmapLockBusy => CollapseErrno::Again,
        _ => CollapseErrno::Inval,
    }
}
