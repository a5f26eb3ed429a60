//! Tail calls and map references under the JIT, each compared with the interpreter: a tail
//! call through a prog array (registers and stack carry over, R0 is kept when it falls
//! through), the 33-call limit, empty entries and out-of-range indices, `callx` tail calls,
//! tail calls from a function reached by a bpf-to-bpf call, errors inside the next program,
//! and LD_IMM64 of maps and functions.

mod common;

use bpfvet_jit::{Engine, EngineKind, available};
use bpfvet_vm::{
    FUNC_BASE, INPUT_BASE, MAX_TAIL_CALLS, MapSpec, MapType, Maps, MemRegion, RegionKind,
    RunOptions, RunResult, VmError,
};
use common::{engine, prog};

/// A map set whose map 0 is a prog array of `max` entries holding `entries` (index,
/// program), and whose map 1 is a plain array.
fn maps_with(max: u32, entries: &[(u32, u32)]) -> Maps {
    let mut maps = Maps::new();
    let pa = maps
        .create(MapSpec::new("jmp", MapType::ProgArray, 4, 4, max))
        .unwrap();
    for &(i, p) in entries {
        maps.update(pa, &i.to_le_bytes(), &p.to_le_bytes(), 0)
            .unwrap();
    }
    maps.create(MapSpec::new("arr", MapType::Array, 4, 8, 1))
        .unwrap();
    maps
}

/// How to set an engine up for a test.
struct Setup<'a> {
    /// Program 0 first.
    progs: &'a [&'a str],
    maps: Option<fn() -> Maps>,
    kernel: bool,
    options: RunOptions,
    /// Whether to run the unchecked JIT too (only for programs that stay in bounds).
    unchecked: bool,
}

impl<'a> Setup<'a> {
    fn new(progs: &'a [&'a str], maps: fn() -> Maps) -> Setup<'a> {
        Setup {
            progs,
            maps: Some(maps),
            kernel: true,
            options: RunOptions::default(),
            unchecked: true,
        }
    }

    fn run(&self, kind: EngineKind, input: &[u8]) -> (Result<RunResult, VmError>, Vec<u8>) {
        let mut e: Engine = engine(kind, &prog(self.progs[0]));
        for text in &self.progs[1..] {
            let i = e.add_program(&prog(text)).unwrap();
            assert!(i < e.program_count());
        }
        if let Some(m) = self.maps {
            assert!(e.set_maps(m()).is_none());
        }
        if self.kernel {
            e.enable_kernel_helpers();
        }
        let mut mem = input.to_vec();
        let len = mem.len() as u64;
        let region = MemRegion::new(RegionKind::Input, INPUT_BASE, &mut mem);
        let mut regs = [0u64; 10];
        regs[1] = INPUT_BASE;
        regs[2] = len;
        let r = e.run_with_regions(vec![region], regs, &self.options);
        (r, mem)
    }

    /// Runs on the three engines, checks they agree (the unchecked JIT counts nothing) and
    /// returns the interpreter's result.
    fn agree(&self, input: &[u8]) -> Result<RunResult, VmError> {
        let (want, want_mem) = self.run(EngineKind::Interpreter, input);
        if !available() {
            return want;
        }
        let (checked, mem) = self.run(EngineKind::Jit, input);
        assert_eq!(
            checked, want,
            "checked JIT vs interpreter: {:?}",
            self.progs
        );
        assert_eq!(mem, want_mem, "checked JIT memory");
        if !self.unchecked {
            return want;
        }
        let (fast, mem) = self.run(EngineKind::JitUnchecked, input);
        assert_eq!(mem, want_mem, "unchecked JIT memory");
        match (&fast, &want) {
            (Ok(a), Ok(b)) => assert_eq!(a.r0, b.r0, "unchecked JIT R0: {:?}", self.progs),
            (a, b) => assert_eq!(a, b, "unchecked JIT: {:?}", self.progs),
        }
        want
    }
}

fn r0(r: Result<RunResult, VmError>) -> u64 {
    r.unwrap_or_else(|e| panic!("{e}")).r0
}

