//! Runs the BPF conformance suite (`shared/conformance/tests/*.data`) through the VM: each
//! file's program (assembled from `-- asm`, and decoded from `-- raw` when present) runs on
//! its `-- mem` with helper 5 = identity, and must return its `-- result` (or, for files with
//! `-- error`, be refused or fail). Skips with a message when the suite is not there.

use std::fs;
use std::path::{Path, PathBuf};

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_vm::{Vm, conformance_helpers};

/// One parsed `.data` file.
#[derive(Default, Debug)]
struct Case {
    asm: Option<String>,
    raw: Option<Vec<u8>>,
    mem: Vec<u8>,
    result: Option<u64>,
    error: bool,
}

fn parse_hex_u64(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => body.parse::<u64>(),
    }
    .map_err(|e| format!("bad number {s:?}: {e}"))?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

fn parse_bytes(text: &str) -> Result<Vec<u8>, String> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).map_err(|e| format!("bad byte {b:?}: {e}")))
        .collect()
}

/// `-- raw`: lines of hex bytes, or lines holding one instruction as a little-endian u64.
fn parse_raw(lines: &[&str]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for line in lines {
        let t = line.trim();
        if t.starts_with("0x") || t.starts_with("0X") {
            out.extend(parse_hex_u64(t)?.to_le_bytes());
        } else {
            out.extend(parse_bytes(t)?);
        }
    }
    Ok(out)
}

fn parse_case(text: &str) -> Result<Case, String> {
    let mut case = Case::default();
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("-- ") {
            sections.push((name.trim().to_string(), Vec::new()));
            continue;
        }
        if t.starts_with('#') || t.is_empty() {
            continue;
        }
        if let Some((_, body)) = sections.last_mut() {
            body.push(line);
        }
    }
    for (name, body) in sections {
        match name.as_str() {
            "asm" => case.asm = Some(body.join("\n")),
            "raw" => case.raw = Some(parse_raw(&body)?),
            "mem" => case.mem = parse_bytes(&body.join(" "))?,
            "result" => {
                let v = body.first().ok_or("empty -- result section")?;
                case.result = Some(parse_hex_u64(v)?);
            }
            "error" => case.error = true,
            // `-- c` (the C source) and `-- no register offset` are informational.
            _ => {}
        }
    }
    Ok(case)
}

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
    let case = parse_case(&text)?;
    let progs = programs(&case);
    if progs.is_empty() {
        return Err("no -- asm or -- raw section".into());
    }
    for (what, prog) in progs {
        let outcome = run_program(prog, &case.mem);
        if case.error {
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
    let case = parse_case(&text).unwrap();
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

#[test]
fn parser_reads_raw_forms() {
    let c = parse_case(
        "# c\n-- raw\n0x5566778800000018\nb7 00 00 00 01 00 00 00\n-- mem\naa bb\n-- result\n0x2a\n",
    )
    .unwrap();
    let raw = c.raw.unwrap();
    assert_eq!(&raw[..8], &[0x18, 0, 0, 0, 0x88, 0x77, 0x66, 0x55]);
    assert_eq!(&raw[8..], &[0xb7, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(c.mem, vec![0xaa, 0xbb]);
    assert_eq!(c.result, Some(0x2a));
}
