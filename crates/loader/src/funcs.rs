//! The functions of a linked program as the verifier needs them: where each copy starts, its
//! name, whether it is global (BTF linkage), and its BTF signature reduced to what argument
//! checking uses (scalars, pointers to a named struct or to sized memory, `arg:` decl tags).
//! Global functions are verified once, on their own, against this signature; static ones in
//! their callers' context.

use bpfvet_btf::{Btf, Kind, TypeId, TypeKind};

use crate::object::{BpfObject, ProgramInfo};

/// One argument of a function's BTF prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuncArg {
    /// An integer or enum.
    Scalar,
    /// A pointer. `struct_name` is the pointee struct's name (modifiers and typedefs
    /// skipped), `typedef_name` the first typedef on the way (kprobe's
    /// `bpf_user_pt_regs_t`), `size` the pointee's byte size or why it has none.
    Ptr {
        struct_name: Option<String>,
        typedef_name: Option<String>,
        size: Result<u32, String>,
    },
    /// Anything else (struct by value, float, ...): the kind's name.
    Other(String),
}

/// A function's signature from BTF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncSig {
    /// Slot of the function's copy in the linked program.
    pub start: usize,
    pub name: String,
    /// BTF linkage global (verified on its own) rather than static.
    pub global: bool,
    /// The return type is an integer or enum.
    pub returns_scalar: bool,
    pub args: Vec<FuncArg>,
    /// Per argument: its `arg:<tag>` decl tags (`ctx`, `nonnull`, `nullable`, ...).
    pub tags: Vec<Vec<String>>,
}

/// Signatures of every function placed in `p`, in slot order; empty when the object has no
/// BTF function info for all of them.
pub fn signatures(obj: &BpfObject, p: &ProgramInfo) -> Vec<FuncSig> {
    let (Some(btf), Some(ext)) = (obj.btf.as_deref(), obj.btf_ext.as_ref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pl in &p.placements {
        let Some(fi) = ext
            .funcs(&pl.section_name)
            .iter()
            .find(|f| f.insn_off as usize == pl.section_start * 8)
        else {
            return Vec::new();
        };
        match signature_of(btf, fi.type_id, pl.start) {
            Some(s) => out.push(s),
            None => return Vec::new(),
        }
    }
    out.sort_by_key(|s| s.start);
    out.dedup_by_key(|s| s.start);
    out
}

/// The signature of `FUNC` type `func` whose copy starts at linked slot `start`.
pub fn signature_of(btf: &Btf, func: TypeId, start: usize) -> Option<FuncSig> {
    let t = btf.ty(func).ok()?;
    let TypeKind::Func { proto, linkage } = t.kind else {
        return None;
    };
    let name = btf.name(func).to_string();
    let TypeKind::FuncProto { ret, params } = &btf.ty(proto).ok()?.kind else {
        return None;
    };
    let ret_kind = btf
        .skip_mods_and_typedefs(*ret)
        .ok()
        .and_then(|r| btf.ty(r).ok())
        .map(|r| r.kind());
    let returns_scalar = matches!(ret_kind, Some(Kind::Int | Kind::Enum | Kind::Enum64));
    let args = params.iter().map(|p| arg(btf, p.ty)).collect();
    let mut tags = vec![Vec::new(); params.len()];
    for (_, ty) in btf.types() {
        if let TypeKind::DeclTag {
            target,
            component_idx,
        } = ty.kind
            && target == func
            && component_idx >= 0
            && let Some(slot) = tags.get_mut(component_idx as usize)
            && let Some(tag) = btf.name_at(ty.name_off).strip_prefix("arg:")
        {
            slot.push(tag.to_string());
        }
    }
    Some(FuncSig {
        start,
        name,
        global: linkage == 1,
        returns_scalar,
        args,
        tags,
    })
}

fn arg(btf: &Btf, ty: TypeId) -> FuncArg {
    let Ok(id) = btf.skip_mods_and_typedefs(ty) else {
        return FuncArg::Other("unresolvable".into());
    };
    let Ok(t) = btf.ty(id) else {
        return FuncArg::Other("unresolvable".into());
    };
    match &t.kind {
        TypeKind::Int { .. } | TypeKind::Enum { .. } | TypeKind::Enum64 { .. } => FuncArg::Scalar,
        TypeKind::Ptr { target } => {
            // The first typedef below the pointer (kprobe contexts are a typedef).
            let mut typedef_name = None;
            let mut cur = *target;
            for _ in 0..32 {
                let Ok(c) = btf.ty(cur) else { break };
                match &c.kind {
                    TypeKind::Typedef { target } => {
                        typedef_name.get_or_insert_with(|| btf.name(cur).to_string());
                        cur = *target;
                    }
                    TypeKind::Const { target }
                    | TypeKind::Volatile { target }
                    | TypeKind::Restrict { target }
                    | TypeKind::TypeTag { target } => cur = *target,
                    _ => break,
                }
            }
            let struct_name = btf
                .ty(cur)
                .ok()
                .filter(|c| c.kind() == Kind::Struct)
                .map(|_| btf.name(cur).to_string());
            let size = btf.resolve_size(cur).map_err(|e| e.to_string());
            FuncArg::Ptr {
                struct_name,
                typedef_name,
                size,
            }
        }
        other => FuncArg::Other(
            match other {
                TypeKind::Struct { .. } => "struct",
                TypeKind::Union { .. } => "union",
                TypeKind::Float { .. } => "float",
                TypeKind::Array { .. } => "array",
                _ => "unknown",
            }
            .to_string(),
        ),
    }
}
