//! `bpfvet-btf`: BPF Type Format. Parses `.BTF` (every kind, validated: bounds, strings, type
//! ids — [`Btf::parse`]) and `.BTF.ext` (function info, line info, CO-RE relocation records
//! — [`BtfExt::parse`]), answers type questions (sizes through typedefs and arrays with cycle
//! detection, C-like names, lookups by name), prints bpftool's raw listing, and resolves CO-RE
//! relocations against a target BTF (`core`).
//!
//! ```
//! # fn demo(btf_bytes: &[u8]) -> Result<(), bpfvet_btf::BtfError> {
//! let btf = bpfvet_btf::Btf::parse(btf_bytes)?;
//! if let Some(id) = btf.find_struct("iphdr") {
//!     println!("{} is {} bytes", btf.type_name(id), btf.resolve_size(id)?);
//! }
//! # Ok(()) }
//! ```
//!
//! No IO and no dependencies: callers hand in section bytes.

pub mod core;
mod dump;
pub mod ext;
mod parse;
pub mod types;

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

pub use ext::{BtfExt, CoreRelo, FuncInfo, LineInfo};
pub use types::{Kind, Linkage, Member, Type, TypeId};

/// An error in BTF data, saying what and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfError {
    pub msg: String,
}

impl BtfError {
    pub fn new(msg: impl Into<String>) -> BtfError {
        BtfError { msg: msg.into() }
    }
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for BtfError {}

/// How deep type chains may go before we call it a cycle (the kernel uses 32 for modifiers;
/// arrays of arrays and long typedef chains stay well below this).
pub const MAX_RESOLVE_DEPTH: usize = 64;

/// Parsed BTF.
#[derive(Debug)]
pub struct Btf {
    types: Vec<Type>,
    strings: Vec<u8>,
    by_name: OnceLock<HashMap<String, Vec<TypeId>>>,
}

impl Clone for Btf {
    fn clone(&self) -> Btf {
        Btf::from_types(self.types.clone(), self.strings.clone())
    }
}

impl Btf {
    pub(crate) fn from_types(types: Vec<Type>, strings: Vec<u8>) -> Btf {
        Btf {
            types,
            strings,
            by_name: OnceLock::new(),
        }
    }

    /// Number of types including `void` (type ids are `0..len`).
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    /// The type with this id.
    pub fn ty(&self, id: TypeId) -> Option<&Type> {
        self.types.get(id.0 as usize)
    }

    /// The kind of a type (`Kind::Void` for unknown ids).
    pub fn kind(&self, id: TypeId) -> &Kind {
        self.ty(id).map_or(&Kind::Void, |t| &t.kind)
    }

    /// The type's own name (empty for anonymous types).
    pub fn name(&self, id: TypeId) -> &str {
        self.ty(id).map_or("", |t| t.name.as_str())
    }

    /// Every type with its id.
    pub fn iter(&self) -> impl Iterator<Item = (TypeId, &Type)> {
        self.types
            .iter()
            .enumerate()
            .map(|(i, t)| (TypeId(i as u32), t))
    }

    /// The string section.
    pub fn strings(&self) -> &[u8] {
        &self.strings
    }

    /// The string at an offset of the string section (used by `.BTF.ext`).
    pub fn string_at(&self, off: u32) -> Result<String, BtfError> {
        parse::string_at(&self.strings, off).map_err(BtfError::new)
    }

    fn index(&self) -> &HashMap<String, Vec<TypeId>> {
        self.by_name.get_or_init(|| {
            let mut m: HashMap<String, Vec<TypeId>> = HashMap::new();
            for (id, t) in self.iter() {
                if !t.name.is_empty() {
                    m.entry(t.name.clone()).or_default().push(id);
                }
            }
            m
        })
    }

    /// Every type called `name`.
    pub fn by_name(&self, name: &str) -> &[TypeId] {
        self.index().get(name).map_or(&[], |v| v.as_slice())
    }

    /// The first type called `name` whose kind satisfies `pred`.
    pub fn find(&self, name: &str, pred: impl Fn(&Kind) -> bool) -> Option<TypeId> {
        self.by_name(name)
            .iter()
            .copied()
            .find(|&id| pred(self.kind(id)))
    }

    /// The struct called `name`.
    pub fn find_struct(&self, name: &str) -> Option<TypeId> {
        self.find(name, |k| matches!(k, Kind::Struct { .. }))
    }

    /// Follows typedefs and modifiers (const, volatile, restrict, type tags).
    pub fn skip_mods_and_typedefs(&self, mut id: TypeId) -> Result<TypeId, BtfError> {
        for _ in 0..MAX_RESOLVE_DEPTH {
            match self.kind(id) {
                Kind::Typedef(t)
                | Kind::Volatile(t)
                | Kind::Const(t)
                | Kind::Restrict(t)
                | Kind::TypeTag(t) => id = *t,
                _ => return Ok(id),
            }
        }
        Err(self.cycle(id))
    }

    /// Follows modifiers only (not typedefs).
    pub fn skip_mods(&self, mut id: TypeId) -> Result<TypeId, BtfError> {
        for _ in 0..MAX_RESOLVE_DEPTH {
            match self.kind(id) {
                Kind::Volatile(t) | Kind::Const(t) | Kind::Restrict(t) | Kind::TypeTag(t) => {
                    id = *t
                }
                _ => return Ok(id),
            }
        }
        Err(self.cycle(id))
    }

