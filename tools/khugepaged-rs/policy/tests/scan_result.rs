// SPDX-License-Identifier: GPL-2.0

//! The Rust `ScanResult` against the C enum the tracepoints are built with
//! (`mm/khugepaged_rs/scan_result.h`), and `MADV_COLLAPSE`'s errno mapping.

use khugepaged_policy::madvise::{collapse_errno, CollapseErrno};
use khugepaged_policy::scan_result::ScanResult;

/// The enumerators of `enum scan_result`, in declaration order (so by value).
fn c_enumerators() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../mm/khugepaged_rs/scan_result.h"
    );
    let text = std::fs::read_to_string(path).expect("scan_result.h");
    let body = text
        .split("enum scan_result {")
        .nth(1)
        .expect("enum")
        .split('}')
        .next()
        .unwrap();
    body.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `SCAN_PAGE_DIRTY_OR_WRITEBACK` -> `PageDirtyOrWriteback`.
fn rust_name(c: &str) -> String {
    c.strip_prefix("SCAN_")
        .unwrap()
        .split('_')
        .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
        .collect()
}

const ALL: [ScanResult; 33] = {
    use ScanResult::*;
    [
        Fail,
        Succeed,
        NoPteTable,
        PmdMapped,
        ExceedNonePte,
        ExceedSwapPte,
        ExceedSharedPte,
        PteNonPresent,
        PteUffd,
        PteMappedHugepage,
        LackReferencedPage,
        PageNull,
        ScanAbort,
        PageCount,
        PageLru,
        PageLock,
        PageAnon,
        PageLazyfree,
        PageCompound,
        AnyProcess,
        VmaNull,
        VmaCheck,
        AddressRange,
        DelPageLru,
        AllocHugePageFail,
        CgroupChargeFail,
        Truncated,
        PageHasPrivate,
        StoreFailed,
        CopyMc,
        PageFilled,
        PageDirtyOrWriteback,
        MmapLockBusy,
    ]
};

#[test]
fn values_match_c() {
    let c = c_enumerators();
    assert_eq!(
        c.len(),
        ALL.len(),
        "C has {} results, Rust {}",
        c.len(),
        ALL.len()
    );
    for (i, (name, r)) in c.iter().zip(ALL).enumerate() {
        assert_eq!(r as usize, i, "{name}");
        assert_eq!(rust_name(name), format!("{r:?}"), "value {i}");
    }
}

#[test]
fn collapse_errnos() {
    use ScanResult::*;
    for r in ALL {
        let want = match r {
            AllocHugePageFail => CollapseErrno::NoMem,
            CgroupChargeFail | ExceedNonePte => CollapseErrno::Busy,
            PageCount | PageLock | PageLru | DelPageLru | PageFilled | PageHasPrivate
            | PageDirtyOrWriteback | MmapLockBusy => CollapseErrno::Again,
            _ => CollapseErrno::Inval,
        };
        assert_eq!(collapse_errno(r), want, "{r:?}");
    }
}
