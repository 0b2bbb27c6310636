// SPDX-License-Identifier: GPL-2.0

//! The knobs' parsing, defaults and ranges, against a model of the kernel's `kstrtoull()`
//! written from its documented rules, on every PMD geometry khugepaged-rs targets.

use khugepaged_policy::knobs::{
    max_ptes_limit, parse_flag, parse_u32, parse_u64, Knob, ParseError,
};
use proptest::prelude::*;

/// PTEs per PMD: x86_64 and arm64 4K, arm64 16K, arm64 64K, s390x and ppc64le hash 64K,
/// ppc64le radix 64K.
const GEOMETRIES: [u32; 5] = [512, 2048, 8192, 256, 32];

/// `kstrtoull(s, 10)`, modelled with the standard library: the C string ends at the first
/// NUL; an optional '+', then digits, then an optional newline.
fn model_u64(input: &[u8]) -> Result<u64, ParseError> {
    let s = input.split(|&b| b == 0).next().unwrap_or(&[]);
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let s = s.strip_suffix(b"\n").unwrap_or(s);
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::Invalid);
    }
    std::str::from_utf8(s)
        .unwrap()
        .parse::<u64>()
        .map_err(|_| ParseError::Overflow)
}

#[test]
fn parses_like_kstrtoull() {
    let cases: &[(&[u8], Result<u64, ParseError>)] = &[
        (b"0", Ok(0)),
        (b"42\n", Ok(42)),
        (b"+7", Ok(7)),
        (b"007", Ok(7)),
        (b"18446744073709551615", Ok(u64::MAX)),
        (b"18446744073709551616", Err(ParseError::Overflow)),
        (b"5\0garbage", Ok(5)),
        (b"", Err(ParseError::Invalid)),
        (b"\n", Err(ParseError::Invalid)),
        (b"+", Err(ParseError::Invalid)),
        (b"-1", Err(ParseError::Invalid)),
        (b" 5", Err(ParseError::Invalid)),
        (b"5 ", Err(ParseError::Invalid)),
        (b"5\n\n", Err(ParseError::Invalid)),
        (b"0x10", Err(ParseError::Invalid)),
        (b"1.5", Err(ParseError::Invalid)),
        (b"++1", Err(ParseError::Invalid)),
        (b"99999999999999999999x", Err(ParseError::Invalid)),
    ];
    for (input, want) in cases {
        assert_eq!(
            parse_u64(input),
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(model_u64(input), *want, "model disagrees on {:?}", input);
    }
    assert_eq!(parse_u32(b"4294967295"), Ok(u32::MAX));
    assert_eq!(parse_u32(b"4294967296"), Err(ParseError::Overflow));
}

#[test]
fn defaults_match_7_3() {
    for pmd_nr in GEOMETRIES {
        assert_eq!(Knob::PagesToScan.default(pmd_nr), pmd_nr * 8);
        assert_eq!(Knob::ScanSleepMillisecs.default(pmd_nr), 10_000);
        assert_eq!(Knob::AllocSleepMillisecs.default(pmd_nr), 60_000);
        assert_eq!(Knob::MaxPtesNone.default(pmd_nr), pmd_nr - 1);
        assert_eq!(Knob::MaxPtesSwap.default(pmd_nr), pmd_nr / 8);
        assert_eq!(Knob::MaxPtesShared.default(pmd_nr), pmd_nr / 2);
        for knob in Knob::ALL {
            let (min, max) = knob.range(pmd_nr);
            let d = knob.default(pmd_nr);
            assert!(
                min <= d && d <= max,
                "{knob:?} default {d} outside {min}..={max}"
            );
        }
    }
}

#[test]
fn knob_index_is_discriminant() {
    for (i, knob) in Knob::ALL.iter().enumerate() {
        assert_eq!(*knob as usize, i);
    }
}

#[test]
fn knob_edges() {
    for pmd_nr in GEOMETRIES {
        let limit = max_ptes_limit(pmd_nr).to_string();
        let over = pmd_nr.to_string();
        for knob in [Knob::MaxPtesNone, Knob::MaxPtesSwap, Knob::MaxPtesShared] {
            assert_eq!(knob.parse(limit.as_bytes(), pmd_nr), Ok(pmd_nr - 1));
            assert_eq!(
                knob.parse(over.as_bytes(), pmd_nr),
                Err(ParseError::Invalid)
            );
            assert_eq!(knob.parse(b"0\n", pmd_nr), Ok(0));
        }
        assert_eq!(
            Knob::PagesToScan.parse(b"0", pmd_nr),
            Err(ParseError::Invalid)
        );
        assert_eq!(Knob::PagesToScan.parse(b"1", pmd_nr), Ok(1));
        for knob in [Knob::ScanSleepMillisecs, Knob::AllocSleepMillisecs] {
            assert_eq!(knob.parse(b"0", pmd_nr), Ok(0));
            assert_eq!(knob.parse(b"4294967295\n", pmd_nr), Ok(u32::MAX));
            assert_eq!(knob.parse(b"4294967296", pmd_nr), Err(ParseError::Invalid));
        }
    }
    assert_eq!(parse_flag(b"1\n"), Ok(true));
    assert_eq!(parse_flag(b"+0"), Ok(false));
    assert_eq!(parse_flag(b"2"), Err(ParseError::Invalid));
    assert_eq!(
        parse_flag(b"99999999999999999999"),
        Err(ParseError::Overflow)
    );
    assert_eq!(parse_flag(b"yes"), Err(ParseError::Invalid));
}

/// Inputs biased towards the interesting bytes: digits, signs, newlines, NULs, spaces.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => b'0'..=b'9',
        1 => Just(b'+'),
        1 => Just(b'-'),
        1 => Just(b'\n'),
        1 => Just(0u8),
        1 => Just(b' '),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..32)
}

