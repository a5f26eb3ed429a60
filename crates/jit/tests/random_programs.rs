//! Property test: random valid programs give bit-for-bit the same R0, input memory, stack
//! contents (folded into R0) and executed-instruction count on the checked JIT as on the
//! interpreter, and the same R0 and memory on the unchecked JIT.
//!
//! Programs are straight-line code with forward jumps (`ja`, `gotol` and every conditional
//! jump, both widths, register and immediate) and small counted loops: every ALU operation of both widths with
//! register and immediate sources (divisors and shift counts biased towards 0, -1, `INT_MIN`,
//! 31, 32, 63, 64), negation, sign-extending moves, byte swaps, LD_IMM64, loads of every
//! width and signedness, stores and every atomic into a 64-byte input buffer and the stack,
//! and calls to a registered helper. R9 holds the buffer and R10 the frame pointer; neither
//! is ever written, so no address reaches R0 (in unchecked mode addresses differ). At the end
//! every data register and the stack are folded into R0.
//!
//! `cargo test` runs 256 cases; set `BPFVET_JIT_CASES` for a longer run (the fuzzing mode).

mod common;

use bpfvet_isa::{AluOp, AtomicOp, CallKind, Cond, EndianOp, Insn, Program, Reg, Size, Src, Width};
use bpfvet_jit::{EngineKind, available};
use bpfvet_vm::RunOptions;
use common::run_on;
use proptest::prelude::*;

const BUF: i16 = 64;
const STACK: i16 = 64;
/// Registers that hold data (R8 = loop counter, R9 = buffer, R10 = frame pointer are never
/// written by body instructions).
const DATA: [Reg; 8] = [
    Reg::R0,
    Reg::R1,
    Reg::R2,
    Reg::R3,
    Reg::R4,
    Reg::R5,
    Reg::R6,
    Reg::R7,
];

fn reg(bits: u64) -> Reg {
    DATA[(bits % DATA.len() as u64) as usize]
}

fn value(bits: u64, v: u64) -> u64 {
    const SPECIAL: [u64; 14] = [
        0,
        1,
        2,
        u64::MAX,
        i64::MIN as u64,
        i64::MAX as u64,
        0x8000_0000,
        0x7fff_ffff,
        0xffff_ffff,
        0xffff_ffff_8000_0000,
        0x1_0000_0000,
        31,
        32,
        63,
    ];
    if bits & 1 == 0 {
        SPECIAL[(v % SPECIAL.len() as u64) as usize]
    } else {
        v
    }
}

fn imm(bits: u64, v: u64) -> i32 {
    const SPECIAL: [i32; 10] = [0, 1, -1, i32::MIN, i32::MAX, 31, 32, 63, 64, 2];
    if bits & 1 == 0 {
        SPECIAL[(v % SPECIAL.len() as u64) as usize]
    } else {
        v as i32
    }
}

fn size(bits: u64) -> Size {
    [Size::B, Size::H, Size::W, Size::DW][(bits % 4) as usize]
}

fn bytes(s: Size) -> i16 {
    match s {
        Size::B => 1,
        Size::H => 2,
        Size::W => 4,
        Size::DW => 8,
    }
}

/// Base register and offset of an access of `n` bytes (aligned to `align`).
fn place(bits: u64, v: u64, n: i16, align: i16) -> (Reg, i16) {
    let (base, lo, hi) = if bits & 1 == 0 {
        (Reg::R9, 0, BUF - n)
    } else {
        (Reg::R10, -STACK, -n)
    };
    let span = (hi - lo) / align + 1;
    (base, lo + (v % span as u64) as i16 * align)
}

