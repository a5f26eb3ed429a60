//! The `llvm` dialect: the syntax of llvm-mc, llvm-objdump and the kernel verifier log
//! (`r0 = 42`, `if r1 s> 3 goto +5`, `lock *(u64 *)(r10 - 16) += r2`, `r1 = 0x1 ll`).
//!
//! Beyond llvm's own syntax it reads what llvm-objdump prints (addresses, raw bytes, symbol
//! headers, `<sym+0x10>` annotations), the kernel log's `call pc+5` and `call name`, and our
//! extensions for encodings llvm cannot write: `call kfunc(ID[, OFF])`, LD_IMM64 pseudo sources
//! (`map_fd(3)`, `map_value(3, 8)`, `btf_id(ID, FD)`, `func(label)`, `map_idx(2)`,
//! `map_idx_value(2, 8)`), and `skb[r1 + 4]` for LD_IND with an immediate.

use super::cursor::{Cursor, ImmRange};
use super::lexer::{Tok, strip_comment};
use super::{AsmError, Stmt, Target};
use crate::insn::*;

/// Cleans one line: drops comments and llvm-objdump decoration, maps its headers to
/// directives and labels.
pub fn preprocess(raw: &str) -> String {
    let line = strip_comment(raw);
    let t = line.trim();
    if t.contains("file format ") || t.contains("R_BPF_") {
        return String::new();
    }
    if let Some(rest) = t.strip_prefix("Disassembly of section ") {
        return format!(".section {}", rest.trim_end_matches(':'));
    }
    // `0000000000000000 <name>:` symbol header
    if let Some((addr, rest)) = t.split_once(' ')
        && !addr.is_empty()
        && addr.bytes().all(|b| b.is_ascii_hexdigit())
        && rest.starts_with('<')
        && rest.ends_with(">:")
    {
        return format!("{}:", &rest[1..rest.len() - 2]);
    }
    let mut s = t;
    // `   12:\t<bytes>\t<insn>` address prefix
    if let Some((addr, rest)) = s.split_once(':')
        && !addr.is_empty()
        && addr.trim().bytes().all(|b| b.is_ascii_digit())
        && rest.starts_with(['\t', ' '])
    {
        s = rest.trim_start();
        // raw bytes column: pairs of hex digits separated by single spaces, then a tab
        if let Some((bytes, insn)) = s.split_once('\t')
            && !bytes.is_empty()
            && bytes
                .split(' ')
                .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            s = insn;
        }
    }
    // trailing `<sym+0x10>` annotation (no instruction ends with `>`)
    let s = s.trim_end();
    if s.ends_with('>')
        && let Some(i) = s.rfind('<')
    {
        return s[..i].to_string();
    }
    s.to_string()
}

fn width_of(wide: bool) -> Width {
    if wide { Width::W64 } else { Width::W32 }
}

/// `+5`, `-3`, `5` or a label.
/// `*(u32 *)` or `*(s8 *)`: returns the size and whether it is signed. The leading `*` has
/// been consumed when `star` is false.
fn sized_ptr(c: &mut Cursor, star: bool) -> Result<(Size, bool), AsmError> {
    if star {
        c.punct("*")?;
    }
    c.punct("(")?;
    let ty = ptr_type(c)?;
    c.punct("*")?;
    c.punct(")")?;
    Ok(ty)
}

fn ptr_type(c: &mut Cursor) -> Result<(Size, bool), AsmError> {
    let col = c.col();
    let name = c.ident("a type (u8, u16, u32, u64, s8, s16, s32)")?;
    let r = match name {
        "u8" => (Size::B, false),
        "u16" => (Size::H, false),
        "u32" => (Size::W, false),
        "u64" => (Size::DW, false),
        "s8" => (Size::B, true),
        "s16" => (Size::H, true),
        "s32" => (Size::W, true),
        _ => {
            return Err(AsmError::new(
                c.line,
                col,
                format!("expected a type (u8, u16, u32, u64, s8, s16, s32), found `{name}`"),
            ));
        }
    };
    Ok(r)
}

/// `(r1 + 4)` / `(r10 - 8)` / `(r1)`: base register and offset.
fn mem(c: &mut Cursor) -> Result<(Reg, i16), AsmError> {
    c.punct("(")?;
    let base = c.reg(true)?;
    let off = reg_offset(c)?;
    c.punct(")")?;
    Ok((base, off))
}

/// An optional `+ N` / `- N` after a base register.
fn reg_offset(c: &mut Cursor) -> Result<i16, AsmError> {
    if c.eat_punct("+") {
        c.off16(false)
    } else if c.eat_punct("-") {
        c.off16(true)
    } else {
        Ok(0)
    }
}

