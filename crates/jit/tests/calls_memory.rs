//! Calls, memory and the run-time limits under the JIT, each compared with the interpreter:
//! helpers (closures, C-ABI functions, failing, unknown, panicking, `callx`), bpf-to-bpf
//! calls (the eight-frame limit, per-frame stacks, R6–R9), every atomic in both widths,
//! bounds-check faults of checked mode, the instruction budget and `may_goto`.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use bpfvet_jit::{Engine, EngineKind, JitProgram, available};
use bpfvet_vm::{
    Access, CONTEXT_BASE, INPUT_BASE, MAX_CALL_FRAMES, MemRegion, RegionKind, RunOptions,
    RunResult, STACK_SIZE, VmError, stack_base,
};
use common::{Outcome, agree, agree_with, prog, run_on};

fn error_of(text: &str, mem: &[u8]) -> VmError {
    agree_with(text, mem, &|_| {}, false).result.unwrap_err()
}

// ---- helpers ----

extern "C" fn weighted(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    a * 10000 + b * 1000 + c * 100 + d * 10 + e
}

#[test]
fn helpers_get_r1_to_r5_and_return_r0() {
    let text = "mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 7\nexit";
    let closure = agree_with(
        text,
        &[],
        &|e| e.register_helper(7, |a: [u64; 5]| Ok(weighted(a[0], a[1], a[2], a[3], a[4]))),
        true,
    );
    assert_eq!(closure.result.unwrap().r0, 12345);
    if !available() {
        return;
    }
    // The same through the C ABI, called directly by generated code.
    for checked in [true, false] {
        let p = prog(text);
        let mut j = if checked {
            JitProgram::new(&p).unwrap()
        } else {
            // SAFETY: the program touches no memory.
            unsafe { JitProgram::new_unchecked(&p).unwrap() }
        };
        j.register_extern_helper(7, weighted);
        assert!(j.has_helper(7));
        assert_eq!(j.run(&mut []).unwrap(), 12345);
    }
}

#[test]
fn helpers_leave_r1_to_r5_as_they_were() {
    let text = "mov %r1, 11\nmov %r2, 22\nmov %r3, 33\nmov %r4, 44\nmov %r5, 55\ncall 7\n\
                add %r0, %r1\nadd %r0, %r2\nadd %r0, %r3\nadd %r0, %r4\nadd %r0, %r5\nexit";
    let o = agree_with(text, &[], &|e| e.register_helper(7, |_| Ok(1000)), true);
    assert_eq!(o.result.unwrap().r0, 1165);
}

#[test]
fn helper_failures_match_the_interpreter() {
    let e = agree_with("mov %r0, 0\ncall 99\nexit", &[], &|_| {}, true)
        .result
        .unwrap_err();
    assert_eq!(e, VmError::UnknownHelper { pc: 1, id: 99 });
    let e = agree_with(
        "lddw %r2, 0x100000005\ncallx %r2\nexit",
        &[],
        &|e| e.register_conformance_helpers(),
        true,
    )
    .result
    .unwrap_err();
    assert_eq!(
        e,
        VmError::UnknownHelper {
            pc: 2,
            id: 0x1_0000_0005
        }
    );
    let e = agree_with(
        "call 3\nexit",
        &[],
        &|e| e.register_helper(3, |_| Err("no such map".into())),
        true,
    )
    .result
    .unwrap_err();
    assert_eq!(e.to_string(), "insn 0: helper 3 failed: no such map");
    // A panicking helper becomes an error instead of unwinding through generated code.
    if available() {
        let mut j = JitProgram::new(&prog("call 3\nexit")).unwrap();
        j.register_helper(3, |_| panic!("boom"));
        let e = j.run(&mut []).unwrap_err();
        assert!(
            matches!(&e, VmError::Helper { pc: 0, id: 3, message } if message.contains("boom")),
            "{e}"
        );
    }
}

