//! Reading the executable sections of a BPF ELF object with their symbols and relocations.

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind};

use crate::LoadError;

/// A symbol defined in a code section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeSymbol {
    pub name: String,
    /// Byte offset in the section.
    pub offset: u64,
    pub size: u64,
    pub is_function: bool,
    pub is_global: bool,
}

/// A relocation in a code section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeReloc {
    /// Byte offset of the relocated instruction in the section.
    pub offset: u64,
    /// Name of the target symbol (the section name for section symbols).
    pub symbol: String,
    /// True when the target is a section symbol (the offset is in the instruction's imm).
    pub section_symbol: bool,
    pub r_type: u32,
}

/// One executable section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeSection {
    pub name: String,
    pub index: usize,
    pub data: Vec<u8>,
    pub symbols: Vec<CodeSymbol>,
    pub relocs: Vec<CodeReloc>,
}

/// The parts of an ELF object this crate reads so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfObject {
    pub code: Vec<CodeSection>,
}

/// True if `bytes` starts with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

impl ElfObject {
    /// Parses an ELF object; it must be a 64-bit little-endian BPF object.
    pub fn parse(bytes: &[u8]) -> Result<ElfObject, LoadError> {
        let file = object::File::parse(bytes)
            .map_err(|e| LoadError::new(format!("malformed ELF object: {e}")))?;
        if file.architecture() != object::Architecture::Bpf {
            return Err(LoadError::new(format!(
                "not a BPF object: machine is {:?}",
                file.architecture()
            )));
        }
        if !file.is_little_endian() {
            return Err(LoadError::new("big-endian BPF objects are not supported"));
        }
        let mut code = Vec::new();
        for sec in file.sections() {
            if sec.kind() != SectionKind::Text {
                continue;
            }
            let name = sec
                .name()
                .map_err(|e| LoadError::new(format!("section {}: bad name: {e}", sec.index().0)))?
                .to_string();
            let data = sec
                .data()
                .map_err(|e| LoadError::new(format!("section {name}: cannot read data: {e}")))?
                .to_vec();
            let mut symbols = Vec::new();
            for sym in file.symbols() {
                if sym.section_index() != Some(sec.index())
                    || sym.kind() == object::SymbolKind::Section
                {
                    continue;
                }
                let Ok(sname) = sym.name() else { continue };
                if sname.is_empty() {
                    continue;
                }
                symbols.push(CodeSymbol {
                    name: sname.to_string(),
                    offset: sym.address(),
                    size: sym.size(),
                    is_function: sym.kind() == object::SymbolKind::Text,
                    is_global: sym.is_global(),
                });
            }
            symbols.sort_by_key(|s| (s.offset, !s.is_function));
            let mut relocs = Vec::new();
            for (offset, r) in sec.relocations() {
                let object::RelocationFlags::Elf { r_type } = r.flags() else {
                    continue;
                };
                let mut section_symbol = false;
                let symbol = match r.target() {
                    RelocationTarget::Symbol(idx) => {
                        let s = file.symbol_by_index(idx).map_err(|e| {
                            LoadError::new(format!(
                                "section {name}: relocation at {offset:#x} names a bad symbol: {e}"
                            ))
                        })?;
                        if s.kind() == object::SymbolKind::Section {
                            section_symbol = true;
                            s.section_index()
                                .and_then(|i| file.section_by_index(i).ok())
                                .and_then(|s| s.name().ok().map(str::to_string))
                                .unwrap_or_default()
                        } else {
                            s.name().unwrap_or_default().to_string()
                        }
                    }
                    _ => String::new(),
                };
                relocs.push(CodeReloc {
                    offset,
                    symbol,
                    section_symbol,
                    r_type: r_type.0,
                });
            }
            code.push(CodeSection {
                name,
                index: sec.index().0,
                data,
                symbols,
                relocs,
            });
        }
        Ok(ElfObject { code })
    }
}
