//! CO-RE on hand-built BTF: bitfields, anonymous members, arrays, flavors and
//! ambiguity, enum64, TYPE_MATCHES, size-changing loads, and the patcher's
//! checks and poisoning.

use bpfvet_btf::core::{CoreResolver, POISON_CODE, POISON_IMM, PatchOutcome, patch_insn};
use bpfvet_btf::{Btf, BtfBuilder, CoreRelo, CoreReloKind as K, Kind, TypeId};

fn relo(ty: TypeId, access: &str, kind: K) -> CoreRelo {
    CoreRelo {
        insn_off: 0,
        type_id: ty,
        access: access.into(),
        kind_raw: kind as u32,
    }
}

/// Local: struct s___l { u32 a:3; u32 b:9; int c; struct { int x; } ; int arr[4]; long big; }
fn local() -> (Btf, TypeId) {
    let mut b = BtfBuilder::new();
    let u32t = b.add_int("unsigned int", 4, false);
    let int = b.add_int("int", 4, true);
    let long = b.add_int("long", 8, true);
    let idx = b.add_int("__ARRAY_SIZE_TYPE__", 4, false);
    let anon = b.add_struct("", 4, &[("x", int, 0)]);
    let arr = b.add_array(int, idx, 4);
    let s = b.add_struct_bits(
        "s___l",
        40,
        &[
            ("a", u32t, 0, 3),
            ("b", u32t, 3, 9),
            ("c", int, 32, 0),
            ("", anon, 64, 0),
            ("arr", arr, 96, 0),
            ("big", long, 256, 0),
        ],
    );
    (Btf::parse(&b.build()).unwrap(), s)
}

/// Target: struct s { u64 pad; u32 b:5 at 70; struct { char q; int x; } at 128; int c; int arr[8]; int big; }
fn target() -> Btf {
    let mut b = BtfBuilder::new();
    let u64t = b.add_int("unsigned long long", 8, false);
    let u32t = b.add_int("unsigned int", 4, false);
    let int = b.add_int("int", 4, true);
    let ch = b.add_int("char", 1, true);
    let idx = b.add_int("__ARRAY_SIZE_TYPE__", 4, false);
    let anon = b.add_struct("", 8, &[("q", ch, 0), ("x", int, 32)]);
    let arr = b.add_array(int, idx, 8);
    b.add_struct_bits(
        "s",
        64,
        &[
            ("pad", u64t, 0, 0),
            ("b", u32t, 70, 5),
            ("", anon, 128, 0),
            ("c", int, 192, 0),
            ("arr", arr, 224, 0),
            ("big", int, 480, 0),
        ],
    );
    Btf::parse(&b.build()).unwrap()
}

#[test]
fn fields_through_bitfields_anonymous_members_and_arrays() {
    let (l, s) = local();
    let t = target();
    let mut r = CoreResolver::new(&l, &t);
    let mut v = |acc: &str, k: K| {
        let res = r.resolve("s", &relo(s, acc, k)).unwrap();
        assert!(!res.poison, "{acc} {k}");
        (res.orig_val, res.new_val)
    };
    // b: 5 bits at bit 70 → 4-byte unit at byte 8; lshift = 64 - (70 + 5 - 64) = 53.
    assert_eq!(v("0:1", K::FieldByteOffset), (0, 8));
    assert_eq!(v("0:1", K::FieldByteSize), (4, 4));
    assert_eq!(v("0:1", K::FieldLshiftU64), (64 - 12, 53));
    assert_eq!(v("0:1", K::FieldRshiftU64), (64 - 9, 64 - 5));
    assert_eq!(v("0:1", K::FieldSigned), (0, 0));
    assert_eq!(v("0:2", K::FieldSigned), (1, 1));
    // x lives in an anonymous struct in both, at different depths.
    assert_eq!(v("0:3:0", K::FieldByteOffset), (8, 20));
    // arr[3] and arr[7] (the local array only has 4, so 7 fails locally).
    assert_eq!(v("0:4:3", K::FieldByteOffset), (24, 28 + 12));
    assert_eq!(v("0:4", K::FieldByteSize), (16, 32));
    // [1] of the root pointer: bit offset scales by the root size.
    assert_eq!(v("1:2", K::FieldByteOffset), (40 + 4, 64 + 24));
    assert!(
        r.resolve("s", &relo(s, "0:4:7", K::FieldByteOffset))
            .is_err()
    );
}

