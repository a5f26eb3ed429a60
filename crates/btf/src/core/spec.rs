//! CO-RE access specs: parsing an access string against the local type
//! ("0:1:2" → accessors and a bit offset) and matching that spec against a
//! candidate target type, member by member, through anonymous members and arrays.

use super::compat::{fields_are_compat, types_are_compat, types_match};
use crate::btf::Btf;
use crate::budget::Budget;
use crate::ext::CoreReloKind;
use crate::query::essential_name;
use crate::types::{Kind, Type, TypeId, TypeKind};

/// Most accessors an access string may hold (libbpf's limit).
pub const MAX_SPEC_LEN: usize = 64;

/// One high-level step: a named member, an array index, or an enumerator.
#[derive(Debug, Clone)]
pub(crate) struct Accessor<'a> {
    /// The struct/union (for members), element type (for indexes) or enum.
    pub type_id: TypeId,
    /// Member, element or enumerator index.
    pub idx: u32,
    /// Member or enumerator name; `None` for array indexes.
    pub name: Option<&'a str>,
}

/// A resolved access path in one BTF.
#[derive(Debug, Clone)]
pub(crate) struct Spec<'a> {
    pub btf: &'a Btf,
    pub root: TypeId,
    pub kind: CoreReloKind,
    /// Every index of the access string (low level, including anonymous members).
    pub raw: Vec<u32>,
    /// Named members and array indexes only (high level).
    pub acc: Vec<Accessor<'a>>,
    /// Bit offset from the start of the root type (32-bit wrapping, as libbpf).
    pub bit_offset: u32,
}

/// A spec step that failed outright (not a mere non-match).
pub(crate) type SpecErr = String;

pub(crate) fn skip(btf: &Btf, id: TypeId) -> Result<(TypeId, &Type), SpecErr> {
    let id = btf.skip_mods_and_typedefs(id).map_err(|e| e.to_string())?;
    let t = btf.ty(id).map_err(|e| e.to_string())?;
    Ok((id, t))
}

fn size_of(btf: &Btf, id: TypeId) -> Result<u32, SpecErr> {
    btf.resolve_size(id).map_err(|e| e.to_string())
}

/// Flexible array: zero elements, reached as the last member of a struct.
fn is_flex_arr(btf: &Btf, prev: Option<&Accessor<'_>>, nelems: u32) -> bool {
    let Some(prev) = prev else { return false };
    if prev.name.is_none() || nelems > 0 {
        return false;
    }
    btf.ty(prev.type_id)
        .map(|t| prev.idx as usize + 1 == t.vlen() as usize)
        .unwrap_or(false)
}

/// Parses the decimal indexes of an access string the way `sscanf("%d")`
/// reads them: optional blanks and sign, then digits, separated by single colons.
fn parse_access(s: &str) -> Result<Vec<u32>, SpecErr> {
    if s.is_empty() || s.starts_with(':') {
        return Err(format!("invalid access string '{s}'"));
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        if b[i] == b':' {
            i += 1;
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let neg = i < b.len() && b[i] == b'-';
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let start = i;
        let mut v: i64 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            v = (v * 10 + (b[i] - b'0') as i64).min(i64::from(i32::MAX) + 1);
            i += 1;
        }
        if i == start {
            return Err(format!("invalid access string '{s}'"));
        }
        if neg && v != 0 {
            return Err(format!("negative index in access string '{s}'"));
        }
        if v > i64::from(i32::MAX) {
            return Err(format!("index out of range in access string '{s}'"));
        }
        if out.len() == MAX_SPEC_LEN {
            return Err(format!(
                "access string '{s}' has more than {MAX_SPEC_LEN} indexes"
            ));
        }
        out.push(v as u32);
    }
    Ok(out)
}

