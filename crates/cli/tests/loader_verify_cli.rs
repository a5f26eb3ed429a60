//! `bpfvet inspect`, `disasm --source` and `verify` end to end: what the tables and the JSON
//! contracts say for the committed fixtures, and the exit codes.

mod common;

use std::process::{Command, Output};

fn bpfvet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfvet"))
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn inspect_lists_programs_maps_and_btf() {
    let o = bpfvet(&["inspect", "fixtures/globals.o"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = stdout(&o);
    assert!(
        t.contains("license: \"Dual BSD/GPL\" (GPL-compatible)"),
        "{t}"
    );
    assert!(t.contains("globals_prog  xdp      xdp   xdp"), "{t}");
    assert!(t.contains("add_bytes,loop_body,scale"), "{t}");
    for m in [
        "by_len",
        "globals.rodata",
        ".data.counters",
        "globals.kconfig",
    ] {
        assert!(t.contains(m), "{m}: {t}");
    }
    assert!(t.contains("BTF: 53 types"), "{t}");
    let j = stdout(&bpfvet(&["inspect", "fixtures/sections.o", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&j).unwrap();
    let progs = v["programs"].as_array().unwrap();
    assert_eq!(progs.len(), 25);
    let kp = progs.iter().find(|p| p["name"] == "kprobe_prog").unwrap();
    assert_eq!(kp["type"], "kprobe");
    assert_eq!(kp["attach_target"], "do_unlinkat");
    assert_eq!(kp["insns"], 2);
    // Bad input: exit 2 and one line.
    let bad = bpfvet(&["inspect", "README.md"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn disasm_source_interleaves_c_lines() {
    let t = stdout(&bpfvet(&["disasm", "--source", "fixtures/maps_calls.o"]));
    assert!(
        t.contains("; return len > limit ? 1 : 2;  [maps_calls.c:30]"),
        "{t}"
    );
    assert!(
        t.contains("; __u64 *v = bpf_map_lookup_elem(&counters, &key);"),
        "{t}"
    );
    // The comment lines do not stop the text from re-assembling.
    let dir = std::env::temp_dir().join(format!("bpfvet-src-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = dir.join("m.s");
    std::fs::write(&s, &t).unwrap();
    let o = bpfvet(&[
        "asm",
        s.to_str().unwrap(),
        "--format",
        "elf",
        "-o",
        dir.join("m.o").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn verify_json_contract_and_exit_codes() {
    let dir = std::env::temp_dir().join(format!("bpfvet-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.s");
    std::fs::write(&good, "r0 = 0\nexit\n").unwrap();
    let bad = dir.join("bad.s");
    std::fs::write(&bad, "r0 = 0\n*(u64 *)(r10 - 520) = r0\nexit\n").unwrap();
    let o = bpfvet(&["verify", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let o = bpfvet(&["verify", bad.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let p = &v["programs"][0];
    assert_eq!(p["verdict"], "reject");
    assert_eq!(p["type"], "socket_filter");
    assert_eq!(p["error"]["insn"], 1);
    assert_eq!(
        p["error"]["message"],
        "invalid write to stack R10 off=-520 size=8"
    );
    for k in [
        "processed_insns",
        "total_states",
        "peak_states",
        "max_states_per_insn",
        "time_us",
    ] {
        assert!(p["stats"][k].is_u64(), "{k}");
    }
    let o = bpfvet(&["verify", good.to_str().unwrap(), "--type", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    // Level 1 prints the kernel-format log.
    let o = bpfvet(&["verify", bad.to_str().unwrap(), "--log-level", "1"]);
    let t = stdout(&o);
    assert!(t.contains("0: R1=ctx() R10=fp0"), "{t}");
    assert!(t.contains("1: (7b) *(u64 *)(r10 -520) = r0"), "{t}");
    assert!(t.contains("processed 2 insns (limit 1000000)"), "{t}");
}

#[test]
fn verify_kernel_shows_both_verdicts() {
    if let Err(why) = bpfvet_kernel::available() {
        eprintln!("skipping: {why}");
        return;
    }
    let o = bpfvet(&["verify", "fixtures/maps_calls.o", "--kernel"]);
    let t = stdout(&o);
    assert!(t.contains("count_packets (xdp):  [agree]"), "{t}");
    assert!(t.contains("  bpfvet: accept\n  kernel: accept"), "{t}");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn verify_kernel_with_a_log_level_prints_the_kernels_log_after_ours() {
    if let Err(why) = bpfvet_kernel::available() {
        eprintln!("skipping: {why}");
        return;
    }
    let o = bpfvet(&[
        "verify",
        "fixtures/maps_calls.o",
        "--kernel",
        "--log-level",
        "2",
    ]);
    let t = stdout(&o);
    let (ours, rest) = t
        .split_once("--- the kernel's log (level 2) ---")
        .unwrap_or_else(|| panic!("no kernel log section: {t}"));
    let (kernel, _) = rest
        .split_once("--- end of the kernel's log ---")
        .unwrap_or_else(|| panic!("kernel log not closed: {t}"));
    // Both logs trace the instructions at level 2 and close with the statistics line.
    for log in [ours, kernel] {
        assert!(log.contains("0: (") && log.contains("processed "), "{log}");
    }
    // The kernel's own log carries its timing line, which bpfvet's does not print.
    assert!(kernel.contains("verification time"), "{kernel}");
    assert_eq!(o.status.code(), Some(0));
}
