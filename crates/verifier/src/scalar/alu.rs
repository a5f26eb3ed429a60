//! ALU transfer functions on scalars, as Linux 6.18's `adjust_scalar_min_max_vals` computes
//! them: each binary op updates the 32-bit bounds, the 64-bit bounds and the tnum
//! independently, a 32-bit op then zero-extends its result, and everything ends with
//! [`Scalar::sync`]. Division and modulo are not tracked (the result is unknown); shifts
//! are tracked only by a known amount smaller than the width.

use bpfvet_isa::insn::{AluOp, EndianOp, Width};

use super::Scalar;

/// True when an immediate shift amount is accepted by the kernel: `0..32` for 32-bit ops,
/// `0..64` for 64-bit ops. Otherwise the kernel rejects the program with
/// `invalid shift <imm>` before any value tracking.
pub const fn imm_shift_is_valid(width: Width, imm: i32) -> bool {
    let bits = match width {
        Width::W32 => 32,
        Width::W64 => 64,
    };
    imm >= 0 && imm < bits
}

impl Scalar {
    /// `self op= src` for a scalar destination and scalar source. For `BPF_K` forms pass
    /// [`Scalar::from_imm`] (the immediate sign-extended to 64 bits, for either width).
    ///
    /// * `Mov` returns `src` (64-bit) or `src` zero-extended from 32 bits.
    /// * `Div`, `Sdiv`, `Mod`, `Smod`: unknown result (6.18 does not track them).
    /// * Shifts: unknown unless `src` is a constant (in the op's width, with its 64-bit
    ///   `umax` below the width); the caller rejects out-of-range immediates first (see
    ///   [`imm_shift_is_valid`]).
    /// * 32-bit ops compute the low half and zero-extend.
    ///
    /// The kernel's fork of a `[-1, 0]` destination before `and`/`or` with a constant is
    /// not done here; see [`Scalar::fork_minus_one_zero`].
    #[must_use]
    pub fn alu(self, op: AluOp, width: Width, src: Scalar) -> Scalar {
        let alu32 = width == Width::W32;
        if op == AluOp::Mov {
            return if alu32 {
                src.zext_32_to_64().synced()
            } else {
                src
            };
        }
        if !safe_to_compute(op, width, &src) {
            return Scalar::UNKNOWN;
        }
        let mut d = self;
        match op {
            AluOp::Add => {
                d.add32(&src);
                d.add64(&src);
                d.var_off = d.var_off.add(src.var_off);
            }
            AluOp::Sub => {
                d.sub32(&src);
                d.sub64(&src);
                d.var_off = d.var_off.sub(src.var_off);
            }
            AluOp::Mul => {
                d.var_off = d.var_off.mul(src.var_off);
                d.mul32(&src);
                d.mul64(&src);
            }
            AluOp::And => {
                d.var_off = d.var_off.and(src.var_off);
                d.and32(&src);
                d.and64(&src);
            }
            AluOp::Or => {
                d.var_off = d.var_off.or(src.var_off);
                d.or32(&src);
                d.or64(&src);
            }
            AluOp::Xor => {
                d.var_off = d.var_off.xor(src.var_off);
                d.xor32(&src);
                d.xor64(&src);
            }
            AluOp::Lsh if alu32 => d.lsh32(&src),
            AluOp::Lsh => d.lsh64(&src),
            AluOp::Rsh if alu32 => d.rsh32(&src),
            AluOp::Rsh => d.rsh64(&src),
            AluOp::Arsh if alu32 => d.arsh32(&src),
            AluOp::Arsh => d.arsh64(&src),
            AluOp::Div | AluOp::Sdiv | AluOp::Mod | AluOp::Smod | AluOp::Mov => {}
        }
        if alu32 {
            d = d.zext_32_to_64();
        }
        d.sync();
        d
    }

    /// `self op= imm` (the `BPF_K` form); the immediate is sign-extended to 64 bits.
    #[must_use]
    pub fn alu_imm(self, op: AluOp, width: Width, imm: i32) -> Scalar {
        self.alu(op, width, Scalar::from_imm(imm))
    }

    /// `dst = -dst` (`BPF_NEG`), computed as `0 - dst` on the bounds and `tnum_neg` on
    /// the tnum; the 32-bit form zero-extends.
    #[must_use]
    pub fn neg(self, width: Width) -> Scalar {
        let mut d = Scalar::known(0);
        d.sub32(&self);
        d.sub64(&self);
        d.var_off = self.var_off.neg();
        if width == Width::W32 {
            d = d.zext_32_to_64();
        }
        d.sync();
        d
    }

