//! The `ubpf` dialect: the syntax of uBPF, rbpf and the BPF conformance suite
//! (`mov32 %r0, 1`, `ldxdw %r0, [%r1+8]`, `jne %r0, %r1, label`, `lock cmpxchg [%r10-8], %r1`,
//! `lddw %r0, 0x...`, `call local label`, `call %r2`).
//!
//! Extensions for encodings the original has no words for: `may_goto TARGET`,
//! `call kfunc(ID[, OFF])`, `addr_space_cast %rD, %rS, DST_AS, SRC_AS`, `ldind{b,h,w} %rS, IMM`
//! with `ldabs{b,h,w} IMM`, and LD_IMM64 pseudo sources as in the llvm dialect
//! (`lddw %r1, map_fd(3)`).

use super::cursor::{Cursor, ImmRange};
use super::lexer::Tok;
use super::{AsmError, Stmt, Target};
use crate::insn::*;

/// Binary ALU mnemonics without their width suffix.
pub const ALU_MNEMONICS: [(&str, AluOp); 14] = [
    ("add", AluOp::Add),
    ("sub", AluOp::Sub),
    ("mul", AluOp::Mul),
    ("div", AluOp::Div),
    ("sdiv", AluOp::Sdiv),
    ("mod", AluOp::Mod),
    ("smod", AluOp::Smod),
    ("or", AluOp::Or),
    ("and", AluOp::And),
    ("xor", AluOp::Xor),
    ("lsh", AluOp::Lsh),
    ("rsh", AluOp::Rsh),
    ("arsh", AluOp::Arsh),
    ("mov", AluOp::Mov),
];

/// Conditional jump mnemonics without their width suffix.
pub const JMP_MNEMONICS: [(&str, Cond); 11] = [
    ("jeq", Cond::Eq),
    ("jne", Cond::Ne),
    ("jgt", Cond::Gt),
    ("jge", Cond::Ge),
    ("jlt", Cond::Lt),
    ("jle", Cond::Le),
    ("jsgt", Cond::Sgt),
    ("jsge", Cond::Sge),
    ("jslt", Cond::Slt),
    ("jsle", Cond::Sle),
    ("jset", Cond::Set),
];

/// Size suffixes of memory mnemonics.
pub const SIZE_SUFFIXES: [(&str, Size); 4] = [
    ("b", Size::B),
    ("h", Size::H),
    ("w", Size::W),
    ("dw", Size::DW),
];

/// Atomic operation words after `lock` (and `fetch`).
type AtomicCtor = fn(bool) -> AtomicOp;

pub const ATOMIC_WORDS: [(&str, AtomicCtor); 4] = [
    ("add", |fetch| AtomicOp::Add { fetch }),
    ("or", |fetch| AtomicOp::Or { fetch }),
    ("and", |fetch| AtomicOp::And { fetch }),
    ("xor", |fetch| AtomicOp::Xor { fetch }),
];

/// Splits a width suffix: `add32` → (`add`, W32), `add64`/`add` → (`add`, W64).
fn split_width(m: &str) -> (&str, Width) {
    if let Some(b) = m.strip_suffix("32") {
        (b, Width::W32)
    } else if let Some(b) = m.strip_suffix("64") {
        (b, Width::W64)
    } else {
        (m, Width::W64)
    }
}

fn lookup<T: Copy>(table: &[(&str, T)], key: &str) -> Option<T> {
    table.iter().find(|e| e.0 == key).map(|e| e.1)
}

fn insn(insn: Insn) -> Stmt {
    Stmt::Insn { insn, target: None }
}

fn reg(c: &mut Cursor) -> Result<Reg, AsmError> {
    Ok(c.reg_any()?.0)
}

fn comma(c: &mut Cursor, mnemonic: &str) -> Result<(), AsmError> {
    if c.at_end() {
        return Err(c.error(format!(
            "invalid number of operands for {mnemonic}: expected more"
        )));
    }
    c.punct(",")
}

/// `[%rN+off]`, `[%rN-off]` or `[%rN]`.
fn mem(c: &mut Cursor) -> Result<(Reg, i16), AsmError> {
    if !c.eat_punct("[") {
        return Err(c.expected("a memory operand like [%r1+8]"));
    }
    let r = reg(c)?;
    let off = if c.eat_punct("+") {
        c.off16(false)?
    } else if c.eat_punct("-") {
        c.off16(true)?
    } else {
        0
    };
    c.punct("]")?;
    Ok((r, off))
}

/// One statement (after any labels): a mnemonic and its operands.
pub fn statement(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let col = c.col();
    let m = c.ident("a mnemonic")?.to_string();
    mnemonic(c, &m)?.ok_or_else(|| AsmError::new(c.line, col, format!("unknown mnemonic `{m}`")))
}