fn insn(insn: Insn) -> Stmt {
    Stmt::Insn { insn, target: None }
}

fn with_target(insn: Insn, t: (Target, usize)) -> Stmt {
    Stmt::Insn {
        insn,
        target: Some(t),
    }
}

/// One statement (after any labels): an instruction.
pub fn statement(c: &mut Cursor) -> Result<Stmt, AsmError> {
    match c.peek() {
        Some(Tok::Ident(word)) => {
            let word = word.clone();
            c.advance();
            keyword_statement(c, &word)
        }
        Some(Tok::Reg { .. }) => reg_statement(c),
        Some(Tok::Punct("*")) => {
            c.advance();
            store(c)
        }
        _ => Err(c.expected("an instruction")),
    }
}

fn keyword_statement(c: &mut Cursor, word: &str) -> Result<Stmt, AsmError> {
    match word {
        "exit" => Ok(insn(Insn::Exit)),
        "goto" | "ja" => {
            let t = c.target()?;
            Ok(with_target(Insn::Ja { off: 0 }, t))
        }
        "gotol" => {
            let t = c.target()?;
            Ok(with_target(Insn::Gotol { imm: 0 }, t))
        }
        "may_goto" => {
            let t = c.target()?;
            Ok(with_target(Insn::MayGoto { off: 0 }, t))
        }
        "callx" => {
            let (reg, _) = c.reg_any()?;
            Ok(insn(Insn::Callx { reg }))
        }
        "call" => call(c),
        "if" => cond_jump(c),
        "lock" => {
            let (size, signed) = sized_ptr(c, true)?;
            if signed || !matches!(size, Size::W | Size::DW) {
                return Err(c.error("atomic operations work on u32 or u64"));
            }
            let (dst, off) = mem(c)?;
            let col = c.col();
            let op = match c.advance() {
                Some(Tok::Punct("+=")) => AtomicOp::Add { fetch: false },
                Some(Tok::Punct("|=")) => AtomicOp::Or { fetch: false },
                Some(Tok::Punct("&=")) => AtomicOp::And { fetch: false },
                Some(Tok::Punct("^=")) => AtomicOp::Xor { fetch: false },
                _ => {
                    return Err(AsmError::new(
                        c.line,
                        col,
                        "expected an atomic operator (`+=`, `|=`, `&=`, `^=`)",
                    ));
                }
            };
            let (src, _) = c.reg_any()?;
            Ok(insn(Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            }))
        }
        _ => Err(AsmError::new(
            c.line,
            1,
            format!("unknown instruction `{word}`"),
        )),
    }
}

fn call(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let col = c.col();
    if c.is_num() {
        let id = c.imm32(ImmRange::Loose)?;
        return Ok(insn(Insn::Call(CallKind::Helper(id))));
    }
    let name = c.ident("a helper id, helper name, label, `pc+N` or `kfunc(ID)`")?;
    match name {
        "pc" => {
            let (v, _) = c.signed_num()?;
            Ok(with_target(
                Insn::Call(CallKind::Local(0)),
                (Target::Rel(v as i64), col),
            ))
        }
        "kfunc" => {
            c.punct("(")?;
            let btf_id = c.imm32(ImmRange::Loose)?;
            let off = if c.eat_punct(",") { c.off16(false)? } else { 0 };
            c.punct(")")?;
            Ok(insn(Insn::Call(CallKind::Kfunc { btf_id, off })))
        }
        _ => {
            let t = match c.addend()? {
                Some(addend) => Target::Symbol {
                    name: name.to_string(),
                    addend,
                },
                None => Target::Label(name.to_string()),
            };
            Ok(with_target(Insn::Call(CallKind::Local(0)), (t, col)))
        }
    }
}

fn cond_jump(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let (dst, wide) = c.reg_any()?;
    let col = c.col();
    let cond = match c.advance() {
        Some(Tok::Punct(p)) => match *p {
            "==" => Cond::Eq,
            "!=" => Cond::Ne,
            ">" => Cond::Gt,
            ">=" => Cond::Ge,
            "<" => Cond::Lt,
            "<=" => Cond::Le,
            "s>" => Cond::Sgt,
            "s>=" => Cond::Sge,
            "s<" => Cond::Slt,
            "s<=" => Cond::Sle,
            "&" => Cond::Set,
            _ => None.ok_or_else(|| bad_cond(c, col))?,
        },
        _ => return Err(bad_cond(c, col)),
    };
    let src = if c.is_reg() {
        Src::Reg(c.reg(wide)?)
    } else {
        Src::Imm(c.imm32(ImmRange::Loose)?)
    };
    if !c.eat_ident("goto") {
        return Err(c.expected("`goto`"));
    }
    let t = c.target()?;
    Ok(with_target(
        Insn::Jmp {
            width: width_of(wide),
            cond,
            dst,
            src,
            off: 0,
        },
        t,
    ))
}

