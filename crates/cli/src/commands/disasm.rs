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
    /// Interleave the C source lines (from the object's BTF line info), like llvm-objdump -S
    #[arg(long, short = 'S')]
    pub source: bool,
}

pub fn run(a: &DisasmArgs) -> Result<u8, CliError> {
    let mut input = read_input(&a.input.file, a.input.opts())?;
    if a.source {
        add_source_lines(&a.input.file, &mut input)?;
    }
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

/// Attaches `; <source line>` comments to each unit from the object's `.BTF.ext` line info:
/// one comment where the source line changes.
fn add_source_lines(path: &std::path::Path, input: &mut Input) -> Result<(), CliError> {
    if input.kind != InputKind::Elf {
        return Err(CliError::usage(
            "--source needs an ELF object with BTF line info",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, &e))?;
    let elf = bpfvet_loader::ElfObject::parse(&bytes).map_err(|e| CliError::input(path, e.msg))?;
    let (Some(b), Some(e)) = (elf.section_by_name(".BTF"), elf.section_by_name(".BTF.ext")) else {
        return Err(CliError::input(
            path,
            "the object has no .BTF/.BTF.ext line info",
        ));
    };
    let btf = bpfvet_btf::Btf::parse(&b.data).map_err(|e| CliError::input(path, e.to_string()))?;
    let ext = bpfvet_btf::BtfExt::parse(&e.data, &btf)
        .map_err(|e| CliError::input(path, e.to_string()))?;
    for unit in &mut input.units {
        let mut last: Option<(String, u32)> = None;
        for (pc, _) in unit.program.iter() {
            let Some(li) = ext.line_at(&unit.section, pc) else {
                continue;
            };
            let key = (li.file_name.clone(), li.line_num);
            if last.as_ref() == Some(&key) {
                continue;
            }
            last = Some(key);
            let file = li.file_name.rsplit('/').next().unwrap_or(&li.file_name);
            unit.comments
                .insert(pc, format!("{}  [{file}:{}]", li.line.trim(), li.line_num));
        }
    }
    Ok(())
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
            comments: unit.comments.clone(),
            ..base.clone()
        };
        out.push_str(&disassemble(&unit.program, dialect, &opts));
    }
    out
}
