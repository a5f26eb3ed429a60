//! `bpfvet run --jit`, `bpfvet conformance --jit` and `bpfvet jit --dump` end to end: the JIT
//! prints what the interpreter prints (text and JSON, results and errors). Skips the JIT
//! checks on hosts without the JIT.

mod common;

use std::process::{Command, Output};

fn bpfvet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfvet"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("bpfvet-jit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn run_jit_prints_what_the_interpreter_prints() {
    if !bpfvet_jit::available() {
        eprintln!("skipping: no JIT on this host");
        return;
    }
    let src = tmp("sum.asm");
    std::fs::write(
        &src,
        "mov %r0, 0\nloop:\njeq %r2, 0, done\nldxb %r3, [%r1]\nadd %r0, %r3\nadd %r1, 1\nsub %r2, 1\nja loop\ndone:\nmov %r1, %r0\ncall 5\nexit\n",
    )
    .unwrap();
    let s = src.to_str().unwrap();
    let mem = "01 02 03 fa";
    let interp = bpfvet(&["run", "--dialect", "ubpf", s, "--mem", mem]);
    assert!(interp.status.success());
    assert_eq!(out(&interp), "0x100\n");
    for extra in [&["--jit"][..], &["--jit", "--unchecked"][..]] {
        let mut args = vec!["run", "--dialect", "ubpf", s, "--mem", mem];
        args.extend_from_slice(extra);
        let o = bpfvet(&args);
        assert!(
            o.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(out(&o), out(&interp), "{extra:?}");
        args.push("--json");
        assert_eq!(
            out(&bpfvet(&args)),
            "{\"retval\": 256, \"ns_per_run\": null}\n"
        );
        args.extend_from_slice(&["--repeat", "5"]);
        let o = out(&bpfvet(&args));
        assert!(o.starts_with("{\"retval\": 256, \"ns_per_run\": "), "{o}");
        args.pop();
        args.pop();
        args.pop();
        args.extend_from_slice(&["--repeat", "5"]);
        let o = out(&bpfvet(&args));
        let mut lines = o.lines();
        assert_eq!(lines.next(), Some("0x100"));
        let mean = lines.next().unwrap_or_default();
        assert!(
            mean.starts_with("mean ") && mean.ends_with(" ns/run"),
            "{o}"
        );
    }
}

#[test]
fn run_jit_reports_faults_as_the_interpreter_does() {
    if !bpfvet_jit::available() {
        return;
    }
    let src = tmp("oob.asm");
    std::fs::write(&src, "ldxdw %r0, [%r1+2]\nexit\n").unwrap();
    let s = src.to_str().unwrap();
    let interp = bpfvet(&["run", "--dialect", "ubpf", s, "--mem", "aa bb"]);
    let jit = bpfvet(&["run", "--dialect", "ubpf", s, "--mem", "aa bb", "--jit"]);
    assert_eq!(jit.status.code(), Some(1));
    assert_eq!(jit.status.code(), interp.status.code());
    let err = String::from_utf8_lossy(&jit.stderr);
    assert!(
        err.contains("insn 0: out-of-bounds read of 8 bytes at 0x200000002"),
        "{err}"
    );
    assert_eq!(err, String::from_utf8_lossy(&interp.stderr));
    // --unchecked needs --jit.
    assert!(
        !bpfvet(&["run", "--dialect", "ubpf", s, "--unchecked"])
            .status
            .success()
    );
}

#[test]
fn conformance_suite_passes_on_the_jit() {
    let Some(dir) = common::shared_conformance("tests") else {
        return;
    };
    if !bpfvet_jit::available() {
        return;
    }
    let o = bpfvet(&["conformance", "--jit", dir.to_str().unwrap()]);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert_eq!(text.lines().last(), Some("313 passed, 0 failed"), "{text}");
}

#[test]
fn jit_dump_shows_x86_under_each_bpf_instruction() {
    if !bpfvet_jit::available() {
        return;
    }
    let src = tmp("d.s");
    std::fs::write(&src, "r0 = 7\nr2 = 3\nr0 /= r2\nexit\n").unwrap();
    let s = src.to_str().unwrap();
    let o = bpfvet(&["jit", s, "--dump"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = out(&o);
    for want in [
        "; 0: r0 = 7",
        "; 2: r0 /= r2",
        "div",
        "; 3: exit",
        "ret",
        "(checked)",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
    // The division's code comes after its heading and before the next one.
    let (at, next) = (
        text.find("; 2: r0 /= r2").unwrap(),
        text.find("; 3: exit").unwrap(),
    );
    assert!(text[at..next].contains("div "), "{text}");
    let o = bpfvet(&["jit", s, "--unchecked"]);
    assert!(out(&o).contains("4 BPF instructions -> "), "{}", out(&o));
    assert!(out(&o).contains("(unchecked)"));
}
