//! Pre-decoding: translates a [`Program`] into a flat array of 16-byte [`Op`]s, one per
//! instruction, whose [`Code`] is specialised by operation, width and operand kind so the
//! interpreter dispatches each executed instruction with a single `match`.
//!
//! Jump and call targets become instruction indices; immediates are widened once here
//! (sign-extended for 64-bit operations); `le64` becomes a no-op; shift immediates are
//! masked. A final [`Code::FellOff`] catches control running past the last instruction.

use bpfvet_isa::{
    AluOp, AtomicOp, CallKind, Cond, EndianOp, Imm64Kind, Insn, Program, Reg, Size, Src, Width,
};

use crate::error::VmError;

/// The operation of a pre-decoded instruction. `I` variants take the immediate in
/// [`Op::imm`] (already widened: sign-extended for 64-bit operations, zero-extended from 32
/// bits for 32-bit ones), `R` variants a source register in [`Op::s`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Code {
    Add64I,
    Add64R,
    Sub64I,
    Sub64R,
    Mul64I,
    Mul64R,
    Div64I,
    Div64R,
    Sdiv64I,
    Sdiv64R,
    Mod64I,
    Mod64R,
    Smod64I,
    Smod64R,
    Or64I,
    Or64R,
    And64I,
    And64R,
    Xor64I,
    Xor64R,
    Lsh64I,
    Lsh64R,
    Rsh64I,
    Rsh64R,
    Arsh64I,
    Arsh64R,
    Mov64I,
    Mov64R,

    Add32I,
    Add32R,
    Sub32I,
    Sub32R,
    Mul32I,
    Mul32R,
    Div32I,
    Div32R,
    Sdiv32I,
    Sdiv32R,
    Mod32I,
    Mod32R,
    Smod32I,
    Smod32R,
    Or32I,
    Or32R,
    And32I,
    And32R,
    Xor32I,
    Xor32R,
    Lsh32I,
    Lsh32R,
    Rsh32I,
    Rsh32R,
    Arsh32I,
    Arsh32R,
    Mov32I,
    Mov32R,

    Neg64,
    Neg32,
    /// Sign-extending moves: `Sx<bits>To<width>`.
    Sx8To64,
    Sx16To64,
    Sx32To64,
    Sx8To32,
    Sx16To32,
    /// `le16`/`le32`: truncation on a little-endian machine.
    Trunc16,
    Trunc32,
    /// `be16/32/64` and `bswap16/32/64`: swap (and truncate).
    Swap16,
    Swap32,
    Swap64,
    /// `le64`.
    Nop,

    /// `d = imm`, the 64-bit constant of a plain LD_IMM64.
    LdImm64,
    /// Loads `d = *(s + x)`; `S` variants sign-extend.
    LdxB,
    LdxH,
    LdxW,
    LdxDW,
    LdxSB,
    LdxSH,
    LdxSW,
    /// Stores `*(d + x) = imm`.
    StB,
    StH,
    StW,
    StDW,
    /// Stores `*(d + x) = s`.
    StxB,
    StxH,
    StxW,
    StxDW,
    /// Atomics on `*(d + x)` with operand `s`.
    AtomicAdd32,
    AtomicOr32,
    AtomicAnd32,
    AtomicXor32,
    AtomicFetchAdd32,
    AtomicFetchOr32,
    AtomicFetchAnd32,
    AtomicFetchXor32,
    AtomicXchg32,
    AtomicCmpxchg32,
    AtomicAdd64,
    AtomicOr64,
    AtomicAnd64,
    AtomicXor64,
    AtomicFetchAdd64,
    AtomicFetchOr64,
    AtomicFetchAnd64,
    AtomicFetchXor64,
    AtomicXchg64,
    AtomicCmpxchg64,

    /// Jumps to instruction `x`.
    Ja,
    /// Conditional jumps to instruction `x`.
    Jeq64I,
    Jeq64R,
    Jne64I,
    Jne64R,
    Jgt64I,
    Jgt64R,
    Jge64I,
    Jge64R,
    Jlt64I,
    Jlt64R,
    Jle64I,
    Jle64R,
    Jsgt64I,
    Jsgt64R,
    Jsge64I,
    Jsge64R,
    Jslt64I,
    Jslt64R,
    Jsle64I,
    Jsle64R,
    Jset64I,
    Jset64R,
    Jeq32I,
    Jeq32R,
    Jne32I,
    Jne32R,
    Jgt32I,
    Jgt32R,
    Jge32I,
    Jge32R,
    Jlt32I,
    Jlt32R,
    Jle32I,
    Jle32R,
    Jsgt32I,
    Jsgt32R,
    Jsge32I,
    Jsge32R,
    Jslt32I,
    Jslt32R,
    Jsle32I,
    Jsle32R,
    Jset32I,
    Jset32R,
    MayGoto,

    /// Helper `imm`.
    CallHelper,
    /// bpf-to-bpf call to instruction `x`.
    CallLocal,
    /// Helper whose id is in register `d`.
    Callx,
    Exit,

    /// LD_IMM64 with pseudo src `imm`: needs the loader (fails when executed).
    NeedsLoader,
    /// `d = ` the pointer of the map with fd `x` (src 1).
    LdMapFd,
    /// `d = ` the pointer of map index `x` (src 5).
    LdMapIdx,
    /// `d = ` the address of byte `imm` of the value of the map with fd `x` (src 2).
    LdMapValueFd,
    /// `d = ` the address of byte `imm` of the value of map index `x` (src 6).
    LdMapValueIdx,
    /// `d = ` the address of the function at instruction `x` (src 4).
    LdFunc,
    /// LD_ABS (`x == 0`) / LD_IND (`x == 1`, offset register `s`): `d` bytes at offset `imm`
    /// of the socket buffer's data, big-endian, into R0.
    LegacyPacketLoad,
    /// `addr_space_cast` (fails when executed).
    AddrSpaceCast,
    /// kfunc call: BTF id `imm as i32`, BTF object `x as i16` (fails when executed).
    Kfunc,
    /// Sentinel after the last instruction.
    FellOff,
}

