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
