//! A loaded BPF object: its programs (linked with their subprograms, relocated against maps and
//! global data, typed by section name), its maps, license and kernel version — what libbpf
//! would hand the kernel, minus the file descriptors. Maps are referred to by index: an
//! LD_IMM64 of a map becomes `BPF_PSEUDO_MAP_IDX` (src 5) with imm = the map's index in
//! [`BpfObject::maps`], and a global data address becomes `BPF_PSEUDO_MAP_IDX_VALUE` (src 6)
//! with the offset in the second immediate; the kernel oracle passes the fds in `fd_array`.

use std::collections::HashMap;
use std::sync::Arc;

use bpfvet_btf::core::{CoreResolver, PatchOutcome};
use bpfvet_btf::{Btf, BtfExt, TypeKind};
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
    /// The BTF CO-RE relocations and kfunc/ksym externs resolve against (the running
    /// kernel's `/sys/kernel/btf/vmlinux`, or a file); without it they stay unresolved.
    pub target_btf: Option<Arc<Btf>>,
    /// `LINUX_KERNEL_VERSION` for `.kconfig` externs.
    pub kernel_version: Option<u32>,
    /// `CONFIG_*` values for `.kconfig` externs (`y` = 1, `m` = 2, `n` = 0, numbers).
    pub kconfig: HashMap<String, u64>,
}

/// The C source line of an instruction (from BTF line info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub text: String,
}

