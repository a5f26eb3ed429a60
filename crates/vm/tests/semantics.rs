//! Semantic corner cases of the VM, written as ubpf-dialect assembly: division and modulo by
//! zero, `INT_MIN / -1`, shift masking, 32-bit zero extension, sign extension, byte swaps,
//! jumps, `may_goto` and the instruction budget.

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_vm::{RunOptions, Vm, VmError};
use proptest::prelude::*;

fn prog(text: &str) -> Program {
    Program::from_insns(
        asm::assemble(text, Dialect::Ubpf).unwrap_or_else(|e| panic!("{e}\n{text}")),
    )
}

fn run(text: &str) -> Result<u64, VmError> {
    Vm::new(&prog(text))?.run(&mut [])
}

fn r0(text: &str) -> u64 {
    run(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn unsigned_division_by_zero() {
    assert_eq!(r0("mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit"), 0);
    assert_eq!(r0("mov %r0, 7\ndiv %r0, 0\nexit"), 0);
    assert_eq!(r0("mov %r0, 7\nmov %r1, 0\ndiv32 %r0, %r1\nexit"), 0);
    assert_eq!(r0("mov %r0, 7\ndiv32 %r0, 0\nexit"), 0);
    // Only the low 32 bits of the divisor count for div32.
    assert_eq!(
        r0("mov %r0, 7\nlddw %r1, 0x100000000\ndiv32 %r0, %r1\nexit"),
        0
    );
}

#[test]
fn unsigned_modulo_by_zero() {
    let big = "lddw %r0, 0xffffffff00000007\n";
    assert_eq!(
        r0(&format!("{big}mov %r1, 0\nmod %r0, %r1\nexit")),
        0xffff_ffff_0000_0007
    );
    assert_eq!(r0(&format!("{big}mod %r0, 0\nexit")), 0xffff_ffff_0000_0007);
    // 32-bit: dst keeps its low 32 bits, zero-extended.
    assert_eq!(r0(&format!("{big}mov %r1, 0\nmod32 %r0, %r1\nexit")), 7);
    assert_eq!(r0(&format!("{big}mod32 %r0, 0\nexit")), 7);
}

#[test]
fn signed_division_and_modulo_by_zero() {
    let big = "lddw %r0, 0xfffffffffffffff9\n"; // -7
    assert_eq!(r0(&format!("{big}mov %r1, 0\nsdiv %r0, %r1\nexit")), 0);
    assert_eq!(r0(&format!("{big}sdiv32 %r0, 0\nexit")), 0);
    assert_eq!(
        r0(&format!("{big}mov %r1, 0\nsmod %r0, %r1\nexit")),
        -7i64 as u64
    );
    assert_eq!(r0(&format!("{big}smod32 %r0, 0\nexit")), 0xffff_fff9);
}

#[test]
fn signed_int_min_by_minus_one() {
    let min64 = "lddw %r0, 0x8000000000000000\nmov %r1, -1\n";
    assert_eq!(
        r0(&format!("{min64}sdiv %r0, %r1\nexit")),
        0x8000_0000_0000_0000
    );
    assert_eq!(r0(&format!("{min64}smod %r0, %r1\nexit")), 0);
    assert_eq!(
        r0(&format!("{min64}sdiv %r0, -1\nexit")),
        0x8000_0000_0000_0000
    );
    let min32 = "lddw %r0, 0xffffffff80000000\nmov %r1, -1\n";
    assert_eq!(r0(&format!("{min32}sdiv32 %r0, %r1\nexit")), 0x8000_0000);
    assert_eq!(r0(&format!("{min32}smod32 %r0, -1\nexit")), 0);
    // Ordinary signed results: the remainder takes the dividend's sign.
    assert_eq!(r0("mov %r0, -7\nsmod %r0, 2\nexit"), -1i64 as u64);
    assert_eq!(r0("mov %r0, 7\nsmod %r0, -2\nexit"), 1);
    assert_eq!(
        r0("mov %r0, -7\nsdiv32 %r0, 2\nexit"),
        (-3i32) as u32 as u64
    );
}

#[test]
fn shift_amounts_are_masked() {
    assert_eq!(r0("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit"), 2);
    assert_eq!(r0("mov %r0, 1\nmov32 %r1, 33\nlsh32 %r0, %r1\nexit"), 2);
    assert_eq!(r0("mov %r0, 8\nmov %r1, -1\nrsh %r0, %r1\nexit"), 0); // by 63
    assert_eq!(r0("mov %r0, 8\nmov %r1, 34\nrsh32 %r0, %r1\nexit"), 2);
    assert_eq!(
        r0("mov %r0, -16\nmov %r1, 66\narsh %r0, %r1\nexit"),
        -4i64 as u64
    );
    assert_eq!(
        r0("mov32 %r0, -16\nmov %r1, 34\narsh32 %r0, %r1\nexit"),
        0xffff_fffc
    );
}

#[test]
fn alu32_results_are_zero_extended() {
    assert_eq!(r0("lddw %r0, 0xffffffffffffffff\nadd32 %r0, 1\nexit"), 0);
    assert_eq!(r0("lddw %r0, 0xffffffff00000001\nmov32 %r0, %r0\nexit"), 1);
    assert_eq!(r0("mov32 %r0, -1\nexit"), 0xffff_ffff);
    assert_eq!(r0("mov %r0, -1\nexit"), u64::MAX);
    assert_eq!(r0("mov %r0, 1\nneg32 %r0\nexit"), 0xffff_ffff);
    assert_eq!(r0("mov %r0, 1\nneg %r0\nexit"), u64::MAX);
    assert_eq!(r0("lddw %r0, 0x1ffffffff\nmul32 %r0, 2\nexit"), 0xffff_fffe);
    assert_eq!(r0("lddw %r0, 0x1ffffffff\nxor32 %r0, 0\nexit"), 0xffff_ffff);
    assert_eq!(r0("lddw %r0, 0x1ffffffff\nsub32 %r0, -1\nexit"), 0);
}

#[test]
fn sign_extending_moves() {
    let v = "lddw %r1, 0x1234567880808080\n";
    assert_eq!(
        r0(&format!("{v}movsx864 %r0, %r1\nexit")),
        0xffff_ffff_ffff_ff80
    );
    assert_eq!(
        r0(&format!("{v}movsx1664 %r0, %r1\nexit")),
        0xffff_ffff_ffff_8080
    );
    assert_eq!(
        r0(&format!("{v}movsx3264 %r0, %r1\nexit")),
        0xffff_ffff_8080_8080
    );
    assert_eq!(r0(&format!("{v}movsx832 %r0, %r1\nexit")), 0xffff_ff80);
    assert_eq!(r0(&format!("{v}movsx1632 %r0, %r1\nexit")), 0xffff_8080);
    assert_eq!(r0("mov %r1, 0x7f\nmovsx864 %r0, %r1\nexit"), 0x7f);
}

#[test]
fn sign_extending_loads() {
    let setup = "lddw %r1, 0x80808080f0f0f0f0\nstxdw [%r10-8], %r1\n";
    assert_eq!(
        r0(&format!("{setup}ldxsb %r0, [%r10-8]\nexit")),
        0xffff_ffff_ffff_fff0
    );
    assert_eq!(
        r0(&format!("{setup}ldxsh %r0, [%r10-8]\nexit")),
        0xffff_ffff_ffff_f0f0
    );
    assert_eq!(
        r0(&format!("{setup}ldxsw %r0, [%r10-8]\nexit")),
        0xffff_ffff_f0f0_f0f0
    );
    assert_eq!(r0(&format!("{setup}ldxw %r0, [%r10-4]\nexit")), 0x8080_8080);
    assert_eq!(
        r0(&format!(
            "{setup}ldxsb %r0, [%r10-7]\nmov %r1, 0x70\nstxb [%r10-7], %r1\nldxsb %r0, [%r10-7]\nexit"
        )),
        0x70
    );
}

#[test]
fn stores_of_immediates_sign_extend_for_dw() {
    assert_eq!(
        r0("stdw [%r10-8], -2\nldxdw %r0, [%r10-8]\nexit"),
        -2i64 as u64
    );
    assert_eq!(
        r0("stdw [%r10-8], -1\nstw [%r10-8], 5\nldxdw %r0, [%r10-8]\nexit"),
        0xffff_ffff_0000_0005
    );
    assert_eq!(
        r0("stdw [%r10-8], 0\nsth [%r10-8], -1\nstb [%r10-6], 3\nldxdw %r0, [%r10-8]\nexit"),
        0x03_ffff
    );
}

#[test]
fn misaligned_plain_accesses_are_allowed() {
    assert_eq!(
        r0("lddw %r1, 0x1122334455667788\nstxdw [%r10-13], %r1\nldxdw %r0, [%r10-13]\nexit"),
        0x1122_3344_5566_7788
    );
    assert_eq!(
        r0("stw [%r10-7], 0x01020304\nldxh %r0, [%r10-6]\nexit"),
        0x0203
    );
}

#[test]
fn byte_order_family() {
    let v = "lddw %r0, 0x1122334455667788\n";
    let cases = [
        ("le16", 0x7788),
        ("le32", 0x5566_7788),
        ("le64", 0x1122_3344_5566_7788),
        ("be16", 0x8877),
        ("be32", 0x8877_6655),
        ("be64", 0x8877_6655_4433_2211),
        ("bswap16", 0x8877),
        ("bswap32", 0x8877_6655),
        ("bswap64", 0x8877_6655_4433_2211),
    ];
    for (m, want) in cases {
        assert_eq!(r0(&format!("{v}{m} %r0\nexit")), want, "{m}");
    }
}

#[test]
fn conditional_jumps_64_and_32() {
    // -1 in the low 32 bits only: signed-negative as i32, positive as i64.
    let v = "lddw %r1, 0x00000000ffffffff\nmov %r0, 0\n";
    let taken = |j: &str| r0(&format!("{v}{j}, yes\nexit\nyes:\nmov %r0, 1\nexit"));
    assert_eq!(taken("jslt32 %r1, 0"), 1);
    assert_eq!(taken("jslt %r1, 0"), 0);
    assert_eq!(taken("jsgt %r1, 0"), 1);
    assert_eq!(taken("jeq32 %r1, -1"), 1);
    assert_eq!(taken("jeq %r1, -1"), 0); // imm sign-extends to 0xffff_ffff_ffff_ffff
    assert_eq!(taken("jgt %r1, 0x7fffffff"), 1);
    assert_eq!(taken("jset %r1, 0x100"), 1);
    assert_eq!(taken("jset32 %r1, 0"), 0);
    assert_eq!(taken("jle32 %r1, -1"), 1);
    assert_eq!(taken("jsge32 %r1, -1"), 1);
    assert_eq!(taken("jsle %r1, -1"), 0);
    assert_eq!(taken("jlt %r0, %r1"), 1);
    assert_eq!(taken("jne32 %r1, %r0"), 1);
    assert_eq!(taken("jge %r0, %r1"), 0);
    // gotol (32-bit offset) and ja.
    assert_eq!(r0("mov %r0, 1\ngotol over\nmov %r0, 2\nover:\nexit"), 1);
    assert_eq!(r0("mov %r0, 1\nja +1\nmov %r0, 2\nexit"), 1);
}

#[test]
fn lddw_plain() {
    assert_eq!(
        r0("lddw %r0, 0x8000000000000001\nexit"),
        0x8000_0000_0000_0001
    );
}

#[test]
fn budget_exhaustion_stops_an_infinite_loop() {
    let err = run("ja -1\nexit").unwrap_err();
    assert_eq!(
        err,
        VmError::BudgetExhausted {
            pc: 0,
            budget: 10_000_000
        }
    );
    assert_eq!(
        err.to_string(),
        "insn 0: instruction budget of 10000000 exhausted"
    );
}

#[test]
fn budget_counts_executed_instructions_exactly() {
    let p = prog("mov %r0, 1\nadd %r0, 1\nexit");
    let mut vm = Vm::new(&p).unwrap();
    let ok = vm
        .run_with_regions(vec![], [0; 10], &RunOptions::default().budget(3))
        .unwrap();
    assert_eq!((ok.r0, ok.executed), (2, 3));
    let err = vm
        .run_with_options(&mut [], &RunOptions::default().budget(2))
        .unwrap_err();
    assert_eq!(err, VmError::BudgetExhausted { pc: 2, budget: 2 });
    vm.set_options(RunOptions::default().budget(1));
    assert!(matches!(
        vm.run(&mut []),
        Err(VmError::BudgetExhausted { pc: 1, .. })
    ));
}

#[test]
fn budget_exhaustion_takes_precedence_over_later_errors() {
    // With per-instruction accounting the second instruction is already beyond the budget,
    // so its fault must not be reported.
    let mut vm = Vm::new(&prog("mov %r0, 1\nldxdw %r0, [%r0]\nexit")).unwrap();
    let e = vm
        .run_with_options(&mut [], &RunOptions::default().budget(1))
        .unwrap_err();
    assert_eq!(e, VmError::BudgetExhausted { pc: 1, budget: 1 });
    let e = vm
        .run_with_options(&mut [], &RunOptions::default().budget(2))
        .unwrap_err();
    assert!(matches!(e, VmError::OutOfBounds { pc: 1, .. }), "{e}");
}

#[test]
fn no_helper_runs_beyond_the_budget() {
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let c = calls.clone();
    let mut vm = Vm::new(&prog("mov %r1, 1\nmov %r1, 2\ncall 7\nexit")).unwrap();
    vm.register_helper(7, move |_| {
        c.set(c.get() + 1);
        Ok(0)
    });
    let e = vm
        .run_with_options(&mut [], &RunOptions::default().budget(2))
        .unwrap_err();
    assert_eq!(e, VmError::BudgetExhausted { pc: 2, budget: 2 });
    assert_eq!(calls.get(), 0);
    assert_eq!(
        vm.run_with_options(&mut [], &RunOptions::default().budget(4))
            .unwrap(),
        0
    );
    assert_eq!(calls.get(), 1);
}

#[test]
fn executed_count_covers_loops_and_calls() {
    // Executed slots: 0, then (1, 2) ten times, 3 (call), 5, 6 (callee), 4 (exit).
    let mut trace = vec![0];
    for _ in 0..10 {
        trace.extend([1, 2]);
    }
    trace.extend([3, 5, 6, 4]);
    let text = "mov %r1, 0\nloop:\nadd %r1, 1\njne %r1, 10, loop\ncall local f\nexit\nf:\nmov %r0, %r1\nexit";
    let mut vm = Vm::new(&prog(text)).unwrap();
    let res = vm
        .run_with_regions(vec![], [0; 10], &RunOptions::default())
        .unwrap();
    assert_eq!(res.r0, 10);
    assert_eq!(res.executed, trace.len() as u64);
    // The budget error names exactly the first instruction beyond the budget.
    for (budget, &pc) in trace.iter().enumerate() {
        let budget = budget as u64;
        let e = vm
            .run_with_regions(vec![], [0; 10], &RunOptions::default().budget(budget))
            .unwrap_err();
        assert_eq!(e, VmError::BudgetExhausted { pc, budget });
    }
}

#[test]
fn may_goto_falls_through_until_its_budget_is_spent() {
    let text = "mov %r0, 0\nloop:\nmay_goto done\nadd %r0, 1\nja loop\ndone:\nexit";
    let mut vm = Vm::new(&prog(text)).unwrap();
    let opts = RunOptions::default().may_goto_budget(10);
    assert_eq!(vm.run_with_options(&mut [], &opts).unwrap(), 10);
    // The default budget is the kernel's 8 Mi loop count; the instruction budget must allow it.
    let opts = RunOptions::default().budget(40_000_000);
    assert_eq!(
        vm.run_with_options(&mut [], &opts).unwrap(),
        8 * 1024 * 1024
    );
}

#[test]
fn control_falling_off_the_end_is_an_error() {
    assert_eq!(
        run("mov %r0, 1").unwrap_err(),
        VmError::FellOffEnd { pc: 1 }
    );
}

#[test]
fn unsupported_instructions_fail_when_executed() {
    let e = run("lddw %r1, map_fd(3)\nexit").unwrap_err();
    assert_eq!(
        e.to_string(),
        "insn 0: LD_IMM64 with src=1 needs the loader"
    );
    let e = run("mov %r0, 0\nlddw %r1, map_idx_value(0, 8)\nexit").unwrap_err();
    assert_eq!(e, VmError::NeedsLoader { pc: 1, src: 6 });
    let e = run("ldabsb 12\nexit").unwrap_err();
    assert_eq!(e, VmError::LegacyPacketLoad { pc: 0 });
    assert!(e.to_string().contains("LD_ABS/LD_IND"));
    let e = run("mov %r6, 0\nldindw %r6, 4\nexit").unwrap_err();
    assert_eq!(e, VmError::LegacyPacketLoad { pc: 1 });
    let e = run("call kfunc(1234)\nexit").unwrap_err();
    assert_eq!(
        e,
        VmError::Kfunc {
            pc: 0,
            btf_id: 1234,
            off: 0
        }
    );
    assert!(e.to_string().contains("BTF id 1234"), "{e}");
    let e = run("addr_space_cast %r0, %r1, 0, 1\nexit").unwrap_err();
    assert_eq!(e, VmError::AddrSpaceCast { pc: 0 });
    // Not executed: no error.
    assert_eq!(r0("mov %r0, 3\nexit\nlddw %r1, map_fd(3)\nexit"), 3);
}

#[test]
fn writes_to_r10_are_refused() {
    for text in [
        "mov %r10, 0\nexit",
        "ldxdw %r10, [%r10-8]\nexit",
        "lock fetch add [%r1], %r10\nexit",
    ] {
        assert!(
            matches!(
                Vm::new(&prog(text)),
                Err(VmError::FramePointerWrite { pc: 0 })
            ),
            "{text}"
        );
    }
    // Reading it is fine.
    assert_eq!(r0("mov %r0, %r10\nexit"), bpfvet_vm::stack_base(0) + 512);
}

/// Reference semantics for the property test, written independently of the VM (and plainly,
/// with explicit zero checks, on purpose).
#[allow(clippy::manual_checked_ops)]
fn reference(op: &str, w32: bool, a: u64, b: u64) -> u64 {
    if w32 {
        let (x, y) = (a as u32, b as u32);
        let v = match op {
            "add" => x.wrapping_add(y),
            "sub" => x.wrapping_sub(y),
            "mul" => x.wrapping_mul(y),
            "div" => {
                if y == 0 {
                    0
                } else {
                    x / y
                }
            }
            "mod" => {
                if y == 0 {
                    x
                } else {
                    x % y
                }
            }
            "sdiv" => {
                if y == 0 {
                    0
                } else {
                    (x as i32).wrapping_div(y as i32) as u32
                }
            }
            "smod" => {
                if y == 0 {
                    x
                } else {
                    (x as i32).wrapping_rem(y as i32) as u32
                }
            }
            "or" => x | y,
            "and" => x & y,
            "xor" => x ^ y,
            "lsh" => x << (y % 32),
            "rsh" => x >> (y % 32),
            "arsh" => ((x as i32) >> (y % 32)) as u32,
            "mov" => y,
            _ => unreachable!(),
        };
        v as u64
    } else {
        let (x, y) = (a, b);
        match op {
            "add" => x.wrapping_add(y),
            "sub" => x.wrapping_sub(y),
            "mul" => x.wrapping_mul(y),
            "div" => {
                if y == 0 {
                    0
                } else {
                    x / y
                }
            }
            "mod" => {
                if y == 0 {
                    x
                } else {
                    x % y
                }
            }
            "sdiv" => {
                if y == 0 {
                    0
                } else {
                    (x as i64).wrapping_div(y as i64) as u64
                }
            }
            "smod" => {
                if y == 0 {
                    x
                } else {
                    (x as i64).wrapping_rem(y as i64) as u64
                }
            }
            "or" => x | y,
            "and" => x & y,
            "xor" => x ^ y,
            "lsh" => x << (y % 64),
            "rsh" => x >> (y % 64),
            "arsh" => ((x as i64) >> (y % 64)) as u64,
            "mov" => y,
            _ => unreachable!(),
        }
    }
}

const OPS: [&str; 14] = [
    "add", "sub", "mul", "div", "mod", "sdiv", "smod", "or", "and", "xor", "lsh", "rsh", "arsh",
    "mov",
];

fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(0u64),
        Just(u64::MAX),
        Just(i64::MIN as u64),
        Just(0x8000_0000u64),
        Just(0xffff_ffffu64),
        0u64..70,
    ]
}

