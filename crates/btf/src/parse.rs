//! Parsing `.BTF`: the header, the string section, and every type record, validated as the
//! kernel and libbpf do (offsets in bounds, strings terminated, known kinds, record lengths,
//! referenced type ids in range). Errors name the type id and what is wrong.

use crate::types::{
    Enumerator, IntEncoding, Kind, Linkage, Member, Param, Type, TypeId, VarSecInfo, raw_kind,
};
use crate::{Btf, BtfError};

/// `BTF_MAGIC`.
pub const MAGIC: u16 = 0xeb9f;
/// The most types we accept (the kernel's `BTF_MAX_TYPE` is 2^20 - 1).
pub const MAX_TYPES: usize = (1 << 20) - 1;

/// A little-endian reader over a byte slice.
pub(crate) struct Reader<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    pub fn u32(&mut self) -> Option<u32> {
        let b = self.data.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

pub(crate) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The string at `off` in a string section.
pub(crate) fn string_at(strings: &[u8], off: u32) -> Result<String, String> {
    let off = off as usize;
    if off >= strings.len() && !(off == 0 && strings.is_empty()) {
        return Err(format!(
            "string offset {off} is outside the string section ({} bytes)",
            strings.len()
        ));
    }
    if strings.is_empty() {
        return Ok(String::new());
    }
    let end = strings[off..]
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| format!("string at offset {off} is not NUL-terminated"))?;
    Ok(String::from_utf8_lossy(&strings[off..off + end]).into_owned())
}