/// One applied CO-RE relocation, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreApplied {
    pub section: String,
    /// Instruction slot in the section.
    pub insn: usize,
    /// Relocation kind name (`byte_off`, `field_exists`, ...).
    pub kind: String,
    pub local: String,
    pub target: Option<String>,
    pub orig_val: u64,
    pub new_val: u64,
    /// The instruction was poisoned (no matching target).
    pub poisoned: bool,
    /// What the patch did, as libbpf would log it.
    pub text: String,
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
    /// Per linked slot: its source line, when the object has BTF line info.
    pub lines: Vec<Option<SourceLine>>,
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
    /// The object's BTF and BTF.ext, when present.
    pub btf: Option<Arc<Btf>>,
    pub btf_ext: Option<BtfExt>,
    /// CO-RE relocations applied (or poisoned).
    pub core: Vec<CoreApplied>,
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
    pub fn from_elf(mut elf: ElfObject, opts: &LoadOptions) -> Result<BpfObject, LoadError> {
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

        let btf = match elf.section_by_name(".BTF") {
            Some(s) => Some(Arc::new(
                Btf::parse(&s.data).map_err(|e| LoadError::new(format!("section .BTF: {e}")))?,
            )),
            None => None,
        };
        let btf_ext = match (&btf, elf.section_by_name(".BTF.ext")) {
            (Some(b), Some(s)) => Some(
                BtfExt::parse(&s.data, b)
                    .map_err(|e| LoadError::new(format!("section .BTF.ext: {e}")))?,
            ),
            _ => None,
        };

        let mut maps = maps::legacy_maps(&elf)?;
        if let Some(b) = &btf {
            maps.extend(crate::btf_maps::btf_maps(&elf, b)?);
        }
        let mut data = maps::data_maps(&elf, &name);
        if let Some(b) = &btf {
            for m in &mut data {
                if let Some(id) = b.datasec(&m.real_name) {
                    m.btf_value_type_id = Some(id.0);
                    let mmapable = b.datasec_vars(id).is_some_and(|vars| {
                        vars.iter().any(|v| {
                            matches!(
                                b.ty(v.ty).map(|t| &t.kind),
                                Ok(TypeKind::Var { linkage, .. }) if *linkage != 0
                            )
                        })
                    });
                    if mmapable {
                        m.map_flags |= maps::BPF_F_MMAPABLE;
                    }
                }
            }
        }
        maps.extend(data);
        let kconfig = match &btf {
            Some(b) => kconfig_layout(&elf, b, opts)?,
            None => Vec::new(),
        };
        if !kconfig.is_empty() {
            let size = kconfig.iter().map(|k| k.offset + k.size).max().unwrap_or(0);
            let size = size.div_ceil(8) * 8;
            let mut contents = vec![0u8; size as usize];
            for k in &kconfig {
                let bytes = k.value.to_le_bytes();
                let n = (k.size as usize).min(8);
                contents[k.offset as usize..k.offset as usize + n].copy_from_slice(&bytes[..n]);
            }
            maps.push(maps::kconfig_map(&name, size, contents));
        }

        // CO-RE: patch each code section's bytes before linking (as libbpf does per program).
        let mut core = Vec::new();
        let mut core_missing = false;
        if let (Some(local), Some(ext)) = (&btf, &btf_ext) {
            let target = opts.target_btf.clone();
            let mut resolver = target.as_deref().map(|t| CoreResolver::new(local, t));
            for sec in elf
                .sections
                .iter_mut()
                .filter(|s| s.kind == SectionKind::Code)
            {
                let relos = ext.relos(&sec.name);
                if relos.is_empty() {
                    continue;
                }
                let Some(r) = resolver.as_mut() else {
                    core_missing = true;
                    continue;
                };
                let done = r
                    .relocate_section(&sec.name, relos, &mut sec.data)
                    .map_err(|e| LoadError::new(format!("CO-RE relocation failed: {e}")))?;
                for (res, outcome) in done {
                    let (poisoned, text) = match outcome {
                        PatchOutcome::Patched(t) => (false, t),
                        PatchOutcome::Poisoned(t) => (true, t),
                    };
                    core.push(CoreApplied {
                        section: sec.name.clone(),
                        insn: res.site.insn_idx as usize,
                        kind: res.site.kind.clone(),
                        local: res.local_spec.clone(),
                        target: res.target_spec.clone(),
                        orig_val: res.orig_val,
                        new_val: res.new_val,
                        poisoned,
                        text,
                    });
                }
            }
        }

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
                kconfig: &kconfig,
                target: opts.target_btf.as_deref(),
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
            let mut unresolved = resolver.unresolved;
            if core_missing {
                unresolved.push(
                    "CO-RE relocations were not applied: no target BTF (the running kernel's \
                     /sys/kernel/btf/vmlinux, or --btf FILE)"
                        .to_string(),
                );
            }
            for c in core.iter().filter(|c| c.poisoned) {
                if let Some(p) = placements.iter().find(|p| {
                    p.section_name == c.section
                        && c.insn >= p.section_start
                        && c.insn < p.section_start + p.len
                }) {
                    unresolved.push(format!(
                        "insn {}: CO-RE relocation poisoned: {}",
                        p.start + c.insn - p.section_start,
                        c.text
                    ));
                }
            }
            let lines = (0..slots.len())
                .map(|pc| {
                    let p = placements
                        .iter()
                        .find(|p| pc >= p.start && pc < p.start + p.len)?;
                    let li = btf_ext
                        .as_ref()?
                        .line_at(&p.section_name, p.section_start + pc - p.start)?;
                    Some(SourceLine {
                        file: li.file_name.clone(),
                        line: li.line_num,
                        col: li.col,
                        text: li.line.clone(),
                    })
                })
                .collect();
            programs.push(ProgramInfo {
                name: func.name.clone(),
                section: func.section_name.clone(),
                section_type: section_type(&func.section_name),
                program,
                placements,
                unresolved,
                lines,
            });
        }
        Ok(BpfObject {
            name,
            license,
            kern_version,
            programs,
            maps,
            functions,
            btf,
            btf_ext,
            core,
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
    kconfig: &'a [KconfigExtern],
    target: Option<&'a Btf>,
}

/// A `.kconfig` extern placed in the kconfig map.
#[derive(Clone, Debug)]
struct KconfigExtern {
    name: String,
    offset: u32,
    size: u32,
    value: u64,
}

/// Lays out the `.kconfig` externs as libbpf does (larger alignment first, then by name) and
/// gives them values.
fn kconfig_layout(
    elf: &ElfObject,
    btf: &Btf,
    opts: &LoadOptions,
) -> Result<Vec<KconfigExtern>, LoadError> {
    let entries = btf.datasec_entries(".kconfig");
    let mut ext: Vec<(String, u32, bool)> = Vec::new();
    for (name, ty, _, _) in entries {
        let size = btf.resolve_size(ty).unwrap_or(0);
        let weak = elf.symbols.iter().any(|s| s.name == name && s.is_weak);
        ext.push((name, size, weak));
    }
    let align = |sz: u32| sz.clamp(1, 8).next_power_of_two();
    ext.sort_by(|a, b| align(b.1).cmp(&align(a.1)).then(a.0.cmp(&b.0)));
    let mut off = 0u32;
    let mut out = Vec::new();
    for (name, size, weak) in ext {
        let a = align(size);
        off = off.div_ceil(a) * a;
        let value = if name == "LINUX_KERNEL_VERSION" {
            opts.kernel_version.map(u64::from)
        } else {
            opts.kconfig.get(&name).copied()
        };
        let value = match (value, weak) {
            (Some(v), _) => v,
            (None, true) => 0,
            (None, false) => {
                return Err(LoadError::new(format!(
                    "extern (kcfg) '{name}': value not found (pass the kernel's config)"
                )));
            }
        };
        out.push(KconfigExtern {
            name,
            offset: off,
            size,
            value,
        });
        off += size;
    }
    Ok(out)
}

impl Resolver for ObjResolver<'_> {
    fn ld64(&mut self, prog: &str, pc: usize, sym: usize, imm: i32) -> Result<Ld64, LoadError> {
        let s = &self.elf.symbols[sym];
        let err = |msg: String| LoadError::new(format!("program {prog}: insn {pc}: {msg}"));
        let Some(section) = s.section else {
            if let Some(k) = self.kconfig.iter().find(|k| k.name == s.name) {
                let idx = self
                    .maps
                    .iter()
                    .position(|m| m.origin == MapOrigin::Kconfig)
                    .unwrap_or(0);
                return Ok((PSEUDO_MAP_IDX_VALUE, idx as i32, k.offset as i32));
            }
            if let Some(t) = self.target
                && let Some(id) = t.find(bpfvet_btf::Kind::Var, &s.name)
            {
                return Ok((3, id.0 as i32, 0));
            }
            self.unresolved.push(format!(
                "insn {pc}: extern {} is not resolved (ksym externs need the kernel's BTF)",
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
        if let Some(t) = self.target
            && let Some(id) = t.find(bpfvet_btf::Kind::Func, &s.name)
        {
            return Ok((2, id.0 as i32, 0));
        }
        self.unresolved.push(format!(
            "insn {pc}: kfunc {} is not resolved (kfuncs need the kernel's BTF)",
            s.name
        ));
        Ok((2, 0, 0))
    }
}
