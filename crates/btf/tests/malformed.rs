//! Bad BTF gives an error naming the problem, never a panic or a hang: truncation, bad
//! offsets, unknown kinds, out-of-range type ids, cycles, huge vlen, random mutations.

use bpfvet_btf::{Btf, BtfExt};
use proptest::prelude::*;

/// Builds BTF bytes from raw type records (u32 words) and a string section.
fn btf(types: &[u32], strings: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xeb9fu16.to_le_bytes());
    v.push(1);
    v.push(0);
    let tlen = (types.len() * 4) as u32;
    for w in [24u32, 0, tlen, tlen, strings.len() as u32] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    for w in types {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(strings);
    v
}

const INT: u32 = 1 << 24;
const TYPEDEF: u32 = 8 << 24;
const PTR: u32 = 2 << 24;
const STRUCT: u32 = 4 << 24;

fn err(b: &[u8]) -> String {
    Btf::parse(b).unwrap_err().msg
}

#[test]
fn errors_say_what_and_where() {
    let strings = b"\0int\0a\0";
    // [1] int
    let ok = btf(&[1, INT, 4, 32], strings);
    let b = Btf::parse(&ok).unwrap();
    assert_eq!(b.type_name(bpfvet_btf::TypeId(1)), "int");
    assert!(err(&ok[..10]).contains("shorter than its 24-byte header"));
    assert!(err(&ok[..30]).contains("runs past the end"));
    // Unknown kind 25.
    assert!(err(&btf(&[1, 25 << 24, 4], strings)).contains("unknown kind 25"));
    // A pointer to type 9 when there is one type.
    assert!(err(&btf(&[0, PTR, 9], strings)).contains("refers to type id 9"));
    // Name offset outside the strings.
    assert!(err(&btf(&[100, INT, 4, 32], strings)).contains("string offset 100"));
    // A struct claiming 1000 members.
    assert!(err(&btf(&[5, STRUCT | 1000, 8], strings)).contains("vlen 1000"));
    // Cycles: typedef a -> typedef b -> a; size resolution errors instead of looping.
    let cyc = Btf::parse(&btf(&[5, TYPEDEF, 2, 5, TYPEDEF, 1], strings)).unwrap();
    assert!(
        cyc.resolve_size(bpfvet_btf::TypeId(1))
            .unwrap_err()
            .msg
            .contains("cycle")
    );
    assert!(cyc.skip_mods_and_typedefs(bpfvet_btf::TypeId(1)).is_err());
    let _ = cyc.type_name(bpfvet_btf::TypeId(1));
    let _ = cyc.dump_raw();
    // Bad magic.
    let mut bad = ok.clone();
    bad[0] = 0;
    assert!(err(&bad).contains("magic"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_words_never_panic(words in prop::collection::vec(any::<u32>(), 0..64), s in prop::collection::vec(any::<u8>(), 0..32)) {
        let mut strings = vec![0u8];
        strings.extend(s);
        strings.push(0);
        let b = btf(&words, &strings);
        if let Ok(btf) = Btf::parse(&b) {
            let _ = btf.dump_raw();
            for (id, _) in btf.iter() {
                let _ = btf.resolve_size(id);
                let _ = btf.type_name(id);
                let _ = btf.members(id);
            }
            let _ = BtfExt::parse(&b, &btf);
        }
    }

    #[test]
    fn mutated_fixture_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/globals.o");
        let data = std::fs::read(p).unwrap();
        use object::{Object, ObjectSection};
        let file = object::File::parse(&*data).unwrap();
        let mut b = file.section_by_name(".BTF").unwrap().data().unwrap().to_vec();
        let mut e = file.section_by_name(".BTF.ext").unwrap().data().unwrap().to_vec();
        for (i, v) in &edits {
            let i2 = i.index(b.len());
            b[i2] = *v;
            let j = i.index(e.len());
            e[j] ^= *v;
        }
        if let Ok(btf) = Btf::parse(&b) {
            let _ = btf.dump_raw();
            let _ = BtfExt::parse(&e, &btf);
        }
    }
}