impl Btf {
    /// Parses `.BTF` section bytes (little-endian).
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let err = |m: String| BtfError::new(m);
        if data.len() < 24 {
            return Err(err(format!(
                "BTF is {} bytes, shorter than its 24-byte header",
                data.len()
            )));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic != MAGIC {
            if magic == MAGIC.swap_bytes() {
                return Err(err("big-endian BTF is not supported".into()));
            }
            return Err(err(format!("bad BTF magic {magic:#06x} (expected 0xeb9f)")));
        }
        if data[2] != 1 {
            return Err(err(format!("unsupported BTF version {}", data[2])));
        }
        let hdr_len = read_u32(data, 4).unwrap_or(0) as usize;
        let type_off = read_u32(data, 8).unwrap_or(0) as usize;
        let type_len = read_u32(data, 12).unwrap_or(0) as usize;
        let str_off = read_u32(data, 16).unwrap_or(0) as usize;
        let str_len = read_u32(data, 20).unwrap_or(0) as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(err(format!("bad BTF header length {hdr_len}")));
        }
        let body = &data[hdr_len..];
        let section = |off: usize, len: usize, what: &str| -> Result<&[u8], BtfError> {
            off.checked_add(len)
                .filter(|&end| end <= body.len())
                .map(|end| &body[off..end])
                .ok_or_else(|| {
                    err(format!(
                        "BTF {what} section (offset {off}, {len} bytes) runs past the end of the \
                         data ({} bytes after the header)",
                        body.len()
                    ))
                })
        };
        let types_raw = section(type_off, type_len, "type")?;
        let strings = section(str_off, str_len, "string")?;
        if !type_off.is_multiple_of(4) {
            return Err(err(format!(
                "BTF type section offset {type_off} is not 4-byte aligned"
            )));
        }
        if !strings.is_empty() && (strings[0] != 0 || *strings.last().unwrap_or(&1) != 0) {
            return Err(err(
                "BTF string section must start and end with a NUL byte".into()
            ));
        }
        let mut types = vec![Type {
            name: String::new(),
            kind: Kind::Void,
        }];
        let mut r = Reader::new(types_raw);
        while r.remaining() > 0 {
            let id = types.len();
            if id > MAX_TYPES {
                return Err(err(format!("BTF has more than {MAX_TYPES} types")));
            }
            let t = parse_type(&mut r, strings, id)?;
            types.push(t);
        }
        let btf = Btf::from_types(types, strings.to_vec());
        btf.check_refs()?;
        Ok(btf)
    }

    /// Every referenced type id exists.
    fn check_refs(&self) -> Result<(), BtfError> {
        let n = self.types.len() as u32;
        for (id, t) in self.types.iter().enumerate() {
            for r in t.kind.refs() {
                if r.0 >= n {
                    return Err(BtfError::new(format!(
                        "type [{id}] {} '{}' refers to type id {}, but there are only {} types",
                        t.kind.name(),
                        t.name,
                        r.0,
                        n - 1
                    )));
                }
            }
            if let Kind::Datasec { vars, .. } = &t.kind {
                for v in vars {
                    if !matches!(
                        self.types[v.ty.0 as usize].kind,
                        Kind::Var { .. } | Kind::Func { .. }
                    ) {
                        return Err(BtfError::new(format!(
                            "type [{id}] DATASEC '{}' lists type [{}], which is not a VAR",
                            t.name, v.ty.0
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

fn parse_type(r: &mut Reader<'_>, strings: &[u8], id: usize) -> Result<Type, BtfError> {
    let trunc = || BtfError::new(format!("type [{id}] is truncated"));
    let name_off = r.u32().ok_or_else(trunc)?;
    let info = r.u32().ok_or_else(trunc)?;
    let size_or_type = r.u32().ok_or_else(trunc)?;
    let vlen = (info & 0xffff) as usize;
    let kind = (info >> 24) & 0x1f;
    let kind_flag = info >> 31 != 0;
    let name =
        string_at(strings, name_off).map_err(|e| BtfError::new(format!("type [{id}]: {e}")))?;
    let str_of = |off: u32| -> Result<String, BtfError> {
        string_at(strings, off).map_err(|e| BtfError::new(format!("type [{id}]: {e}")))
    };
    // Every vlen record must fit in what is left.
    let rec = match kind {
        raw_kind::STRUCT | raw_kind::UNION | raw_kind::FUNC_PROTO | raw_kind::DATASEC => 12,
        raw_kind::ENUM => 8,
        raw_kind::ENUM64 => 12,
        _ => 0,
    };
    let param_rec = if kind == raw_kind::FUNC_PROTO { 8 } else { rec };
    if param_rec > 0 && vlen * param_rec > r.remaining() {
        return Err(BtfError::new(format!(
            "type [{id}] '{name}' has vlen {vlen}, but only {} bytes remain",
            r.remaining()
        )));
    }
    let t = TypeId;
    let k = match kind {
        raw_kind::INT => {
            let v = r.u32().ok_or_else(trunc)?;
            let bits = (v & 0xff) as u8;
            let bit_offset = ((v >> 16) & 0xff) as u8;
            let encoding = IntEncoding(((v >> 24) & 0x0f) as u8);
            if size_or_type > 16 || u32::from(bits) + u32::from(bit_offset) > size_or_type * 8 {
                return Err(BtfError::new(format!(
                    "type [{id}] INT '{name}' has size {size_or_type} with {bits} bits at offset \
                     {bit_offset}"
                )));
            }
            Kind::Int {
                size: size_or_type,
                encoding,
                bit_offset,
                bits,
            }
        }
        raw_kind::PTR => Kind::Ptr(t(size_or_type)),
        raw_kind::ARRAY => {
            let elem = r.u32().ok_or_else(trunc)?;
            let index = r.u32().ok_or_else(trunc)?;
            let len = r.u32().ok_or_else(trunc)?;
            Kind::Array {
                elem: t(elem),
                index: t(index),
                len,
            }
        }
        raw_kind::STRUCT | raw_kind::UNION => {
            let mut members = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let n = r.u32().ok_or_else(trunc)?;
                let ty = r.u32().ok_or_else(trunc)?;
                let off = r.u32().ok_or_else(trunc)?;
                let (bit_offset, bitfield_size) = if kind_flag {
                    (off & 0xff_ffff, off >> 24)
                } else {
                    (off, 0)
                };
                members.push(Member {
                    name: str_of(n)?,
                    ty: t(ty),
                    bit_offset,
                    bitfield_size,
                });
            }
            if kind == raw_kind::STRUCT {
                Kind::Struct {
                    size: size_or_type,
                    members,
                }
            } else {
                Kind::Union {
                    size: size_or_type,
                    members,
                }
            }
        }
        raw_kind::ENUM => {
            let mut values = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let n = r.u32().ok_or_else(trunc)?;
                let v = r.u32().ok_or_else(trunc)?;
                let value = if kind_flag {
                    i64::from(v as i32)
                } else {
                    i64::from(v)
                };
                values.push(Enumerator {
                    name: str_of(n)?,
                    value,
                });
            }
            Kind::Enum {
                size: size_or_type,
                signed: kind_flag,
                values,
            }
        }
        raw_kind::FWD => Kind::Fwd { union: kind_flag },
        raw_kind::TYPEDEF => Kind::Typedef(t(size_or_type)),
        raw_kind::VOLATILE => Kind::Volatile(t(size_or_type)),
        raw_kind::CONST => Kind::Const(t(size_or_type)),
        raw_kind::RESTRICT => Kind::Restrict(t(size_or_type)),
        raw_kind::FUNC => Kind::Func {
            proto: t(size_or_type),
            linkage: Linkage::from_raw(vlen as u32),
        },
        raw_kind::FUNC_PROTO => {
            let mut params = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let n = r.u32().ok_or_else(trunc)?;
                let ty = r.u32().ok_or_else(trunc)?;
                params.push(Param {
                    name: str_of(n)?,
                    ty: t(ty),
                });
            }
            Kind::FuncProto {
                ret: t(size_or_type),
                params,
            }
        }
        raw_kind::VAR => {
            let linkage = r.u32().ok_or_else(trunc)?;
            Kind::Var {
                ty: t(size_or_type),
                linkage: Linkage::from_raw(linkage),
            }
        }
        raw_kind::DATASEC => {
            let mut vars = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let ty = r.u32().ok_or_else(trunc)?;
                let offset = r.u32().ok_or_else(trunc)?;
                let size = r.u32().ok_or_else(trunc)?;
                vars.push(VarSecInfo {
                    ty: t(ty),
                    offset,
                    size,
                });
            }
            Kind::Datasec {
                size: size_or_type,
                vars,
            }
        }
        raw_kind::FLOAT => Kind::Float { size: size_or_type },
        raw_kind::DECL_TAG => {
            let c = r.u32().ok_or_else(trunc)?;
            Kind::DeclTag {
                ty: t(size_or_type),
                component: c as i32,
            }
        }
        raw_kind::TYPE_TAG => Kind::TypeTag(t(size_or_type)),
        raw_kind::ENUM64 => {
            let mut values = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let n = r.u32().ok_or_else(trunc)?;
                let lo = r.u32().ok_or_else(trunc)?;
                let hi = r.u32().ok_or_else(trunc)?;
                values.push(Enumerator {
                    name: str_of(n)?,
                    value: ((u64::from(hi) << 32) | u64::from(lo)) as i64,
                });
            }
            Kind::Enum64 {
                size: size_or_type,
                signed: kind_flag,
                values,
            }
        }
        other => {
            return Err(BtfError::new(format!(
                "type [{id}] has unknown kind {other}"
            )));
        }
    };
    Ok(Type { name, kind: k })
}
