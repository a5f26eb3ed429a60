//! Type queries on a parsed [`Btf`]: lookup by id and name, size resolution,
//! modifier skipping, and member/enumerator/parameter/variable access.

use crate::btf::Btf;
use crate::budget::Budget;
use crate::error::BtfError;
use crate::types::{EnumValue, Kind, Member, Param, Type, TypeId, TypeKind, VarSecinfo};

/// Depth limit of `resolve_size` (libbpf's MAX_RESOLVE_DEPTH).
pub const MAX_RESOLVE_DEPTH: usize = 32;
/// Depth limit of modifier/typedef chains in `skip_mods_and_typedefs`.
pub const MAX_MODS_DEPTH: usize = 256;
/// Size of a pointer on the BPF target.
pub const PTR_SIZE: u32 = 8;

/// The part of a name before its last `___flavor` suffix (the whole name if none):
/// `task_struct___v1` → `task_struct`. A separator needs a non-underscore on both sides.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() >= 5 {
        for i in (0..=b.len() - 5).rev() {
            if b[i] != b'_'
                && b[i + 1] == b'_'
                && b[i + 2] == b'_'
                && b[i + 3] == b'_'
                && b[i + 4] != b'_'
            {
                return &name[..=i];
            }
        }
    }
    name
}

impl Btf {
    /// Number of types including `void` (valid ids are `0..type_count()`).
    pub fn type_count(&self) -> u32 {
        self.types.len() as u32
    }

    /// The type with this id.
    pub fn ty(&self, id: TypeId) -> Result<&Type, BtfError> {
        self.types
            .get(id.0 as usize)
            .ok_or(BtfError::NoSuchType(id))
    }

    /// The type's name (`""` for anonymous types and for ids that do not exist).
    pub fn name(&self, id: TypeId) -> &str {
        self.types
            .get(id.0 as usize)
            .and_then(|t| self.str_at(t.name_off))
            .unwrap_or("")
    }

    /// A name by string offset (`""` when out of range; offsets in a parsed
    /// `Btf` are validated so that only happens for foreign offsets).
    pub fn name_at(&self, off: u32) -> &str {
        self.str_at(off).unwrap_or("")
    }

