//! The raw text listing of all types, line for line as `bpftool btf dump file X
//! format raw` (bpftool v7.1) prints it.

use crate::btf::Btf;
use crate::types::{Kind, Type, TypeId, TypeKind};
use std::fmt::Write;

/// Encoding names of INT types as bpftool prints them.
fn int_encoding(enc: u8) -> &'static str {
    match enc {
        0 => "(none)",
        1 => "SIGNED",
        2 => "CHAR",
        4 => "BOOL",
        _ => "UNKN",
    }
}

/// Linkage names of FUNCs and VARs (0 static, 1 global, 2 extern).
fn linkage(l: u32) -> &'static str {
    ["static", "global", "extern"]
        .get(l as usize)
        .copied()
        .unwrap_or("(unknown)")
}

impl Btf {
    /// Name for dumps: `(anon)` for offset 0.
    fn dump_name(&self, off: u32) -> &str {
        if off == 0 {
            "(anon)"
        } else {
            self.str_at(off).unwrap_or("(invalid)")
        }
    }

    /// One type's listing (one or more lines, no trailing newline).
    pub fn dump_type(&self, id: TypeId) -> String {
        let mut s = String::new();
        if let Ok(t) = self.ty(id) {
            self.dump_into(&mut s, id, t);
        }
        s
    }

    /// All types, one `[id] KIND 'name' ...` entry each, newline-terminated,
    /// identical to bpftool's raw format.
    pub fn dump_raw(&self) -> String {
        let mut s = String::with_capacity(self.types.len() * 64);
        for (id, t) in self.types() {
            self.dump_into(&mut s, id, t);
            s.push('\n');
        }
        s
    }

    fn dump_into(&self, s: &mut String, id: TypeId, t: &Type) {
        let _ = write!(
            s,
            "[{}] {} '{}'",
            id.0,
            t.kind().name(),
            self.dump_name(t.name_off)
        );
        let _ = match &t.kind {
            TypeKind::Void => Ok(()),
            TypeKind::Int {
                size,
                encoding,
                offset,
                bits,
            } => write!(
                s,
                " size={size} bits_offset={offset} nr_bits={bits} encoding={}",
                int_encoding(*encoding)
            ),
            TypeKind::Ptr { target }
            | TypeKind::Const { target }
            | TypeKind::Volatile { target }
            | TypeKind::Restrict { target }
            | TypeKind::Typedef { target }
            | TypeKind::TypeTag { target } => write!(s, " type_id={}", target.0),
            TypeKind::Array {
                elem,
                index,
                nelems,
            } => write!(
                s,
                " type_id={} index_type_id={} nr_elems={nelems}",
                elem.0, index.0
            ),
            TypeKind::Struct { size, members } | TypeKind::Union { size, members } => {
                let _ = write!(s, " size={size} vlen={}", t.vlen());
                for m in members {
                    let _ = write!(
                        s,
                        "\n\t'{}' type_id={} bits_offset={}",
                        self.dump_name(m.name_off),
                        m.ty.0,
                        m.bit_offset
                    );
                    if m.bitfield_size != 0 {
                        let _ = write!(s, " bitfield_size={}", m.bitfield_size);
                    }
                }
                Ok(())
            }
            TypeKind::Enum {
                size,
                signed,
                values,
            }
            | TypeKind::Enum64 {
                size,
                signed,
                values,
            } => {
                let enc = if *signed { "SIGNED" } else { "UNSIGNED" };
                let _ = write!(s, " encoding={enc} size={size} vlen={}", t.vlen());
                let wide = t.kind() == Kind::Enum64;
                for v in values {
                    let name = self.dump_name(v.name_off);
                    let _ = match (wide, *signed) {
                        (false, true) => write!(s, "\n\t'{name}' val={}", v.val as i32),
                        (false, false) => write!(s, "\n\t'{name}' val={}", v.val as u32),
                        (true, true) => write!(s, "\n\t'{name}' val={}LL", v.val as i64),
                        (true, false) => write!(s, "\n\t'{name}' val={}ULL", v.val),
                    };
                }
                Ok(())
            }
            TypeKind::Fwd { union } => {
                write!(s, " fwd_kind={}", if *union { "union" } else { "struct" })
            }
            TypeKind::Func { proto, linkage: l } => {
                write!(s, " type_id={} linkage={}", proto.0, linkage(*l as u32))
            }
            TypeKind::FuncProto { ret, params } => {
                let _ = write!(s, " ret_type_id={} vlen={}", ret.0, t.vlen());
                for p in params {
                    let _ = write!(s, "\n\t'{}' type_id={}", self.dump_name(p.name_off), p.ty.0);
                }
                Ok(())
            }
            TypeKind::Var { ty, linkage: l } => {
                write!(s, " type_id={}, linkage={}", ty.0, linkage(*l))
            }
            TypeKind::Datasec { size, vars } => {
                let _ = write!(s, " size={size} vlen={}", t.vlen());
                for v in vars {
                    let _ = write!(
                        s,
                        "\n\ttype_id={} offset={} size={}",
                        v.ty.0, v.offset, v.size
                    );
                    if let Ok(vt) = self.ty(v.ty) {
                        let _ = write!(
                            s,
                            " ({} '{}')",
                            vt.kind().name(),
                            self.dump_name(vt.name_off)
                        );
                    }
                }
                Ok(())
            }
            TypeKind::Float { size } => write!(s, " size={size}"),
            TypeKind::DeclTag {
                target,
                component_idx,
            } => write!(s, " type_id={} component_idx={component_idx}", target.0),
        };
    }
}
