//! CO-RE type relations: field compatibility (for field relocations), type
//! compatibility (TYPE_EXISTS/SIZE/ID_TARGET) and the stricter type match
//! (TYPE_MATCHES), with libbpf's depth limits.

use super::spec::{SpecErr, skip};
use crate::btf::Btf;
use crate::budget::Budget;
use crate::query::essential_name;
use crate::types::{INT_SIGNED, Kind, Type, TypeId, TypeKind};

/// Recursion budget for nested prototypes/composites and for pointer chains.
const MAX_LEVEL: i32 = 32;
/// Error when a comparison walks more of the type graph than any real type needs.
const TOO_COMPLEX: &str = "type comparison exceeded its work budget";

/// Same kind, or both enums of either width.
pub(crate) fn kinds_compat(a: &Type, b: &Type) -> bool {
    a.kind() == b.kind() || (a.kind().is_any_enum() && b.kind().is_any_enum())
}

fn int_offset(t: &Type) -> u8 {
    match t.kind {
        TypeKind::Int { offset, .. } => offset,
        _ => 0,
    }
}

fn int_encoding(t: &Type) -> u8 {
    match t.kind {
        TypeKind::Int { encoding, .. } => encoding,
        _ => 0,
    }
}

fn ty(btf: &Btf, id: TypeId) -> Result<&Type, SpecErr> {
    btf.ty(id).map_err(|e| e.to_string())
}

/// Whether a local field type and a target field type are compatible.
pub(crate) fn fields_are_compat(
    local: &Btf,
    mut local_id: TypeId,
    targ: &Btf,
    mut targ_id: TypeId,
) -> Result<bool, SpecErr> {
    // Arrays recurse on element types; the chain is bounded by the type count.
    for _ in 0..=local.type_count() {
        let (lid, lt) = skip(local, local_id)?;
        let (tid, tt) = skip(targ, targ_id)?;
        if lt.kind().is_composite() && tt.kind().is_composite() {
            return Ok(true);
        }
        if !kinds_compat(lt, tt) {
            return Ok(false);
        }
        match (&lt.kind, &tt.kind) {
            (TypeKind::Ptr { .. }, _) | (TypeKind::Float { .. }, _) => return Ok(true),
            (TypeKind::Fwd { .. } | TypeKind::Enum { .. } | TypeKind::Enum64 { .. }, _) => {
                let ln = essential_name(local.name(lid));
                let tn = essential_name(targ.name(tid));
                return Ok(ln.is_empty() || tn.is_empty() || ln == tn);
            }
            (TypeKind::Int { .. }, _) => return Ok(int_offset(lt) == 0 && int_offset(tt) == 0),
            (TypeKind::Array { elem: le, .. }, TypeKind::Array { elem: te, .. }) => {
                local_id = *le;
                targ_id = *te;
            }
            _ => return Ok(false),
        }
    }
    Err(format!(
        "array nesting too deep comparing [{}] and [{}]",
        local_id.0, targ_id.0
    ))
}

/// TYPE_EXISTS-style compatibility (root kinds must agree before skipping).
pub(crate) fn types_are_compat(
    local: &Btf,
    local_id: TypeId,
    targ: &Btf,
    targ_id: TypeId,
) -> Result<bool, SpecErr> {
    compat_level(local, local_id, targ, targ_id, MAX_LEVEL, &Budget::new())
}

fn compat_level(
    local: &Btf,
    mut local_id: TypeId,
    targ: &Btf,
    mut targ_id: TypeId,
    level: i32,
    budget: &Budget,
) -> Result<bool, SpecErr> {
    if !kinds_compat(ty(local, local_id)?, ty(targ, targ_id)?) {
        return Ok(false);
    }
    let mut depth = MAX_LEVEL;
    loop {
        depth -= 1;
        if !budget.spend() {
            return Err(TOO_COMPLEX.into());
        }
        if depth < 0 {
            return Err(format!(
                "type chain too deep comparing [{}] and [{}]",
                local_id.0, targ_id.0
            ));
        }
        let (_, lt) = skip(local, local_id)?;
        let (_, tt) = skip(targ, targ_id)?;
        if !kinds_compat(lt, tt) {
            return Ok(false);
        }
        match (&lt.kind, &tt.kind) {
            (TypeKind::Void, _)
            | (TypeKind::Struct { .. }, _)
            | (TypeKind::Union { .. }, _)
            | (TypeKind::Enum { .. }, _)
            | (TypeKind::Enum64 { .. }, _)
            | (TypeKind::Fwd { .. }, _) => return Ok(true),
            (TypeKind::Int { .. }, _) => return Ok(int_offset(lt) == 0 && int_offset(tt) == 0),
            (TypeKind::Ptr { target: l }, TypeKind::Ptr { target: t }) => {
                (local_id, targ_id) = (*l, *t);
            }
            (TypeKind::Array { elem: l, .. }, TypeKind::Array { elem: t, .. }) => {
                (local_id, targ_id) = (*l, *t);
            }
            (
                TypeKind::FuncProto {
                    ret: lr,
                    params: lp,
                },
                TypeKind::FuncProto {
                    ret: tr,
                    params: tp,
                },
            ) => {
                if lp.len() != tp.len() {
                    return Ok(false);
                }
                for (a, b) in lp.iter().zip(tp) {
                    if level <= 0 {
                        return Err("prototype nesting too deep".into());
                    }
                    let a = skip(local, a.ty)?.0;
                    let b = skip(targ, b.ty)?.0;
                    if !compat_level(local, a, targ, b, level - 1, budget)? {
                        return Ok(false);
                    }
                }
                (local_id, targ_id) = (skip(local, *lr)?.0, skip(targ, *tr)?.0);
            }
            _ => return Ok(false),
        }
    }
}

