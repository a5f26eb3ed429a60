//! Bound propagation between the five views of a [`Scalar`] (the kernel's
//! `reg_bounds_sync` and its helpers), and the invariant check the kernel runs after
//! ALU ops, loads and branch refinement (`reg_bounds_sanity_check`).

use std::fmt;

use super::Scalar;
use crate::tnum::{Hex, Tnum};

const LOW32: u64 = 0xffff_ffff;

impl Scalar {
    /// Propagate knowledge between the tnum and the four intervals, in the kernel's fixed
    /// order: bounds from the tnum; three rounds of 32-bit, 64-bit and mixed deduction;
    /// tnum from the unsigned bounds; bounds from the tnum again. Sound: every concrete
    /// value satisfying all views before still does after.
    pub fn sync(&mut self) {
        self.update_bounds();
        self.deduce_bounds();
        self.deduce_bounds();
        self.deduce_bounds();
        self.bound_offset();
        self.update_bounds();
    }

    /// [`Scalar::sync`] by value.
    #[must_use]
    pub fn synced(mut self) -> Scalar {
        self.sync();
        self
    }

    /// Tighten all bounds from the tnum (`__update_reg_bounds`): 32-bit first, then
    /// 64-bit, which also collapses the scalar to a constant when the unsigned range and
    /// the tnum share exactly one value.
    pub fn update_bounds(&mut self) {
        self.update_bounds32();
        self.update_bounds64();
    }

    /// Tighten the 32-bit bounds from the low half of the tnum.
    pub(crate) fn update_bounds32(&mut self) {
        let t = self.var_off.subreg();
        let (v, m) = (t.value as u32, t.mask as u32);
        self.s32_min = self.s32_min.max((v | (m & 0x8000_0000)) as i32);
        self.s32_max = self.s32_max.min((v | (m & 0x7fff_ffff)) as i32);
        self.u32_min = self.u32_min.max(v);
        self.u32_max = self.u32_max.min(v | m);
    }

    /// Tighten the 64-bit bounds from the tnum, then detect a single common member of the
    /// unsigned range and the tnum and make the whole scalar that constant.
    pub(crate) fn update_bounds64(&mut self) {
        let Tnum { value: v, mask: m } = self.var_off;
        self.smin = self.smin.max((v | (m & (1 << 63))) as i64);
        self.smax = self.smax.min((v | (m & !(1 << 63))) as i64);
        self.umin = self.umin.max(v);
        self.umax = self.umax.min(v | m);

        let next = self.var_off.step(self.umin);
        let umin_member = self.var_off.contains_value(self.umin);
        let tmax = v | m;
        if umin_member && next > self.umax {
            // Only umin itself lies in both.
            *self = Scalar::known(self.umin);
        } else if !umin_member && next == tmax {
            // Only the tnum's largest member can be in range.
            *self = Scalar::known(tmax);
        } else if !umin_member && next <= self.umax && self.var_off.step(next) > self.umax {
            // Exactly one member strictly between umin and umax.
            *self = Scalar::known(next);
        }
    }

    /// One round of cross-deduction between the intervals (`__reg_deduce_bounds`).
    pub(crate) fn deduce_bounds(&mut self) {
        self.deduce32();
        self.deduce64();
        self.deduce_mixed();
    }

    /// 32-bit bounds from the 64-bit ones, then signed/unsigned 32-bit exchange.
    fn deduce32(&mut self) {
        // Upper halves equal over the whole u64 range: the low halves form a range.
        if self.umin >> 32 == self.umax >> 32 {
            self.u32_min = self.u32_min.max(self.umin as u32);
            self.u32_max = self.u32_max.min(self.umax as u32);
            if (self.umin as i32) <= (self.umax as i32) {
                self.s32_min = self.s32_min.max(self.umin as i32);
                self.s32_max = self.s32_max.min(self.umax as i32);
            }
        }
        if self.smin >> 32 == self.smax >> 32 {
            if (self.smin as u32) <= (self.smax as u32) {
                self.u32_min = self.u32_min.max(self.smin as u32);
                self.u32_max = self.u32_max.min(self.smax as u32);
            }
            if (self.smin as i32) <= (self.smax as i32) {
                self.s32_min = self.s32_min.max(self.smin as i32);
                self.s32_max = self.s32_max.min(self.smax as i32);
            }
        }
        // Upper halves consecutive and the low halves running from negative to
        // non-negative: still a valid s32 range.
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
        // u32 range not crossing the s32 sign boundary: it is also an s32 range.
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.s32_min.max(self.u32_min as i32);
            self.s32_max = self.s32_max.min(self.u32_max as i32);
        }
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            self.u32_min = self.u32_min.max(self.s32_min as u32);
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if self.u32_max < self.s32_min as u32 {
            // The s32 range wraps; the u32 range only meets its non-negative part.
            self.s32_min = self.u32_min as i32;
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if (self.s32_max as u32) < self.u32_min {
            // ... or only its negative part.
            self.s32_max = self.u32_max as i32;
            self.u32_min = self.u32_min.max(self.s32_min as u32);
        }
    }

    /// Signed/unsigned 64-bit exchange.
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

