//! `BtfBuilder` and `BtfExtBuilder`: write `.BTF` / `.BTF.ext` bytes from
//! scratch, for tests, fuzz seeds and hand-made local BTF for CO-RE.

use crate::btf::BTF_MAGIC;
use crate::types::{INT_SIGNED, Kind, TypeId};
use std::collections::HashMap;

/// Builds `.BTF` bytes type by type; each `add_*` returns the new type's id.
#[derive(Debug, Clone)]
pub struct BtfBuilder {
    strings: Vec<u8>,
    offsets: HashMap<String, u32>,
    words: Vec<u32>,
    count: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn info(kind: Kind, kflag: bool, vlen: usize) -> u32 {
    (kflag as u32) << 31 | (kind as u32) << 24 | (vlen as u32 & 0xffff)
}

impl BtfBuilder {
    /// An empty builder (string table holds only the empty string).
    pub fn new() -> BtfBuilder {
        BtfBuilder {
            strings: vec![0],
            offsets: HashMap::from([(String::new(), 0)]),
            words: Vec::new(),
            count: 0,
        }
    }

    /// Adds (or finds) a string and returns its offset.
    pub fn add_string(&mut self, s: &str) -> u32 {
        if let Some(&o) = self.offsets.get(s) {
            return o;
        }
        let o = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.offsets.insert(s.to_owned(), o);
        o
    }

    /// Appends a raw record (no checks): name, info word, size/type word, extra words.
    pub fn add_raw(&mut self, name: &str, info: u32, size_or_type: u32, extra: &[u32]) -> TypeId {
        let n = self.add_string(name);
        self.words.extend_from_slice(&[n, info, size_or_type]);
        self.words.extend_from_slice(extra);
        self.count += 1;
        TypeId(self.count)
    }

    /// Number of types added so far.
    pub fn type_count(&self) -> u32 {
        self.count
    }

    /// INT of `size` bytes; `signed` sets the SIGNED encoding.
    pub fn add_int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
        let enc = if signed { INT_SIGNED as u32 } else { 0 };
        self.add_raw(
            name,
            info(Kind::Int, false, 0),
            size,
            &[(enc << 24) | (size * 8)],
        )
    }

    /// INT with explicit encoding bits, bit offset and width.
    pub fn add_int_raw(&mut self, name: &str, size: u32, enc: u8, off: u8, bits: u8) -> TypeId {
        let data = (enc as u32) << 24 | (off as u32) << 16 | bits as u32;
        self.add_raw(name, info(Kind::Int, false, 0), size, &[data])
    }

    /// FLOAT.
    pub fn add_float(&mut self, name: &str, size: u32) -> TypeId {
        self.add_raw(name, info(Kind::Float, false, 0), size, &[])
    }

    /// A one-reference kind: PTR, TYPEDEF, CONST, VOLATILE, RESTRICT, TYPE_TAG.
    pub fn add_ref(&mut self, kind: Kind, name: &str, target: TypeId) -> TypeId {
        self.add_raw(name, info(kind, false, 0), target.0, &[])
    }

    /// PTR to `target`.
    pub fn add_ptr(&mut self, target: TypeId) -> TypeId {
        self.add_ref(Kind::Ptr, "", target)
    }

    /// TYPEDEF.
    pub fn add_typedef(&mut self, name: &str, target: TypeId) -> TypeId {
        self.add_ref(Kind::Typedef, name, target)
    }

    /// CONST.
    pub fn add_const(&mut self, target: TypeId) -> TypeId {
        self.add_ref(Kind::Const, "", target)
    }

    /// VOLATILE.
    pub fn add_volatile(&mut self, target: TypeId) -> TypeId {
        self.add_ref(Kind::Volatile, "", target)
    }

    /// ARRAY of `nelems` `elem`s indexed by `index`.
    pub fn add_array(&mut self, elem: TypeId, index: TypeId, nelems: u32) -> TypeId {
        self.add_raw(
            "",
            info(Kind::Array, false, 0),
            0,
            &[elem.0, index.0, nelems],
        )
    }

