//! Linking a program as libbpf does: the program's own instructions, then every subprogram it
//! calls (directly, or by taking its address for a callback), appended once each in the order
//! they are first reached, depth first; each BPF-to-BPF call and each function-pointer LD_IMM64
//! is rewritten to the appended copy's position. Relocations against maps, global data and
//! externs are resolved through [`Resolver`].

use std::collections::HashMap;

use bpfvet_isa::raw::RawInsn;

use crate::LoadError;
use crate::read::{ElfObject, ElfReloc, SectionKind, SymbolKind};
use crate::reloc_type;

/// One function of the object: a `STT_FUNC` symbol's instructions (or a whole code section
/// that has no function symbols).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Func {
    pub name: String,
    /// ELF section index and section name.
    pub section: usize,
    pub section_name: String,
    /// First slot and number of slots in the section.
    pub start: usize,
    pub len: usize,
    pub is_global: bool,
}

/// Where one function's copy sits in a linked program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Index into the object's function list.
    pub func: usize,
    pub name: String,
    pub section_name: String,
    /// Slot of the function in its section.
    pub section_start: usize,
    /// Slot of the copy in the linked program.
    pub start: usize,
    pub len: usize,
}

/// A linked program: raw slots plus where each function landed (the first is the program).
#[derive(Clone, Debug, Default)]
pub struct Linked {
    pub slots: Vec<RawInsn>,
    pub placements: Vec<Placement>,
}

impl Linked {
    /// The placement holding linked slot `pc`.
    pub fn placement_of(&self, pc: usize) -> Option<&Placement> {
        self.placements
            .iter()
            .find(|p| pc >= p.start && pc < p.start + p.len)
    }
}

/// What a data relocation on an LD_IMM64 becomes: (src_reg, imm, next_imm).
pub type Ld64 = (u8, i32, i32);

/// Resolves relocations that are not calls: maps, global data, externs.
pub trait Resolver {
    /// The LD_IMM64 at `pc` (of program `prog`) refers to symbol `sym` (an ELF symbol index);
    /// `imm` is the instruction's first immediate (the addend for section symbols).
    fn ld64(&mut self, prog: &str, pc: usize, sym: usize, imm: i32) -> Result<Ld64, LoadError>;
    /// A call at `pc` names the undefined symbol `sym`: a kfunc. Returns (src_reg, imm, off).
    fn extern_call(
        &mut self,
        prog: &str,
        pc: usize,
        sym: usize,
    ) -> Result<(u8, i32, i16), LoadError>;
}

const CALL: u8 = 0x85;
const LD_IMM64: u8 = 0x18;
const PSEUDO_CALL: u8 = 1;
const PSEUDO_FUNC: u8 = 4;

/// Every function of the object, in section then offset order.
pub fn functions(elf: &ElfObject) -> Result<Vec<Func>, LoadError> {
    let mut funcs = Vec::new();
    for sec in elf.sections.iter().filter(|s| s.kind == SectionKind::Code) {
        if sec.data.len() % 8 != 0 {
            return Err(LoadError::new(format!(
                "section {}: size {} is not a multiple of 8 (instructions are 8 bytes)",
                sec.name,
                sec.data.len()
            )));
        }
        let nslots = sec.data.len() / 8;
        if nslots == 0 {
            continue;
        }
        let syms: Vec<_> = elf
            .symbols_in(sec.index)
            .into_iter()
            .filter(|(_, s)| s.kind == SymbolKind::Function)
            .collect();
        if syms.is_empty() {
            // Hand-written objects may have no function symbols: the section is one program,
            // named by a symbol at its start if there is one.
            let name = elf
                .symbols_in(sec.index)
                .into_iter()
                .find(|(_, s)| s.value == 0)
                .map(|(_, s)| s.name.clone())
                .unwrap_or_else(|| sec.name.clone());
            funcs.push(Func {
                name,
                section: sec.index,
                section_name: sec.name.clone(),
                start: 0,
                len: nslots,
                is_global: true,
            });
            continue;
        }
        for (k, (_, s)) in syms.iter().enumerate() {
            if s.value % 8 != 0 || s.size % 8 != 0 {
                return Err(LoadError::new(format!(
                    "section {}: function {} at offset {} with size {} is not aligned to \
                     instructions",
                    sec.name, s.name, s.value, s.size
                )));
            }
            let start = (s.value / 8) as usize;
            let next = syms.get(k + 1).map(|(_, n)| (n.value / 8) as usize);
            let len = if s.size > 0 {
                (s.size / 8) as usize
            } else {
                next.unwrap_or(nslots).saturating_sub(start)
            };
            if start >= nslots || start + len > nslots || len == 0 {
                return Err(LoadError::new(format!(
                    "section {}: function {} (slots {start}..{}) lies outside the section's \
                     {nslots} instructions",
                    sec.name,
                    s.name,
                    start + len
                )));
            }
            funcs.push(Func {
                name: s.name.clone(),
                section: sec.index,
                section_name: sec.name.clone(),
                start,
                len,
                is_global: s.is_global,
            });
        }
    }
    Ok(funcs)
}