/// One pre-decoded instruction: 16 bytes, every field at a fixed place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Op {
    pub code: Code,
    /// Destination register number (0..=10).
    pub d: u8,
    /// Source register number (0..=10).
    pub s: u8,
    /// Jump or call target (an instruction index), or a memory offset (`off as i32 as u32`).
    pub x: u32,
    /// Immediate, widened; see [`Code`].
    pub imm: u64,
}

impl Op {
    const fn new(code: Code) -> Op {
        Op {
            code,
            d: 0,
            s: 0,
            x: 0,
            imm: 0,
        }
    }

    fn ri(code: Code, d: Reg, imm: u64) -> Op {
        Op {
            d: d.index(),
            imm,
            ..Op::new(code)
        }
    }

    fn rr(code: Code, d: Reg, s: Reg) -> Op {
        Op {
            d: d.index(),
            s: s.index(),
            ..Op::new(code)
        }
    }

    /// A memory operation with offset `off`.
    fn mem(code: Code, d: Reg, s: Reg, off: i16) -> Op {
        Op {
            x: off as i32 as u32,
            ..Op::rr(code, d, s)
        }
    }
}

/// A pre-decoded program: `ops[i]` is instruction `i`, `pcs[i]` its slot address.
#[derive(Clone, Debug)]
pub(crate) struct Decoded {
    pub ops: Vec<Op>,
    pub pcs: Vec<usize>,
}

