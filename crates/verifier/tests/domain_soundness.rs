//! Soundness of the scalar domain: for concrete values inside random abstract values, the
//! concrete result of every operation lies inside the abstract result (tnum and all eight
//! bounds, via [`Scalar::contains`]); [`Scalar::sync`] keeps every member; refinement
//! never drops a pair that satisfies the condition; a decided branch agrees with every
//! concrete pair.

use bpfvet_isa::insn::{AluOp, Cond, EndianOp, Width};
use bpfvet_verifier::scalar::{Scalar, branch_taken, refine_detailed, refine_same_reg};
use bpfvet_verifier::tnum::Tnum;
use proptest::prelude::*;

/// The BPF meaning of `a op b` at `width` (32-bit results zero-extended).
fn concrete_alu(op: AluOp, width: Width, a: u64, b: u64) -> u64 {
    match width {
        Width::W64 => match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::Div => a.checked_div(b).unwrap_or(0),
            AluOp::Sdiv => {
                if b == 0 {
                    0
                } else {
                    (a as i64).wrapping_div(b as i64) as u64
                }
            }
            AluOp::Mod => a.checked_rem(b).unwrap_or(a),
            AluOp::Smod => {
                if b == 0 {
                    a
                } else {
                    (a as i64).wrapping_rem(b as i64) as u64
                }
            }
            AluOp::Or => a | b,
            AluOp::And => a & b,
            AluOp::Xor => a ^ b,
            AluOp::Lsh => a.wrapping_shl(b as u32 & 63),
            AluOp::Rsh => a.wrapping_shr(b as u32 & 63),
            AluOp::Arsh => (a as i64).wrapping_shr(b as u32 & 63) as u64,
            AluOp::Mov => b,
        },
        Width::W32 => {
            let (a, b) = (a as u32, b as u32);
            let r = match op {
                AluOp::Add => a.wrapping_add(b),
                AluOp::Sub => a.wrapping_sub(b),
                AluOp::Mul => a.wrapping_mul(b),
                AluOp::Div => a.checked_div(b).unwrap_or(0),
                AluOp::Sdiv => {
                    if b == 0 {
                        0
                    } else {
                        (a as i32).wrapping_div(b as i32) as u32
                    }
                }
                AluOp::Mod => a.checked_rem(b).unwrap_or(a),
                AluOp::Smod => {
                    if b == 0 {
                        a
                    } else {
                        (a as i32).wrapping_rem(b as i32) as u32
                    }
                }
                AluOp::Or => a | b,
                AluOp::And => a & b,
                AluOp::Xor => a ^ b,
                AluOp::Lsh => a.wrapping_shl(b & 31),
                AluOp::Rsh => a.wrapping_shr(b & 31),
                AluOp::Arsh => (a as i32).wrapping_shr(b & 31) as u32,
                AluOp::Mov => b,
            };
            r as u64
        }
    }
}

fn concrete_cond(c: Cond, jmp32: bool, a: u64, b: u64) -> bool {
    let (ua, ub, sa, sb) = if jmp32 {
        (
            a as u32 as u64,
            b as u32 as u64,
            a as i32 as i64,
            b as i32 as i64,
        )
    } else {
        (a, b, a as i64, b as i64)
    };
    match c {
        Cond::Eq => ua == ub,
        Cond::Ne => ua != ub,
        Cond::Gt => ua > ub,
        Cond::Ge => ua >= ub,
        Cond::Lt => ua < ub,
        Cond::Le => ua <= ub,
        Cond::Sgt => sa > sb,
        Cond::Sge => sa >= sb,
        Cond::Slt => sa < sb,
        Cond::Sle => sa <= sb,
        Cond::Set => ua & ub != 0,
    }
}

fn sext(v: u64, bits: u32) -> u64 {
    let sh = 64 - bits;
    (((v << sh) as i64) >> sh) as u64
}

/// The tightest scalar holding all of `vals` (not synchronised; every view exact).
fn hull(vals: &[u64]) -> Scalar {
    let mut s = Scalar::known(vals[0]);
    for &v in &vals[1..] {
        let lo = v as u32;
        s.var_off = s.var_off.union(Tnum::constant(v));
        s.umin = s.umin.min(v);
        s.umax = s.umax.max(v);
        s.smin = s.smin.min(v as i64);
        s.smax = s.smax.max(v as i64);
        s.u32_min = s.u32_min.min(lo);
        s.u32_max = s.u32_max.max(lo);
        s.s32_min = s.s32_min.min(lo as i32);
        s.s32_max = s.s32_max.max(lo as i32);
    }
    s
}

