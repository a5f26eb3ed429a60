//! Writing a relocatable BPF ELF object (`ET_REL`, `EM_BPF`) from assembled sections, with
//! symbols for labels and relocations for references to other symbols, as llvm-mc would.

use std::collections::HashMap;

use bpfvet_isa::asm::{Assembly, RelocKind};
use bpfvet_isa::encode_program;
use object::write::{Object, Relocation, SectionId, Symbol, SymbolId, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};

use crate::{LoadError, reloc_type};

/// Builds a relocatable ELF object with one executable section per assembled section.
pub fn write_relocatable(asm: &Assembly) -> Result<Vec<u8>, LoadError> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let mut sections: Vec<SectionId> = Vec::new();
    let mut defined: HashMap<String, SymbolId> = HashMap::new();
    for s in &asm.sections {
        let id = obj.add_section(Vec::new(), s.name.as_bytes().to_vec(), SectionKind::Text);
        obj.append_section_data(id, &encode_program(&s.insns), 8);
        sections.push(id);
        for (name, pc) in &s.labels {
            let global = s.globals.contains(name);
            let sym = obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value: (*pc * 8) as u64,
                size: 0,
                kind: if global {
                    SymbolKind::Text
                } else {
                    SymbolKind::Label
                },
                scope: if global {
                    SymbolScope::Linkage
                } else {
                    SymbolScope::Compilation
                },
                weak: false,
                section: SymbolSection::Section(id),
                flags: SymbolFlags::None,
            });
            defined.insert(name.clone(), sym);
        }
    }
    for (s, &sec) in asm.sections.iter().zip(&sections) {
        for r in &s.relocs {
            let sym = match defined.get(&r.symbol) {
                Some(&id) => id,
                None => {
                    let id = obj.add_symbol(Symbol {
                        name: r.symbol.as_bytes().to_vec(),
                        value: 0,
                        size: 0,
                        kind: SymbolKind::Unknown,
                        scope: SymbolScope::Linkage,
                        weak: false,
                        section: SymbolSection::Undefined,
                        flags: SymbolFlags::None,
                    });
                    defined.insert(r.symbol.clone(), id);
                    id
                }
            };
            let r_type = match r.kind {
                RelocKind::Call => reloc_type::R_BPF_64_32,
                RelocKind::LdImm64 => reloc_type::R_BPF_64_64,
            };
            obj.add_relocation(
                sec,
                Relocation {
                    offset: (r.pc * 8) as u64,
                    symbol: sym,
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: object::elf::RelocationType(r_type),
                    },
                },
            )
            .map_err(|e| LoadError::new(format!("cannot add relocation for {}: {e}", r.symbol)))?;
        }
    }
    obj.write()
        .map_err(|e| LoadError::new(format!("cannot write ELF object: {e}")))
}