    /// Byte-order conversion (`BPF_END`) of `bits` (16, 32 or 64) on a little-endian host.
    /// `bswap` and `be` swap the low `bits` bits (bounds rebuilt from the swapped tnum);
    /// 16- and 32-bit forms then truncate to that size; `le64` leaves the value as is.
    #[must_use]
    pub fn endian(self, op: EndianOp, bits: u8) -> Scalar {
        let mut d = self;
        if endian_swaps(op) {
            d.var_off = match bits {
                16 => d.var_off.bswap16(),
                32 => d.var_off.bswap32(),
                64 => d.var_off.bswap64(),
                _ => d.var_off,
            };
            d.mark_unbounded();
        }
        if bits == 16 || bits == 32 {
            d = d.coerce_to_size(bits / 8);
        }
        d.sync();
        d
    }

    // ---- addition and subtraction -------------------------------------------------

    fn add32(&mut self, src: &Scalar) {
        match (
            self.s32_min.checked_add(src.s32_min),
            self.s32_max.checked_add(src.s32_max),
        ) {
            (Some(lo), Some(hi)) => (self.s32_min, self.s32_max) = (lo, hi),
            _ => (self.s32_min, self.s32_max) = (i32::MIN, i32::MAX),
        }
        // Both ends wrapping, or neither: the sums are still ordered.
        let (lo, lo_over) = self.u32_min.overflowing_add(src.u32_min);
        let (hi, hi_over) = self.u32_max.overflowing_add(src.u32_max);
        if !lo_over && hi_over {
            (self.u32_min, self.u32_max) = (0, u32::MAX);
        } else {
            (self.u32_min, self.u32_max) = (lo, hi);
        }
    }

    fn add64(&mut self, src: &Scalar) {
        match (
            self.smin.checked_add(src.smin),
            self.smax.checked_add(src.smax),
        ) {
            (Some(lo), Some(hi)) => (self.smin, self.smax) = (lo, hi),
            _ => (self.smin, self.smax) = (i64::MIN, i64::MAX),
        }
        let (lo, lo_over) = self.umin.overflowing_add(src.umin);
        let (hi, hi_over) = self.umax.overflowing_add(src.umax);
        if !lo_over && hi_over {
            (self.umin, self.umax) = (0, u64::MAX);
        } else {
            (self.umin, self.umax) = (lo, hi);
        }
    }

    fn sub32(&mut self, src: &Scalar) {
        match (
            self.s32_min.checked_sub(src.s32_max),
            self.s32_max.checked_sub(src.s32_min),
        ) {
            (Some(lo), Some(hi)) => (self.s32_min, self.s32_max) = (lo, hi),
            _ => (self.s32_min, self.s32_max) = (i32::MIN, i32::MAX),
        }
        let (lo, lo_under) = self.u32_min.overflowing_sub(src.u32_max);
        let (hi, hi_under) = self.u32_max.overflowing_sub(src.u32_min);
        if lo_under && !hi_under {
            (self.u32_min, self.u32_max) = (0, u32::MAX);
        } else {
            (self.u32_min, self.u32_max) = (lo, hi);
        }
    }

    fn sub64(&mut self, src: &Scalar) {
        match (
            self.smin.checked_sub(src.smax),
            self.smax.checked_sub(src.smin),
        ) {
            (Some(lo), Some(hi)) => (self.smin, self.smax) = (lo, hi),
            _ => (self.smin, self.smax) = (i64::MIN, i64::MAX),
        }
        let (lo, lo_under) = self.umin.overflowing_sub(src.umax);
        let (hi, hi_under) = self.umax.overflowing_sub(src.umin);
        if lo_under && !hi_under {
            (self.umin, self.umax) = (0, u64::MAX);
        } else {
            (self.umin, self.umax) = (lo, hi);
        }
    }

    // ---- multiplication -----------------------------------------------------------

    fn mul32(&mut self, src: &Scalar) {
        match (
            self.u32_max.checked_mul(src.u32_max),
            self.u32_min.checked_mul(src.u32_min),
        ) {
            (Some(hi), Some(lo)) => (self.u32_min, self.u32_max) = (lo, hi),
            _ => (self.u32_min, self.u32_max) = (0, u32::MAX),
        }
        let products = [
            self.s32_min.checked_mul(src.s32_min),
            self.s32_min.checked_mul(src.s32_max),
            self.s32_max.checked_mul(src.s32_min),
            self.s32_max.checked_mul(src.s32_max),
        ];
        if let [Some(a), Some(b), Some(c), Some(d)] = products {
            self.s32_min = a.min(b).min(c).min(d);
            self.s32_max = a.max(b).max(c).max(d);
        } else {
            (self.s32_min, self.s32_max) = (i32::MIN, i32::MAX);
        }
    }