/// Tail-calls entry `INDEX` of map 0; R0 = 77 if it falls through.
const CALLER: &str = "
    mov %r6, 5
    stxdw [%r10-8], %r6
    mov %r0, 77
    lddw %r2, map_idx(0)
    mov %r3, INDEX
    call 12
    exit
";

/// Reads what the caller left in R1, R6 and its stack.
const CALLEE: &str = "
    ldxdw %r0, [%r10-8]
    mul %r0, 100
    add %r0, %r6
    ldxb %r2, [%r1]
    add %r0, %r2
    exit
";

fn one_entry() -> Maps {
    maps_with(4, &[(0, 1)])
}

#[test]
fn a_tail_call_keeps_registers_and_stack() {
    let caller = CALLER.replace("INDEX", "0");
    let r = Setup::new(&[&caller, CALLEE], one_entry).agree(&[9]);
    assert_eq!(r0(r), 5 * 100 + 5 + 9);
}

#[test]
fn empty_and_out_of_range_entries_fall_through_with_r0_kept() {
    for index in ["1", "3", "4", "-1"] {
        let caller = CALLER.replace("INDEX", index);
        let r = Setup::new(&[&caller, CALLEE], one_entry).agree(&[9]);
        assert_eq!(r0(r), 77, "index {index}");
    }
    // The index is a u32: 1 << 32 is entry 0.
    let caller = CALLER.replace("mov %r3, INDEX", "lddw %r3, 0x100000000");
    let r = Setup::new(&[&caller, CALLEE], one_entry).agree(&[9]);
    assert_eq!(r0(r), 514);
}

/// Counts itself in R6 and tail-calls entry 0 (itself) until the limit stops it.
const SELF_CALL: &str = "
    add %r6, 1
    mov %r0, %r6
    lddw %r2, map_idx(0)
    mov %r3, 0
    call 12
    exit
";

#[test]
fn at_most_33_tail_calls_per_run() {
    let r = Setup::new(&[SELF_CALL], || maps_with(1, &[(0, 0)])).agree(&[]);
    assert_eq!(r0(r), 1 + MAX_TAIL_CALLS as u64);
}

#[test]
fn attempts_on_empty_entries_count_toward_the_limit() {
    // Each round tries the empty entry 1 first, then entry 0 (itself): two attempts per round.
    let text = "
        add %r6, 1
        mov %r0, %r6
        lddw %r2, map_idx(0)
        mov %r3, 1
        call 12
        mov %r3, 0
        call 12
        exit
    ";
    let r = Setup::new(&[text], || maps_with(2, &[(0, 0)])).agree(&[]);
    // 16 rounds jump; the 17th uses up the limit on entry 1 and falls through.
    assert_eq!(r0(r), 1 + MAX_TAIL_CALLS as u64 / 2);
}

#[test]
fn the_limit_is_per_run() {
    if !available() {
        return;
    }
    for kind in [EngineKind::Jit, EngineKind::JitUnchecked] {
        let mut e = engine(kind, &prog(SELF_CALL));
        e.set_maps(maps_with(1, &[(0, 0)]));
        e.enable_kernel_helpers();
        for _ in 0..3 {
            assert_eq!(e.run(&mut []).unwrap(), 34);
        }
    }
}

#[test]
fn a_chain_through_several_programs() {
    // 0 -> 1 -> 2 -> 1 -> 2 ... each adding its number, until the limit.
    let step = |n: u32, next: u32| {
        format!("add %r0, {n}\nlddw %r2, map_idx(0)\nmov %r3, {next}\ncall 12\nexit",)
    };
    let (p0, p1, p2) = (step(1000, 1), step(1, 2), step(2, 1));
    let r = Setup::new(&[&p0, &p1, &p2], || maps_with(3, &[(1, 1), (2, 2)])).agree(&[]);
    // 1000, then 33 programs alternating 1, 2 starting with 1 (17 ones, 16 twos).
    assert_eq!(r0(r), 1000 + 17 + 2 * 16);
}

#[test]
fn callx_of_helper_12_is_a_tail_call() {
    let text = "mov %r0, 3\nlddw %r2, map_idx(0)\nmov %r3, 0\nmov %r4, 12\ncallx %r4\nexit";
    let r = Setup::new(&[text, "mov %r0, 42\nexit"], one_entry).agree(&[]);
    assert_eq!(r0(r), 42);
}