    /// 64-bit bounds from the 32-bit ones (`__reg_deduce_mixed_bounds`).
    fn deduce_mixed(&mut self) {
        // Splice the u32 bounds into the low halves of the 64-bit bounds.
        let new_umin = (self.umin & !LOW32) | self.u32_min as u64;
        let new_umax = (self.umax & !LOW32) | self.u32_max as u64;
        self.umin = self.umin.max(new_umin);
        self.umax = self.umax.min(new_umax);
        let new_smin = ((self.smin as u64 & !LOW32) | self.u32_min as u64) as i64;
        let new_smax = ((self.smax as u64 & !LOW32) | self.u32_max as u64) as i64;
        self.smin = self.smin.max(new_smin);
        self.smax = self.smax.min(new_smax);

        // Likewise with the s32 bounds when they form a valid u32 range.
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            let lo = self.s32_min as u32 as u64;
            let hi = self.s32_max as u32 as u64;
            let new_umin = (self.umin & !LOW32) | lo;
            let new_umax = (self.umax & !LOW32) | hi;
            self.umin = self.umin.max(new_umin);
            self.umax = self.umax.min(new_umax);
            let new_smin = ((self.smin as u64 & !LOW32) | lo) as i64;
            let new_smax = ((self.smax as u64 & !LOW32) | hi) as i64;
            self.smin = self.smin.max(new_smin);
            self.smax = self.smax.min(new_smax);
        }

        // A non-negative low half and a 64-bit range within s32: the upper half must be
        // zero (all-ones would put the value below S32_MIN).
        if self.s32_min >= 0 && self.smin >= i32::MIN as i64 && self.smax <= i32::MAX as i64 {
            self.smin = self.s32_min as i64;
            self.smax = self.s32_max as i64;
            self.umin = self.s32_min as u64;
            self.umax = self.s32_max as i64 as u64;
            self.var_off = self
                .var_off
                .intersect(Tnum::range(self.smin as u64, self.smax as u64));
        }
    }

    /// Tighten the tnum from the unsigned bounds (`__reg_bound_offset`).
    pub(crate) fn bound_offset(&mut self) {
        let t64 = self.var_off.intersect(Tnum::range(self.umin, self.umax));
        let t32 = t64
            .subreg()
            .intersect(Tnum::range(self.u32_min as u64, self.u32_max as u64));
        self.var_off = t64.clear_subreg().or(t32);
    }

    /// The kernel's invariant check: every interval non-empty, and a constant tnum (or
    /// constant low half) equal to the bounds. `Ok` when consistent.
    pub fn check_invariants(&self) -> Result<(), ViolationKind> {
        if self.umin > self.umax
            || self.smin > self.smax
            || self.u32_min > self.u32_max
            || self.s32_min > self.s32_max
        {
            return Err(ViolationKind::Range);
        }
        if let Some(v) = self.const_value()
            && (self.umin != v || self.umax != v || self.smin != v as i64 || self.smax != v as i64)
        {
            return Err(ViolationKind::ConstTnum);
        }
        if let Some(v) = self.subreg_const_value()
            && (self.u32_min != v
                || self.u32_max != v
                || self.s32_min != v as i32
                || self.s32_max != v as i32)
        {
            return Err(ViolationKind::ConstSubregTnum);
        }
        Ok(())
    }

    /// Run the invariant check the way the kernel does after an operation: on violation
    /// the bounds are reset (tnum kept) and the violation is returned so the caller can
    /// log it (see [`Violation`]'s `Display`).
    pub fn sanity_check(&mut self) -> Option<Violation> {
        match self.check_invariants() {
            Ok(()) => None,
            Err(kind) => {
                let v = Violation { kind, state: *self };
                self.mark_unbounded();
                Some(v)
            }
        }
    }
}

/// What [`Scalar::check_invariants`] found wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ViolationKind {
    /// An interval with min > max.
    Range,
    /// A constant tnum that disagrees with the 64-bit bounds.
    ConstTnum,
    /// A constant low half that disagrees with the 32-bit bounds.
    ConstSubregTnum,
}

impl ViolationKind {
    /// The kernel's wording.
    pub const fn message(self) -> &'static str {
        match self {
            ViolationKind::Range => "range bounds violation",
            ViolationKind::ConstTnum => "const tnum out of sync with range bounds",
            ViolationKind::ConstSubregTnum => "const subreg tnum out of sync with range bounds",
        }
    }
}

/// An invariant violation and the offending state, as found by [`Scalar::sanity_check`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Violation {
    /// What is wrong.
    pub kind: ViolationKind,
    /// The state before the bounds were reset.
    pub state: Scalar,
}

/// The body of the kernel's message, after `REG INVARIANTS VIOLATION (<ctx>): `:
/// `<reason> u64=[..] s64=[..] u32=[..] s32=[..] var_off=(.., ..)` with every number in
/// `%#x` form (signed values as their two's-complement bit patterns).
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.state;
        write!(
            f,
            "{} u64=[{}, {}] s64=[{}, {}] u32=[{}, {}] s32=[{}, {}] var_off=({}, {})",
            self.kind.message(),
            Hex(s.umin),
            Hex(s.umax),
            Hex(s.smin as u64),
            Hex(s.smax as u64),
            Hex(s.u32_min as u64),
            Hex(s.u32_max as u64),
            Hex(s.s32_min as u32 as u64),
            Hex(s.s32_max as u32 as u64),
            Hex(s.var_off.value),
            Hex(s.var_off.mask),
        )
    }
}
