//! A loaded BPF object: its programs (linked with their subprograms, relocated against maps and
//! global data, typed by section name), its maps, license and kernel version — what libbpf
//! would hand the kernel, minus the file descriptors. Maps are referred to by index: an
//! LD_IMM64 of a map becomes `BPF_PSEUDO_MAP_IDX` (src 5) with imm = the map's index in
//! [`BpfObject::maps`], and a global data address becomes `BPF_PSEUDO_MAP_IDX_VALUE` (src 6)
//! with the offset in the second immediate; the kernel oracle passes the fds in `fd_array`.

use bpfvet_isa::Program;
use bpfvet_isa::raw::RawInsn;

use crate::LoadError;
use crate::link::{self, Func, Ld64, Linked, Placement, Resolver};
use crate::maps::{self, MapDef, MapOrigin};
use crate::read::{ElfObject, SectionKind, SymbolKind};
use crate::sections::{SectionType, section_type};

/// `BPF_PSEUDO_MAP_IDX`.
pub const PSEUDO_MAP_IDX: u8 = 5;
/// `BPF_PSEUDO_MAP_IDX_VALUE`.
pub const PSEUDO_MAP_IDX_VALUE: u8 = 6;

/// Options for [`BpfObject::load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// The object's name (libbpf uses the file name without `.o`); names global data maps.
    pub name: String,
}

/// One program of the object, linked and relocated.
#[derive(Clone, Debug)]
pub struct ProgramInfo {
    /// The program's function symbol.
    pub name: String,
    /// The section it lives in.
    pub section: String,
    /// What the section name says (program type, attach type and target), if libbpf knows it.
    pub section_type: Option<SectionType>,
    /// The linked instructions (subprograms appended).
    pub program: Program,
    /// Where each function's copy landed (the first is the program itself).
    pub placements: Vec<Placement>,
    /// Externs and relocations that could not be resolved offline (kfuncs without a target
    /// BTF, ...), each naming the instruction.
    pub unresolved: Vec<String>,
}

impl ProgramInfo {
    /// The kernel program type, if the section gives one.
    pub fn prog_type(&self) -> Option<u32> {
        self.section_type.as_ref().map(|t| t.prog_type)
    }

    /// Number of instruction slots (LD_IMM64 counts two, as the kernel counts).
    pub fn insn_count(&self) -> usize {
        self.program.slot_count()
    }
}

/// A loaded object.
#[derive(Clone, Debug)]
pub struct BpfObject {
    pub name: String,
    /// Contents of the `license` section (empty when absent).
    pub license: String,
    /// Contents of the `version` section.
    pub kern_version: Option<u32>,
    pub programs: Vec<ProgramInfo>,
    pub maps: Vec<MapDef>,
    /// Every function of the object (programs and subprograms).
    pub functions: Vec<Func>,
    /// The parsed ELF (sections, symbols, relocations).
    pub elf: ElfObject,
}

/// License strings the kernel treats as GPL-compatible (`license_is_gpl_compatible`).
pub fn license_is_gpl_compatible(license: &str) -> bool {
    matches!(
        license,
        "GPL"
            | "GPL v2"
            | "GPL and additional rights"
            | "Dual BSD/GPL"
            | "Dual MIT/GPL"
            | "Dual MPL/GPL"
    )
}

impl BpfObject {
    /// Loads an object from ELF bytes.
    pub fn load(bytes: &[u8], opts: &LoadOptions) -> Result<BpfObject, LoadError> {
        let elf = ElfObject::parse(bytes)?;
        BpfObject::from_elf(elf, opts)
    }

