// SPDX-License-Identifier: GPL-2.0

//! The `khugepaged/` sysfs directory (C: the `*_show`/`*_store` handlers and
//! `khugepaged_attr_group` of `mm/khugepaged.c`).
//!
//! One generic attribute type serves the six numeric knobs; parsing and ranges live in the
//! policy core. A refused write returns an error and changes nothing. After 7.3's files
//! come khugepaged-rs's own: `hints`, `hint_capacity` and `hint_stats`.

use crate::{
    daemon, hints,
    policy::knobs::{self, Knob, ParseError},
    settings,
};
use core::fmt::Write;
use kernel::{
    mm::thp::{self, Flag},
    prelude::*,
    sync::atomic::Relaxed,
    sysfs::{AttributeList, KobjAttribute, KobjAttributeOps, ShowBuffer},
};

fn emit(buf: &mut ShowBuffer<'_>, value: u32) -> Result {
    writeln!(buf, "{value}").map_err(|_| EINVAL)
}

fn to_error(e: ParseError) -> Error {
    match e {
        ParseError::Invalid => EINVAL,
        ParseError::Overflow => ERANGE,
    }
}

/// A numeric knob: `ID` is `Knob::X as usize`, its index in [`Knob::ALL`].
struct KnobAttr<const ID: usize>;

impl<const ID: usize> KnobAttr<ID> {
    const KNOB: Knob = Knob::ALL[ID];
}

#[vtable]
impl<const ID: usize> KobjAttributeOps for KnobAttr<ID> {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        emit(buf, settings::get(Self::KNOB))
    }

    fn store(input: &[u8]) -> Result {
        let value = Self::KNOB.parse(input, thp::pmd_nr()).map_err(to_error)?;
        settings::set(Self::KNOB, value);
        if matches!(
            Self::KNOB,
            Knob::ScanSleepMillisecs | Knob::AllocSleepMillisecs
        ) {
            // A new sleep length takes effect now, not after the sleep in progress.
            daemon::kick();
        }
        Ok(())
    }
}

/// `pages_collapsed` (read-only).
struct PagesCollapsed;

#[vtable]
impl KobjAttributeOps for PagesCollapsed {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        emit(buf, settings::PAGES_COLLAPSED.load(Relaxed))
    }
}

/// `full_scans` (read-only).
struct FullScans;

#[vtable]
impl KobjAttributeOps for FullScans {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        emit(buf, settings::FULL_SCANS.load(Relaxed))
    }
}

/// `mmap_lock_busy` (khugepaged-rs, read-only): collapses khugepaged left for a later pass
/// rather than wait for the mmap write lock.
struct MmapLockBusy;

#[vtable]
impl KobjAttributeOps for MmapLockBusy {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        emit(buf, settings::MMAP_LOCK_BUSY.load(Relaxed))
    }
}

/// `defrag`: bit `TRANSPARENT_HUGEPAGE_DEFRAG_KHUGEPAGED_FLAG` of the THP flags.
struct Defrag;

#[vtable]
impl KobjAttributeOps for Defrag {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        emit(buf, thp::flag(Flag::DefragKhugepaged).into())
    }

    fn store(input: &[u8]) -> Result {
        thp::set_flag(
            Flag::DefragKhugepaged,
            knobs::parse_flag(input).map_err(to_error)?,
        );
        Ok(())
    }
}

/// `hints` (khugepaged-rs): collapse hints on (1) or off (0).
struct HintsOn;

#[vtable]
impl KobjAttributeOps for HintsOn {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        emit(buf, hints::enabled().into())
    }

    fn store(input: &[u8]) -> Result {
        hints::set_enabled(knobs::parse_hints(input).map_err(to_error)?);
        Ok(())
    }
}

/// `hint_capacity` (khugepaged-rs): how many hints the queue holds.
struct HintCapacity;

#[vtable]
impl KobjAttributeOps for HintCapacity {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        writeln!(buf, "{}", hints::capacity()).map_err(|_| EINVAL)
    }

    fn store(input: &[u8]) -> Result {
        hints::set_capacity(knobs::parse_hint_capacity(input).map_err(to_error)?)
    }
}

/// `hint_stats` (khugepaged-rs, read-only): the hint counters, one `name value` per line.
struct HintStats;

#[vtable]
impl KobjAttributeOps for HintStats {
    fn show(buf: &mut ShowBuffer<'_>) -> Result {
        hints::write_stats(buf).map_err(|_| EINVAL)
    }
}

static DEFRAG: KobjAttribute<Defrag> = KobjAttribute::new(c"defrag");
static MAX_PTES_NONE: KobjAttribute<KnobAttr<{ Knob::MaxPtesNone as usize }>> =
    KobjAttribute::new(c"max_ptes_none");
static MAX_PTES_SWAP: KobjAttribute<KnobAttr<{ Knob::MaxPtesSwap as usize }>> =
    KobjAttribute::new(c"max_ptes_swap");
static MAX_PTES_SHARED: KobjAttribute<KnobAttr<{ Knob::MaxPtesShared as usize }>> =
    KobjAttribute::new(c"max_ptes_shared");
static PAGES_TO_SCAN: KobjAttribute<KnobAttr<{ Knob::PagesToScan as usize }>> =
    KobjAttribute::new(c"pages_to_scan");
static PAGES_COLLAPSED: KobjAttribute<PagesCollapsed> = KobjAttribute::new(c"pages_collapsed");
static FULL_SCANS: KobjAttribute<FullScans> = KobjAttribute::new(c"full_scans");
static SCAN_SLEEP: KobjAttribute<KnobAttr<{ Knob::ScanSleepMillisecs as usize }>> =
    KobjAttribute::new(c"scan_sleep_millisecs");
static ALLOC_SLEEP: KobjAttribute<KnobAttr<{ Knob::AllocSleepMillisecs as usize }>> =
    KobjAttribute::new(c"alloc_sleep_millisecs");

static HINTS: KobjAttribute<HintsOn> = KobjAttribute::new(c"hints");
static HINT_CAPACITY: KobjAttribute<HintCapacity> = KobjAttribute::new(c"hint_capacity");
static HINT_STATS: KobjAttribute<HintStats> = KobjAttribute::new(c"hint_stats");
static MMAP_LOCK_BUSY: KobjAttribute<MmapLockBusy> = KobjAttribute::new(c"mmap_lock_busy");

/// The files of `khugepaged/`: 7.3's, in its order, then khugepaged-rs's own.
pub(crate) static ATTRS: AttributeList<13> = AttributeList::new([
    DEFRAG.as_attribute(),
    MAX_PTES_NONE.as_attribute(),
    MAX_PTES_SWAP.as_attribute(),
    MAX_PTES_SHARED.as_attribute(),
    PAGES_TO_SCAN.as_attribute(),
    PAGES_COLLAPSED.as_attribute(),
    FULL_SCANS.as_attribute(),
    SCAN_SLEEP.as_attribute(),
    ALLOC_SLEEP.as_attribute(),
    HINTS.as_attribute(),
    HINT_CAPACITY.as_attribute(),
    HINT_STATS.as_attribute(),
    MMAP_LOCK_BUSY.as_attribute(),
]);
