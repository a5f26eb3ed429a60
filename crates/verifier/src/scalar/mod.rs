//! The scalar abstract domain: what the verifier knows about a number held in a register
//! or a stack slot. A [`Scalar`] pairs a [`Tnum`] (per-bit knowledge) with four intervals —
//! signed and unsigned, 64-bit and for the low 32 bits (the "subregister") — exactly as
//! the Linux 6.18 verifier's `bpf_reg_state` does for `SCALAR_VALUE` registers.
//!
//! The five views constrain each other; [`Scalar::sync`] (the kernel's `reg_bounds_sync`)
//! propagates knowledge between them and is applied by every transfer function where the
//! kernel applies it. Results are meant to be bit-identical to the kernel's, because the
//! verifier log prints them (see [`Scalar::fmt_kernel`]).
//!
//! Submodules: `sync` (bound propagation), `alu` (arithmetic transfer functions),
//! `coerce` (truncation, sign and zero extension), `branch` (conditional jumps), `fmt`
//! (log formatting).

mod alu;
mod branch;
mod coerce;
mod fmt;
mod sync;

pub use alu::{endian_changes_value, endian_swaps, imm_shift_is_valid};
pub use branch::{RefineOutcome, branch_taken, flip, refine, refine_detailed, refine_same_reg};
pub use fmt::{ConstFmt, RangesFmt, ValueFmt};
pub use sync::{Violation, ViolationKind};

use crate::tnum::Tnum;

/// Knowledge about a 64-bit scalar: a tnum plus signed/unsigned bounds of the full value
/// and of its low 32 bits. Every concrete value the scalar stands for satisfies all nine
/// constraints at once.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scalar {
    /// Per-bit knowledge.
    pub var_off: Tnum,
    /// Signed 64-bit lower bound.
    pub smin: i64,
    /// Signed 64-bit upper bound.
    pub smax: i64,
    /// Unsigned 64-bit lower bound.
    pub umin: u64,
    /// Unsigned 64-bit upper bound.
    pub umax: u64,
    /// Signed lower bound of the low 32 bits.
    pub s32_min: i32,
    /// Signed upper bound of the low 32 bits.
    pub s32_max: i32,
    /// Unsigned lower bound of the low 32 bits.
    pub u32_min: u32,
    /// Unsigned upper bound of the low 32 bits.
    pub u32_max: u32,
}

impl Default for Scalar {
    fn default() -> Self {
        Scalar::UNKNOWN
    }
}

impl Scalar {
    /// Nothing known: unknown tnum, every bound at its type's extreme.
    pub const UNKNOWN: Scalar = Scalar {
        var_off: Tnum::UNKNOWN,
        smin: i64::MIN,
        smax: i64::MAX,
        umin: 0,
        umax: u64::MAX,
        s32_min: i32::MIN,
        s32_max: i32::MAX,
        u32_min: 0,
        u32_max: u32::MAX,
    };

    /// The known value `v` (all views exact), as the kernel's `___mark_reg_known`.
    pub const fn known(v: u64) -> Scalar {
        Scalar {
            var_off: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32_min: v as u32 as i32,
            s32_max: v as u32 as i32,
            u32_min: v as u32,
            u32_max: v as u32,
        }
    }

    /// The scalar an instruction immediate stands for: `imm` sign-extended to 64 bits
    /// (used for `BPF_K` sources of both 64- and 32-bit ALU ops and jumps).
    pub const fn from_imm(imm: i32) -> Scalar {
        Scalar::known(imm as i64 as u64)
    }

