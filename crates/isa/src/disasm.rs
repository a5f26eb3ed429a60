//! The disassembler: instructions to text in either dialect. Whatever it prints, the assembler
//! of the same dialect reads back to the same bytes; in the `llvm` dialect, llvm-mc does too
//! for every instruction llvm knows.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::insn::*;
use crate::program::Program;
use crate::{Dialect, helpers};

fn size_name(size: Size, sign: bool) -> &'static str {
    match (size, sign) {
        (Size::B, false) => "u8",
        (Size::H, false) => "u16",
        (Size::W, false) => "u32",
        (Size::DW, false) => "u64",
        (Size::B, true) => "s8",
        (Size::H, true) => "s16",
        (Size::W, true) => "s32",
        (Size::DW, true) => "s64",
    }
}

fn size_suffix(size: Size) -> &'static str {
    match size {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

fn llvm_reg(r: Reg, width: Width) -> String {
    match width {
        Width::W64 => format!("r{}", r.index()),
        Width::W32 => format!("w{}", r.index()),
    }
}

fn signed_off(off: impl Into<i64>) -> String {
    let off = off.into();
    if off < 0 {
        format!("- {}", -off)
    } else {
        format!("+ {off}")
    }
}

fn rel(off: impl Into<i64>) -> String {
    let off = off.into();
    if off < 0 {
        format!("{off}")
    } else {
        format!("+{off}")
    }
}

fn alu_llvm_op(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::Sdiv => "s/=",
        AluOp::Mod => "%=",
        AluOp::Smod => "s%=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Xor => "^=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Arsh => "s>>=",
        AluOp::Mov => "=",
    }
}

fn cond_llvm_op(c: Cond) -> &'static str {
    match c {
        Cond::Eq => "==",
        Cond::Ne => "!=",
        Cond::Gt => ">",
        Cond::Ge => ">=",
        Cond::Lt => "<",
        Cond::Le => "<=",
        Cond::Sgt => "s>",
        Cond::Sge => "s>=",
        Cond::Slt => "s<",
        Cond::Sle => "s<=",
        Cond::Set => "&",
    }
}

fn endian_name(op: EndianOp, bits: u8) -> String {
    let p = match op {
        EndianOp::ToLe => "le",
        EndianOp::ToBe => "be",
        EndianOp::Bswap => "bswap",
    };
    format!("{p}{bits}")
}

fn atomic_word(op: AtomicOp) -> &'static str {
    match op {
        AtomicOp::Add { .. } => "add",
        AtomicOp::Or { .. } => "or",
        AtomicOp::And { .. } => "and",
        AtomicOp::Xor { .. } => "xor",
        AtomicOp::Xchg => "xchg",
        AtomicOp::Cmpxchg => "cmpxchg",
    }
}

/// The LD_IMM64 pseudo-source form, `map_value(3, 8)`, shared by both dialects.
fn pseudo(kind: Imm64Kind, imm: i32, next_imm: i32, func_target: Option<&str>) -> String {
    match kind {
        Imm64Kind::Imm => format!("{:#x}", Insn::imm64(imm, next_imm)),
        Imm64Kind::MapFd => format!("map_fd({imm})"),
        Imm64Kind::MapValue => format!("map_value({imm}, {next_imm})"),
        Imm64Kind::BtfId => format!("btf_id({imm}, {next_imm})"),
        Imm64Kind::Func => match func_target {
            Some(l) => format!("func({l})"),
            None => format!("func(pc{})", rel(imm)),
        },
        Imm64Kind::MapIdx => format!("map_idx({imm})"),
        Imm64Kind::MapIdxValue => format!("map_idx_value({imm}, {next_imm})"),
    }
}

fn with_addend(sym: &str, addend: i64) -> String {
    match addend {
        0 => sym.to_string(),
        a if a < 0 => format!("{sym}{a}"),
        a => format!("{sym}+{a}"),
    }
}

/// A relocated call: the implicit addend is `(imm + 1) * 8` bytes into the symbol.
fn reloc_call(sym: &str, imm: i32) -> String {
    with_addend(sym, (imm as i64 + 1) * 8)
}