/// True if `insn` writes register R10.
fn writes_r10(insn: &Insn) -> bool {
    let dst = match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::MovSx { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::AddrSpaceCast { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LdImm64 { dst, .. } => dst,
        Insn::Atomic { op, src, .. } if op.fetches() && op != AtomicOp::Cmpxchg => src,
        _ => return false,
    };
    dst == Reg::R10
}

/// Pre-decodes `prog`.
pub(crate) fn predecode(prog: &Program) -> Result<Decoded, VmError> {
    let slots = prog.slot_count();
    if u32::try_from(slots).is_err() {
        return Err(VmError::TooLarge { slots });
    }
    let mut ops = Vec::with_capacity(prog.len() + 1);
    let mut pcs = Vec::with_capacity(prog.len() + 1);
    for (pc, insn) in prog.iter() {
        if writes_r10(insn) {
            return Err(VmError::FramePointerWrite { pc });
        }
        let target = match insn.branch_offset() {
            Some(off) => {
                let target = pc as i64 + 1 + off;
                let index = usize::try_from(target)
                    .ok()
                    .and_then(|t| prog.index_of(t))
                    .ok_or(VmError::BadTarget { pc, target })?;
                index as u32
            }
            None => 0,
        };
        ops.push(translate(insn, target));
        pcs.push(pc);
    }
    ops.push(Op::new(Code::FellOff));
    pcs.push(slots);
    Ok(Decoded { ops, pcs })
}

fn translate(insn: &Insn, t: u32) -> Op {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => alu(width, op, dst, src),
        Insn::Neg { width, dst } => Op::rr(
            match width {
                Width::W64 => Code::Neg64,
                Width::W32 => Code::Neg32,
            },
            dst,
            dst,
        ),
        Insn::MovSx {
            width,
            bits,
            dst,
            src,
        } => {
            let code = match (width, bits) {
                (Width::W64, 8) => Code::Sx8To64,
                (Width::W64, 16) => Code::Sx16To64,
                (Width::W64, _) => Code::Sx32To64,
                (Width::W32, 8) => Code::Sx8To32,
                // The decoder allows only 8 and 16 for 32-bit moves.
                (Width::W32, _) => Code::Sx16To32,
            };
            Op::rr(code, dst, src)
        }
        Insn::Endian { op, bits, dst } => {
            let code = match (op, bits) {
                (EndianOp::ToLe, 16) => Code::Trunc16,
                (EndianOp::ToLe, 32) => Code::Trunc32,
                (EndianOp::ToLe, _) => Code::Nop,
                (EndianOp::ToBe | EndianOp::Bswap, 16) => Code::Swap16,
                (EndianOp::ToBe | EndianOp::Bswap, 32) => Code::Swap32,
                (EndianOp::ToBe | EndianOp::Bswap, _) => Code::Swap64,
            };
            Op::rr(code, dst, dst)
        }
        Insn::AddrSpaceCast { .. } => Op::new(Code::AddrSpaceCast),
        Insn::Ja { .. } | Insn::Gotol { .. } => Op {
            x: t,
            ..Op::new(Code::Ja)
        },
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            ..
        } => jmp(width, cond, dst, src, t),
        Insn::Call(CallKind::Helper(id)) => Op {
            imm: id as u32 as u64,
            ..Op::new(Code::CallHelper)
        },
        Insn::Call(CallKind::Local(_)) => Op {
            x: t,
            ..Op::new(Code::CallLocal)
        },
        Insn::Call(CallKind::Kfunc { btf_id, off }) => Op {
            imm: btf_id as i64 as u64,
            x: off as i32 as u32,
            ..Op::new(Code::Kfunc)
        },
        Insn::Callx { reg } => Op::rr(Code::Callx, reg, reg),
        Insn::MayGoto { .. } => Op {
            x: t,
            ..Op::new(Code::MayGoto)
        },
        Insn::Exit => Op::new(Code::Exit),
        Insn::Load {
            size,
            sign,
            dst,
            src,
            off,
        } => {
            let code = match (size, sign) {
                (Size::B, false) => Code::LdxB,
                (Size::H, false) => Code::LdxH,
                (Size::W, false) => Code::LdxW,
                (Size::DW, _) => Code::LdxDW,
                (Size::B, true) => Code::LdxSB,
                (Size::H, true) => Code::LdxSH,
                (Size::W, true) => Code::LdxSW,
            };
            Op::mem(code, dst, src, off)
        }
        Insn::Store {
            size,
            dst,
            off,
            imm,
        } => {
            let code = match size {
                Size::B => Code::StB,
                Size::H => Code::StH,
                Size::W => Code::StW,
                Size::DW => Code::StDW,
            };
            Op {
                imm: imm as i64 as u64,
                ..Op::mem(code, dst, dst, off)
            }
        }
        Insn::StoreReg {
            size,
            dst,
            src,
            off,
        } => {
            let code = match size {
                Size::B => Code::StxB,
                Size::H => Code::StxH,
                Size::W => Code::StxW,
                Size::DW => Code::StxDW,
            };
            Op::mem(code, dst, src, off)
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => Op::mem(atomic(size, op), dst, src, off),
        Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Imm,
            imm,
            next_imm,
        } => Op::ri(Code::LdImm64, dst, Insn::imm64(imm, next_imm)),
        Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } => {
            let code = match kind {
                Imm64Kind::MapFd => Code::LdMapFd,
                Imm64Kind::MapIdx => Code::LdMapIdx,
                Imm64Kind::MapValue => Code::LdMapValueFd,
                Imm64Kind::MapIdxValue => Code::LdMapValueIdx,
                Imm64Kind::Func => Code::LdFunc,
                Imm64Kind::BtfId | Imm64Kind::Imm => {
                    return Op {
                        imm: kind.src() as u64,
                        ..Op::new(Code::NeedsLoader)
                    };
                }
            };
            Op {
                d: dst.index(),
                // The pseudo source, for the error when the run has no maps.
                s: kind.src(),
                x: if kind == Imm64Kind::Func {
                    t
                } else {
                    imm as u32
                },
                imm: next_imm as u32 as u64,
                ..Op::new(code)
            }
        }
        Insn::LdAbs { size, imm } => Op {
            d: size.bytes() as u8,
            imm: imm as i64 as u64,
            ..Op::new(Code::LegacyPacketLoad)
        },
        Insn::LdInd { size, src, imm } => Op {
            d: size.bytes() as u8,
            s: src.index(),
            x: 1,
            imm: imm as i64 as u64,
            ..Op::new(Code::LegacyPacketLoad)
        },
    }
}