    fn mul64(&mut self, src: &Scalar) {
        match (
            self.umax.checked_mul(src.umax),
            self.umin.checked_mul(src.umin),
        ) {
            (Some(hi), Some(lo)) => (self.umin, self.umax) = (lo, hi),
            _ => (self.umin, self.umax) = (0, u64::MAX),
        }
        let products = [
            self.smin.checked_mul(src.smin),
            self.smin.checked_mul(src.smax),
            self.smax.checked_mul(src.smin),
            self.smax.checked_mul(src.smax),
        ];
        if let [Some(a), Some(b), Some(c), Some(d)] = products {
            self.smin = a.min(b).min(c).min(d);
            self.smax = a.max(b).max(c).max(d);
        } else {
            (self.smin, self.smax) = (i64::MIN, i64::MAX);
        }
    }

    // ---- bitwise ops (the tnum is already the result's) -----------------------------

    /// Signed 32-bit bounds copied from the unsigned ones unless they cross the sign.
    fn s32_from_u32(&mut self) {
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.u32_min as i32;
            self.s32_max = self.u32_max as i32;
        } else {
            (self.s32_min, self.s32_max) = (i32::MIN, i32::MAX);
        }
    }

    /// Signed 64-bit bounds copied from the unsigned ones unless they cross the sign.
    fn s64_from_u64(&mut self) {
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.umin as i64;
            self.smax = self.umax as i64;
        } else {
            (self.smin, self.smax) = (i64::MIN, i64::MAX);
        }
    }

    fn and32(&mut self, src: &Scalar) {
        let t = self.var_off.subreg();
        if src.subreg_is_const() && self.subreg_is_const() {
            self.mark_known32(t.value as u32);
            return;
        }
        self.u32_min = t.value as u32;
        self.u32_max = self.u32_max.min(src.u32_max);
        self.s32_from_u32();
    }

    fn and64(&mut self, src: &Scalar) {
        if src.is_const() && self.is_const() {
            *self = Scalar::known(self.var_off.value);
            return;
        }
        self.umin = self.var_off.value;
        self.umax = self.umax.min(src.umax);
        self.s64_from_u64();
        self.update_bounds();
    }

    fn or32(&mut self, src: &Scalar) {
        let t = self.var_off.subreg();
        if src.subreg_is_const() && self.subreg_is_const() {
            self.mark_known32(t.value as u32);
            return;
        }
        self.u32_min = self.u32_min.max(src.u32_min);
        self.u32_max = (t.value | t.mask) as u32;
        self.s32_from_u32();
    }

    fn or64(&mut self, src: &Scalar) {
        if src.is_const() && self.is_const() {
            *self = Scalar::known(self.var_off.value);
            return;
        }
        self.umin = self.umin.max(src.umin);
        self.umax = self.var_off.value | self.var_off.mask;
        self.s64_from_u64();
        self.update_bounds();
    }

    fn xor32(&mut self, src: &Scalar) {
        let t = self.var_off.subreg();
        if src.subreg_is_const() && self.subreg_is_const() {
            self.mark_known32(t.value as u32);
            return;
        }
        self.u32_min = t.value as u32;
        self.u32_max = (t.value | t.mask) as u32;
        self.s32_from_u32();
    }

    fn xor64(&mut self, src: &Scalar) {
        if src.is_const() && self.is_const() {
            *self = Scalar::known(self.var_off.value);
            return;
        }
        self.umin = self.var_off.value;
        self.umax = self.var_off.value | self.var_off.mask;
        self.s64_from_u64();
        self.update_bounds();
    }

    // ---- shifts (src is a known amount below the width) -----------------------------

    /// The 32-bit bounds of a left shift by `lo..=hi`.
    fn lsh32_bounds(&mut self, lo: u64, hi: u64) {
        (self.s32_min, self.s32_max) = (i32::MIN, i32::MAX);
        if hi > 31 || self.u32_max as u64 > 1u64 << (31 - hi) {
            (self.u32_min, self.u32_max) = (0, u32::MAX);
        } else {
            self.u32_min = self.u32_min.wrapping_shl(lo as u32);
            self.u32_max = self.u32_max.wrapping_shl(hi as u32);
        }
    }

    fn lsh32(&mut self, src: &Scalar) {
        let (lo, hi) = (src.u32_min as u64, src.u32_max as u64);
        let sub = self.var_off.subreg();
        self.lsh32_bounds(lo, hi);
        self.var_off = sub.lshift(lo as u8).subreg();
        self.mark_unbounded64();
        self.update_bounds32();
    }

    fn lsh64(&mut self, src: &Scalar) {
        let (lo, hi) = (src.umin, src.umax);
        // Shifting by exactly 32 moves the s32 range into the upper half unchanged.
        if lo == 32 && hi == 32 {
            self.smax = (self.s32_max as i64).wrapping_shl(32);
            self.smin = (self.s32_min as i64).wrapping_shl(32);
        } else {
            (self.smin, self.smax) = (i64::MIN, i64::MAX);
        }
        if self.umax > 1u64.wrapping_shl(63u64.wrapping_sub(hi) as u32) {
            (self.umin, self.umax) = (0, u64::MAX);
        } else {
            self.umin = self.umin.wrapping_shl(lo as u32);
            self.umax = self.umax.wrapping_shl(hi as u32);
        }
        self.lsh32_bounds(lo, hi);
        self.var_off = self.var_off.lshift(lo as u8);
        self.update_bounds();
    }

    fn rsh32(&mut self, src: &Scalar) {
        let (lo, hi) = (src.u32_min, src.u32_max);
        let sub = self.var_off.subreg();
        (self.s32_min, self.s32_max) = (i32::MIN, i32::MAX);
        self.var_off = sub.rshift(lo as u8);
        self.u32_min = self.u32_min.wrapping_shr(hi);
        self.u32_max = self.u32_max.wrapping_shr(lo);
        self.mark_unbounded64();
        self.update_bounds32();
    }

    fn rsh64(&mut self, src: &Scalar) {
        let (lo, hi) = (src.umin, src.umax);
        (self.smin, self.smax) = (i64::MIN, i64::MAX);
        self.var_off = self.var_off.rshift(lo as u8);
        self.umin = self.umin.wrapping_shr(hi as u32);
        self.umax = self.umax.wrapping_shr(lo as u32);
        self.mark_unbounded32();
        self.update_bounds();
    }

    fn arsh32(&mut self, src: &Scalar) {
        let sh = src.u32_min;
        self.s32_min = self.s32_min.wrapping_shr(sh);
        self.s32_max = self.s32_max.wrapping_shr(sh);
        self.var_off = self.var_off.subreg().arshift(sh as u8, 32);
        (self.u32_min, self.u32_max) = (0, u32::MAX);
        self.mark_unbounded64();
        self.update_bounds32();
    }

    fn arsh64(&mut self, src: &Scalar) {
        let sh = src.umin;
        self.smin = self.smin.wrapping_shr(sh as u32);
        self.smax = self.smax.wrapping_shr(sh as u32);
        self.var_off = self.var_off.arshift(sh as u8, 64);
        (self.umin, self.umax) = (0, u64::MAX);
        self.mark_unbounded32();
        self.update_bounds();
    }
}

