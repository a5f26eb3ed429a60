//! Tracked numbers: what is known about the bits of a 64-bit value. A `Tnum { value, mask }`
//! stands for every `x` with `x & !mask == value`: bits set in `mask` are unknown, the others
//! equal `value` (invariant: `value & mask == 0`). Every operation is sound: applied to any
//! members of its operands, the concrete operation's result is a member of the result. The
//! algorithms are the kernel's (so the logged `var_off` values match), written anew.

/// Known bits of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tnum {
    pub value: u64,
    pub mask: u64,
}

#[allow(clippy::should_implement_trait)]
impl Tnum {
    /// Nothing known.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum containing every value in `[min, max]`: the common high bits known.
    pub fn range(min: u64, max: u64) -> Tnum {
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

    pub fn is_const(self) -> bool {
        self.mask == 0
    }

    pub fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// Contains `v`.
    pub fn contains(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Every member of `b` is a member of `self` (`tnum_in`).
    pub fn includes(self, b: Tnum) -> bool {
        if b.mask & !self.mask != 0 {
            return false;
        }
        (b.value & !self.mask) == self.value
    }

    /// Every member is a multiple of `size` (a power of two).
    pub fn is_aligned(self, size: u64) -> bool {
        size == 0 || (self.value | self.mask) & (size - 1) == 0
    }

    pub fn lshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value.wrapping_shl(s),
            mask: self.mask.wrapping_shl(s),
        }
    }

    pub fn rshift(self, s: u32) -> Tnum {
        Tnum {
            value: self.value.wrapping_shr(s),
            mask: self.mask.wrapping_shr(s),
        }
    }

    /// Arithmetic right shift of a 64-bit value, or of the low 32 bits (zero-extended result)
    /// when `bits32`.
    pub fn arshift(self, s: u32, bits32: bool) -> Tnum {
        if bits32 {
            Tnum {
                value: u64::from(((self.value as i32).wrapping_shr(s)) as u32),
                mask: u64::from(((self.mask as i32).wrapping_shr(s)) as u32),
            }
        } else {
            Tnum {
                value: (self.value as i64).wrapping_shr(s) as u64,
                mask: (self.mask as i64).wrapping_shr(s) as u64,
            }
        }
    }

    /// Sum: carries out of unknown bits make the bits they reach unknown.
    pub fn add(self, b: Tnum) -> Tnum {
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

    /// Difference.
    pub fn sub(self, b: Tnum) -> Tnum {
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

    /// Two's complement negation.
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Product: the known product plus, for each possibly-set bit of `self`, a shifted copy of
    /// `b`'s uncertain bits.
    pub fn mul(self, b: Tnum) -> Tnum {
        let acc_v = self.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::constant(0);
        let (mut a, mut b) = (self, b);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(acc_v).add(acc_m)
    }

    /// Values in both (the caller knows both describe the same value).
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// The low `size` bytes.
    pub fn cast(self, size: u32) -> Tnum {
        let m = if size >= 8 {
            u64::MAX
        } else {
            (1u64 << (size * 8)) - 1
        };
        Tnum {
            value: self.value & m,
            mask: self.mask & m,
        }
    }

    /// The low 32 bits.
    pub fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The high 32 bits kept, the low 32 cleared.
    pub fn clear_subreg(self) -> Tnum {
        self.rshift(32).lshift(32)
    }

    /// High 32 bits of `self`, low 32 of `sub`.
    pub fn with_subreg(self, sub: Tnum) -> Tnum {
        self.clear_subreg().or(sub.subreg())
    }

    /// Members of both may exist (`tnum_overlap`).
    pub fn overlaps(self, b: Tnum) -> bool {
        let mu = !self.mask & !b.mask;
        (self.value & mu) == (b.value & mu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 4-bit tnum (3^4 of them), as (value, mask).
    fn all4() -> Vec<Tnum> {
        let mut v = Vec::new();
        for mask in 0u64..16 {
            for value in 0u64..16 {
                if value & mask == 0 {
                    v.push(Tnum { value, mask });
                }
            }
        }
        v
    }

    fn members(t: Tnum) -> Vec<u64> {
        (0u64..16).filter(|&x| t.contains(x)).collect()
    }

    #[test]
    fn binary_ops_are_sound_exhaustively() {
        type Op = (&'static str, fn(Tnum, Tnum) -> Tnum, fn(u64, u64) -> u64);
        let ops: [Op; 6] = [
            ("add", Tnum::add, u64::wrapping_add),
            ("sub", Tnum::sub, u64::wrapping_sub),
            ("mul", Tnum::mul, u64::wrapping_mul),
            ("and", Tnum::and, |a, b| a & b),
            ("or", Tnum::or, |a, b| a | b),
            ("xor", Tnum::xor, |a, b| a ^ b),
        ];
        for a in all4() {
            for b in all4() {
                for (name, f, g) in ops {
                    let r = f(a, b);
                    assert_eq!(r.value & r.mask, 0, "{name} invariant");
                    for x in members(a) {
                        for y in members(b) {
                            assert!(r.contains(g(x, y)), "{name} {a:?} {b:?} {x} {y}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn range_and_shifts() {
        assert_eq!(
            Tnum::range(0, 255),
            Tnum {
                value: 0,
                mask: 255
            }
        );
        assert_eq!(Tnum::range(4, 7), Tnum { value: 4, mask: 3 });
        assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
        for lo in 0u64..40 {
            for hi in lo..40 {
                let t = Tnum::range(lo, hi);
                assert!((lo..=hi).all(|x| t.contains(x)));
            }
        }
        let t = Tnum {
            value: 0x80,
            mask: 0x0f,
        };
        assert_eq!(
            t.lshift(4),
            Tnum {
                value: 0x800,
                mask: 0xf0
            }
        );
        assert_eq!(
            t.rshift(4),
            Tnum {
                value: 0x8,
                mask: 0
            }
        );
        let n = Tnum::constant(0xffff_ffff_ffff_fff0);
        assert_eq!(n.arshift(4, false), Tnum::constant(u64::MAX));
        assert_eq!(
            Tnum::constant(0x8000_0000).arshift(4, true),
            Tnum::constant(0xf800_0000)
        );
        assert!(Tnum::UNKNOWN.includes(t));
        assert!(!t.includes(Tnum::UNKNOWN));
        assert_eq!(Tnum::constant(5).neg(), Tnum::constant(5u64.wrapping_neg()));
    }
}