#[test]
fn bitfield_wider_than_eight_bytes_is_an_error() {
    let (l, s) = local();
    let mut b = BtfBuilder::new();
    let u64t = b.add_int("unsigned long long", 8, false);
    b.add_struct_bits("s", 16, &[("b", u64t, 60, 8)]);
    let t = Btf::parse(&b.build()).unwrap();
    let e = CoreResolver::new(&l, &t)
        .resolve("sec", &relo(s, "0:1", K::FieldLshiftU64))
        .unwrap_err();
    assert!(e.to_string().contains("64-bit"), "{e}");
    assert!(e.to_string().contains("lshift_u64"), "{e}");
}

#[test]
fn flavors_that_disagree_are_ambiguous_and_agreeing_ones_are_not() {
    let (l, s) = local();
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    b.add_struct("s___v1", 8, &[("c", int, 0)]);
    b.add_struct("s___v2", 8, &[("c", int, 32)]);
    let t = Btf::parse(&b.build()).unwrap();
    let err = CoreResolver::new(&l, &t)
        .resolve("prog", &relo(s, "0:2", K::FieldByteOffset))
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("ambiguity"), "{msg}");
    assert!(
        msg.contains("s___l") && msg.contains("0:2") && msg.contains("'prog'"),
        "{msg}"
    );

    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    b.add_struct("s___v1", 8, &[("c", int, 32)]);
    b.add_struct("s___v2", 16, &[("c", int, 32), ("d", int, 64)]);
    let t = Btf::parse(&b.build()).unwrap();
    let mut r = CoreResolver::new(&l, &t);
    assert_eq!(r.candidates(s).len(), 2);
    let res = r
        .resolve("prog", &relo(s, "0:2", K::FieldByteOffset))
        .unwrap();
    assert_eq!(res.new_val, 4);
}

#[test]
fn missing_targets_poison_or_give_zero() {
    let (l, s) = local();
    let mut b = BtfBuilder::new();
    b.add_int("int", 4, true);
    let t = Btf::parse(&b.build()).unwrap();
    let mut r = CoreResolver::new(&l, &t);
    assert!(r.candidates(s).is_empty());
    let res = r.resolve("p", &relo(s, "0:2", K::FieldByteOffset)).unwrap();
    assert!(res.poison);
    for k in [
        K::FieldExists,
        K::TypeExists,
        K::TypeSize,
        K::TypeIdTarget,
        K::TypeMatches,
    ] {
        let acc = if k == K::FieldExists { "0:2" } else { "0" };
        let res = r.resolve("p", &relo(s, acc, k)).unwrap();
        assert_eq!((res.new_val, res.poison), (0, false), "{k}");
    }
    let res = r.resolve("p", &relo(s, "0", K::TypeIdLocal)).unwrap();
    assert_eq!((res.orig_val, res.new_val), (s.0 as u64, s.0 as u64));
}

