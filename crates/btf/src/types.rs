//! The owned type model: type ids, kinds, and the per-kind payloads decoded from `.BTF`.

use std::fmt;

/// Index of a type in a [`crate::Btf`]; id 0 is `void`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TypeId(pub u32);

impl TypeId {
    /// The `void` type.
    pub const VOID: TypeId = TypeId(0);
}

impl fmt::Display for TypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.0)
    }
}

/// BTF kind numbers as stored in bits 24..29 of `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Kind 0: only type id 0 (`void`) has it.
    Void = 0,
    /// Integer.
    Int = 1,
    /// Pointer.
    Ptr = 2,
    /// Array.
    Array = 3,
    /// Struct.
    Struct = 4,
    /// Union.
    Union = 5,
    /// 32-bit enum.
    Enum = 6,
    /// Forward declaration.
    Fwd = 7,
    /// Typedef.
    Typedef = 8,
    /// `volatile` modifier.
    Volatile = 9,
    /// `const` modifier.
    Const = 10,
    /// `restrict` modifier.
    Restrict = 11,
    /// Function (name + prototype).
    Func = 12,
    /// Function prototype.
    FuncProto = 13,
    /// Variable.
    Var = 14,
    /// Data section.
    Datasec = 15,
    /// Floating point.
    Float = 16,
    /// Declaration tag.
    DeclTag = 17,
    /// Type tag.
    TypeTag = 18,
    /// 64-bit enum.
    Enum64 = 19,
}

/// Kinds in numeric order with the names bpftool prints.
pub const KIND_TABLE: [(Kind, &str); 20] = [
    (Kind::Void, "UNKNOWN"),
    (Kind::Int, "INT"),
    (Kind::Ptr, "PTR"),
    (Kind::Array, "ARRAY"),
    (Kind::Struct, "STRUCT"),
    (Kind::Union, "UNION"),
    (Kind::Enum, "ENUM"),
    (Kind::Fwd, "FWD"),
    (Kind::Typedef, "TYPEDEF"),
    (Kind::Volatile, "VOLATILE"),
    (Kind::Const, "CONST"),
    (Kind::Restrict, "RESTRICT"),
    (Kind::Func, "FUNC"),
    (Kind::FuncProto, "FUNC_PROTO"),
    (Kind::Var, "VAR"),
    (Kind::Datasec, "DATASEC"),
    (Kind::Float, "FLOAT"),
    (Kind::DeclTag, "DECL_TAG"),
    (Kind::TypeTag, "TYPE_TAG"),
    (Kind::Enum64, "ENUM64"),
];

impl Kind {
    /// The kind with this number, if known.
    pub fn from_u32(n: u32) -> Option<Kind> {
        KIND_TABLE.get(n as usize).map(|&(k, _)| k)
    }

    /// Upper-case name as bpftool prints it (`STRUCT`, `FUNC_PROTO`, ...).
    pub fn name(self) -> &'static str {
        KIND_TABLE[self as usize].1
    }

    /// `const`, `volatile`, `restrict` or a type tag.
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
        )
    }

    /// Struct or union.
    pub fn is_composite(self) -> bool {
        matches!(self, Kind::Struct | Kind::Union)
    }

    /// Enum or enum64.
    pub fn is_any_enum(self) -> bool {
        matches!(self, Kind::Enum | Kind::Enum64)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// INT encoding bit: signed.
pub const INT_SIGNED: u8 = 1;
/// INT encoding bit: char.
pub const INT_CHAR: u8 = 2;
/// INT encoding bit: bool.
pub const INT_BOOL: u8 = 4;

/// A struct or union member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Name (string offset; 0 for anonymous members).
    pub name_off: u32,
    /// Member type.
    pub ty: TypeId,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits; 0 when the member is not a bitfield (or the
    /// struct does not use kind_flag encoding).
    pub bitfield_size: u32,
}

/// One enumerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue {
    /// Name (string offset).
    pub name_off: u32,
    /// Value as 64 bits. For 32-bit `ENUM` entries this is the stored 32-bit
    /// value sign-extended, as libbpf hands it to CO-RE.
    pub val: u64,
}

/// One function-prototype parameter (type 0 as the last one means `...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name (string offset; may be 0).
    pub name_off: u32,
    /// Parameter type.
    pub ty: TypeId,
}

/// One variable placed in a `DATASEC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The `VAR` (or `FUNC` for extern ksyms) type.
    pub ty: TypeId,
    /// Byte offset in the section.
    pub offset: u32,
    /// Byte size.
    pub size: u32,
}

