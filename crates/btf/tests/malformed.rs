//! Malformed `.BTF` and `.BTF.ext`: a table of broken inputs that must give
//! the right error (never a panic), reference cycles that queries must survive,
//! and property tests over random and mutated bytes.

mod common;

use bpfvet_btf::core::CoreResolver;
use bpfvet_btf::{
    Btf, BtfBuilder, BtfError, BtfExt, BtfExtBuilder, CoreRelo, CoreReloKind, Kind, TypeId,
};
use common::*;
use proptest::prelude::*;

fn valid() -> Vec<u8> {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let p = b.add_ptr(int);
    b.add_struct("s", 16, &[("a", int, 0), ("p", p, 64)]);
    b.build()
}

fn set32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}

fn err_of(bytes: &[u8]) -> String {
    match Btf::parse(bytes) {
        Ok(_) => panic!("accepted malformed BTF"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_headers_and_sections() {
    let v = valid();
    let type_len = u32::from_le_bytes(v[12..16].try_into().unwrap());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "truncated"),
        (v[..23].to_vec(), "truncated"),
        (
            {
                let mut x = v.clone();
                x[0] = 0;
                x
            },
            "magic",
        ),
        (
            {
                let mut x = v.clone();
                x[2] = 2;
                x
            },
            "version",
        ),
        (
            {
                let mut x = v.clone();
                x[3] = 1;
                x
            },
            "flags",
        ),
        (
            {
                let mut x = v.clone();
                set32(&mut x, 4, 16);
                x
            },
            "smaller than 24",
        ),
        (
            {
                let mut x = v.clone();
                set32(&mut x, 4, 100_000);
                x
            },
            "larger than the data",
        ),
        (
            {
                let mut x = v.clone();
                set32(&mut x, 20, 100_000);
                x
            },
            "runs past",
        ),
        (
            {
                let mut x = v.clone();
                set32(&mut x, 12, type_len + 4);
                x
            },
            "overlaps",
        ),
        (
            {
                let mut x = v.clone();
                set32(&mut x, 8, 2);
                set32(&mut x, 12, 0);
                x
            },
            "aligned",
        ),
        (
            {
                let mut x = v.clone();
                set32(&mut x, 20, 0);
                x
            },
            "empty",
        ),
        (
            {
                let mut x = v.clone();
                let n = x.len();
                x[n - 1] = b'x';
                x
            },
            "NUL-terminated",
        ),
        (
            {
                let mut x = v.clone();
                let s = 24 + type_len as usize;
                x[s] = b'x';
                x
            },
            "empty string",
        ),
        (
            {
                let mut x = v.clone();
                let n = x.len();
                x[n - 2] = 0xff;
                x
            },
            "UTF-8",
        ),
        (
            {
                let mut x = v.clone();
                set32(&mut x, 12, type_len - 28);
                x
            },
            "trailing",
        ),
    ];
    for (bytes, want) in cases {
        let e = err_of(&bytes);
        assert!(e.contains(want), "want '{want}' in '{e}'");
    }
}

#[test]
fn broken_types_name_the_type_and_field() {
    let one = |f: &dyn Fn(&mut BtfBuilder)| {
        let mut b = BtfBuilder::new();
        f(&mut b);
        err_of(&b.build())
    };
    let e = one(&|b| {
        b.add_int("int", 4, true);
        b.add_raw("x", 20 << 24, 0, &[]);
    });
    assert!(
        e.contains("[2]") && e.contains("unknown BTF kind 20"),
        "{e}"
    );
    let e = one(&|b| {
        b.add_raw("x", 0, 0, &[]);
    });
    assert!(e.contains("[1]") && e.contains("kind 0"), "{e}");
    let e = one(&|b| {
        b.add_raw("big", (4 << 24) | 0xffff, 8, &[]);
    });
    assert!(e.contains("[1] STRUCT") && e.contains("786432"), "{e}");
    let e = one(&|b| {
        b.add_ptr(TypeId(7));
    });
    assert!(e.contains("[1]") && e.contains("type id 7"), "{e}");
    let e = one(&|b| {
        let i = b.add_int("int", 4, true);
        b.add_struct("s", 4, &[("a", i, 0), ("b", TypeId(50), 0)]);
    });
    assert!(
        e.contains("[2]") && e.contains("member 1 type") && e.contains("50"),
        "{e}"
    );
    let e = one(&|b| {
        let i = b.add_int("int", 4, true);
        b.add_func("f", i, 1);
    });
    assert!(e.contains("FUNC_PROTO"), "{e}");
    let e = one(&|b| {
        b.add_raw("", 1 << 24, 4, &[32]);
        b.add_raw("", 4 << 24 | 1, 4, &[9999, 1, 0]);
    });
    assert!(e.contains("[2]") && e.contains("member 0 name"), "{e}");
    let e = one(&|b| {
        b.add_raw("", 3 << 24, 0, &[0, 5, 1]);
    });
    assert!(e.contains("index type") && e.contains('5'), "{e}");
}

#[test]
fn reference_cycles_give_errors_not_hangs() {
    // typedef A -> typedef B -> A, and a self-referencing const and array.
    let mut b = BtfBuilder::new();
    let a = b.add_typedef("A", TypeId(2));
    b.add_typedef("B", a);
    let c = b.add_raw("", (Kind::Const as u32) << 24, 3, &[]);
    let arr = b.add_array(TypeId(4), TypeId(0), 1);
    let ptr = b.add_ptr(a);
    let s = b.add_struct("S", 8, &[("a", a, 0), ("c", c, 0)]);
    let btf = Btf::parse(&b.build()).expect("libbpf accepts cyclic BTF; queries must cope");
    for id in [a, c, arr] {
        assert!(matches!(
            btf.resolve_size(id),
            Err(BtfError::TooDeep { .. })
        ));
        let f = btf.format_type(id);
        assert!(f == "A" || f.contains("..."), "{f}");
    }
    assert!(matches!(
        btf.skip_mods_and_typedefs(a),
        Err(BtfError::TooDeep { .. })
    ));
    assert_eq!(btf.resolve_size(ptr).unwrap(), 8);
    assert!(btf.format_type(ptr).ends_with('*'));
    let _ = btf.dump_raw();
    // CO-RE over the cycle errors out.
    let mut r = CoreResolver::new(&btf, &btf);
    let relo = |acc: &str, k: CoreReloKind| CoreRelo {
        insn_off: 0,
        type_id: s,
        access: acc.into(),
        kind_raw: k as u32,
    };
    assert!(
        r.resolve("x", &relo("0:0", CoreReloKind::FieldByteOffset))
            .is_err()
    );
    let _ = r.resolve("x", &relo("0", CoreReloKind::TypeMatches));
    let _ = r.resolve("x", &relo("0", CoreReloKind::TypeExists));
}

#[test]
fn big_endian_btf_parses_to_the_same_types() {
    let p = data("kinds.o");
    let le = Btf::parse(&section(&p, ".BTF").unwrap()).unwrap();
    // Rebuild the same types through the builder in both byte orders.
    let mut b = BtfBuilder::new();
    let i = b.add_int("int", 4, true);
    let arr = b.add_array(i, i, 3);
    b.add_enum64("e", 8, true, &[("X", u64::MAX - 1)]);
    b.add_decl_tag("t", arr, -1);
    let be = Btf::parse(&b.build_endian(true)).unwrap();
    let le2 = Btf::parse(&b.build()).unwrap();
    assert!(be.is_big_endian() && !le2.is_big_endian());
    assert_eq!(be.dump_raw(), le2.dump_raw());
    assert!(le.type_count() > 10);
}

fn ext_err(bytes: &[u8], btf: &Btf) -> String {
    BtfExt::parse(bytes, btf).unwrap_err().to_string()
}

#[test]
fn broken_btf_ext() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let proto = b.add_func_proto(int, &[]);
    let f = b.add_func("f", proto, 1);
    let mut e = BtfExtBuilder::new();
    e.func_info(&mut b, "xdp", 0, f);
    e.line_info(&mut b, "xdp", 0, "a.c", "int f(void)", 3, 5);
    e.line_info(&mut b, "xdp", 16, "a.c", "return 0;", 4, 2);
    e.core_relo(&mut b, "xdp", 8, int, "0", CoreReloKind::TypeSize as u32);
    let btf = Btf::parse(&b.build()).unwrap();
    let good = e.build();
    let ext = BtfExt::parse(&good, &btf).unwrap();
    assert_eq!(ext.line_at("xdp", 1).unwrap().line, "int f(void)");
    assert_eq!(ext.line_at("xdp", 2).unwrap().line_num, 4);
    assert_eq!(ext.line_at("xdp", 9).unwrap().col, 2);
    assert_eq!(ext.relos("xdp")[0].kind(), Some(CoreReloKind::TypeSize));
    // Larger records are accepted and their tails ignored.
    let padded = BtfExt::parse(&e.build_padded([12, 24, 20]), &btf).unwrap();
    assert_eq!(padded.rec_sizes, [12, 24, 20]);
    assert_eq!(
        (
            padded.func_info.clone(),
            padded.line_info.clone(),
            padded.core_relos.clone()
        ),
        (
            ext.func_info.clone(),
            ext.line_info.clone(),
            ext.core_relos.clone()
        )
    );

    let hdr = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut x = good.clone();
        f(&mut x);
        ext_err(&x, &btf)
    };
    assert!(ext_err(&good[..6], &btf).contains("header"));
    assert!(hdr(&|x| x[0] = 1).contains("magic"));
    assert!(hdr(&|x| x[3] = 1).contains("flags"));
    assert!(hdr(&|x| set32(x, 4, 8)).contains("too small"));
    assert!(hdr(&|x| set32(x, 8, 2)).contains("func_info"));
    assert!(hdr(&|x| set32(x, 12, 10_000)).contains("past the end"));
    assert!(hdr(&|x| set32(x, 32, 4)).contains("record size"));
    // func_info: section header then record; break the count and the name.
    assert!(hdr(&|x| set32(x, 40, 0)).contains("no records"));
    assert!(hdr(&|x| set32(x, 40, 9)).contains("claims 9 records"));
    assert!(hdr(&|x| set32(x, 36, 9999)).contains("name offset"));
    // func_info record type must be a FUNC.
    let e = hdr(&|x| set32(x, 48, int.0));
    assert!(
        e.contains("func_info") && e.contains("record #0") && e.contains("not FUNC"),
        "{e}"
    );
    // line_info string offsets.
    let line_start = 32 + 4 + 8 + 8 + 4 + 8;
    let e = hdr(&|x| set32(x, line_start + 4, 99_999));
    assert!(e.contains("line_info") && e.contains("file name"), "{e}");
    // core_relo insn offsets are multiples of 8.
    let relo_start = line_start + 32 + 4 + 8;
    let e = hdr(&|x| set32(x, relo_start, 3));
    assert!(
        e.contains("core_relo") && e.contains("multiple of 8"),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(btf) = Btf::parse(&bytes) {
            exercise(&btf, &bytes);
        }
    }

    #[test]
    fn mutated_fixture_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let p = data("kinds.o");
        let mut bytes = section(&p, ".BTF").unwrap();
        let mut ext = section(&p, ".BTF.ext").unwrap();
        for (i, (at, v)) in edits.iter().enumerate() {
            if i % 2 == 0 {
                let n = bytes.len();
                bytes[at % n] = *v;
            } else {
                let n = ext.len();
                ext[at % n] = *v;
            }
        }
        if let Ok(btf) = Btf::parse(&bytes) {
            exercise(&btf, &ext);
        }
    }
}

