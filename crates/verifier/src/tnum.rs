//! Tracked numbers ("tnums"): per-bit knowledge of a 64-bit value.
//!
//! A [`Tnum`] is a pair `(value, mask)`. A bit set in `mask` is unknown; every other bit is
//! known and equal to the corresponding bit of `value`. Well-formed tnums have
//! `value & mask == 0`. The set of concrete values a tnum stands for (its *members*) is
//! `{ x | x & !mask == value }`.
//!
//! Every operation here is a sound over-approximation: for members `x` of `a` and `y` of `b`,
//! `x op y` is a member of `a.op(b)`. The operations are bit-for-bit the ones the Linux 6.18
//! verifier uses, because their results appear in verifier logs (`var_off=(0x..; 0x..)`).

use std::fmt;

/// Knowledge about the bits of a 64-bit value: `mask` bits are unknown, the others equal
/// `value`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Tnum {
    /// Known bit values (zero where `mask` is set, for well-formed tnums).
    pub value: u64,
    /// Unknown bits.
    pub mask: u64,
}

const LOW32: u64 = 0xffff_ffff;

impl Tnum {
    /// The fully unknown tnum: every 64-bit value is a member.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// A tnum from its raw parts. No normalisation: `value & mask` should be zero.
    pub const fn new(value: u64, mask: u64) -> Tnum {
        Tnum { value, mask }
    }

    /// The tnum whose only member is `value`.
    pub const fn constant(value: u64) -> Tnum {
        Tnum { value, mask: 0 }
    }

    /// The smallest tnum containing every value of `min..=max` (unsigned; `min <= max`
    /// expected): the common high bits of `min` and `max` are known, every bit from the
    /// highest differing one down is unknown.
    pub const fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// True when exactly one value is a member.
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// True when every bit is unknown.
    pub const fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// True when the tnum is the constant `v`.
    pub const fn equals_const(self, v: u64) -> bool {
        self.is_const() && self.value == v
    }

    /// True when the low 32 bits are fully known.
    pub const fn subreg_is_const(self) -> bool {
        self.mask & LOW32 == 0
    }

    /// True when every member is a multiple of `size` (a power of two; 0 means "no
    /// requirement" and is always true).
    pub const fn is_aligned(self, size: u64) -> bool {
        if size == 0 {
            return true;
        }
        (self.value | self.mask) & (size - 1) == 0
    }

    /// True when every member of `other` is a member of `self` (the kernel's `tnum_in`).
    pub const fn contains(self, other: Tnum) -> bool {
        if other.mask & !self.mask != 0 {
            return false;
        }
        self.value == other.value & !self.mask
    }

    /// True when `v` is a member.
    pub const fn contains_value(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// True when the two tnums may share a member: they agree on every bit both know.
    pub const fn overlap(self, other: Tnum) -> bool {
        let known = !self.mask & !other.mask;
        self.value & known == other.value & known
    }

    /// The largest member (`value | mask`).
    pub const fn max_member(self) -> u64 {
        self.value | self.mask
    }

    /// Shift every bit left by `shift` (< 64; larger amounts are taken modulo 64, as x86
    /// does); known zeros enter at the bottom.
    pub const fn lshift(self, shift: u8) -> Tnum {
        Tnum {
            value: self.value.wrapping_shl(shift as u32),
            mask: self.mask.wrapping_shl(shift as u32),
        }
    }

    /// Logical right shift by `shift` (< 64, else modulo 64); known zeros enter at the top.
    pub const fn rshift(self, shift: u8) -> Tnum {
        Tnum {
            value: self.value.wrapping_shr(shift as u32),
            mask: self.mask.wrapping_shr(shift as u32),
        }
    }

    /// Arithmetic right shift by `shift` at width `bits` (32 or 64). With 32, the low
    /// 32 bits are shifted as a signed 32-bit number and the result has its upper half
    /// zero. The sign bit's knowledge (known or unknown) is replicated.
    pub const fn arshift(self, shift: u8, bits: u8) -> Tnum {
        if bits == 32 {
            Tnum {
                value: (self.value as u32 as i32).wrapping_shr(shift as u32) as u32 as u64,
                mask: (self.mask as u32 as i32).wrapping_shr(shift as u32) as u32 as u64,
            }
        } else {
            Tnum {
                value: (self.value as i64).wrapping_shr(shift as u32) as u64,
                mask: (self.mask as i64).wrapping_shr(shift as u32) as u64,
            }
        }
    }

    /// Sum (wrapping): carries out of unknown bits make every higher bit they can reach
    /// unknown.
    pub const fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// Difference (wrapping), the borrow-propagating dual of [`Tnum::add`].
    pub const fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// Two's-complement negation: `0 - self`.
    pub const fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// Bitwise and: a bit is known 1 only if known 1 in both, known 0 if known 0 in either.
    pub const fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// Bitwise or: a bit is known 1 if known 1 in either, known 0 if known 0 in both.
    pub const fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// Bitwise exclusive or: a bit is known only if known in both.
    pub const fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Product (wrapping), by long multiplication over the bits of `self`: a known-1 bit
    /// adds the shifted `b` to the accumulator, an unknown bit replaces the accumulator by
    /// the [`Tnum::union`] of "added" and "not added". This is the Linux 6.18 algorithm;
    /// the result depends on operand order.
    pub const fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let mut acc = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc = acc.add(b);
            } else if a.mask & 1 != 0 {
                acc = acc.union(acc.add(b));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        acc
    }