#[test]
fn tail_calls_from_a_called_function_return_to_its_caller() {
    // Program 0 calls f, which tail-calls program 1; program 1's exit returns to program 0
    // after the call, with R1–R5 as program 1 left them and R6–R9 restored.
    let main = "
        mov %r6, 1000
        mov %r0, 0
        call local f
        add %r0, %r6
        add %r0, %r3
        exit
    f:
        mov %r6, 5
        lddw %r2, map_idx(0)
        mov %r3, 0
        call 12
        mov %r0, 1
        exit
    ";
    let target = "mov %r0, 20\nmov %r3, 300\nmov %r6, 7\nexit";
    let r = Setup::new(&[main, target], one_entry).agree(&[]);
    assert_eq!(r0(r), 20 + 1000 + 300);
    // The same with the calls in the target: program 0 is compiled before it is known that
    // a called function tail-calls.
    let main = "mov %r6, 9\nlddw %r2, map_idx(0)\nmov %r3, 0\ncall 12\nexit";
    let hop = "
        call local f
        add %r0, %r4
        exit
    f:
        lddw %r2, map_idx(0)
        mov %r3, 1
        call 12
        exit
    ";
    let last = "mov %r0, %r6\nmov %r4, 50000\nmov %r1, 1\nexit";
    let r = Setup::new(&[main, hop, last], || maps_with(2, &[(0, 1), (1, 2)])).agree(&[]);
    assert_eq!(r0(r), 9 + 50000);
}

#[test]
fn errors_in_the_next_program_name_its_instruction() {
    let caller = CALLER.replace("INDEX", "0");
    // Falling off the end, an unknown helper, a failing LD_IMM64; then (checked only) out
    // of bounds.
    for (callee, pc) in [
        ("mov %r0, 0\nmov %r0, 1", 2),
        ("mov %r0, 0\ncall 9999\nexit", 1),
        ("ja +0\nmov %r0, 1\nlddw %r2, map_fd(99)\nexit", 2),
        ("mov %r0, 0\nja +0\nldxb %r0, [%r1+4000]\nexit", 2),
    ] {
        let progs = [caller.as_str(), callee];
        let mut s = Setup::new(&progs, one_entry);
        s.unchecked = !callee.contains("4000");
        let e = s.agree(&[1]).unwrap_err();
        assert_eq!(e.pc(), Some(pc), "{e}");
    }
    // The budget running out in a program reached by tail calls.
    let mut s = Setup::new(&[SELF_CALL], || maps_with(1, &[(0, 0)]));
    s.unchecked = false; // it counts nothing
    for budget in [3, 11, 50, 100, 150] {
        s.options = RunOptions::default().budget(budget);
        let e = s.agree(&[]).unwrap_err();
        assert!(matches!(e, VmError::BudgetExhausted { .. }), "{e}");
    }
}

#[test]
fn bad_tail_calls_are_errors() {
    let caller = |map: &str| format!("mov %r0, 0\nlddw %r2, {map}\nmov %r3, 0\ncall 12\nexit");
    // Not a prog array.
    let e = Setup::new(&[&caller("map_idx(1)")], one_entry)
        .agree(&[])
        .unwrap_err();
    assert!(matches!(e, VmError::Helper { id: 12, .. }), "{e}");
    assert!(e.to_string().contains("not a prog array"), "{e}");
    // Not a map pointer.
    let e = Setup::new(&[&caller("0x1234")], one_entry)
        .agree(&[])
        .unwrap_err();
    assert!(e.to_string().contains("not a map pointer"), "{e}");
    // An entry naming a program the set does not have.
    let e = Setup::new(&[&caller("map_idx(0)")], || maps_with(1, &[(0, 5)]))
        .agree(&[])
        .unwrap_err();
    assert!(e.to_string().contains("holds program 5"), "{e}");
    // Without kernel helpers, helper 12 is unknown.
    let text = caller("map_idx(0)");
    let progs = [text.as_str()];
    let mut s = Setup::new(&progs, one_entry);
    s.kernel = false;
    assert_eq!(
        s.agree(&[]).unwrap_err(),
        VmError::UnknownHelper { pc: 4, id: 12 }
    );
}

