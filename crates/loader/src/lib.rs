//! `bpfvet-loader`: BPF ELF objects. Reads the code sections of an object (bytes, symbols,
//! relocations) and writes relocatable objects from assembled sections.
//!
//! Bad input never panics: every malformed object gives a [`LoadError`] that says what is
//! wrong and where.

mod read;
mod write;

pub use read::{CodeReloc, CodeSection, CodeSymbol, ElfObject, is_elf};
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