fn mnemonic(c: &mut Cursor, m: &str) -> Result<Option<Stmt>, AsmError> {
    let (base, width) = split_width(m);
    if let Some(op) = lookup(&ALU_MNEMONICS, base) {
        let dst = reg(c)?;
        comma(c, m)?;
        let src = if c.is_reg() {
            Src::Reg(reg(c)?)
        } else {
            Src::Imm(c.imm32(ImmRange::Strict)?)
        };
        return Ok(Some(insn(Insn::Alu {
            width,
            op,
            dst,
            src,
        })));
    }
    if base == "neg" {
        let dst = reg(c)?;
        return Ok(Some(insn(Insn::Neg { width, dst })));
    }
    if let Some(cond) = lookup(&JMP_MNEMONICS, base) {
        let dst = reg(c)?;
        comma(c, m)?;
        let src = if c.is_reg() {
            Src::Reg(reg(c)?)
        } else {
            Src::Imm(c.imm32(ImmRange::Strict)?)
        };
        comma(c, m)?;
        let t = c.target()?;
        return Ok(Some(Stmt::Insn {
            insn: Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off: 0,
            },
            target: Some(t),
        }));
    }
    if let Some(rest) = m.strip_prefix("movsx") {
        let (bits, width) = match rest {
            "832" => (8, Width::W32),
            "1632" => (16, Width::W32),
            "864" => (8, Width::W64),
            "1664" => (16, Width::W64),
            "3264" => (32, Width::W64),
            _ => return Ok(None),
        };
        let dst = reg(c)?;
        comma(c, m)?;
        let src = reg(c)?;
        return Ok(Some(insn(Insn::MovSx {
            width,
            bits,
            dst,
            src,
        })));
    }
    let swap = [
        ("le", EndianOp::ToLe),
        ("be", EndianOp::ToBe),
        ("bswap", EndianOp::Bswap),
        ("swap", EndianOp::Bswap),
    ]
    .into_iter()
    .find_map(|(p, op)| {
        let bits = m.strip_prefix(p)?;
        ["16", "32", "64"]
            .contains(&bits)
            .then(|| (op, bits.parse::<u8>().expect("16, 32 or 64")))
    });
    if let Some((op, bits)) = swap {
        let dst = reg(c)?;
        return Ok(Some(insn(Insn::Endian { op, bits, dst })));
    }
    if let Some(sz) = m.strip_prefix("ldxs")
        && let Some(size) = lookup(&SIZE_SUFFIXES, sz)
        && size != Size::DW
    {
        return load(c, m, size, true).map(Some);
    }
    if let Some(sz) = m.strip_prefix("ldx")
        && let Some(size) = lookup(&SIZE_SUFFIXES, sz)
    {
        return load(c, m, size, false).map(Some);
    }
    if let Some(sz) = m.strip_prefix("stx")
        && let Some(size) = lookup(&SIZE_SUFFIXES, sz)
    {
        let (dst, off) = mem(c)?;
        comma(c, m)?;
        let src = reg(c)?;
        return Ok(Some(insn(Insn::StoreReg {
            size,
            dst,
            src,
            off,
        })));
    }
    if let Some(sz) = m.strip_prefix("st")
        && let Some(size) = lookup(&SIZE_SUFFIXES, sz)
    {
        let (dst, off) = mem(c)?;
        comma(c, m)?;
        let imm = c.imm32(ImmRange::Strict)?;
        return Ok(Some(insn(Insn::Store {
            size,
            dst,
            off,
            imm,
        })));
    }
    if let Some(sz) = m.strip_prefix("ldabs")
        && let Some(size) = lookup(&SIZE_SUFFIXES, sz)
    {
        let imm = c.imm32(ImmRange::Strict)?;
        return Ok(Some(insn(Insn::LdAbs { size, imm })));
    }
    if let Some(sz) = m.strip_prefix("ldind")
        && let Some(size) = lookup(&SIZE_SUFFIXES, sz)
    {
        let src = reg(c)?;
        comma(c, m)?;
        let imm = c.imm32(ImmRange::Strict)?;
        return Ok(Some(insn(Insn::LdInd { size, src, imm })));
    }
    let stmt = match m {
        "exit" => insn(Insn::Exit),
        "ja" => Stmt::Insn {
            insn: Insn::Ja { off: 0 },
            target: Some(c.target()?),
        },
        "ja32" | "gotol" => Stmt::Insn {
            insn: Insn::Gotol { imm: 0 },
            target: Some(c.target()?),
        },
        "may_goto" => Stmt::Insn {
            insn: Insn::MayGoto { off: 0 },
            target: Some(c.target()?),
        },
        "callx" => insn(Insn::Callx { reg: reg(c)? }),
        "call" => call(c)?,
        "lock" => lock(c)?,
        "lddw" => lddw(c)?,
        "addr_space_cast" => {
            let dst = reg(c)?;
            comma(c, m)?;
            let src = reg(c)?;
            comma(c, m)?;
            let dst_as = c.uint(u16::MAX as u64, "address space")? as u16;
            comma(c, m)?;
            let src_as = c.uint(u16::MAX as u64, "address space")? as u16;
            insn(Insn::AddrSpaceCast {
                dst,
                src,
                dst_as,
                src_as,
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(stmt))
}

fn load(c: &mut Cursor, m: &str, size: Size, sign: bool) -> Result<Stmt, AsmError> {
    let dst = reg(c)?;
    comma(c, m)?;
    let (src, off) = mem(c)?;
    Ok(insn(Insn::Load {
        size,
        sign,
        dst,
        src,
        off,
    }))
}

fn call(c: &mut Cursor) -> Result<Stmt, AsmError> {
    if c.is_reg() {
        return Ok(insn(Insn::Callx { reg: reg(c)? }));
    }
    if c.is_num() {
        let id = c.imm32(ImmRange::Strict)?;
        return Ok(insn(Insn::Call(CallKind::Helper(id))));
    }
    if c.eat_ident("local") {
        let t = c.target()?;
        return Ok(Stmt::Insn {
            insn: Insn::Call(CallKind::Local(0)),
            target: Some(t),
        });
    }
    if c.eat_ident("kfunc") {
        c.punct("(")?;
        let btf_id = c.imm32(ImmRange::Strict)?;
        let off = if c.eat_punct(",") { c.off16(false)? } else { 0 };
        c.punct(")")?;
        return Ok(insn(Insn::Call(CallKind::Kfunc { btf_id, off })));
    }
    // A helper by name, or a symbol resolved like llvm's `call sym`.
    let col = c.col();
    let name = c.ident("a helper id, `local LABEL`, a register or `kfunc(ID)`")?;
    let t = match c.addend()? {
        Some(addend) => Target::Symbol {
            name: name.to_string(),
            addend,
        },
        None => Target::Label(name.to_string()),
    };
    Ok(Stmt::Insn {
        insn: Insn::Call(CallKind::Local(0)),
        target: Some((t, col)),
    })
}

fn lock(c: &mut Cursor) -> Result<Stmt, AsmError> {
    if c.at_end() {
        return Err(c.error("invalid number of operands for lock: expected an operation, a memory operand and a register"));
    }
    let fetch = c.eat_ident("fetch");
    let col = c.col();
    let word = c.ident("an atomic operation (add, or, and, xor, xchg, cmpxchg)")?;
    let (base, width) = split_width(word);
    let size = match width {
        Width::W32 => Size::W,
        Width::W64 => Size::DW,
    };
    let op = if let Some(f) = lookup(&ATOMIC_WORDS, base) {
        f(fetch)
    } else if base == "xchg" && !fetch {
        AtomicOp::Xchg
    } else if base == "cmpxchg" && !fetch {
        AtomicOp::Cmpxchg
    } else {
        return Err(AsmError::new(
            c.line,
            col,
            format!(
                "unknown atomic operation `{word}`: expected add, or, and, xor (optionally after fetch), xchg or cmpxchg"
            ),
        ));
    };
    let (dst, off) = mem(c)?;
    comma(c, "lock")?;
    let src = reg(c)?;
    Ok(insn(Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    }))
}

fn lddw(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let dst = reg(c)?;
    comma(c, "lddw")?;
    if let Some(Tok::Ident(word)) = c.peek() {
        let kind = match word.as_str() {
            "map_fd" => Imm64Kind::MapFd,
            "map_value" => Imm64Kind::MapValue,
            "btf_id" => Imm64Kind::BtfId,
            "func" => Imm64Kind::Func,
            "map_idx" => Imm64Kind::MapIdx,
            "map_idx_value" => Imm64Kind::MapIdxValue,
            _ => {
                // a symbol: relocated
                let col = c.col();
                let name = word.clone();
                c.advance();
                let t = match c.addend()? {
                    Some(addend) => Target::Symbol { name, addend },
                    None => Target::Label(name),
                };
                return Ok(Stmt::Insn {
                    insn: Insn::ld_imm64(dst, 0),
                    target: Some((t, col)),
                });
            }
        };
        c.advance();
        let (imm, next_imm, tgt) = super::llvm::pseudo_args(c, kind)?;
        return Ok(Stmt::Insn {
            insn: Insn::LdImm64 {
                dst,
                kind,
                imm,
                next_imm,
            },
            target: tgt,
        });
    }
    let v = c.imm64()?;
    Ok(insn(Insn::ld_imm64(dst, v)))
}

/// The ubpf mnemonic of a binary ALU operation (without width suffix).
pub fn alu_mnemonic(op: AluOp) -> &'static str {
    ALU_MNEMONICS
        .iter()
        .find(|e| e.1 == op)
        .map(|e| e.0)
        .expect("every AluOp has a mnemonic")
}

/// The ubpf mnemonic of a conditional jump (without width suffix).
pub fn jmp_mnemonic(cond: Cond) -> &'static str {
    JMP_MNEMONICS
        .iter()
        .find(|e| e.1 == cond)
        .map(|e| e.0)
        .expect("every Cond has a mnemonic")
}
