//! The `bpfvet` command-line tool as a library: argument types, the shared input reader and
//! one module per subcommand. `main.rs` only parses arguments and reports errors.

pub mod commands;
pub mod error;
pub mod input;
pub mod map_json;
pub mod runner;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::input::InputOpts;

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum DialectArg {
    /// llvm-objdump / kernel log syntax: `r0 = 42`, `if r1 > 3 goto +2`
    #[default]
    Llvm,
    /// uBPF / rbpf / conformance syntax: `mov %r0, 42`, `jgt %r1, 3, +2`
    Ubpf,
}

impl From<DialectArg> for bpfvet_isa::Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Llvm => bpfvet_isa::Dialect::Llvm,
            DialectArg::Ubpf => bpfvet_isa::Dialect::Ubpf,
        }
    }
}

/// Options every subcommand that reads a program shares.
#[derive(Args, Clone, Debug)]
pub struct InputArgs {
    /// Input: ELF object, raw bytecode, or assembly text
    pub file: PathBuf,
    /// Read the input as raw little-endian bytecode
    #[arg(long, conflicts_with = "asm")]
    pub raw: bool,
    /// Read the input as assembly text (default for .s and .asm files)
    #[arg(long)]
    pub asm: bool,
    /// Assembly dialect for reading and printing
    #[arg(long, value_enum, default_value_t = DialectArg::Llvm)]
    pub dialect: DialectArg,
}

impl InputArgs {
    pub fn opts(&self) -> InputOpts {
        InputOpts {
            raw: self.raw,
            asm: self.asm,
            dialect: self.dialect.into(),
        }
    }
}
