//! Property test: arbitrary programs — any registers (R10 included), out-of-bounds and
//! misaligned accesses, backward jumps and loops, bpf-to-bpf calls and recursion, unknown and
//! failing helpers, `callx` — behave exactly alike on the checked JIT and the interpreter:
//! the same R0 and executed count, the same input memory afterwards, or the same error
//! (out of bounds, read-only, misaligned, budget, call depth, helper, ...). Programs the
//! interpreter refuses the JIT refuses with the same error.
//!
//! `cargo test` runs 256 cases; set `BPFVET_JIT_CASES` for a longer run. The `jit` fuzz
//! target (`fuzz/fuzz_targets/jit.rs`) makes the same comparison on arbitrary bytecode.

mod common;

use bpfvet_isa::{AluOp, AtomicOp, CallKind, Cond, Insn, Program, Reg, Size, Src, Width};
use bpfvet_jit::{EngineKind, JitError, JitProgram, available};
use bpfvet_vm::{RunOptions, Vm};
use common::run_on;
use proptest::prelude::*;

fn reg(bits: u64) -> Reg {
    Reg::new((bits % 11) as u8).unwrap()
}

/// A base register for a memory access: mostly the input or the stack pointer.
fn base(bits: u64) -> Reg {
    match bits % 4 {
        0 => Reg::R1,
        1 => Reg::R10,
        _ => reg(bits >> 2),
    }
}

fn size(bits: u64) -> Size {
    [Size::B, Size::H, Size::W, Size::DW][(bits % 4) as usize]
}

/// Offsets near the edges of the stack and the input, sometimes anything.
fn offset(bits: u64) -> i16 {
    match bits % 4 {
        0 => -(((bits >> 8) % 520) as i16),
        1 => ((bits >> 8) % 72) as i16,
        2 => 4 - ((bits >> 8) % 16) as i16,
        _ => (bits >> 8) as i16,
    }
}

/// An instruction from two random words, and the instruction index a jump or call goes to.
fn insn(a: u64, b: u64, n: usize) -> (Insn, Option<usize>) {
    let width = if (a >> 12) & 1 == 0 {
        Width::W64
    } else {
        Width::W32
    };
    // Written registers: R10 only rarely (the program is then refused).
    let dst = if a.is_multiple_of(997) {
        Reg::R10
    } else {
        Reg::new(((a >> 16) % 10) as u8).unwrap()
    };
    let src = if (a >> 20) & 1 == 0 {
        Src::Reg(reg(a >> 24))
    } else {
        Src::Imm(b as i32 % 70)
    };
    let target = Some((b % (n as u64 + 1)) as usize);
    let insn = match a % 100 {
        0..30 => Insn::Alu {
            width,
            op: AluOp::ALL[((a >> 8) % 14) as usize],
            dst,
            src,
        },
        30..42 => Insn::Load {
            size: size(a >> 8),
            sign: (a >> 10) & 1 == 1 && size(a >> 8) != Size::DW,
            dst,
            src: base(a >> 24),
            off: offset(b),
        },
        42..50 => Insn::StoreReg {
            size: size(a >> 8),
            dst: base(a >> 16),
            src: reg(a >> 24),
            off: offset(b),
        },
        50..54 => Insn::Store {
            size: size(a >> 8),
            dst: base(a >> 16),
            off: offset(b),
            imm: (b >> 32) as i32,
        },
        54..60 => Insn::Atomic {
            size: if (a >> 8) & 1 == 0 { Size::W } else { Size::DW },
            op: AtomicOp::ALL[((a >> 9) % 10) as usize],
            dst: base(a >> 16),
            src: Reg::new(((a >> 24) % 10) as u8).unwrap(),
            off: offset(b),
        },
        60..75 => {
            let cond = Cond::ALL[((a >> 8) % 11) as usize];
            return (
                Insn::Jmp {
                    width,
                    cond,
                    dst: reg(a >> 16),
                    src,
                    off: 0,
                },
                target,
            );
        }
        75..79 => return (Insn::Ja { off: 0 }, target),
        79..82 => return (Insn::MayGoto { off: 0 }, target),
        82..86 => Insn::Call(CallKind::Helper([1, 2, 3][(b % 3) as usize])),
        86..88 => Insn::Callx { reg: reg(a >> 16) },
        88..92 => return (Insn::Call(CallKind::Local(0)), target),
        92..97 => Insn::Exit,
        _ => Insn::ld_imm64(dst, b),
    };
    (insn, None)
}

/// The program, with jump offsets in slots; a target past the end stays out of range.
fn build(words: &[(u64, u64)]) -> Program {
    let n = words.len();
    let mut items: Vec<_> = words.iter().map(|&(a, b)| insn(a, b, n)).collect();
    items.push((Insn::Exit, None));
    let mut slot = Vec::with_capacity(items.len() + 1);
    let mut pc = 0i64;
    for (insn, _) in &items {
        slot.push(pc);
        pc += insn.slots() as i64;
    }
    slot.push(pc + 5);
    let insns = items
        .iter()
        .enumerate()
        .map(|(i, (insn, t))| match t {
            Some(t) => insn
                .with_branch_offset(slot[*t] - slot[i] - 1)
                .unwrap_or(*insn),
            None => *insn,
        })
        .collect();
    Program::from_insns(insns)
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
    fn checked_jit_matches_interpreter_on_anything(
        words in prop::collection::vec(any::<(u64, u64)>(), 1..40),
        mem in prop::collection::vec(any::<u8>(), 0..72),
        budget in 1u64..3000,
    ) {
        if !available() {
            return Ok(()); // no JIT on this host: nothing to compare
        }
        let p = build(&words);
        match (Vm::new(&p), JitProgram::new(&p)) {
            (Err(a), Err(JitError::Invalid(b))) => {
                prop_assert_eq!(a, b);
                return Ok(());
            }
            (Ok(_), Ok(_)) => {}
            (a, b) => prop_assert!(false, "interpreter {:?} vs JIT {:?}", a.err(), b.err()),
        }
        let opts = RunOptions::default().budget(budget).may_goto_budget(budget % 7);
        let setup = |e: &mut bpfvet_jit::Engine| {
            e.register_helper(1, |a: [u64; 5]| Ok(a[0] ^ a[1].rotate_left(3) ^ a[4]));
            e.register_helper(3, |a: [u64; 5]| if a[0] & 1 == 0 { Ok(a[1]) } else { Err("odd".into()) });
            e.register_helper(0x1_0000, |a: [u64; 5]| Ok(a[2]));
        };
        let want = run_on(EngineKind::Interpreter, &p, &mem, &opts, &setup);
        let got = run_on(EngineKind::Jit, &p, &mem, &opts, &setup);
        prop_assert_eq!(got, want);
    }
}