/// How targets and symbols of one instruction are to be printed.
#[derive(Default, Clone, Copy)]
struct Names<'a> {
    /// Label for the instruction's branch or call target, if it has one.
    target: Option<&'a str>,
    /// Symbol of a relocation at this instruction.
    reloc: Option<&'a str>,
}

/// Formats one instruction on its own: jumps by offset, local calls as `call pc+N`
/// (`call local +N` in ubpf).
pub fn format_insn(insn: &Insn, dialect: Dialect) -> String {
    format_with(insn, dialect, Names::default())
}

fn format_with(insn: &Insn, dialect: Dialect, n: Names) -> String {
    match dialect {
        Dialect::Llvm => llvm(insn, n),
        Dialect::Ubpf => ubpf(insn, n),
    }
}

fn target_text(off: impl Into<i64>, n: Names) -> String {
    match n.target {
        Some(l) => l.to_string(),
        None => rel(off),
    }
}

fn llvm(insn: &Insn, n: Names) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let s = match src {
                Src::Reg(r) => llvm_reg(r, width),
                Src::Imm(i) => i.to_string(),
            };
            format!("{} {} {s}", llvm_reg(dst, width), alu_llvm_op(op))
        }
        Insn::Neg { width, dst } => {
            let d = llvm_reg(dst, width);
            format!("{d} = -{d}")
        }
        Insn::MovSx {
            width,
            bits,
            dst,
            src,
        } => format!(
            "{} = (s{bits}){}",
            llvm_reg(dst, width),
            llvm_reg(src, width)
        ),
        Insn::Endian { op, bits, dst } => format!("{dst} = {} {dst}", endian_name(op, bits)),
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => format!("{dst} = addr_space_cast({src}, {dst_as}, {src_as})"),
        Insn::Ja { off } => format!("goto {}", target_text(off, n)),
        Insn::Gotol { imm } => format!("gotol {}", target_text(imm, n)),
        Insn::MayGoto { off } => format!("may_goto {}", target_text(off, n)),
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let s = match src {
                Src::Reg(r) => llvm_reg(r, width),
                Src::Imm(i) => i.to_string(),
            };
            format!(
                "if {} {} {s} goto {}",
                llvm_reg(dst, width),
                cond_llvm_op(cond),
                target_text(off, n)
            )
        }
        Insn::Call(kind) => match kind {
            CallKind::Helper(id) => format!("call {id}"),
            CallKind::Local(imm) => match (n.reloc, n.target) {
                (Some(sym), _) => format!("call {}", reloc_call(sym, imm)),
                (None, Some(sym)) => format!("call {sym}"),
                (None, None) => format!("call pc{}", rel(imm)),
            },
            CallKind::Kfunc { btf_id, off: 0 } => format!("call kfunc({btf_id})"),
            CallKind::Kfunc { btf_id, off } => format!("call kfunc({btf_id}, {off})"),
        },
        Insn::Callx { reg } => format!("callx {reg}"),
        Insn::Exit => "exit".to_string(),
        Insn::Load {
            size,
            sign,
            dst,
            src,
            off,
        } => format!(
            "{dst} = *({} *)({src} {})",
            size_name(size, sign),
            signed_off(off)
        ),
        Insn::Store {
            size,
            dst,
            off,
            imm,
        } => format!(
            "*({} *)({dst} {}) = {imm}",
            size_name(size, false),
            signed_off(off)
        ),
        Insn::StoreReg {
            size,
            dst,
            src,
            off,
        } => format!(
            "*({} *)({dst} {}) = {src}",
            size_name(size, false),
            signed_off(off)
        ),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let w = if size == Size::DW {
                Width::W64
            } else {
                Width::W32
            };
            let ty = size_name(size, false);
            let s = llvm_reg(src, w);
            let o = signed_off(off);
            match op {
                AtomicOp::Xchg => {
                    let f = if w == Width::W64 {
                        "xchg_64"
                    } else {
                        "xchg32_32"
                    };
                    format!("{s} = {f}({dst} {o}, {s})")
                }
                AtomicOp::Cmpxchg => {
                    let f = if w == Width::W64 {
                        "cmpxchg_64"
                    } else {
                        "cmpxchg32_32"
                    };
                    let r0 = llvm_reg(Reg::R0, w);
                    format!("{r0} = {f}({dst} {o}, {r0}, {s})")
                }
                _ if op.fetches() => format!(
                    "{s} = atomic_fetch_{}(({ty} *)({dst} {o}), {s})",
                    atomic_word(op)
                ),
                _ => {
                    let sym = match op {
                        AtomicOp::Add { .. } => "+=",
                        AtomicOp::Or { .. } => "|=",
                        AtomicOp::And { .. } => "&=",
                        _ => "^=",
                    };
                    format!("lock *({ty} *)({dst} {o}) {sym} {s}")
                }
            }
        }
        Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } => match n.reloc {
            Some(sym) if kind == Imm64Kind::Imm && next_imm == 0 => {
                format!("{dst} = {} ll", with_addend(sym, imm as i64))
            }
            _ => format!("{dst} = {} ll", pseudo(kind, imm, next_imm, n.target)),
        },
        Insn::LdAbs { size, imm } => format!("r0 = *({} *)skb[{imm}]", size_name(size, false)),
        Insn::LdInd { size, src, imm } => {
            let ty = size_name(size, false);
            if imm == 0 {
                format!("r0 = *({ty} *)skb[{src}]")
            } else {
                format!("r0 = *({ty} *)skb[{src} {}]", signed_off(imm))
            }
        }
    }
}