/// Kind-specific data of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// Type id 0.
    Void,
    /// Integer: byte size, encoding bits (`INT_SIGNED`...), bit offset and width.
    Int {
        /// Byte size.
        size: u32,
        /// Encoding bits.
        encoding: u8,
        /// Bit offset (legacy bitfield integers; normally 0).
        offset: u8,
        /// Width in bits.
        bits: u8,
    },
    /// Pointer to `target`.
    Ptr {
        /// Pointee.
        target: TypeId,
    },
    /// Array.
    Array {
        /// Element type.
        elem: TypeId,
        /// Index type.
        index: TypeId,
        /// Number of elements.
        nelems: u32,
    },
    /// Struct.
    Struct {
        /// Byte size.
        size: u32,
        /// Members in declaration order.
        members: Vec<Member>,
    },
    /// Union.
    Union {
        /// Byte size.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// 32-bit enum.
    Enum {
        /// Byte size.
        size: u32,
        /// kind_flag: the values are signed.
        signed: bool,
        /// Enumerators.
        values: Vec<EnumValue>,
    },
    /// Forward declaration of a struct (or a union when `union`).
    Fwd {
        /// Forward-declared union rather than struct.
        union: bool,
    },
    /// Typedef of `target`.
    Typedef {
        /// Aliased type.
        target: TypeId,
    },
    /// `volatile target`.
    Volatile {
        /// Qualified type.
        target: TypeId,
    },
    /// `const target`.
    Const {
        /// Qualified type.
        target: TypeId,
    },
    /// `restrict target`.
    Restrict {
        /// Qualified type.
        target: TypeId,
    },
    /// Function.
    Func {
        /// Its `FUNC_PROTO`.
        proto: TypeId,
        /// 0 static, 1 global, 2 extern.
        linkage: u16,
    },
    /// Function prototype.
    FuncProto {
        /// Return type (0 = void).
        ret: TypeId,
        /// Parameters.
        params: Vec<Param>,
    },
    /// Variable.
    Var {
        /// Its type.
        ty: TypeId,
        /// 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    /// Data section.
    Datasec {
        /// Byte size (0 in object files until the loader fills it in).
        size: u32,
        /// Variables.
        vars: Vec<VarSecinfo>,
    },
    /// Floating point.
    Float {
        /// Byte size.
        size: u32,
    },
    /// Declaration tag on `target` (member/param `component_idx`, -1 for the whole).
    DeclTag {
        /// Tagged type.
        target: TypeId,
        /// Member or parameter index, or -1.
        component_idx: i32,
    },
    /// Type tag on `target`.
    TypeTag {
        /// Tagged type.
        target: TypeId,
    },
    /// 64-bit enum.
    Enum64 {
        /// Byte size.
        size: u32,
        /// kind_flag: the values are signed.
        signed: bool,
        /// Enumerators.
        values: Vec<EnumValue>,
    },
}

/// One BTF type: the three header words plus decoded data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// Name (string offset; 0 = anonymous).
    pub name_off: u32,
    /// Raw `info` word (vlen, kind, kind_flag).
    pub info: u32,
    /// Raw third word: a size or a type id depending on the kind.
    pub size_or_type: u32,
    /// Decoded data.
    pub kind: TypeKind,
}

impl Type {
    /// The `void` type (id 0).
    pub fn void() -> Type {
        Type {
            name_off: 0,
            info: 0,
            size_or_type: 0,
            kind: TypeKind::Void,
        }
    }

    /// This type's kind.
    pub fn kind(&self) -> Kind {
        match &self.kind {
            TypeKind::Void => Kind::Void,
            TypeKind::Int { .. } => Kind::Int,
            TypeKind::Ptr { .. } => Kind::Ptr,
            TypeKind::Array { .. } => Kind::Array,
            TypeKind::Struct { .. } => Kind::Struct,
            TypeKind::Union { .. } => Kind::Union,
            TypeKind::Enum { .. } => Kind::Enum,
            TypeKind::Fwd { .. } => Kind::Fwd,
            TypeKind::Typedef { .. } => Kind::Typedef,
            TypeKind::Volatile { .. } => Kind::Volatile,
            TypeKind::Const { .. } => Kind::Const,
            TypeKind::Restrict { .. } => Kind::Restrict,
            TypeKind::Func { .. } => Kind::Func,
            TypeKind::FuncProto { .. } => Kind::FuncProto,
            TypeKind::Var { .. } => Kind::Var,
            TypeKind::Datasec { .. } => Kind::Datasec,
            TypeKind::Float { .. } => Kind::Float,
            TypeKind::DeclTag { .. } => Kind::DeclTag,
            TypeKind::TypeTag { .. } => Kind::TypeTag,
            TypeKind::Enum64 { .. } => Kind::Enum64,
        }
    }

    /// vlen field of `info` (member/param/value count, or linkage for FUNC).
    pub fn vlen(&self) -> u16 {
        (self.info & 0xffff) as u16
    }

    /// kind_flag bit of `info`.
    pub fn kind_flag(&self) -> bool {
        self.info >> 31 != 0
    }

    /// The single type this kind refers to, for PTR, TYPEDEF, modifiers,
    /// FUNC, VAR, DECL_TAG and TYPE_TAG.
    pub fn ref_type(&self) -> Option<TypeId> {
        match &self.kind {
            TypeKind::Ptr { target }
            | TypeKind::Typedef { target }
            | TypeKind::Volatile { target }
            | TypeKind::Const { target }
            | TypeKind::Restrict { target }
            | TypeKind::TypeTag { target }
            | TypeKind::DeclTag { target, .. } => Some(*target),
            TypeKind::Func { proto, .. } => Some(*proto),
            TypeKind::Var { ty, .. } => Some(*ty),
            _ => None,
        }
    }

    /// Members of a struct or union.
    pub fn members(&self) -> Option<&[Member]> {
        match &self.kind {
            TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => Some(members),
            _ => None,
        }
    }

    /// Enumerators of an enum or enum64.
    pub fn enum_values(&self) -> Option<&[EnumValue]> {
        match &self.kind {
            TypeKind::Enum { values, .. } | TypeKind::Enum64 { values, .. } => Some(values),
            _ => None,
        }
    }

    /// Parameters of a function prototype.
    pub fn params(&self) -> Option<&[Param]> {
        match &self.kind {
            TypeKind::FuncProto { params, .. } => Some(params),
            _ => None,
        }
    }

    /// Variables of a data section.
    pub fn datasec_vars(&self) -> Option<&[VarSecinfo]> {
        match &self.kind {
            TypeKind::Datasec { vars, .. } => Some(vars),
            _ => None,
        }
    }
}
