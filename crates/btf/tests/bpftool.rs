//! Our raw listing of BTF is line-for-line what `bpftool btf dump file X` prints, for the
//! running kernel's BTF (~150k types, every kind) and for the fixtures' BTF. Skips with a
//! message when bpftool or the files are absent.

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfvet_btf::{Btf, BtfExt};
use object::{Object, ObjectSection};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn bpftool_dump(file: &Path) -> Option<String> {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(file)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `.BTF` and `.BTF.ext` sections of an object.
pub fn sections(obj: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    let data = std::fs::read(obj).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let get = |n: &str| file.section_by_name(n).map(|s| s.data().unwrap().to_vec());
    (get(".BTF").expect(".BTF"), get(".BTF.ext"))
}

fn compare(ours: &str, theirs: &str, what: &str) {
    let a: Vec<&str> = ours.lines().collect();
    let b: Vec<&str> = theirs.lines().collect();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "{what}: line {} differs", i + 1);
    }
    assert_eq!(a.len(), b.len(), "{what}: line counts differ");
}

#[test]
fn kernel_btf_matches_bpftool() {
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    if !vmlinux.exists() {
        eprintln!("skipping: /sys/kernel/btf/vmlinux is absent");
        return;
    }
    let Some(theirs) = bpftool_dump(vmlinux) else {
        eprintln!("skipping: bpftool is not installed");
        return;
    };
    let btf = Btf::parse(&std::fs::read(vmlinux).unwrap()).unwrap();
    assert!(btf.len() > 10_000, "{} types", btf.len());
    compare(&btf.dump_raw(), &theirs, "vmlinux");
    // A few facts every kernel has.
    let task = btf.find_struct("task_struct").unwrap();
    assert!(btf.resolve_size(task).unwrap() > 1000);
    let iphdr = btf.find_struct("iphdr").unwrap();
    assert_eq!(btf.resolve_size(iphdr).unwrap(), 20);
    let m = btf.members(iphdr).unwrap();
    let saddr = m
        .iter()
        .find(|m| m.name == "saddr" || m.name.is_empty())
        .unwrap();
    let _ = saddr;
}

#[test]
fn fixture_btf_matches_bpftool() {
    let mut n = 0;
    for e in std::fs::read_dir(fixtures()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "o") {
            continue;
        }
        let data = std::fs::read(&p).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let Some(sec) = file.section_by_name(".BTF") else {
            continue;
        };
        let btf =
            Btf::parse(sec.data().unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if let Some(ext) = file.section_by_name(".BTF.ext") {
            BtfExt::parse(ext.data().unwrap(), &btf)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
        n += 1;
        if let Some(theirs) = bpftool_dump(&p) {
            compare(&btf.dump_raw(), &theirs, &p.display().to_string());
        } else {
            eprintln!(
                "note: bpftool absent; {} parsed without comparison",
                p.display()
            );
        }
    }
    assert!(n >= 8, "only {n} fixtures with BTF");
}

#[test]
fn line_info_points_at_source() {
    let (btf, ext) = sections(&fixtures().join("globals.o"));
    let btf = Btf::parse(&btf).unwrap();
    let ext = BtfExt::parse(&ext.unwrap(), &btf).unwrap();
    let lines = &ext.line_info["xdp"];
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l.file.ends_with("globals.c")));
    let first = ext.line_at("xdp", 0).unwrap();
    assert!(
        first.line > 0 && first.text.contains("hidden_counter"),
        "{first:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.text.contains("bpf_loop(4, loop_body"))
    );
    // Lookup between records gives the preceding record.
    let second = lines[1].insn_off as usize / 8;
    assert_eq!(ext.line_at("xdp", second), Some(&lines[1]));
    if second > 1 {
        assert_eq!(ext.line_at("xdp", second - 1), Some(&lines[0]));
    }
    // func_info names the program's FUNC.
    let f = &ext.func_info["xdp"][0];
    assert_eq!(btf.name(f.type_id), "globals_prog");
    assert_eq!(btf.type_name(btf.find("scale", |_| true).unwrap()), "scale");
}
