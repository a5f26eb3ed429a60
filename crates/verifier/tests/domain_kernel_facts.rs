//! States built with the scalar domain's own operations, compared with the text the live
//! Linux 6.18.44 verifier printed for the same instructions (captured with log_level 2).
//! Each case names the instruction sequence the kernel ran.

use bpfvet_isa::insn::{AluOp, Cond, EndianOp, Width};
use bpfvet_verifier::scalar::{Scalar, refine_detailed};
use bpfvet_verifier::tnum::Tnum;

const W64: Width = Width::W64;
const W32: Width = Width::W32;

fn unknown() -> Scalar {
    Scalar::UNKNOWN
}

/// `rX = <helper result>; wX = wX` — an unknown 32-bit value.
fn unknown32() -> Scalar {
    unknown().alu(AluOp::Mov, W32, unknown())
}

/// The side of `a <cond> imm` that the program continues on.
fn assume(a: Scalar, cond: Cond, jmp32: bool, imm: i32, taken: bool) -> Scalar {
    let out = refine_detailed(cond, jmp32, &a, &Scalar::from_imm(imm), taken);
    assert!(out.violations.iter().all(Option::is_none));
    out.a
}

fn show(s: Scalar) -> String {
    s.fmt_value().to_string()
}

#[test]
fn constants_print_as_numbers() {
    // r7 = 5; r1 = 62; r1 = 0xfffffffffffc0000; r0 = 5; r0 = -r0; w8 |= 0x6323ce54
    assert_eq!(show(Scalar::known(5)), "5");
    assert_eq!(show(Scalar::known(62)), "62");
    assert_eq!(
        show(Scalar::known(0xfffffffffffc0000)),
        "0xfffffffffffc0000"
    );
    assert_eq!(show(Scalar::known(5).neg(W64)), "-5");
    assert_eq!(
        show(Scalar::known(0x1_0000_0000).alu_imm(AluOp::Or, W32, 0x6323ce54)),
        "0x6323ce54"
    );
    assert_eq!(
        show(Scalar::known(0x1_0000_0000).alu_imm(AluOp::And, W32, 0x7fffffff)),
        "0"
    );
    // r0 = -5; r0 = bswap16 r0
    assert_eq!(
        show(Scalar::known(5).neg(W64).endian(EndianOp::Bswap, 16)),
        "0xfbff"
    );
}

#[test]
fn masks_and_multiplication() {
    // r6 = ktime(); r6 &= 255
    let r6 = unknown().alu_imm(AluOp::And, W64, 255);
    assert_eq!(
        show(r6),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
    );
    // r7 = 5; r6 *= r7
    assert_eq!(
        show(r6.alu(AluOp::Mul, W64, Scalar::known(5))),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=1275,var_off=(0x0; 0x7ff))"
    );
    // (x & 6 | 1) * (y & 4 | 3)
    let a = unknown()
        .alu_imm(AluOp::And, W64, 6)
        .alu_imm(AluOp::Or, W64, 1);
    let b = unknown()
        .alu_imm(AluOp::And, W64, 4)
        .alu_imm(AluOp::Or, W64, 3);
    assert_eq!(
        show(a.alu(AluOp::Mul, W64, b)),
        "scalar(smin=umin=smin32=umin32=3,smax=umax=smax32=umax32=49,var_off=(0x1; 0x3e))"
    );
    // r6 in [-3, 2] signed; r6 *= -2
    let r6 = assume(
        assume(unknown(), Cond::Sgt, false, 2, false),
        Cond::Slt,
        false,
        -3,
        false,
    );
    assert_eq!(
        show(r6.alu_imm(AluOp::Mul, W64, -2)),
        "scalar(smin=smin32=-4,smax=smax32=6,umax=0xfffffffffffffffe,umax32=0xfffffffe,\
         var_off=(0x0; 0xfffffffffffffffe))"
    );
    // w6 = w0 (unknown)
    assert_eq!(
        show(unknown32()),
        "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"
    );
}