    fn add_composite(
        &mut self,
        kind: Kind,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u32)],
    ) -> TypeId {
        let kflag = members.iter().any(|m| m.3 != 0);
        let mut extra = Vec::with_capacity(members.len() * 3);
        for &(mname, ty, bit_off, bits) in members {
            let off = if kflag { bits << 24 | bit_off } else { bit_off };
            extra.extend_from_slice(&[self.add_string(mname), ty.0, off]);
        }
        self.add_raw(name, info(kind, kflag, members.len()), size, &extra)
    }

    /// STRUCT with `(name, type, bit offset)` members.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let m: Vec<_> = members.iter().map(|&(n, t, o)| (n, t, o, 0)).collect();
        self.add_composite(Kind::Struct, name, size, &m)
    }

    /// UNION with `(name, type, bit offset)` members.
    pub fn add_union(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let m: Vec<_> = members.iter().map(|&(n, t, o)| (n, t, o, 0)).collect();
        self.add_composite(Kind::Union, name, size, &m)
    }

    /// STRUCT with `(name, type, bit offset, bitfield size)` members; uses the
    /// kind_flag encoding when any bitfield size is non-zero.
    pub fn add_struct_bits(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u32)],
    ) -> TypeId {
        self.add_composite(Kind::Struct, name, size, members)
    }

    /// ENUM (32-bit values).
    pub fn add_enum(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, i64)],
    ) -> TypeId {
        let mut extra = Vec::new();
        for &(n, v) in values {
            extra.extend_from_slice(&[self.add_string(n), v as u32]);
        }
        self.add_raw(name, info(Kind::Enum, signed, values.len()), size, &extra)
    }

    /// ENUM64.
    pub fn add_enum64(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, u64)],
    ) -> TypeId {
        let mut extra = Vec::new();
        for &(n, v) in values {
            extra.extend_from_slice(&[self.add_string(n), v as u32, (v >> 32) as u32]);
        }
        self.add_raw(name, info(Kind::Enum64, signed, values.len()), size, &extra)
    }

    /// FWD of a struct (or union).
    pub fn add_fwd(&mut self, name: &str, union: bool) -> TypeId {
        self.add_raw(name, info(Kind::Fwd, union, 0), 0, &[])
    }

    /// FUNC_PROTO with `(name, type)` params.
    pub fn add_func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let mut extra = Vec::new();
        for &(n, t) in params {
            extra.extend_from_slice(&[self.add_string(n), t.0]);
        }
        self.add_raw(
            "",
            info(Kind::FuncProto, false, params.len()),
            ret.0,
            &extra,
        )
    }

    /// FUNC with linkage 0 static, 1 global, 2 extern.
    pub fn add_func(&mut self, name: &str, proto: TypeId, linkage: u16) -> TypeId {
        self.add_raw(
            name,
            info(Kind::Func, false, linkage as usize),
            proto.0,
            &[],
        )
    }

    /// VAR with linkage 0 static, 1 global, 2 extern.
    pub fn add_var(&mut self, name: &str, ty: TypeId, linkage: u32) -> TypeId {
        self.add_raw(name, info(Kind::Var, false, 0), ty.0, &[linkage])
    }

    /// DATASEC with `(var, offset, size)` entries.
    pub fn add_datasec(&mut self, name: &str, size: u32, vars: &[(TypeId, u32, u32)]) -> TypeId {
        let mut extra = Vec::new();
        for &(t, o, s) in vars {
            extra.extend_from_slice(&[t.0, o, s]);
        }
        self.add_raw(name, info(Kind::Datasec, false, vars.len()), size, &extra)
    }

    /// DECL_TAG on `target` (`component_idx` -1 for the whole type).
    pub fn add_decl_tag(&mut self, name: &str, target: TypeId, component_idx: i32) -> TypeId {
        self.add_raw(
            name,
            info(Kind::DeclTag, false, 0),
            target.0,
            &[component_idx as u32],
        )
    }

    /// TYPE_TAG on `target`.
    pub fn add_type_tag(&mut self, name: &str, target: TypeId) -> TypeId {
        self.add_ref(Kind::TypeTag, name, target)
    }

    /// Little-endian `.BTF` bytes.
    pub fn build(&self) -> Vec<u8> {
        self.build_endian(false)
    }

    /// `.BTF` bytes in the chosen byte order.
    pub fn build_endian(&self, big_endian: bool) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let type_len = self.words.len() as u32 * 4;
        let mut out = Vec::with_capacity(24 + type_len as usize + self.strings.len());
        out.extend_from_slice(&if big_endian {
            BTF_MAGIC.to_be_bytes()
        } else {
            BTF_MAGIC.to_le_bytes()
        });
        out.extend_from_slice(&[1, 0]);
        for v in [24, 0, type_len, type_len, self.strings.len() as u32] {
            put(&mut out, v);
        }
        for &w in &self.words {
            put(&mut out, w);
        }
        out.extend_from_slice(&self.strings);
        out
    }
}

