//! Prints a raw BTF file in bpftool's raw format, with parse and index
//! timings on stderr (for manual comparison and performance checks).
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump FILE");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let t = std::time::Instant::now();
    let btf = match bpfvet_btf::Btf::parse(&bytes) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("parsed {} types in {:?}", btf.type_count(), t.elapsed());
    let t = std::time::Instant::now();
    let found = btf.find(bpfvet_btf::Kind::Struct, "task_struct");
    eprintln!("name index + lookup: {:?} ({found:?})", t.elapsed());
    print!("{}", btf.dump_raw());
}
