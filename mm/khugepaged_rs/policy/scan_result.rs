// SPDX-License-Identifier: GPL-2.0

//! The outcome of a scan or collapse step (C's `enum scan_result`).
//!
//! The numeric values are ABI: the `huge_memory` tracepoints record them and print them by
//! name through `include/trace/events/huge_memory.h`. They mirror
//! `mm/khugepaged_rs/scan_result.h`, which the tracepoints are built with.

/// The outcome of a scan or collapse step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ScanResult {
    /// `failed`.
    Fail = 0,
    /// `succeeded`.
    Succeed = 1,
    /// `no_pte_table`.
    NoPteTable = 2,
    /// `page_pmd_mapped`.
    PmdMapped = 3,
    /// `exceed_none_pte`.
    ExceedNonePte = 4,
    /// `exceed_swap_pte`.
    ExceedSwapPte = 5,
    /// `exceed_shared_pte`.
    ExceedSharedPte = 6,
    /// `pte_non_present`.
    PteNonPresent = 7,
    /// `pte_uffd_wp`.
    PteUffd = 8,
    /// `pte_mapped_hugepage`.
    PteMappedHugepage = 9,
    /// `lack_referenced_page`.
    LackReferencedPage = 10,
    /// `page_null`.
    PageNull = 11,
    /// `scan_aborted`.
    ScanAbort = 12,
    /// `not_suitable_page_count`.
    PageCount = 13,
    /// `page_not_in_lru`.
    PageLru = 14,
    /// `page_locked`.
    PageLock = 15,
    /// `page_not_anon`.
    PageAnon = 16,
    /// `page_lazyfree`.
    PageLazyfree = 17,
    /// `page_compound`.
    PageCompound = 18,
    /// `no_process_for_page`.
    AnyProcess = 19,
    /// `vma_null`.
    VmaNull = 20,
    /// `vma_check_failed`.
    VmaCheck = 21,
    /// `not_suitable_address_range`.
    AddressRange = 22,
    /// `could_not_delete_page_from_lru`.
    DelPageLru = 23,
    /// `alloc_huge_page_failed`.
    AllocHugePageFail = 24,
    /// `ccgroup_charge_failed`.
    CgroupChargeFail = 25,
    /// `truncated`.
    Truncated = 26,
    /// `page_has_private`.
    PageHasPrivate = 27,
    /// `store_failed`.
    StoreFailed = 28,
    /// `copy_poisoned_page`.
    CopyMc = 29,
    /// `page_filled`.
    PageFilled = 30,
    /// `page_dirty_or_writeback`.
    PageDirtyOrWriteback = 31,
    /// `mmap_lock_busy` (khugepaged-rs): khugepaged would have had to wait for the mmap write
    /// lock, and left the range for a later pass instead.
    MmapLockBusy = 32,
}