/// Runs every query over every type, parses `ext` as .BTF.ext, and resolves
/// CO-RE relocations of every struct against itself.
fn exercise(btf: &Btf, ext: &[u8]) {
    let _ = btf.dump_raw();
    for (id, _) in btf.types() {
        let _ = btf.format_type(id);
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
    }
    if let Ok(ext) = BtfExt::parse(ext, btf) {
        let mut r = CoreResolver::new(btf, btf);
        for sec in &ext.core_relos {
            for relo in &sec.records {
                let _ = r.resolve(&sec.name, relo);
            }
        }
        for sec in &ext.line_info {
            let _ = ext.line_at(&sec.name, 3);
        }
    }
    let mut r = CoreResolver::new(btf, btf);
    for (id, t) in btf.types().take(64) {
        for k in 0..13u32 {
            for acc in ["0", "0:0", "0:1:0", "1:0"] {
                let relo = CoreRelo {
                    insn_off: 0,
                    type_id: id,
                    access: acc.into(),
                    kind_raw: k,
                };
                if let Ok(res) = r.resolve("s", &relo) {
                    let mut code = [
                        0xb7u8, 1, 0, 0, 0, 0, 0, 0, 0x18, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                        0, 0,
                    ];
                    let _ = bpfvet_btf::core::patch_insn(&mut code, 0, &res);
                    let _ = bpfvet_btf::core::patch_insn(&mut code, 1, &res);
                }
            }
        }
        let _ = t;
    }
}