    /// Meet: knowledge from both. Where the two disagree on a known bit (no common member)
    /// the result has that bit known 1, as the kernel does.
    pub const fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Join: a tnum containing every member of both; bits on which they disagree become
    /// unknown (the kernel's `tnum_union`).
    pub const fn union(self, b: Tnum) -> Tnum {
        let v = self.value & b.value;
        let mu = (self.value ^ b.value) | self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Truncate to the low `size` bytes (1..=8); higher bits become known zero.
    pub const fn cast(self, size: u8) -> Tnum {
        let keep = if size >= 8 {
            u64::MAX
        } else {
            (1u64 << (size as u32 * 8)) - 1
        };
        Tnum {
            value: self.value & keep,
            mask: self.mask & keep,
        }
    }

    /// The low 32 bits, with the upper half known zero.
    pub const fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The upper 32 bits, with the low half known zero.
    pub const fn clear_subreg(self) -> Tnum {
        self.rshift(32).lshift(32)
    }

    /// The upper half of `self` combined with the low half of `subreg`.
    pub const fn with_subreg(self, subreg: Tnum) -> Tnum {
        self.clear_subreg().or(subreg.subreg())
    }

    /// The upper half of `self` with the low half known to be `value`.
    pub const fn const_subreg(self, value: u32) -> Tnum {
        self.with_subreg(Tnum::constant(value as u64))
    }

    /// Swap the two low bytes; the result's upper 48 bits are known zero.
    pub const fn bswap16(self) -> Tnum {
        Tnum {
            value: (self.value as u16).swap_bytes() as u64,
            mask: (self.mask as u16).swap_bytes() as u64,
        }
    }

    /// Reverse the four low bytes; the result's upper half is known zero.
    pub const fn bswap32(self) -> Tnum {
        Tnum {
            value: (self.value as u32).swap_bytes() as u64,
            mask: (self.mask as u32).swap_bytes() as u64,
        }
    }

    /// Reverse all eight bytes.
    pub const fn bswap64(self) -> Tnum {
        Tnum {
            value: self.value.swap_bytes(),
            mask: self.mask.swap_bytes(),
        }
    }

    /// The smallest member strictly greater than `z`, for `value <= z < max_member()`.
    /// Outside that window: `z < value` gives `value` (the smallest member) and
    /// `z >= max_member()` gives `max_member()` (the kernel's `tnum_step`).
    pub const fn step(self, z: u64) -> u64 {
        let tmax = self.value | self.mask;
        if z >= tmax {
            return tmax;
        }
        if z < self.value {
            return self.value;
        }
        // Members are value + s for the submasks s of mask; we need the least submask
        // above d = z - value. Set every non-mask bit of d (and every bit below its highest
        // non-mask one, which can only be cleared by a carry) so that +1 carries straight
        // through to the next mask position, then keep only the mask bits.
        let d = z - self.value;
        let outside = d & !self.mask;
        let below = if outside == 0 {
            0
        } else {
            u64::MAX >> outside.leading_zeros()
        };
        let filled = d | below | !self.mask;
        let inc = filled.wrapping_add(1) & self.mask;
        self.value | inc
    }

    /// The 64-character bit string, most significant bit first: `0`, `1` or `x` (unknown)
    /// per bit (the kernel's `tnum_sbin`).
    pub fn sbin(self) -> String {
        (0..64)
            .rev()
            .map(|i| {
                if self.mask >> i & 1 != 0 {
                    'x'
                } else if self.value >> i & 1 != 0 {
                    '1'
                } else {
                    '0'
                }
            })
            .collect()
    }
}

/// The kernel's `tnum_strn` format: a constant prints as decimal when at most 65535 and
/// as `0x..` hex otherwise; a non-constant prints `(value; mask)` in hex, e.g.
/// `(0x0; 0xff)`.
impl fmt::Display for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mask == 0 {
            fmt_unum(f, self.value)
        } else {
            write!(f, "({}; {})", Hex(self.value), Hex(self.mask))
        }
    }
}

