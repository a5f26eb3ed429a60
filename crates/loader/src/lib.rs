//! `bpfvet-loader`: BPF ELF objects, prepared as libbpf prepares them for the kernel. Reads an
//! object's sections, symbols and relocations (`read`), finds its programs and their types from
//! section names (`sections`), its maps (`maps`), links each program with the subprograms it
//! calls and resolves map and global-data relocations (`link`, `object`); also writes
//! relocatable objects from assembled sections (`write`).
//!
//! Bad input never panics: every malformed object gives a [`LoadError`] that says what is
//! wrong and where.

mod btf_maps;
pub mod funcs;
pub mod link;
pub mod maps;
pub mod object;
mod read;
pub mod sections;
mod sections_table;
mod write;

pub use maps::MapDef;
pub use object::{BpfObject, LoadOptions, ProgramInfo, license_is_gpl_compatible};
pub use read::{
    CodeReloc, CodeSection, CodeSymbol, ElfObject, ElfReloc, ElfSection, ElfSymbol, SectionKind,
    SymbolKind, is_elf,
};
pub use sections::{SectionType, section_type};
pub use write::write_relocatable;

use std::fmt;

/// An error reading or writing an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub msg: String,
}

impl LoadError {
    pub fn new(msg: impl Into<String>) -> LoadError {
        LoadError { msg: msg.into() }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for LoadError {}

/// ELF relocation types of the BPF target.
pub mod reloc_type {
    /// 64-bit absolute: the address of a map or data symbol in an LD_IMM64.
    pub const R_BPF_64_64: u32 = 1;
    /// 64-bit absolute data (in .BTF/.BTF.ext and data sections).
    pub const R_BPF_64_ABS64: u32 = 2;
    /// 32-bit absolute data.
    pub const R_BPF_64_ABS32: u32 = 3;
    /// 32-bit pc-relative: the target of a BPF-to-BPF call.
    pub const R_BPF_64_32: u32 = 10;
}
