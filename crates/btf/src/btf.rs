//! `Btf::parse`: header, string and type sections of `.BTF`, validated the way
//! libbpf does (plus the kernel's version/flags checks) before anything is used.

use crate::error::BtfError;
use crate::types::{EnumValue, Kind, Member, Param, Type, TypeId, TypeKind, VarSecinfo};
use std::sync::OnceLock;

/// BTF magic number.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of the `.BTF` header this parser understands.
pub const BTF_HEADER_LEN: u32 = 24;
/// Largest number of types BTF can hold (type ids are 20 bits wide... and a bit).
pub const MAX_TYPES: usize = 0x000f_ffff;
/// Largest string offset.
const MAX_STR_OFFSET: u32 = 0x7fff_ffff;

/// Parsed, validated `.BTF` data. Type 0 is `void`; ids 1.. are the records in order.
#[derive(Debug)]
pub struct Btf {
    pub(crate) types: Vec<Type>,
    pub(crate) strings: String,
    pub(crate) big_endian: bool,
    /// Named type ids sorted by (essential name, id); built on first use.
    pub(crate) name_index: OnceLock<Vec<u32>>,
}

impl Clone for Btf {
    fn clone(&self) -> Btf {
        Btf {
            types: self.types.clone(),
            strings: self.strings.clone(),
            big_endian: self.big_endian,
            name_index: OnceLock::new(),
        }
    }
}

/// Endian-aware reads of 32-bit words.
#[derive(Clone, Copy)]
pub(crate) struct Words<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) big_endian: bool,
}

impl Words<'_> {
    pub(crate) fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
}

/// Per kind: bytes after the 12-byte common header, fixed part and per-vlen part.
const KIND_LAYOUT: [(Kind, usize, usize); 19] = [
    (Kind::Int, 4, 0),
    (Kind::Ptr, 0, 0),
    (Kind::Array, 12, 0),
    (Kind::Struct, 0, 12),
    (Kind::Union, 0, 12),
    (Kind::Enum, 0, 8),
    (Kind::Fwd, 0, 0),
    (Kind::Typedef, 0, 0),
    (Kind::Volatile, 0, 0),
    (Kind::Const, 0, 0),
    (Kind::Restrict, 0, 0),
    (Kind::Func, 0, 0),
    (Kind::FuncProto, 0, 8),
    (Kind::Var, 4, 0),
    (Kind::Datasec, 0, 12),
    (Kind::Float, 0, 0),
    (Kind::DeclTag, 4, 0),
    (Kind::TypeTag, 0, 0),
    (Kind::Enum64, 0, 12),
];

fn layout(kind: Kind) -> (usize, usize) {
    KIND_LAYOUT
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|&(_, fixed, per)| (fixed, per))
        .unwrap_or((0, 0))
}

impl Btf {
    /// Parses and validates raw `.BTF` bytes (either endianness).
    pub fn parse(bytes: &[u8]) -> Result<Btf, BtfError> {
        if bytes.len() < BTF_HEADER_LEN as usize {
            return Err(BtfError::TruncatedHeader { len: bytes.len() });
        }
        let magic_le = u16::from_le_bytes([bytes[0], bytes[1]]);
        let big_endian = match magic_le {
            BTF_MAGIC => false,
            m if m == BTF_MAGIC.swap_bytes() => true,
            m => return Err(BtfError::BadMagic(m)),
        };
        let w = Words { bytes, big_endian };
        let version = bytes[2];
        let flags = bytes[3];
        if version != 1 {
            return Err(BtfError::BadHeader(format!(
                "unsupported version {version}"
            )));
        }
        if flags != 0 {
            return Err(BtfError::BadHeader(format!("unsupported flags {flags:#x}")));
        }
        let hdr = |i: usize| w.u32(4 + 4 * i).unwrap_or(0);
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (hdr(0), hdr(1), hdr(2), hdr(3), hdr(4));
        if hdr_len < BTF_HEADER_LEN {
            return Err(BtfError::BadHeader(format!(
                "header length {hdr_len} is smaller than {BTF_HEADER_LEN}"
            )));
        }
        if hdr_len as usize > bytes.len() {
            return Err(BtfError::BadHeader(format!(
                "header length {hdr_len} is larger than the data ({} bytes)",
                bytes.len()
            )));
        }
        if bytes[BTF_HEADER_LEN as usize..hdr_len as usize]
            .iter()
            .any(|&b| b != 0)
        {
            return Err(BtfError::BadHeader(format!(
                "header length {hdr_len} has non-zero bytes past the known fields"
            )));
        }
        let meta_left = (bytes.len() - hdr_len as usize) as u64;
        if str_off as u64 + str_len as u64 > meta_left {
            return Err(BtfError::BadHeader(format!(
                "string section {str_off}+{str_len} runs past the data ({meta_left} bytes after the header)"
            )));
        }
        if type_off as u64 + type_len as u64 > str_off as u64 {
            return Err(BtfError::BadHeader(format!(
                "type section {type_off}+{type_len} overlaps or follows the string section at {str_off}"
            )));
        }
        if type_off % 4 != 0 {
            return Err(BtfError::BadHeader(format!(
                "type section offset {type_off} is not 4-byte aligned"
            )));
        }
        let base = hdr_len as usize;
        let strs = &bytes[base + str_off as usize..base + str_off as usize + str_len as usize];
        let strings = parse_strings(strs)?;
        let type_bytes = &bytes[base + type_off as usize..base + (type_off + type_len) as usize];
        let types = parse_types(Words {
            bytes: type_bytes,
            big_endian,
        })?;
        let btf = Btf {
            types,
            strings,
            big_endian,
            name_index: OnceLock::new(),
        };
        btf.validate()?;
        Ok(btf)
    }

