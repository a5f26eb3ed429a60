//! JIT against the interpreter: any bytecode that decodes runs on the checked JIT exactly as
//! on the interpreter (the same R0, executed count and input memory, or the same error), or
//! both refuse it with the same error. The long-running form of the JIT's property tests.
//!
//! Input: byte 0 and 1 give the instruction budget, byte 2 the input length (up to 72 bytes
//! follow), the rest is bytecode (truncated to whole instructions).
#![no_main]

use bpfvet_isa::Program;
use bpfvet_jit::{Engine, EngineKind, JitError, JitProgram};
use bpfvet_vm::{INPUT_BASE, MemRegion, RegionKind, RunOptions, Vm};
use libfuzzer_sys::fuzz_target;

fn run(
    kind: EngineKind,
    p: &Program,
    mem: &[u8],
    opts: &RunOptions,
) -> impl PartialEq + std::fmt::Debug {
    let mut e = Engine::new(p, kind).expect("both engines accepted the program");
    e.register_helper(1, |a: [u64; 5]| Ok(a[0] ^ a[1].rotate_left(3) ^ a[4]));
    e.register_helper(3, |a: [u64; 5]| {
        if a[0] & 1 == 0 {
            Ok(a[1])
        } else {
            Err("odd".into())
        }
    });
    let mut m = mem.to_vec();
    let mut regs = [0u64; 10];
    regs[1] = INPUT_BASE;
    regs[2] = m.len() as u64;
    let region = MemRegion::new(RegionKind::Input, INPUT_BASE, &mut m);
    let result = e.run_with_regions(vec![region], regs, opts);
    (result, m)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 || !bpfvet_jit::available() {
        return;
    }
    let budget = u64::from(u16::from_le_bytes([data[0], data[1]])) + 1;
    let len = usize::from(data[2] % 73).min(data.len() - 3);
    let (mem, code) = data[3..].split_at(len);
    let Ok(p) = Program::decode(&code[..code.len() / 8 * 8]) else {
        return;
    };
    match (Vm::new(&p), JitProgram::new(&p)) {
        (Err(a), Err(JitError::Invalid(b))) => {
            assert_eq!(a, b);
            return;
        }
        (Ok(_), Ok(_)) => {}
        (a, b) => panic!("interpreter {:?} vs JIT {:?}", a.err(), b.err()),
    }
    let opts = RunOptions::default()
        .budget(budget)
        .may_goto_budget(budget % 7);
    let want = run(EngineKind::Interpreter, &p, mem, &opts);
    let got = run(EngineKind::Jit, &p, mem, &opts);
    assert_eq!(got, want);
});
