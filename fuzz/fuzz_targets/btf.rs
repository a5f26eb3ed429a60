//! The BTF parser: any bytes give a `Btf` or an error, never a panic. What
//! follows the BTF's string section is parsed as `.BTF.ext`; every type is
//! formatted and sized, and every CO-RE relocation resolved and patched.
#![no_main]

use bpfvet_btf::core::{CoreResolver, patch_insn};
use bpfvet_btf::{Btf, BtfExt, CoreRelo};
use libfuzzer_sys::fuzz_target;

fn word(data: &[u8], at: usize) -> usize {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data) else { return };
    let _ = btf.dump_raw();
    for (id, _) in btf.types() {
        let _ = btf.format_type(id);
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
    }
    let end = word(data, 4)
        .saturating_add(word(data, 16))
        .saturating_add(word(data, 20))
        .min(data.len());
    let mut code = [
        0xb7u8, 1, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x21,
        0, 0, 0, 0, 0, 0,
    ];
    let mut resolver = CoreResolver::new(&btf, &btf);
    if let Ok(ext) = BtfExt::parse(&data[end..], &btf) {
        for sec in &ext.line_info {
            let _ = ext.line_at(&sec.name, 1);
        }
        for sec in &ext.core_relos {
            for relo in &sec.records {
                if let Ok(res) = resolver.resolve(&sec.name, relo) {
                    let _ = patch_insn(&mut code, (relo.insn_off / 8) as usize % 4, &res);
                }
            }
        }
    }
    for (id, _) in btf.types().take(16) {
        for kind_raw in 0..13 {
            let relo = CoreRelo {
                insn_off: 0,
                type_id: id,
                access: "0:0".into(),
                kind_raw,
            };
            if let Ok(res) = resolver.resolve("fuzz", &relo) {
                let _ = patch_insn(&mut code, 3, &res);
            }
        }
    }
});