fn ubpf_mem(base: Reg, off: i16) -> String {
    match off {
        0 => format!("[%{base}]"),
        o if o < 0 => format!("[%{base}{o}]"),
        o => format!("[%{base}+{o}]"),
    }
}

fn ubpf_width(w: Width) -> &'static str {
    match w {
        Width::W32 => "32",
        Width::W64 => "",
    }
}

fn ubpf(insn: &Insn, n: Names) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let m = crate::asm::ubpf::alu_mnemonic(op);
            let s = match src {
                Src::Reg(r) => format!("%{r}"),
                Src::Imm(i) => i.to_string(),
            };
            format!("{m}{} %{dst}, {s}", ubpf_width(width))
        }
        Insn::Neg { width, dst } => format!("neg{} %{dst}", ubpf_width(width)),
        Insn::MovSx {
            width,
            bits,
            dst,
            src,
        } => format!(
            "movsx{bits}{} %{dst}, %{src}",
            if width == Width::W32 { "32" } else { "64" }
        ),
        Insn::Endian { op, bits, dst } => format!("{} %{dst}", endian_name(op, bits)),
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => format!("addr_space_cast %{dst}, %{src}, {dst_as}, {src_as}"),
        Insn::Ja { off } => format!("ja {}", target_text(off, n)),
        Insn::Gotol { imm } => format!("ja32 {}", target_text(imm, n)),
        Insn::MayGoto { off } => format!("may_goto {}", target_text(off, n)),
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let s = match src {
                Src::Reg(r) => format!("%{r}"),
                Src::Imm(i) => i.to_string(),
            };
            format!(
                "{}{} %{dst}, {s}, {}",
                crate::asm::ubpf::jmp_mnemonic(cond),
                ubpf_width(width),
                target_text(off, n)
            )
        }
        Insn::Call(kind) => match kind {
            CallKind::Helper(id) => format!("call {id}"),
            CallKind::Local(imm) => match (n.reloc, n.target) {
                (Some(sym), _) => format!("call {}", reloc_call(sym, imm)),
                (None, Some(l)) => format!("call local {l}"),
                (None, None) => format!("call local {}", rel(imm)),
            },
            CallKind::Kfunc { btf_id, off: 0 } => format!("call kfunc({btf_id})"),
            CallKind::Kfunc { btf_id, off } => format!("call kfunc({btf_id}, {off})"),
        },
        Insn::Callx { reg } => format!("call %{reg}"),
        Insn::Exit => "exit".to_string(),
        Insn::Load {
            size,
            sign,
            dst,
            src,
            off,
        } => format!(
            "ldx{}{} %{dst}, {}",
            if sign { "s" } else { "" },
            size_suffix(size),
            ubpf_mem(src, off)
        ),
        Insn::Store {
            size,
            dst,
            off,
            imm,
        } => format!("st{} {}, {imm}", size_suffix(size), ubpf_mem(dst, off)),
        Insn::StoreReg {
            size,
            dst,
            src,
            off,
        } => format!("stx{} {}, %{src}", size_suffix(size), ubpf_mem(dst, off)),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let fetch = match op {
                AtomicOp::Xchg | AtomicOp::Cmpxchg => "",
                _ if op.fetches() => "fetch ",
                _ => "",
            };
            let w = if size == Size::W { "32" } else { "" };
            format!(
                "lock {fetch}{}{w} {}, %{src}",
                atomic_word(op),
                ubpf_mem(dst, off)
            )
        }
        Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } => match n.reloc {
            Some(sym) if kind == Imm64Kind::Imm && next_imm == 0 => {
                format!("lddw %{dst}, {}", with_addend(sym, imm as i64))
            }
            _ => format!("lddw %{dst}, {}", pseudo(kind, imm, next_imm, n.target)),
        },
        Insn::LdAbs { size, imm } => format!("ldabs{} {imm}", size_suffix(size)),
        Insn::LdInd { size, src, imm } => format!("ldind{} %{src}, {imm}", size_suffix(size)),
    }
}