/// A body instruction from two random words; jumps carry the number of instructions to
/// skip (fixed up later).
fn body_insn(a: u64, b: u64) -> (Insn, Option<usize>) {
    let width = if (a >> 12) & 1 == 0 {
        Width::W64
    } else {
        Width::W32
    };
    let dst = reg(a >> 16);
    let src = if (a >> 20) & 1 == 0 {
        Src::Reg(reg(a >> 24))
    } else {
        Src::Imm(imm(a >> 28, b))
    };
    let insn = match a % 100 {
        0..45 => Insn::Alu {
            width,
            op: AluOp::ALL[((a >> 8) % 14) as usize],
            dst,
            src,
        },
        45..47 => Insn::Neg { width, dst },
        47..49 => {
            let (width, bits) = [
                (Width::W64, 8),
                (Width::W64, 16),
                (Width::W64, 32),
                (Width::W32, 8),
                (Width::W32, 16),
            ][((a >> 8) % 5) as usize];
            Insn::MovSx {
                width,
                bits,
                dst,
                src: reg(a >> 24),
            }
        }
        49..52 => {
            let op = [EndianOp::ToLe, EndianOp::ToBe, EndianOp::Bswap][((a >> 8) % 3) as usize];
            Insn::Endian {
                op,
                bits: [16, 32, 64][((a >> 10) % 3) as usize],
                dst,
            }
        }
        52..64 => {
            let size = size(a >> 8);
            let (src, off) = place(a >> 32, b, bytes(size), 1);
            Insn::Load {
                size,
                sign: size != Size::DW && (a >> 40) & 1 == 1,
                dst,
                src,
                off,
            }
        }
        64..74 => {
            let size = size(a >> 8);
            let (base, off) = place(a >> 32, b, bytes(size), 1);
            if (a >> 40) & 1 == 0 {
                Insn::Store {
                    size,
                    dst: base,
                    off,
                    imm: imm(a >> 44, b >> 8),
                }
            } else {
                Insn::StoreReg {
                    size,
                    dst: base,
                    src: reg(a >> 24),
                    off,
                }
            }
        }
        74..80 => {
            let size = if (a >> 8) & 1 == 0 { Size::W } else { Size::DW };
            let (base, off) = place(a >> 32, b, bytes(size), bytes(size));
            Insn::Atomic {
                size,
                op: AtomicOp::ALL[((a >> 9) % 10) as usize],
                dst: base,
                src: reg(a >> 24),
                off,
            }
        }
        80..92 => {
            let skip = (b % 6) as usize;
            let cond = Cond::ALL[((a >> 8) % 11) as usize];
            return (
                Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    off: 0,
                },
                Some(skip),
            );
        }
        92..94 => {
            let skip = (b % 4) as usize;
            let j = if (a >> 8) & 1 == 0 {
                Insn::Ja { off: 0 }
            } else {
                Insn::Gotol { imm: 0 }
            };
            return (j, Some(skip));
        }
        94..97 => Insn::Call(CallKind::Helper(1)),
        _ => Insn::ld_imm64(dst, value(a >> 8, b)),
    };
    (insn, None)
}

