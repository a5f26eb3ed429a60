//! Prints a raw BTF file in bpftool's raw format (for manual comparison).
fn main() {
    let path = std::env::args().nth(1).expect("usage: dump FILE");
    let bytes = std::fs::read(&path).expect("read");
    let t = std::time::Instant::now();
    let btf = bpfvet_btf::Btf::parse(&bytes).expect("parse");
    eprintln!("parsed {} types in {:?}", btf.type_count(), t.elapsed());
    print!("{}", btf.dump_raw());
}