#[test]
fn enum_values_including_enum64_and_flavored_names() {
    let mut b = BtfBuilder::new();
    let e = b.add_enum("state___local", 4, false, &[("ST_A", 0), ("ST_B___old", 1)]);
    let l = Btf::parse(&b.build()).unwrap();
    let mut b = BtfBuilder::new();
    b.add_enum64("state", 8, false, &[("ST_B", 0x1_0000_0005), ("ST_A", 9)]);
    let t = Btf::parse(&b.build()).unwrap();
    let mut r = CoreResolver::new(&l, &t);
    let res = r.resolve("p", &relo(e, "1", K::EnumvalValue)).unwrap();
    assert_eq!((res.orig_val, res.new_val), (1, 0x1_0000_0005));
    let res = r.resolve("p", &relo(e, "0", K::EnumvalExists)).unwrap();
    assert_eq!(res.new_val, 1);
    assert!(r.resolve("p", &relo(e, "2", K::EnumvalValue)).is_err());
    // LD_IMM64 gets both halves.
    let mut code = vec![0x18, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let res = r.resolve("p", &relo(e, "1", K::EnumvalValue)).unwrap();
    assert!(matches!(
        patch_insn(&mut code, 0, &res),
        Ok(PatchOutcome::Patched(_))
    ));
    assert_eq!(&code[4..8], &5u32.to_le_bytes());
    assert_eq!(&code[12..16], &1u32.to_le_bytes());
}

#[test]
fn type_matches_rules() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let fwd = b.add_fwd("node", false);
    let pf = b.add_ptr(fwd);
    let m = b.add_struct("pair___x", 16, &[("a", int, 0), ("next", pf, 64)]);
    let u = b.add_struct("pair___y", 4, &[("a", int, 0), ("zzz", int, 32)]);
    let l = Btf::parse(&b.build()).unwrap();
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let uint = b.add_int("unsigned int", 4, false);
    let node = b.add_struct("node", 4, &[("v", int, 0)]);
    let pn = b.add_ptr(node);
    b.add_struct(
        "pair",
        24,
        &[("next", pn, 0), ("a", int, 64), ("b", uint, 96)],
    );
    let t = Btf::parse(&b.build()).unwrap();
    let mut r = CoreResolver::new(&l, &t);
    // Member order and extra target members do not matter; FWD behind a pointer
    // matches a struct of that name.
    assert_eq!(
        r.resolve("p", &relo(m, "0", K::TypeMatches))
            .unwrap()
            .new_val,
        1
    );
    assert_eq!(
        r.resolve("p", &relo(u, "0", K::TypeMatches))
            .unwrap()
            .new_val,
        0
    );
    // Plain TYPE_EXISTS only needs a compatible kind.
    assert_eq!(
        r.resolve("p", &relo(u, "0", K::TypeExists))
            .unwrap()
            .new_val,
        1
    );
}

#[test]
fn load_size_changes_follow_libbpf() {
    // Local u64 field, target u32: the load shrinks. Local long (signed) → poison.
    let mut b = BtfBuilder::new();
    let u64t = b.add_int("unsigned long long", 8, false);
    let s64t = b.add_int("long", 8, true);
    let s = b.add_struct("f", 16, &[("u", u64t, 0), ("s", s64t, 64)]);
    let l = Btf::parse(&b.build()).unwrap();
    let mut b = BtfBuilder::new();
    let u32t = b.add_int("unsigned int", 4, false);
    b.add_struct("f", 8, &[("s", u32t, 0), ("u", u32t, 32)]);
    let t = Btf::parse(&b.build()).unwrap();
    let mut r = CoreResolver::new(&l, &t);
    // r1 = *(u64 *)(r2 + 0)
    let mut code = [0x79u8, 0x21, 0, 0, 0, 0, 0, 0].to_vec();
    let res = r.resolve("p", &relo(s, "0:0", K::FieldByteOffset)).unwrap();
    assert_eq!((res.orig_sz, res.new_sz, res.new_val), (8, 4, 4));
    patch_insn(&mut code, 0, &res).unwrap();
    assert_eq!(code, [0x61, 0x21, 4, 0, 0, 0, 0, 0]);
    // r1 = *(u64 *)(r2 + 8) on the signed field.
    let mut code = [0x79u8, 0x21, 8, 0, 0, 0, 0, 0].to_vec();
    let res = r.resolve("p", &relo(s, "0:1", K::FieldByteOffset)).unwrap();
    assert!(res.fail_memsz_adjust);
    assert!(matches!(
        patch_insn(&mut code, 0, &res),
        Ok(PatchOutcome::Poisoned(_))
    ));
    assert_eq!(code[0], POISON_CODE);
    assert_eq!(&code[4..8], &POISON_IMM.to_le_bytes());
}