/// The kernel's `%#llx`: `0x<hex>`, including `0x0` for zero (unlike C's printf).
pub(crate) struct Hex(pub u64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// An unsigned number as the verifier log prints it: decimal up to 65535, hex above.
pub(crate) fn fmt_unum(f: &mut fmt::Formatter<'_>, v: u64) -> fmt::Result {
    if v <= u16::MAX as u64 {
        write!(f, "{v}")
    } else {
        write!(f, "{}", Hex(v))
    }
}

/// A signed number as the verifier log prints it: decimal within `i16`, otherwise the
/// 64-bit two's-complement pattern in hex.
pub(crate) fn fmt_snum(f: &mut fmt::Formatter<'_>, v: i64) -> fmt::Result {
    if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        write!(f, "{v}")
    } else {
        write!(f, "{}", Hex(v as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_examples() {
        assert_eq!(Tnum::range(0, 255), Tnum::new(0, 0xff));
        assert_eq!(Tnum::range(4, 6), Tnum::new(4, 3));
        assert_eq!(Tnum::range(7, 7), Tnum::constant(7));
        assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
        assert_eq!(
            Tnum::range(1 << 63, u64::MAX),
            Tnum::new(1 << 63, (1 << 63) - 1)
        );
    }

    #[test]
    fn mul_matches_kernel_log() {
        // Captured on Linux 6.18: (0x1; 0x6) * (0x3; 0x4) logged as var_off=(0x1; 0x3e).
        assert_eq!(Tnum::new(1, 6).mul(Tnum::new(3, 4)), Tnum::new(1, 0x3e));
        assert_eq!(
            Tnum::new(0, 0xff).mul(Tnum::constant(5)),
            Tnum::new(0, 0x7ff)
        );
    }

    #[test]
    fn display_forms() {
        assert_eq!(Tnum::constant(65535).to_string(), "65535");
        assert_eq!(Tnum::constant(65536).to_string(), "0x10000");
        assert_eq!(Tnum::new(0, 0xff).to_string(), "(0x0; 0xff)");
        assert_eq!(Tnum::new(0x10, 0xf).to_string(), "(0x10; 0xf)");
    }

    #[test]
    fn sbin_form() {
        let s = Tnum::new(0b10, 0b100).sbin();
        assert_eq!(s.len(), 64);
        assert!(s.ends_with("x10"));
        assert!(s[..61].chars().all(|c| c == '0'));
    }

    #[test]
    fn step_examples() {
        // x11100x0 and 241 -> 242 (the smallest member above 241).
        let t = Tnum::new(0b0111_0000, 0b1000_0010);
        assert_eq!(t.step(241), 242);
        assert_eq!(t.step(0), t.value);
        assert_eq!(t.step(u64::MAX), t.max_member());
    }
}
