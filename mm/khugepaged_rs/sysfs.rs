// SPDX-License-Identifier: GPL-2.0

//! The `khugepaged/` sysfs directory (C: the `*_show`/`*_store` handlers and
//! `khugepaged_attr_group` of `mm/khugepaged.c`).
//!
//! One generic attribute type serves the six numeric knobs; parsing and ranges live in the
//! policy core. A refused write returns an error and changes nothing.

use crate::{
    daemon,
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

/// The files of `khugepaged/`, in 7.3's order.
pub(crate) static ATTRS: AttributeList<9> = AttributeList::new([
    DEFRAG.as_attribute(),
    MAX_PTES_NONE.as_attribute(),
    MAX_PTES_SWAP.as_attribute(),
    MAX_PTES_SHARED.as_attribute(),
    PAGES_TO_SCAN.as_attribute(),
    PAGES_COLLAPSED.as_attribute(),
    FULL_SCANS.as_attribute(),
    SCAN_SLEEP.as_attribute(),
    ALLOC_SLEEP.as_attribute(),
]);
