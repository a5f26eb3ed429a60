//! Conditional jumps on scalars: deciding a branch from the operands' bounds
//! (`is_scalar_branch_taken`) and narrowing both operands on each outcome
//! (`regs_refine_cond_op` followed by a sync). `jmp32` compares the low 32 bits.

use bpfvet_isa::insn::Cond;

use super::Scalar;
use crate::tnum::Tnum;

/// The comparison with its operands swapped (`flip_opcode`).
pub fn flip(c: Cond) -> Cond {
    match c {
        Cond::Gt => Cond::Lt,
        Cond::Lt => Cond::Gt,
        Cond::Ge => Cond::Le,
        Cond::Le => Cond::Ge,
        Cond::Sgt => Cond::Slt,
        Cond::Slt => Cond::Sgt,
        Cond::Sge => Cond::Sle,
        Cond::Sle => Cond::Sge,
        c => c,
    }
}

/// The operands' views for a 64- or 32-bit comparison: (tnum, umin, umax, smin, smax).
fn view(r: &Scalar, jmp32: bool) -> (Tnum, u64, u64, i64, i64) {
    if jmp32 {
        (
            r.var_off.subreg(),
            u64::from(r.u32_min),
            u64::from(r.u32_max),
            i64::from(r.s32_min),
            i64::from(r.s32_max),
        )
    } else {
        (r.var_off, r.umin, r.umax, r.smin, r.smax)
    }
}

fn reg_const(r: &Scalar, jmp32: bool) -> Option<u64> {
    let t = if jmp32 { r.var_off.subreg() } else { r.var_off };
    t.is_const().then_some(t.value)
}

/// Some(true) if `a COND b` holds for every pair of members, Some(false) if for none.
pub fn branch_taken(cond: Cond, jmp32: bool, a: &Scalar, b: &Scalar) -> Option<bool> {
    let (t1, umin1, umax1, smin1, smax1) = view(a, jmp32);
    let (t2, umin2, umax2, smin2, smax2) = view(b, jmp32);
    let disjoint = |a: &Scalar, b: &Scalar| {
        !t1.overlaps(t2)
            || umin1 > umax2
            || umax1 < umin2
            || smin1 > smax2
            || smax1 < smin2
            || (!jmp32
                && (a.u32_min > b.u32_max
                    || a.u32_max < b.u32_min
                    || a.s32_min > b.s32_max
                    || a.s32_max < b.s32_min))
    };
    match cond {
        Cond::Eq => {
            if t1.is_const() && t2.is_const() {
                return Some(t1.value == t2.value);
            }
            if disjoint(a, b) {
                return Some(false);
            }
        }
        Cond::Ne => {
            if t1.is_const() && t2.is_const() {
                return Some(t1.value != t2.value);
            }
            if disjoint(a, b) {
                return Some(true);
            }
        }
        Cond::Set => {
            let (t1, t2) = if reg_const(b, jmp32).is_some() {
                (t1, t2)
            } else if reg_const(a, jmp32).is_some() {
                (t2, t1)
            } else {
                return None;
            };
            if (!t1.mask & t1.value) & t2.value != 0 {
                return Some(true);
            }
            if (t1.mask | t1.value) & t2.value == 0 {
                return Some(false);
            }
        }
        Cond::Gt => {
            if umin1 > umax2 {
                return Some(true);
            } else if umax1 <= umin2 {
                return Some(false);
            }
        }
        Cond::Sgt => {
            if smin1 > smax2 {
                return Some(true);
            } else if smax1 <= smin2 {
                return Some(false);
            }
        }
        Cond::Lt => {
            if umax1 < umin2 {
                return Some(true);
            } else if umin1 >= umax2 {
                return Some(false);
            }
        }
        Cond::Slt => {
            if smax1 < smin2 {
                return Some(true);
            } else if smin1 >= smax2 {
                return Some(false);
            }
        }
        Cond::Ge => {
            if umin1 >= umax2 {
                return Some(true);
            } else if umax1 < umin2 {
                return Some(false);
            }
        }
        Cond::Sge => {
            if smin1 >= smax2 {
                return Some(true);
            } else if smax1 < smin2 {
                return Some(false);
            }
        }
        Cond::Le => {
            if umax1 <= umin2 {
                return Some(true);
            } else if umin1 > umax2 {
                return Some(false);
            }
        }
        Cond::Sle => {
            if smax1 <= smin2 {
                return Some(true);
            } else if smin1 > smax2 {
                return Some(false);
            }
        }
    }
    None
}

/// What a refinement works on: the condition, or "JSET is false".
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    C(Cond),
    NotSet,
}

/// The condition that holds on the other outcome.
fn negate(c: Cond) -> Op {
    Op::C(match c {
        Cond::Eq => Cond::Ne,
        Cond::Ne => Cond::Eq,
        Cond::Set => return Op::NotSet,
        Cond::Ge => Cond::Lt,
        Cond::Gt => Cond::Le,
        Cond::Le => Cond::Gt,
        Cond::Lt => Cond::Ge,
        Cond::Sge => Cond::Slt,
        Cond::Sgt => Cond::Sle,
        Cond::Sle => Cond::Sgt,
        Cond::Slt => Cond::Sge,
    })
}

/// Both operands narrowed on the outcome `taken` of `a COND b`; None when no pair of members
/// can take that outcome (the branch is dead).
pub fn refine(
    cond: Cond,
    jmp32: bool,
    a: &Scalar,
    b: &Scalar,
    taken: bool,
) -> Option<(Scalar, Scalar)> {
    let op = if taken { Op::C(cond) } else { negate(cond) };
    let (mut x, mut y) = (*a, *b);
    refine_op(&mut x, &mut y, op, jmp32);
    let (x, y) = (x.sync(), y.sync());
    (x.is_consistent() && y.is_consistent()).then_some((x, y))
}