/// True when the `BPF_END` form swaps bytes on a little-endian host (`bswap*`, `be*`);
/// `le*` only truncates (16/32) or does nothing (64).
pub const fn endian_swaps(op: EndianOp) -> bool {
    matches!(op, EndianOp::Bswap | EndianOp::ToBe)
}

/// True when the `BPF_END` instruction changes the register at all on a little-endian
/// host; the kernel then breaks the register's scalar links (clears its id). Only `le64`
/// is a no-op.
pub const fn endian_changes_value(op: EndianOp, bits: u8) -> bool {
    endian_swaps(op) || bits == 16 || bits == 32
}

/// The kernel's `is_safe_to_compute_dst_reg_range`: which ops get bounds at all.
fn safe_to_compute(op: AluOp, width: Width, src: &Scalar) -> bool {
    let bits: u64 = match width {
        Width::W32 => 32,
        Width::W64 => 64,
    };
    match op {
        AluOp::Add | AluOp::Sub | AluOp::And | AluOp::Xor | AluOp::Or | AluOp::Mul => true,
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => {
            let src_const = match width {
                Width::W32 => {
                    src.subreg_is_const()
                        && src.s32_min == src.s32_max
                        && src.u32_min == src.u32_max
                }
                Width::W64 => src.is_const() && src.smin == src.smax && src.umin == src.umax,
            };
            src_const && src.umax < bits
        }
        AluOp::Div | AluOp::Sdiv | AluOp::Mod | AluOp::Smod | AluOp::Mov => false,
    }
}