fn atomic(size: Size, op: AtomicOp) -> Code {
    // The decoder allows only W and DW.
    let wide = size == Size::DW;
    match (op, wide) {
        (AtomicOp::Add { fetch: false }, false) => Code::AtomicAdd32,
        (AtomicOp::Or { fetch: false }, false) => Code::AtomicOr32,
        (AtomicOp::And { fetch: false }, false) => Code::AtomicAnd32,
        (AtomicOp::Xor { fetch: false }, false) => Code::AtomicXor32,
        (AtomicOp::Add { fetch: true }, false) => Code::AtomicFetchAdd32,
        (AtomicOp::Or { fetch: true }, false) => Code::AtomicFetchOr32,
        (AtomicOp::And { fetch: true }, false) => Code::AtomicFetchAnd32,
        (AtomicOp::Xor { fetch: true }, false) => Code::AtomicFetchXor32,
        (AtomicOp::Xchg, false) => Code::AtomicXchg32,
        (AtomicOp::Cmpxchg, false) => Code::AtomicCmpxchg32,
        (AtomicOp::Add { fetch: false }, true) => Code::AtomicAdd64,
        (AtomicOp::Or { fetch: false }, true) => Code::AtomicOr64,
        (AtomicOp::And { fetch: false }, true) => Code::AtomicAnd64,
        (AtomicOp::Xor { fetch: false }, true) => Code::AtomicXor64,
        (AtomicOp::Add { fetch: true }, true) => Code::AtomicFetchAdd64,
        (AtomicOp::Or { fetch: true }, true) => Code::AtomicFetchOr64,
        (AtomicOp::And { fetch: true }, true) => Code::AtomicFetchAnd64,
        (AtomicOp::Xor { fetch: true }, true) => Code::AtomicFetchXor64,
        (AtomicOp::Xchg, true) => Code::AtomicXchg64,
        (AtomicOp::Cmpxchg, true) => Code::AtomicCmpxchg64,
    }
}

/// The `I` or `R` form of an operation: immediate `imm` or the source register.
fn pick(src: Src, d: Reg, imm: u64, i: Code, r: Code) -> Op {
    match src {
        Src::Imm(_) => Op::ri(i, d, imm),
        Src::Reg(s) => Op::rr(r, d, s),
    }
}

