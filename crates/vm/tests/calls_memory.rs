//! Calls, memory checks and atomics: helpers (known, unknown, failing, with memory access),
//! bpf-to-bpf calls (frame limit, stack isolation, callee-saved registers), out-of-region
//! and read-only accesses, and every atomic operation in both widths.

use std::cell::Cell;
use std::rc::Rc;

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_vm::{
    Access, CONTEXT_BASE, INPUT_BASE, MAX_CALL_FRAMES, MemRegion, RegionKind, RunOptions,
    STACK_SIZE, Vm, VmError, conformance_helpers, stack_base,
};

fn prog(text: &str) -> Program {
    Program::from_insns(
        asm::assemble(text, Dialect::Ubpf).unwrap_or_else(|e| panic!("{e}\n{text}")),
    )
}

fn vm(text: &str) -> Vm {
    Vm::new(&prog(text)).unwrap()
}

fn run(text: &str, mem: &mut [u8]) -> Result<u64, VmError> {
    vm(text).run(mem)
}

// ---- helpers ----

#[test]
fn helper_gets_r1_to_r5_and_sets_r0() {
    let mut v = vm("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 7\nexit");
    v.register_helper(7, |a: [u64; 5]| {
        Ok(a[0] * 10000 + a[1] * 1000 + a[2] * 100 + a[3] * 10 + a[4])
    });
    assert_eq!(v.run(&mut []).unwrap(), 12345);
}

#[test]
fn helper_leaves_r1_to_r5_unchanged() {
    let mut v = vm("mov %r1, 11\nmov %r5, 55\ncall 7\nmov %r0, %r1\nadd %r0, %r5\nexit");
    v.register_helper(7, |_| Ok(0));
    assert_eq!(v.run(&mut []).unwrap(), 66);
}

#[test]
fn unknown_helper_is_an_error_naming_the_id() {
    let e = run("mov %r0, 0\ncall 99\nexit", &mut []).unwrap_err();
    assert_eq!(e, VmError::UnknownHelper { pc: 1, id: 99 });
    assert_eq!(e.to_string(), "insn 1: call to unknown helper 99");
    let e = run("lddw %r2, 0x100000005\ncallx %r2\nexit", &mut []).unwrap_err();
    assert_eq!(
        e,
        VmError::UnknownHelper {
            pc: 2,
            id: 0x1_0000_0005
        }
    );
}

#[test]
fn callx_calls_the_helper_in_the_register() {
    let mut v = vm("mov %r1, 42\nmov %r2, 5\ncallx %r2\nexit");
    conformance_helpers(&mut v);
    assert!(v.has_helper(5));
    assert_eq!(v.run(&mut []).unwrap(), 42);
}

#[test]
fn helper_errors_stop_the_run() {
    let mut v = vm("call 3\nexit");
    v.register_helper(3, |_| Err("no such map".into()));
    let e = v.run(&mut []).unwrap_err();
    assert_eq!(e.to_string(), "insn 0: helper 3 failed: no such map");
}

#[test]
fn closures_keep_state_across_calls() {
    let count = Rc::new(Cell::new(0u64));
    let c = count.clone();
    let mut v = vm("call 1\ncall 1\ncall 1\nexit");
    v.register_helper(1, move |_| {
        c.set(c.get() + 1);
        Ok(c.get())
    });
    assert_eq!(v.run(&mut []).unwrap(), 3);
    assert_eq!(count.get(), 3);
}

