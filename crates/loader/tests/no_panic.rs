//! Malformed ELF never panics: random bytes, and the committed fixtures with random bytes
//! overwritten or truncated, give an object or an error.

use bpfvet_loader::{BpfObject, ElfObject, LoadOptions};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn fixtures_parse() {
    for f in ["all_insns.o", "maps_calls.o"] {
        let o = ElfObject::parse(&fixture(f)).unwrap();
        assert!(!o.code.is_empty());
    }
    let o = ElfObject::parse(&fixture("maps_calls.o")).unwrap();
    let xdp = o.code.iter().find(|c| c.name == "xdp").unwrap();
    assert!(
        xdp.symbols
            .iter()
            .any(|s| s.name == "count_packets" && s.is_function)
    );
    assert!(
        xdp.relocs
            .iter()
            .any(|r| r.symbol == "counters" && r.r_type == 1)
    );
    assert!(
        xdp.relocs
            .iter()
            .any(|r| r.symbol == "classify" && r.r_type == 10)
    );
}

#[test]
fn wrong_machine_is_refused() {
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let e = ElfObject::parse(&exe).unwrap_err();
    assert!(e.msg.contains("not a BPF object"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_load(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut b = b"\x7fELF\x02\x01\x01\x00".to_vec();
        b.extend_from_slice(&bytes);
        let _ = BpfObject::load(&b, &LoadOptions::default());
    }

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = ElfObject::parse(&bytes);
        let mut b = b"\x7fELF\x02\x01\x01\x00".to_vec();
        b.extend_from_slice(&bytes);
        let _ = ElfObject::parse(&b);
    }

    #[test]
    fn mutated_fixture(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
                       cut in any::<prop::sample::Index>()) {
        let mut b = fixture("maps_calls.o");
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        let _ = ElfObject::parse(&b);
        let n = cut.index(b.len());
        let _ = ElfObject::parse(&b[..n]);
    }

    /// The whole load (programs, linking, maps, relocations) on every fixture with random
    /// bytes overwritten: an object or an error.
    #[test]
    fn mutated_fixture_loads(which in 0usize..6,
                             edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24)) {
        let name = ["maps_calls.o", "sections.o", "globals.o", "btf_maps.o", "legacy_maps.o", "core.o"][which];
        let mut b = fixture(name);
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        let _ = BpfObject::load(&b, &LoadOptions::default());
    }
}