#[test]
fn callx_and_stateful_helpers() {
    let o = agree_with(
        "mov %r1, 42\nmov %r2, 5\ncallx %r2\nexit",
        &[],
        &|e| e.register_conformance_helpers(),
        true,
    );
    assert_eq!(o.result.unwrap().r0, 42);
    if !available() {
        return;
    }
    let count = Rc::new(Cell::new(0u64));
    let c = count.clone();
    let mut e = Engine::new(
        &prog("call 1\ncall 1\nmov %r6, 1\ncallx %r6\nexit"),
        EngineKind::Jit,
    )
    .unwrap();
    e.register_helper(1, move |_| {
        c.set(c.get() + 1);
        Ok(c.get())
    });
    assert_eq!(e.run(&mut []).unwrap(), 3);
    assert_eq!(count.get(), 3);
    // Registering again replaces the helper, also in already-compiled code.
    e.register_helper(1, |_| Ok(7));
    assert_eq!(e.run(&mut []).unwrap(), 7);
}

// ---- bpf-to-bpf calls ----

/// The innermost call runs in frame `frames - 1` and returns its R10.
fn nested(frames: usize) -> String {
    format!(
        "mov %r1, {}\ncall local f\nexit\nf:\njeq %r1, 0, deepest\nsub %r1, 1\ncall local f\nexit\ndeepest:\nmov %r0, %r10\nexit",
        frames - 2
    )
}

#[test]
fn eight_frames_are_allowed_the_ninth_fails() {
    let o = agree_with(&nested(MAX_CALL_FRAMES), &[], &|_| {}, false);
    assert_eq!(
        o.result.unwrap().r0,
        stack_base(MAX_CALL_FRAMES - 1) + STACK_SIZE as u64
    );
    let e = agree_with(&nested(MAX_CALL_FRAMES + 1), &[], &|_| {}, true)
        .result
        .unwrap_err();
    assert_eq!(e, VmError::CallDepth { pc: 5 });
    // Unbounded recursion stops at the limit too, unchecked included.
    let e = agree_with(
        "call local f\nexit\nf:\ncall local f\nexit",
        &[],
        &|_| {},
        true,
    )
    .result
    .unwrap_err();
    assert_eq!(e, VmError::CallDepth { pc: 2 });
    // Deep chains of distinct functions.
    let mut text = String::from("mov %r0, 0\ncall local f1\nexit\n");
    for i in 1..MAX_CALL_FRAMES {
        let next = if i + 1 < MAX_CALL_FRAMES {
            format!("call local f{}\n", i + 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "f{i}:\nstdw [%r10-8], {i}\n{next}ldxdw %r1, [%r10-8]\nlsh %r0, 4\nadd %r0, %r1\nexit\n"
        ));
    }
    assert_eq!(agree(&text, &[]), 0x765_4321);
}

#[test]
fn frames_have_their_own_stacks_and_keep_r6_to_r9() {
    let text = "
        stdw [%r10-8], 111
        mov %r6, 6
        mov %r7, 7
        mov %r8, 8
        mov %r9, 9
        mov %r1, 1
        call local f
        ldxdw %r1, [%r10-8]
        jne %r1, 111, bad
        mov %r1, %r6
        add %r1, %r7
        add %r1, %r8
        add %r1, %r9
        mul %r1, 100
        add %r0, %r1
        exit
    bad:
        mov %r0, 0
        exit
    f:
        stdw [%r10-8], 222
        mov %r6, 60
        mov %r7, 70
        mov %r8, 80
        mov %r9, 90
        mov %r0, %r1
        add %r0, 4
        exit";
    assert_eq!(agree(text, &[]), 3005);
    // The callee may write its caller's stack through a pointer.
    let ok = "mov %r1, %r10\nsub %r1, 8\ncall local f\nldxdw %r0, [%r10-8]\nexit\nf:\nstdw [%r1], 77\nexit";
    assert_eq!(agree(ok, &[]), 77);
    // But a returned callee's stack is dead (checked mode).
    let e = error_of(
        "call local f\nldxdw %r0, [%r0]\nexit\nf:\nmov %r0, %r10\nsub %r0, 8\nstdw [%r0], 1\nexit",
        &[],
    );
    assert!(
        matches!(e, VmError::OutOfBounds { pc: 1, addr, size: 8, access: Access::Read, .. } if addr == stack_base(1) + 504),
        "{e}"
    );
}

// ---- atomics ----