#[test]
fn helper_context_reads_and_writes_checked_memory() {
    // memcpy(r1 = dst, r2 = src, r3 = len), returns len.
    let text = "stdw [%r10-8], 0x01020304\nmov %r1, %r10\nsub %r1, 16\nmov %r2, %r10\nsub %r2, 8\nmov %r3, 8\ncall 9\nldxdw %r0, [%r10-16]\nexit";
    let mut v = vm(text);
    v.register_helper_with_context(9, |ctx| {
        let [dst, src, len, ..] = ctx.args;
        let data = ctx.read(src, len as usize)?.to_vec();
        ctx.write(dst, &data)?;
        Ok(len)
    });
    assert_eq!(v.run(&mut []).unwrap(), 0x0102_0304);
    // Out of bounds inside the helper.
    let mut v = vm("mov %r1, %r10\nmov %r2, 8\ncall 9\nexit");
    v.register_helper_with_context(9, |ctx| {
        ctx.read(ctx.args[0], ctx.args[1] as usize).map(|_| 0)
    });
    let e = v.run(&mut []).unwrap_err();
    assert!(matches!(e, VmError::Helper { pc: 2, id: 9, .. }), "{e}");
    assert!(
        e.to_string().contains("cannot read 8 bytes at 0x100000200"),
        "{e}"
    );
}

// ---- bpf-to-bpf calls ----

/// Calls `f` recursively so that the innermost call runs in frame `frames`.
fn nested(frames: usize) -> String {
    format!(
        "mov %r1, {}\ncall local f\nexit\nf:\njeq %r1, 0, deepest\nsub %r1, 1\ncall local f\nexit\ndeepest:\nmov %r0, %r10\nexit",
        frames - 2
    )
}

#[test]
fn eight_frames_are_allowed_the_ninth_fails() {
    let fp = run(&nested(MAX_CALL_FRAMES), &mut []).unwrap();
    assert_eq!(fp, stack_base(MAX_CALL_FRAMES - 1) + STACK_SIZE as u64);
    let e = run(&nested(MAX_CALL_FRAMES + 1), &mut []).unwrap_err();
    assert_eq!(e, VmError::CallDepth { pc: 5 });
    assert_eq!(
        e.to_string(),
        "insn 5: call stack too deep: more than 8 frames"
    );
}

#[test]
fn each_frame_has_its_own_stack() {
    // The callee's R10 differs, and its stores do not touch the caller's stack.
    let text = "
        stdw [%r10-8], 111
        mov %r6, %r10
        call local f
        mov %r7, %r0
        ldxdw %r0, [%r10-8]
        jne %r0, 111, bad
        jeq %r7, %r6, bad
        mov %r0, %r7
        exit
    bad:
        mov %r0, 0
        exit
    f:
        stdw [%r10-8], 222
        mov %r0, %r10
        exit";
    assert_eq!(run(text, &mut []).unwrap(), stack_base(1) + 512);
    assert_ne!(stack_base(1), stack_base(0));
}

#[test]
fn callee_may_use_the_callers_stack_but_not_the_reverse() {
    let ok = "
        mov %r1, %r10
        sub %r1, 8
        call local f
        ldxdw %r0, [%r10-8]
        exit
    f:
        stdw [%r1], 77
        exit";
    assert_eq!(run(ok, &mut []).unwrap(), 77);
    // A pointer into a returned callee's stack is dead.
    let bad = "
        call local f
        ldxdw %r0, [%r0]
        exit
    f:
        mov %r0, %r10
        sub %r0, 8
        stdw [%r0], 1
        exit";
    let e = run(bad, &mut []).unwrap_err();
    assert!(
        matches!(e, VmError::OutOfBounds { pc: 1, addr, size: 8, access: Access::Read, .. } if addr == stack_base(1) + 504),
        "{e}"
    );
}

#[test]
fn r6_to_r9_are_preserved_across_local_calls() {
    let text = "
        mov %r6, 6
        mov %r7, 7
        mov %r8, 8
        mov %r9, 9
        mov %r1, 1
        call local f
        mov %r1, %r6
        add %r1, %r7
        add %r1, %r8
        add %r1, %r9
        mul %r1, 100
        add %r0, %r1
        exit
    f:
        mov %r6, 60
        mov %r7, 70
        mov %r8, 80
        mov %r9, 90
        mov %r0, %r1
        add %r0, 4
        exit";
    // Callee returns 5 and sees R1; caller's R6..R9 sum to 30.
    assert_eq!(run(text, &mut []).unwrap(), 3005);
}