    /// Loads an already parsed ELF object.
    pub fn from_elf(elf: ElfObject, opts: &LoadOptions) -> Result<BpfObject, LoadError> {
        let license = match elf.section_by_name("license") {
            Some(s) => {
                let end = s.data.iter().position(|&b| b == 0).ok_or_else(|| {
                    LoadError::new("section license: the license string is not NUL-terminated")
                })?;
                String::from_utf8_lossy(&s.data[..end]).into_owned()
            }
            None => String::new(),
        };
        let kern_version = match elf.section_by_name("version") {
            Some(s) if s.data.len() == 4 => Some(u32::from_le_bytes([
                s.data[0], s.data[1], s.data[2], s.data[3],
            ])),
            Some(s) => {
                return Err(LoadError::new(format!(
                    "section version: expected 4 bytes, found {}",
                    s.data.len()
                )));
            }
            None => None,
        };
        let name = if opts.name.is_empty() {
            "object".to_string()
        } else {
            opts.name.clone()
        };

        let mut maps = maps::legacy_maps(&elf)?;
        maps.extend(maps::data_maps(&elf, &name));

        let functions = link::functions(&elf)?;
        let entries: Vec<usize> = {
            let outside_text: Vec<usize> = (0..functions.len())
                .filter(|&i| functions[i].section_name != ".text")
                .collect();
            if outside_text.is_empty() {
                // Only .text: its global functions are the programs (hand-written objects).
                (0..functions.len())
                    .filter(|&i| functions[i].is_global)
                    .collect()
            } else {
                outside_text
            }
        };

        let mut programs = Vec::new();
        for f in entries {
            let mut resolver = ObjResolver {
                elf: &elf,
                maps: &maps,
                unresolved: Vec::new(),
            };
            let Linked { slots, placements } = link::link(&elf, &functions, f, &mut resolver)?;
            let bytes: Vec<u8> = slots.iter().flat_map(|s| RawInsn::to_bytes(*s)).collect();
            let func = &functions[f];
            let program = Program::decode_unchecked(&bytes).map_err(|e| {
                LoadError::new(format!(
                    "program {} (section {}): {e}",
                    func.name, func.section_name
                ))
            })?;
            programs.push(ProgramInfo {
                name: func.name.clone(),
                section: func.section_name.clone(),
                section_type: section_type(&func.section_name),
                program,
                placements,
                unresolved: resolver.unresolved,
            });
        }
        Ok(BpfObject {
            name,
            license,
            kern_version,
            programs,
            maps,
            functions,
            elf,
        })
    }

    /// True if the license lets the programs call GPL-only helpers.
    pub fn gpl_compatible(&self) -> bool {
        license_is_gpl_compatible(&self.license)
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&ProgramInfo> {
        self.programs.iter().find(|p| p.name == name)
    }
}

struct ObjResolver<'a> {
    elf: &'a ElfObject,
    maps: &'a [MapDef],
    unresolved: Vec<String>,
}

impl Resolver for ObjResolver<'_> {
    fn ld64(&mut self, prog: &str, pc: usize, sym: usize, imm: i32) -> Result<Ld64, LoadError> {
        let s = &self.elf.symbols[sym];
        let err = |msg: String| LoadError::new(format!("program {prog}: insn {pc}: {msg}"));
        let Some(section) = s.section else {
            self.unresolved.push(format!(
                "insn {pc}: extern {} is not resolved (kconfig and ksym externs need BTF)",
                s.name
            ));
            return Ok((0, 0, 0));
        };
        let sec = &self.elf.sections[section];
        // A map definition: found by section and offset.
        if let Some(idx) = self.maps.iter().position(|m| {
            matches!(m.origin, MapOrigin::Btf | MapOrigin::Legacy)
                && m.section == section
                && m.section_offset == s.value
        }) {
            return Ok((PSEUDO_MAP_IDX, idx as i32, 0));
        }
        if matches!(sec.name.as_str(), ".maps" | "maps") {
            return Err(err(format!(
                "relocation against {} in section {}: no map is defined at offset {}",
                s.name, sec.name, s.value
            )));
        }
        // Global data: the map of the section, at the symbol's offset plus the addend.
        if let Some(idx) = self
            .maps
            .iter()
            .position(|m| matches!(m.origin, MapOrigin::Data(_)) && m.section == section)
        {
            let off = i64::from(imm) + s.value as i64;
            let size = u64::from(self.maps[idx].value_size);
            if off < 0 || off as u64 > size {
                return Err(err(format!(
                    "relocation against {} points {off} bytes into section {} of {size} bytes",
                    if s.kind == SymbolKind::Section {
                        &sec.name
                    } else {
                        &s.name
                    },
                    sec.name
                )));
            }
            return Ok((PSEUDO_MAP_IDX_VALUE, idx as i32, off as i32));
        }
        let why = match sec.kind {
            SectionKind::Code => "a code section".to_string(),
            _ if sec.size == 0 => format!("empty section {}", sec.name),
            _ => format!(
                "section {}, which is neither maps nor global data",
                sec.name
            ),
        };
        Err(err(format!("relocation against {} in {why}", s.name)))
    }

    fn extern_call(
        &mut self,
        prog: &str,
        pc: usize,
        sym: usize,
    ) -> Result<(u8, i32, i16), LoadError> {
        let s = &self.elf.symbols[sym];
        if s.name.is_empty() {
            return Err(LoadError::new(format!(
                "program {prog}: insn {pc}: call relocation against an unnamed undefined symbol"
            )));
        }
        self.unresolved.push(format!(
            "insn {pc}: kfunc {} is not resolved (kfuncs need the kernel's BTF)",
            s.name
        ));
        Ok((2, 0, 0))
    }
}
