//! The one input reader every subcommand shares: an ELF object, raw bytecode (`--raw`, or
//! whatever is not ELF), or assembly text (`.s`/`.asm`, or `--asm`).

use std::collections::BTreeMap;
use std::path::Path;

use bpfvet_isa::asm::{self, Assembly};
use bpfvet_isa::{Dialect, Program};
use bpfvet_loader::{ElfObject, is_elf};

use crate::error::CliError;

/// How to read an input file.
#[derive(Clone, Copy, Debug, Default)]
pub struct InputOpts {
    /// Treat the file as raw little-endian bytecode.
    pub raw: bool,
    /// Treat the file as assembly text.
    pub asm: bool,
    pub dialect: Dialect,
}

/// What kind of file an input turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Elf,
    Raw,
    Asm,
}

/// One unit of code read from an input: an ELF section, the raw program, or an assembly section.
#[derive(Clone, Debug)]
pub struct CodeUnit {
    /// Section name (`.text` for raw bytecode).
    pub section: String,
    pub program: Program,
    /// Symbols by slot address.
    pub labels: BTreeMap<usize, String>,
    /// Global symbols (functions) among the labels.
    pub globals: Vec<String>,
    /// Relocation symbols by slot address.
    pub relocs: BTreeMap<usize, String>,
    /// Sections (not code) that relocations name through their section symbol.
    pub data_sections: Vec<String>,
    /// Comment lines to print before slots (source lines for `disasm --source`).
    pub comments: BTreeMap<usize, String>,
}

/// A read input.
#[derive(Clone, Debug)]
pub struct Input {
    pub kind: InputKind,
    pub units: Vec<CodeUnit>,
}

/// True for `.s`, `.S` and `.asm` files.
pub fn is_asm_path(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("s" | "S" | "asm")
    )
}

/// Reads `path` as the options and its contents say.
pub fn read_input(path: &Path, opts: InputOpts) -> Result<Input, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, &e))?;
    if opts.asm || (!opts.raw && is_asm_path(path)) {
        let text = String::from_utf8(bytes)
            .map_err(|_| CliError::input(path, "assembly text is not valid UTF-8"))?;
        return Ok(from_assembly(&assemble_checked(path, &text, opts.dialect)?));
    }
    if !opts.raw && is_elf(&bytes) {
        let obj = ElfObject::parse(&bytes).map_err(|e| CliError::input(path, e.msg))?;
        return from_elf(path, &obj);
    }
    let program = Program::decode(&bytes).map_err(|e| CliError::input(path, e.to_string()))?;
    Ok(Input {
        kind: InputKind::Raw,
        units: vec![CodeUnit {
            section: ".text".into(),
            program,
            labels: BTreeMap::new(),
            globals: Vec::new(),
            relocs: BTreeMap::new(),
            data_sections: Vec::new(),
            comments: BTreeMap::new(),
        }],
    })
}

/// Assembles `text`: every section's jumps must land on its instructions, and there must be
/// at least one instruction.
pub fn assemble_checked(path: &Path, text: &str, dialect: Dialect) -> Result<Assembly, CliError> {
    let a = asm::assemble_sections(text, dialect)
        .map_err(|e| CliError::input(path, format!("line {e}")))?;
    if a.sections.iter().all(|s| s.insns.is_empty()) {
        return Err(CliError::input(path, "no instructions"));
    }
    for s in &a.sections {
        Program::from_insns(s.insns.clone())
            .check_targets()
            .map_err(|e| CliError::input(path, format!("section {}: {e}", s.name)))?;
    }
    Ok(a)
}

fn from_assembly(a: &Assembly) -> Input {
    let mut units = Vec::new();
    for s in &a.sections {
        let program = Program::from_insns(s.insns.clone());
        if program.is_empty() {
            continue;
        }
        units.push(CodeUnit {
            section: s.name.clone(),
            labels: s.labels.iter().map(|(n, pc)| (*pc, n.clone())).collect(),
            globals: s.globals.clone(),
            relocs: s.relocs.iter().map(|r| (r.pc, r.symbol.clone())).collect(),
            data_sections: Vec::new(),
            comments: BTreeMap::new(),
            program,
        });
    }
    Input {
        kind: InputKind::Asm,
        units,
    }
}

fn from_elf(path: &Path, obj: &ElfObject) -> Result<Input, CliError> {
    let mut units = Vec::new();
    for sec in &obj.code {
        if sec.data.is_empty() {
            continue;
        }
        let program = Program::decode_unchecked(&sec.data)
            .map_err(|e| CliError::input(path, format!("section {}: {e}", sec.name)))?;
        let relocs: BTreeMap<usize, String> = sec
            .relocs
            .iter()
            .map(|r| ((r.offset / 8) as usize, r.symbol.clone()))
            .collect();
        // Jumps must land inside the section; calls with a relocation go elsewhere.
        program
            .check_targets_except(|pc| relocs.contains_key(&pc))
            .map_err(|e| CliError::input(path, format!("section {}: {e}", sec.name)))?;
        units.push(CodeUnit {
            section: sec.name.clone(),
            labels: sec
                .symbols
                .iter()
                .map(|s| ((s.offset / 8) as usize, s.name.clone()))
                .collect(),
            globals: sec
                .symbols
                .iter()
                .filter(|s| s.is_global)
                .map(|s| s.name.clone())
                .collect(),
            relocs,
            data_sections: sec
                .relocs
                .iter()
                .filter(|r| r.section_symbol && !obj.code.iter().any(|c| c.name == r.symbol))
                .map(|r| r.symbol.clone())
                .collect(),
            comments: BTreeMap::new(),
            program,
        });
    }
    if units.is_empty() {
        return Err(CliError::input(
            path,
            "the object has no executable sections with code",
        ));
    }
    Ok(Input {
        kind: InputKind::Elf,
        units,
    })
}