proptest! {
    #[test]
    fn parse_matches_model(bytes in input()) {
        prop_assert_eq!(parse_u64(&bytes), model_u64(&bytes));
    }

    #[test]
    fn knob_accepts_exactly_its_range(bytes in input(), g in 0..GEOMETRIES.len(), k in 0..6usize) {
        let pmd_nr = GEOMETRIES[g];
        let knob = Knob::ALL[k];
        let (min, max) = knob.range(pmd_nr);
        let want = match model_u64(&bytes) {
            Ok(v) if v >= u64::from(min) && v <= u64::from(max) => Ok(v as u32),
            _ => Err(ParseError::Invalid),
        };
        prop_assert_eq!(knob.parse(&bytes, pmd_nr), want);
    }

    #[test]
    fn numbers_round_trip(v in any::<u32>(), g in 0..GEOMETRIES.len(), k in 0..6usize) {
        let pmd_nr = GEOMETRIES[g];
        let knob = Knob::ALL[k];
        let (min, max) = knob.range(pmd_nr);
        let text = format!("{v}\n");
        let got = knob.parse(text.as_bytes(), pmd_nr);
        if (min..=max).contains(&v) {
            prop_assert_eq!(got, Ok(v));
        } else {
            prop_assert_eq!(got, Err(ParseError::Invalid));
        }
    }
}

#[test]
fn hint_knobs_take_their_range_only() {
    use khugepaged_policy::knobs::{parse_hint_capacity, parse_hints, HINT_CAPACITY_MAX};
    assert_eq!(parse_hints(b"0\n"), Ok(false));
    assert_eq!(parse_hints(b"1"), Ok(true));
    for bad in [
        &b"2"[..],
        b"",
        b"-1",
        b"1 ",
        b"yes",
        b"99999999999999999999999",
    ] {
        assert_eq!(parse_hints(bad), Err(ParseError::Invalid), "{bad:?}");
    }
    assert_eq!(parse_hint_capacity(b"1"), Ok(1));
    assert_eq!(parse_hint_capacity(b"65536\n"), Ok(HINT_CAPACITY_MAX));
    for bad in [&b"0"[..], b"65537", b"", b"4096x", b"-4", b"4294967297"] {
        assert_eq!(
            parse_hint_capacity(bad),
            Err(ParseError::Invalid),
            "{bad:?}"
        );
    }
}
