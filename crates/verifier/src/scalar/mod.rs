//! Scalar values (TEMPORARY STUB until the domains branch lands).

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
}

use bpfvet_isa::insn::{AluOp, Cond, EndianOp, Width};

impl Scalar {
    fn c(&self) -> Option<u64> {
        self.is_const().then_some(self.var_off.value)
    }
    pub fn sync(self) -> Scalar {
        self
    }
    pub fn neg(self, w: Width) -> Scalar {
        match self.c() {
            Some(v) => Scalar::constant(trunc(v.wrapping_neg(), w)),
            None => Scalar::unknown(),
        }
    }
    pub fn endian(self, _op: EndianOp, _bits: u8) -> Scalar {
        Scalar::unknown()
    }
    pub fn movsx(self, _w: Width, _bits: u8) -> Scalar {
        Scalar::unknown()
    }
    pub fn zext32(self) -> Scalar {
        match self.c() {
            Some(v) => Scalar::constant(v as u32 as u64),
            None => Scalar::unknown(),
        }
    }
    pub fn coerce(self, size: u32) -> Scalar {
        match self.c() {
            Some(v) if size < 8 => Scalar::constant(v & ((1u64 << (size * 8)) - 1)),
            Some(v) => Scalar::constant(v),
            None => Scalar::unknown(),
        }
    }
    pub fn coerce_sx(self, _size: u32) -> Scalar {
        Scalar::unknown()
    }
    pub fn alu(self, op: AluOp, w: Width, src: Scalar) -> Scalar {
        let (Some(a), Some(b)) = (self.c(), src.c()) else {
            return Scalar::unknown();
        };
        let v = match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::And => a & b,
            AluOp::Or => a | b,
            AluOp::Xor => a ^ b,
            AluOp::Mov => b,
            _ => return Scalar::unknown(),
        };
        Scalar::constant(trunc(v, w))
    }
}

fn trunc(v: u64, w: Width) -> u64 {
    match w {
        Width::W64 => v,
        Width::W32 => v as u32 as u64,
    }
}

pub fn branch_taken(cond: Cond, _jmp32: bool, a: &Scalar, b: &Scalar) -> Option<bool> {
    let (x, y) = (a.c()?, b.c()?);
    Some(match cond {
        Cond::Eq => x == y,
        Cond::Ne => x != y,
        Cond::Gt => x > y,
        Cond::Ge => x >= y,
        Cond::Lt => x < y,
        Cond::Le => x <= y,
        _ => return None,
    })
}

pub fn refine(
    _cond: Cond,
    _jmp32: bool,
    a: &Scalar,
    b: &Scalar,
    _taken: bool,
) -> Option<(Scalar, Scalar)> {
    Some((*a, *b))
}
