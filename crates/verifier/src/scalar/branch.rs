//! Conditional jumps on scalars: deciding a branch statically (the kernel's
//! `is_scalar_branch_taken`) and narrowing both operands on each side of an undecided
//! branch (`regs_refine_cond_op` followed by `reg_bounds_sync` and the invariant check, as
//! in `reg_set_min_max`).

use bpfvet_isa::insn::Cond;

use super::Scalar;
use super::sync::Violation;

/// A comparison as the refinement sees it: the jump's condition, or its negation on the
/// fall-through side. `NotSet` (`!(a & b)`) has no instruction of its own.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Cond(Cond),
    NotSet,
}

/// The condition that holds on the fall-through side (the kernel's `rev_opcode`).
const fn negate(c: Cond) -> Op {
    Op::Cond(match c {
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

/// The condition with its operands exchanged (`a < b` ⇔ `b > a`).
pub const fn flip(c: Cond) -> Cond {
    match c {
        Cond::Ge => Cond::Le,
        Cond::Gt => Cond::Lt,
        Cond::Le => Cond::Ge,
        Cond::Lt => Cond::Gt,
        Cond::Sge => Cond::Sle,
        Cond::Sgt => Cond::Slt,
        Cond::Sle => Cond::Sge,
        Cond::Slt => Cond::Sgt,
        other => other,
    }
}

/// The bounds of one operand in the compared width (32-bit views widened).
struct View {
    umin: u64,
    umax: u64,
    smin: i64,
    smax: i64,
}

fn view(s: &Scalar, jmp32: bool) -> View {
    if jmp32 {
        View {
            umin: s.u32_min as u64,
            umax: s.u32_max as u64,
            smin: s.s32_min as i64,
            smax: s.s32_max as i64,
        }
    } else {
        View {
            umin: s.umin,
            umax: s.umax,
            smin: s.smin,
            smax: s.smax,
        }
    }
}

/// Decide `a <cond> b` for scalars when every pair of members agrees: `Some(true)` (the
/// jump is always taken), `Some(false)` (never taken) or `None`. With `is_jmp32` only the
/// low 32 bits are compared. Follows the kernel's checks exactly (they are not complete:
/// `None` does not mean both outcomes are possible).
pub fn branch_taken(cond: Cond, is_jmp32: bool, a: &Scalar, b: &Scalar) -> Option<bool> {
    let (t1, t2) = if is_jmp32 {
        (a.var_off.subreg(), b.var_off.subreg())
    } else {
        (a.var_off, b.var_off)
    };
    let (v1, v2) = (view(a, is_jmp32), view(b, is_jmp32));
    match cond {
        Cond::Eq | Cond::Ne => {
            let eq = cond == Cond::Eq;
            if t1.is_const() && t2.is_const() {
                return Some((t1.value == t2.value) == eq);
            }
            let disjoint = !t1.overlap(t2)
                || v1.umin > v2.umax
                || v1.umax < v2.umin
                || v1.smin > v2.smax
                || v1.smax < v2.smin
                || (!is_jmp32
                    && (a.u32_min > b.u32_max
                        || a.u32_max < b.u32_min
                        || a.s32_min > b.s32_max
                        || a.s32_max < b.s32_min));
            if disjoint { Some(!eq) } else { None }
        }
        Cond::Set => {
            let (t1, t2) = if b.is_const_in(is_jmp32) {
                (t1, t2)
            } else if a.is_const_in(is_jmp32) {
                (t2, t1)
            } else {
                return None;
            };
            if (!t1.mask & t1.value) & t2.value != 0 {
                Some(true)
            } else if (t1.mask | t1.value) & t2.value == 0 {
                Some(false)
            } else {
                None
            }
        }
        Cond::Gt => order(v1.umin > v2.umax, v1.umax <= v2.umin),
        Cond::Sgt => order(v1.smin > v2.smax, v1.smax <= v2.smin),
        Cond::Lt => order(v1.umax < v2.umin, v1.umin >= v2.umax),
        Cond::Slt => order(v1.smax < v2.smin, v1.smin >= v2.smax),
        Cond::Ge => order(v1.umin >= v2.umax, v1.umax < v2.umin),
        Cond::Sge => order(v1.smin >= v2.smax, v1.smax < v2.smin),
        Cond::Le => order(v1.umax <= v2.umin, v1.umin > v2.umax),
        Cond::Sle => order(v1.smax <= v2.smin, v1.smin > v2.smax),
    }
}

fn order(always: bool, never: bool) -> Option<bool> {
    if always {
        Some(true)
    } else if never {
        Some(false)
    } else {
        None
    }
}

/// Both operands after refining one side of a branch, and what the invariant check found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RefineOutcome {
    /// The first operand (the jump's destination register).
    pub a: Scalar,
    /// The second operand (source register or immediate).
    pub b: Scalar,
    /// Invariant violations of `a` and `b` (their bounds were then reset, tnum kept), in
    /// the order the kernel logs them.
    pub violations: [Option<Violation>; 2],
}

/// Narrow `a` and `b` on the side of `a <cond> b` where the jump is `taken` (or not),
/// synchronise both and run the kernel's invariant check on each. Use
/// [`refine_same_reg`] when both operands are the same register.
pub fn refine_detailed(
    cond: Cond,
    is_jmp32: bool,
    a: &Scalar,
    b: &Scalar,
    taken: bool,
) -> RefineOutcome {
    let op = if taken { Op::Cond(cond) } else { negate(cond) };
    let mut regs = [*a, *b];
    refine_cond_op(&mut regs, 0, 1, op, is_jmp32);
    regs[0].sync();
    regs[1].sync();
    let v0 = regs[0].sanity_check();
    let v1 = regs[1].sanity_check();
    RefineOutcome {
        a: regs[0],
        b: regs[1],
        violations: [v0, v1],
    }
}

/// The refined operands on one side of `a <cond> b` (see [`refine_detailed`]), or `None`
/// when the refinement shows that side cannot be reached: the refined state broke an
/// invariant. Linux 6.18 does not prune on that — it logs `REG INVARIANTS VIOLATION`,
/// resets the offending bounds and walks on — so a caller matching the kernel should use
/// [`refine_detailed`] and keep walking with its states; `None` is for callers that only
/// want sound facts.
pub fn refine(
    cond: Cond,
    is_jmp32: bool,
    a: &Scalar,
    b: &Scalar,
    taken: bool,
) -> Option<(Scalar, Scalar)> {
    let out = refine_detailed(cond, is_jmp32, a, b, taken);
    if out.violations.iter().any(Option::is_some) {
        None
    } else {
        Some((out.a, out.b))
    }
}

/// [`refine_detailed`] for `r <cond> r` (both operands the same register): the kernel
/// applies both operands' updates to the one register in turn, synchronises it twice and
/// checks it twice.
pub fn refine_same_reg(
    cond: Cond,
    is_jmp32: bool,
    a: &Scalar,
    taken: bool,
) -> (Scalar, [Option<Violation>; 2]) {
    let op = if taken { Op::Cond(cond) } else { negate(cond) };
    let mut regs = [*a];
    refine_cond_op(&mut regs, 0, 0, op, is_jmp32);
    let mut r = regs[0];
    r.sync();
    r.sync();
    let v0 = r.sanity_check();
    let v1 = r.sanity_check();
    (r, [v0, v1])
}

/// The kernel's `regs_refine_cond_op` on `regs[i1] <op> regs[i2]` (`i1 == i2` allowed: then
/// updates of both operands land on the same register, in the kernel's order).
fn refine_cond_op(regs: &mut [Scalar], i1: usize, i2: usize, op: Op, jmp32: bool) {
    let (mut i1, mut i2) = (i1, i2);
    let op = match op {
        Op::Cond(c @ (Cond::Ge | Cond::Gt | Cond::Sge | Cond::Sgt)) => {
            std::mem::swap(&mut i1, &mut i2);
            Op::Cond(flip(c))
        }
        other => other,
    };
    match op {
        Op::Cond(Cond::Eq) => {
            if jmp32 {
                let (r1, r2) = (regs[i1], regs[i2]);
                let u_lo = r1.u32_min.max(r2.u32_min);
                let u_hi = r1.u32_max.min(r2.u32_max);
                let s_lo = r1.s32_min.max(r2.s32_min);
                let s_hi = r1.s32_max.min(r2.s32_max);
                let t = r1.var_off.subreg().intersect(r2.var_off.subreg());
                for i in [i1, i2] {
                    let r = &mut regs[i];
                    (r.u32_min, r.u32_max, r.s32_min, r.s32_max) = (u_lo, u_hi, s_lo, s_hi);
                    r.var_off = r.var_off.with_subreg(t);
                }
            } else {
                let (r1, r2) = (regs[i1], regs[i2]);
                let u_lo = r1.umin.max(r2.umin);
                let u_hi = r1.umax.min(r2.umax);
                let s_lo = r1.smin.max(r2.smin);
                let s_hi = r1.smax.min(r2.smax);
                let t = r1.var_off.intersect(r2.var_off);
                for i in [i1, i2] {
                    let r = &mut regs[i];
                    (r.umin, r.umax, r.smin, r.smax) = (u_lo, u_hi, s_lo, s_hi);
                    r.var_off = t;
                }
            }
        }
        Op::Cond(Cond::Ne) => {
            let Some((i1, val)) = const_operand(regs, i1, i2, jmp32) else {
                return;
            };
            let r = &mut regs[i1];
            // Shave the constant off any bound equal to it.
            if jmp32 {
                if r.u32_min == val as u32 {
                    r.u32_min = r.u32_min.wrapping_add(1);
                }
                if r.u32_max == val as u32 {
                    r.u32_max = r.u32_max.wrapping_sub(1);
                }
                if r.s32_min == val as u32 as i32 {
                    r.s32_min = r.s32_min.wrapping_add(1);
                }
                if r.s32_max == val as u32 as i32 {
                    r.s32_max = r.s32_max.wrapping_sub(1);
                }
            } else {
                if r.umin == val {
                    r.umin = r.umin.wrapping_add(1);
                }
                if r.umax == val {
                    r.umax = r.umax.wrapping_sub(1);
                }
                if r.smin == val as i64 {
                    r.smin = r.smin.wrapping_add(1);
                }
                if r.smax == val as i64 {
                    r.smax = r.smax.wrapping_sub(1);
                }
            }
        }
        Op::Cond(Cond::Set) => {
            let Some((i1, val)) = const_operand(regs, i1, i2, jmp32) else {
                return;
            };
            // Only a single-bit mask says which bit is set.
            if !val.is_power_of_two() {
                return;
            }
            let r = &mut regs[i1];
            if jmp32 {
                let t = r.var_off.subreg().or(crate::tnum::Tnum::constant(val));
                r.var_off = r.var_off.with_subreg(t);
            } else {
                r.var_off = r.var_off.or(crate::tnum::Tnum::constant(val));
            }
        }
        Op::NotSet => {
            let Some((i1, val)) = const_operand(regs, i1, i2, jmp32) else {
                return;
            };
            let r = &mut regs[i1];
            // Forget the ranges first so a dead branch cannot contradict them.
            r.mark_unbounded();
            if jmp32 {
                let t = r.var_off.subreg().and(crate::tnum::Tnum::constant(!val));
                r.var_off = r.var_off.with_subreg(t);
            } else {
                r.var_off = r.var_off.and(crate::tnum::Tnum::constant(!val));
            }
        }
        Op::Cond(Cond::Le) => {
            if jmp32 {
                regs[i1].u32_max = regs[i1].u32_max.min(regs[i2].u32_max);
                regs[i2].u32_min = regs[i1].u32_min.max(regs[i2].u32_min);
            } else {
                regs[i1].umax = regs[i1].umax.min(regs[i2].umax);
                regs[i2].umin = regs[i1].umin.max(regs[i2].umin);
            }
        }
        Op::Cond(Cond::Lt) => {
            if jmp32 {
                regs[i1].u32_max = regs[i1].u32_max.min(regs[i2].u32_max.wrapping_sub(1));
                regs[i2].u32_min = regs[i1].u32_min.wrapping_add(1).max(regs[i2].u32_min);
            } else {
                regs[i1].umax = regs[i1].umax.min(regs[i2].umax.wrapping_sub(1));
                regs[i2].umin = regs[i1].umin.wrapping_add(1).max(regs[i2].umin);
            }
        }
        Op::Cond(Cond::Sle) => {
            if jmp32 {
                regs[i1].s32_max = regs[i1].s32_max.min(regs[i2].s32_max);
                regs[i2].s32_min = regs[i1].s32_min.max(regs[i2].s32_min);
            } else {
                regs[i1].smax = regs[i1].smax.min(regs[i2].smax);
                regs[i2].smin = regs[i1].smin.max(regs[i2].smin);
            }
        }
        Op::Cond(Cond::Slt) => {
            if jmp32 {
                regs[i1].s32_max = regs[i1].s32_max.min(regs[i2].s32_max.wrapping_sub(1));
                regs[i2].s32_min = regs[i1].s32_min.wrapping_add(1).max(regs[i2].s32_min);
            } else {
                regs[i1].smax = regs[i1].smax.min(regs[i2].smax.wrapping_sub(1));
                regs[i2].smin = regs[i1].smin.wrapping_add(1).max(regs[i2].smin);
            }
        }
        // Ge/Gt/Sge/Sgt were flipped above.
        Op::Cond(_) => {}
    }
}

/// For ops that need a constant operand: make the constant the second operand (swapping
/// if only the first is constant) and return the non-constant's index and the constant.
fn const_operand(regs: &[Scalar], i1: usize, i2: usize, jmp32: bool) -> Option<(usize, u64)> {
    let (i1, i2) = if regs[i2].is_const_in(jmp32) {
        (i1, i2)
    } else {
        (i2, i1)
    };
    if !regs[i2].is_const_in(jmp32) {
        return None;
    }
    Some((i1, regs[i2].const_value_in(jmp32)))
}
