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

/// Odd values (unknown encodings and linkages, signed enums, a kind_flag
/// struct, void references) built here; the expected listing is what bpftool
/// v7.1 printed for the same bytes.
#[test]
fn edge_values_match_recorded_bpftool_listing() {
    let mut b = bpfvet_btf::BtfBuilder::new();
    let int = b.add_int_raw("int", 4, 3, 0, 32);
    let proto = b.add_func_proto(int, &[]);
    b.add_func("f", proto, 3);
    let v = b.add_var("v", int, 7);
    b.add_enum("e", 4, true, &[("A", -3), ("B", i32::MAX as i64)]);
    b.add_enum64("e", 8, true, &[("A", u64::MAX)]);
    b.add_int_raw("int", 4, 8, 2, 5);
    b.add_struct_bits("s", 4, &[("m", int, 5, 3)]);
    b.add_datasec("", 4, &[(v, 0, 4)]);
    b.add_typedef("B", bpfvet_btf::TypeId(0));
    b.add_ptr(bpfvet_btf::TypeId(0));
    let btf = Btf::parse(&b.build()).unwrap();
    let want = std::fs::read_to_string(data("edge.bpftool.txt")).unwrap();
    assert_same_lines(&btf.dump_raw(), &want, "edge");
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