/// Names equal modulo flavor suffix; an anonymous target matches only an
/// anonymous local.
fn names_match(local: &Btf, local_off: u32, targ: &Btf, targ_off: u32) -> bool {
    let ln = local.name_at(local_off);
    let tn = targ.name_at(targ_off);
    if tn.is_empty() {
        return ln.is_empty();
    }
    essential_name(ln) == essential_name(tn)
}

fn enums_match(local: &Btf, lt: &Type, targ: &Btf, tt: &Type) -> bool {
    let (lv, tv) = match (lt.enum_values(), tt.enum_values()) {
        (Some(l), Some(t)) => (l, t),
        _ => return false,
    };
    if lt.size_or_type != tt.size_or_type || lv.len() > tv.len() {
        return false;
    }
    lv.iter().all(|l| {
        tv.iter()
            .any(|t| names_match(local, l.name_off, targ, t.name_off))
    })
}

fn composites_match(
    local: &Btf,
    lt: &Type,
    targ: &Btf,
    tt: &Type,
    behind_ptr: bool,
    level: i32,
    budget: &Budget,
) -> Result<bool, SpecErr> {
    let (lm, tm) = match (lt.members(), tt.members()) {
        (Some(l), Some(t)) => (l, t),
        _ => return Ok(false),
    };
    if lm.len() > tm.len() {
        return Ok(false);
    }
    for l in lm {
        let mut matched = false;
        for t in tm {
            if !names_match(local, l.name_off, targ, t.name_off) {
                continue;
            }
            if match_level(local, l.ty, targ, t.ty, behind_ptr, level - 1, budget)? {
                matched = true;
                break;
            }
        }
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}

/// TYPE_MATCHES relation (root names assumed already matched by the caller).
pub(crate) fn types_match(
    local: &Btf,
    local_id: TypeId,
    targ: &Btf,
    targ_id: TypeId,
) -> Result<bool, SpecErr> {
    match_level(
        local,
        local_id,
        targ,
        targ_id,
        false,
        MAX_LEVEL,
        &Budget::new(),
    )
}

fn match_level(
    local: &Btf,
    mut local_id: TypeId,
    targ: &Btf,
    mut targ_id: TypeId,
    mut behind_ptr: bool,
    level: i32,
    budget: &Budget,
) -> Result<bool, SpecErr> {
    if level <= 0 {
        return Err("type match nesting too deep".into());
    }
    let mut depth = MAX_LEVEL;
    loop {
        depth -= 1;
        if !budget.spend() {
            return Err(TOO_COMPLEX.into());
        }
        if depth < 0 {
            return Err(format!(
                "type chain too deep matching [{}] and [{}]",
                local_id.0, targ_id.0
            ));
        }
        let (_, lt) = skip(local, local_id)?;
        let (_, tt) = skip(targ, targ_id)?;
        if !names_match(local, lt.name_off, targ, tt.name_off) {
            return Ok(false);
        }
        let (lk, tk) = (lt.kind(), tt.kind());
        match lk {
            Kind::Void => return Ok(lk == tk),
            Kind::Fwd => {
                let lf = lt.kind_flag();
                return Ok(if lk == tk {
                    lf == tt.kind_flag()
                } else if behind_ptr {
                    (tk == Kind::Struct && !lf) || (tk == Kind::Union && lf)
                } else {
                    false
                });
            }
            Kind::Enum | Kind::Enum64 => {
                return Ok(tk.is_any_enum() && enums_match(local, lt, targ, tt));
            }
            Kind::Struct | Kind::Union => {
                if behind_ptr {
                    if lk == tk {
                        return Ok(true);
                    }
                    return Ok(tk == Kind::Fwd && (lk == Kind::Union) == tt.kind_flag());
                }
                if lk != tk {
                    return Ok(false);
                }
                return composites_match(local, lt, targ, tt, behind_ptr, level, budget);
            }
            Kind::Int => {
                if lk != tk {
                    return Ok(false);
                }
                let ls = int_encoding(lt) & INT_SIGNED;
                let ts = int_encoding(tt) & INT_SIGNED;
                return Ok(lt.size_or_type == tt.size_or_type && ls == ts);
            }
            Kind::Ptr => {
                if lk != tk {
                    return Ok(false);
                }
                behind_ptr = true;
                local_id = TypeId(lt.size_or_type);
                targ_id = TypeId(tt.size_or_type);
            }
            Kind::Array => {
                let (
                    TypeKind::Array {
                        elem: le,
                        nelems: ln,
                        ..
                    },
                    TypeKind::Array {
                        elem: te,
                        nelems: tn,
                        ..
                    },
                ) = (&lt.kind, &tt.kind)
                else {
                    return Ok(false);
                };
                if ln != tn {
                    return Ok(false);
                }
                (local_id, targ_id) = (*le, *te);
            }
            Kind::FuncProto => {
                let (
                    TypeKind::FuncProto {
                        ret: lr,
                        params: lp,
                    },
                    TypeKind::FuncProto {
                        ret: tr,
                        params: tp,
                    },
                ) = (&lt.kind, &tt.kind)
                else {
                    return Ok(false);
                };
                if lp.len() != tp.len() {
                    return Ok(false);
                }
                for (a, b) in lp.iter().zip(tp) {
                    if !match_level(local, a.ty, targ, b.ty, behind_ptr, level - 1, budget)? {
                        return Ok(false);
                    }
                }
                (local_id, targ_id) = (*lr, *tr);
            }
            _ => return Ok(false),
        }
    }
}