/// Loosen a hull: `widen` bits pick bounds to reset to their extremes, `extra` adds
/// unknown bits to the tnum. Still contains every value of the hull.
fn loosen(mut s: Scalar, widen: u8, extra: u64) -> Scalar {
    if widen & 1 != 0 {
        s.smin = i64::MIN;
    }
    if widen & 2 != 0 {
        s.smax = i64::MAX;
    }
    if widen & 4 != 0 {
        s.umin = 0;
    }
    if widen & 8 != 0 {
        s.umax = u64::MAX;
    }
    if widen & 16 != 0 {
        s.s32_min = i32::MIN;
    }
    if widen & 32 != 0 {
        s.s32_max = i32::MAX;
    }
    if widen & 64 != 0 {
        s.u32_min = 0;
        s.u32_max = u32::MAX;
    }
    s.var_off = Tnum::new(s.var_off.value & !extra, s.var_off.mask | extra);
    s
}

/// Interesting 64-bit values: small numbers, sign and width boundaries, anything.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        (-300i64..300).prop_map(|v| v as u64),
        prop::sample::select(vec![
            0u64,
            1,
            0x7f,
            0x80,
            0xff,
            0x7fff,
            0x8000,
            0xffff,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0x1_0000_0000,
            i64::MAX as u64,
            i64::MIN as u64,
            u64::MAX,
            0xffff_ffff_0000_0000,
            0xffff_ffff_8000_0000,
        ]),
        any::<u64>(),
        any::<u32>().prop_map(|v| v as u64),
        any::<i32>().prop_map(|v| v as i64 as u64),
    ]
}

/// A random abstract value and some of its members: values clustered around a centre (so
/// ranges are often narrow), the hull, maybe loosened, maybe synchronised.
fn abstract_value() -> impl Strategy<Value = (Scalar, Vec<u64>)> {
    (
        value(),
        prop::collection::vec(
            prop_oneof![
                3 => (-40i64..40).prop_map(Some),
                1 => Just(None),
            ],
            0..5,
        ),
        prop::collection::vec(value(), 1..3),
        any::<u8>(),
        prop_oneof![
            Just(0u64),
            Just(0u64),
            any::<u64>(),
            (0u32..64).prop_map(|b| 1u64 << b)
        ],
        any::<bool>(),
    )
        .prop_map(|(centre, deltas, others, widen, extra, sync)| {
            let mut vals = vec![centre];
            for (i, d) in deltas.iter().enumerate() {
                match d {
                    Some(d) => vals.push(centre.wrapping_add(*d as u64)),
                    None => vals.push(others[i % others.len()]),
                }
            }
            let mut s = loosen(hull(&vals), widen & 0x7f, extra);
            if sync {
                s.sync();
            }
            (s, vals)
        })
}

