//! `bpfvet`: check, run and inspect BPF programs offline.

mod commands;
mod error;
mod input;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::input::InputOpts;

#[derive(Parser)]
#[command(
    name = "bpfvet",
    version,
    about = "Decode, verify and run BPF programs in user space",
    long_about = "bpfvet does in user space what the Linux kernel does when a BPF program is \
                  loaded: decode it, verify it, and run it.\n\nInputs are ELF objects built by \
                  clang, raw little-endian bytecode (--raw, or any file that is not ELF), or \
                  assembly text (.s/.asm files, or --asm)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

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

#[derive(Subcommand)]
enum Command {
    /// Assemble text into raw bytecode or a relocatable ELF object
    #[command(after_help = "Example:\n  bpfvet asm prog.s -o prog.o --format elf\n  \
                            bpfvet asm --dialect ubpf prog.asm -o prog.bin")]
    Asm(commands::asm::AsmArgs),
    /// Disassemble an ELF object or raw bytecode
    #[command(after_help = "Example:\n  bpfvet disasm prog.o\n  \
                            bpfvet disasm --raw --dialect ubpf prog.bin")]
    Disasm(commands::disasm::DisasmArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Asm(a) => commands::asm::run(&a),
        Command::Disasm(a) => commands::disasm::run(&a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("bpfvet: {e}");
            ExitCode::from(e.code as u8)
        }
    }
}
