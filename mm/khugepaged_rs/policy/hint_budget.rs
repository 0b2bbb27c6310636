// SPDX-License-Identifier: GPL-2.0

//! How much of a wake-up's `pages_to_scan` serving collapse hints may take.
//!
//! A served hint costs what the walk pays for the same range (its PTEs scanned, then the
//! collapse); it pays off when it leads to a collapse the walk would only have reached
//! later. One that does not is a range the walk will scan again anyway. So the share
//! follows how many of the hints served lately led to a collapse: from
//! [`MIN_EIGHTHS`] eighths of the budget when none did to [`MAX_EIGHTHS`] when all did,
//! half at the start. The walk always keeps the rest, so it goes on however well hints do.

/// The smallest share, in eighths of `pages_to_scan`.
pub const MIN_EIGHTHS: u32 = 1;

/// The largest share, in eighths of `pages_to_scan`.
pub const MAX_EIGHTHS: u32 = 7;

/// Success rates are fixed point, out of this.
const ONE: u32 = 1024;

/// The share of each wake-up's budget that hints may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HintBudget {
    /// The share of recent served hints that led to a collapse, out of [`ONE`]: a running
    /// average of weight 1/8.
    success: u32,
}

impl Default for HintBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl HintBudget {
    /// Half the budget, before anything is known.
    pub const fn new() -> Self {
        HintBudget { success: ONE / 2 }
    }

    /// The PTEs hints may take of a wake-up's `pages_to_scan`: between [`MIN_EIGHTHS`] and
    /// [`MAX_EIGHTHS`] eighths of it, in proportion to the success rate.
    pub fn limit(&self, pages_to_scan: u32) -> u32 {
        let span = MAX_EIGHTHS.saturating_sub(MIN_EIGHTHS);
        // Eighths, scaled by ONE: MIN + span * success.
        let scaled = u64::from(MIN_EIGHTHS)
            .saturating_mul(u64::from(ONE))
            .saturating_add(u64::from(span).saturating_mul(u64::from(self.success)));
        let pages = u64::from(pages_to_scan).saturating_mul(scaled) / (8 * u64::from(ONE));
        u32::try_from(pages).unwrap_or(pages_to_scan)
    }

    /// Takes in what serving one hint did: whether its range was collapsed.
    pub fn record(&mut self, collapsed: bool) {
        let target = if collapsed { ONE } else { 0 };
        // success + (target - success) / 8, rounded towards the target so that it gets there.
        self.success = if target > self.success {
            self.success + (target - self.success).div_ceil(8)
        } else {
            self.success - (self.success - target).div_ceil(8)
        };
    }

    /// The state as one word, to keep in an atomic.
    pub const fn to_raw(self) -> u32 {
        self.success
    }

    /// Back from [`HintBudget::to_raw`]; a value out of range is taken as the nearest.
    pub fn from_raw(raw: u32) -> Self {
        HintBudget {
            success: raw.min(ONE),
        }
    }

    /// The success rate in percent, for `hint_stats`.
    pub fn success_percent(&self) -> u32 {
        self.success.saturating_mul(100) / ONE
    }
}
