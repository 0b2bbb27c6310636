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

/// Lanes of 4 bits marked by their first bit, one bit per lane: lane `i` at bit `i`. The
/// 16 lanes are first gathered into 4 fields of 4 bits, 16 apart; multiplying `n` fields of
/// `f` bits, `d` bits apart, by the sum of bits `(d - f) * (i + 1)`, `i < n`, then brings
/// field `n - 1 - i` to the top `n * f` bits, and no two products meet.
pub(super) fn pack_quads(x: u64) -> u64 {
    let x = (x | x >> 3) & 0x0303_0303_0303_0303;
    let x = (x | x >> 6) & 0x000f_000f_000f_000f;
    x.wrapping_mul(0x0001_0010_0100_1000) >> 48
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

/// The blocks of the next order from those of two consecutive words, `lo` then `hi`: bit
/// `i` when bits `2i` and `2i + 1` of the pair are both set (`ALL`) or one is. The pairs'
/// verdicts of `lo` and of `hi` are interleaved, then unshuffled: each step swaps the
/// middle two quarters of every group of `4s` bits, which moves the even bits down and the
/// odd bits up, until `lo`'s fill the low half of the word and `hi`'s the high half.
pub(super) fn halve<const ALL: bool>(lo: u64, hi: u64) -> u64 {
    let pairs = |x: u64| if ALL { x & x >> 1 } else { x | x >> 1 } & 0x5555_5555_5555_5555;
    let mut x = pairs(lo) | pairs(hi) << 1;
    for (s, m) in [
        (1, 0x2222_2222_2222_2222u64),
        (2, 0x0c0c_0c0c_0c0c_0c0c),
        (4, 0x00f0_00f0_00f0_00f0),
        (8, 0x0000_ff00_0000_ff00),
        (16, 0x0000_0000_ffff_0000),
    ] {
        let t = (x ^ x.wrapping_shr(s)) & m;
        x ^= t ^ t.wrapping_shl(s);
    }
    x
}
