//! CO-RE against recorded libbpf results: our relocation of corex_local.o
//! against three target objects must produce exactly the patches (and the
//! error) libbpf 1.1 logged for the same pair (tests/data/corex.sh).

mod common;

use bpfvet_btf::Btf;
use common::*;

fn check(target: &str) {
    let t = Btf::parse(&section(&data(&format!("{target}.o")), ".BTF").unwrap()).unwrap();
    let mut ours = relocation_lines(&data("corex_local.o"), &t);
    ours.sort();
    let want = std::fs::read_to_string(data(&format!("{target}.libbpf.txt"))).unwrap();
    let want: Vec<String> = want.lines().map(str::to_owned).collect();
    assert!(!want.is_empty());
    assert_eq!(ours, want, "{target}");
}

#[test]
fn reshuffled_target_matches_libbpf() {
    check("corex_target_a");
}

#[test]
fn ambiguous_target_fails_like_libbpf() {
    check("corex_target_b");
}

#[test]
fn sparse_target_poisons_like_libbpf() {
    check("corex_target_c");
}