/// The whole program: set-up, the body, and an epilogue folding the registers and the stack
/// into R0. Some runs of body instructions become loops (counter in R8, 1 to 4 iterations);
/// jumps stay inside their run, so loops are entered only at the top and always end.
fn build(init: &[u64; 9], body: &[(u64, u64)]) -> Program {
    let mov = |dst, src| Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    };
    let alu = |op, dst, src| Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    };
    let mut insns = vec![mov(Reg::R9, Src::Reg(Reg::R1))];
    for (i, v) in init.iter().enumerate().take(DATA.len()) {
        insns.push(Insn::ld_imm64(DATA[i], value(*v >> 3, *v)));
    }
    for k in 1..=STACK / 8 {
        insns.push(Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8 * k,
            imm: 0,
        });
    }
    // (index of a jump, index of its target)
    let mut fixups: Vec<(usize, usize)> = Vec::new();
    let mut rest = body;
    while let Some(&(a, b)) = rest.first() {
        let looped = a % 16 == 15;
        let len = if looped {
            1 + (b % 8) as usize
        } else {
            1 + (b % 12) as usize
        }
        .min(rest.len());
        let (run, tail) = rest.split_at(len);
        rest = tail;
        if looped {
            insns.push(mov(Reg::R8, Src::Imm(1 + ((b >> 8) % 4) as i32)));
        }
        let top = insns.len();
        let end = top + run.len();
        for (k, &(a, b)) in run.iter().enumerate() {
            let (insn, skip) = body_insn(a, b);
            if let Some(s) = skip {
                fixups.push((top + k, (top + k + 1 + s).min(end)));
            }
            insns.push(insn);
        }
        if looped {
            insns.push(alu(AluOp::Sub, Reg::R8, Src::Imm(1)));
            fixups.push((insns.len(), top));
            insns.push(Insn::Jmp {
                width: Width::W64,
                cond: Cond::Ne,
                dst: Reg::R8,
                src: Src::Imm(0),
                off: 0,
            });
        }
    }
    // Every data register feeds R0, so no instruction's result is dead at the end (the JIT
    // drops the code of dead ones), then the stack.
    for r in &DATA[1..] {
        insns.push(alu(AluOp::Mul, Reg::R0, Src::Imm(31)));
        insns.push(alu(AluOp::Add, Reg::R0, Src::Reg(*r)));
    }
    for k in 1..=STACK / 8 {
        insns.push(Insn::Load {
            size: Size::DW,
            sign: false,
            dst: Reg::R1,
            src: Reg::R10,
            off: -8 * k,
        });
        insns.push(alu(AluOp::Xor, Reg::R0, Src::Reg(Reg::R1)));
    }
    insns.push(Insn::Exit);
    // Fix the jumps up in slots.
    let mut slot = Vec::with_capacity(insns.len() + 1);
    let mut pc = 0i64;
    for insn in &insns {
        slot.push(pc);
        pc += insn.slots() as i64;
    }
    for (at, t) in fixups {
        let off = slot[t] - slot[at] - 1;
        insns[at] = insns[at].with_branch_offset(off).expect("offset fits");
    }
    Program::from_insns(insns)
}

fn helper(a: [u64; 5]) -> Result<u64, bpfvet_vm::HelperError> {
    Ok(a[0].wrapping_mul(3) ^ a[1].rotate_left(13) ^ a[2] ^ (a[3] >> 3) ^ a[4].wrapping_add(7))
}

fn cases() -> u32 {
    std::env::var("BPFVET_JIT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn jit_matches_interpreter(
        init in any::<[u64; 9]>(),
        body in prop::collection::vec(any::<(u64, u64)>(), 1..80),
        mem in prop::collection::vec(any::<u8>(), BUF as usize),
    ) {
        if !available() {
            return Ok(()); // no JIT on this host: nothing to compare
        }
        let p = build(&init, &body);
        let opts = RunOptions::default();
        let setup = |e: &mut bpfvet_jit::Engine| e.register_helper(1, helper);
        let want = run_on(EngineKind::Interpreter, &p, &mem, &opts, &setup);
        prop_assert!(want.result.is_ok(), "interpreter failed: {:?}", want.result);
        let checked = run_on(EngineKind::Jit, &p, &mem, &opts, &setup);
        prop_assert_eq!(&checked, &want, "checked JIT");
        let fast = run_on(EngineKind::JitUnchecked, &p, &mem, &opts, &setup);
        prop_assert_eq!(&fast.mem, &want.mem, "unchecked JIT memory");
        let want_r0 = want.result.as_ref().map(|r| r.r0).ok();
        prop_assert_eq!(fast.result.map(|r| r.r0).ok(), want_r0, "unchecked JIT R0");
        // The same through `run` (the fast entry: R1, R2 as arguments).
        let mut e = common::engine(EngineKind::JitUnchecked, &p);
        setup(&mut e);
        let mut m = mem.clone();
        prop_assert_eq!(e.run(&mut m).ok(), want_r0, "unchecked JIT run");
        prop_assert_eq!(&m, &want.mem, "unchecked JIT run memory");
    }
}