#[test]
fn wrapping_add_and_sub_keep_bounds() {
    // if r6 < -16 goto out; r6 += 32
    let r6 = assume(unknown(), Cond::Lt, false, -16, false);
    assert_eq!(
        show(r6.alu_imm(AluOp::Add, W64, 32)),
        "scalar(smin=umin=smin32=umin32=16,smax=umax=smax32=umax32=31,var_off=(0x10; 0xf))"
    );
    // if r6 > 16 goto out; r6 -= 32
    let r6 = assume(unknown(), Cond::Gt, false, 16, false);
    assert_eq!(
        show(r6.alu_imm(AluOp::Sub, W64, 32)),
        "scalar(smin=smin32=-32,smax=smax32=-16,umin=0xffffffffffffffe0,umax=0xfffffffffffffff0,\
         umin32=0xffffffe0,umax32=0xfffffff0,var_off=(0xffffffffffffffe0; 0x1f))"
    );
}

#[test]
fn div_and_mod_are_not_tracked() {
    let r6 = assume(unknown(), Cond::Gt, false, 100, false);
    for op in [AluOp::Div, AluOp::Mod, AluOp::Sdiv, AluOp::Smod] {
        for w in [W64, W32] {
            assert_eq!(show(r6.alu_imm(op, w, 3)), "scalar()", "{op:?} {w:?}");
        }
    }
}

#[test]
fn negation_and_byte_swaps() {
    // 3 <= r6 <= 100
    let r6 = assume(
        assume(unknown(), Cond::Gt, false, 100, false),
        Cond::Lt,
        false,
        3,
        false,
    );
    assert_eq!(
        show(r6.neg(W64)),
        "scalar(smin=smin32=-100,smax=smax32=-3,umin=0xffffffffffffff9c,umax=0xfffffffffffffffd,\
         umin32=0xffffff9c,umax32=0xfffffffd,var_off=(0xffffffffffffff80; 0x7f))"
    );
    assert_eq!(
        show(r6.neg(W32)),
        "scalar(smin=umin=umin32=0xffffff9c,smax=umax=umax32=0xfffffffd,smin32=-100,smax32=-3,\
         var_off=(0xffffff80; 0x7f))"
    );
    // 0x100 <= r6 <= 0x1ff
    let r6 = assume(
        assume(unknown(), Cond::Gt, false, 0x1ff, false),
        Cond::Lt,
        false,
        0x100,
        false,
    );
    assert_eq!(
        show(r6.endian(EndianOp::ToBe, 16)),
        "scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=0xff01,var_off=(0x1; 0xff00))"
    );
    assert_eq!(
        show(r6.endian(EndianOp::ToLe, 16)),
        "scalar(smin=umin=smin32=umin32=256,smax=umax=smax32=umax32=511,var_off=(0x100; 0xff))"
    );
    assert_eq!(
        show(r6.endian(EndianOp::Bswap, 32)),
        "scalar(smin=umin=umin32=0x10000,smax=umax=umax32=0xff010000,smin32=0x80010000,\
         smax32=0x7f010000,var_off=(0x10000; 0xff000000))"
    );
    assert_eq!(
        show(r6.endian(EndianOp::Bswap, 64)),
        "scalar(smin=0x8001000000000000,smax=0x7f01000000000000,umin=0x1000000000000,\
         umax=0xff01000000000000,smin32=0,smax32=umax32=0,var_off=(0x1000000000000; 0xff00000000000000))"
    );
}

#[test]
fn a_single_common_member_makes_a_constant() {
    // r6 = (x & 0x3e) | 1; if r6 < 4 goto out; if r6 > 6 goto out  =>  R6=5
    let r6 = unknown()
        .alu_imm(AluOp::And, W64, 0x3e)
        .alu_imm(AluOp::Or, W64, 1);
    assert_eq!(
        show(r6),
        "scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=63,var_off=(0x1; 0x3e))"
    );
    let r6 = assume(r6, Cond::Lt, false, 4, false);
    assert_eq!(show(assume(r6, Cond::Gt, false, 6, false)), "5");
    // r6 = x & 5; 2 <= r6 <= 3: no member at all, yet no violation either
    let r6 = unknown().alu_imm(AluOp::And, W64, 5);
    let r6 = assume(
        assume(r6, Cond::Lt, false, 2, false),
        Cond::Gt,
        false,
        3,
        false,
    );
    assert_eq!(
        show(r6),
        "scalar(smin=umin=smin32=umin32=2,smax=umax=smax32=umax32=3,var_off=(0x2; 0x1))"
    );
}

