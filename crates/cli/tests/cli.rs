//! The `bpfvet` binary: exit codes, one-line errors, and the asm/disasm commands end to end.

mod common;

use std::process::{Command, Output};

fn bpfvet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfvet"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("bpfvet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn version_and_help_with_examples() {
    let o = bpfvet(&["--version"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("bpfvet "));
    for sub in ["asm", "disasm"] {
        let o = bpfvet(&[sub, "--help"]);
        assert!(o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Example:"),
            "{sub}"
        );
    }
}

#[test]
fn asm_then_disasm_raw_and_elf() {
    let src = tmp("p.s");
    std::fs::write(
        &src,
        "\tr0 = 42\n\tif r0 > 3 goto out\n\tr0 = 1\nout:\n\texit\n",
    )
    .unwrap();
    let raw = tmp("p.bin");
    let o = bpfvet(&["asm", src.to_str().unwrap(), "-o", raw.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&raw).unwrap();
    assert_eq!(bytes.len(), 32);
    assert_eq!(&bytes[..8], &[0xb7, 0, 0, 0, 42, 0, 0, 0]);
    let o = bpfvet(&["disasm", raw.to_str().unwrap(), "--dialect", "ubpf"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("mov %r0, 42") && text.contains("jgt %r0, 3, +1"),
        "{text}"
    );

    let elf = tmp("p.o");
    let o = bpfvet(&[
        "asm",
        src.to_str().unwrap(),
        "--format",
        "elf",
        "-o",
        elf.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let e = bpfvet_loader::ElfObject::parse(&std::fs::read(&elf).unwrap()).unwrap();
    assert_eq!(e.code[0].data, bytes);
    let o = bpfvet(&["disasm", elf.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("r0 = 42"));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "bad.s",
            b"r0 = 1\nr11 = 2\n".to_vec(),
            "line 2:1: invalid register r11",
        ),
        (
            "trunc.bin",
            vec![0xb7, 0, 0, 0, 1, 0, 0],
            "not a multiple of 8",
        ),
        (
            "op.bin",
            vec![0xff, 0, 0, 0, 0, 0, 0, 0],
            "insn 0: unknown opcode 0xff",
        ),
        (
            "ld.bin",
            vec![0x18, 0, 0, 0, 1, 0, 0, 0],
            "LD_IMM64 is truncated",
        ),
        (
            "jmp.bin",
            vec![0x05, 0, 5, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
            "jump out of range",
        ),
        (
            "elf.o",
            b"\x7fELF\x02\x01\x01garbage".to_vec(),
            "malformed ELF",
        ),
    ];
    for (name, content, want) in cases {
        let p = tmp(name);
        std::fs::write(&p, content).unwrap();
        let sub = if name.ends_with(".s") {
            "asm"
        } else {
            "disasm"
        };
        let o = bpfvet(&[sub, p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(want) && err.contains(name), "{name}: {err}");
    }
    let o = bpfvet(&["disasm", "/nonexistent/x.o"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn elf_fixture_disassembles_with_symbols() {
    let f = common::fixtures().join("maps_calls.o");
    let o = bpfvet(&["disasm", f.to_str().unwrap()]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for want in [
        ".section\txdp",
        "count_packets:",
        "call classify",
        "r1 = counters ll",
        "call 1 # bpf_map_lookup_elem",
    ] {
        assert!(text.contains(want), "missing {want}:\n{text}");
    }
}

#[test]
fn run_prints_r0_and_json() {
    let src = tmp("r.asm");
    std::fs::write(&src, "ldxdw %r0, [%r1+2]\nexit\n").unwrap();
    let s = src.to_str().unwrap();
    let mem = "aa bb 11 22 33 44 55 66 77 88 cc dd";
    let o = bpfvet(&["run", "--dialect", "ubpf", s, "--mem", mem]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "0x8877665544332211\n");
    let o = bpfvet(&[
        "run",
        "--dialect",
        "ubpf",
        s,
        "--mem",
        mem,
        "--json",
        "--repeat",
        "3",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("{\"retval\": 9833440827789222417, \"ns_per_run\": "),
        "{out}"
    );
    let o = bpfvet(&["run", "--dialect", "ubpf", s, "--mem", mem, "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "{\"retval\": 9833440827789222417, \"ns_per_run\": null}\n"
    );
    let o = bpfvet(&[
        "run",
        "--dialect",
        "ubpf",
        s,
        "--mem",
        "aa bb",
        "--repeat",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("insn 0: out-of-bounds read of 8 bytes"),
        "{err}"
    );
}

#[test]
fn conformance_suite_passes_on_the_interpreter() {
    let Some(dir) = common::shared_conformance("tests") else {
        return;
    };
    let o = bpfvet(&["conformance", dir.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert_eq!(out.lines().last(), Some("313 passed, 0 failed"), "{out}");
    // The negative case that states a wrong result must not produce it.
    let neg = common::shared_conformance("negative").unwrap();
    let o = bpfvet(&[
        "conformance",
        neg.join("incorrect_return_value_high_bits.data")
            .to_str()
            .unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("expected 0x8977665544332211, got 0x8877665544332211"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1));
}
