//! Runs the BPF conformance suite (`shared/conformance/tests/*.data`) through the VM: each
//! file's program (assembled from `-- asm`, and decoded from `-- raw` when present) runs on
//! its `-- mem` with helper 5 = identity, and must return its `-- result` (or, for files with
//! `-- error`, be refused or fail). Skips with a message when the suite is not there.

use std::fs;
use std::path::{Path, PathBuf};

use bpfvet_isa::conformance::{Case, parse};
use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_vm::{Vm, conformance_helpers};

/// Builds and runs one program; `Err` if it is refused or fails at run time.
fn run_program(prog: Result<Program, String>, mem: &[u8]) -> Result<u64, String> {
    let prog = prog?;
    let mut vm = Vm::new(&prog).map_err(|e| e.to_string())?;
    conformance_helpers(&mut vm);
    let mut mem = mem.to_vec();
    vm.run(&mut mem).map_err(|e| e.to_string())
}

/// The programs of a case, each paired with a label: from asm and from raw bytes.
fn programs(case: &Case) -> Vec<(&'static str, Result<Program, String>)> {
    let mut out = Vec::new();
    if let Some(text) = &case.asm {
        let prog = asm::assemble(text, Dialect::Ubpf)
            .map_err(|e| format!("assemble: {e}"))
            .and_then(|insns| {
                // Round-trip through bytes, as a loader would.
                Program::decode(&Program::from_insns(insns).encode())
                    .map_err(|e| format!("decode: {e}"))
            });
        out.push(("asm", prog));
    }
    if let Some(bytes) = &case.raw {
        out.push((
            "raw",
            Program::decode(bytes).map_err(|e| format!("decode: {e}")),
        ));
    }
    out
}

/// Checks one file; `Err` describes the failure.
fn check_file(path: &Path) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case = parse(&text)?;
    let progs = programs(&case);
    if progs.is_empty() {
        return Err("no -- asm or -- raw section".into());
    }
    for (what, prog) in progs {
        let outcome = run_program(prog, &case.mem);
        if case.error.is_some() {
            if let Ok(v) = outcome {
                return Err(format!("{what}: expected an error, got {v:#x}"));
            }
        } else {
            let want = case.result.ok_or("no -- result section")?;
            match outcome {
                Ok(v) if v == want => {}
                Ok(v) => return Err(format!("{what}: expected {want:#x}, got {v:#x}")),
                Err(e) => return Err(format!("{what}: expected {want:#x}, got error: {e}")),
            }
        }
    }
    Ok(())
}

fn suite_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance")
        .join(sub)
}

#[test]
fn conformance_suite() {
    let dir = suite_dir("tests");
    let Ok(entries) = fs::read_dir(&dir) else {
        println!("SKIP: conformance suite not found at {}", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    let mut passed = 0;
    let mut failures = Vec::new();
    for f in &files {
        match check_file(f) {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{}: {e}", f.file_name().unwrap().to_string_lossy())),
        }
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    println!("conformance: {passed} passed, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} conformance failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, files.len());
    assert!(
        files.len() >= 313,
        "expected the full suite of 313 files, found {}",
        files.len()
    );
}

#[test]
fn negative_high_bits_result_is_not_produced() {
    let path = suite_dir("negative").join("incorrect_return_value_high_bits.data");
    let Ok(text) = fs::read_to_string(&path) else {
        println!("SKIP: {} not found", path.display());
        return;
    };
    let case = parse(&text).unwrap();
    let stated = case.result.unwrap();
    for (what, prog) in programs(&case) {
        let got = run_program(prog, &case.mem).unwrap();
        assert_ne!(
            got, stated,
            "{what}: the negative test's wrong result was produced"
        );
        assert_eq!(got, 0x8877665544332211);
    }
}
