//! Shared by the integration tests: assemble a program, run it on the interpreter, the
//! checked JIT and the unchecked JIT, and check that they agree.

#![allow(dead_code)]

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_jit::{Engine, EngineKind};
use bpfvet_vm::{INPUT_BASE, MemRegion, RegionKind, RunOptions, RunResult, VmError};

/// Assembles uBPF-dialect text.
pub fn prog(text: &str) -> Program {
    Program::from_insns(
        asm::assemble(text, Dialect::Ubpf).unwrap_or_else(|e| panic!("{e}\n{text}")),
    )
}

/// What a run leaves: its result and the input memory afterwards.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<RunResult, VmError>,
    pub mem: Vec<u8>,
}

/// Builds an engine; `JitUnchecked` only for programs the test knows stay in bounds.
pub fn engine(kind: EngineKind, p: &Program) -> Engine {
    match kind {
        // SAFETY: the tests use unchecked mode only for programs that access nothing but their
        // input and stack, and terminate.
        EngineKind::JitUnchecked => unsafe { Engine::new_unchecked(p, kind) }.unwrap(),
        kind => Engine::new(p, kind).unwrap(),
    }
}

/// Runs `p` on `kind` with `mem` as the input region (R1 = its address, R2 = its length).
pub fn run_on(
    kind: EngineKind,
    p: &Program,
    mem: &[u8],
    options: &RunOptions,
    setup: &dyn Fn(&mut Engine),
) -> Outcome {
    let mut e = engine(kind, p);
    setup(&mut e);
    let mut m = mem.to_vec();
    let len = m.len() as u64;
    let region = MemRegion::new(RegionKind::Input, INPUT_BASE, &mut m);
    let mut regs = [0u64; 10];
    regs[1] = INPUT_BASE;
    regs[2] = len;
    let result = e.run_with_regions(vec![region], regs, options);
    Outcome { result, mem: m }
}

/// Runs `text` on all three engines with `setup` and checks they agree: the checked JIT
/// exactly (R0, executed count, memory, error), the unchecked JIT on R0 and memory (it counts
/// nothing) or, on error, the same error. Returns the interpreter's outcome.
pub fn agree_with(text: &str, mem: &[u8], setup: &dyn Fn(&mut Engine), unchecked: bool) -> Outcome {
    let p = prog(text);
    let opts = RunOptions::default();
    let want = run_on(EngineKind::Interpreter, &p, mem, &opts, setup);
    if !bpfvet_jit::available() {
        return want;
    }
    let checked = run_on(EngineKind::Jit, &p, mem, &opts, setup);
    assert_eq!(checked, want, "checked JIT vs interpreter\n{text}");
    if unchecked {
        let fast = run_on(EngineKind::JitUnchecked, &p, mem, &opts, setup);
        assert_eq!(fast.mem, want.mem, "unchecked JIT memory\n{text}");
        match (&fast.result, &want.result) {
            (Ok(a), Ok(b)) => assert_eq!(a.r0, b.r0, "unchecked JIT R0\n{text}"),
            (a, b) => assert_eq!(a, b, "unchecked JIT\n{text}"),
        }
    }
    want
}

/// [`agree_with`] without helpers; returns R0.
pub fn agree(text: &str, mem: &[u8]) -> u64 {
    agree_with(text, mem, &|_| {}, true)
        .result
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .r0
}