fn bad_cond(c: &Cursor, col: usize) -> AsmError {
    AsmError::new(
        c.line,
        col,
        "expected a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)",
    )
}

/// `*(u32 *)(r1 + 4) = r2` or `= 42`; the leading `*` is consumed.
fn store(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let (size, signed) = sized_ptr(c, false)?;
    if signed {
        return Err(c.error("stores take an unsigned type (u8, u16, u32, u64)"));
    }
    let (dst, off) = mem(c)?;
    c.punct("=")?;
    if c.is_reg() {
        let (src, _) = c.reg_any()?;
        Ok(insn(Insn::StoreReg {
            size,
            dst,
            src,
            off,
        }))
    } else {
        let imm = c.imm32(ImmRange::Loose)?;
        Ok(insn(Insn::Store {
            size,
            dst,
            off,
            imm,
        }))
    }
}

fn alu_assign_op(p: &str) -> Option<AluOp> {
    Some(match p {
        "+=" => AluOp::Add,
        "-=" => AluOp::Sub,
        "*=" => AluOp::Mul,
        "/=" => AluOp::Div,
        "s/=" => AluOp::Sdiv,
        "%=" => AluOp::Mod,
        "s%=" => AluOp::Smod,
        "|=" => AluOp::Or,
        "&=" => AluOp::And,
        "^=" => AluOp::Xor,
        "<<=" => AluOp::Lsh,
        ">>=" => AluOp::Rsh,
        "s>>=" => AluOp::Arsh,
        _ => return None,
    })
}

/// Statements that start with a register: ALU, moves, loads, atomics with a result, LD_IMM64.
fn reg_statement(c: &mut Cursor) -> Result<Stmt, AsmError> {
    let (dst, wide) = c.reg_any()?;
    let width = width_of(wide);
    let col = c.col();
    let op = match c.advance() {
        Some(Tok::Punct(p)) => *p,
        _ => {
            return Err(AsmError::new(
                c.line,
                col,
                "expected `=` or an ALU operator like `+=`",
            ));
        }
    };
    if let Some(op) = alu_assign_op(op) {
        let src = if c.is_reg() {
            Src::Reg(c.reg(wide)?)
        } else {
            Src::Imm(c.imm32(ImmRange::Loose)?)
        };
        return Ok(insn(Insn::Alu {
            width,
            op,
            dst,
            src,
        }));
    }
    if op != "=" {
        return Err(AsmError::new(
            c.line,
            col,
            format!("expected `=` or an ALU operator like `+=`, found `{op}`"),
        ));
    }
    // dst = ...
    match c.peek() {
        Some(Tok::Reg { .. }) => {
            let src = c.reg(wide)?;
            Ok(insn(Insn::Alu {
                width,
                op: AluOp::Mov,
                dst,
                src: Src::Reg(src),
            }))
        }
        Some(Tok::Punct("-")) if matches!(c.peek_at(1), Some(Tok::Reg { .. })) => {
            c.advance();
            let r = c.reg(wide)?;
            if r != dst {
                return Err(c.error(format!(
                    "negation is in place: write {0} = -{0}",
                    reg_name(dst, wide)
                )));
            }
            Ok(insn(Insn::Neg { width, dst }))
        }
        Some(Tok::Punct("(")) => {
            c.advance();
            let (size, signed) = ptr_type(c)?;
            c.punct(")")?;
            let bits = match (size, signed) {
                (Size::B, true) => 8,
                (Size::H, true) => 16,
                (Size::W, true) => 32,
                _ => return Err(c.error("sign-extending moves take s8, s16 or s32")),
            };
            let src = c.reg(wide)?;
            Ok(insn(Insn::MovSx {
                width,
                bits,
                dst,
                src,
            }))
        }
        Some(Tok::Punct("*")) => {
            c.advance();
            let (size, sign) = sized_ptr(c, false)?;
            if c.eat_ident("skb") {
                return ld_skb(c, dst, size, sign);
            }
            let (src, off) = mem(c)?;
            Ok(insn(Insn::Load {
                size,
                sign,
                dst,
                src,
                off,
            }))
        }
        Some(Tok::Ident(word)) => {
            let word = word.clone();
            c.advance();
            reg_assign_word(c, dst, wide, &word)
        }
        _ => {
            let value_col = c.col();
            let (v, _) = c.signed_num()?;
            if c.eat_ident("ll") {
                if !wide {
                    return Err(AsmError::new(
                        c.line,
                        col,
                        "LD_IMM64 needs a 64-bit register",
                    ));
                }
                if !(-(1i128 << 63)..(1i128 << 64)).contains(&v) {
                    return Err(AsmError::new(
                        c.line,
                        value_col,
                        format!("immediate {v} does not fit in 64 bits"),
                    ));
                }
                return Ok(insn(Insn::ld_imm64(dst, v as u64)));
            }
            if !(-(1i128 << 31)..(1i128 << 32)).contains(&v) {
                return Err(AsmError::new(
                    c.line,
                    value_col,
                    format!(
                        "immediate {v} does not fit in 32 bits; for a 64-bit constant write `{} = {v} ll`",
                        reg_name(dst, wide)
                    ),
                ));
            }
            Ok(insn(Insn::Alu {
                width,
                op: AluOp::Mov,
                dst,
                src: Src::Imm(v as i64 as u32 as i32),
            }))
        }
    }
}

