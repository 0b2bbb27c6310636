// SPDX-License-Identifier: GPL-2.0

//! How hot a hinted range is: what an access-bit scan's sightings of it are worth.
//!
//! MGLRU clears the access bits it finds set, so each time it finds a range young, the
//! range was used since MGLRU last looked. But the first sighting after the range was
//! faulted in only shows that fault: memory written once and never again looks as young
//! then as memory in constant use. What tells them apart is youth in several aging
//! passes, so a hint counts the passes (MGLRU generations, `max_seq`) in which it was seen
//! young, and is served only from [`MIN_PASSES`] on; more passes rank it higher.
//!
//! A range not seen young for [`EXPIRY_PASSES`] times the usual interval between passes
//! ([`PassInterval`], learnt from the hints seen again) has gone cold: its count starts
//! over when it is seen again, and it is dropped rather than served. The interval is learnt
//! per range rather than from the generations going by, because every memcg and node ages
//! on its own: a range is seen at most once per aging of its own lruvec.

use super::hint_queue::HINT_LEVELS;

/// Fewest young PTEs worth a hint: the smallest mTHP (order 2).
pub const MIN_YOUNG: u32 = 4;

/// Density classes of a sighting, densest first: class `i` needs at least `YOUNG_SHARE[i]`
/// eighths of the PTEs looked at to be young.
const YOUNG_SHARE: [u32; HINT_LEVELS] = [7, 4, 2, 1];

/// How dense a sighting is: class 0 from 7/8 of the PTEs looked at young, 1 from 1/2, 2
/// from 1/4, 3 from 1/8; `None` below 1/8 or below [`MIN_YOUNG`] young PTEs, which is not
/// worth a hint.
pub fn young_share(young: u32, scanned: u32) -> Option<u8> {
    // A look-around counts the young PTE it started from on top of its window.
    let young = young.min(scanned);
    if young < MIN_YOUNG {
        return None;
    }
    let eighths = u64::from(young).saturating_mul(8);
    let class = YOUNG_SHARE
        .iter()
        .position(|&share| eighths >= u64::from(share).saturating_mul(u64::from(scanned)))?;
    u8::try_from(class).ok()
}

/// Aging passes a range must be seen young in before its hint is served.
pub const MIN_PASSES: u8 = 3;

/// The pass count saturates here; [`young_level`] stops rising before it.
pub const MAX_PASSES: u8 = 15;

/// Queue levels: the [`HINT_LEVELS`] served ones, then one held level per pass count
/// below [`MIN_PASSES`], the fewest passes last (evicted first).
pub const ALL_LEVELS: usize = HINT_LEVELS + MIN_PASSES as usize - 1;

/// The queue level of a range seen young in `passes` aging passes, the last of them with
/// density class `share` ([`young_share`]).
///
/// Below [`MIN_PASSES`] it is held: level [`HINT_LEVELS`] for `MIN_PASSES - 1` passes, one
/// lower per pass fewer. From there it is served: level 2 for `MIN_PASSES` passes, 1 for
/// one more, 0 for two more or beyond; a sparse last sighting (below half young) one level
/// lower.
pub fn young_level(passes: u8, share: u8) -> u8 {
    let levels = u8::try_from(HINT_LEVELS).unwrap_or(u8::MAX);
    if passes < MIN_PASSES {
        let below = MIN_PASSES.saturating_sub(passes.max(1));
        return levels.saturating_add(below).saturating_sub(1);
    }
    let base = MIN_PASSES.saturating_add(2).saturating_sub(passes).min(2);
    let sparse = u8::from(share >= 2);
    base.saturating_add(sparse).min(levels.saturating_sub(1))
}

/// A range unseen for this many usual intervals between passes has gone cold.
pub const EXPIRY_PASSES: u32 = 4;

/// Never expire a range unseen for less than this, in the caller's clock ticks (the
/// kernel's are milliseconds): aging bursts under pressure come much faster than access
/// patterns change.
pub const MIN_EXPIRY: u32 = 1000;

/// Gaps above this (an hour in milliseconds) are taken as this: the estimate must come
/// back down within a few passes once aging speeds up again.
const MAX_GAP: u32 = 3_600_000;

/// The usual interval between two aging passes that find a range young, learnt from the
/// hints seen again: a running average (weight 1/4) of their gaps, in the caller's clock
/// ticks. Unknown until the first hint is seen again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassInterval {
    avg: u32,
}

impl PassInterval {
    /// An estimate with no sample.
    pub const fn new() -> Self {
        PassInterval { avg: 0 }
    }

    /// The estimate; `None` before the first sample.
    pub fn get(&self) -> Option<u32> {
        (self.avg != 0).then_some(self.avg)
    }

    /// Takes in the gap between two sightings of one range in different passes. A gap past
    /// the expiry counts as the expiry: the range went cold for a while, which says little
    /// about how often aging runs, yet a slower aging must still raise the estimate.
    pub fn sample(&mut self, gap: u32) {
        let gap = self.expiry().map_or(gap, |e| gap.min(e)).clamp(1, MAX_GAP);
        self.avg = if self.avg == 0 {
            gap
        } else {
            // avg + (gap - avg) / 4, in u64 so that neither side can overflow.
            let sum = u64::from(self.avg)
                .saturating_mul(3)
                .saturating_add(u64::from(gap));
            u32::try_from(sum / 4).unwrap_or(MAX_GAP).max(1)
        };
    }

    /// How long a range may go unseen before it has gone cold; `None` (never) before the
    /// first sample.
    pub fn expiry(&self) -> Option<u32> {
        self.get()
            .map(|avg| avg.saturating_mul(EXPIRY_PASSES).max(MIN_EXPIRY))
    }

    /// Whether a range last seen `gap` ticks ago has gone cold.
    pub fn expired(&self, gap: u32) -> bool {
        self.expiry().is_some_and(|e| gap > e)
    }
}
