//! Arithmetic corner cases under the JIT, each checked against a stated value and against
//! the interpreter (checked and unchecked JIT): division and modulo by zero, `INT_MIN / -1`,
//! shift masks with the count in every position relative to rcx, 32-bit zero-extension,
//! sign-extending moves and loads, byte swaps, jumps at signed/unsigned boundaries.

mod common;

use common::{agree, agree_with};

const BIG: u64 = 0xfedc_ba98_7654_3210;

#[test]
fn division_and_modulo_by_zero() {
    // (op, expected for dst = BIG)
    let cases = [
        ("div", 0),
        ("mod", BIG),
        ("sdiv", 0),
        ("smod", BIG),
        ("div32", 0),
        ("mod32", BIG & 0xffff_ffff),
        ("sdiv32", 0),
        ("smod32", BIG & 0xffff_ffff),
    ];
    for (op, want) in cases {
        let by_imm = format!("lddw %r0, {BIG:#x}\n{op} %r0, 0\nexit");
        assert_eq!(agree(&by_imm, &[]), want, "{op} imm");
        // The divisor in R3 (rdx on x86) and the dividend in R6.
        let by_reg = format!("lddw %r6, {BIG:#x}\nmov %r3, 0\n{op} %r6, %r3\nmov %r0, %r6\nexit");
        assert_eq!(agree(&by_reg, &[]), want, "{op} reg");
    }
}

