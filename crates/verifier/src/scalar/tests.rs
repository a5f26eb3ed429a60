//! Soundness of the scalar domain against concrete values: every transfer function,
//! refinement and branch decision keeps every concrete value its inputs describe.

use bpfvet_isa::insn::{AluOp, Cond, EndianOp, Width};
use proptest::prelude::*;

use super::{Scalar, branch_taken, refine};
use crate::tnum::Tnum;

/// An abstract value and a few of its members.
#[derive(Clone, Debug)]
struct Sample {
    s: Scalar,
    members: Vec<u64>,
}

fn from_range(lo: u64, hi: u64) -> Scalar {
    let mut s = Scalar::unknown();
    s.umin = lo;
    s.umax = hi;
    s.var_off = Tnum::range(lo, hi);
    s.sync()
}

fn from_signed_range(lo: i64, hi: i64) -> Scalar {
    let mut s = Scalar::unknown();
    s.smin = lo;
    s.smax = hi;
    s.sync()
}

fn from_tnum(value: u64, mask: u64) -> Scalar {
    let mut s = Scalar::unknown();
    s.var_off = Tnum {
        value: value & !mask,
        mask,
    };
    s.sync()
}

fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..64,
        Just(u64::MAX),
        Just(i64::MIN as u64),
        Just(i64::MAX as u64),
        Just(u32::MAX as u64),
        Just(0x8000_0000),
        Just(0x7fff_ffff),
        (0u64..1000).prop_map(|x| x.wrapping_neg()),
        any::<u64>(),
        any::<u32>().prop_map(u64::from),
    ]
}

fn sample() -> impl Strategy<Value = Sample> {
    let picks = prop::collection::vec(any::<u64>(), 6);
    prop_oneof![
        (interesting(), interesting(), picks.clone()).prop_map(|(a, b, p)| {
            let (lo, hi) = (a.min(b), a.max(b));
            let s = from_range(lo, hi);
            let span = hi - lo;
            let members = p
                .iter()
                .map(|r| {
                    if span == u64::MAX {
                        *r
                    } else {
                        lo + r % (span + 1)
                    }
                })
                .chain([lo, hi])
                .collect();
            Sample { s, members }
        }),
        (interesting(), interesting(), picks.clone()).prop_map(|(a, b, p)| {
            let (lo, hi) = ((a as i64).min(b as i64), (a as i64).max(b as i64));
            let s = from_signed_range(lo, hi);
            let span = hi.wrapping_sub(lo) as u64;
            let members = p
                .iter()
                .map(|r| {
                    if span == u64::MAX {
                        *r
                    } else {
                        (lo as u64).wrapping_add(r % (span + 1))
                    }
                })
                .chain([lo as u64, hi as u64])
                .collect();
            Sample { s, members }
        }),
        (
            interesting(),
            prop_oneof![
                Just(0u64),
                0u64..16,
                Just(0xff),
                Just(0xffff_0000),
                any::<u64>()
            ],
            picks
        )
            .prop_map(|(v, m, p)| {
                let s = from_tnum(v, m);
                let members = p.iter().map(|r| (v & !m) | (r & m)).collect();
                Sample { s, members }
            }),
        interesting().prop_map(|v| Sample {
            s: Scalar::constant(v),
            members: vec![v]
        }),
    ]
}

fn concrete(op: AluOp, w: Width, x: u64, y: u64) -> Option<u64> {
    let r = match w {
        Width::W64 => match op {
            AluOp::Add => x.wrapping_add(y),
            AluOp::Sub => x.wrapping_sub(y),
            AluOp::Mul => x.wrapping_mul(y),
            AluOp::And => x & y,
            AluOp::Or => x | y,
            AluOp::Xor => x ^ y,
            AluOp::Lsh => x.wrapping_shl(y as u32 & 63),
            AluOp::Rsh => x.wrapping_shr(y as u32 & 63),
            AluOp::Arsh => ((x as i64).wrapping_shr(y as u32 & 63)) as u64,
            AluOp::Mov => y,
            _ => return None,
        },
        Width::W32 => {
            let (a, b) = (x as u32, y as u32);
            u64::from(match op {
                AluOp::Add => a.wrapping_add(b),
                AluOp::Sub => a.wrapping_sub(b),
                AluOp::Mul => a.wrapping_mul(b),
                AluOp::And => a & b,
                AluOp::Or => a | b,
                AluOp::Xor => a ^ b,
                AluOp::Lsh => a.wrapping_shl(b & 31),
                AluOp::Rsh => a.wrapping_shr(b & 31),
                AluOp::Arsh => ((a as i32).wrapping_shr(b & 31)) as u32,
                AluOp::Mov => b,
                _ => return None,
            })
        }
    };
    Some(r)
}

