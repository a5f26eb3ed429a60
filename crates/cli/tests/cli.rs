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
