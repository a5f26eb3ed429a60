//! The assembler: text in either dialect to instructions, with labels, sections and symbol
//! relocations. Errors carry line and column and say what was expected.
//!
//! Both dialects parse one statement per line into a [`Stmt`]; this module resolves labels to
//! pc-relative offsets and turns references to symbols that are not labels of the section into
//! relocations (as llvm-mc does for `call sym` and `r1 = sym ll`).

mod cursor;
mod lexer;
mod llvm;
pub(crate) mod ubpf;

use std::collections::HashMap;
use std::fmt;

use crate::insn::{CallKind, Imm64Kind, Insn};
use crate::{Dialect, helpers};

pub use cursor::Cursor;

/// An assembler error at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl AsmError {
    pub fn new(line: usize, col: usize, msg: impl Into<String>) -> AsmError {
        AsmError {
            line,
            col,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.msg)
    }
}

impl std::error::Error for AsmError {}

/// Where a branch or call goes, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A pc-relative offset in slots, as in `goto +5`.
    Rel(i64),
    /// A label or symbol name.
    Label(String),
    /// `sym+N` (calls and LD_IMM64 only): always a relocation; the addend is kept in the
    /// instruction as ELF REL relocations do (LD_IMM64: imm = N; call: imm = N / 8 - 1).
    Symbol { name: String, addend: i64 },
}

/// One parsed statement.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// An instruction; if `target` is set, its offset (or LD_IMM64 value) is filled in later.
    Insn {
        insn: Insn,
        target: Option<(Target, usize)>,
    },
    Label(String),
    /// `.section NAME` / `.text`: starts (or resumes) a section.
    Section(String),
    /// `.globl NAME`.
    Global(String),
    /// A directive with no effect on the code (`.p2align`, `.type`, `.size`, ...).
    Ignored,
}

/// Kinds of relocation an unresolved symbol produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocKind {
    /// `call sym`: a BPF-to-BPF call to a function in another section or object (R_BPF_64_32).
    Call,
    /// `r1 = sym ll`: the address of a map or data symbol (R_BPF_64_64).
    LdImm64,
}

/// A reference to a symbol at instruction slot `pc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloc {
    pub pc: usize,
    pub symbol: String,
    pub kind: RelocKind,
}

/// One assembled section.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Section {
    pub name: String,
    pub insns: Vec<Insn>,
    /// Labels with their slot address, in order of definition.
    pub labels: Vec<(String, usize)>,
    /// Labels declared `.globl`.
    pub globals: Vec<String>,
    pub relocs: Vec<Reloc>,
}

/// The result of assembling a whole file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Assembly {
    pub sections: Vec<Section>,
}

impl Assembly {
    /// All instructions of all sections, in order. Fails if any relocation remains, since
    /// raw bytecode cannot express it.
    pub fn into_program_insns(self) -> Result<Vec<Insn>, AsmError> {
        let mut out = Vec::new();
        for s in self.sections {
            if let Some(r) = s.relocs.first() {
                return Err(AsmError::new(
                    0,
                    0,
                    format!(
                        "symbol `{}` (slot {} of section {}) is not a label of this program; \
                         it needs a relocation, which raw bytecode cannot hold (write an ELF object)",
                        r.symbol, r.pc, s.name
                    ),
                ));
            }
            out.extend(s.insns);
        }
        Ok(out)
    }
}

/// Assembles `text` into instructions; sections are concatenated and symbols must resolve.
pub fn assemble(text: &str, dialect: Dialect) -> Result<Vec<Insn>, AsmError> {
    assemble_sections(text, dialect)?.into_program_insns()
}

/// An instruction awaiting label resolution: (line, pc, insn, target and its column).
type PendingInsn = (usize, usize, Insn, Option<(Target, usize)>);

struct PendingSection {
    name: String,
    stmts: Vec<PendingInsn>,
    labels: Vec<(String, usize)>,
    globals: Vec<String>,
    pc: usize,
}

impl PendingSection {
    fn new(name: &str) -> PendingSection {
        PendingSection {
            name: name.to_string(),
            stmts: Vec::new(),
            labels: Vec::new(),
            globals: Vec::new(),
            pc: 0,
        }
    }
}

