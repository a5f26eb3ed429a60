//! Type queries and C-like formatting on the kinds fixture (every BTF kind),
//! plus `.BTF.ext` func/line info read from the same object.

mod common;

use bpfvet_btf::{Btf, BtfExt, Kind, TypeId, TypeKind};
use common::*;

fn kinds() -> (Btf, BtfExt) {
    let p = data("kinds.o");
    let btf = Btf::parse(&section(&p, ".BTF").unwrap()).unwrap();
    let ext = BtfExt::parse(&section(&p, ".BTF.ext").unwrap(), &btf).unwrap();
    (btf, ext)
}

fn member_type(btf: &Btf, st: TypeId, name: &str) -> TypeId {
    btf.member_by_name(st, name)
        .unwrap_or_else(|| panic!("no member {name}"))
        .0
        .ty
}

#[test]
fn format_type_spells_members_like_c() {
    let (btf, _) = kinds();
    let outer = btf.find(Kind::Struct, "outer").unwrap();
    let cases = [
        ("in", "struct inner"),
        ("arr", "struct inner[3]"),
        ("cvp", "const volatile int *"),
        ("cp", "int *const"),
        ("name", "char[16]"),
        ("fn", "int (*)(int, char *)"),
        ("fnarr", "int *(*[2])(void)"),
        ("fo", "struct fwd_only *"),
        ("fu", "union fwd_union *"),
        ("uptr", "int *"),
        ("sm", "enum small"),
        ("b64", "enum big64"),
        ("un", "union u"),
        ("rp", "int *restrict"),
        ("matrix", "int[2][3]"),
        ("flex", "int[0]"),
    ];
    for (m, want) in cases {
        assert_eq!(
            btf.format_type(member_type(&btf, outer, m)),
            want,
            "member {m}"
        );
    }
    let helper = btf.find(Kind::Func, "helper").unwrap();
    assert_eq!(btf.format_type(helper), "int helper(struct outer *, u32)");
    let prog = btf.find(Kind::Func, "prog").unwrap();
    assert_eq!(btf.format_type(prog), "int prog(void *)");
    let rodata = btf.find(Kind::Var, "g_rodata").unwrap();
    assert_eq!(btf.format_type(rodata), "const volatile u64 g_rodata");
    assert_eq!(btf.format_type(TypeId(0)), "void");
    assert_eq!(btf.format_type(TypeId(99999)), "<bad type id 99999>");
}

#[test]
fn sizes_members_enums_and_datasecs() {
    let (btf, _) = kinds();
    let outer = btf.find(Kind::Struct, "outer").unwrap();
    assert_eq!(btf.resolve_size(outer).unwrap(), 224);
    assert_eq!(
        btf.resolve_size(member_type(&btf, outer, "matrix"))
            .unwrap(),
        24
    );
    assert_eq!(
        btf.resolve_size(member_type(&btf, outer, "cvp")).unwrap(),
        8
    );
    assert_eq!(
        btf.resolve_size(member_type(&btf, outer, "flex")).unwrap(),
        0
    );
    // Members inside anonymous union/struct members are found with their offsets.
    let inner = btf.find(Kind::Struct, "inner").unwrap();
    let (hi, off) = btf.member_by_name(inner, "hi").unwrap();
    assert_eq!(
        (off, btf.format_type(hi.ty)),
        (64 + 16, "short".to_string())
    );
    // Bitfields keep offset and width.
    let bits = btf.find(Kind::Struct, "bits").unwrap();
    let d = btf.members(bits).unwrap()[3].clone();
    assert_eq!((d.bit_offset, d.bitfield_size), (23, 40));
    // Signed enums and enum64 values.
    let small = btf.find(Kind::Enum, "small").unwrap();
    assert_eq!(btf.enum_values(small).unwrap()[0].val as i64, -5);
    let big = btf.find(Kind::Enum64, "big64").unwrap();
    assert_eq!(btf.enum_values(big).unwrap()[0].val, 0xfedc_ba98_7654_3210);
    // Prototype parameters.
    let helper = btf.find(Kind::Func, "helper").unwrap();
    let params = btf.func_params(helper).unwrap();
    assert_eq!(btf.name_at(params[1].name_off), "k");
    assert_eq!(btf.format_type(params[1].ty), "u32");
    // DATASEC entries.
    let e = btf.datasec_entries(".bss");
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].0.as_str(), e[0].2, e[0].3), ("g_outer", 0, 224));
    assert_eq!(e[0].1, outer);
    assert!(btf.find(Kind::Struct, "nope").is_none());
    assert_eq!(
        btf.skip_mods_and_typedefs(btf.find(Kind::Typedef, "u32").unwrap())
            .unwrap(),
        btf.find(Kind::Int, "unsigned int").unwrap()
    );
}

#[test]
fn map_definitions_of_maps_calls() {
    let p = repo_fixture("maps_calls.o");
    let btf = Btf::parse(&section(&p, ".BTF").unwrap()).unwrap();
    let maps = btf.datasec_entries(".maps");
    assert_eq!(maps.len(), 1);
    let (name, def, _, size) = &maps[0];
    assert_eq!((name.as_str(), *size), ("counters", 32));
    let m = |n: &str| btf.member_by_name(*def, n).unwrap().0.ty;
    assert_eq!(btf.map_def_uint(m("type")), Some(2)); // BPF_MAP_TYPE_ARRAY
    assert_eq!(btf.map_def_uint(m("max_entries")), Some(4));
    let key = btf.map_def_type(m("key")).unwrap();
    assert_eq!(
        (btf.format_type(key), btf.resolve_size(key).unwrap()),
        ("__u32".into(), 4)
    );
    let value = btf.map_def_type(m("value")).unwrap();
    assert_eq!(btf.resolve_size(value).unwrap(), 8);
    assert!(matches!(
        btf.ty(value).unwrap().kind,
        TypeKind::Typedef { .. }
    ));
}

#[test]
fn func_and_line_info_agree_with_the_source() {
    let (btf, ext) = kinds();
    let src = std::fs::read_to_string(data("kinds.c")).unwrap();
    let src_lines: Vec<&str> = src.lines().collect();
    let funcs = ext.funcs("xdp");
    assert_eq!(funcs.len(), 1);
    assert_eq!(btf.name(funcs[0].type_id), "prog");
    assert_eq!(btf.name(ext.funcs(".text")[0].type_id), "helper");
    let mut checked = 0;
    for sec in &ext.line_info {
        for li in &sec.records {
            assert!(li.file_name.ends_with("kinds.c"), "{}", li.file_name);
            assert_eq!(
                li.line,
                src_lines[li.line_num as usize - 1],
                "line {}",
                li.line_num
            );
            assert!(li.col as usize <= li.line.len() + 1);
            checked += 1;
        }
    }
    assert!(checked > 5);
    // Lookup: the record covering an instruction is the last one at or before it.
    let recs = ext.lines("xdp");
    for pc in 0..64usize {
        let want = recs.iter().rev().find(|r| r.insn_off as usize <= pc * 8);
        assert_eq!(ext.line_at("xdp", pc), want);
    }
    assert_eq!(ext.line_at("xdp", 0).unwrap().insn_off, 0);
    assert!(ext.line_at("nosuch", 0).is_none());
    assert_eq!(ext.rec_sizes[0], 8);
}
