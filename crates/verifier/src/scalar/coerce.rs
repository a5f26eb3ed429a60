//! Width changes: zero extension of a 32-bit result, truncation to a load size, sign
//! extension for `movsx` and sign-extending loads — the kernel's `zext_32_to_64`,
//! `coerce_reg_to_size`, `coerce_reg_to_size_sx` and `coerce_subreg_to_size_sx`.

use bpfvet_isa::insn::Width;

use super::Scalar;
use crate::tnum::Tnum;

impl Scalar {
    /// Zero-extend the low 32 bits to 64 (the result of every 32-bit ALU op): the tnum
    /// keeps its low half, the 64-bit unsigned bounds become the u32 ones, the signed ones
    /// the s32 ones when those are non-negative, else `[0, U32_MAX]`. No synchronisation.
    #[must_use]
    pub fn zext_32_to_64(self) -> Scalar {
        let mut d = self;
        d.var_off = d.var_off.subreg();
        d.umin = d.u32_min as u64;
        d.umax = d.u32_max as u64;
        if d.s32_min >= 0 && d.s32_max >= 0 {
            d.smin = d.s32_min as i64;
            d.smax = d.s32_max as i64;
        } else {
            d.smin = 0;
            d.smax = u32::MAX as i64;
        }
        d
    }

    /// Truncate to the low `size` bytes (1, 2 or 4; 8 or more leaves the scalar as is), as
    /// after a zero-extending load or a 16/32-bit byte swap. The bounds survive when the
    /// dropped high parts of `umin` and `umax` agree, else become `[0, 2^bits - 1]`; sizes
    /// below 4 also reset the 32-bit bounds. Synchronised.
    #[must_use]
    pub fn coerce_to_size(self, size: u8) -> Scalar {
        if size >= 8 {
            return self;
        }
        let mut d = self;
        d.var_off = d.var_off.cast(size);
        let mask = (1u64 << (size as u32 * 8)) - 1;
        if d.umin & !mask == d.umax & !mask {
            d.umin &= mask;
            d.umax &= mask;
        } else {
            d.umin = 0;
            d.umax = mask;
        }
        d.smin = d.umin as i64;
        d.smax = d.umax as i64;
        if size < 4 {
            d.mark_unbounded32();
        }
        d.sync();
        d
    }

    /// Sign-extend the low `size` bytes (1, 2 or 4) to 64 bits: `r = (s8/s16/s32) r` and
    /// sign-extending loads. A constant stays exact; a range whose dropped high parts agree
    /// and whose extended ends have the same sign stays a range; anything else becomes the
    /// full range of the narrow signed type. Not synchronised (the kernel does not either).
    #[must_use]
    pub fn coerce_to_size_sx(self, size: u8) -> Scalar {
        let bits = size as u32 * 8;
        if !(1..=4).contains(&size) || size == 3 {
            return self;
        }
        let ext = |v: u64| -> i64 {
            match size {
                1 => v as i8 as i64,
                2 => v as i16 as i64,
                _ => v as i32 as i64,
            }
        };
        if let Some(c) = self.const_value() {
            let v = ext(c) as u64;
            return Scalar::known(v);
        }
        let top_max = (self.smax as u64 >> bits) << bits;
        let top_min = (self.smin as u64 >> bits) << bits;
        if top_max == top_min {
            let a = ext(self.smax as u64);
            let b = ext(self.smin as u64);
            let (lo, hi) = (a.min(b), a.max(b));
            if (hi >= 0) == (lo >= 0) {
                return Scalar {
                    var_off: Tnum::range(lo as u64, hi as u64),
                    smin: lo,
                    smax: hi,
                    umin: lo as u64,
                    umax: hi as u64,
                    s32_min: lo as i32,
                    s32_max: hi as i32,
                    u32_min: lo as u32,
                    u32_max: hi as u32,
                };
            }
        }
        let (lo, hi): (i64, i64) = match size {
            1 => (i8::MIN as i64, i8::MAX as i64),
            2 => (i16::MIN as i64, i16::MAX as i64),
            _ => (i32::MIN as i64, i32::MAX as i64),
        };
        Scalar {
            var_off: Tnum::UNKNOWN,
            smin: lo,
            smax: hi,
            umin: 0,
            umax: u64::MAX,
            s32_min: lo as i32,
            s32_max: hi as i32,
            u32_min: 0,
            u32_max: u32::MAX,
        }
    }

    /// Sign-extend the low `size` bytes (1 or 2) into the low 32 bits, leaving the 64-bit
    /// bounds alone (`w = (s8/s16) w`; the caller zero-extends afterwards). Not
    /// synchronised.
    #[must_use]
    pub fn coerce_subreg_to_size_sx(self, size: u8) -> Scalar {
        let bits = size as u32 * 8;
        if size != 1 && size != 2 {
            return self;
        }
        let ext = |v: u32| -> i32 {
            if size == 1 {
                v as i8 as i32
            } else {
                v as i16 as i32
            }
        };
        let mut d = self;
        if let Some(c) = self.const_value() {
            let v = ext(c as u32);
            // The kernel makes the whole tnum the sign-extended constant here.
            d.var_off = Tnum::constant(v as i64 as u64);
            d.s32_min = v;
            d.s32_max = v;
            d.u32_min = v as u32;
            d.u32_max = v as u32;
            return d;
        }
        let top_max = (self.s32_max as u32 >> bits) << bits;
        let top_min = (self.s32_min as u32 >> bits) << bits;
        if top_max == top_min {
            let a = ext(self.s32_max as u32);
            let b = ext(self.s32_min as u32);
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                d.s32_min = lo;
                d.s32_max = hi;
                d.u32_min = lo as u32;
                d.u32_max = hi as u32;
                d.var_off = Tnum::range(lo as i64 as u64, hi as i64 as u64).subreg();
                return d;
            }
        }
        let (lo, hi) = if size == 1 {
            (i8::MIN as i32, i8::MAX as i32)
        } else {
            (i16::MIN as i32, i16::MAX as i32)
        };
        d.s32_min = lo;
        d.s32_max = hi;
        d.u32_min = 0;
        d.u32_max = u32::MAX;
        d.var_off = Tnum::UNKNOWN.subreg();
        d
    }

    /// `movsx`: `dst = (s<bits>) src` at `width`. 64-bit: sign extension of the low `bits`
    /// (8, 16 or 32) to 64 bits, unsynchronised as in the kernel. 32-bit: sign extension of
    /// the low `bits` (8 or 16) into the low half, then zero extension and
    /// synchronisation. `bits` outside those sets behaves as a plain move.
    #[must_use]
    pub fn movsx(self, bits: u8, width: Width) -> Scalar {
        match width {
            Width::W64 => self.coerce_to_size_sx(bits / 8),
            Width::W32 => self
                .coerce_subreg_to_size_sx(bits / 8)
                .zext_32_to_64()
                .synced(),
        }
    }
}