/// Struct DAGs 25 and 40 levels deep with fan-out 2: depth limits alone would
/// allow 2^25 and 2^40 steps; the walks must stop early instead.
#[test]
fn exponential_type_dags_stay_cheap() {
    let build = |anon: bool, top: &str, depth: usize| {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, true);
        let mut cur = b.add_struct("S0", 4, &[("a", int, 0)]);
        for i in 1..depth {
            let (x, y) = if anon { ("", "") } else { ("x", "y") };
            let name = if i == depth - 1 {
                top.to_string()
            } else {
                format!("S{i}")
            };
            cur = b.add_struct(&name, 8, &[(x, cur, 0), (y, cur, 32)]);
        }
        (Btf::parse(&b.build()).unwrap(), cur)
    };
    // 25 levels stay under the 32-level nesting limit of type matching.
    let (named, top) = build(false, "top", 25);
    let (anon, atop) = build(true, "top", 40);
    let start = std::time::Instant::now();
    assert!(anon.member_by_name(atop, "zzz").is_none());
    let _ = named.format_type(top);
    let relo = |ty, acc: &str, k: CoreReloKind| CoreRelo {
        insn_off: 0,
        type_id: ty,
        access: acc.into(),
        kind_raw: k as u32,
    };
    let e = CoreResolver::new(&named, &named)
        .resolve("s", &relo(top, "0", CoreReloKind::TypeMatches))
        .unwrap_err();
    assert!(e.to_string().contains("budget"), "{e}");
    // A local `struct top { int zzz; }` searched for through anonymous members.
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let local_top = b.add_struct("top", 4, &[("zzz", int, 0)]);
    let local = Btf::parse(&b.build()).unwrap();
    let e = CoreResolver::new(&local, &anon)
        .resolve("s", &relo(local_top, "0:0", CoreReloKind::FieldByteOffset))
        .unwrap_err();
    assert!(e.to_string().contains("budget"), "{e}");
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}
