//! The BTF parser: any bytes (the first half as .BTF, the rest as .BTF.ext) give types or an
//! error; every query on what parses terminates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |&b| (b as usize * data.len()) / 256);
    let (a, b) = data.split_at(cut.min(data.len()));
    if let Ok(btf) = bpfvet_btf::Btf::parse(a) {
        let _ = btf.dump_raw();
        for (id, _) in btf.iter() {
            let _ = btf.resolve_size(id);
            let _ = btf.type_name(id);
        }
        let _ = bpfvet_btf::BtfExt::parse(b, &btf);
    }
});
