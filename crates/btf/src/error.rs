//! Errors of the `.BTF` parser and of type queries; each says what is wrong and where.

use crate::types::{Kind, TypeId};
use std::fmt;

/// What went wrong while parsing or querying BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfError {
    /// The data is shorter than the 24-byte header.
    TruncatedHeader {
        /// Bytes available.
        len: usize,
    },
    /// Neither `0xeb9f` little- nor big-endian.
    BadMagic(u16),
    /// The header is inconsistent (version, flags, lengths, offsets).
    BadHeader(String),
    /// The string section is malformed.
    BadStrings(String),
    /// A type record has a kind number we do not know.
    UnknownKind {
        /// Id the type would have.
        type_id: u32,
        /// Its kind number.
        kind: u32,
    },
    /// A type record runs past the end of the type section.
    TypeTruncated {
        /// Id of the type.
        type_id: u32,
        /// Its kind.
        kind: Kind,
        /// Bytes it needs.
        need: usize,
        /// Bytes left in the type section.
        left: usize,
    },
    /// Bytes left after the last whole type record.
    TrailingTypeData {
        /// Number of leftover bytes.
        left: usize,
    },
    /// More types than BTF allows.
    TooManyTypes(usize),
    /// A string offset is out of range (or splits a UTF-8 character).
    BadStringOffset {
        /// The type holding it.
        type_id: u32,
        /// Which string (`type name`, `member 3 name`, ...).
        what: String,
        /// The offset.
        offset: u32,
    },
    /// A referenced type id does not exist.
    BadTypeRef {
        /// The referencing type.
        type_id: u32,
        /// Which field (`type`, `member 2 type`, ...).
        field: String,
        /// The referenced id.
        referenced: u32,
    },
    /// A referenced type has the wrong kind (FUNC must point at a FUNC_PROTO).
    BadRefKind {
        /// The referencing type.
        type_id: u32,
        /// The referenced id.
        referenced: u32,
        /// What the reference must be.
        expected: Kind,
        /// What it is.
        found: Kind,
    },
    /// A query was given a type id that does not exist.
    NoSuchType(TypeId),
    /// Following references did not end within the depth limit (a cycle or a
    /// needlessly deep chain).
    TooDeep {
        /// Where the walk started.
        start: TypeId,
        /// What the walk was for.
        what: &'static str,
    },
    /// The type has no size (void, FUNC, FUNC_PROTO, FWD...).
    Unsized {
        /// The type reached.
        type_id: TypeId,
        /// Its kind.
        kind: Kind,
    },
    /// A size does not fit in 32 bits.
    SizeOverflow(TypeId),
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::TruncatedHeader { len } => {
                write!(f, "BTF header truncated: {len} bytes, need 24")
            }
            BtfError::BadMagic(m) => write!(f, "bad BTF magic {m:#06x} (want 0xeb9f)"),
            BtfError::BadHeader(s) => write!(f, "bad BTF header: {s}"),
            BtfError::BadStrings(s) => write!(f, "bad BTF string section: {s}"),
            BtfError::UnknownKind { type_id, kind } => {
                write!(f, "type [{type_id}]: unknown BTF kind {kind}")
            }
            BtfError::TypeTruncated {
                type_id,
                kind,
                need,
                left,
            } => write!(
                f,
                "type [{type_id}] {kind}: needs {need} bytes but only {left} remain in the type section"
            ),
            BtfError::TrailingTypeData { left } => {
                write!(
                    f,
                    "type section has {left} trailing bytes after the last type"
                )
            }
            BtfError::TooManyTypes(n) => write!(f, "too many types ({n})"),
            BtfError::BadStringOffset {
                type_id,
                what,
                offset,
            } => write!(
                f,
                "type [{type_id}]: invalid {what} (string offset {offset})"
            ),
            BtfError::BadTypeRef {
                type_id,
                field,
                referenced,
            } => write!(
                f,
                "type [{type_id}]: {field} refers to type id {referenced}, which does not exist"
            ),
            BtfError::BadRefKind {
                type_id,
                referenced,
                expected,
                found,
            } => write!(
                f,
                "type [{type_id}]: referenced type [{referenced}] is {found}, expected {expected}"
            ),
            BtfError::NoSuchType(id) => write!(f, "no type with id {}", id.0),
            BtfError::TooDeep { start, what } => write!(
                f,
                "type [{}]: {what} exceeds the depth limit (reference cycle?)",
                start.0
            ),
            BtfError::Unsized { type_id, kind } => {
                write!(f, "type [{}] {kind} has no size", type_id.0)
            }
            BtfError::SizeOverflow(id) => write!(f, "type [{}]: size overflows 32 bits", id.0),
        }
    }
}

impl std::error::Error for BtfError {}
