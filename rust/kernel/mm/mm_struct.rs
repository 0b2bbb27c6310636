// SPDX-License-Identifier: GPL-2.0

//! What khugepaged asks of an `mm_struct`: its users, its `MMF_*` flags, and its MMU
//! notifiers.
//!
//! C headers: [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h),
//! [`include/linux/mmu_notifier.h`](srctree/include/linux/mmu_notifier.h).

use crate::{
    bindings,
    mm::{Mm, MmWithUser},
};

/// A flag of `mm_struct::flags` (the `MMF_*` bits) that khugepaged uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MmFlag {
    /// The mm is registered with khugepaged.
    VmHugepage = bindings::MMF_VM_HUGEPAGE,
    /// `PR_SET_THP_DISABLE` without exceptions: no THP anywhere in the mm.
    DisableThpCompletely = bindings::MMF_DISABLE_THP_COMPLETELY,
}

impl Mm {
    /// Whether the mm's last user is gone: it is exiting and its page tables are going away.
    pub fn users_gone(&self) -> bool {
        // SAFETY: `self` is a valid mm (it is at least grabbed).
        unsafe { bindings::mm_users(self.as_raw()) == 0 }
    }

    /// Whether `flag` is set.
    pub fn test_flag(&self, flag: MmFlag) -> bool {
        // CAST: The MMF_* bit numbers are small.
        // SAFETY: `self` is valid; the flags are read atomically.
        unsafe { bindings::mm_flags_test(flag as i32, self.as_raw()) }
    }

    /// Sets `flag`, returning whether it was already set (atomically).
    pub fn test_and_set_flag(&self, flag: MmFlag) -> bool {
        // SAFETY: As for `test_flag`.
        unsafe { bindings::mm_flags_test_and_set(flag as i32, self.as_raw()) }
    }

    /// Clears `flag`.
    pub fn clear_flag(&self, flag: MmFlag) {
        // SAFETY: As for `test_flag`.
        unsafe { bindings::mm_flags_clear(flag as i32, self.as_raw()) }
    }
}

impl MmWithUser {
    /// Whether an MMU notifier (KVM, say) saw the page at `addr` accessed since it last asked.
    #[inline]
    pub fn notifier_test_young(&self, addr: usize) -> bool {
        // SAFETY: `self` is a valid mm; any address is accepted.
        unsafe { bindings::mmu_notifier_test_young(self.as_raw(), addr) }
    }
}