/// Builds the local spec of a relocation.
pub(crate) fn parse_spec<'a>(
    btf: &'a Btf,
    root: TypeId,
    access: &str,
    kind: CoreReloKind,
) -> Result<Spec<'a>, SpecErr> {
    if access.is_empty() || access.starts_with(':') {
        return Err(format!("invalid access string '{access}'"));
    }
    let mut spec = Spec {
        btf,
        root,
        kind,
        raw: Vec::new(),
        acc: Vec::new(),
        bit_offset: 0,
    };
    if kind.is_type() {
        if access != "0" {
            return Err(format!(
                "type-based relocation needs access string '0', got '{access}'"
            ));
        }
        return Ok(spec);
    }
    spec.raw = parse_access(access)?;
    let (mut id, t) = skip(btf, root)?;
    let first = spec.raw[0];
    spec.acc.push(Accessor {
        type_id: id,
        idx: first,
        name: None,
    });
    if kind.is_enumval() {
        let values = match t.enum_values() {
            Some(v) if spec.raw.len() == 1 && (first as usize) < v.len() => v,
            _ => {
                return Err(format!(
                    "enumerator access '{access}' does not name an enumerator of [{}] {}",
                    id.0,
                    t.kind()
                ));
            }
        };
        spec.acc[0].name = Some(btf.name_at(values[first as usize].name_off));
        return Ok(spec);
    }
    let sz = size_of(btf, id)?;
    spec.bit_offset = (first as u64 * sz as u64 * 8) as u32;
    for i in 1..spec.raw.len() {
        let (cur, t) = skip(btf, id)?;
        id = cur;
        let idx = spec.raw[i];
        match &t.kind {
            TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => {
                let Some(m) = members.get(idx as usize) else {
                    return Err(format!(
                        "member index {idx} out of range for [{}] {} with {} members",
                        id.0,
                        t.kind(),
                        members.len()
                    ));
                };
                spec.bit_offset = spec.bit_offset.wrapping_add(m.bit_offset);
                if m.name_off != 0 {
                    let name = btf.name_at(m.name_off);
                    if name.is_empty() {
                        return Err(format!("member {idx} of [{}] has an empty name", id.0));
                    }
                    spec.acc.push(Accessor {
                        type_id: id,
                        idx,
                        name: Some(name),
                    });
                }
                id = m.ty;
            }
            TypeKind::Array { elem, nelems, .. } => {
                let (elem_id, _) = skip(btf, *elem)?;
                id = elem_id;
                let flex = is_flex_arr(btf, spec.acc.last(), *nelems);
                if !flex && idx >= *nelems {
                    return Err(format!(
                        "array index {idx} out of range for [{}] with {nelems} elements",
                        cur.0
                    ));
                }
                spec.acc.push(Accessor {
                    type_id: id,
                    idx,
                    name: None,
                });
                let sz = size_of(btf, id)?;
                spec.bit_offset = spec
                    .bit_offset
                    .wrapping_add((idx as u64 * sz as u64 * 8) as u32);
            }
            _ => {
                return Err(format!(
                    "access '{access}' (at index {i}) reaches [{}] of unexpected kind {}",
                    id.0,
                    t.kind()
                ));
            }
        }
    }
    Ok(spec)
}

/// Finds the target member matching local accessor `local_acc`, searching
/// anonymous members recursively; extends `spec` on success. `Ok(Some(next))`
/// gives the matched member's type.
fn match_member<'a>(
    local: &Spec<'_>,
    local_acc: &Accessor<'_>,
    targ_btf: &'a Btf,
    targ_id: TypeId,
    spec: &mut Spec<'a>,
    budget: &Budget,
) -> Result<Option<TypeId>, SpecErr> {
    let (targ_id, targ_t) = skip(targ_btf, targ_id)?;
    let Some(targ_members) = targ_t.members() else {
        return Ok(None);
    };
    let local_t = local.btf.ty(local_acc.type_id).map_err(|e| e.to_string())?;
    let Some(local_m) = local_t
        .members()
        .and_then(|m| m.get(local_acc.idx as usize))
    else {
        return Err(format!(
            "local accessor [{}] is not a member",
            local_acc.type_id.0
        ));
    };
    let local_name = local.btf.name_at(local_m.name_off);
    for (i, m) in targ_members.iter().enumerate() {
        if spec.raw.len() == MAX_SPEC_LEN {
            return Err(format!("target nesting deeper than {MAX_SPEC_LEN}"));
        }
        if !budget.spend() {
            return Err("member search exceeded its work budget".into());
        }
        spec.bit_offset = spec.bit_offset.wrapping_add(m.bit_offset);
        spec.raw.push(i as u32);
        let targ_name = targ_btf.name_at(m.name_off);
        if targ_name.is_empty() {
            if let Some(found) = match_member(local, local_acc, targ_btf, m.ty, spec, budget)? {
                return Ok(Some(found));
            }
        } else if targ_name == local_name {
            spec.acc.push(Accessor {
                type_id: targ_id,
                idx: i as u32,
                name: Some(targ_name),
            });
            if fields_are_compat(local.btf, local_m.ty, targ_btf, m.ty)? {
                return Ok(Some(m.ty));
            }
            spec.acc.pop();
            return Ok(None);
        }
        spec.bit_offset = spec.bit_offset.wrapping_sub(m.bit_offset);
        spec.raw.pop();
    }
    Ok(None)
}

