//! CO-RE against the running kernel's BTF: the core.o fixture's 25
//! relocations resolved by us, checked against facts read from vmlinux and,
//! when bpftool and bpf() work, against libbpf's own relocation log.

mod common;

use bpfvet_btf::core::{CoreResolver, POISON_CODE, POISON_IMM, PatchOutcome};
use bpfvet_btf::{Btf, BtfBuilder, BtfExt, CoreReloKind, Kind};
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

const SEC: &str = "tp_btf/sched_switch";

struct Fixture {
    local: Btf,
    ext: BtfExt,
    code: Vec<u8>,
}

fn fixture() -> Fixture {
    let p = data("core.o");
    let local = Btf::parse(&section(&p, ".BTF").unwrap()).unwrap();
    let ext = BtfExt::parse(&section(&p, ".BTF.ext").unwrap(), &local).unwrap();
    let code = section(&p, SEC).unwrap();
    Fixture { local, ext, code }
}

fn imm(code: &[u8], i: usize) -> i32 {
    i32::from_le_bytes(code[i * 8 + 4..i * 8 + 8].try_into().unwrap())
}

fn off(code: &[u8], i: usize) -> i16 {
    i16::from_le_bytes(code[i * 8 + 2..i * 8 + 4].try_into().unwrap())
}

#[test]
fn fixture_relocations_against_vmlinux() {
    let Some(bytes) = vmlinux() else { return };
    let target = Btf::parse(&bytes).unwrap();
    let mut f = fixture();
    let relos = f.ext.relos(SEC).to_vec();
    assert_eq!(relos.len(), 25);
    let mut r = CoreResolver::new(&f.local, &target);
    let out = r.relocate_section(SEC, &relos, &mut f.code).unwrap();
    let task = target.find(Kind::Struct, "task_struct").unwrap();
    let field = |n: &str| target.member_by_name(task, n).unwrap();
    let at = |k: CoreReloKind, acc: &str| {
        out.iter()
            .position(|(res, _)| res.site.kind == k.name() && res.site.access == acc)
            .unwrap_or_else(|| panic!("no {k} {acc}"))
    };
    // pid: LDX offset becomes vmlinux's own task_struct.pid byte offset.
    let i = at(CoreReloKind::FieldByteOffset, "0:4");
    assert_eq!(out[i].0.new_val, (field("pid").1 / 8) as u64);
    assert_eq!(off(&f.code, 1) as u32, field("pid").1 / 8);
    // flags: u64 locally, u32 in the kernel: offset and load size change.
    assert_eq!(off(&f.code, 4) as u32, field("flags").1 / 8);
    assert_eq!(f.code[4 * 8], 0x61, "ldxdw became ldxw");
    // comm[3].
    assert_eq!(off(&f.code, 6) as u32, field("comm").1 / 8 + 3);
    // Missing field: exists gives 0, the guarded load is poisoned.
    assert_eq!(imm(&f.code, 15), 0);
    assert!(matches!(
        out[at(CoreReloKind::FieldByteOffset, "0:7")].1,
        PatchOutcome::Poisoned(_)
    ));
    assert_eq!(f.code[52 * 8], POISON_CODE);
    assert_eq!(imm(&f.code, 52), POISON_IMM);
    // Bitfield shifts for a 1-bit field in a 4-byte unit.
    let (bf, bf_off) = field("sched_reset_on_fork");
    assert_eq!(bf.bitfield_size, 1);
    assert_eq!(imm(&f.code, 18) as u32, bf_off / 8 / 4 * 4);
    assert_eq!(
        imm(&f.code, 24) as u32,
        64 - (bf_off + 1 - bf_off / 32 * 32)
    );
    assert_eq!(imm(&f.code, 26), 63);
    // Types.
    assert_eq!(imm(&f.code, 31) as u32, task.0);
    assert_eq!(imm(&f.code, 36) as u32, target.resolve_size(task).unwrap());
    assert_eq!(imm(&f.code, 38), 1, "list_head___my matches list_head");
    assert_eq!(
        imm(&f.code, 40),
        0,
        "task_struct___my has a field the kernel lacks"
    );
    // Enumerators: PIDTYPE_TGID's value comes from vmlinux; the made-up one is absent.
    let pid_type = target.find(Kind::Enum, "pid_type").unwrap();
    let tgid = target
        .enum_values(pid_type)
        .unwrap()
        .iter()
        .find(|v| target.name_at(v.name_off) == "PIDTYPE_TGID")
        .unwrap()
        .val;
    assert_eq!(imm(&f.code, 45) as u64, tgid);
    assert_eq!(imm(&f.code, 48), 0);
    assert_eq!((f.code[56 * 8], f.code[57 * 8]), (POISON_CODE, POISON_CODE));
}

