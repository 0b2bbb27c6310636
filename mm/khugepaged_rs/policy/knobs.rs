// SPDX-License-Identifier: GPL-2.0

//! The `/sys/kernel/mm/transparent_hugepage/khugepaged/` knobs: names, defaults, ranges and
//! parsing, exactly as 7.3's `mm/khugepaged.c` defines them.
//!
//! Every value depends on `HPAGE_PMD_NR` (the PTEs in one PMD), which is a runtime value on
//! some architectures, so it is always a parameter.

/// Why a written value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a decimal number, or out of the knob's range (C: `-EINVAL`).
    Invalid,
    /// A number too large for the C parser's type (C: `-ERANGE`).
    Overflow,
}

/// Parses `input` as the kernel's `kstrtoull(s, 10, ...)` does.
///
/// Accepted: an optional `+`, one or more decimal digits, then at most one `\n`. Parsing
/// stops at the first NUL, as it does for the NUL-terminated string C sees.
pub fn parse_u64(input: &[u8]) -> Result<u64, ParseError> {
    let end = input.iter().position(|&b| b == 0).unwrap_or(input.len());
    let mut s = &input[..end];
    if let [b'+', rest @ ..] = s {
        s = rest;
    }
    if let [rest @ .., b'\n'] = s {
        s = rest;
    }
    if s.is_empty() {
        return Err(ParseError::Invalid);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(ParseError::Invalid);
        }
        // Like C, keep reading digits after an overflow: a later bad byte is still -EINVAL.
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow {
        Err(ParseError::Overflow)
    } else {
        Ok(value)
    }
}

/// Parses `input` as `kstrtouint(s, 10, ...)` does.
pub fn parse_u32(input: &[u8]) -> Result<u32, ParseError> {
    u32::try_from(parse_u64(input)?).map_err(|_| ParseError::Overflow)
}

/// A writable khugepaged knob holding a number. The discriminant is the index in
/// [`Knob::ALL`], so that a knob can be a const generic argument (`Knob::PagesToScan as usize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    /// `pages_to_scan`: PTEs (or equivalent) scanned per wakeup.
    PagesToScan = 0,
    /// `scan_sleep_millisecs`: pause between scan passes.
    ScanSleepMillisecs = 1,
    /// `alloc_sleep_millisecs`: pause after a failed huge page allocation.
    AllocSleepMillisecs = 2,
    /// `max_ptes_none`: empty PTEs a collapse may fill.
    MaxPtesNone = 3,
    /// `max_ptes_swap`: swapped-out PTEs a collapse may swap in.
    MaxPtesSwap = 4,
    /// `max_ptes_shared`: PTEs of pages shared with other processes a collapse may copy.
    MaxPtesShared = 5,
}

impl Knob {
    /// Every numeric knob.
    pub const ALL: [Knob; 6] = [
        Knob::PagesToScan,
        Knob::ScanSleepMillisecs,
        Knob::AllocSleepMillisecs,
        Knob::MaxPtesNone,
        Knob::MaxPtesSwap,
        Knob::MaxPtesShared,
    ];

    /// The value at boot (`khugepaged_init()` and the C initialisers).
    pub fn default(self, pmd_nr: u32) -> u32 {
        match self {
            Knob::PagesToScan => pmd_nr.saturating_mul(8),
            Knob::ScanSleepMillisecs => 10_000,
            Knob::AllocSleepMillisecs => 60_000,
            Knob::MaxPtesNone => max_ptes_limit(pmd_nr),
            Knob::MaxPtesSwap => pmd_nr / 8,
            Knob::MaxPtesShared => pmd_nr / 2,
        }
    }

    /// The smallest and largest value a write may set.
    pub fn range(self, pmd_nr: u32) -> (u32, u32) {
        match self {
            Knob::PagesToScan => (1, u32::MAX),
            Knob::ScanSleepMillisecs | Knob::AllocSleepMillisecs => (0, u32::MAX),
            Knob::MaxPtesNone | Knob::MaxPtesSwap | Knob::MaxPtesShared => {
                (0, max_ptes_limit(pmd_nr))
            }
        }
    }

    /// Parses a write to this knob. Every refusal is `-EINVAL` in 7.3, whatever the cause.
    pub fn parse(self, input: &[u8], pmd_nr: u32) -> Result<u32, ParseError> {
        // The sleep knobs and pages_to_scan use kstrtouint, the max_ptes_* knobs kstrtoul;
        // with 64-bit longs both refuse exactly the values above their range.
        let value = parse_u64(input).map_err(|_| ParseError::Invalid)?;
        let (min, max) = self.range(pmd_nr);
        match u32::try_from(value) {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(ParseError::Invalid),
        }
    }
}

/// `KHUGEPAGED_MAX_PTES_LIMIT`: the largest `max_ptes_*` value, `HPAGE_PMD_NR - 1`.
pub fn max_ptes_limit(pmd_nr: u32) -> u32 {
    pmd_nr.saturating_sub(1)
}

/// Parses a write to `defrag`, which `single_hugepage_flag_store()` handles: `kstrtoul`
/// errors pass through (`-ERANGE` on overflow), and values above 1 are `-EINVAL`.
pub fn parse_flag(input: &[u8]) -> Result<bool, ParseError> {
    match parse_u64(input)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ParseError::Invalid),
    }
}

/// `hint_capacity` at boot: 1024 hints, 128 KiB, enough for 2 GiB of hot PMDs on x86_64.
pub const HINT_CAPACITY_DEFAULT: u32 = 1024;

/// The largest `hint_capacity`: 65536 hints, 8 MiB.
pub const HINT_CAPACITY_MAX: u32 = 1 << 16;

/// Parses a write to `hints` (khugepaged-rs only): 0 or 1, every refusal `-EINVAL`.
pub fn parse_hints(input: &[u8]) -> Result<bool, ParseError> {
    match parse_u64(input) {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(ParseError::Invalid),
    }
}

/// Parses a write to `hint_capacity` (khugepaged-rs only): 1 to [`HINT_CAPACITY_MAX`],
/// every refusal `-EINVAL`.
pub fn parse_hint_capacity(input: &[u8]) -> Result<u32, ParseError> {
    match parse_u64(input).map(u32::try_from) {
        Ok(Ok(v)) if (1..=HINT_CAPACITY_MAX).contains(&v) => Ok(v),
        _ => Err(ParseError::Invalid),
    }
}