// ---- memory checks ----

#[test]
fn out_of_region_read_reports_pc_address_size_and_region() {
    let mut mem = [0u8; 12];
    let e = run(
        "mov %r0, 0\nmov %r0, 1\nmov %r0, 2\nldxdw %r0, [%r1+16]\nexit",
        &mut mem,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "insn 3: out-of-bounds read of 8 bytes at 0x200000010: input region is 0x200000000..0x20000000c (12 bytes)"
    );
    match e {
        VmError::OutOfBounds {
            pc,
            addr,
            size,
            access,
            nearest,
        } => {
            assert_eq!(
                (pc, addr, size, access),
                (3, INPUT_BASE + 16, 8, Access::Read)
            );
            let n = nearest.unwrap();
            assert_eq!((n.kind, n.base, n.len), (RegionKind::Input, INPUT_BASE, 12));
        }
        other => panic!("{other}"),
    }
    // Straddling the end counts too.
    let e = run("ldxw %r0, [%r1+10]\nexit", &mut mem).unwrap_err();
    assert!(matches!(e, VmError::OutOfBounds { addr, size: 4, .. } if addr == INPUT_BASE + 10));
    // The last bytes are fine.
    assert_eq!(run("ldxw %r0, [%r1+8]\nexit", &mut mem).unwrap(), 0);
}

#[test]
fn out_of_region_write_reports_the_stack() {
    let e = run("stxdw [%r10], %r1\nexit", &mut []).unwrap_err();
    assert_eq!(
        e.to_string(),
        "insn 0: out-of-bounds write of 8 bytes at 0x100000200: frame 0 stack region is 0x100000000..0x100000200 (512 bytes)"
    );
    let e = run("stb [%r10-513], 1\nexit", &mut []).unwrap_err();
    assert!(matches!(
        e,
        VmError::OutOfBounds {
            access: Access::Write,
            size: 1,
            ..
        }
    ));
    let e = run("mov %r1, 0\nldxb %r0, [%r1]\nexit", &mut []).unwrap_err();
    assert!(
        matches!(e, VmError::OutOfBounds { pc: 1, addr: 0, .. }),
        "{e}"
    );
}

#[test]
fn input_memory_is_read_and_written_in_place() {
    let mut mem = [1u8, 2, 3, 4];
    let r = run(
        "ldxw %r0, [%r1]\nstw [%r1], 0x0a0b0c0d\nmov %r0, %r2\nexit",
        &mut mem,
    )
    .unwrap();
    assert_eq!(r, 4);
    assert_eq!(mem, [0x0d, 0x0c, 0x0b, 0x0a]);
}

#[test]
fn read_only_regions_refuse_writes() {
    let mut ctx = [7u8; 16];
    let p = prog("ldxb %r0, [%r1+3]\nstb [%r1+3], 1\nexit");
    let mut v = Vm::new(&p).unwrap();
    let region = MemRegion::new(RegionKind::Context, CONTEXT_BASE, &mut ctx)
        .read_only()
        .named("__sk_buff");
    let mut regs = [0; 10];
    regs[1] = CONTEXT_BASE;
    let e = v
        .run_with_regions(vec![region], regs, &RunOptions::default())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "insn 1: write of 1 bytes at 0x300000003 into a read-only region: __sk_buff region is 0x300000000..0x300000010 (16 bytes, read-only)"
    );
}