fn cmp(c: Cond, jmp32: bool, x: u64, y: u64) -> bool {
    let (ux, uy, sx, sy) = if jmp32 {
        (
            u64::from(x as u32),
            u64::from(y as u32),
            i64::from(x as i32),
            i64::from(y as i32),
        )
    } else {
        (x, y, x as i64, y as i64)
    };
    match c {
        Cond::Eq => ux == uy,
        Cond::Ne => ux != uy,
        Cond::Gt => ux > uy,
        Cond::Ge => ux >= uy,
        Cond::Lt => ux < uy,
        Cond::Le => ux <= uy,
        Cond::Sgt => sx > sy,
        Cond::Sge => sx >= sy,
        Cond::Slt => sx < sy,
        Cond::Sle => sx <= sy,
        Cond::Set => ux & uy != 0,
    }
}

const OPS: [AluOp; 10] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::And,
    AluOp::Or,
    AluOp::Xor,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Arsh,
    AluOp::Mov,
];

const CONDS: [Cond; 11] = [
    Cond::Eq,
    Cond::Ne,
    Cond::Gt,
    Cond::Ge,
    Cond::Lt,
    Cond::Le,
    Cond::Sgt,
    Cond::Sge,
    Cond::Slt,
    Cond::Sle,
    Cond::Set,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn samples_are_members(a in sample()) {
        for &x in &a.members {
            prop_assert!(a.s.contains(x), "{:?} does not contain {x:#x}", a.s);
        }
        prop_assert!(a.s.is_consistent());
    }

    #[test]
    fn alu_is_sound(a in sample(), b in sample(), op in prop::sample::select(OPS.to_vec()), w64 in any::<bool>()) {
        let w = if w64 { Width::W64 } else { Width::W32 };
        let r = a.s.alu(op, w, b.s);
        for &x in &a.members {
            for &y in &b.members {
                if let Some(c) = concrete(op, w, x, y) {
                    prop_assert!(r.contains(c), "{op:?} {w:?}: {:?} op {:?} = {:?} misses {x:#x} op {y:#x} = {c:#x}", a.s, b.s, r);
                }
            }
        }
    }

    #[test]
    fn unary_ops_are_sound(a in sample(), w64 in any::<bool>(), bits in prop::sample::select(vec![8u8, 16, 32])) {
        let w = if w64 { Width::W64 } else { Width::W32 };
        let n = a.s.neg(w);
        let z = a.s.zext32();
        let sx = if w64 || bits < 32 { Some(a.s.movsx(w, bits)) } else { None };
        for &x in &a.members {
            let neg = if w64 { x.wrapping_neg() } else { u64::from((x as u32).wrapping_neg()) };
            prop_assert!(n.contains(neg));
            prop_assert!(z.contains(u64::from(x as u32)));
            if let Some(sx) = sx {
                let v = match (w64, bits) {
                    (true, 8) => x as i8 as i64 as u64,
                    (true, 16) => x as i16 as i64 as u64,
                    (true, _) => x as i32 as i64 as u64,
                    (false, 8) => u64::from(x as i8 as i32 as u32),
                    (false, _) => u64::from(x as i16 as i32 as u32),
                };
                prop_assert!(sx.contains(v), "movsx {w:?} {bits}: {:?} -> {:?} misses {x:#x} -> {v:#x}", a.s, sx);
            }
            for size in [1u32, 2, 4] {
                let c = a.s.coerce(size);
                prop_assert!(c.contains(x & ((1u64 << (size * 8)) - 1)));
                let s = a.s.coerce_sx(size);
                let v = match size { 1 => x as i8 as i64, 2 => x as i16 as i64, _ => x as i32 as i64 } as u64;
                prop_assert!(s.contains(v), "coerce_sx {size}: {:?} -> {:?} misses {x:#x}", a.s, s);
            }
            for (op, b) in [(EndianOp::ToLe, 16u8), (EndianOp::ToLe, 32), (EndianOp::ToLe, 64), (EndianOp::ToBe, 16), (EndianOp::ToBe, 32), (EndianOp::ToBe, 64), (EndianOp::Bswap, 16), (EndianOp::Bswap, 32), (EndianOp::Bswap, 64)] {
                let e = a.s.endian(op, b);
                let v = match (op, b) {
                    (EndianOp::ToLe, 16) => u64::from(x as u16),
                    (EndianOp::ToLe, 32) => u64::from(x as u32),
                    (EndianOp::ToLe, _) => x,
                    (_, 16) => u64::from((x as u16).swap_bytes()),
                    (_, 32) => u64::from((x as u32).swap_bytes()),
                    _ => x.swap_bytes(),
                };
                prop_assert!(e.contains(v));
            }
        }
    }

    #[test]
    fn branches_are_sound(a in sample(), b in sample(), c in prop::sample::select(CONDS.to_vec()), jmp32 in any::<bool>()) {
        let decided = branch_taken(c, jmp32, &a.s, &b.s);
        let t = refine(c, jmp32, &a.s, &b.s, true);
        let f = refine(c, jmp32, &a.s, &b.s, false);
        for &x in &a.members {
            for &y in &b.members {
                let holds = cmp(c, jmp32, x, y);
                if let Some(d) = decided {
                    prop_assert_eq!(d, holds, "{:?} {:?} {:?} jmp32={} decided wrongly for {:#x},{:#x}", c, a.s, b.s, jmp32, x, y);
                }
                let side = if holds { &t } else { &f };
                match side {
                    Some((ra, rb)) => {
                        prop_assert!(ra.contains(x) && rb.contains(y), "{c:?} jmp32={jmp32} outcome {holds}: {:?},{:?} refined to {ra:?},{rb:?} lose {x:#x},{y:#x}", a.s, b.s);
                    }
                    None => prop_assert!(false, "{c:?} outcome {holds} called dead but {x:#x},{y:#x} take it"),
                }
            }
        }
    }
}