/// Builds little-endian `.BTF.ext` bytes; strings come from a [`BtfBuilder`].
#[derive(Debug, Clone, Default)]
pub struct BtfExtBuilder {
    /// Per subsection (func_info, line_info, core_relo): sections of records.
    subs: [Vec<(u32, Vec<Vec<u32>>)>; 3],
}

impl BtfExtBuilder {
    /// An empty builder.
    pub fn new() -> BtfExtBuilder {
        BtfExtBuilder::default()
    }

    fn section(&mut self, sub: usize, btf: &mut BtfBuilder, sec: &str) -> &mut Vec<Vec<u32>> {
        let name = btf.add_string(sec);
        let list = &mut self.subs[sub];
        if let Some(i) = list.iter().position(|(n, _)| *n == name) {
            &mut list[i].1
        } else {
            list.push((name, Vec::new()));
            &mut list.last_mut().expect("just pushed").1
        }
    }

    /// Adds a func_info record (`insn_off` in bytes).
    pub fn func_info(&mut self, btf: &mut BtfBuilder, sec: &str, insn_off: u32, func: TypeId) {
        self.section(0, btf, sec).push(vec![insn_off, func.0]);
    }

    /// Adds a line_info record.
    #[allow(clippy::too_many_arguments)]
    pub fn line_info(
        &mut self,
        btf: &mut BtfBuilder,
        sec: &str,
        insn_off: u32,
        file: &str,
        line: &str,
        line_num: u32,
        col: u32,
    ) {
        let (f, l) = (btf.add_string(file), btf.add_string(line));
        self.section(1, btf, sec)
            .push(vec![insn_off, f, l, line_num << 10 | (col & 0x3ff)]);
    }

    /// Adds a CO-RE relocation record.
    pub fn core_relo(
        &mut self,
        btf: &mut BtfBuilder,
        sec: &str,
        insn_off: u32,
        ty: TypeId,
        access: &str,
        kind: u32,
    ) {
        let a = btf.add_string(access);
        self.section(2, btf, sec)
            .push(vec![insn_off, ty.0, a, kind]);
    }

    /// The bytes, with each subsection's record size padded up to `rec_sizes`
    /// (at least the natural size: 8, 16, 16).
    pub fn build_padded(&self, rec_sizes: [u32; 3]) -> Vec<u8> {
        let mut body: Vec<u8> = Vec::new();
        let mut hdr = [0u32; 6];
        for (sub, list) in self.subs.iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let rec = rec_sizes[sub].max([8, 16, 16][sub]);
            hdr[2 * sub] = body.len() as u32;
            let start = body.len();
            body.extend_from_slice(&rec.to_le_bytes());
            for (name, recs) in list {
                body.extend_from_slice(&name.to_le_bytes());
                body.extend_from_slice(&(recs.len() as u32).to_le_bytes());
                for r in recs {
                    let before = body.len();
                    for w in r {
                        body.extend_from_slice(&w.to_le_bytes());
                    }
                    body.resize(before + rec as usize, 0);
                }
            }
            hdr[2 * sub + 1] = (body.len() - start) as u32;
        }
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&32u32.to_le_bytes());
        for v in hdr {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&body);
        out
    }

    /// The bytes with natural record sizes.
    pub fn build(&self) -> Vec<u8> {
        self.build_padded([0; 3])
    }
}