#[test]
fn kernel_helpers_are_the_interpreters_on_the_checked_jit_only() {
    if !available() {
        return;
    }
    // bpf_ktime_get_ns twice: the virtual clock advances by the same step on both engines.
    let text = "call 5\nmov %r6, %r0\ncall 5\nsub %r0, %r6\nexit";
    let mut results = Vec::new();
    for kind in [EngineKind::Interpreter, EngineKind::Jit] {
        let mut e = engine(kind, &prog(text));
        e.enable_kernel_helpers();
        results.push(e.run(&mut []).unwrap());
    }
    assert_eq!(results[0], results[1]);
    assert_ne!(results[0], 0);
    // A helper the VM cannot provide fails alike.
    let fib = "mov %r0, 0\ncall 69\nexit";
    let errs: Vec<VmError> = [EngineKind::Interpreter, EngineKind::Jit]
        .into_iter()
        .map(|kind| {
            let mut e = engine(kind, &prog(fib));
            e.enable_kernel_helpers();
            e.run(&mut []).unwrap_err()
        })
        .collect();
    assert_eq!(errs[0], errs[1]);
    assert!(
        matches!(errs[0], VmError::UnavailableHelper { pc: 1, id: 69, .. }),
        "{}",
        errs[0]
    );
    // The unchecked JIT holds host addresses: the VM's helpers cannot serve it.
    let mut e = engine(EngineKind::JitUnchecked, &prog("mov %r0, 0\ncall 5\nexit"));
    e.enable_kernel_helpers();
    let err = e.run(&mut []).unwrap_err();
    assert!(
        matches!(
            err,
            VmError::UnavailableHelper {
                pc: 1,
                id: 5,
                name: "bpf_ktime_get_ns",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_registered_helper_12_is_an_ordinary_helper() {
    if !available() {
        return;
    }
    let text = "mov %r0, 1\nlddw %r2, map_idx(0)\nmov %r3, 0\ncall 12\nexit";
    for kind in [
        EngineKind::Interpreter,
        EngineKind::Jit,
        EngineKind::JitUnchecked,
    ] {
        let mut e = engine(kind, &prog(text));
        e.add_program(&prog("mov %r0, 2\nexit")).unwrap();
        e.set_maps(one_entry());
        e.enable_kernel_helpers();
        e.register_helper(12, |a| Ok(a[2] + 40));
        assert_eq!(e.run(&mut []).unwrap(), 40, "{kind:?}");
    }
}

#[test]
fn map_references_resolve_against_the_maps() {
    // map_idx and map_fd (bound and unbound) give the interpreter's map pointers.
    let text = "lddw %r0, map_idx(1)\nlddw %r1, map_fd(7)\nsub %r0, %r1\nlddw %r1, map_fd(0)\nadd %r0, %r1\nexit";
    let r = Setup::new(&[text], || {
        let mut m = one_entry();
        m.bind_fd(7, 0).unwrap();
        m
    })
    .agree(&[]);
    assert_eq!(r0(r), bpfvet_vm::maps::map_ptr(1));
    // Without maps, or naming a map the set does not have.
    let mut s = Setup::new(&["lddw %r0, map_idx(0)\nexit"], one_entry);
    s.maps = None;
    assert_eq!(
        s.agree(&[]).unwrap_err(),
        VmError::NeedsLoader { pc: 0, src: 5 }
    );
    let e = Setup::new(&["mov %r0, 0\nlddw %r0, map_fd(9)\nexit"], one_entry)
        .agree(&[])
        .unwrap_err();
    assert!(matches!(e, VmError::Map { pc: 1, .. }), "{e}");
    let e = Setup::new(&["lddw %r0, map_idx_value(0, 0)\nexit"], one_entry)
        .agree(&[])
        .unwrap_err();
    assert!(matches!(e, VmError::Map { pc: 0, .. }), "{e}");
}

#[test]
fn function_addresses_are_the_interpreters() {
    let text = "lddw %r0, func(f)\nexit\nf:\nmov %r0, 1\nexit";
    let r = Setup::new(&[text], one_entry).agree(&[]);
    assert_eq!(r0(r), FUNC_BASE + 8 * 2);
}