proptest! {
    #[test]
    fn alu_matches_reference(op in 0..OPS.len(), w32 in any::<bool>(), a in interesting(), b in interesting(), imm in any::<i32>()) {
        let op = OPS[op];
        let suffix = if w32 { "32" } else { "" };
        let reg = format!("lddw %r0, {a:#x}\nlddw %r1, {b:#x}\n{op}{suffix} %r0, %r1\nexit");
        prop_assert_eq!(r0(&reg), reference(op, w32, a, b));
        // Immediate form: 32-bit ops use the imm as u32, 64-bit ops sign-extend it.
        let ib = if w32 { imm as u32 as u64 } else { imm as i64 as u64 };
        let with_imm = format!("lddw %r0, {a:#x}\n{op}{suffix} %r0, {imm}\nexit");
        prop_assert_eq!(r0(&with_imm), reference(op, w32, a, ib));
    }
}

#[test]
fn bad_jump_targets_are_refused_when_pre_decoding() {
    use bpfvet_isa::{Insn, Reg};
    let out_of_range = Program::from_insns(vec![Insn::Ja { off: 5 }, Insn::Exit]);
    assert_eq!(
        Vm::new(&out_of_range).unwrap_err(),
        VmError::BadTarget { pc: 0, target: 6 }
    );
    // Into the second slot of an LD_IMM64.
    let into_lddw = Program::from_insns(vec![
        Insn::Ja { off: 1 },
        Insn::ld_imm64(Reg::R0, 1),
        Insn::Exit,
    ]);
    let e = Vm::new(&into_lddw).unwrap_err();
    assert_eq!(e, VmError::BadTarget { pc: 0, target: 2 });
    assert_eq!(
        e.to_string(),
        "insn 0: jump or call target 2 is not an instruction of the program"
    );
}