#[test]
fn patcher_checks_the_instruction() {
    let (l, s) = local();
    let t = target();
    let mut r = CoreResolver::new(&l, &t);
    let res = r
        .resolve("sec", &relo(s, "0:2", K::FieldByteOffset))
        .unwrap();
    assert_eq!((res.orig_val, res.new_val), (4, 24));
    // ALU with the expected immediate: patched.
    let mut code = [0xb7u8, 0x01, 0, 0, 4, 0, 0, 0].to_vec();
    patch_insn(&mut code, 0, &res).unwrap();
    assert_eq!(&code[4..8], &24u32.to_le_bytes());
    // Wrong immediate: error naming the relocation.
    let mut code = [0xb7u8, 0x01, 0, 0, 5, 0, 0, 0].to_vec();
    let e = patch_insn(&mut code, 0, &res).unwrap_err().to_string();
    assert!(
        e.contains("byte_off") && e.contains("s___l") && e.contains("insn #0"),
        "{e}"
    );
    // Register-source ALU, jumps and out-of-range indexes are rejected.
    for bytes in [
        [0xbfu8, 0x21, 0, 0, 0, 0, 0, 0],
        [0x05, 0, 0, 0, 0, 0, 0, 0],
    ] {
        assert!(patch_insn(&mut bytes.to_vec(), 0, &res).is_err());
    }
    assert!(patch_insn(&mut code, 3, &res).is_err());
    // A truncated LD_IMM64 is rejected.
    assert!(patch_insn(&mut [0x18u8, 1, 0, 0, 4, 0, 0, 0].to_vec(), 0, &res).is_err());
    // Poisoned LD_IMM64 turns both slots into the invalid call.
    let mut poisoned = res.clone();
    poisoned.poison = true;
    let mut code = vec![0x18, 0x01, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert!(matches!(
        patch_insn(&mut code, 0, &poisoned),
        Ok(PatchOutcome::Poisoned(_))
    ));
    let want = [0x85u8, 0, 0, 0, 0x10, 0x23, 0xad, 0x0b];
    assert_eq!(&code[..8], &want);
    assert_eq!(&code[8..], &want);
}

#[test]
fn bad_relocations_are_errors() {
    let (l, s) = local();
    let t = target();
    let mut r = CoreResolver::new(&l, &t);
    for (acc, kind) in [
        ("", K::FieldByteOffset),
        (":0", K::FieldByteOffset),
        ("0:-1", K::FieldByteOffset),
        ("0:99", K::FieldByteOffset),
        ("0::1", K::FieldByteOffset),
        ("1", K::TypeSize),
        ("0:x", K::FieldExists),
        ("0:1", K::EnumvalValue),
    ] {
        assert!(
            r.resolve("sec", &relo(s, acc, kind)).is_err(),
            "{acc} {kind}"
        );
    }
    let mut bad = relo(s, "0", K::TypeExists);
    bad.kind_raw = 13;
    assert!(
        r.resolve("sec", &bad)
            .unwrap_err()
            .to_string()
            .contains("unknown")
    );
    bad.type_id = TypeId(999);
    assert!(r.resolve("sec", &bad).is_err());
    let deep = (0..70).map(|_| "0").collect::<Vec<_>>().join(":");
    assert!(
        r.resolve("sec", &relo(s, &deep, K::FieldByteOffset))
            .is_err()
    );
    // Anonymous local types cannot be searched for.
    let anon = l
        .types()
        .find(|(_, t)| t.kind() == Kind::Struct && t.name_off == 0)
        .unwrap()
        .0;
    assert!(
        r.resolve("sec", &relo(anon, "0:0", K::FieldByteOffset))
            .is_err()
    );
}