/// Matches the local spec against candidate `targ_id`; `Ok(None)` = no match.
pub(crate) fn spec_match<'a>(
    local: &Spec<'_>,
    targ_btf: &'a Btf,
    targ_id: TypeId,
) -> Result<Option<Spec<'a>>, SpecErr> {
    let mut spec = Spec {
        btf: targ_btf,
        root: targ_id,
        kind: local.kind,
        raw: Vec::new(),
        acc: Vec::new(),
        bit_offset: 0,
    };
    if local.kind.is_type() {
        let ok = if local.kind == CoreReloKind::TypeMatches {
            types_match(local.btf, local.root, targ_btf, targ_id)?
        } else {
            types_are_compat(local.btf, local.root, targ_btf, targ_id)?
        };
        return Ok(ok.then_some(spec));
    }
    if local.kind.is_enumval() {
        let (tid, t) = skip(targ_btf, targ_id)?;
        let Some(values) = t.enum_values() else {
            return Ok(None);
        };
        let want = essential_name(local.acc[0].name.unwrap_or(""));
        for (i, v) in values.iter().enumerate() {
            let name = targ_btf.name_at(v.name_off);
            if essential_name(name) == want {
                spec.acc.push(Accessor {
                    type_id: tid,
                    idx: i as u32,
                    name: Some(name),
                });
                spec.raw.push(i as u32);
                return Ok(Some(spec));
            }
        }
        return Ok(None);
    }
    let budget = Budget::new();
    let mut targ_id = targ_id;
    for (i, local_acc) in local.acc.iter().enumerate() {
        let (tid, targ_t) = skip(targ_btf, targ_id)?;
        targ_id = tid;
        if local_acc.name.is_some() {
            match match_member(local, local_acc, targ_btf, targ_id, &mut spec, &budget)? {
                Some(next) => targ_id = next,
                None => return Ok(None),
            }
        } else {
            if i > 0 {
                let TypeKind::Array { elem, nelems, .. } = targ_t.kind else {
                    return Ok(None);
                };
                let flex = is_flex_arr(targ_btf, spec.acc.last(), nelems);
                if !flex && local_acc.idx >= nelems {
                    return Ok(None);
                }
                targ_id = skip(targ_btf, elem)?.0;
            }
            if spec.raw.len() == MAX_SPEC_LEN {
                return Err(format!("target nesting deeper than {MAX_SPEC_LEN}"));
            }
            spec.acc.push(Accessor {
                type_id: targ_id,
                idx: local_acc.idx,
                name: None,
            });
            spec.raw.push(local_acc.idx);
            let sz = size_of(targ_btf, targ_id)?;
            spec.bit_offset = spec
                .bit_offset
                .wrapping_add((local_acc.idx as u64 * sz as u64 * 8) as u32);
        }
    }
    Ok(Some(spec))
}

/// Human-readable spec: `<byte_off> [7] struct task_struct.pid (0:57 @ offset 2440)`.
pub(crate) fn format_spec(spec: &Spec<'_>) -> String {
    let btf = spec.btf;
    let (kname, name) = match btf.ty(spec.root) {
        Ok(t) => (t.kind().name().to_ascii_lowercase(), btf.name(spec.root)),
        Err(_) => ("?".into(), ""),
    };
    let name = if name.is_empty() { "<anon>" } else { name };
    let mut s = format!(
        "<{}> [{}] {} {}",
        spec.kind.name(),
        spec.root.0,
        kname,
        name
    );
    if spec.kind.is_type() {
        return s;
    }
    if spec.kind.is_enumval() {
        if let (Some(a), Ok((_, t))) = (spec.acc.first(), skip(btf, spec.root))
            && let Some(v) = t.enum_values().and_then(|v| v.get(a.idx as usize))
        {
            let signed = t.kind_flag();
            let val = match (t.kind() == Kind::Enum, signed) {
                (true, true) => (v.val as i32).to_string(),
                (true, false) => (v.val as u32).to_string(),
                (false, true) => (v.val as i64).to_string(),
                (false, false) => v.val.to_string(),
            };
            s.push_str(&format!("::{} = {}", btf.name_at(v.name_off), val));
        }
        return s;
    }
    for (i, a) in spec.acc.iter().enumerate() {
        match a.name {
            Some(n) => s.push_str(&format!(".{n}")),
            None if i > 0 || a.idx > 0 => s.push_str(&format!("[{}]", a.idx)),
            None => {}
        }
    }
    let raw: Vec<String> = spec.raw.iter().map(|r| r.to_string()).collect();
    s.push_str(&format!(" ({}", raw.join(":")));
    if !spec.bit_offset.is_multiple_of(8) {
        s.push_str(&format!(
            " @ offset {}.{})",
            spec.bit_offset / 8,
            spec.bit_offset % 8
        ));
    } else {
        s.push_str(&format!(" @ offset {})", spec.bit_offset / 8));
    }
    s
}
