//! Scalars in the verifier log's words (Linux 6.18 `print_reg_state` for scalars and
//! `print_scalar_ranges`): a constant prints as a number (`5`, `-3`, `0x10000`), anything
//! else as `scalar(<bounds>,var_off=(..; ..))` with bounds at their type's extreme left
//! out and equal bounds merged (`smin=umin=5`).

use std::fmt;

use super::Scalar;
use crate::tnum::{fmt_snum, fmt_unum};

impl Scalar {
    /// The text the kernel prints inside `scalar(...)` (without any `id=` prefix, which
    /// belongs to the register, not the value): the non-extreme bounds in the order smin,
    /// smax, umin, umax, smin32, smax32, umin32, umax32 — each followed by the names of
    /// later bounds of the same kind (min or max) with the same value and sign, which are
    /// then skipped — and `var_off=(value; mask)` unless the tnum is fully unknown. Empty
    /// for [`Scalar::UNKNOWN`]. Example: `smin=smin32=0,smax=umax=smax32=umax32=255,
    /// var_off=(0x0; 0xff)`.
    pub fn fmt_kernel(&self) -> RangesFmt<'_> {
        RangesFmt(self)
    }

    /// How the kernel prints a known scalar: decimal within `i16` (`5`, `-3`), otherwise
    /// the 64-bit pattern in hex (`0x10000`, `0xfffffffffffe7960`). Meaningful when
    /// [`Scalar::is_const`].
    pub fn fmt_const(&self) -> ConstFmt {
        ConstFmt(self.var_off.value)
    }

    /// The whole value as the log prints it after `R1=` (before any precision `P`):
    /// [`Scalar::fmt_const`] for constants, else `scalar(` [`Scalar::fmt_kernel`] `)`.
    pub fn fmt_value(&self) -> ValueFmt<'_> {
        ValueFmt(self)
    }
}

/// A scalar displays as [`Scalar::fmt_value`]: `5`, `-3` or `scalar(...)`.
impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_value().fmt(f)
    }
}

/// Display adapter for [`Scalar::fmt_kernel`].
pub struct RangesFmt<'a>(&'a Scalar);

/// Display adapter for [`Scalar::fmt_const`].
pub struct ConstFmt(u64);

/// Display adapter for [`Scalar::fmt_value`].
pub struct ValueFmt<'a>(&'a Scalar);

impl fmt::Display for ConstFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_snum(f, self.0 as i64)
    }
}

impl fmt::Display for ValueFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_const() {
            self.0.fmt_const().fmt(f)
        } else {
            write!(f, "scalar({})", self.0.fmt_kernel())
        }
    }
}

/// One printable bound.
#[derive(Clone, Copy)]
struct Bound {
    name: &'static str,
    /// The value as the kernel stores it for printing: 32-bit signed bounds are
    /// sign-extended when they print in decimal, zero-extended when in hex.
    val: u64,
    signed: bool,
    omit: bool,
}

impl fmt::Display for RangesFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let s32 = |v: i32| -> u64 {
            if (i16::MIN as i32..=i16::MAX as i32).contains(&v) {
                v as i64 as u64
            } else {
                v as u32 as u64
            }
        };
        let mut b = [
            Bound {
                name: "smin",
                val: s.smin as u64,
                signed: true,
                omit: s.smin == i64::MIN,
            },
            Bound {
                name: "smax",
                val: s.smax as u64,
                signed: true,
                omit: s.smax == i64::MAX,
            },
            Bound {
                name: "umin",
                val: s.umin,
                signed: false,
                omit: s.umin == 0,
            },
            Bound {
                name: "umax",
                val: s.umax,
                signed: false,
                omit: s.umax == u64::MAX,
            },
            Bound {
                name: "smin32",
                val: s32(s.s32_min),
                signed: true,
                omit: s.s32_min == i32::MIN,
            },
            Bound {
                name: "smax32",
                val: s32(s.s32_max),
                signed: true,
                omit: s.s32_max == i32::MAX,
            },
            Bound {
                name: "umin32",
                val: s.u32_min as u64,
                signed: false,
                omit: s.u32_min == 0,
            },
            Bound {
                name: "umax32",
                val: s.u32_max as u64,
                signed: false,
                omit: s.u32_max == u32::MAX,
            },
        ];
        let mut sep = "";
        for i in 0..b.len() {
            if b[i].omit {
                continue;
            }
            let m1 = b[i];
            let neg1 = m1.signed && (m1.val as i64) < 0;
            write!(f, "{sep}{}=", m1.name)?;
            sep = ",";
            let mut j = i + 2;
            while j < b.len() {
                let m2 = b[j];
                let neg2 = m2.signed && (m2.val as i64) < 0;
                if !m2.omit && m2.val == m1.val && neg1 == neg2 {
                    b[j].omit = true;
                    write!(f, "{}=", m2.name)?;
                }
                j += 2;
            }
            if m1.signed {
                fmt_snum(f, m1.val as i64)?;
            } else {
                fmt_unum(f, m1.val)?;
            }
        }
        if !s.var_off.is_unknown() {
            write!(f, "{sep}var_off={}", s.var_off)?;
        }
        Ok(())
    }
}