/// Assembles `text`, keeping sections, labels and relocations (for writing ELF objects).
pub fn assemble_sections(text: &str, dialect: Dialect) -> Result<Assembly, AsmError> {
    let mut sections: Vec<PendingSection> = vec![PendingSection::new(".text")];
    let mut cur = 0;
    for (i, raw_line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = match dialect {
            Dialect::Llvm => llvm::preprocess(raw_line),
            Dialect::Ubpf => lexer::strip_comment(raw_line).to_string(),
        };
        if line.trim().is_empty() {
            continue;
        }
        let stmts = match directive(&line, line_no)? {
            Some(stmt) => vec![stmt],
            None => {
                let toks = lexer::tokenize(&line, line_no)?;
                let mut c = Cursor::new(&toks, line_no, &line);
                let mut stmts: Vec<Stmt> = c.labels().into_iter().map(Stmt::Label).collect();
                if !c.at_end() {
                    stmts.push(match dialect {
                        Dialect::Llvm => llvm::statement(&mut c)?,
                        Dialect::Ubpf => ubpf::statement(&mut c)?,
                    });
                    c.end()?;
                }
                stmts
            }
        };
        for stmt in stmts {
            match stmt {
                Stmt::Section(name) => {
                    cur = match sections.iter().position(|s| s.name == name) {
                        Some(p) => p,
                        None => {
                            sections.push(PendingSection::new(&name));
                            sections.len() - 1
                        }
                    };
                }
                Stmt::Label(name) => {
                    let s = &mut sections[cur];
                    if s.labels.iter().any(|(n, _)| *n == name) {
                        return Err(AsmError::new(
                            line_no,
                            1,
                            format!("label `{name}` is defined twice"),
                        ));
                    }
                    s.labels.push((name, s.pc));
                }
                Stmt::Global(name) => sections[cur].globals.push(name),
                Stmt::Ignored => {}
                Stmt::Insn { insn, target } => {
                    let s = &mut sections[cur];
                    s.stmts.push((line_no, s.pc, insn, target));
                    s.pc += insn.slots();
                }
            }
        }
    }
    // Drop the implicit .text if nothing went into it while other sections exist.
    if sections.len() > 1 && sections[0].stmts.is_empty() && sections[0].labels.is_empty() {
        sections.remove(0);
    }
    let mut out = Assembly::default();
    for s in sections {
        out.sections.push(resolve(s)?);
    }
    Ok(out)
}

/// Recognizes an assembler directive (`.text`, `.section NAME,...`, `.globl NAME`, and the
/// ones that do not affect code). Lines that start with `.` and end a word with `:` are labels.
fn directive(line: &str, line_no: usize) -> Result<Option<Stmt>, AsmError> {
    let t = line.trim();
    if !t.starts_with('.') {
        return Ok(None);
    }
    let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    if word.ends_with(':') {
        return Ok(None);
    }
    let col = line.len() - line.trim_start().len() + 1;
    let rest = rest.trim();
    let first_arg = || -> Result<String, AsmError> {
        let a = rest
            .split(',')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if a.is_empty() {
            Err(AsmError::new(
                line_no,
                col,
                format!("`{word}` needs a name"),
            ))
        } else {
            Ok(a.to_string())
        }
    };
    Ok(Some(match word {
        ".text" => Stmt::Section(".text".into()),
        ".section" => Stmt::Section(first_arg()?),
        ".globl" | ".global" => Stmt::Global(first_arg()?),
        ".type" | ".size" | ".p2align" | ".align" | ".file" | ".loc" | ".addrsig"
        | ".addrsig_sym" | ".cfi_sections" | ".cfi_startproc" | ".cfi_endproc" | ".ident"
        | ".weak" | ".local" | ".hidden" => Stmt::Ignored,
        _ => {
            return Err(AsmError::new(
                line_no,
                col,
                format!("unknown directive `{word}`"),
            ));
        }
    }))
}