#[test]
fn constants_stay_exact() {
    let five = Scalar::constant(5);
    let three = Scalar::constant(3);
    assert_eq!(five.alu(AluOp::Add, Width::W64, three), Scalar::constant(8));
    assert_eq!(five.alu(AluOp::Sub, Width::W64, three), Scalar::constant(2));
    assert_eq!(
        three.alu(AluOp::Sub, Width::W32, five),
        Scalar::constant(u64::from(3u32.wrapping_sub(5)))
    );
    assert_eq!(five.neg(Width::W64), Scalar::constant(5u64.wrapping_neg()));
    assert_eq!(
        five.neg(Width::W64).endian(EndianOp::Bswap, 16),
        Scalar::constant(0xfbff)
    );
    assert_eq!(
        five.alu(AluOp::Lsh, Width::W64, three),
        Scalar::constant(40)
    );
    assert_eq!(
        Scalar::constant(0xff).movsx(Width::W64, 8),
        Scalar::constant(u64::MAX)
    );
}

#[test]
fn masks_bound_values() {
    // r &= 0xff gives [0, 255] with the low byte unknown.
    let r = Scalar::unknown().alu(AluOp::And, Width::W64, Scalar::constant(0xff));
    assert_eq!((r.umin, r.umax, r.smin, r.smax), (0, 255, 0, 255));
    assert_eq!(
        r.var_off,
        Tnum {
            value: 0,
            mask: 0xff
        }
    );
    // A 32-bit op zero-extends.
    let r = Scalar::unknown().alu(AluOp::Add, Width::W32, Scalar::constant(1));
    assert_eq!((r.umin, r.umax), (0, u64::from(u32::MAX)));
    // if r < 10 on [0, 255] refines to [0, 9] and [10, 255].
    let byte = Scalar::unknown().alu(AluOp::And, Width::W64, Scalar::constant(0xff));
    let (t, _) = refine(Cond::Lt, false, &byte, &Scalar::constant(10), true).unwrap();
    let (f, _) = refine(Cond::Lt, false, &byte, &Scalar::constant(10), false).unwrap();
    assert_eq!((t.umin, t.umax), (0, 9));
    assert_eq!((f.umin, f.umax), (10, 255));
    assert_eq!(
        branch_taken(Cond::Lt, false, &t, &Scalar::constant(10)),
        Some(true)
    );
}