/// The hand-written local type from the task description, built with BtfBuilder.
#[test]
fn builder_task_struct_flavor_against_vmlinux() {
    let Some(bytes) = vmlinux() else { return };
    let target = Btf::parse(&bytes).unwrap();
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let ts = b.add_struct(
        "task_struct___my",
        12,
        &[
            ("pid", int, 0),
            ("tgid", int, 32),
            ("no_such_thing", int, 64),
        ],
    );
    let local = Btf::parse(&b.build()).unwrap();
    let task = target.find(Kind::Struct, "task_struct").unwrap();
    let mut r = CoreResolver::new(&local, &target);
    let relo = |access: &str, kind: CoreReloKind| bpfvet_btf::CoreRelo {
        insn_off: 0,
        type_id: ts,
        access: access.into(),
        kind_raw: kind as u32,
    };
    for (acc, name) in [("0:0", "pid"), ("0:1", "tgid")] {
        let res = r
            .resolve(".text", &relo(acc, CoreReloKind::FieldByteOffset))
            .unwrap();
        assert_eq!(
            res.new_val,
            (target.member_by_name(task, name).unwrap().1 / 8) as u64
        );
        assert_eq!((res.orig_sz, res.new_sz), (4, 4));
    }
    let res = r
        .resolve(".text", &relo("0:2", CoreReloKind::FieldExists))
        .unwrap();
    assert_eq!((res.orig_val, res.new_val, res.poison), (1, 0, false));
    let res = r
        .resolve(".text", &relo("0:2", CoreReloKind::FieldByteOffset))
        .unwrap();
    assert!(res.poison);
}

/// Runs libbpf (through `bpftool -d prog load`) on core.o and collects the
/// final value it wrote per instruction: `insn -> "imm N" | "off N" | "poison"`.
fn libbpf_log() -> Option<String> {
    let tool = bpftool()?;
    let pin = format!("/sys/fs/bpf/bpfvet_btf_test_{}", std::process::id());
    let out = Command::new(tool)
        .args(["-d", "prog", "load", data("core.o").to_str().unwrap(), &pin])
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&pin);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    if !log.contains("relo #0:") {
        eprintln!("skipping: libbpf did not relocate (no bpf() access?)");
        return None;
    }
    Some(log)
}

fn final_values_from_libbpf(log: &str) -> BTreeMap<u32, String> {
    let mut m = BTreeMap::new();
    for line in log.lines() {
        let Some(rest) = line
            .split("patched insn #")
            .nth(1)
            .or(line.split("substituting insn #").nth(1))
        else {
            continue;
        };
        let insn: u32 = rest.split(' ').next().unwrap().parse().unwrap();
        let v = if line.contains("substituting") {
            "poison".to_string()
        } else if line.contains("mem_sz") {
            format!("size {}", line.rsplit(' ').next().unwrap())
        } else {
            let what = if line.contains("(LDX/ST/STX)") {
                "off"
            } else {
                "imm"
            };
            format!("{what} {}", line.rsplit(' ').next().unwrap())
        };
        m.entry(insn).or_insert_with(Vec::new).push(v);
    }
    m.into_iter().map(|(k, v)| (k, v.join(", "))).collect()
}

#[test]
fn fixture_relocations_match_libbpf() {
    let Some(bytes) = vmlinux() else { return };
    let Some(log) = libbpf_log() else { return };
    let want = final_values_from_libbpf(&log);
    let target = Btf::parse(&bytes).unwrap();
    let mut f = fixture();
    let relos = f.ext.relos(SEC).to_vec();
    let orig = f.code.clone();
    let mut r = CoreResolver::new(&f.local, &target);
    let out = r.relocate_section(SEC, &relos, &mut f.code).unwrap();
    let mut ours: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (res, outcome) in &out {
        let i = res.site.insn_idx;
        let e = ours.entry(i).or_default();
        match outcome {
            PatchOutcome::Poisoned(_) => {
                e.push("poison".into());
                if orig[i as usize * 8] == 0x18 {
                    ours.entry(i + 1).or_default().push("poison".into());
                }
            }
            PatchOutcome::Patched(_) => {
                let what = if matches!(f.code[i as usize * 8] & 7, 1..=3) {
                    "off"
                } else {
                    "imm"
                };
                e.push(format!("{what} {}", res.new_val));
                if res.new_sz != res.orig_sz {
                    e.push(format!("size {}", res.new_sz));
                }
            }
        }
    }
    let ours: BTreeMap<u32, String> = ours.into_iter().map(|(k, v)| (k, v.join(", "))).collect();
    assert!(want.len() >= 20, "libbpf log parsed to {want:?}");
    assert_eq!(ours, want);
}