fn resolve(s: PendingSection) -> Result<Section, AsmError> {
    let labels: HashMap<&str, usize> = s.labels.iter().map(|(n, pc)| (n.as_str(), *pc)).collect();
    let mut insns = Vec::with_capacity(s.stmts.len());
    let mut relocs = Vec::new();
    for (line, pc, insn, target) in &s.stmts {
        let Some((target, col)) = target else {
            insns.push(*insn);
            continue;
        };
        let err = |m: String| AsmError::new(*line, *col, m);
        if let Target::Symbol { name, addend } = target {
            let (fixed, kind) = match *insn {
                Insn::LdImm64 {
                    dst,
                    kind: Imm64Kind::Imm,
                    ..
                } => {
                    let imm = i32::try_from(*addend)
                        .map_err(|_| err(format!("addend {addend} does not fit in 32 bits")))?;
                    (
                        Insn::LdImm64 {
                            dst,
                            kind: Imm64Kind::Imm,
                            imm,
                            next_imm: 0,
                        },
                        RelocKind::LdImm64,
                    )
                }
                Insn::Call(_) if addend % 8 == 0 => {
                    let imm = i32::try_from(addend / 8 - 1)
                        .map_err(|_| err(format!("addend {addend} is out of range")))?;
                    (Insn::Call(CallKind::Local(imm)), RelocKind::Call)
                }
                _ => {
                    return Err(err(format!(
                        "`{name}{addend:+}`: a symbol with an addend is only allowed in `call` \
                         (a multiple of 8) and LD_IMM64"
                    )));
                }
            };
            relocs.push(Reloc {
                pc: *pc,
                symbol: name.clone(),
                kind,
            });
            insns.push(fixed);
            continue;
        }
        // LD_IMM64 of a symbol: always a relocation, as in llvm-mc.
        if let Insn::LdImm64 {
            kind: Imm64Kind::Imm,
            ..
        } = insn
        {
            if let Target::Label(name) = target {
                relocs.push(Reloc {
                    pc: *pc,
                    symbol: name.clone(),
                    kind: RelocKind::LdImm64,
                });
            }
            insns.push(*insn);
            continue;
        }
        let rel = match target {
            Target::Rel(r) => *r,
            Target::Symbol { .. } => unreachable!("handled above"),
            Target::Label(name) => match labels.get(name.as_str()) {
                Some(t) => *t as i64 - (*pc as i64 + 1),
                None if name == "exit" && !matches!(insn, Insn::Call(_)) => {
                    // The conformance suite's assembler lets jumps name `exit` without a
                    // label: the next `exit` instruction (or the last one before).
                    let exits = s
                        .stmts
                        .iter()
                        .filter(|st| st.2 == Insn::Exit)
                        .map(|st| st.1);
                    let next = exits
                        .clone()
                        .find(|t| t > pc)
                        .or_else(|| exits.clone().next_back());
                    match next {
                        Some(t) => t as i64 - (*pc as i64 + 1),
                        None => return Err(err("undefined label `exit`".to_string())),
                    }
                }
                None => {
                    if let Insn::Call(_) = insn {
                        if let Some(id) = helpers::helper_id(name) {
                            insns.push(Insn::Call(CallKind::Helper(id)));
                            continue;
                        }
                        relocs.push(Reloc {
                            pc: *pc,
                            symbol: name.clone(),
                            kind: RelocKind::Call,
                        });
                        insns.push(Insn::Call(CallKind::Local(-1)));
                        continue;
                    }
                    return Err(err(format!("undefined label `{name}`")));
                }
            },
        };
        let fixed = insn.with_branch_offset(rel).ok_or_else(|| {
            err(format!(
                "jump offset {rel} does not fit the instruction's {} field{}",
                if matches!(
                    insn,
                    Insn::Ja { .. } | Insn::Jmp { .. } | Insn::MayGoto { .. }
                ) {
                    "16-bit offset"
                } else {
                    "32-bit immediate"
                },
                if matches!(insn, Insn::Ja { .. }) {
                    " (use gotol for long jumps)"
                } else {
                    ""
                }
            ))
        })?;
        insns.push(fixed);
    }
    Ok(Section {
        name: s.name,
        insns,
        labels: s.labels,
        globals: s.globals,
        relocs,
    })
}

#[cfg(test)]
mod tests;
