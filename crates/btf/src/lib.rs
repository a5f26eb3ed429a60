//! `bpfvet-btf`: BTF type information (work in progress).

mod btf;
mod builder;
pub mod core;
mod dump;
mod error;
mod ext;
mod format;
mod query;
mod types;

pub use btf::{BTF_MAGIC, Btf, MAX_TYPES};
pub use builder::{BtfBuilder, BtfExtBuilder};
pub use error::BtfError;
pub use ext::{
    BtfExt, BtfExtError, CORE_RELO_KINDS, CoreRelo, CoreReloKind, ExtSection, FuncInfo, LineInfo,
};
pub use query::{MAX_RESOLVE_DEPTH, PTR_SIZE, essential_name};
pub use types::*;