fn alu(width: Width, op: AluOp, d: Reg, src: Src) -> Op {
    use Code::*;
    let imm = match src {
        Src::Imm(i) => i,
        Src::Reg(_) => 0,
    };
    match width {
        Width::W64 => {
            let imm = imm as i64 as u64;
            let (i, r, imm) = match op {
                AluOp::Add => (Add64I, Add64R, imm),
                AluOp::Sub => (Sub64I, Sub64R, imm),
                AluOp::Mul => (Mul64I, Mul64R, imm),
                AluOp::Div => (Div64I, Div64R, imm),
                AluOp::Sdiv => (Sdiv64I, Sdiv64R, imm),
                AluOp::Mod => (Mod64I, Mod64R, imm),
                AluOp::Smod => (Smod64I, Smod64R, imm),
                AluOp::Or => (Or64I, Or64R, imm),
                AluOp::And => (And64I, And64R, imm),
                AluOp::Xor => (Xor64I, Xor64R, imm),
                AluOp::Lsh => (Lsh64I, Lsh64R, imm & 63),
                AluOp::Rsh => (Rsh64I, Rsh64R, imm & 63),
                AluOp::Arsh => (Arsh64I, Arsh64R, imm & 63),
                AluOp::Mov => (Mov64I, Mov64R, imm),
            };
            pick(src, d, imm, i, r)
        }
        Width::W32 => {
            let imm = imm as u32 as u64;
            let (i, r, imm) = match op {
                AluOp::Add => (Add32I, Add32R, imm),
                AluOp::Sub => (Sub32I, Sub32R, imm),
                AluOp::Mul => (Mul32I, Mul32R, imm),
                AluOp::Div => (Div32I, Div32R, imm),
                AluOp::Sdiv => (Sdiv32I, Sdiv32R, imm),
                AluOp::Mod => (Mod32I, Mod32R, imm),
                AluOp::Smod => (Smod32I, Smod32R, imm),
                AluOp::Or => (Or32I, Or32R, imm),
                AluOp::And => (And32I, And32R, imm),
                AluOp::Xor => (Xor32I, Xor32R, imm),
                AluOp::Lsh => (Lsh32I, Lsh32R, imm & 31),
                AluOp::Rsh => (Rsh32I, Rsh32R, imm & 31),
                AluOp::Arsh => (Arsh32I, Arsh32R, imm & 31),
                AluOp::Mov => (Mov32I, Mov32R, imm),
            };
            pick(src, d, imm, i, r)
        }
    }
}

fn jmp(width: Width, cond: Cond, d: Reg, src: Src, t: u32) -> Op {
    use Code::*;
    let imm = match src {
        Src::Imm(i) => i,
        Src::Reg(_) => 0,
    };
    let (i, r, imm) = match width {
        Width::W64 => {
            let (i, r) = match cond {
                Cond::Eq => (Jeq64I, Jeq64R),
                Cond::Ne => (Jne64I, Jne64R),
                Cond::Gt => (Jgt64I, Jgt64R),
                Cond::Ge => (Jge64I, Jge64R),
                Cond::Lt => (Jlt64I, Jlt64R),
                Cond::Le => (Jle64I, Jle64R),
                Cond::Sgt => (Jsgt64I, Jsgt64R),
                Cond::Sge => (Jsge64I, Jsge64R),
                Cond::Slt => (Jslt64I, Jslt64R),
                Cond::Sle => (Jsle64I, Jsle64R),
                Cond::Set => (Jset64I, Jset64R),
            };
            (i, r, imm as i64 as u64)
        }
        Width::W32 => {
            let (i, r) = match cond {
                Cond::Eq => (Jeq32I, Jeq32R),
                Cond::Ne => (Jne32I, Jne32R),
                Cond::Gt => (Jgt32I, Jgt32R),
                Cond::Ge => (Jge32I, Jge32R),
                Cond::Lt => (Jlt32I, Jlt32R),
                Cond::Le => (Jle32I, Jle32R),
                Cond::Sgt => (Jsgt32I, Jsgt32R),
                Cond::Sge => (Jsge32I, Jsge32R),
                Cond::Slt => (Jslt32I, Jslt32R),
                Cond::Sle => (Jsle32I, Jsle32R),
                Cond::Set => (Jset32I, Jset32R),
            };
            (i, r, imm as u32 as u64)
        }
    };
    Op {
        x: t,
        ..pick(src, d, imm, i, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Op>(), 16);
    }
}
