//! `bpfvet asm`: assembly text to raw bytecode or a relocatable ELF object.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::DialectArg;
use crate::error::CliError;
use crate::input::assemble_checked;

#[derive(Clone, Copy, Debug, Default, ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    /// Little-endian bytecode, 8 bytes per slot
    #[default]
    Raw,
    /// A relocatable BPF ELF object (one section per .section, symbols, relocations)
    Elf,
}

#[derive(Args, Debug)]
pub struct AsmArgs {
    /// Assembly source
    pub file: PathBuf,
    /// Output file (default: the input with .bin for raw or .o for elf)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Assembly dialect
    #[arg(long, value_enum, default_value_t = DialectArg::Llvm)]
    pub dialect: DialectArg,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutFormat::Raw)]
    pub format: OutFormat,
}

pub fn run(a: &AsmArgs) -> Result<u8, CliError> {
    let text = std::fs::read(&a.file).map_err(|e| CliError::io(&a.file, &e))?;
    let text = String::from_utf8(text)
        .map_err(|_| CliError::input(&a.file, "assembly text is not valid UTF-8"))?;
    let assembly = assemble_checked(&a.file, &text, a.dialect.into())?;
    let n: usize = assembly.sections.iter().map(|s| s.insns.len()).sum();
    let bytes = match a.format {
        OutFormat::Raw => {
            let insns = assembly
                .into_program_insns()
                .map_err(|e| CliError::input(&a.file, e.msg))?;
            bpfvet_isa::encode_program(&insns)
        }
        OutFormat::Elf => bpfvet_loader::write_relocatable(&assembly)
            .map_err(|e| CliError::input(&a.file, e.msg))?,
    };
    let out = a.output.clone().unwrap_or_else(|| {
        a.file.with_extension(match a.format {
            OutFormat::Raw => "bin",
            OutFormat::Elf => "o",
        })
    });
    std::fs::write(&out, &bytes).map_err(|e| CliError::io(&out, &e))?;
    eprintln!("{}: {n} instructions, {} bytes", out.display(), bytes.len());
    Ok(0)
}
