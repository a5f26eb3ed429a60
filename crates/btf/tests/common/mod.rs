//! Helpers shared by the integration tests: fixture paths, ELF section bytes,
//! and detection of optional host tools (bpftool, the kernel's vmlinux BTF).
#![allow(dead_code)]

use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn repo_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// Bytes of section `name` of the ELF file at `path`.
pub fn section(path: &Path, name: &str) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    let file = object::File::parse(&*bytes).ok()?;
    let data = file.section_by_name(name)?.data().ok()?.to_vec();
    Some(data)
}

/// The vmlinux BTF bytes, or `None` (with a message) when absent.
pub fn vmlinux() -> Option<Vec<u8>> {
    match std::fs::read(VMLINUX) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("skipping: cannot read {VMLINUX}: {e}");
            None
        }
    }
}

/// `bpftool` if it runs.
pub fn bpftool() -> Option<&'static str> {
    let ok = Command::new("bpftool")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Some("bpftool")
    } else {
        eprintln!("skipping: bpftool is not available");
        None
    }
}

/// Compares two listings line by line, reporting the first difference.
pub fn assert_same_lines(ours: &str, theirs: &str, what: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "{what}: line {} differs", i + 1);
    }
    assert_eq!(a.len(), b.len(), "{what}: line counts differ");
}

/// Resolves and applies every CO-RE relocation of the object at `local`
/// against `target`, one line per patch in the shape of libbpf's debug log:
/// `PROG INSN: imm V | off V | mem_sz V | poison`, ending in `PROG ERROR` at
/// the first failure (libbpf stops there too). Instruction numbers count from
/// the start of the function symbol holding the instruction.
pub fn relocation_lines(local: &Path, target: &bpfvet_btf::Btf) -> Vec<String> {
    use bpfvet_btf::core::{CoreResolver, PatchOutcome, patch_insn};
    use bpfvet_btf::{Btf, BtfExt};
    use object::{ObjectSymbol, SymbolKind};

    let bytes = std::fs::read(local).expect("read object");
    let file = object::File::parse(&*bytes).expect("ELF");
    let sec = |n: &str| file.section_by_name(n).and_then(|s| s.data().ok());
    let btf = Btf::parse(sec(".BTF").expect(".BTF")).expect("local BTF");
    let ext = BtfExt::parse(sec(".BTF.ext").expect(".BTF.ext"), &btf).expect("BTF.ext");
    let mut resolver = CoreResolver::new(&btf, target);
    let mut out = Vec::new();
    for s in &ext.core_relos {
        let section = file.section_by_name(&s.name).expect("code section");
        let mut code = section.data().expect("code").to_vec();
        let funcs: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|y| y.kind() == SymbolKind::Text && y.section_index() == Some(section.index()))
            .map(|y| (y.address(), y.size(), y.name().unwrap_or("?").to_string()))
            .collect();
        for relo in &s.records {
            let off = relo.insn_off as u64;
            let (prog, idx) = funcs
                .iter()
                .find(|(a, sz, _)| off >= *a && off < a + sz)
                .map(|(a, _, n)| (n.clone(), (off - a) / 8))
                .unwrap_or(("?".into(), off / 8));
            let was_ldimm = code.get(off as usize) == Some(&0x18);
            let patched = resolver
                .resolve(&s.name, relo)
                .and_then(|res| patch_insn(&mut code, (off / 8) as usize, &res).map(|o| (res, o)));
            match patched {
                Ok((_, PatchOutcome::Poisoned(_))) => {
                    out.push(format!("{prog} {idx}: poison"));
                    if was_ldimm {
                        out.push(format!("{prog} {}: poison", idx + 1));
                    }
                }
                Ok((res, PatchOutcome::Patched(what))) => {
                    let kind = if what.contains("LDX") { "off" } else { "imm" };
                    out.push(format!("{prog} {idx}: {kind} {}", res.new_val));
                    if kind == "off" && res.new_sz != res.orig_sz {
                        out.push(format!("{prog} {idx}: mem_sz {}", res.new_sz));
                    }
                }
                Err(e) => {
                    out.push(format!("{prog} ERROR"));
                    eprintln!("{e}");
                    return out;
                }
            }
        }
    }
    out
}