#[test]
fn atomics_store_the_new_value_and_fetch_the_old_one() {
    let old = 0x0f0f_0f0f_f0f0_f0f0u64;
    let src = 0x1234_5678_9abc_def0u64;
    let m64 = u64::MAX;
    let m32 = u32::MAX as u64;
    // (mnemonic, 32-bit, new memory value, fetched value in src (or R0 for cmpxchg))
    let cases: Vec<(&str, bool, u64, Option<u64>)> = vec![
        ("add", false, old.wrapping_add(src), None),
        ("or", false, old | src, None),
        ("and", false, old & src, None),
        ("xor", false, old ^ src, None),
        ("fetch add", false, old.wrapping_add(src), Some(old)),
        ("fetch or", false, old | src, Some(old)),
        ("fetch and", false, old & src, Some(old)),
        ("fetch xor", false, old ^ src, Some(old)),
        ("xchg", false, src, Some(old)),
        (
            "add32",
            true,
            (old as u32).wrapping_add(src as u32) as u64,
            None,
        ),
        ("fetch or32", true, (old | src) & m32, Some(old & m32)),
        ("fetch and32", true, old & src & m32, Some(old & m32)),
        ("fetch xor32", true, (old ^ src) & m32, Some(old & m32)),
        (
            "fetch add32",
            true,
            (old as u32).wrapping_add(src as u32) as u64,
            Some(old & m32),
        ),
        ("xchg32", true, src & m32, Some(old & m32)),
    ];
    for (op, w32, new, fetched) in cases {
        let (st, ld) = if w32 {
            ("stxw", "ldxw")
        } else {
            ("stxdw", "ldxdw")
        };
        // Value in memory, operand in R2; R0 must survive unless it is the operand.
        let text = format!(
            "lddw %r3, {old:#x}\n{st} [%r10-8], %r3\nlddw %r2, {src:#x}\nmov %r0, 99\n\
             lock {op} [%r10-8], %r2\n{ld} %r4, [%r10-8]\n\
             stxdw [%r1], %r4\nstxdw [%r1+8], %r2\nstxdw [%r1+16], %r0\nexit"
        );
        let o = agree_with(&text, &[0; 24], &|_| {}, true);
        let word = |i: usize| u64::from_le_bytes(o.mem[i * 8..i * 8 + 8].try_into().unwrap());
        let mask = if w32 { m32 } else { m64 };
        assert_eq!(word(0), new & mask, "{op}: memory");
        assert_eq!(word(1), fetched.unwrap_or(src), "{op}: src");
        assert_eq!(word(2), 99, "{op}: R0");
        // The operand in R0 itself, the address in R0.
        let text = format!(
            "lddw %r3, {old:#x}\n{st} [%r10-8], %r3\nlddw %r0, {src:#x}\nmov %r6, %r10\n\
             lock {op} [%r6-8], %r0\n{ld} %r4, [%r10-8]\nstxdw [%r1], %r4\nstxdw [%r1+8], %r0\nexit"
        );
        let o = agree_with(&text, &[0; 16], &|_| {}, true);
        let word = |i: usize| u64::from_le_bytes(o.mem[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!(word(0), new & mask, "{op} via R0: memory");
        assert_eq!(word(1), fetched.unwrap_or(src), "{op} via R0: R0");
        let base_r0 = format!(
            "lddw %r3, {old:#x}\n{st} [%r10-8], %r3\nlddw %r2, {src:#x}\nmov %r0, %r10\n\
             lock {op} [%r0-8], %r2\n{ld} %r0, [%r10-8]\nexit"
        );
        assert_eq!(agree(&base_r0, &[]), new & mask, "{op} with base R0");
    }
}

#[test]
fn cmpxchg_returns_the_old_value_in_r0() {
    for (w, st, ld, mask) in [
        ("", "stxdw", "ldxdw", u64::MAX),
        ("32", "stxw", "ldxw", u32::MAX as u64),
    ] {
        // Equal: memory takes the new value; R0 = old.
        let hit = format!(
            "lddw %r0, 0x1111111122222222\n{st} [%r10-8], %r0\nmov %r2, 5\nlock cmpxchg{w} [%r10-8], %r2\n\
             {ld} %r3, [%r10-8]\nlsh %r3, 32\nxor %r0, %r3\nexit"
        );
        assert_eq!(
            agree(&hit, &[]),
            (0x1111_1111_2222_2222 & mask) ^ (5 << 32),
            "cmpxchg{w} hit"
        );
        // Not equal: memory unchanged; R0 = old.
        let miss = format!(
            "lddw %r3, 0x3333333344444444\n{st} [%r10-8], %r3\nlddw %r0, 0xffffffff00000001\nmov %r2, 5\n\
             lock cmpxchg{w} [%r10-8], %r2\n{ld} %r3, [%r10-8]\nsub %r3, %r0\nlsh %r3, 1\nor %r0, %r3\nexit"
        );
        assert_eq!(
            agree(&miss, &[]),
            0x3333_3333_4444_4444 & mask,
            "cmpxchg{w} miss"
        );
    }
}

// ---- checked-mode faults ----

#[test]
fn out_of_bounds_accesses_fail_as_in_the_interpreter() {
    let mem = [0u8; 12];
    let e = error_of(
        "mov %r0, 0\nmov %r0, 1\nmov %r0, 2\nldxdw %r0, [%r1+16]\nexit",
        &mem,
    );
    assert_eq!(
        e.to_string(),
        "insn 3: out-of-bounds read of 8 bytes at 0x200000010: input region is 0x200000000..0x20000000c (12 bytes)"
    );
    assert!(matches!(
        error_of("ldxw %r0, [%r1+10]\nexit", &mem),
        VmError::OutOfBounds { size: 4, .. }
    ));
    assert_eq!(agree("ldxw %r0, [%r1+8]\nexit", &mem), 0);
    let e = error_of("stxdw [%r10], %r1\nexit", &[]);
    assert_eq!(
        e.to_string(),
        "insn 0: out-of-bounds write of 8 bytes at 0x100000200: frame 0 stack region is 0x100000000..0x100000200 (512 bytes)"
    );
    assert!(matches!(
        error_of("stb [%r10-513], 1\nexit", &[]),
        VmError::OutOfBounds {
            access: Access::Write,
            size: 1,
            ..
        }
    ));
    assert!(matches!(
        error_of("mov %r1, 0\nldxb %r0, [%r1]\nexit", &[]),
        VmError::OutOfBounds { pc: 1, addr: 0, .. }
    ));
    // Wrapping around the address space.
    assert!(matches!(
        error_of("lddw %r1, 0xfffffffffffffffc\nldxdw %r0, [%r1]\nexit", &[]),
        VmError::OutOfBounds { pc: 2, .. }
    ));
    assert!(matches!(
        error_of("ldxdw %r0, [%r1-8]\nexit", &mem),
        VmError::OutOfBounds { pc: 0, .. }
    ));
    // Atomics: alignment first, then bounds.
    assert_eq!(
        error_of("lock add [%r10-4], %r1\nexit", &[]),
        VmError::MisalignedAtomic {
            pc: 0,
            addr: stack_base(0) + 508,
            size: 8
        }
    );
    assert!(matches!(
        error_of("lock xchg32 [%r10], %r1\nexit", &[]),
        VmError::OutOfBounds {
            pc: 0,
            size: 4,
            access: Access::Write,
            ..
        }
    ));
}

#[test]
fn read_only_regions_refuse_writes_under_the_jit() {
    if !available() {
        return;
    }
    let p = prog("ldxb %r0, [%r1+3]\nstb [%r1+3], 1\nexit");
    for kind in [EngineKind::Interpreter, EngineKind::Jit] {
        let mut ctx = [7u8; 16];
        let mut e = Engine::new(&p, kind).unwrap();
        let region = MemRegion::new(RegionKind::Context, CONTEXT_BASE, &mut ctx)
            .read_only()
            .named("__sk_buff");
        let mut regs = [0; 10];
        regs[1] = CONTEXT_BASE;
        let err = e
            .run_with_regions(vec![region], regs, &RunOptions::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "insn 1: write of 1 bytes at 0x300000003 into a read-only region: __sk_buff region is 0x300000000..0x300000010 (16 bytes, read-only)",
            "{kind:?}"
        );
    }
}

#[test]
fn several_regions_and_pointer_values() {
    if !available() {
        return;
    }
    let p = prog(
        "ldxb %r0, [%r1]\nldxb %r3, [%r2]\nadd %r0, %r3\nstxb [%r2+7], %r0\nadd %r0, %r4\nexit",
    );
    let regs = [0, 0x4_0000_0000, 0x5_0000_0000, 0, 100, 0, 0, 0, 0, 0];
    for kind in [
        EngineKind::Interpreter,
        EngineKind::Jit,
        EngineKind::JitUnchecked,
    ] {
        let (mut a, mut b) = ([1u8; 8], [2u8; 8]);
        let regions = vec![
            MemRegion::new(RegionKind::Packet, 0x4_0000_0000, &mut a),
            MemRegion::new(RegionKind::MapValue, 0x5_0000_0000, &mut b),
        ];
        let mut e = common::engine(kind, &p);
        let r = e
            .run_with_regions(regions, regs, &RunOptions::default())
            .unwrap();
        assert_eq!(r.r0, 103, "{kind:?}");
        assert_eq!(b[7], 3, "{kind:?}");
        if kind == EngineKind::Jit {
            assert_eq!(
                r,
                RunResult {
                    r0: 103,
                    executed: 6
                }
            );
        }
    }
    // Checked mode keeps the interpreter's virtual addresses in registers.
    assert_eq!(
        agree_with("mov %r0, %r10\nexit", &[], &|_| {}, false)
            .result
            .unwrap()
            .r0,
        stack_base(0) + 512
    );
    assert_eq!(
        agree_with("mov %r0, %r1\nexit", &[1], &|_| {}, false)
            .result
            .unwrap()
            .r0,
        INPUT_BASE
    );
    // Overlapping regions are refused with the interpreter's message.
    let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
    let mut j = JitProgram::new(&p).unwrap();
    let e = j
        .run_with_regions(
            vec![
                MemRegion::new(RegionKind::Packet, 0x4_0000_0000, &mut a),
                MemRegion::new(RegionKind::Other, 0x4_0000_0004, &mut b),
            ],
            regs,
            &RunOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(e, VmError::BadRegion { .. }), "{e}");
}

// ---- budget and may_goto ----

#[test]
fn the_budget_stops_loops_at_the_same_instruction() {
    let p = prog("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit");
    for budget in [1, 2, 3, 10, 1001] {
        let opts = RunOptions::default().budget(budget);
        let want = run_on(EngineKind::Interpreter, &p, &[], &opts, &|_| {});
        assert!(matches!(want.result, Err(VmError::BudgetExhausted { .. })));
        if available() {
            let got = run_on(EngineKind::Jit, &p, &[], &opts, &|_| {});
            assert_eq!(got, want, "budget {budget}");
        }
    }
    // A run that fits reports the same executed count.
    let p =
        prog("mov %r0, 0\nmov %r1, 10\nloop:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, loop\nexit");
    let want = run_on(
        EngineKind::Interpreter,
        &p,
        &[],
        &RunOptions::default(),
        &|_| {},
    );
    assert_eq!(
        want.result,
        Ok(RunResult {
            r0: 55,
            executed: 33
        })
    );
    if available() {
        assert_eq!(
            run_on(EngineKind::Jit, &p, &[], &RunOptions::default(), &|_| {}),
            want
        );
        for budget in [32, 33] {
            let opts = RunOptions::default().budget(budget);
            let a: Outcome = run_on(EngineKind::Interpreter, &p, &[], &opts, &|_| {});
            assert_eq!(
                run_on(EngineKind::Jit, &p, &[], &opts, &|_| {}),
                a,
                "budget {budget}"
            );
        }
    }
}

#[test]
fn past_the_budget_the_run_goes_on_to_its_next_transfer() {
    // The interpreter charges the budget at transfers (taken jumps, calls, exit): the
    // straight-line instructions before the next transfer still run, stores included, and
    // an error on the way is the budget's. Every budget, on programs whose straight-line runs
    // cross not-taken jumps, a block entered both by falling and by jumping, calls, a fault
    // and the end of the program.
    let programs = [
        "mov %r0, 0\nstb [%r1], 1\nstb [%r1+1], 2\nexit",
        "mov %r0, 0\njeq %r0, 1, +1\nstb [%r1], 1\njeq %r0, 2, +1\nstb [%r1+1], 2\nstb [%r1+2], 3\nexit",
        "mov %r0, 0\nmov %r2, 3\nloop:\nstxb [%r1], %r2\nadd %r1, 1\nsub %r2, 1\njne %r2, 0, loop\nstb [%r1], 9\nexit",
        "mov %r0, 0\njeq %r0, 0, +1\nstb [%r1], 1\nstb [%r1+1], 2\nja +1\nstb [%r1+2], 3\nstb [%r1+3], 4\nexit",
        "mov %r0, 0\nstb [%r1], 1\ncall 7\nstb [%r1+1], 2\nexit",
        "mov %r0, 0\nstb [%r1], 1\ncall local f\nstb [%r1+1], 2\nexit\nf:\nstb [%r1+2], 3\nexit",
        "mov %r0, 0\nstb [%r1], 1\nstb [%r1+2], 2\nldxb %r0, [%r1+100]\nstb [%r1+3], 3\nexit",
        "mov %r0, 0\nstb [%r1], 1\njeq %r0, 1, +1\nstb [%r1+1], 2\nstb [%r1+2], 3",
        "mov %r0, 0\nmay_goto +1\nstb [%r1], 1\nstb [%r1+1], 2\nexit",
    ];
    for text in programs {
        let p = prog(text);
        for budget in 1..12 {
            let opts = RunOptions::default().budget(budget);
            let setup = |e: &mut Engine| e.register_helper(7, |_| Ok(5));
            let want = run_on(EngineKind::Interpreter, &p, &[0; 8], &opts, &setup);
            if available() {
                let got = run_on(EngineKind::Jit, &p, &[0; 8], &opts, &setup);
                assert_eq!(got, want, "budget {budget}\n{text}");
            }
        }
    }
}

#[test]
fn may_goto_falls_through_until_its_budget_runs_out() {
    let p = prog("mov %r0, 0\nloop:\nmay_goto out\nadd %r0, 1\nja loop\nout:\nexit");
    for n in [0u64, 1, 5, 1000] {
        let opts = RunOptions::default().may_goto_budget(n);
        let want = run_on(EngineKind::Interpreter, &p, &[], &opts, &|_| {});
        assert_eq!(want.result.as_ref().map(|r| r.r0), Ok(n));
        if available() {
            assert_eq!(run_on(EngineKind::Jit, &p, &[], &opts, &|_| {}), want);
            let fast = run_on(EngineKind::JitUnchecked, &p, &[], &opts, &|_| {});
            assert_eq!(fast.result.map(|r| r.r0), Ok(n));
        }
    }
}

#[test]
fn instructions_that_need_a_loader_or_kernel_fail_alike() {
    for text in [
        "lddw %r1, map_value(3, 8)\nexit",
        "ldabsb 5\nexit",
        "addr_space_cast %r1, %r2, 0, 1\nexit",
        "call kfunc(77, 2)\nexit",
        "mov %r0, 1",
    ] {
        let e = agree_with(text, &[], &|_| {}, true).result.unwrap_err();
        assert!(e.pc().is_some(), "{text}: {e}");
    }
}

#[test]
fn every_run_starts_with_zeroed_stacks() {
    if !available() {
        return;
    }
    // Mode 0 writes frame 1's stack; mode 1 reads it without writing; mode 2 does both in
    // one run (a callee sees what an earlier callee at the same depth left).
    let text = "
        ldxb %r6, [%r1]
        jeq %r6, 0, write
        jeq %r6, 1, read
        call local wr
        call local rd
        exit
    write:
        call local wr
        mov %r0, 0
        exit
    read:
        call local rd
        exit
    wr:
        stdw [%r10-8], 0x55
        exit
    rd:
        ldxdw %r0, [%r10-8]
        exit";
    let p = prog(text);
    for kind in [EngineKind::Interpreter, EngineKind::Jit] {
        let mut e = Engine::new(&p, kind).unwrap();
        assert_eq!(e.run(&mut [0]).unwrap(), 0, "{kind:?}");
        assert_eq!(
            e.run(&mut [1]).unwrap(),
            0,
            "{kind:?}: a new run sees a zeroed stack"
        );
        assert_eq!(e.run(&mut [2]).unwrap(), 0x55, "{kind:?}");
        assert_eq!(e.run(&mut [1]).unwrap(), 0, "{kind:?}");
    }
}

#[test]
fn callee_saved_host_registers_survive_runs_that_call_functions() {
    // Found by the arbitrary-programs test: a program with a local call but without R7–R9
    // once loaded them (liveness around calls is conservative) without saving the host's
    // r13–r15, corrupting the Rust caller.
    let text = "call local f\nor32 %r3, %r5\nlddw %r6, 0xff60cbac1955b74c\n\
                stw [%r6+24501], 1426026103\nf:\nexit";
    for _ in 0..3 {
        let e = error_of(text, &[0; 63]);
        assert!(
            matches!(e, VmError::OutOfBounds { pc: 4, size: 4, .. }),
            "{e}"
        );
    }
}

#[test]
fn helpers_with_memory_run_on_every_engine() {
    // memcpy(r1 = dst, r2 = src, r3 = len), returns len: one closure for all engines.
    let memcpy = |e: &mut Engine| {
        e.register_helper_with_memory(9, |m, [dst, src, len, ..]| {
            let data = m.read(src, len as usize)?.to_vec();
            m.write(dst, &data)?;
            Ok(len)
        })
    };
    let text = "stdw [%r10-8], 0x01020304\nmov %r1, %r10\nsub %r1, 16\nmov %r2, %r10\nsub %r2, 8\n\
                mov %r3, 8\ncall 9\nldxdw %r0, [%r10-16]\nexit";
    let o = agree_with(text, &[], &memcpy, true);
    assert_eq!(o.result.unwrap().r0, 0x0102_0304);
    // Into the input region, from a callee's stack (frame 1).
    let text = "call local f\nexit\nf:\nstdw [%r10-8], 0x55aa\nmov %r2, %r10\nsub %r2, 8\n\
                mov %r3, 2\ncall 9\nexit";
    let o = agree_with(text, &[0; 4], &memcpy, true);
    assert_eq!(o.mem, [0xaa, 0x55, 0, 0]);
    // Out of bounds inside the helper: the interpreter's error, checked mode included.
    let e = agree_with(
        "mov %r1, %r10\nmov %r2, %r10\nmov %r3, 8\ncall 9\nexit",
        &[],
        &memcpy,
        false,
    )
    .result
    .unwrap_err();
    assert!(matches!(e, VmError::Helper { pc: 3, id: 9, .. }), "{e}");
    assert!(
        e.to_string().contains("cannot read 8 bytes at 0x100000200"),
        "{e}"
    );
    // A read-only region refuses the helper's write.
    if available() {
        let p = prog("mov %r2, %r10\nsub %r2, 8\nmov %r3, 1\ncall 9\nexit");
        for kind in [
            EngineKind::Interpreter,
            EngineKind::Jit,
            EngineKind::JitUnchecked,
        ] {
            let mut ctx = [7u8; 4];
            let mut e = common::engine(kind, &p);
            memcpy(&mut e);
            let region = MemRegion::new(RegionKind::Context, CONTEXT_BASE, &mut ctx).read_only();
            let mut regs = [0; 10];
            regs[1] = CONTEXT_BASE;
            let err = e
                .run_with_regions(vec![region], regs, &RunOptions::default())
                .unwrap_err();
            assert!(
                err.to_string().contains("cannot write 1 bytes"),
                "{kind:?}: {err}"
            );
        }
    }
}

#[test]
fn each_run_checks_against_its_own_regions() {
    // One engine, runs over inputs of different lengths and places: every run sees its own
    // bounds (the checked JIT keeps its region table between runs).
    let text = "ldxb %r0, [%r1+3]\nexit";
    let p = prog(text);
    for kind in [EngineKind::Interpreter, EngineKind::Jit] {
        if kind == EngineKind::Jit && !available() {
            continue;
        }
        let mut e = Engine::new(&p, kind).unwrap();
        assert_eq!(e.run(&mut [1, 2, 3, 4]).unwrap(), 4, "{kind:?}");
        assert!(
            matches!(e.run(&mut [1, 2, 3]), Err(VmError::OutOfBounds { .. })),
            "{kind:?}"
        );
        let mut long = vec![9u8; 100];
        long[3] = 77;
        assert_eq!(e.run(&mut long).unwrap(), 77, "{kind:?}");
        // Two regions, then one again.
        let mut a = [5u8; 8];
        let mut b = [6u8; 8];
        let regions = vec![
            MemRegion::new(RegionKind::Input, INPUT_BASE, &mut a),
            MemRegion::new(RegionKind::Context, CONTEXT_BASE, &mut b),
        ];
        let mut regs = [0u64; 10];
        regs[1] = CONTEXT_BASE;
        let r = e
            .run_with_regions(regions, regs, &RunOptions::default())
            .unwrap();
        assert_eq!(r.r0, 6, "{kind:?}");
        assert_eq!(e.run(&mut [0, 0, 0, 8]).unwrap(), 8, "{kind:?}");
    }
}