#[test]
fn several_regions_and_initial_registers() {
    let mut a = [1u8; 8];
    let mut b = [2u8; 8];
    let p = prog(
        "ldxb %r0, [%r1]\nldxb %r3, [%r2]\nadd %r0, %r3\nstxb [%r2+7], %r0\nadd %r0, %r4\nexit",
    );
    let mut v = Vm::new(&p).unwrap();
    let regions = vec![
        MemRegion::new(RegionKind::Packet, 0x4_0000_0000, &mut a),
        MemRegion::new(RegionKind::MapValue, 0x5_0000_0000, &mut b),
    ];
    let regs = [0, 0x4_0000_0000, 0x5_0000_0000, 0, 100, 0, 0, 0, 0, 0];
    let res = v
        .run_with_regions(regions, regs, &RunOptions::default())
        .unwrap();
    assert_eq!(
        res,
        bpfvet_vm::RunResult {
            r0: 103,
            executed: 6
        }
    );
    assert_eq!(b[7], 3);
}

#[test]
fn overlapping_regions_are_refused() {
    let mut a = [0u8; 16];
    let mut b = [0u8; 16];
    let mut v = vm("exit");
    let regions = vec![
        MemRegion::new(RegionKind::Other, 0x9000, &mut a),
        MemRegion::new(RegionKind::Other, 0x9008, &mut b),
    ];
    let e = v
        .run_with_regions(regions, [0; 10], &RunOptions::default())
        .unwrap_err();
    assert!(matches!(e, VmError::BadRegion { .. }), "{e}");
    let mut c = [0u8; 4];
    let regions = vec![MemRegion::new(RegionKind::Other, stack_base(3), &mut c)];
    assert!(
        v.run_with_regions(regions, [0; 10], &RunOptions::default())
            .is_err()
    );
    let regions = vec![MemRegion::new(RegionKind::Other, u64::MAX - 1, &mut a)];
    assert!(
        v.run_with_regions(regions, [0; 10], &RunOptions::default())
            .is_err()
    );
}

// ---- atomics ----

/// The reference result of an atomic op: (memory after, src register after, R0 after).
fn atomic_model(op: &str, fetch: bool, w32: bool, mem: u64, src: u64, r0: u64) -> (u64, u64, u64) {
    let mask = if w32 { 0xffff_ffff } else { u64::MAX };
    let old = mem & mask;
    let s = src & mask;
    let (new, src_after, r0_after) = match op {
        "add" => (old.wrapping_add(s), if fetch { old } else { src }, r0),
        "or" => (old | s, if fetch { old } else { src }, r0),
        "and" => (old & s, if fetch { old } else { src }, r0),
        "xor" => (old ^ s, if fetch { old } else { src }, r0),
        "xchg" => (s, old, r0),
        "cmpxchg" => (if r0 & mask == old { s } else { old }, src, old),
        _ => unreachable!(),
    };
    ((mem & !mask) | (new & mask), src_after, r0_after)
}

