//! The BTF type model: one [`Type`] per type id, with its kind-specific data decoded.

/// A BTF type id (0 is `void`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u32);

/// `BTF_INT_SIGNED` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntEncoding(pub u8);

impl IntEncoding {
    pub const SIGNED: u8 = 1;
    pub const CHAR: u8 = 2;
    pub const BOOL: u8 = 4;

    pub fn is_signed(self) -> bool {
        self.0 & Self::SIGNED != 0
    }
}

/// A struct or union member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub ty: TypeId,
    /// Offset in bits from the start of the struct.
    pub bit_offset: u32,
    /// Bitfield width in bits (0: not a bitfield).
    pub bitfield_size: u32,
}

/// An enumerator (of ENUM or ENUM64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enumerator {
    pub name: String,
    /// The value, sign-extended for signed 32-bit enums.
    pub value: i64,
}

/// A function parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: TypeId,
}

/// A variable placed in a data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecInfo {
    pub ty: TypeId,
    pub offset: u32,
    pub size: u32,
}

/// Variable and function linkage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Global,
    Extern,
    Other(u32),
}

impl Linkage {
    pub fn from_raw(v: u32) -> Linkage {
        match v {
            0 => Linkage::Static,
            1 => Linkage::Global,
            2 => Linkage::Extern,
            n => Linkage::Other(n),
        }
    }

    pub fn name(self) -> String {
        match self {
            Linkage::Static => "static".into(),
            Linkage::Global => "global".into(),
            Linkage::Extern => "extern".into(),
            Linkage::Other(n) => format!("({n})"),
        }
    }
}

/// What a type is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Void,
    Int {
        size: u32,
        encoding: IntEncoding,
        bit_offset: u8,
        bits: u8,
    },
    Ptr(TypeId),
    Array {
        elem: TypeId,
        index: TypeId,
        len: u32,
    },
    Struct {
        size: u32,
        members: Vec<Member>,
    },
    Union {
        size: u32,
        members: Vec<Member>,
    },
    Enum {
        size: u32,
        signed: bool,
        values: Vec<Enumerator>,
    },
    Fwd {
        union: bool,
    },
    Typedef(TypeId),
    Volatile(TypeId),
    Const(TypeId),
    Restrict(TypeId),
    Func {
        proto: TypeId,
        linkage: Linkage,
    },
    FuncProto {
        ret: TypeId,
        params: Vec<Param>,
    },
    Var {
        ty: TypeId,
        linkage: Linkage,
    },
    Datasec {
        size: u32,
        vars: Vec<VarSecInfo>,
    },
    Float {
        size: u32,
    },
    DeclTag {
        ty: TypeId,
        component: i32,
    },
    TypeTag(TypeId),
    Enum64 {
        size: u32,
        signed: bool,
        values: Vec<Enumerator>,
    },
}

/// The raw kind numbers (`BTF_KIND_*`).
pub mod raw_kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// One type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type {
    pub name: String,
    pub kind: Kind,
}

impl Kind {
    /// The kind's name as bpftool prints it.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Void => "VOID",
            Kind::Int { .. } => "INT",
            Kind::Ptr(_) => "PTR",
            Kind::Array { .. } => "ARRAY",
            Kind::Struct { .. } => "STRUCT",
            Kind::Union { .. } => "UNION",
            Kind::Enum { .. } => "ENUM",
            Kind::Fwd { .. } => "FWD",
            Kind::Typedef(_) => "TYPEDEF",
            Kind::Volatile(_) => "VOLATILE",
            Kind::Const(_) => "CONST",
            Kind::Restrict(_) => "RESTRICT",
            Kind::Func { .. } => "FUNC",
            Kind::FuncProto { .. } => "FUNC_PROTO",
            Kind::Var { .. } => "VAR",
            Kind::Datasec { .. } => "DATASEC",
            Kind::Float { .. } => "FLOAT",
            Kind::DeclTag { .. } => "DECL_TAG",
            Kind::TypeTag(_) => "TYPE_TAG",
            Kind::Enum64 { .. } => "ENUM64",
        }
    }

    /// Every type id this type refers to.
    pub fn refs(&self) -> Vec<TypeId> {
        match self {
            Kind::Ptr(t)
            | Kind::Typedef(t)
            | Kind::Volatile(t)
            | Kind::Const(t)
            | Kind::Restrict(t)
            | Kind::TypeTag(t) => vec![*t],
            Kind::Array { elem, index, .. } => vec![*elem, *index],
            Kind::Struct { members, .. } | Kind::Union { members, .. } => {
                members.iter().map(|m| m.ty).collect()
            }
            Kind::Func { proto, .. } => vec![*proto],
            Kind::FuncProto { ret, params } => {
                let mut v = vec![*ret];
                v.extend(params.iter().map(|p| p.ty));
                v
            }
            Kind::Var { ty, .. } | Kind::DeclTag { ty, .. } => vec![*ty],
            Kind::Datasec { vars, .. } => vars.iter().map(|v| v.ty).collect(),
            _ => vec![],
        }
    }
}