/// Local calls and `func(...)` references: their target is a function, which always gets a
/// label (llvm has no offset syntax for them).
fn names_function(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Call(CallKind::Local(_))
            | Insn::LdImm64 {
                kind: Imm64Kind::Func,
                ..
            }
    )
}

/// Options for disassembling a whole program.
#[derive(Clone, Debug, Default)]
pub struct DisasmOptions {
    /// Prefix each instruction with its slot address (`  12: `); the assembler skips it.
    pub show_pc: bool,
    /// Known symbols by slot address (function names from an ELF symbol table).
    pub labels: BTreeMap<usize, String>,
    /// Relocation symbols by slot address: `call sym`, `r1 = sym ll`.
    pub relocs: BTreeMap<usize, String>,
    /// Print jump targets as labels (`goto LBB_12`) instead of offsets.
    pub jump_labels: bool,
    /// Append `# bpf_helper_name` after helper calls.
    pub helper_names: bool,
    /// Comment lines printed before the instruction at a slot (`; <C source line>` for
    /// `disasm --source`); the assembler skips them.
    pub comments: BTreeMap<usize, String>,
}

/// Disassembles a program. Local calls and `func(...)` references always print a label (a
/// symbol from `opts.labels`, or `func_<pc>`), so the text re-assembles to the same bytes.
pub fn disassemble(prog: &Program, dialect: Dialect, opts: &DisasmOptions) -> String {
    let mut labels = opts.labels.clone();
    for (pc, insn) in prog.iter() {
        if opts.relocs.contains_key(&pc) {
            continue;
        }
        let Some(off) = insn.branch_offset() else {
            continue;
        };
        let target = pc as i64 + 1 + off;
        if target < 0 || prog.index_of(target as usize).is_none() {
            continue;
        }
        let t = target as usize;
        if names_function(insn) {
            labels.entry(t).or_insert_with(|| format!("func_{t}"));
        } else if opts.jump_labels {
            labels.entry(t).or_insert_with(|| format!("LBB_{t}"));
        }
    }
    let mut out = String::new();
    for (pc, insn) in prog.iter() {
        if let Some(l) = labels.get(&pc) {
            let _ = writeln!(out, "{l}:");
        }
        if let Some(c) = opts.comments.get(&pc) {
            for line in c.lines() {
                let _ = writeln!(out, "; {line}");
            }
        }
        let target = insn.branch_offset().and_then(|off| {
            let t = pc as i64 + 1 + off;
            if names_function(insn) || opts.jump_labels {
                usize::try_from(t).ok().and_then(|t| labels.get(&t))
            } else {
                None
            }
        });
        let names = Names {
            target: target.map(|s| s.as_str()),
            reloc: opts.relocs.get(&pc).map(|s| s.as_str()),
        };
        let text = format_with(insn, dialect, names);
        if opts.show_pc {
            let _ = write!(out, "{pc:>6}:\t{text}");
        } else {
            let _ = write!(out, "\t{text}");
        }
        if opts.helper_names
            && let Insn::Call(CallKind::Helper(id)) = insn
            && let Some(name) = helpers::helper_name(*id)
        {
            let _ = write!(out, " # {name}");
        }
        out.push('\n');
    }
    out
}