#[test]
fn int_min_by_minus_one() {
    let min64 = i64::MIN as u64;
    let min32 = i32::MIN as u32 as u64;
    let cases = [
        (format!("lddw %r0, {min64:#x}\nsdiv %r0, -1\nexit"), min64),
        (format!("lddw %r0, {min64:#x}\nsmod %r0, -1\nexit"), 0),
        (
            format!("lddw %r0, {min64:#x}\nmov %r1, -1\nsdiv %r0, %r1\nexit"),
            min64,
        ),
        (
            format!("lddw %r0, {min64:#x}\nmov %r1, -1\nsmod %r0, %r1\nexit"),
            0,
        ),
        (
            format!("mov32 %r0, {min32:#x}\nsdiv32 %r0, -1\nexit"),
            min32,
        ),
        (format!("mov32 %r0, {min32:#x}\nsmod32 %r0, -1\nexit"), 0),
        (
            "lddw %r0, 0xffffffff80000000\nmov32 %r1, -1\nsdiv32 %r0, %r1\nexit".to_string(),
            min32,
        ),
        (
            format!("mov32 %r0, {min32:#x}\nmov %r1, -1\nsmod32 %r0, %r1\nexit"),
            0,
        ),
        // Unsigned division by all-ones is an ordinary division.
        (format!("lddw %r0, {min64:#x}\ndiv %r0, -1\nexit"), 0),
        ("mov %r0, -7\nsdiv %r0, 2\nexit".to_string(), -3i64 as u64),
        ("mov %r0, -7\nsmod %r0, 2\nexit".to_string(), -1i64 as u64),
        ("mov %r0, 7\nsmod %r0, -2\nexit".to_string(), 1),
        (
            "mov32 %r0, -7\nsmod32 %r0, 2\nexit".to_string(),
            0xffff_ffff,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(agree(&text, &[]), want, "{text}");
    }
}

#[test]
fn division_keeps_r0_and_r3_when_they_are_not_involved() {
    // rax and rdx are used by x86 division; R0 and R3 must survive a division of R6 by R7.
    let text = "mov %r0, 11\nmov %r3, 33\nmov %r6, 100\nmov %r7, 7\nmod %r6, %r7\n\
                div %r6, 2\nlsh %r0, 8\nor %r0, %r3\nlsh %r0, 8\nor %r0, %r6\nexit";
    assert_eq!(agree(text, &[]), (11 << 16) | (33 << 8) | 1);
    // Dividing R3 by R0 and R0 by R3.
    assert_eq!(
        agree(
            "mov %r0, 5\nmov %r3, 17\ndiv %r3, %r0\nmov %r0, %r3\nexit",
            &[]
        ),
        3
    );
    assert_eq!(agree("mov %r0, 17\nmov %r3, 5\nmod %r0, %r3\nexit", &[]), 2);
    assert_eq!(
        agree(
            "mov %r0, 17\nmov %r3, 5\nmod %r3, %r3\nmov %r0, %r3\nexit",
            &[]
        ),
        0
    );
}

#[test]
fn shift_counts_are_masked() {
    let x = 0x8000_0000_0000_0001u64;
    for count in [0u64, 1, 31, 32, 33, 63, 64, 65, 127, 0xffff_ffff_ffff_ffc1] {
        for (op, f) in [
            (
                "lsh",
                (|v: u64, c: u64| v << (c & 63)) as fn(u64, u64) -> u64,
            ),
            ("rsh", |v, c| v >> (c & 63)),
            ("arsh", |v, c| ((v as i64) >> (c & 63)) as u64),
            ("lsh32", |v, c| ((v as u32) << (c & 31)) as u64),
            ("rsh32", |v, c| ((v as u32) >> (c & 31)) as u64),
            ("arsh32", |v, c| {
                (((v as u32 as i32) >> (c & 31)) as u32) as u64
            }),
        ] {
            let want = f(x, count);
            // Count in R2, value in R0; count in R4 (rcx); value in R4; both in R4.
            let texts = [
                format!("lddw %r0, {x:#x}\nlddw %r2, {count:#x}\n{op} %r0, %r2\nexit"),
                format!("lddw %r0, {x:#x}\nlddw %r4, {count:#x}\n{op} %r0, %r4\nexit"),
                format!(
                    "lddw %r4, {x:#x}\nlddw %r2, {count:#x}\n{op} %r4, %r2\nmov %r0, %r4\nexit"
                ),
            ];
            for t in &texts {
                assert_eq!(agree(t, &[]), want, "{t}");
            }
            if count < 1 << 31 {
                let imm = format!("lddw %r0, {x:#x}\n{op} %r0, {count}\nexit");
                assert_eq!(agree(&imm, &[]), want, "{imm}");
            }
        }
    }
    // Shifting R4 by itself.
    assert_eq!(
        agree("mov %r4, 3\nlsh %r4, %r4\nmov %r0, %r4\nexit", &[]),
        24
    );
    // The shift leaves R4 (rcx) alone when it is neither operand.
    assert_eq!(
        agree(
            "mov %r4, 9\nmov %r0, 1\nmov %r2, 4\nlsh %r0, %r2\nadd %r0, %r4\nexit",
            &[]
        ),
        25
    );
}

#[test]
fn thirty_two_bit_results_are_zero_extended() {
    let ops = [
        ("add32 %r0, 1", 0),
        ("sub32 %r0, 1", 0xffff_fffe),
        ("mul32 %r0, 3", 0xffff_fffd),
        ("or32 %r0, 0", 0xffff_ffff),
        ("and32 %r0, -1", 0xffff_ffff),
        ("xor32 %r0, 0", 0xffff_ffff),
        ("mov32 %r0, %r0", 0xffff_ffff),
        ("neg32 %r0", 1),
        ("lsh32 %r0, 0", 0xffff_ffff),
        ("rsh32 %r0, 0", 0xffff_ffff),
        ("arsh32 %r0, 0", 0xffff_ffff),
        ("div32 %r0, 1", 0xffff_ffff),
        ("mod32 %r0, 7", 0xffff_ffff % 7),
        ("le32 %r0", 0xffff_ffff),
        ("le16 %r0", 0xffff),
        ("be32 %r0", 0xffff_ffff),
        ("movsx832 %r0, %r0", 0xffff_ffff),
    ];
    for (op, want) in ops {
        let text = format!("lddw %r0, 0xffffffffffffffff\n{op}\nexit");
        assert_eq!(agree(&text, &[]), want, "{op}");
    }
    // A 32-bit shift by a register count of 0 still clears the upper half.
    let text = "lddw %r0, 0xffffffffffffffff\nmov %r2, 32\nlsh32 %r0, %r2\nexit";
    assert_eq!(agree(text, &[]), 0xffff_ffff);
}

#[test]
fn sign_extension_and_byte_swaps() {
    let cases = [
        (
            "mov %r1, 0x80\nmovsx864 %r0, %r1\nexit",
            0xffff_ffff_ffff_ff80,
        ),
        (
            "mov %r1, 0x8000\nmovsx1664 %r0, %r1\nexit",
            0xffff_ffff_ffff_8000,
        ),
        (
            "mov32 %r1, 0x80000000\nmovsx3264 %r0, %r1\nexit",
            0xffff_ffff_8000_0000,
        ),
        ("mov %r1, 0x80\nmovsx832 %r0, %r1\nexit", 0xffff_ff80),
        ("mov %r1, 0x8000\nmovsx1632 %r0, %r1\nexit", 0xffff_8000),
        // R2 (rsi) and R1 (rdi) need REX prefixes for their byte views.
        ("mov %r2, 0x1ff\nmovsx864 %r0, %r2\nexit", u64::MAX),
        ("lddw %r0, 0x0102030405060708\nbe16 %r0\nexit", 0x0807),
        ("lddw %r0, 0x0102030405060708\nbe32 %r0\nexit", 0x0807_0605),
        (
            "lddw %r0, 0x0102030405060708\nbe64 %r0\nexit",
            0x0807_0605_0403_0201,
        ),
        ("lddw %r0, 0x0102030405060708\nbswap16 %r0\nexit", 0x0807),
        (
            "lddw %r0, 0x0102030405060708\nle64 %r0\nexit",
            0x0102_0304_0506_0708,
        ),
        ("lddw %r0, 0x0102030405060708\nle16 %r0\nexit", 0x0708),
    ];
    for (text, want) in cases {
        assert_eq!(agree(text, &[]), want, "{text}");
    }
    let mem = [0x80, 0x80, 0xff, 0xff, 0x7f, 0, 0, 0x80];
    let loads = [
        ("ldxsb %r0, [%r1]", 0xffff_ffff_ffff_ff80),
        ("ldxsh %r0, [%r1]", 0xffff_ffff_ffff_8080),
        ("ldxsw %r0, [%r1]", 0xffff_ffff_ffff_8080),
        ("ldxsw %r0, [%r1+4]", 0xffff_ffff_8000_007f),
        ("ldxb %r0, [%r1]", 0x80),
        ("ldxh %r0, [%r1]", 0x8080),
        ("ldxw %r0, [%r1]", 0xffff_8080),
        ("ldxdw %r0, [%r1]", 0x8000_007f_ffff_8080),
    ];
    for (load, want) in loads {
        assert_eq!(agree(&format!("{load}\nexit"), &mem), want, "{load}");
    }
}

#[test]
fn jumps_at_signed_and_unsigned_boundaries() {
    let values = [
        0u64,
        1,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        1 << 32,
        i64::MAX as u64,
        i64::MIN as u64,
        u64::MAX,
    ];
    let conds = [
        "jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset",
    ];
    for &a in &values {
        for &b in &values {
            for c in conds {
                for suffix in ["", "32"] {
                    let reg = format!(
                        "lddw %r1, {a:#x}\nlddw %r2, {b:#x}\nmov %r0, 1\n{c}{suffix} %r1, %r2, +1\nmov %r0, 0\nexit"
                    );
                    let want = taken(c, suffix == "32", a, b) as u64;
                    assert_eq!(agree(&reg, &[]), want, "{reg}");
                    // Immediates are sign-extended 32-bit values.
                    if let Ok(k) = i32::try_from(b as i64) {
                        let imm = format!(
                            "lddw %r1, {a:#x}\nmov %r0, 1\n{c}{suffix} %r1, {k}, +1\nmov %r0, 0\nexit"
                        );
                        let want = taken(
                            c,
                            suffix == "32",
                            a,
                            if suffix == "32" {
                                k as u32 as u64
                            } else {
                                k as i64 as u64
                            },
                        ) as u64;
                        assert_eq!(agree(&imm, &[]), want, "{imm}");
                    }
                }
            }
        }
    }
}

/// Whether `c` jumps for `a`, `b` (the stated BPF meaning).
fn taken(c: &str, w32: bool, a: u64, b: u64) -> bool {
    let (a, b) = if w32 {
        (a as u32 as u64, b as u32 as u64)
    } else {
        (a, b)
    };
    let (sa, sb) = if w32 {
        (a as u32 as i32 as i64, b as u32 as i32 as i64)
    } else {
        (a as i64, b as i64)
    };
    match c {
        "jeq" => a == b,
        "jne" => a != b,
        "jgt" => a > b,
        "jge" => a >= b,
        "jlt" => a < b,
        "jle" => a <= b,
        "jsgt" => sa > sb,
        "jsge" => sa >= sb,
        "jslt" => sa < sb,
        "jsle" => sa <= sb,
        _ => a & b != 0,
    }
}

#[test]
fn multiplication_by_constants() {
    for k in [0i32, 1, -1, 2, 3, 5, 8, 9, 7, 1 << 30, i32::MIN, -3] {
        let want64 = BIG.wrapping_mul(k as i64 as u64);
        let want32 = (BIG as u32).wrapping_mul(k as u32) as u64;
        let t64 = format!("lddw %r6, {BIG:#x}\nmul %r6, {k}\nmov %r0, %r6\nexit");
        let t32 = format!("lddw %r6, {BIG:#x}\nmul32 %r6, {k}\nmov %r0, %r6\nexit");
        assert_eq!(agree(&t64, &[]), want64, "mul {k}");
        assert_eq!(agree(&t32, &[]), want32, "mul32 {k}");
    }
}

#[test]
fn rotate_idioms_keep_both_registers_exact() {
    for (w, bits) in [("", 64u32), ("32", 32)] {
        for k in [1u32, 7, bits - 1] {
            for order in [0, 1] {
                let (s1, s2) = (
                    format!("lsh{w} %r0, {k}"),
                    format!("rsh{w} %r5, {}", bits - k),
                );
                let (s1, s2) = if order == 0 { (s1, s2) } else { (s2, s1) };
                // R5 (the bits shifted out) and R0 (rotated) both feed the result.
                let text = format!(
                    "lddw %r0, {BIG:#x}\nmov{w} %r5, %r0\n{s1}\n{s2}\nor{w} %r0, %r5\n\
                     lsh %r5, 40\nxor %r0, %r5\nexit"
                );
                let x = if bits == 32 { BIG & 0xffff_ffff } else { BIG };
                let (rot, out) = if bits == 32 {
                    ((x as u32).rotate_left(k) as u64, x >> (32 - k))
                } else {
                    (x.rotate_left(k), x >> (64 - k))
                };
                assert_eq!(agree(&text, &[]), rot ^ (out << 40), "{text}");
            }
        }
    }
    // A jump into the middle of the idiom must still see the plain instructions.
    let text = "lddw %r0, 0x8000000000000001\nmov %r5, %r0\njeq %r0, 0, +0\nlsh %r0, 1\nrsh %r5, 63\nor %r0, %r5\nexit";
    assert_eq!(agree(text, &[]), 3);
}

#[test]
fn range_checks_and_equality_chains() {
    let values = [
        0u64,
        0x2f,
        0x30,
        0x35,
        0x39,
        0x3a,
        0x7f,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0030,
        u64::MAX,
        i64::MIN as u64,
    ];
    let ranges = [
        (0x30i32, 0x39i32),
        (0, 0),
        (-5, 5),
        (i32::MIN, -1),
        (5, 3),
        (0, i32::MAX),
        (i32::MIN, i32::MAX),
    ];
    for &v in &values {
        for &(lo, hi) in &ranges {
            for w in ["", "32"] {
                for (c1, k1, c2, k2) in [("jlt", lo, "jgt", hi), ("jgt", hi, "jlt", lo)] {
                    let text = format!(
                        "lddw %r4, {v:#x}\nmov %r0, 1\n{c1}{w} %r4, {k1}, out\n{c2}{w} %r4, {k2}, out\nmov %r0, 2\nout:\nexit"
                    );
                    let (x, a, b) = if w == "32" {
                        (v as u32 as u64, lo as u32 as u64, hi as u32 as u64)
                    } else {
                        (v, lo as i64 as u64, hi as i64 as u64)
                    };
                    // Either order jumps out when x is outside [a, b].
                    let out = x < a || x > b;
                    assert_eq!(agree(&text, &[]), if out { 1 } else { 2 }, "{text}");
                    // Reached by a `goto` (which takes a copy of the pair).
                    let text = text.replace("mov %r0, 1\n", "mov %r0, 1\nja +1\nmov %r0, 9\n");
                    assert_eq!(agree(&text, &[]), if out { 1 } else { 2 }, "{text}");
                }
            }
        }
        for w in ["", "32"] {
            let text = format!(
                "lddw %r4, {v:#x}\nmov %r0, 1\njeq{w} %r4, 0x20, out\njeq{w} %r4, 0x0a, out\njeq{w} %r4, 0x39, out\njeq{w} %r4, 0, out\nmov %r0, 2\nout:\nexit"
            );
            let x = if w == "32" { v as u32 as u64 } else { v };
            let hit = [0x20, 0x0a, 0x39, 0].contains(&x);
            assert_eq!(agree(&text, &[]), if hit { 1 } else { 2 }, "{text}");
            let text = text.replace("mov %r0, 1\n", "mov %r0, 1\nja +1\nmov %r0, 9\n");
            assert_eq!(agree(&text, &[]), if hit { 1 } else { 2 }, "{text}");
        }
    }
}

#[test]
fn gotos_to_conditional_jumps() {
    // Every path of the loop body meets at the loop test through a `goto` (which the
    // unchecked JIT replaces by a copy of the test); also a `goto` to a `goto`-free test whose
    // fall-through is the end.
    let text = "
        mov %r6, 0
        mov %r7, 0
        mov %r3, %r1
        add %r3, %r2
    loop:
        ldxb %r4, [%r1]
        add %r1, 1
        jlt %r4, 0x30, other
        jgt %r4, 0x39, other
        add %r6, 1
        ja next
    other:
        add %r7, 1
        ja next
    next:
        jlt %r1, %r3, loop
        mov %r0, %r6
        lsh %r0, 32
        or %r0, %r7
        ja end
    end:
        jeq %r0, 0, +1
        exit
        mov %r0, 99
        exit";
    let input = b"ab12 x9!0";
    assert_eq!(agree(text, input), (4 << 32) | 5);
    assert_eq!(agree(text, b"z"), 1);
}

#[test]
fn shifted_index_added_to_a_base() {
    for k in 0..5 {
        // b dead after the add (folded), then b still read afterwards (not folded), then b
        // read in between (not folded), then a jump target in between (not folded).
        let texts = [
            format!(
                "mov %r3, 5\nmov %r5, 1000\nlsh %r3, {k}\nmov %r4, 7\nadd %r5, %r3\nmov %r0, %r5\nadd %r0, %r4\nexit"
            ),
            format!(
                "mov %r3, 5\nmov %r5, 1000\nlsh %r3, {k}\nadd %r5, %r3\nmov %r0, %r5\nadd %r0, %r3\nexit"
            ),
            format!(
                "mov %r3, 5\nmov %r5, 1000\nlsh %r3, {k}\nmov %r4, %r3\nadd %r5, %r3\nmov %r0, %r5\nadd %r0, %r4\nexit"
            ),
            format!(
                "mov %r3, 5\nmov %r5, 1000\nlsh %r3, {k}\njeq %r3, 0, +0\nadd %r5, %r3\nmov %r0, %r5\nexit"
            ),
        ];
        let wants = [
            1000 + (5 << k) + 7,
            1000 + 2 * (5 << k),
            1000 + 2 * (5 << k),
            1000 + (5 << k),
        ];
        for (t, want) in texts.iter().zip(wants) {
            assert_eq!(agree(t, &[]), want, "{t}");
        }
    }
    // In a loop over a stack table, as in compiled array indexing.
    let text = "
        mov %r2, 0
        mov %r0, 0
    fill:
        mov %r5, %r10
        sub %r5, 64
        mov %r3, %r2
        lsh %r3, 3
        add %r5, %r3
        stxdw [%r5], %r2
        add %r2, 1
        jlt %r2, 8, fill
        mov %r2, 0
    sum:
        mov %r3, %r2
        lsh %r3, 3
        mov %r5, %r10
        sub %r5, 64
        add %r5, %r3
        ldxdw %r4, [%r5]
        mul %r0, 3
        add %r0, %r4
        add %r2, 1
        jlt %r2, 8, sum
        exit";
    let want = (0..8u64).fold(0, |acc, v| acc * 3 + v);
    assert_eq!(agree(text, &[]), want);
}

#[test]
fn sums_folded_into_addresses() {
    // `r6 = r1 + (r3 << k)` used as the base of the accesses that follow; some windows allow
    // the fold (the sum dies, or a load replaces it), others must keep the add (the sum or
    // the index is read or changed, a jump lands inside).
    let windows = [
        "ldxb %r0, [%r6+1]",
        "ldxdw %r4, [%r6]\nadd %r4, 7\nstxdw [%r6+8], %r4\nmov %r0, %r4",
        "ldxb %r6, [%r6]\nmov %r0, %r6",
        "ldxb %r3, [%r6]\nmov %r0, %r3\nsub %r6, %r1\nadd %r0, %r6",
        "ldxb %r0, [%r6]\nsub %r6, %r1\nadd %r0, %r6",
        "ldxb %r0, [%r6]\nadd %r3, 1\nldxb %r4, [%r6+2]\nadd %r0, %r4",
        "stxb [%r6], %r3\nldxb %r0, [%r1]",
        "stb [%r6+2], 5\nstw [%r6+4], -1\nldxdw %r0, [%r1]\nldxdw %r4, [%r1+8]\nxor %r0, %r4",
        "ldxb %r0, [%r6]\njeq %r0, 1000, +0\nldxb %r4, [%r6+3]\nadd %r0, %r4",
        "ldxh %r0, [%r6]\nja +0\nldxw %r4, [%r6+1]\nadd %r0, %r4",
        "mov %r5, 9\nldxw %r0, [%r6+2]\nmul %r5, %r0\nldxb %r6, [%r6+7]\nadd %r0, %r6\nadd %r0, %r5",
    ];
    let mem: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    for w in windows {
        for shift in ["", "lsh %r3, 1\n", "lsh %r3, 2\n", "lsh %r3, 3\n"] {
            for idx in 0..4 {
                let text = format!("mov %r6, %r1\nmov %r3, {idx}\n{shift}add %r6, %r3\n{w}\nexit");
                let o = agree_with(&text, &mem, &|_| {}, true);
                assert!(o.result.is_ok(), "{text}: {:?}", o.result);
                // The same through a copy plus a constant (one lea) before the add.
                let text = text.replace("mov %r6, %r1\n", "mov %r6, %r1\nadd %r6, 2\n");
                agree_with(&text, &mem, &|_| {}, true).result.unwrap();
            }
        }
    }
}
