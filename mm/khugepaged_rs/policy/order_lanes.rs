// SPDX-License-Identifier: GPL-2.0

//! The order selector's word operations (see [`order`](super::order)): a rule judges all
//! the blocks of a bitmap word at once in a few word operations, since adding 1 at each
//! block's first PTE carries into its last when the block is full; maps of one bit per
//! block are packed from them and halved into the next order's.

/// The order of a bitmap word: 64 PTEs.
pub(super) const WORD_ORDER: u32 = 6;

/// `1 << order`, or 0 when that does not fit (never for the orders used here).
pub(super) fn pow2(order: u32) -> u32 {
    1u32.checked_shl(order).unwrap_or(0)
}

/// Widens a PTE or word index; lossless on the 64-bit targets.
pub(super) fn idx(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// Narrows a PTE offset, word index or order; they all fit (see
/// [`Walk`](super::order_walk::Walk)).
pub(super) fn narrow<T: TryFrom<u32> + Copy>(x: u32, max: T) -> T {
    T::try_from(x).unwrap_or(max)
}

/// Narrows a field of a saved [`Walk`](super::order_walk::Walk); they all fit.
pub(super) fn narrow_u64<T: TryFrom<u64> + Copy>(x: u64, max: T) -> T {
    T::try_from(x).unwrap_or(max)
}

/// Bits `lo..hi` of a word, `lo <= hi <= 64`.
pub(super) fn bit_range(lo: u32, hi: u32) -> u64 {
    let below_hi = u64::MAX.checked_shr(64u32.saturating_sub(hi)).unwrap_or(0);
    let from_lo = u64::MAX.checked_shl(lo).unwrap_or(0);
    below_hi & from_lo
}

/// A word cut into aligned lanes of `2^j` bits, `j <= 6`: blocks of order `j` of PTEs, or
/// of order `j + 6` of words ([`WordSet`]). Adding 1 at a lane's first bit carries into its
/// last bit (cleared first: no carry leaves the lane) when the bits below are all set;
/// adding all ones but the last bit carries into it when one of them is set.
#[derive(Clone, Copy)]
pub(super) struct Lanes {
    /// The first bit of each lane.
    pub(super) first: u64,
    /// The last bit of each lane.
    pub(super) last: u64,
    /// One lane's bits, from bit 0.
    pub(super) one: u64,
    /// The distance from a lane's first bit to its last: `2^j - 1`.
    pub(super) span: u32,
}

impl Lanes {
    const ALL: [Lanes; 7] = [
        Lanes::new(0),
        Lanes::new(1),
        Lanes::new(2),
        Lanes::new(3),
        Lanes::new(4),
        Lanes::new(5),
        Lanes::new(6),
    ];

    const fn new(j: u32) -> Self {
        let span = (1 << j) - 1;
        let one = u64::MAX >> (63 - span);
        let first = u64::MAX / one;
        Lanes {
            first,
            last: first << span,
            one,
            span,
        }
    }

    pub(super) fn of(j: u32) -> Self {
        Self::ALL.get(idx(j)).copied().unwrap_or(Self::ALL[6])
    }

    /// The last bit of each lane of `x` that has every bit set.
    pub(super) fn all(self, x: u64) -> u64 {
        (x & !self.last).wrapping_add(self.first) & x & self.last
    }

    /// The last bit of each lane of `x` that has a bit set.
    pub(super) fn any(self, x: u64) -> u64 {
        ((x & !self.last).wrapping_add(self.last.wrapping_sub(self.first)) | x) & self.last
    }

    /// Lanes marked by their last bit, marked by their first.
    pub(super) fn to_first(self, x: u64) -> u64 {
        x.wrapping_shr(self.span)
    }

    /// Lanes marked by their first bit, every bit set.
    pub(super) fn fill(self, x: u64) -> u64 {
        x.wrapping_mul(self.one)
    }
}

/// Lanes of `2^K` bits marked by their first bit, `2 <= K <= 5`, one bit per lane: lane `i`
/// at bit `i`. Multiplying `n` fields of `f` bits, `d` bits apart, by the sum of bits
/// `(d - f) * (i + 1)`, `i < n`, brings field `n - 1 - i` to the top `n * f` bits, and no
/// two products meet; order 2 first gathers its 16 lanes into 4 fields of 4 bits, 16 apart.
pub(super) fn pack<const K: u32>(x: u64) -> u64 {
    match K {
        2 => {
            let x = (x | x >> 3) & 0x0303_0303_0303_0303;
            let x = (x | x >> 6) & 0x000f_000f_000f_000f;
            x.wrapping_mul(0x0001_0010_0100_1000) >> 48
        }
        3 => x.wrapping_mul(0x0102_0408_1020_4080) >> 56,
        4 => x.wrapping_mul(0x1000_2000_4000_8000) >> 60,
        _ => x.wrapping_mul(0x4000_0000_8000_0000) >> 62,
    }
}

/// One bit per bitmap word of the PMD (at most 128), 64 words to a group: whether the word
/// has some property.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct WordSet(pub(super) [u64; 2]);

impl WordSet {
    /// The members among words `64 * g..64 * (g + 1)`.
    pub(super) fn group(&self, g: u32) -> u64 {
        self.0.get(idx(g)).copied().unwrap_or(0)
    }
}

/// The blocks of the next order from those of `x`'s: bit `i` when bits `2i` and `2i + 1`
/// are both set (`ALL`) or one is.
pub(super) fn halve<const ALL: bool>(x: u64) -> u64 {
    let x = if ALL { x & x >> 1 } else { x | x >> 1 } & 0x5555_5555_5555_5555;
    let x = (x | x >> 1) & 0x3333_3333_3333_3333;
    let x = (x | x >> 2) & 0x0f0f_0f0f_0f0f_0f0f;
    let x = (x | x >> 4) & 0x00ff_00ff_00ff_00ff;
    let x = (x | x >> 8) & 0x0000_ffff_0000_ffff;
    (x | x >> 16) & 0x0000_0000_ffff_ffff
}