    /// All types with their ids, starting at 1 (void is skipped).
    pub fn types(&self) -> impl Iterator<Item = (TypeId, &Type)> {
        self.types
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, t)| (TypeId(i as u32), t))
    }

    fn name_index(&self) -> &[u32] {
        self.name_index.get_or_init(|| {
            let mut keyed: Vec<(&str, u32)> = (1..self.type_count())
                .filter(|&i| self.types[i as usize].name_off != 0)
                .map(|i| (essential_name(self.name(TypeId(i))), i))
                .collect();
            keyed.sort_unstable();
            keyed.into_iter().map(|(_, i)| i).collect()
        })
    }

    /// Named types whose essential name (name without `___suffix`) equals
    /// `essential_name(name)`, in id order.
    pub fn types_by_essential_name(&self, name: &str) -> Vec<TypeId> {
        let key = essential_name(name);
        let idx = self.name_index();
        let start = idx.partition_point(|&i| essential_name(self.name(TypeId(i))) < key);
        idx[start..]
            .iter()
            .take_while(|&&i| essential_name(self.name(TypeId(i))) == key)
            .map(|&i| TypeId(i))
            .collect()
    }

    /// The first type (lowest id) of `kind` named exactly `name`.
    pub fn find(&self, kind: Kind, name: &str) -> Option<TypeId> {
        self.types_by_essential_name(name)
            .into_iter()
            .find(|&id| self.types[id.0 as usize].kind() == kind && self.name(id) == name)
    }

    /// All types named exactly `name`, any kind, in id order.
    pub fn find_all(&self, name: &str) -> Vec<TypeId> {
        self.types_by_essential_name(name)
            .into_iter()
            .filter(|&id| self.name(id) == name)
            .collect()
    }

    /// Follows const/volatile/restrict/type tags and typedefs to the first other type.
    pub fn skip_mods_and_typedefs(&self, id: TypeId) -> Result<TypeId, BtfError> {
        self.skip_while(id, "skipping modifiers and typedefs", |k| {
            k.is_modifier() || k == Kind::Typedef
        })
    }

    /// Follows const/volatile/restrict/type tags (not typedefs).
    pub fn skip_mods(&self, id: TypeId) -> Result<TypeId, BtfError> {
        self.skip_while(id, "skipping modifiers", Kind::is_modifier)
    }

    fn skip_while(
        &self,
        start: TypeId,
        what: &'static str,
        skip: impl Fn(Kind) -> bool,
    ) -> Result<TypeId, BtfError> {
        let mut id = start;
        for _ in 0..MAX_MODS_DEPTH {
            let t = self.ty(id)?;
            if !skip(t.kind()) {
                return Ok(id);
            }
            id = t.ref_type().unwrap_or(TypeId::VOID);
        }
        Err(BtfError::TooDeep { start, what })
    }

    /// Byte size of a type, through typedefs, modifiers, VARs, tags and arrays
    /// (libbpf's rules: pointers are 8 bytes; void, FWD, FUNC and FUNC_PROTO
    /// have no size; results must fit 32 bits).
    pub fn resolve_size(&self, id: TypeId) -> Result<u32, BtfError> {
        let mut nelems: u32 = 1;
        let mut cur = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.ty(cur)?;
            let size = match &t.kind {
                TypeKind::Int { size, .. }
                | TypeKind::Struct { size, .. }
                | TypeKind::Union { size, .. }
                | TypeKind::Enum { size, .. }
                | TypeKind::Enum64 { size, .. }
                | TypeKind::Datasec { size, .. }
                | TypeKind::Float { size } => *size,
                TypeKind::Ptr { .. } => PTR_SIZE,
                TypeKind::Array {
                    elem, nelems: n, ..
                } => {
                    nelems = nelems.checked_mul(*n).ok_or(BtfError::SizeOverflow(id))?;
                    cur = *elem;
                    continue;
                }
                TypeKind::Void
                | TypeKind::Fwd { .. }
                | TypeKind::Func { .. }
                | TypeKind::FuncProto { .. } => {
                    return Err(BtfError::Unsized {
                        type_id: cur,
                        kind: t.kind(),
                    });
                }
                _ => {
                    cur = t.ref_type().unwrap_or(TypeId::VOID);
                    continue;
                }
            };
            return nelems.checked_mul(size).ok_or(BtfError::SizeOverflow(id));
        }
        Err(BtfError::TooDeep {
            start: id,
            what: "resolving the size",
        })
    }

    /// Members of a struct/union (after skipping modifiers and typedefs), or
    /// `None` if the type is not one.
    pub fn members(&self, id: TypeId) -> Option<&[Member]> {
        let id = self.skip_mods_and_typedefs(id).ok()?;
        self.ty(id).ok()?.members()
    }

    /// The member called `name` of a struct/union, searching anonymous
    /// struct/union members too; returns it with its bit offset from the start
    /// of the outer type.
    pub fn member_by_name(&self, id: TypeId, name: &str) -> Option<(Member, u32)> {
        self.member_by_name_depth(id, name, 0, &Budget::new())
    }

    fn member_by_name_depth(
        &self,
        id: TypeId,
        name: &str,
        depth: usize,
        budget: &Budget,
    ) -> Option<(Member, u32)> {
        if depth > MAX_RESOLVE_DEPTH {
            return None;
        }
        for m in self.members(id)? {
            if !budget.spend() {
                return None;
            }
            let mname = self.name_at(m.name_off);
            if mname == name {
                return Some((m.clone(), m.bit_offset));
            }
            if mname.is_empty()
                && let Some((inner, off)) = self.member_by_name_depth(m.ty, name, depth + 1, budget)
            {
                return Some((inner, m.bit_offset.wrapping_add(off)));
            }
        }
        None
    }

    /// Enumerators of an enum/enum64 (after skipping modifiers and typedefs).
    pub fn enum_values(&self, id: TypeId) -> Option<&[EnumValue]> {
        let id = self.skip_mods_and_typedefs(id).ok()?;
        self.ty(id).ok()?.enum_values()
    }

    /// Parameters of a FUNC_PROTO, or of a FUNC's prototype.
    pub fn func_params(&self, id: TypeId) -> Option<&[Param]> {
        let t = self.ty(id).ok()?;
        match &t.kind {
            TypeKind::Func { proto, .. } => self.ty(*proto).ok()?.params(),
            _ => t.params(),
        }
    }

    /// Variables of a DATASEC.
    pub fn datasec_vars(&self, id: TypeId) -> Option<&[VarSecinfo]> {
        self.ty(id).ok()?.datasec_vars()
    }

    /// The DATASEC named `name` (e.g. `.maps`, `.bss`).
    pub fn datasec(&self, name: &str) -> Option<TypeId> {
        self.find(Kind::Datasec, name)
    }

    /// Variables of the DATASEC `sec` with their names and types:
    /// `(var name, var type id (the VAR's own type), offset, size)`.
    pub fn datasec_entries(&self, sec: &str) -> Vec<(String, TypeId, u32, u32)> {
        let Some(id) = self.datasec(sec) else {
            return Vec::new();
        };
        let Some(vars) = self.datasec_vars(id) else {
            return Vec::new();
        };
        vars.iter()
            .map(|v| {
                let inner = self
                    .ty(v.ty)
                    .ok()
                    .and_then(|t| t.ref_type())
                    .unwrap_or(TypeId::VOID);
                (self.name(v.ty).to_owned(), inner, v.offset, v.size)
            })
            .collect()
    }

    /// For a libbpf map-definition member (`__uint(name, N)` = pointer to
    /// `int[N]`): the `N`.
    pub fn map_def_uint(&self, member_ty: TypeId) -> Option<u32> {
        let ptr = self.skip_mods_and_typedefs(member_ty).ok()?;
        let TypeKind::Ptr { target } = self.ty(ptr).ok()?.kind else {
            return None;
        };
        let arr = self.skip_mods_and_typedefs(target).ok()?;
        match self.ty(arr).ok()?.kind {
            TypeKind::Array { nelems, .. } => Some(nelems),
            _ => None,
        }
    }

    /// For a libbpf map-definition member (`__type(name, T)` = pointer to `T`): `T`.
    pub fn map_def_type(&self, member_ty: TypeId) -> Option<TypeId> {
        let ptr = self.skip_mods_and_typedefs(member_ty).ok()?;
        match self.ty(ptr).ok()?.kind {
            TypeKind::Ptr { target } => Some(target),
            _ => None,
        }
    }
}