    fn cycle(&self, id: TypeId) -> BtfError {
        BtfError::new(format!(
            "type [{}] {} '{}': type chain is longer than {MAX_RESOLVE_DEPTH} (a cycle?)",
            id.0,
            self.kind(id).name(),
            self.name(id)
        ))
    }

    /// The size in bytes of a type (through typedefs, modifiers, variables and arrays).
    pub fn resolve_size(&self, id: TypeId) -> Result<u64, BtfError> {
        let mut id = id;
        let mut mult: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let size = match self.kind(id) {
                Kind::Int { size, .. }
                | Kind::Struct { size, .. }
                | Kind::Union { size, .. }
                | Kind::Enum { size, .. }
                | Kind::Enum64 { size, .. }
                | Kind::Datasec { size, .. }
                | Kind::Float { size } => u64::from(*size),
                Kind::Ptr(_) => 8,
                Kind::Typedef(t)
                | Kind::Volatile(t)
                | Kind::Const(t)
                | Kind::Restrict(t)
                | Kind::TypeTag(t)
                | Kind::Var { ty: t, .. }
                | Kind::DeclTag { ty: t, .. } => {
                    id = *t;
                    continue;
                }
                Kind::Array { elem, len, .. } => {
                    mult = mult.checked_mul(u64::from(*len)).ok_or_else(|| {
                        BtfError::new(format!("type [{}]: array size overflows", id.0))
                    })?;
                    id = *elem;
                    continue;
                }
                k => {
                    return Err(BtfError::new(format!(
                        "type [{}] {} '{}' has no size",
                        id.0,
                        k.name(),
                        self.name(id)
                    )));
                }
            };
            return size
                .checked_mul(mult)
                .ok_or_else(|| BtfError::new(format!("type [{}]: size overflows", id.0)));
        }
        Err(self.cycle(id))
    }

    /// A C-like spelling of a type: `int`, `unsigned int`, `struct iphdr *`, `char[16]`,
    /// `const struct foo *`, `void *`, `int (*)(void *)`.
    pub fn type_name(&self, id: TypeId) -> String {
        let mut budget = 256;
        self.type_name_depth(id, 0, &mut budget)
    }

    /// `budget` bounds the total work: names of self-referencing function prototypes would
    /// otherwise grow exponentially.
    fn type_name_depth(&self, id: TypeId, depth: usize, budget: &mut usize) -> String {
        if depth > MAX_RESOLVE_DEPTH || *budget == 0 {
            return "...".into();
        }
        *budget -= 1;
        let t = match self.ty(id) {
            Some(t) => t,
            None => return format!("<bad type {}>", id.0),
        };
        let named = |kw: &str| {
            if t.name.is_empty() {
                format!("{kw} (anon)")
            } else {
                format!("{kw} {}", t.name)
            }
        };
        match &t.kind {
            Kind::Void => "void".into(),
            Kind::Int { .. } | Kind::Float { .. } | Kind::Typedef(_) => t.name.clone(),
            Kind::Struct { .. } => named("struct"),
            Kind::Union { .. } => named("union"),
            Kind::Enum { .. } | Kind::Enum64 { .. } => named("enum"),
            Kind::Fwd { union } => named(if *union { "union" } else { "struct" }),
            Kind::Ptr(p) => {
                if let Kind::FuncProto { ret, params } = self.kind(*p) {
                    let ps: Vec<String> = params
                        .iter()
                        .map(|p| self.type_name_depth(p.ty, depth + 1, budget))
                        .collect();
                    return format!(
                        "{} (*)({})",
                        self.type_name_depth(*ret, depth + 1, budget),
                        if ps.is_empty() {
                            "void".into()
                        } else {
                            ps.join(", ")
                        }
                    );
                }
                format!("{} *", self.type_name_depth(*p, depth + 1, budget))
            }
            Kind::Array { elem, len, .. } => {
                format!("{}[{len}]", self.type_name_depth(*elem, depth + 1, budget))
            }
            Kind::Const(x) => format!("const {}", self.type_name_depth(*x, depth + 1, budget)),
            Kind::Volatile(x) => {
                format!("volatile {}", self.type_name_depth(*x, depth + 1, budget))
            }
            Kind::Restrict(x) => {
                format!("{} restrict", self.type_name_depth(*x, depth + 1, budget))
            }
            Kind::TypeTag(x) => self.type_name_depth(*x, depth + 1, budget),
            Kind::Func { .. } | Kind::Var { .. } | Kind::Datasec { .. } | Kind::DeclTag { .. } => {
                t.name.clone()
            }
            Kind::FuncProto { ret, params } => {
                let ps: Vec<String> = params
                    .iter()
                    .map(|p| self.type_name_depth(p.ty, depth + 1, budget))
                    .collect();
                format!(
                    "{} ({})",
                    self.type_name_depth(*ret, depth + 1, budget),
                    ps.join(", ")
                )
            }
        }
    }

    /// The DATASEC called `name` (e.g. `.maps`, `.data`).
    pub fn datasec(&self, name: &str) -> Option<TypeId> {
        self.find(name, |k| matches!(k, Kind::Datasec { .. }))
    }

    /// Members of a struct or union (after typedefs and modifiers).
    pub fn members(&self, id: TypeId) -> Result<&[Member], BtfError> {
        let id = self.skip_mods_and_typedefs(id)?;
        match self.kind(id) {
            Kind::Struct { members, .. } | Kind::Union { members, .. } => Ok(members),
            k => Err(BtfError::new(format!(
                "type [{}] is a {}, not a struct or union",
                id.0,
                k.name()
            ))),
        }
    }
}