#[test]
fn forks_on_minus_one_zero() {
    // if r6 s> 0 goto out; if r6 s< -1 goto out; r6 &= 5
    let r6 = assume(
        assume(unknown(), Cond::Sgt, false, 0, false),
        Cond::Slt,
        false,
        -1,
        false,
    );
    assert_eq!(show(r6), "scalar(smin=smin32=-1,smax=smax32=0)");
    let (cur, pushed) = r6.fork_minus_one_zero().expect("fork");
    assert_eq!(show(cur.alu_imm(AluOp::And, W64, 5)), "5");
    assert_eq!(show(pushed), "0");
    // the same through 32-bit bounds: if w6 s> 0 goto out; if w6 s< -1 goto out
    let r6 = assume(
        assume(unknown(), Cond::Sgt, true, 0, false),
        Cond::Slt,
        true,
        -1,
        false,
    );
    assert_eq!(show(r6), "scalar(smin32=-1,smax32=0)");
    let (cur, pushed) = r6.fork_minus_one_zero().expect("fork");
    assert_eq!(
        show(pushed),
        "scalar(smin32=0,smax32=umax32=0,var_off=(0x0; 0xffffffff00000000))"
    );
    assert_eq!(show(cur.alu_imm(AluOp::And, W32, 5)), "5");
    assert_eq!(show(cur.alu_imm(AluOp::Or, W32, 5)), "0xffffffff");
    assert_eq!(
        show(cur.alu_imm(AluOp::Or, W64, 5)),
        "scalar(smin=0x80000000ffffffff,umin=umin32=0xffffffff,smin32=-1,smax32=-1,\
         var_off=(0xffffffff; 0xffffffff00000000))"
    );
    assert_eq!(
        show(pushed.alu_imm(AluOp::Or, W64, 5)),
        "scalar(smin=0x8000000000000005,smax=0x7fffffff00000005,umin=smin32=umin32=5,\
         umax=0xffffffff00000005,smax32=umax32=5,var_off=(0x5; 0xffffffff00000000))"
    );
    assert!(Scalar::known(3).fork_minus_one_zero().is_none());
}

#[test]
fn dead_jump_side_reports_the_invariant_violation() {
    // r6 = x & 0xfffffffffffc0000; if r6 s> 0x3ffff goto out; if w6 s> 0x8000 goto out;
    // if w6 s> 0 goto ...
    let r6 = unknown().alu(AluOp::And, W64, Scalar::known(0xfffffffffffc0000));
    let r6 = assume(r6, Cond::Sgt, false, 0x3ffff, false);
    let r6 = assume(r6, Cond::Sgt, true, 0x8000, false);
    let taken = refine_detailed(Cond::Sgt, true, &r6, &Scalar::from_imm(0), true);
    let v = taken.violations[0].expect("violation");
    assert_eq!(
        format!("REG INVARIANTS VIOLATION (true_reg1): {v}"),
        "REG INVARIANTS VIOLATION (true_reg1): range bounds violation u64=[0x1, 0xffffffff00000000] \
         s64=[0x8000000000000001, 0x8000] u32=[0x1, 0x0] s32=[0x1, 0x0] \
         var_off=(0x0, 0xffffffff00000000)"
    );
    // The kernel then resets the bounds and walks the side anyway.
    assert_eq!(show(taken.a), "scalar(var_off=(0x0; 0xffffffff00000000))");
    let fall = refine_detailed(Cond::Sgt, true, &r6, &Scalar::from_imm(0), false);
    assert!(fall.violations.iter().all(Option::is_none));
    assert_eq!(
        show(fall.a),
        "scalar(smax=0x3ffff,umax=0xfffffffffffc0000,smax32=0,umax32=0xfffc0000,\
         var_off=(0x0; 0xfffffffffffc0000))"
    );
}

#[test]
fn same_register_jump_refines_one_register_twice() {
    use bpfvet_verifier::scalar::refine_same_reg;
    // if r6 > r6 goto L: the impossible jump side still narrows r6 (kernel log).
    let (taken, _) = refine_same_reg(Cond::Gt, false, &unknown(), true);
    assert_eq!(show(taken), "scalar(umin=1,umax=0xfffffffffffffffe)");
    let (fall, _) = refine_same_reg(Cond::Ge, false, &taken, false);
    assert_eq!(show(fall), "scalar(umin=2,umax=0xfffffffffffffffd)");
}

#[test]
fn tnum_strings() {
    assert_eq!(Tnum::new(0, 0xff).to_string(), "(0x0; 0xff)");
    assert_eq!(Tnum::constant(0).to_string(), "0");
    assert_eq!(Tnum::constant(0x10000).to_string(), "0x10000");
}