struct Linker<'a, R: Resolver> {
    elf: &'a ElfObject,
    funcs: &'a [Func],
    /// (section, slot) → function index, for function starts.
    starts: HashMap<(usize, usize), usize>,
    resolver: &'a mut R,
    prog_name: String,
    out: Linked,
    placed: HashMap<usize, usize>,
}

/// Links the program whose entry is function `prog`.
pub fn link<R: Resolver>(
    elf: &ElfObject,
    funcs: &[Func],
    prog: usize,
    resolver: &mut R,
) -> Result<Linked, LoadError> {
    let starts = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| ((f.section, f.start), i))
        .collect();
    let mut l = Linker {
        elf,
        funcs,
        starts,
        resolver,
        prog_name: funcs[prog].name.clone(),
        out: Linked::default(),
        placed: HashMap::new(),
    };
    l.place(prog)?;
    Ok(l.out)
}

struct Frame {
    section: usize,
    fstart: usize,
    flen: usize,
    base: usize,
    i: usize,
    relocs: HashMap<u64, ElfReloc>,
}

impl<R: Resolver> Linker<'_, R> {
    /// Appends the program's entry function, then relocates instruction by instruction; a call
    /// to a function not yet placed appends it and relocates it first (depth first, as libbpf),
    /// with an explicit stack so deep call chains cannot overflow ours.
    fn place(&mut self, f: usize) -> Result<usize, LoadError> {
        let mut stack = vec![self.append(f)];
        let base = stack[0].base;
        while let Some(top) = stack.last_mut() {
            if top.i >= top.flen {
                stack.pop();
                continue;
            }
            let (section, sec_slot, pc) = (top.section, top.fstart + top.i, top.base + top.i);
            let last = top.base + top.flen;
            let top_range = (top.fstart, top.fstart + top.flen);
            let insn = self.out.slots[pc];
            let reloc = top.relocs.get(&(sec_slot as u64 * 8)).copied();
            top.i += if insn.code == LD_IMM64 { 2 } else { 1 };
            let placed = match (insn.code, reloc) {
                (CALL, Some(r)) => self.reloc_call(pc, insn, r)?,
                (CALL, None) if insn.src == PSEUDO_CALL => {
                    let target = sec_slot as i64 + i64::from(insn.imm) + 1;
                    if within(target, top_range) {
                        None // a call inside the same function keeps its offset
                    } else {
                        self.fix_call(pc, section, target)?
                    }
                }
                (LD_IMM64, _) if pc + 1 >= last => {
                    return Err(self.err(pc, "LD_IMM64 in the last slot of its function"));
                }
                (LD_IMM64, Some(r)) => self.reloc_ld64(pc, insn, r)?,
                (LD_IMM64, None) if insn.src == PSEUDO_FUNC => {
                    let target = sec_slot as i64 + i64::from(insn.imm) + 1;
                    if within(target, top_range) {
                        None
                    } else {
                        self.fix_func_ptr(pc, section, target)?
                    }
                }
                (_, Some(r)) => {
                    return Err(self.err(
                        pc,
                        &format!(
                            "relocation (type {}) against {} on an instruction that is neither \
                             a call nor an LD_IMM64 (opcode {:#04x})",
                            r.r_type,
                            self.sym_name(r.symbol),
                            insn.code
                        ),
                    ));
                }
                _ => None,
            };
            if let Some(frame) = placed {
                stack.push(frame);
            }
        }
        Ok(base)
    }

    /// Appends function `f`'s instructions and returns the frame that relocates them.
    fn append(&mut self, f: usize) -> Frame {
        let funcs = self.funcs;
        let elf = self.elf;
        let func = &funcs[f];
        let sec = &elf.sections[func.section];
        let base = self.out.slots.len();
        self.placed.insert(f, base);
        let bytes = &sec.data[func.start * 8..(func.start + func.len) * 8];
        self.out.slots.extend(
            bytes
                .chunks_exact(8)
                .map(|c| RawInsn::from_bytes(c.try_into().expect("8-byte chunk"))),
        );
        self.out.placements.push(Placement {
            func: f,
            name: func.name.clone(),
            section_name: func.section_name.clone(),
            section_start: func.start,
            start: base,
            len: func.len,
        });
        let relocs = sec
            .relocs
            .iter()
            .filter(|r| {
                let slot = (r.offset / 8) as usize;
                slot >= func.start && slot < func.start + func.len
            })
            .map(|r| (r.offset, *r))
            .collect();
        Frame {
            section: func.section,
            fstart: func.start,
            flen: func.len,
            base,
            i: 0,
            relocs,
        }
    }

    /// Places function `f` if needed: its position, and a frame to relocate it if new.
    fn ensure(&mut self, f: usize) -> (usize, Option<Frame>) {
        match self.placed.get(&f) {
            Some(&at) => (at, None),
            None => {
                let frame = self.append(f);
                (frame.base, Some(frame))
            }
        }
    }

    fn sym_name(&self, sym: usize) -> String {
        let s = &self.elf.symbols[sym];
        if s.kind == SymbolKind::Section {
            s.section
                .and_then(|i| self.elf.sections.get(i))
                .map(|t| t.name.clone())
                .unwrap_or_default()
        } else {
            s.name.clone()
        }
    }

    fn err(&self, pc: usize, msg: &str) -> LoadError {
        LoadError::new(format!("program {}: insn {pc}: {msg}", self.prog_name))
    }

    fn reloc_call(
        &mut self,
        pc: usize,
        insn: RawInsn,
        r: ElfReloc,
    ) -> Result<Option<Frame>, LoadError> {
        let sym = &self.elf.symbols[r.symbol];
        if sym.is_undefined || sym.section.is_none() {
            let (src, imm, off) = self.resolver.extern_call(&self.prog_name, pc, r.symbol)?;
            let slot = &mut self.out.slots[pc];
            slot.src = src;
            slot.imm = imm;
            slot.off = off;
            return Ok(None);
        }
        if insn.src != PSEUDO_CALL {
            return Err(self.err(
                pc,
                &format!(
                    "call relocation against {} on a call that is not a BPF-to-BPF call \
                     (src_reg {})",
                    self.sym_name(r.symbol),
                    insn.src
                ),
            ));
        }
        if r.r_type != reloc_type::R_BPF_64_32 && r.r_type != reloc_type::R_BPF_64_64 {
            return Err(self.err(
                pc,
                &format!("unsupported call relocation type {}", r.r_type),
            ));
        }
        let section = sym.section.expect("defined");
        if !sym.value.is_multiple_of(8) {
            return Err(self.err(
                pc,
                &format!(
                    "call relocation against {} at unaligned offset {}",
                    sym.name, sym.value
                ),
            ));
        }
        let target = (sym.value / 8) as i64 + i64::from(insn.imm) + 1;
        self.fix_call(pc, section, target)
    }

    fn target_func(
        &self,
        pc: usize,
        section: usize,
        target: i64,
        what: &str,
    ) -> Result<usize, LoadError> {
        let sec_name = &self.elf.sections[section].name;
        let Ok(t) = usize::try_from(target) else {
            return Err(self.err(
                pc,
                &format!("{what} target {target} in section {sec_name} is negative"),
            ));
        };
        match self.starts.get(&(section, t)) {
            Some(&f) => Ok(f),
            None => Err(self.err(
                pc,
                &format!(
                    "{what} target is instruction {t} of section {sec_name}, which is not the \
                     start of a function"
                ),
            )),
        }
    }

    fn fix_call(
        &mut self,
        pc: usize,
        section: usize,
        target: i64,
    ) -> Result<Option<Frame>, LoadError> {
        let f = self.target_func(pc, section, target, "call")?;
        let (at, frame) = self.ensure(f);
        let slot = &mut self.out.slots[pc];
        slot.src = PSEUDO_CALL;
        slot.imm = rel(at, pc)?;
        Ok(frame)
    }

    fn fix_func_ptr(
        &mut self,
        pc: usize,
        section: usize,
        target: i64,
    ) -> Result<Option<Frame>, LoadError> {
        let f = self.target_func(pc, section, target, "function pointer")?;
        let (at, frame) = self.ensure(f);
        let slot = &mut self.out.slots[pc];
        slot.src = PSEUDO_FUNC;
        slot.imm = rel(at, pc)?;
        self.out.slots[pc + 1].imm = 0;
        Ok(frame)
    }

    fn reloc_ld64(
        &mut self,
        pc: usize,
        insn: RawInsn,
        r: ElfReloc,
    ) -> Result<Option<Frame>, LoadError> {
        if r.r_type != reloc_type::R_BPF_64_64 {
            return Err(self.err(
                pc,
                &format!(
                    "unsupported relocation type {} on LD_IMM64 against {}",
                    r.r_type,
                    self.sym_name(r.symbol)
                ),
            ));
        }
        let sym = &self.elf.symbols[r.symbol];
        if let Some(section) = sym.section
            && self.elf.sections.get(section).map(|s| s.kind) == Some(SectionKind::Code)
        {
            // The address of a function (a callback): global function symbols carry the offset,
            // section symbols leave it in imm.
            if !sym.value.is_multiple_of(8) || insn.imm % 8 != 0 {
                return Err(self.err(pc, "function pointer relocation at an unaligned offset"));
            }
            let target = (sym.value as i64 + i64::from(insn.imm)) / 8;
            return self.fix_func_ptr(pc, section, target);
        }
        let (src, imm, next_imm) = self
            .resolver
            .ld64(&self.prog_name, pc, r.symbol, insn.imm)?;
        self.out.slots[pc].src = src;
        self.out.slots[pc].imm = imm;
        self.out.slots[pc + 1].imm = next_imm;
        Ok(None)
    }
}

/// True if section slot `target` lies in `[range.0, range.1)`.
fn within(target: i64, range: (usize, usize)) -> bool {
    target >= range.0 as i64 && target < range.1 as i64
}

fn rel(target: usize, pc: usize) -> Result<i32, LoadError> {
    i32::try_from(target as i64 - pc as i64 - 1)
        .map_err(|_| LoadError::new("linked program too large for a call offset"))
}