#[test]
fn every_atomic_operation_in_both_widths() {
    let mem_init: u64 = 0xf0f0_f0f0_0000_00ff;
    let values: [(u64, u64); 4] = [
        (0x0f0f_0f0f_1234_5678, 0),
        (0xffff_ffff_ffff_ffff, 0x0000_00ff),
        (0x8000_0000_0000_0001, mem_init),
        (1, 0xdead_beef_0000_00ff),
    ];
    let ops = [
        ("add", false),
        ("or", false),
        ("and", false),
        ("xor", false),
        ("add", true),
        ("or", true),
        ("and", true),
        ("xor", true),
        ("xchg", false),
        ("cmpxchg", false),
    ];
    for (op, fetch) in ops {
        for w32 in [false, true] {
            for (src, r0) in values {
                let m = format!(
                    "{}{op}{}",
                    if fetch { "fetch " } else { "" },
                    if w32 { "32" } else { "" }
                );
                let text = format!(
                    "mov %r6, %r1
                    lddw %r2, {mem_init:#x}
                    stxdw [%r10-8], %r2
                    lddw %r1, {src:#x}
                    lddw %r0, {r0:#x}
                    lock {m} [%r10-8], %r1
                    ldxdw %r3, [%r10-8]
                    stxdw [%r6], %r3
                    stxdw [%r6+8], %r1
                    stxdw [%r6+16], %r0
                    exit"
                );
                let mut out = [0u8; 24];
                run(&text, &mut out).unwrap_or_else(|e| panic!("{m}: {e}"));
                let word = |i: usize| u64::from_le_bytes(out[i * 8..i * 8 + 8].try_into().unwrap());
                let want = atomic_model(op, fetch, w32, mem_init, src, r0);
                assert_eq!(
                    (word(0), word(1), word(2)),
                    want,
                    "lock {m}, src {src:#x}, r0 {r0:#x}"
                );
            }
        }
    }
}

#[test]
fn cmpxchg_success_and_failure() {
    // 64-bit success: memory takes src, R0 gets the old value.
    let ok = "stdw [%r10-8], 5\nmov %r0, 5\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r1, [%r10-8]\nmul %r0, 100\nadd %r0, %r1\nexit";
    assert_eq!(run(ok, &mut []).unwrap(), 509);
    let fail = "stdw [%r10-8], 5\nmov %r0, 6\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r1, [%r10-8]\nmul %r0, 100\nadd %r0, %r1\nexit";
    assert_eq!(run(fail, &mut []).unwrap(), 505);
    // 32-bit: compares the low half of R0 and zero-extends the old value into R0.
    let ok32 = "stw [%r10-8], -1\nlddw %r0, 0x12345678ffffffff\nmov %r1, 3\nlock cmpxchg32 [%r10-8], %r1\nldxw %r1, [%r10-8]\njne %r1, 3, bad\nexit\nbad:\nmov %r0, 0\nexit";
    assert_eq!(run(ok32, &mut []).unwrap(), 0xffff_ffff);
    let fail32 = "stw [%r10-8], 7\nlddw %r0, 0x0000000100000008\nmov %r1, 3\nlock cmpxchg32 [%r10-8], %r1\nldxw %r1, [%r10-8]\njne %r1, 7, bad\nexit\nbad:\nmov %r0, 0\nexit";
    assert_eq!(run(fail32, &mut []).unwrap(), 7);
}

#[test]
fn atomic_fetch_32_zero_extends_into_src() {
    let text = "stw [%r10-4], -2\nlddw %r1, 0xffffffff00000001\nlock fetch add32 [%r10-4], %r1\nmov %r0, %r1\nexit";
    assert_eq!(run(text, &mut []).unwrap(), 0xffff_fffe);
    let text = "stw [%r10-4], -2\nlddw %r1, 0xffffffff00000001\nlock xchg32 [%r10-4], %r1\nldxw %r0, [%r10-4]\nlsh %r0, 32\nor %r0, %r1\nexit";
    assert_eq!(run(text, &mut []).unwrap(), 0x0000_0001_ffff_fffe);
}

#[test]
fn atomics_must_be_naturally_aligned() {
    let e = run("mov %r1, 1\nlock add [%r10-12], %r1\nexit", &mut []).unwrap_err();
    assert_eq!(
        e,
        VmError::MisalignedAtomic {
            pc: 1,
            addr: stack_base(0) + 500,
            size: 8
        }
    );
    assert!(
        e.to_string()
            .starts_with("insn 1: misaligned atomic access of 8 bytes at 0x1000001f4"),
        "{e}"
    );
    let e = run("mov %r1, 1\nlock add32 [%r10-6], %r1\nexit", &mut []).unwrap_err();
    assert!(matches!(e, VmError::MisalignedAtomic { size: 4, .. }));
    // 4-aligned is enough for 32-bit atomics.
    assert_eq!(
        run(
            "mov %r1, 1\nlock add32 [%r10-12], %r1\nldxw %r0, [%r10-12]\nexit",
            &mut []
        )
        .unwrap(),
        1
    );
    // Out of bounds (but aligned) atomics are memory errors.
    let e = run("mov %r1, 1\nlock add [%r10], %r1\nexit", &mut []).unwrap_err();
    assert!(
        matches!(
            e,
            VmError::OutOfBounds {
                access: Access::Write,
                size: 8,
                ..
            }
        ),
        "{e}"
    );
}
