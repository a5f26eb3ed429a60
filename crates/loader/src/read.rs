//! Reading a BPF ELF object: every section with its bytes, the symbol table, and the
//! relocations of each section. This is the raw view; `object.rs` turns it into programs and maps.

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionIndex, SymbolIndex};

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
    /// Index of the target symbol in [`ElfObject::symbols`].
    pub symbol_index: usize,
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

/// What a section holds, as far as loading is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// Executable code (`SHF_EXECINSTR`).
    Code,
    /// Bytes with contents (`SHT_PROGBITS`), e.g. `.data`, `.rodata`, `.maps`, `license`.
    Bytes,
    /// Zero-initialised (`SHT_NOBITS`), e.g. `.bss`.
    Zeroed,
    /// Anything else (symbol and string tables, relocations, notes).
    Other,
}

/// One section of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfSection {
    pub index: usize,
    pub name: String,
    pub kind: SectionKind,
    /// Size in bytes (for zeroed sections too).
    pub size: u64,
    /// Contents (empty for zeroed sections).
    pub data: Vec<u8>,
    /// Relocations that apply to this section.
    pub relocs: Vec<ElfReloc>,
}

/// One relocation of a section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElfReloc {
    /// Byte offset in the section.
    pub offset: u64,
    /// Index in [`ElfObject::symbols`].
    pub symbol: usize,
    pub r_type: u32,
}

/// What a symbol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    Function,
    Object,
    Section,
    NoType,
    Other,
}

/// One symbol of the symbol table (index 0, the null symbol, included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfSymbol {
    pub name: String,
    /// Index of the section that defines it; `None` for undefined (extern) and absolute symbols.
    pub section: Option<usize>,
    pub value: u64,
    pub size: u64,
    pub kind: SymbolKind,
    pub is_global: bool,
    pub is_weak: bool,
    /// Undefined: an extern (kconfig, ksym or kfunc) to be resolved at load time.
    pub is_undefined: bool,
}

/// A parsed 64-bit little-endian BPF relocatable object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfObject {
    /// Every section, indexed by its ELF section index (index 0 is the null section).
    pub sections: Vec<ElfSection>,
    /// Every symbol, indexed by its ELF symbol index.
    pub symbols: Vec<ElfSymbol>,
    /// The executable sections with their symbols and relocations (a convenience view).
    pub code: Vec<CodeSection>,
}

/// True if `bytes` starts with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// `EM_BPF`.
const EM_BPF: u16 = 247;

impl ElfObject {
    /// Parses an ELF object; it must be a 64-bit little-endian BPF object.
    pub fn parse(bytes: &[u8]) -> Result<ElfObject, LoadError> {
        if !is_elf(bytes) {
            return Err(LoadError::new("not an ELF object (no ELF magic)"));
        }
        if bytes.len() > 4 && bytes[4] != 2 {
            return Err(LoadError::new(
                "not a 64-bit ELF object (BPF objects are ELF64)",
            ));
        }
        if bytes.len() > 5 && bytes[5] != 1 {
            return Err(LoadError::new("big-endian BPF objects are not supported"));
        }
        let file = ElfFile64::<object::Endianness>::parse(bytes)
            .map_err(|e| LoadError::new(format!("malformed ELF object: {e}")))?;
        let endian = file.endian();
        let machine = file.elf_header().e_machine(endian).0;
        if machine != EM_BPF {
            return Err(LoadError::new(format!(
                "not a BPF object: ELF machine is {machine} (EM_BPF is {EM_BPF})"
            )));
        }

        let symbols = read_symbols(&file)?;
        let mut sections = Vec::new();
        sections.push(ElfSection {
            index: 0,
            name: String::new(),
            kind: SectionKind::Other,
            size: 0,
            data: Vec::new(),
            relocs: Vec::new(),
        });
        for sec in file.sections() {
            let index = sec.index().0;
            let name = sec
                .name()
                .map_err(|e| LoadError::new(format!("section {index}: bad name: {e}")))?
                .to_string();
            let header = sec.elf_section_header();
            let sh_type = header.sh_type(endian);
            let flags = header.sh_flags(endian);
            let kind = if sh_type == elf::SHT_NOBITS {
                SectionKind::Zeroed
            } else if sh_type == elf::SHT_PROGBITS && flags.0 & elf::SHF_EXECINSTR.0 != 0 {
                SectionKind::Code
            } else if sh_type == elf::SHT_PROGBITS {
                SectionKind::Bytes
            } else {
                SectionKind::Other
            };
            let data = match kind {
                SectionKind::Code | SectionKind::Bytes => sec
                    .data()
                    .map_err(|e| LoadError::new(format!("section {name}: cannot read data: {e}")))?
                    .to_vec(),
                _ => Vec::new(),
            };
            let mut relocs = Vec::new();
            if matches!(kind, SectionKind::Code | SectionKind::Bytes) {
                for (offset, r) in sec.relocations() {
                    let object::RelocationFlags::Elf { r_type } = r.flags() else {
                        continue;
                    };
                    let symbol = match r.target() {
                        RelocationTarget::Symbol(SymbolIndex(i)) if i < symbols.len() => i,
                        RelocationTarget::Symbol(SymbolIndex(i)) => {
                            return Err(LoadError::new(format!(
                                "section {name}: relocation at offset {offset:#x} names symbol \
                                 {i}, but the symbol table has {} symbols",
                                symbols.len()
                            )));
                        }
                        _ => 0,
                    };
                    relocs.push(ElfReloc {
                        offset,
                        symbol,
                        r_type: r_type.0,
                    });
                }
                relocs.sort_by_key(|r| r.offset);
            }
            while sections.len() < index {
                let i = sections.len();
                sections.push(ElfSection {
                    index: i,
                    name: String::new(),
                    kind: SectionKind::Other,
                    size: 0,
                    data: Vec::new(),
                    relocs: Vec::new(),
                });
            }
            sections.push(ElfSection {
                index,
                name,
                kind,
                size: header.sh_size(endian),
                data,
                relocs,
            });
        }
        for s in &symbols {
            if let Some(i) = s.section
                && i >= sections.len()
            {
                return Err(LoadError::new(format!(
                    "symbol {} is defined in section {i}, which does not exist",
                    s.name
                )));
            }
        }
        let code = code_view(&sections, &symbols);
        Ok(ElfObject {
            sections,
            symbols,
            code,
        })
    }

