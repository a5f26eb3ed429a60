//! `bpfvet disasm`: ELF objects (every executable section, with symbol labels) or raw bytecode
//! to assembly text that re-assembles to the same bytes.

use std::fmt::Write;

use bpfvet_isa::Dialect;
use bpfvet_isa::disasm::{DisasmOptions, disassemble};
use clap::Args;

use crate::InputArgs;
use crate::error::CliError;
use crate::input::{Input, InputKind, read_input};

#[derive(Args, Debug)]
pub struct DisasmArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Prefix each instruction with its slot number
    #[arg(long)]
    pub pc: bool,
    /// Print jump targets as labels instead of offsets
    #[arg(long)]
    pub labels: bool,
}

pub fn run(a: &DisasmArgs) -> Result<u8, CliError> {
    let input = read_input(&a.input.file, a.input.opts())?;
    let text = render(
        &input,
        a.input.dialect.into(),
        &DisasmOptions {
            show_pc: a.pc,
            jump_labels: a.labels,
            helper_names: true,
            ..DisasmOptions::default()
        },
    );
    print!("{text}");
    Ok(0)
}

/// The listing of a whole input: section directives, `.globl` lines and every unit's code,
/// in a form both our assembler and llvm-mc read back to the same bytes. `base` gives the
/// printing options; labels and relocations come from each unit.
pub fn render(input: &Input, dialect: Dialect, base: &DisasmOptions) -> String {
    let mut out = String::new();
    let sectioned = input.kind != InputKind::Raw;
    // Data sections named through section symbols must exist for the text to re-assemble.
    let mut data: Vec<&String> = input.units.iter().flat_map(|u| &u.data_sections).collect();
    data.sort();
    data.dedup();
    for d in data {
        // llvm-mc insists on the usual flags of the well-known section names.
        let flags = if d == ".rodata" || d.starts_with(".rodata.") {
            "\"a\",@progbits"
        } else if d == ".bss" || d.starts_with(".bss.") {
            "\"aw\",@nobits"
        } else {
            "\"aw\",@progbits"
        };
        let _ = writeln!(out, "\t.section\t{d},{flags}");
    }
    for unit in &input.units {
        if sectioned {
            if unit.section == ".text" {
                let _ = writeln!(out, "\t.text");
            } else {
                let _ = writeln!(out, "\t.section\t{},\"ax\",@progbits", unit.section);
            }
            for g in &unit.globals {
                let _ = writeln!(out, "\t.globl\t{g}");
            }
        }
        let opts = DisasmOptions {
            labels: unit.labels.clone(),
            relocs: unit.relocs.clone(),
            ..base.clone()
        };
        out.push_str(&disassemble(&unit.program, dialect, &opts));
    }
    out
}
