//! Scalar values: what the verifier knows about a number. Four interval pairs (signed and
//! unsigned, 64-bit and of the low 32 bits) and a tnum (known bits) describe the same value
//! and are kept consistent by [`Scalar::sync`], which applies the kernel's deductions between
//! them in its fixed order. Transfer functions (`alu`, `neg`, `endian`, `movsx`, `coerce*`)
//! follow the kernel's so that bounds, verdicts and logged values agree with it; branch
//! decisions and refinements are in `branch.rs`.
//!
//! Contract of every operation: for any concrete values described by the inputs, the
//! concrete result is described by the output (tested exhaustively and with proptests).

mod branch;

pub use branch::{branch_taken, flip, refine};

use bpfvet_isa::insn::{AluOp, EndianOp, Width};

use crate::tnum::Tnum;

/// A scalar: tnum plus signed/unsigned 64- and 32-bit bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scalar {
    pub var_off: Tnum,
    pub smin: i64,
    pub smax: i64,
    pub umin: u64,
    pub umax: u64,
    pub s32_min: i32,
    pub s32_max: i32,
    pub u32_min: u32,
    pub u32_max: u32,
}

impl Scalar {
    /// Any value.
    pub fn unknown() -> Scalar {
        Scalar {
            var_off: Tnum::UNKNOWN,
            smin: i64::MIN,
            smax: i64::MAX,
            umin: 0,
            umax: u64::MAX,
            s32_min: i32::MIN,
            s32_max: i32::MAX,
            u32_min: 0,
            u32_max: u32::MAX,
        }
    }

    /// Exactly `v`.
    pub fn constant(v: u64) -> Scalar {
        Scalar {
            var_off: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32_min: v as i32,
            s32_max: v as i32,
            u32_min: v as u32,
            u32_max: v as u32,
        }
    }

    pub fn is_const(&self) -> bool {
        self.var_off.is_const()
    }

    /// The value, when known.
    pub fn const_value(&self) -> Option<u64> {
        self.is_const().then_some(self.var_off.value)
    }

    /// The low 32 bits are known.
    pub fn subreg_is_const(&self) -> bool {
        self.var_off.subreg().is_const()
    }

    /// Every member lies within all bounds (no contradictory bounds).
    pub fn is_consistent(&self) -> bool {
        self.smin <= self.smax
            && self.umin <= self.umax
            && self.s32_min <= self.s32_max
            && self.u32_min <= self.u32_max
            && self.var_off.value & self.var_off.mask == 0
            && self.var_off.value <= self.umax
            && (self.var_off.value | self.var_off.mask) >= self.umin
    }

    /// `v` is a member.
    pub fn contains(&self, v: u64) -> bool {
        self.var_off.contains(v)
            && (self.smin..=self.smax).contains(&(v as i64))
            && (self.umin..=self.umax).contains(&v)
            && (self.s32_min..=self.s32_max).contains(&(v as i32))
            && (self.u32_min..=self.u32_max).contains(&(v as u32))
    }

    fn unbound32(&mut self) {
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
    }

    fn unbound64(&mut self) {
        self.smin = i64::MIN;
        self.smax = i64::MAX;
        self.umin = 0;
        self.umax = u64::MAX;
    }

    fn update_bounds32(&mut self) {
        let t = self.var_off.subreg();
        self.s32_min = self
            .s32_min
            .max((t.value | (t.mask & 0x8000_0000)) as u32 as i32);
        self.s32_max = self
            .s32_max
            .min((t.value | (t.mask & 0x7fff_ffff)) as u32 as i32);
        self.u32_min = self.u32_min.max(t.value as u32);
        self.u32_max = self.u32_max.min((t.value | t.mask) as u32);
    }

    fn update_bounds64(&mut self) {
        let t = self.var_off;
        self.smin = self.smin.max((t.value | (t.mask & (1 << 63))) as i64);
        self.smax = self.smax.min((t.value | (t.mask & (u64::MAX >> 1))) as i64);
        self.umin = self.umin.max(t.value);
        self.umax = self.umax.min(t.value | t.mask);
    }

    fn update_bounds(&mut self) {
        self.update_bounds32();
        self.update_bounds64();
    }