    /// A scalar known only through `var_off` (bounds derived from it by [`Scalar::sync`]).
    pub fn from_tnum(var_off: Tnum) -> Scalar {
        let mut s = Scalar {
            var_off,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// The values `min..=max` (unsigned), with every view synchronised.
    pub fn from_urange(min: u64, max: u64) -> Scalar {
        let mut s = Scalar {
            umin: min,
            umax: max,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// The values `min..=max` (signed), with every view synchronised.
    pub fn from_srange(min: i64, max: i64) -> Scalar {
        let mut s = Scalar {
            smin: min,
            smax: max,
            ..Scalar::UNKNOWN
        };
        s.sync();
        s
    }

    /// True when the tnum is fully known (the kernel's test for a known scalar; the log
    /// then prints the number instead of `scalar(...)`).
    pub const fn is_const(&self) -> bool {
        self.var_off.is_const()
    }

    /// The value when [`Scalar::is_const`].
    pub const fn const_value(&self) -> Option<u64> {
        if self.var_off.is_const() {
            Some(self.var_off.value)
        } else {
            None
        }
    }

    /// True when the low 32 bits are fully known.
    pub const fn subreg_is_const(&self) -> bool {
        self.var_off.subreg_is_const()
    }

    /// The low 32 bits when [`Scalar::subreg_is_const`].
    pub const fn subreg_const_value(&self) -> Option<u32> {
        if self.var_off.subreg_is_const() {
            Some(self.var_off.value as u32)
        } else {
            None
        }
    }

    /// The kernel's `is_reg_const(reg, subreg32)`: known in the compared width.
    pub const fn is_const_in(&self, subreg32: bool) -> bool {
        if subreg32 {
            self.subreg_is_const()
        } else {
            self.is_const()
        }
    }

    /// The kernel's `reg_const_value(reg, subreg32)` (meaningful when
    /// [`Scalar::is_const_in`]): the low 32 bits zero-extended, or the full value.
    pub const fn const_value_in(&self, subreg32: bool) -> u64 {
        if subreg32 {
            self.var_off.value & 0xffff_ffff
        } else {
            self.var_off.value
        }
    }

    /// True when nothing at all is known (the log prints `scalar()`).
    pub fn is_unknown(&self) -> bool {
        *self == Scalar::UNKNOWN
    }

    /// True when the concrete 64-bit value `v` satisfies every view (tnum and all eight
    /// bounds).
    pub const fn contains(&self, v: u64) -> bool {
        let lo = v as u32;
        self.var_off.contains_value(v)
            && self.smin <= v as i64
            && v as i64 <= self.smax
            && self.umin <= v
            && v <= self.umax
            && self.s32_min <= lo as i32
            && lo as i32 <= self.s32_max
            && self.u32_min <= lo
            && lo <= self.u32_max
    }

    /// True when every value `other` allows is allowed by `self` as far as the views show:
    /// each of `other`'s eight bounds lies within `self`'s and `self`'s tnum contains
    /// `other`'s (the kernel's `range_within` plus `tnum_in`, used when pruning states).
    pub const fn includes(&self, other: &Scalar) -> bool {
        self.umin <= other.umin
            && self.umax >= other.umax
            && self.smin <= other.smin
            && self.smax >= other.smax
            && self.u32_min <= other.u32_min
            && self.u32_max >= other.u32_max
            && self.s32_min <= other.s32_min
            && self.s32_max >= other.s32_max
            && self.var_off.contains(other.var_off)
    }

    /// The number of bits needed to hold the largest unsigned value (the kernel's
    /// `get_reg_width`, used when deciding whether a 32-bit move keeps a scalar link).
    pub const fn width_bits(&self) -> u32 {
        64 - self.umax.leading_zeros()
    }

    /// Reset all eight bounds to their extremes, keeping the tnum (`__mark_reg_unbounded`).
    pub fn mark_unbounded(&mut self) {
        self.mark_unbounded64();
        self.mark_unbounded32();
    }

    /// Reset the 64-bit bounds (`__mark_reg64_unbounded`).
    pub fn mark_unbounded64(&mut self) {
        self.smin = i64::MIN;
        self.smax = i64::MAX;
        self.umin = 0;
        self.umax = u64::MAX;
    }

    /// Reset the 32-bit bounds (`__mark_reg32_unbounded`).
    pub fn mark_unbounded32(&mut self) {
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
    }

    /// Make the low 32 bits the known value `v`, leaving the upper half of the tnum and the
    /// 64-bit bounds alone (`__mark_reg32_known`; no synchronisation).
    pub fn mark_known32(&mut self, v: u32) {
        self.var_off = self.var_off.const_subreg(v);
        self.s32_min = v as i32;
        self.s32_max = v as i32;
        self.u32_min = v;
        self.u32_max = v;
    }

    /// The fork the kernel makes before `and`/`or` with a constant (`maybe_fork_scalars`)
    /// when this destination is exactly `[-1, 0]` (signed 64-bit, or else signed 32-bit):
    /// returns `(current, pushed)` — verification continues with the value −1 and a state
    /// with the value 0 is pushed to restart at the same instruction. In the 32-bit case
    /// only the low half is set (64-bit bounds untouched, no synchronisation), as in the
    /// kernel. `None` when no fork happens. The caller checks that the source is a
    /// constant (64-bit tnum) and the op is `and`/`or`; [`Scalar::alu`] never forks.
    pub fn fork_minus_one_zero(&self) -> Option<(Scalar, Scalar)> {
        if self.smin == -1 && self.smax == 0 {
            Some((Scalar::known(u64::MAX), Scalar::known(0)))
        } else if self.s32_min == -1 && self.s32_max == 0 {
            let mut cur = *self;
            let mut pushed = *self;
            cur.mark_known32(u32::MAX);
            pushed.mark_known32(0);
            Some((cur, pushed))
        } else {
            None
        }
    }
}
