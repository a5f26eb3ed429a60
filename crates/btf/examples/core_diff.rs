//! Resolves and applies every CO-RE relocation of a BPF object against a
//! target BTF (an ELF object's `.BTF`, or a raw BTF file such as
//! /sys/kernel/btf/vmlinux) and prints one line per patch in the shape of
//! libbpf's debug log (see tools/libbpf_relo.py for the other side of a
//! differential check).

#[path = "../tests/common/mod.rs"]
mod common;

use bpfvet_btf::Btf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: core_diff LOCAL.o TARGET");
        std::process::exit(2);
    }
    let path = std::path::Path::new(&args[2]);
    let raw = common::section(path, ".BTF")
        .or_else(|| std::fs::read(path).ok())
        .unwrap_or_else(|| panic!("cannot read {}", args[2]));
    let target = Btf::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", args[2]));
    for line in common::relocation_lines(std::path::Path::new(&args[1]), &target) {
        println!("{line}");
    }
}
