//! Our raw listing against bpftool's `btf dump file X` (format raw), on the
//! committed fixtures, on the repository's objects and on the running
//! kernel's vmlinux BTF.

mod common;

use bpfvet_btf::Btf;
use common::*;
use std::process::Command;

fn btf_of(path: &std::path::Path) -> Btf {
    let bytes = section(path, ".BTF").expect(".BTF section");
    Btf::parse(&bytes).expect("parse .BTF")
}

#[test]
fn kinds_fixture_matches_recorded_bpftool_listing() {
    let btf = btf_of(&data("kinds.o"));
    let want = std::fs::read_to_string(data("kinds.bpftool.txt")).unwrap();
    assert_same_lines(&btf.dump_raw(), &want, "kinds.o");
    // Every kind appears in the fixture.
    for k in bpfvet_btf::KIND_TABLE.iter().skip(1) {
        assert!(
            btf.types().any(|(_, t)| t.kind() == k.0),
            "fixture lacks {}",
            k.1
        );
    }
}

fn live(path: &str) -> Option<String> {
    let tool = bpftool()?;
    let out = Command::new(tool)
        .args(["btf", "dump", "file", path, "format", "raw"])
        .output()
        .ok()?;
    assert!(out.status.success(), "bpftool failed on {path}");
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn objects_match_live_bpftool() {
    for p in [
        data("kinds.o"),
        data("core.o"),
        repo_fixture("maps_calls.o"),
    ] {
        let Some(want) = live(p.to_str().unwrap()) else {
            return;
        };
        assert_same_lines(&btf_of(&p).dump_raw(), &want, &p.display().to_string());
    }
}

#[test]
fn vmlinux_matches_live_bpftool() {
    let Some(bytes) = vmlinux() else { return };
    let Some(want) = live(VMLINUX) else { return };
    let btf = Btf::parse(&bytes).expect("parse vmlinux");
    assert!(btf.type_count() > 1000);
    assert_same_lines(&btf.dump_raw(), &want, "vmlinux");
}