    /// The section called `name`, if any.
    pub fn section_by_name(&self, name: &str) -> Option<&ElfSection> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The symbols defined in section `index`, sorted by value.
    pub fn symbols_in(&self, index: usize) -> Vec<(usize, &ElfSymbol)> {
        let mut v: Vec<(usize, &ElfSymbol)> = self
            .symbols
            .iter()
            .enumerate()
            .filter(|(_, s)| s.section == Some(index) && s.kind != SymbolKind::Section)
            .filter(|(_, s)| !s.name.is_empty())
            .collect();
        v.sort_by_key(|(_, s)| (s.value, s.kind != SymbolKind::Function));
        v
    }
}

fn read_symbols(file: &ElfFile64<'_, object::Endianness>) -> Result<Vec<ElfSymbol>, LoadError> {
    let mut symbols = vec![ElfSymbol {
        name: String::new(),
        section: None,
        value: 0,
        size: 0,
        kind: SymbolKind::NoType,
        is_global: false,
        is_weak: false,
        is_undefined: true,
    }];
    for sym in file.symbols() {
        let i = sym.index().0;
        while symbols.len() < i {
            symbols.push(symbols[0].clone());
        }
        let name = sym
            .name()
            .map_err(|e| LoadError::new(format!("symbol {i}: bad name: {e}")))?
            .to_string();
        let kind = match sym.kind() {
            object::SymbolKind::Text => SymbolKind::Function,
            object::SymbolKind::Data => SymbolKind::Object,
            object::SymbolKind::Section => SymbolKind::Section,
            object::SymbolKind::Unknown => SymbolKind::NoType,
            _ => SymbolKind::Other,
        };
        let section = sym.section_index().map(|SectionIndex(s)| s);
        symbols.push(ElfSymbol {
            name,
            section,
            value: sym.address(),
            size: sym.size(),
            kind,
            is_global: sym.is_global(),
            is_weak: sym.is_weak(),
            is_undefined: sym.is_undefined(),
        });
    }
    Ok(symbols)
}

fn code_view(sections: &[ElfSection], symbols: &[ElfSymbol]) -> Vec<CodeSection> {
    let mut code = Vec::new();
    for sec in sections.iter().filter(|s| s.kind == SectionKind::Code) {
        let mut syms: Vec<CodeSymbol> = symbols
            .iter()
            .filter(|s| s.section == Some(sec.index) && s.kind != SymbolKind::Section)
            .filter(|s| !s.name.is_empty())
            .map(|s| CodeSymbol {
                name: s.name.clone(),
                offset: s.value,
                size: s.size,
                is_function: s.kind == SymbolKind::Function,
                is_global: s.is_global,
            })
            .collect();
        syms.sort_by_key(|s| (s.offset, !s.is_function));
        let relocs = sec
            .relocs
            .iter()
            .map(|r| {
                let s = &symbols[r.symbol];
                let section_symbol = s.kind == SymbolKind::Section;
                let symbol = if section_symbol {
                    s.section
                        .and_then(|i| sections.get(i))
                        .map(|t| t.name.clone())
                        .unwrap_or_default()
                } else {
                    s.name.clone()
                };
                CodeReloc {
                    offset: r.offset,
                    symbol,
                    section_symbol,
                    r_type: r.r_type,
                    symbol_index: r.symbol,
                }
            })
            .collect();
        code.push(CodeSection {
            name: sec.name.clone(),
            index: sec.index,
            data: sec.data.clone(),
            symbols: syms,
            relocs,
        });
    }
    code
}
