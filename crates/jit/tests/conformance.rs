//! The BPF conformance suite (`shared/conformance/tests/*.data`) under the checked JIT: every
//! program must give the file's result, and exactly what the interpreter gives (R0, the
//! number of executed instructions, the input memory afterwards, or the same error). Skips
//! with a message when the suite is not there or the host has no JIT.

use std::fs;
use std::path::{Path, PathBuf};

use bpfvet_isa::conformance::parse;
use bpfvet_jit::{JitProgram, available};
use bpfvet_vm::{
    INPUT_BASE, MemRegion, RegionKind, RunOptions, RunResult, Vm, VmError, conformance_helpers,
};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/tests")
}

type Outcome = (Result<RunResult, VmError>, Vec<u8>);

fn regs(len: usize) -> [u64; 10] {
    let mut r = [0u64; 10];
    r[1] = INPUT_BASE;
    r[2] = len as u64;
    r
}

fn interp(prog: &bpfvet_isa::Program, mem: &[u8]) -> Outcome {
    let mut vm = Vm::new(prog).unwrap();
    conformance_helpers(&mut vm);
    let mut m = mem.to_vec();
    let region = MemRegion::new(RegionKind::Input, INPUT_BASE, &mut m);
    let r = vm.run_with_regions(vec![region], regs(mem.len()), &RunOptions::default());
    (r, m)
}

fn jit(prog: &bpfvet_isa::Program, mem: &[u8]) -> Outcome {
    let mut j = JitProgram::new(prog).unwrap();
    j.register_helper(5, |a: [u64; 5]| Ok(a[0]));
    let mut m = mem.to_vec();
    let region = MemRegion::new(RegionKind::Input, INPUT_BASE, &mut m);
    let r = j.run_with_regions(vec![region], regs(mem.len()), &RunOptions::default());
    (r, m)
}

#[test]
fn conformance_suite_under_the_jit() {
    if !available() {
        println!("SKIP: no JIT on this host");
        return;
    }
    let dir = suite_dir();
    let Ok(entries) = fs::read_dir(&dir) else {
        println!("SKIP: conformance suite not found at {}", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let case = parse(&fs::read_to_string(f).unwrap()).unwrap();
        let Ok(prog) = case.program() else {
            continue;
        };
        let want = interp(&prog, &case.mem);
        let got = jit(&prog, &case.mem);
        if got != want {
            failures.push(format!(
                "{name}: jit {:?} vs interpreter {:?}",
                got.0, want.0
            ));
            continue;
        }
        match (case.result, &got.0) {
            (Some(r), Ok(res)) if res.r0 == r => {}
            (None, Err(_)) if case.error.is_some() => {}
            _ => failures.push(format!(
                "{name}: expected {:?}, got {:?}",
                case.result, got.0
            )),
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    println!(
        "jit conformance: {} passed, {} failed",
        files.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files.len() >= 313, "found only {} files", files.len());
}
