//! An object's `.BTF` made loadable by `BPF_BTF_LOAD`, and the `func_info` records that tie a
//! linked program's functions to it — what the kernel needs to verify global functions against
//! their signatures and to accept callbacks.
//!
//! clang leaves DATASEC sizes and variable offsets at zero and declares externs (kfuncs,
//! `.kconfig`, `.ksyms`) with linkages the kernel refuses; loaders patch these. The program
//! loads here create maps without BTF, so no variable or section type is ever referenced by
//! the kernel: each VAR, DATASEC, extern FUNC, and DECL_TAG pointing at one of them is
//! replaced by an anonymous `const void`, which keeps every other type id unchanged.

use bpfvet_loader::BpfObject;
use bpfvet_loader::ProgramInfo;

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_CONST: u32 = 10;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_ENUM64: u32 = 19;
/// `BTF_FUNC_EXTERN`.
const LINKAGE_EXTERN: u32 = 2;

fn rd32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Size in bytes of the data after the 12-byte common header of a type.
fn extra_len(kind: u32, vlen: usize) -> Result<usize, String> {
    Ok(match kind {
        KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
        KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
        2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
        k => return Err(format!("BTF kind {k} is unknown")),
    })
}

/// The object's raw BTF with variables, sections and externs replaced (see the module doc).
pub fn sanitize(raw: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "truncated BTF header".to_string();
    if raw.len() < 24 || raw[0..2] != [0x9f, 0xeb] {
        return Err("not little-endian BTF".into());
    }
    let hdr_len = rd32(raw, 4).ok_or_else(bad)? as usize;
    let type_off = rd32(raw, 8).ok_or_else(bad)? as usize;
    let type_len = rd32(raw, 12).ok_or_else(bad)? as usize;
    let str_off = rd32(raw, 16).ok_or_else(bad)? as usize;
    let str_len = rd32(raw, 20).ok_or_else(bad)? as usize;
    let types = raw
        .get(hdr_len + type_off..hdr_len + type_off + type_len)
        .ok_or("BTF type section out of bounds")?;
    let strings = raw
        .get(hdr_len + str_off..hdr_len + str_off + str_len)
        .ok_or("BTF string section out of bounds")?;
    // First pass: record boundaries and which ids go.
    let mut recs: Vec<(usize, usize, u32, bool)> = Vec::new(); // (start, len, kind, drop)
    let mut pos = 0;
    while pos < types.len() {
        let info = rd32(types, pos + 4).ok_or("truncated BTF type")?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let len = 12 + extra_len(kind, vlen)?;
        if pos + len > types.len() {
            return Err(format!("BTF type #{} is truncated", recs.len() + 1));
        }
        let drop = matches!(kind, KIND_VAR | KIND_DATASEC)
            || (kind == KIND_FUNC && (info & 0xffff) == LINKAGE_EXTERN);
        recs.push((pos, len, kind, drop));
        pos += len;
    }
    // Tags on dropped types go too (ids start at 1).
    for i in 0..recs.len() {
        let (start, _, kind, _) = recs[i];
        if kind == KIND_DECL_TAG {
            let target = rd32(types, start + 8).unwrap_or(0) as usize;
            if target >= 1 && recs.get(target - 1).is_some_and(|r| r.3) {
                recs[i].3 = true;
            }
        }
    }
    let mut out_types = Vec::with_capacity(types.len());
    for &(start, len, _, drop) in &recs {
        if drop {
            out_types.extend_from_slice(&0u32.to_le_bytes());
            out_types.extend_from_slice(&(KIND_CONST << 24).to_le_bytes());
            out_types.extend_from_slice(&0u32.to_le_bytes());
        } else {
            out_types.extend_from_slice(&types[start..start + len]);
        }
    }
    let mut out = Vec::with_capacity(24 + out_types.len() + strings.len());
    out.extend_from_slice(&raw[0..4]);
    for v in [
        24u32,
        0,
        out_types.len() as u32,
        out_types.len() as u32,
        strings.len() as u32,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&out_types);
    out.extend_from_slice(strings);
    Ok(out)
}

/// The object's `.BTF` section, sanitized; `None` when the object has none.
pub fn object_btf(obj: &BpfObject) -> Option<Result<Vec<u8>, String>> {
    let sec = obj.elf.sections.iter().find(|s| s.name == ".BTF")?;
    Some(sanitize(&sec.data))
}

/// `bpf_func_info` records for a linked program: one per placed function, at the slot where
/// it landed, naming its FUNC type from `.BTF.ext`. `None` if any function has no record.
pub fn func_info(obj: &BpfObject, p: &ProgramInfo) -> Option<Vec<u8>> {
    let ext = obj.btf_ext.as_ref()?;
    let mut recs: Vec<(u32, u32)> = Vec::new();
    for pl in &p.placements {
        let f = ext
            .funcs(&pl.section_name)
            .iter()
            .find(|f| f.insn_off as usize == pl.section_start * 8)?;
        recs.push((pl.start as u32, f.type_id.0));
    }
    recs.sort();
    recs.dedup();
    Some(
        recs.iter()
            .flat_map(|(a, b)| a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfvet_btf::{Btf, BtfBuilder, Kind};

    #[test]
    fn vars_and_sections_become_const_void() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, true);
        let var = b.add_var("counter", int, 1);
        b.add_datasec(".bss", 0, &[(var, 0, 4)]);
        let proto = b.add_func_proto(int, &[("x", int)]);
        b.add_func("kfunc", proto, 2);
        let f = b.add_func("prog", proto, 1);
        let raw = b.build();
        let out = Btf::parse(&sanitize(&raw).unwrap()).unwrap();
        assert_eq!(out.type_count(), Btf::parse(&raw).unwrap().type_count());
        assert_eq!(out.ty(var).unwrap().kind(), Kind::Const);
        assert_eq!(out.ty(f).unwrap().kind(), Kind::Func);
        assert_eq!(out.name(f), "prog");
        assert!(out.find(Kind::Func, "kfunc").is_none());
        assert!(sanitize(&raw[..10]).is_err());
        let mut cut = raw.clone();
        cut.truncate(raw.len() - 30);
        assert!(sanitize(&cut).is_err());
    }
}