fn refine_op(r1: &mut Scalar, r2: &mut Scalar, op: Op, jmp32: bool) {
    // Greater-than forms become less-than forms with the operands swapped.
    if let Op::C(c @ (Cond::Ge | Cond::Gt | Cond::Sge | Cond::Sgt)) = op {
        return refine_op(r2, r1, Op::C(flip(c)), jmp32);
    }
    match op {
        Op::C(Cond::Eq) => {
            if jmp32 {
                r1.u32_min = r1.u32_min.max(r2.u32_min);
                r1.u32_max = r1.u32_max.min(r2.u32_max);
                r1.s32_min = r1.s32_min.max(r2.s32_min);
                r1.s32_max = r1.s32_max.min(r2.s32_max);
                r2.u32_min = r1.u32_min;
                r2.u32_max = r1.u32_max;
                r2.s32_min = r1.s32_min;
                r2.s32_max = r1.s32_max;
                let t = r1.var_off.subreg().intersect(r2.var_off.subreg());
                r1.var_off = r1.var_off.with_subreg(t);
                r2.var_off = r2.var_off.with_subreg(t);
            } else {
                r1.umin = r1.umin.max(r2.umin);
                r1.umax = r1.umax.min(r2.umax);
                r1.smin = r1.smin.max(r2.smin);
                r1.smax = r1.smax.min(r2.smax);
                r2.umin = r1.umin;
                r2.umax = r1.umax;
                r2.smin = r1.smin;
                r2.smax = r1.smax;
                r1.var_off = r1.var_off.intersect(r2.var_off);
                r2.var_off = r1.var_off;
            }
        }
        Op::C(Cond::Ne) => {
            let (r1, r2) = if reg_const(r2, jmp32).is_some() {
                (r1, r2)
            } else {
                (r2, r1)
            };
            let Some(val) = reg_const(r2, jmp32) else {
                return;
            };
            if jmp32 {
                if r1.u32_min == val as u32 {
                    r1.u32_min = r1.u32_min.wrapping_add(1);
                }
                if r1.u32_max == val as u32 {
                    r1.u32_max = r1.u32_max.wrapping_sub(1);
                }
                if r1.s32_min == val as i32 {
                    r1.s32_min = r1.s32_min.wrapping_add(1);
                }
                if r1.s32_max == val as i32 {
                    r1.s32_max = r1.s32_max.wrapping_sub(1);
                }
            } else {
                if r1.umin == val {
                    r1.umin = r1.umin.wrapping_add(1);
                }
                if r1.umax == val {
                    r1.umax = r1.umax.wrapping_sub(1);
                }
                if r1.smin == val as i64 {
                    r1.smin = r1.smin.wrapping_add(1);
                }
                if r1.smax == val as i64 {
                    r1.smax = r1.smax.wrapping_sub(1);
                }
            }
        }
        Op::C(Cond::Set) => {
            let (r1, r2) = if reg_const(r2, jmp32).is_some() {
                (r1, r2)
            } else {
                (r2, r1)
            };
            let Some(val) = reg_const(r2, jmp32) else {
                return;
            };
            if !val.is_power_of_two() {
                return;
            }
            if jmp32 {
                let t = r1.var_off.subreg().or(Tnum::constant(val));
                r1.var_off = r1.var_off.with_subreg(t);
            } else {
                r1.var_off = r1.var_off.or(Tnum::constant(val));
            }
        }
        Op::NotSet => {
            let (r1, r2) = if reg_const(r2, jmp32).is_some() {
                (r1, r2)
            } else {
                (r2, r1)
            };
            let Some(val) = reg_const(r2, jmp32) else {
                return;
            };
            let keep = r1.var_off;
            *r1 = Scalar::unknown();
            if jmp32 {
                let t = keep.subreg().and(Tnum::constant(!val));
                r1.var_off = keep.with_subreg(t);
            } else {
                r1.var_off = keep.and(Tnum::constant(!val));
            }
        }
        Op::C(Cond::Le) => {
            if jmp32 {
                r1.u32_max = r1.u32_max.min(r2.u32_max);
                r2.u32_min = r1.u32_min.max(r2.u32_min);
            } else {
                r1.umax = r1.umax.min(r2.umax);
                r2.umin = r1.umin.max(r2.umin);
            }
        }
        Op::C(Cond::Lt) => {
            if jmp32 {
                r1.u32_max = r1.u32_max.min(r2.u32_max.wrapping_sub(1));
                r2.u32_min = r1.u32_min.wrapping_add(1).max(r2.u32_min);
            } else {
                r1.umax = r1.umax.min(r2.umax.wrapping_sub(1));
                r2.umin = r1.umin.wrapping_add(1).max(r2.umin);
            }
        }
        Op::C(Cond::Sle) => {
            if jmp32 {
                r1.s32_max = r1.s32_max.min(r2.s32_max);
                r2.s32_min = r1.s32_min.max(r2.s32_min);
            } else {
                r1.smax = r1.smax.min(r2.smax);
                r2.smin = r1.smin.max(r2.smin);
            }
        }
        Op::C(Cond::Slt) => {
            if jmp32 {
                r1.s32_max = r1.s32_max.min(r2.s32_max.wrapping_sub(1));
                r2.s32_min = r1.s32_min.wrapping_add(1).max(r2.s32_min);
            } else {
                r1.smax = r1.smax.min(r2.smax.wrapping_sub(1));
                r2.smin = r1.smin.wrapping_add(1).max(r2.smin);
            }
        }
        Op::C(_) => {}
    }
}