fn check_all(s: &Scalar, vals: &[u64], what: &str) -> Result<(), TestCaseError> {
    for &v in vals {
        prop_assert!(s.contains(v), "{what}: {v:#x} not in {s:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn sync_keeps_members((s, vals) in abstract_value()) {
        check_all(&s, &vals, "input")?;
        check_all(&s.synced(), &vals, "sync")?;
        let mut t = s;
        t.update_bounds();
        check_all(&t, &vals, "update_bounds")?;
    }

    #[test]
    fn inclusion_implies_membership(
        (a, _) in abstract_value(),
        (b, bv) in abstract_value(),
    ) {
        prop_assert!(a.includes(&a));
        let joined = Scalar {
            var_off: a.var_off.union(b.var_off),
            smin: a.smin.min(b.smin),
            smax: a.smax.max(b.smax),
            umin: a.umin.min(b.umin),
            umax: a.umax.max(b.umax),
            s32_min: a.s32_min.min(b.s32_min),
            s32_max: a.s32_max.max(b.s32_max),
            u32_min: a.u32_min.min(b.u32_min),
            u32_max: a.u32_max.max(b.u32_max),
        };
        prop_assert!(joined.includes(&a) && joined.includes(&b));
        if a.includes(&b) {
            check_all(&a, &bv, "includes")?;
        }
    }

    #[test]
    fn binary_alu_ops_are_sound(
        (a, av) in abstract_value(),
        (b, bv) in abstract_value(),
    ) {
        for op in AluOp::ALL {
            for w in [Width::W64, Width::W32] {
                let r = a.alu(op, w, b);
                for &x in &av {
                    for &y in &bv {
                        let c = concrete_alu(op, w, x, y);
                        prop_assert!(r.contains(c),
                            "{op:?} {w:?}: {x:#x} op {y:#x} = {c:#x} not in {r:?}\n a={a:?}\n b={b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn shifts_by_known_amounts_are_sound((a, av) in abstract_value(), sh in 0u64..70) {
        let b = Scalar::known(sh);
        for op in [AluOp::Lsh, AluOp::Rsh, AluOp::Arsh] {
            for w in [Width::W64, Width::W32] {
                let r = a.alu(op, w, b);
                for &x in &av {
                    let c = concrete_alu(op, w, x, sh);
                    prop_assert!(r.contains(c), "{op:?} {w:?} {x:#x} by {sh}: {c:#x} not in {r:?}");
                }
            }
        }
    }

    #[test]
    fn unary_ops_are_sound((a, av) in abstract_value()) {
        for w in [Width::W64, Width::W32] {
            let r = a.neg(w);
            for &x in &av {
                let c = match w {
                    Width::W64 => x.wrapping_neg(),
                    Width::W32 => (x as u32).wrapping_neg() as u64,
                };
                prop_assert!(r.contains(c), "neg {w:?} {x:#x}");
            }
        }
        for op in [EndianOp::ToLe, EndianOp::ToBe, EndianOp::Bswap] {
            for bits in [16u8, 32, 64] {
                let r = a.endian(op, bits);
                for &x in &av {
                    let c = match (op, bits) {
                        (EndianOp::ToLe, 16) => x & 0xffff,
                        (EndianOp::ToLe, 32) => x & 0xffff_ffff,
                        (EndianOp::ToLe, _) => x,
                        (_, 16) => (x as u16).swap_bytes() as u64,
                        (_, 32) => (x as u32).swap_bytes() as u64,
                        _ => x.swap_bytes(),
                    };
                    prop_assert!(r.contains(c), "{op:?}{bits} {x:#x} -> {c:#x} not in {r:?}");
                }
            }
        }
        for bits in [8u8, 16, 32] {
            let r = a.movsx(bits, Width::W64);
            for &x in &av {
                prop_assert!(r.contains(sext(x, bits as u32)), "movsx64 {bits} {x:#x} in {r:?}");
            }
            let r = a.coerce_to_size_sx(bits / 8);
            for &x in &av {
                prop_assert!(r.contains(sext(x, bits as u32)), "ldsx {bits} {x:#x}");
            }
        }
        for bits in [8u8, 16] {
            let r = a.movsx(bits, Width::W32);
            for &x in &av {
                let c = sext(x, bits as u32) as u32 as u64;
                prop_assert!(r.contains(c), "movsx32 {bits} {x:#x} -> {c:#x} not in {r:?}");
            }
        }
        for size in [1u8, 2, 4] {
            let r = a.coerce_to_size(size);
            let mask = (1u64 << (size * 8)) - 1;
            for &x in &av {
                prop_assert!(r.contains(x & mask), "coerce {size} {x:#x}");
            }
        }
        let r = a.alu(AluOp::Mov, Width::W32, a);
        for &x in &av {
            prop_assert!(r.contains(x as u32 as u64), "mov32 {x:#x}");
        }
        if let Some((cur, pushed)) = a.fork_minus_one_zero() {
            for &x in &av {
                prop_assert!(cur.contains(x) || pushed.contains(x), "fork lost {x:#x}");
            }
        }
    }

    #[test]
    fn branches_are_sound(
        (a, av) in abstract_value(),
        (b, bv) in abstract_value(),
    ) {
        for c in Cond::ALL {
            for jmp32 in [false, true] {
                if let Some(t) = branch_taken(c, jmp32, &a, &b) {
                    for &x in &av {
                        for &y in &bv {
                            prop_assert_eq!(concrete_cond(c, jmp32, x, y), t,
                                "{:?} jmp32={} decided {} but {:#x} vs {:#x}", c, jmp32, t, x, y);
                        }
                    }
                }
                for side in [false, true] {
                    let out = refine_detailed(c, jmp32, &a, &b, side);
                    for &x in &av {
                        for &y in &bv {
                            if concrete_cond(c, jmp32, x, y) != side {
                                continue;
                            }
                            prop_assert!(out.violations.iter().all(Option::is_none),
                                "{c:?} {jmp32} {side}: violation with a live pair");
                            prop_assert!(out.a.contains(x) && out.b.contains(y),
                                "{c:?} jmp32={jmp32} side={side}: lost {x:#x}, {y:#x}\n a={a:?}\n b={b:?}\n -> {:?}\n    {:?}",
                                out.a, out.b);
                        }
                    }
                    let (r, _) = refine_same_reg(c, jmp32, &a, side);
                    for &x in &av {
                        if concrete_cond(c, jmp32, x, x) == side {
                            prop_assert!(r.contains(x), "{c:?} same-reg {side}: lost {x:#x}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn branches_against_constants_are_sound((a, av) in abstract_value(), k in value()) {
        // Constants are what makes JNE, JSET and the single-value logic kick in.
        let b = Scalar::known(k);
        for c in Cond::ALL {
            for jmp32 in [false, true] {
                let decided = branch_taken(c, jmp32, &a, &b);
                for side in [false, true] {
                    let out = refine_detailed(c, jmp32, &a, &b, side);
                    for &x in &av {
                        let holds = concrete_cond(c, jmp32, x, k);
                        if let Some(t) = decided {
                            prop_assert_eq!(holds, t);
                        }
                        if holds == side {
                            prop_assert!(out.a.contains(x) && out.b.contains(k),
                                "{c:?} {jmp32} {side} const {k:#x}: lost {x:#x} from {a:?} -> {:?}", out.a);
                        }
                    }
                }
            }
        }
    }
}
