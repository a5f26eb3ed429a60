//! The raw listing `bpftool btf dump file X` prints (bpftool v7), one type per line plus an
//! indented line per member, enumerator, parameter or section variable.

use std::fmt::Write;

use crate::types::Kind;
use crate::{Btf, TypeId};

impl Btf {
    /// The whole listing.
    pub fn dump_raw(&self) -> String {
        let mut out = String::new();
        for (id, _) in self.iter().skip(1) {
            self.dump_type(id, &mut out);
        }
        out
    }

    fn quoted(&self, name: &str) -> String {
        if name.is_empty() {
            "'(anon)'".into()
        } else {
            format!("'{name}'")
        }
    }

    fn dump_type(&self, id: TypeId, out: &mut String) {
        let t = match self.ty(id) {
            Some(t) => t,
            None => return,
        };
        let name = self.quoted(&t.name);
        let _ = write!(out, "[{}] {} {name}", id.0, t.kind.name());
        match &t.kind {
            Kind::Void => {}
            Kind::Int {
                size,
                encoding,
                bit_offset,
                bits,
            } => {
                let enc = match encoding.0 {
                    0 => "(none)",
                    1 => "SIGNED",
                    2 => "CHAR",
                    4 => "BOOL",
                    _ => "(unknown)",
                };
                let _ = write!(
                    out,
                    " size={size} bits_offset={bit_offset} nr_bits={bits} encoding={enc}"
                );
            }
            Kind::Ptr(x)
            | Kind::Typedef(x)
            | Kind::Volatile(x)
            | Kind::Const(x)
            | Kind::Restrict(x)
            | Kind::TypeTag(x) => {
                let _ = write!(out, " type_id={}", x.0);
            }
            Kind::Array { elem, index, len } => {
                let _ = write!(
                    out,
                    " type_id={} index_type_id={} nr_elems={len}",
                    elem.0, index.0
                );
            }
            Kind::Struct { size, members } | Kind::Union { size, members } => {
                let _ = write!(out, " size={size} vlen={}", members.len());
                for m in members {
                    let _ = write!(
                        out,
                        "\n\t{} type_id={} bits_offset={}",
                        self.quoted(&m.name),
                        m.ty.0,
                        m.bit_offset
                    );
                    if m.bitfield_size != 0 {
                        let _ = write!(out, " bitfield_size={}", m.bitfield_size);
                    }
                }
            }
            Kind::Enum {
                size,
                signed,
                values,
            } => {
                let enc = if *signed { "SIGNED" } else { "UNSIGNED" };
                let _ = write!(out, " encoding={enc} size={size} vlen={}", values.len());
                for v in values {
                    if *signed {
                        let _ = write!(out, "\n\t{} val={}", self.quoted(&v.name), v.value);
                    } else {
                        let _ = write!(out, "\n\t{} val={}", self.quoted(&v.name), v.value as u32);
                    }
                }
            }
            Kind::Enum64 {
                size,
                signed,
                values,
            } => {
                let enc = if *signed { "SIGNED" } else { "UNSIGNED" };
                let _ = write!(out, " encoding={enc} size={size} vlen={}", values.len());
                for v in values {
                    if *signed {
                        let _ = write!(out, "\n\t{} val={}LL", self.quoted(&v.name), v.value);
                    } else {
                        let _ = write!(
                            out,
                            "\n\t{} val={}ULL",
                            self.quoted(&v.name),
                            v.value as u64
                        );
                    }
                }
            }
            Kind::Fwd { union } => {
                let _ = write!(out, " fwd_kind={}", if *union { "union" } else { "struct" });
            }
            Kind::Func { proto, linkage } => {
                let _ = write!(out, " type_id={} linkage={}", proto.0, linkage.name());
            }
            Kind::FuncProto { ret, params } => {
                let _ = write!(out, " ret_type_id={} vlen={}", ret.0, params.len());
                for p in params {
                    let _ = write!(out, "\n\t{} type_id={}", self.quoted(&p.name), p.ty.0);
                }
            }
            Kind::Var { ty, linkage } => {
                let _ = write!(out, " type_id={}, linkage={}", ty.0, linkage.name());
            }
            Kind::Datasec { size, vars } => {
                let _ = write!(out, " size={size} vlen={}", vars.len());
                for v in vars {
                    let vt = self.ty(v.ty);
                    let (k, n) =
                        vt.map_or(("?", String::new()), |t| (t.kind.name(), t.name.clone()));
                    let _ = write!(
                        out,
                        "\n\ttype_id={} offset={} size={} ({k} {})",
                        v.ty.0,
                        v.offset,
                        v.size,
                        self.quoted(&n)
                    );
                }
            }
            Kind::Float { size } => {
                let _ = write!(out, " size={size}");
            }
            Kind::DeclTag { ty, component } => {
                let _ = write!(out, " type_id={} component_idx={component}", ty.0);
            }
        }
        out.push('\n');
    }
}