fn reg_name(r: Reg, wide: bool) -> String {
    format!("{}{}", if wide { 'r' } else { 'w' }, r.index())
}

/// `skb[5]`, `skb[r1]`, `skb[r1 + 4]` after `rN = *(uSZ *)`.
fn ld_skb(c: &mut Cursor, dst: Reg, size: Size, sign: bool) -> Result<Stmt, AsmError> {
    if dst != Reg::R0 || sign || size == Size::DW {
        return Err(c.error("legacy packet loads are `r0 = *(u8|u16|u32 *)skb[...]`"));
    }
    c.punct("[")?;
    let stmt = if c.is_reg() {
        let (src, _) = c.reg_any()?;
        let imm = if c.eat_punct("+") {
            c.imm32(ImmRange::Loose)?
        } else if c.eat_punct("-") {
            let v = c.imm32(ImmRange::Loose)?;
            v.wrapping_neg()
        } else {
            0
        };
        insn(Insn::LdInd { size, src, imm })
    } else {
        let imm = c.imm32(ImmRange::Loose)?;
        insn(Insn::LdAbs { size, imm })
    };
    c.punct("]")?;
    Ok(stmt)
}

fn reg_assign_word(c: &mut Cursor, dst: Reg, wide: bool, word: &str) -> Result<Stmt, AsmError> {
    let endian = |op, bits| -> Result<Stmt, AsmError> { Ok(insn(Insn::Endian { op, bits, dst })) };
    let swap = match word {
        "le16" => Some((EndianOp::ToLe, 16)),
        "le32" => Some((EndianOp::ToLe, 32)),
        "le64" => Some((EndianOp::ToLe, 64)),
        "be16" => Some((EndianOp::ToBe, 16)),
        "be32" => Some((EndianOp::ToBe, 32)),
        "be64" => Some((EndianOp::ToBe, 64)),
        "bswap16" => Some((EndianOp::Bswap, 16)),
        "bswap32" => Some((EndianOp::Bswap, 32)),
        "bswap64" => Some((EndianOp::Bswap, 64)),
        _ => None,
    };
    if let Some((op, bits)) = swap {
        let (r, _) = c.reg_any()?;
        if r != dst {
            return Err(c.error(format!(
                "byte swaps are in place: write {0} = {word} {0}",
                reg_name(dst, wide)
            )));
        }
        return endian(op, bits);
    }
    let atomic_fetch = match word {
        "atomic_fetch_add" => Some(AtomicOp::Add { fetch: true }),
        "atomic_fetch_or" => Some(AtomicOp::Or { fetch: true }),
        "atomic_fetch_and" => Some(AtomicOp::And { fetch: true }),
        "atomic_fetch_xor" => Some(AtomicOp::Xor { fetch: true }),
        _ => None,
    };
    if let Some(op) = atomic_fetch {
        // r2 = atomic_fetch_add((u64 *)(r10 - 16), r2)
        c.punct("(")?;
        let (size, signed) = sized_ptr(c, false)?;
        if signed || !matches!(size, Size::W | Size::DW) {
            return Err(c.error("atomic operations work on u32 or u64"));
        }
        let (base, off) = mem(c)?;
        c.punct(",")?;
        let src = c.reg(wide)?;
        c.punct(")")?;
        if src != dst {
            return Err(c.error("the fetched value goes to the source register: write rS = atomic_fetch_op((u64 *)(rD + off), rS)"));
        }
        return Ok(insn(Insn::Atomic {
            size,
            op,
            dst: base,
            src,
            off,
        }));
    }
    match word {
        "xchg_64" | "xchg32_32" | "cmpxchg_64" | "cmpxchg32_32" => {
            let size = if word.ends_with("_64") {
                Size::DW
            } else {
                Size::W
            };
            let cmp = word.starts_with("cmp");
            c.punct("(")?;
            let base = c.reg(true)?;
            let off = reg_offset(c)?;
            c.punct(",")?;
            if cmp {
                let r0 = c.reg(wide)?;
                if r0 != Reg::R0 || dst != Reg::R0 {
                    return Err(c.error("cmpxchg compares with and returns in r0: write r0 = cmpxchg_64(rD + off, r0, rS)"));
                }
                c.punct(",")?;
            }
            let src = c.reg(wide)?;
            c.punct(")")?;
            if !cmp && src != dst {
                return Err(c.error("xchg returns the old value in its source register: write rS = xchg_64(rD + off, rS)"));
            }
            Ok(insn(Insn::Atomic {
                size,
                op: if cmp {
                    AtomicOp::Cmpxchg
                } else {
                    AtomicOp::Xchg
                },
                dst: base,
                src,
                off,
            }))
        }
        "addr_space_cast" => {
            c.punct("(")?;
            let src = c.reg(true)?;
            c.punct(",")?;
            let dst_as = c.uint(u16::MAX as u64, "address space")? as u16;
            c.punct(",")?;
            let src_as = c.uint(u16::MAX as u64, "address space")? as u16;
            c.punct(")")?;
            Ok(insn(Insn::AddrSpaceCast {
                dst,
                src,
                dst_as,
                src_as,
            }))
        }
        "map_fd" | "map_value" | "btf_id" | "func" | "map_idx" | "map_idx_value" => {
            let kind = match word {
                "map_fd" => Imm64Kind::MapFd,
                "map_value" => Imm64Kind::MapValue,
                "btf_id" => Imm64Kind::BtfId,
                "func" => Imm64Kind::Func,
                "map_idx" => Imm64Kind::MapIdx,
                _ => Imm64Kind::MapIdxValue,
            };
            let (imm, next_imm, tgt) = pseudo_args(c, kind)?;
            if !c.eat_ident("ll") {
                return Err(c.expected("`ll`"));
            }
            let i = Insn::LdImm64 {
                dst,
                kind,
                imm,
                next_imm,
            };
            Ok(match tgt {
                Some(t) => with_target(i, t),
                None => insn(i),
            })
        }
        _ => {
            // `r1 = sym ll`: a relocated LD_IMM64
            let col = c.col().saturating_sub(word.chars().count() + 1);
            let addend = c.addend()?;
            if c.eat_ident("ll") {
                if !wide {
                    return Err(c.error("LD_IMM64 needs a 64-bit register"));
                }
                let t = match addend {
                    Some(addend) => Target::Symbol {
                        name: word.to_string(),
                        addend,
                    },
                    None => Target::Label(word.to_string()),
                };
                return Ok(with_target(Insn::ld_imm64(dst, 0), (t, col)));
            }
            Err(AsmError::new(
                c.line,
                col.max(1),
                format!("unexpected `{word}` after `=`"),
            ))
        }
    }
}

/// The arguments of an LD_IMM64 pseudo source, e.g. `(3, 8)` of `map_value(3, 8)`.
/// For `func(...)` the argument is a target (label or pc-relative offset).
#[allow(clippy::type_complexity)]
pub(super) fn pseudo_args(
    c: &mut Cursor,
    kind: Imm64Kind,
) -> Result<(i32, i32, Option<(Target, usize)>), AsmError> {
    c.punct("(")?;
    if kind == Imm64Kind::Func {
        let col = c.col();
        let t = if c.eat_ident("pc") || c.is_num() {
            let (v, _) = c.signed_num()?;
            Target::Rel(v as i64)
        } else {
            Target::Label(c.ident("a label or pc+N")?.to_string())
        };
        c.punct(")")?;
        return Ok((0, 0, Some((t, col))));
    }
    let imm = c.imm32(ImmRange::Loose)?;
    let next = if kind.uses_next_imm() {
        c.punct(",")?;
        c.imm32(ImmRange::Loose)?
    } else {
        0
    };
    c.punct(")")?;
    Ok((imm, next, None))
}