    fn deduce32(&mut self) {
        if (self.umin >> 32) == (self.umax >> 32) {
            self.u32_min = self.u32_min.max(self.umin as u32);
            self.u32_max = self.u32_max.min(self.umax as u32);
            if (self.umin as i32) <= (self.umax as i32) {
                self.s32_min = self.s32_min.max(self.umin as i32);
                self.s32_max = self.s32_max.min(self.umax as i32);
            }
        }
        if (self.smin >> 32) == (self.smax >> 32) {
            if (self.smin as u32) <= (self.smax as u32) {
                self.u32_min = self.u32_min.max(self.smin as u32);
                self.u32_max = self.u32_max.min(self.smax as u32);
            }
            if (self.smin as i32) <= (self.smax as i32) {
                self.s32_min = self.s32_min.max(self.smin as i32);
                self.s32_max = self.s32_max.min(self.smax as i32);
            }
        }
        if ((self.umin >> 32) as u32).wrapping_add(1) == (self.umax >> 32) as u32
            && (self.umin as i32) < 0
            && (self.umax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.umin as i32);
            self.s32_max = self.s32_max.min(self.umax as i32);
        }
        if ((self.smin >> 32) as u32).wrapping_add(1) == (self.smax >> 32) as u32
            && (self.smin as i32) < 0
            && (self.smax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.smin as i32);
            self.s32_max = self.s32_max.min(self.smax as i32);
        }
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.s32_min.max(self.u32_min as i32);
            self.s32_max = self.s32_max.min(self.u32_max as i32);
        }
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            self.u32_min = self.u32_min.max(self.s32_min as u32);
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if self.u32_max < self.s32_min as u32 {
            self.s32_min = self.u32_min as i32;
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if (self.s32_max as u32) < self.u32_min {
            self.s32_max = self.u32_max as i32;
            self.u32_min = self.u32_min.max(self.s32_min as u32);
        }
    }

    fn deduce64(&mut self) {
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        } else if self.umax < self.smin as u64 {
            self.smin = self.umin as i64;
            self.umax = self.umax.min(self.smax as u64);
        } else if (self.smax as u64) < self.umin {
            self.smax = self.umax as i64;
            self.umin = self.umin.max(self.smin as u64);
        }
    }

    fn deduce_mixed(&mut self) {
        const HI: u64 = !0xffff_ffffu64;
        let new_umin = (self.umin & HI) | u64::from(self.u32_min);
        let new_umax = (self.umax & HI) | u64::from(self.u32_max);
        self.umin = self.umin.max(new_umin);
        self.umax = self.umax.min(new_umax);
        let new_smin = ((self.smin as u64 & HI) | u64::from(self.u32_min)) as i64;
        let new_smax = ((self.smax as u64 & HI) | u64::from(self.u32_max)) as i64;
        self.smin = self.smin.max(new_smin);
        self.smax = self.smax.min(new_smax);
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            let lo = u64::from(self.s32_min as u32);
            let hi = u64::from(self.s32_max as u32);
            let new_umin = (self.umin & HI) | lo;
            let new_umax = (self.umax & HI) | hi;
            self.umin = self.umin.max(new_umin);
            self.umax = self.umax.min(new_umax);
            let new_smin = ((self.smin as u64 & HI) | lo) as i64;
            let new_smax = ((self.smax as u64 & HI) | hi) as i64;
            self.smin = self.smin.max(new_smin);
            self.smax = self.smax.min(new_smax);
        }
        if self.s32_min >= 0 && self.smin >= i64::from(i32::MIN) && self.smax <= i64::from(i32::MAX)
        {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
            self.umin = self.s32_min as u64;
            self.umax = self.s32_max as u64;
            self.var_off = self
                .var_off
                .intersect(Tnum::range(self.smin as u64, self.smax as u64));
        }
    }

    fn deduce(&mut self) {
        self.deduce32();
        self.deduce64();
        self.deduce_mixed();
    }

    fn bound_offset(&mut self) {
        let v64 = self.var_off.intersect(Tnum::range(self.umin, self.umax));
        let v32 = v64.subreg().intersect(Tnum::range(
            u64::from(self.u32_min),
            u64::from(self.u32_max),
        ));
        self.var_off = v64.clear_subreg().or(v32);
    }

    /// The kernel's `reg_bounds_sync`: bounds from the tnum, the 32/64 and signed/unsigned
    /// deductions, the tnum from the bounds, and bounds again.
    pub fn sync(mut self) -> Scalar {
        self.update_bounds();
        self.deduce();
        self.deduce();
        self.deduce();
        self.bound_offset();
        self.update_bounds();
        self
    }

    /// The low 32 bits, zero-extended (`zext_32_to_64`).
    pub fn zext32(mut self) -> Scalar {
        self.var_off = self.var_off.subreg();
        self.assign_32_into_64();
        self.sync()
    }

    fn assign_32_into_64(&mut self) {
        self.umin = u64::from(self.u32_min);
        self.umax = u64::from(self.u32_max);
        if self.s32_min >= 0 && self.s32_max >= 0 {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
        } else {
            self.smin = 0;
            self.smax = i64::from(u32::MAX);
        }
    }

    /// A zero-extending load of `size` bytes (`coerce_reg_to_size`).
    pub fn coerce(mut self, size: u32) -> Scalar {
        if size >= 8 {
            return self;
        }
        self.var_off = self.var_off.cast(size);
        let mask = (1u64 << (size * 8)) - 1;
        if (self.umin & !mask) == (self.umax & !mask) {
            self.umin &= mask;
            self.umax &= mask;
        } else {
            self.umin = 0;
            self.umax = mask;
        }
        self.smin = self.umin as i64;
        self.smax = self.umax as i64;
        if size < 4 {
            self.unbound32();
        }
        self.sync()
    }

    /// A sign-extending load or 64-bit `movsx` from `size` bytes (`coerce_reg_to_size_sx`).
    pub fn coerce_sx(mut self, size: u32) -> Scalar {
        let sx = |v: u64| -> i64 {
            match size {
                1 => v as i8 as i64,
                2 => v as i16 as i64,
                _ => v as i32 as i64,
            }
        };
        if let Some(v) = self.const_value() {
            return Scalar::constant(sx(v) as u64);
        }
        let bits = size * 8;
        let top_max = ((self.smax as u64) >> bits) << bits;
        let top_min = ((self.smin as u64) >> bits) << bits;
        if top_max == top_min {
            let a = sx(self.smax as u64);
            let b = sx(self.smin as u64);
            let (lo, hi) = (a.min(b), a.max(b));
            if (hi >= 0) == (lo >= 0) {
                self.smin = lo;
                self.smax = hi;
                self.s32_min = lo as i32;
                self.s32_max = hi as i32;
                self.umin = lo as u64;
                self.umax = hi as u64;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(lo as u64, hi as u64);
                return self;
            }
        }
        let (lo, hi) = match size {
            1 => (i64::from(i8::MIN), i64::from(i8::MAX)),
            2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
            _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
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

    /// 32-bit `movsx` from `size` bytes (`coerce_subreg_to_size_sx`), then zero-extended.
    pub fn coerce_subreg_sx(mut self, size: u32) -> Scalar {
        let sx = |v: u32| -> i32 {
            match size {
                1 => v as i8 as i32,
                _ => v as i16 as i32,
            }
        };
        if self.is_const() {
            let v = sx(self.var_off.value as u32) as u32;
            return Scalar::constant(u64::from(v));
        }
        let bits = size * 8;
        let top_max = ((self.s32_max as u32) >> bits) << bits;
        let top_min = ((self.s32_min as u32) >> bits) << bits;
        let mut done = false;
        if top_max == top_min {
            let a = sx(self.s32_max as u32);
            let b = sx(self.s32_min as u32);
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.s32_min = lo;
                self.s32_max = hi;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(lo as u32 as u64, hi as u32 as u64).subreg();
                done = true;
            }
        }
        if !done {
            let (lo, hi) = if size == 1 {
                (i32::from(i8::MIN), i32::from(i8::MAX))
            } else {
                (i32::from(i16::MIN), i32::from(i16::MAX))
            };
            self.s32_min = lo;
            self.s32_max = hi;
            self.u32_min = 0;
            self.u32_max = u32::MAX;
            self.var_off = Tnum::UNKNOWN.subreg();
        }
        self.zext32()
    }

    /// `movsx`: sign-extension from `bits` of the source, 64- or 32-bit.
    pub fn movsx(self, width: Width, bits: u8) -> Scalar {
        let size = u32::from(bits / 8);
        match width {
            Width::W64 => self.coerce_sx(size),
            Width::W32 => self.coerce_subreg_sx(size),
        }
    }

    /// Two's complement negation (range-tracked as in 6.18).
    pub fn neg(self, width: Width) -> Scalar {
        let zero = Scalar::constant(0);
        zero.alu(AluOp::Sub, width, self)
    }

    /// Byte swaps: the known bits move with their bytes (exact on the tnum), bounds follow.
    pub fn endian(self, op: EndianOp, bits: u8) -> Scalar {
        let size = u32::from(bits / 8);
        let swap = |v: u64| -> u64 {
            match size {
                2 => u64::from((v as u16).swap_bytes()),
                4 => u64::from((v as u32).swap_bytes()),
                _ => v.swap_bytes(),
            }
        };
        let keep = |v: u64| -> u64 {
            match size {
                2 => u64::from(v as u16),
                4 => u64::from(v as u32),
                _ => v,
            }
        };
        // Little-endian host: to_le only truncates; to_be and bswap swap.
        let f: &dyn Fn(u64) -> u64 = match op {
            EndianOp::ToLe => &keep,
            EndianOp::ToBe | EndianOp::Bswap => &swap,
        };
        let mut s = Scalar::unknown();
        s.var_off = Tnum {
            value: f(self.var_off.value),
            mask: f(self.var_off.mask),
        };
        s.sync()
    }

    /// `dst = dst OP src` for a scalar `src` (`adjust_scalar_min_max_vals`); `width` W32 is
    /// the 32-bit ALU (result zero-extended).
    pub fn alu(self, op: AluOp, width: Width, src: Scalar) -> Scalar {
        let alu32 = width == Width::W32;
        if op == AluOp::Mov {
            return if alu32 { src.zext32() } else { src };
        }
        let src_const = if alu32 {
            src.var_off.subreg().is_const()
                && src.s32_min == src.s32_max
                && src.u32_min == src.u32_max
        } else {
            src.var_off.is_const() && src.smin == src.smax && src.umin == src.umax
        };
        let bitness = if alu32 { 32 } else { 64 };
        let safe = match op {
            AluOp::Add | AluOp::Sub | AluOp::And | AluOp::Xor | AluOp::Or | AluOp::Mul => true,
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => src_const && src.umax < bitness,
            _ => false,
        };
        if !safe {
            return Scalar::unknown();
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
            _ => return Scalar::unknown(),
        }
        if alu32 {
            d.var_off = d.var_off.subreg();
            d.assign_32_into_64();
        }
        d.sync()
    }

    fn add32(&mut self, s: &Scalar) {
        match (
            self.s32_min.checked_add(s.s32_min),
            self.s32_max.checked_add(s.s32_max),
        ) {
            (Some(a), Some(b)) => {
                self.s32_min = a;
                self.s32_max = b;
            }
            _ => {
                self.s32_min = i32::MIN;
                self.s32_max = i32::MAX;
            }
        }
        match (
            self.u32_min.checked_add(s.u32_min),
            self.u32_max.checked_add(s.u32_max),
        ) {
            (Some(a), Some(b)) => {
                self.u32_min = a;
                self.u32_max = b;
            }
            _ => {
                self.u32_min = 0;
                self.u32_max = u32::MAX;
            }
        }
    }

    fn add64(&mut self, s: &Scalar) {
        match (self.smin.checked_add(s.smin), self.smax.checked_add(s.smax)) {
            (Some(a), Some(b)) => {
                self.smin = a;
                self.smax = b;
            }
            _ => {
                self.smin = i64::MIN;
                self.smax = i64::MAX;
            }
        }
        match (self.umin.checked_add(s.umin), self.umax.checked_add(s.umax)) {
            (Some(a), Some(b)) => {
                self.umin = a;
                self.umax = b;
            }
            _ => {
                self.umin = 0;
                self.umax = u64::MAX;
            }
        }
    }

    fn sub32(&mut self, s: &Scalar) {
        match (
            self.s32_min.checked_sub(s.s32_max),
            self.s32_max.checked_sub(s.s32_min),
        ) {
            (Some(a), Some(b)) => {
                self.s32_min = a;
                self.s32_max = b;
            }
            _ => {
                self.s32_min = i32::MIN;
                self.s32_max = i32::MAX;
            }
        }
        if self.u32_min < s.u32_max {
            self.u32_min = 0;
            self.u32_max = u32::MAX;
        } else {
            self.u32_min -= s.u32_max;
            self.u32_max -= s.u32_min;
        }
    }

    fn sub64(&mut self, s: &Scalar) {
        match (self.smin.checked_sub(s.smax), self.smax.checked_sub(s.smin)) {
            (Some(a), Some(b)) => {
                self.smin = a;
                self.smax = b;
            }
            _ => {
                self.smin = i64::MIN;
                self.smax = i64::MAX;
            }
        }
        if self.umin < s.umax {
            self.umin = 0;
            self.umax = u64::MAX;
        } else {
            self.umin -= s.umax;
            self.umax -= s.umin;
        }
    }

    fn mul32(&mut self, s: &Scalar) {
        if s.s32_min < 0 || self.s32_min < 0 {
            self.unbound32();
            return;
        }
        if s.u32_max > u32::from(u16::MAX) || self.u32_max > u32::from(u16::MAX) {
            self.unbound32();
            return;
        }
        self.u32_min = self.u32_min.wrapping_mul(s.u32_min);
        self.u32_max = self.u32_max.wrapping_mul(s.u32_max);
        if self.u32_max > i32::MAX as u32 {
            self.s32_min = i32::MIN;
            self.s32_max = i32::MAX;
        } else {
            self.s32_min = self.u32_min as i32;
            self.s32_max = self.u32_max as i32;
        }
    }

    fn mul64(&mut self, s: &Scalar) {
        if s.smin < 0 || self.smin < 0 {
            self.unbound64();
            return;
        }
        if s.umax > u64::from(u32::MAX) || self.umax > u64::from(u32::MAX) {
            self.unbound64();
            return;
        }
        self.umin = self.umin.wrapping_mul(s.umin);
        self.umax = self.umax.wrapping_mul(s.umax);
        if self.umax > i64::MAX as u64 {
            self.smin = i64::MIN;
            self.smax = i64::MAX;
        } else {
            self.smin = self.umin as i64;
            self.smax = self.umax as i64;
        }
    }

    fn signed_from_unsigned32(&mut self) {
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.u32_min as i32;
            self.s32_max = self.u32_max as i32;
        } else {
            self.s32_min = i32::MIN;
            self.s32_max = i32::MAX;
        }
    }

    fn signed_from_unsigned64(&mut self) {
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.umin as i64;
            self.smax = self.umax as i64;
        } else {
            self.smin = i64::MIN;
            self.smax = i64::MAX;
        }
    }

    fn known32(&mut self, v: u32) {
        self.var_off = self.var_off.with_subreg(Tnum::constant(u64::from(v)));
        self.s32_min = v as i32;
        self.s32_max = v as i32;
        self.u32_min = v;
        self.u32_max = v;
    }

    fn and32(&mut self, s: &Scalar) {
        let t = self.var_off.subreg();
        if s.subreg_is_const() && self.subreg_is_const() {
            self.known32(t.value as u32);
            return;
        }
        self.u32_min = t.value as u32;
        self.u32_max = self.u32_max.min(s.u32_max);
        self.signed_from_unsigned32();
    }

    fn and64(&mut self, s: &Scalar) {
        if s.is_const() && self.is_const() {
            *self = self.with_known64(self.var_off.value);
            return;
        }
        self.umin = self.var_off.value;
        self.umax = self.umax.min(s.umax);
        self.signed_from_unsigned64();
        self.update_bounds();
    }

    fn or32(&mut self, s: &Scalar) {
        let t = self.var_off.subreg();
        if s.subreg_is_const() && self.subreg_is_const() {
            self.known32(t.value as u32);
            return;
        }
        self.u32_min = self.u32_min.max(s.u32_min);
        self.u32_max = (t.value | t.mask) as u32;
        self.signed_from_unsigned32();
    }

    fn or64(&mut self, s: &Scalar) {
        if s.is_const() && self.is_const() {
            *self = self.with_known64(self.var_off.value);
            return;
        }
        self.umin = self.umin.max(s.umin);
        self.umax = self.var_off.value | self.var_off.mask;
        self.signed_from_unsigned64();
        self.update_bounds();
    }

    fn xor32(&mut self, s: &Scalar) {
        let t = self.var_off.subreg();
        if s.subreg_is_const() && self.subreg_is_const() {
            self.known32(t.value as u32);
            return;
        }
        self.u32_min = t.value as u32;
        self.u32_max = (t.value | t.mask) as u32;
        self.signed_from_unsigned32();
    }

    fn xor64(&mut self, s: &Scalar) {
        if s.is_const() && self.is_const() {
            *self = self.with_known64(self.var_off.value);
            return;
        }
        self.umin = self.var_off.value;
        self.umax = self.var_off.value | self.var_off.mask;
        self.signed_from_unsigned64();
        self.update_bounds();
    }

    /// `__mark_reg_known`, keeping nothing else.
    fn with_known64(&self, v: u64) -> Scalar {
        Scalar::constant(v)
    }

    fn lsh32_bounds(&mut self, umin: u64, umax: u64) {
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        if umax > 31 || u64::from(self.u32_max) > 1u64 << (31 - umax) {
            self.u32_min = 0;
            self.u32_max = u32::MAX;
        } else {
            self.u32_min <<= umin;
            self.u32_max <<= umax;
        }
    }

    fn lsh32(&mut self, s: &Scalar) {
        let (umin, umax) = (u64::from(s.u32_min), u64::from(s.u32_max));
        let sub = self.var_off.subreg();
        self.lsh32_bounds(umin, umax);
        self.var_off = sub.lshift(umin as u32).subreg();
        self.unbound64();
        self.update_bounds32();
    }

    fn lsh64(&mut self, s: &Scalar) {
        let (umin, umax) = (s.umin, s.umax);
        if umin == 32 && umax == 32 {
            self.smax = i64::from(self.s32_max) << 32;
            self.smin = i64::from(self.s32_min) << 32;
        } else {
            self.smax = i64::MAX;
            self.smin = i64::MIN;
        }
        if self.umax > 1u64 << (63 - umax) {
            self.umin = 0;
            self.umax = u64::MAX;
        } else {
            self.umin <<= umin;
            self.umax <<= umax;
        }
        self.lsh32_bounds(umin, umax);
        self.var_off = self.var_off.lshift(umin as u32);
        self.update_bounds();
    }

    fn rsh32(&mut self, s: &Scalar) {
        let sub = self.var_off.subreg();
        let (umin, umax) = (s.u32_min, s.u32_max);
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        self.var_off = sub.rshift(umin);
        self.u32_min >>= umax;
        self.u32_max >>= umin;
        self.unbound64();
        self.update_bounds32();
    }

    fn rsh64(&mut self, s: &Scalar) {
        let (umin, umax) = (s.umin, s.umax);
        self.smin = i64::MIN;
        self.smax = i64::MAX;
        self.var_off = self.var_off.rshift(umin as u32);
        self.umin >>= umax;
        self.umax >>= umin;
        self.unbound32();
        self.update_bounds();
    }

    fn arsh32(&mut self, s: &Scalar) {
        let umin = s.u32_min;
        self.s32_min >>= umin;
        self.s32_max >>= umin;
        self.var_off = self.var_off.subreg().arshift(umin, true);
        self.u32_min = 0;
        self.u32_max = u32::MAX;
        self.unbound64();
        self.update_bounds32();
    }

    fn arsh64(&mut self, s: &Scalar) {
        let umin = s.umin as u32;
        self.smin >>= umin;
        self.smax >>= umin;
        self.var_off = self.var_off.arshift(umin, false);
        self.umin = 0;
        self.umax = u64::MAX;
        self.unbound32();
        self.update_bounds();
    }
}

#[cfg(test)]
mod tests;