    /// Whether the data was big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// The whole string section.
    pub fn strings(&self) -> &str {
        &self.strings
    }

    /// The NUL-terminated string at `off`, or `None` if `off` is out of range.
    pub fn str_at(&self, off: u32) -> Option<&str> {
        let off = off as usize;
        if off >= self.strings.len() || !self.strings.is_char_boundary(off) {
            return None;
        }
        let rest = &self.strings[off..];
        Some(rest.split('\0').next().unwrap_or(""))
    }

    fn validate(&self) -> Result<(), BtfError> {
        let n = self.types.len() as u32;
        for (i, t) in self.types.iter().enumerate().skip(1) {
            let id = i as u32;
            let check_str = |off: u32, what: &dyn Fn() -> String| {
                if self.str_at(off).is_none() {
                    Err(BtfError::BadStringOffset {
                        type_id: id,
                        what: what(),
                        offset: off,
                    })
                } else {
                    Ok(())
                }
            };
            let check_id = |r: TypeId, field: &dyn Fn() -> String| {
                if r.0 >= n {
                    Err(BtfError::BadTypeRef {
                        type_id: id,
                        field: field(),
                        referenced: r.0,
                    })
                } else {
                    Ok(())
                }
            };
            check_str(t.name_off, &|| "type name".into())?;
            match &t.kind {
                TypeKind::Array { elem, index, .. } => {
                    check_id(*elem, &|| "element type".into())?;
                    check_id(*index, &|| "index type".into())?;
                }
                TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => {
                    for (j, m) in members.iter().enumerate() {
                        check_str(m.name_off, &|| format!("member {j} name"))?;
                        check_id(m.ty, &|| format!("member {j} type"))?;
                    }
                }
                TypeKind::Enum { values, .. } | TypeKind::Enum64 { values, .. } => {
                    for (j, v) in values.iter().enumerate() {
                        check_str(v.name_off, &|| format!("enumerator {j} name"))?;
                    }
                }
                TypeKind::Func { proto, .. } => {
                    check_id(*proto, &|| "prototype".into())?;
                    let found = self.types[proto.0 as usize].kind();
                    if found != Kind::FuncProto {
                        return Err(BtfError::BadRefKind {
                            type_id: id,
                            referenced: proto.0,
                            expected: Kind::FuncProto,
                            found,
                        });
                    }
                }
                TypeKind::FuncProto { ret, params } => {
                    check_id(*ret, &|| "return type".into())?;
                    for (j, p) in params.iter().enumerate() {
                        check_str(p.name_off, &|| format!("param {j} name"))?;
                        check_id(p.ty, &|| format!("param {j} type"))?;
                    }
                }
                TypeKind::Datasec { vars, .. } => {
                    for (j, v) in vars.iter().enumerate() {
                        check_id(v.ty, &|| format!("variable {j} type"))?;
                    }
                }
                _ => {
                    if let Some(r) = t.ref_type() {
                        check_id(r, &|| "type".into())?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn parse_strings(strs: &[u8]) -> Result<String, BtfError> {
    if strs.is_empty() {
        return Err(BtfError::BadStrings(
            "empty (must hold at least the empty string)".into(),
        ));
    }
    if strs.len() as u64 - 1 > MAX_STR_OFFSET as u64 {
        return Err(BtfError::BadStrings(format!(
            "too long ({} bytes)",
            strs.len()
        )));
    }
    if strs[strs.len() - 1] != 0 {
        return Err(BtfError::BadStrings("not NUL-terminated".into()));
    }
    if strs[0] != 0 {
        return Err(BtfError::BadStrings(
            "does not start with the empty string".into(),
        ));
    }
    match std::str::from_utf8(strs) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(BtfError::BadStrings(format!(
            "invalid UTF-8 at offset {}",
            e.valid_up_to()
        ))),
    }
}

fn parse_types(w: Words<'_>) -> Result<Vec<Type>, BtfError> {
    let mut types = vec![Type::void()];
    let end = w.bytes.len();
    let mut pos = 0usize;
    while pos + 12 <= end {
        let type_id = types.len() as u32;
        if types.len() > MAX_TYPES {
            return Err(BtfError::TooManyTypes(types.len()));
        }
        let word = |i: usize| w.u32(pos + 4 * i).unwrap_or(0);
        let (name_off, info, size_or_type) = (word(0), word(1), word(2));
        let kind_no = (info >> 24) & 0x1f;
        let kind = match Kind::from_u32(kind_no) {
            Some(k) if k != Kind::Void => k,
            _ => {
                return Err(BtfError::UnknownKind {
                    type_id,
                    kind: kind_no,
                });
            }
        };
        let vlen = (info & 0xffff) as usize;
        let kflag = info >> 31 != 0;
        let (fixed, per) = layout(kind);
        let need = 12 + fixed + per * vlen;
        if pos + need > end {
            return Err(BtfError::TypeTruncated {
                type_id,
                kind,
                need,
                left: end - pos,
            });
        }
        let data = pos + 12;
        let d = |i: usize| w.u32(data + 4 * i).unwrap_or(0);
        let tid = TypeId;
        let t = match kind {
            Kind::Int => {
                let v = d(0);
                TypeKind::Int {
                    size: size_or_type,
                    encoding: ((v >> 24) & 0x0f) as u8,
                    offset: ((v >> 16) & 0xff) as u8,
                    bits: (v & 0xff) as u8,
                }
            }
            Kind::Ptr => TypeKind::Ptr {
                target: tid(size_or_type),
            },
            Kind::Array => TypeKind::Array {
                elem: tid(d(0)),
                index: tid(d(1)),
                nelems: d(2),
            },
            Kind::Struct | Kind::Union => {
                let members = (0..vlen)
                    .map(|j| {
                        let off = d(3 * j + 2);
                        let (bit_offset, bitfield_size) = if kflag {
                            (off & 0x00ff_ffff, off >> 24)
                        } else {
                            (off, 0)
                        };
                        Member {
                            name_off: d(3 * j),
                            ty: tid(d(3 * j + 1)),
                            bit_offset,
                            bitfield_size,
                        }
                    })
                    .collect();
                if kind == Kind::Struct {
                    TypeKind::Struct {
                        size: size_or_type,
                        members,
                    }
                } else {
                    TypeKind::Union {
                        size: size_or_type,
                        members,
                    }
                }
            }
            Kind::Enum => TypeKind::Enum {
                size: size_or_type,
                signed: kflag,
                values: (0..vlen)
                    .map(|j| EnumValue {
                        name_off: d(2 * j),
                        val: d(2 * j + 1) as i32 as i64 as u64,
                    })
                    .collect(),
            },
            Kind::Enum64 => TypeKind::Enum64 {
                size: size_or_type,
                signed: kflag,
                values: (0..vlen)
                    .map(|j| EnumValue {
                        name_off: d(3 * j),
                        val: d(3 * j + 1) as u64 | (d(3 * j + 2) as u64) << 32,
                    })
                    .collect(),
            },
            Kind::Fwd => TypeKind::Fwd { union: kflag },
            Kind::Typedef => TypeKind::Typedef {
                target: tid(size_or_type),
            },
            Kind::Volatile => TypeKind::Volatile {
                target: tid(size_or_type),
            },
            Kind::Const => TypeKind::Const {
                target: tid(size_or_type),
            },
            Kind::Restrict => TypeKind::Restrict {
                target: tid(size_or_type),
            },
            Kind::Func => TypeKind::Func {
                proto: tid(size_or_type),
                linkage: vlen as u16,
            },
            Kind::FuncProto => TypeKind::FuncProto {
                ret: tid(size_or_type),
                params: (0..vlen)
                    .map(|j| Param {
                        name_off: d(2 * j),
                        ty: tid(d(2 * j + 1)),
                    })
                    .collect(),
            },
            Kind::Var => TypeKind::Var {
                ty: tid(size_or_type),
                linkage: d(0),
            },
            Kind::Datasec => TypeKind::Datasec {
                size: size_or_type,
                vars: (0..vlen)
                    .map(|j| VarSecinfo {
                        ty: tid(d(3 * j)),
                        offset: d(3 * j + 1),
                        size: d(3 * j + 2),
                    })
                    .collect(),
            },
            Kind::Float => TypeKind::Float { size: size_or_type },
            Kind::DeclTag => TypeKind::DeclTag {
                target: tid(size_or_type),
                component_idx: d(0) as i32,
            },
            Kind::TypeTag => TypeKind::TypeTag {
                target: tid(size_or_type),
            },
            Kind::Void => {
                return Err(BtfError::UnknownKind {
                    type_id,
                    kind: kind_no,
                });
            }
        };
        types.push(Type {
            name_off,
            info,
            size_or_type,
            kind: t,
        });
        pos += need;
    }
    if pos != end {
        return Err(BtfError::TrailingTypeData { left: end - pos });
    }
    Ok(types)
}
