//! Exhaustive checks of tnum operations at small widths (6 bits for binary operations, 8 for unary ones) against enumeration of members.
//! A tnum over the low `n` bits (upper bits known zero, or known one to exercise sign and
//! carry behaviour) has at most `2^n` members, so every claim can be checked by brute
//! force: soundness of every operation, exactness of the operations that are exact
//! (and/or/xor/add/sub/union/intersect/range), and the predicates.

use bpfvet_verifier::tnum::Tnum;

/// An operation under test: name, tnum result, concrete function, exact or not.
type BinOp = (&'static str, Tnum, fn(u64, u64) -> u64, bool);

/// Every tnum over the low `bits` bits, with the upper bits all known equal to `high`.
fn all_tnums(bits: u32, high: bool) -> Vec<Tnum> {
    let mut out = Vec::new();
    let n = 3u32.pow(bits);
    let upper = if high { !((1u64 << bits) - 1) } else { 0 };
    for mut code in 0..n {
        let (mut value, mut mask) = (upper, 0u64);
        for bit in 0..bits {
            match code % 3 {
                0 => {}
                1 => value |= 1 << bit,
                _ => mask |= 1 << bit,
            }
            code /= 3;
        }
        out.push(Tnum::new(value, mask));
    }
    out
}

/// The members of a tnum whose mask is small.
fn members(t: Tnum) -> Vec<u64> {
    let mut out = Vec::new();
    let mut sub = 0u64;
    // Enumerate every submask of t.mask.
    loop {
        out.push(t.value | sub);
        if sub == t.mask {
            break;
        }
        sub = (sub.wrapping_sub(t.mask)) & t.mask;
    }
    out
}

/// The smallest tnum holding every value of `vals`.
fn hull(vals: impl IntoIterator<Item = u64>) -> Tnum {
    let mut it = vals.into_iter();
    let first = Tnum::constant(it.next().expect("non-empty"));
    it.fold(first, |acc, v| acc.union(Tnum::constant(v)))
}

#[test]
fn binary_ops_are_sound_and_bitwise_ones_exact() {
    for high in [false, true] {
        let ts = all_tnums(6, high);
        for &a in &ts {
            let am = members(a);
            for &b in &ts {
                let bm = members(b);
                let ops: [BinOp; 6] = [
                    ("add", a.add(b), u64::wrapping_add, true),
                    ("sub", a.sub(b), u64::wrapping_sub, true),
                    ("mul", a.mul(b), u64::wrapping_mul, false),
                    ("and", a.and(b), |x, y| x & y, true),
                    ("or", a.or(b), |x, y| x | y, true),
                    ("xor", a.xor(b), |x, y| x ^ y, true),
                ];
                for (name, r, f, exact) in ops {
                    let results = am.iter().flat_map(|&x| bm.iter().map(move |&y| f(x, y)));
                    for c in results.clone() {
                        assert!(
                            r.contains_value(c),
                            "{name} {a:?} {b:?}: {c:#x} not in {r:?}"
                        );
                    }
                    if exact {
                        assert_eq!(r, hull(results), "{name} {a:?} {b:?} not exact");
                    }
                }
                // union: exactly the hull of both member sets
                assert_eq!(a.union(b), hull(am.iter().chain(&bm).copied()));
                // overlap, intersect and contains against the member sets
                let common: Vec<u64> = am
                    .iter()
                    .copied()
                    .filter(|v| b.contains_value(*v))
                    .collect();
                assert_eq!(a.overlap(b), !common.is_empty(), "overlap {a:?} {b:?}");
                if !common.is_empty() {
                    let i = a.intersect(b);
                    let mut im = members(i);
                    im.sort_unstable();
                    assert_eq!(im, common, "intersect {a:?} {b:?}");
                }
                let inside = bm.iter().all(|v| a.contains_value(*v));
                assert_eq!(a.contains(b), inside, "contains {a:?} {b:?}");
            }
        }
    }
}

#[test]
fn mul_is_sound_at_eight_bits_by_constants() {
    // Long multiplication by a constant is where the union step matters least; by an
    // unknown multiplier it matters most. Cover both at 8 bits (upper bits zero).
    let ts = all_tnums(8, false);
    let consts: Vec<Tnum> = (0..256).step_by(7).map(Tnum::constant).collect();
    for &a in ts.iter().step_by(5) {
        let am = members(a);
        for &b in consts.iter().chain(ts.iter().step_by(331)) {
            let r = a.mul(b);
            let r2 = b.mul(a);
            for &x in &am {
                for y in members(b) {
                    let c = x.wrapping_mul(y);
                    assert!(
                        r.contains_value(c) && r2.contains_value(c),
                        "mul {a:?} {b:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn unary_ops_are_sound_at_eight_bits() {
    for high in [false, true] {
        for a in all_tnums(8, high) {
            let am = members(a);
            for c in am.iter().map(|x| x.wrapping_neg()) {
                assert!(a.neg().contains_value(c), "neg {a:?}");
            }
            for sh in 0..64u8 {
                let (l, r, ar) = (a.lshift(sh), a.rshift(sh), a.arshift(sh, 64));
                let ar32 = a.arshift(sh % 32, 32);
                for &x in &am {
                    assert!(l.contains_value(x << sh), "lsh {a:?} {sh}");
                    assert!(r.contains_value(x >> sh), "rsh {a:?} {sh}");
                    assert!(
                        ar.contains_value(((x as i64) >> sh) as u64),
                        "arsh {a:?} {sh}"
                    );
                    let want = ((x as u32 as i32) >> (sh % 32)) as u32 as u64;
                    assert!(ar32.contains_value(want), "arsh32 {a:?} {sh}");
                }
            }
            for &x in &am {
                assert!(a.bswap16().contains_value((x as u16).swap_bytes() as u64));
                assert!(a.bswap32().contains_value((x as u32).swap_bytes() as u64));
                assert!(a.bswap64().contains_value(x.swap_bytes()));
                assert!(a.cast(1).contains_value(x & 0xff));
                assert!(a.subreg().contains_value(x & 0xffff_ffff));
                assert!(a.clear_subreg().contains_value(x & !0xffff_ffff));
                assert!(
                    a.const_subreg(0x1234)
                        .contains_value((x & !0xffff_ffff) | 0x1234)
                );
            }
            // every member aligned iff the tnum says so
            for size in [1u64, 2, 4, 8] {
                let all = am.iter().all(|x| x % size == 0);
                assert_eq!(a.is_aligned(size), all, "aligned {a:?} {size}");
            }
        }
    }
}

#[test]
fn step_finds_the_next_member() {
    for a in all_tnums(8, false) {
        let am = members(a);
        let tmax = a.max_member();
        for z in 0..=300u64 {
            let want = if z >= tmax {
                tmax
            } else if z < a.value {
                a.value
            } else {
                *am.iter()
                    .filter(|&&m| m > z)
                    .min()
                    .expect("a member above z")
            };
            assert_eq!(a.step(z), want, "step {a:?} {z}");
        }
    }
    // and with high bits, where the carry has to travel far
    let t = Tnum::new(0x8000_0000_0000_0001, 0x4000_0000_0000_0f00);
    assert_eq!(t.step(0x8000_0000_0000_0001), 0x8000_0000_0000_0101);
    assert_eq!(t.step(0x8000_0000_0000_0f01), 0xc000_0000_0000_0001);
}

#[test]
fn range_is_the_smallest_tnum_covering_the_interval() {
    for min in 0..=255u64 {
        for max in min..=255u64 {
            assert_eq!(Tnum::range(min, max), hull(min..=max), "range {min} {max}");
        }
    }
    assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
    assert_eq!(
        Tnum::range(u64::MAX - 3, u64::MAX),
        Tnum::new(u64::MAX - 3, 3)
    );
}

#[test]
fn sbin_spells_every_bit() {
    for a in all_tnums(4, true) {
        let s = a.sbin();
        assert_eq!(s.len(), 64);
        for (i, ch) in s.chars().rev().enumerate() {
            let want = if a.mask >> i & 1 == 1 {
                'x'
            } else if a.value >> i & 1 == 1 {
                '1'
            } else {
                '0'
            };
            assert_eq!(ch, want, "bit {i} of {a:?}");
        }
    }
}
