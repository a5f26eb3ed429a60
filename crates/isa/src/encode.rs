//! Encoding [`Insn`]s to raw slots: the exact inverse of `decode.rs`. An instruction is valid
//! exactly when decoding its encoding gives it back ([`Insn::validate`]).

use crate::decode::{DecodeErrorKind, decode_one};
use crate::insn::{CallKind, EndianOp, Insn, Src, Width};
use crate::opcode::*;
use crate::raw::RawInsn;

fn alu_class(width: Width) -> u8 {
    match width {
        Width::W32 => CLASS_ALU,
        Width::W64 => CLASS_ALU64,
    }
}

fn jmp_class(width: Width) -> u8 {
    match width {
        Width::W32 => CLASS_JMP32,
        Width::W64 => CLASS_JMP,
    }
}

fn src_fields(src: Src) -> (u8, u8, i32) {
    match src {
        Src::Reg(r) => (SRC_X, r.index(), 0),
        Src::Imm(i) => (SRC_K, 0, i),
    }
}

impl Insn {
    /// The raw slots of this instruction: one, or two for LD_IMM64 (second is `Some`).
    pub fn to_raw(&self) -> (RawInsn, Option<RawInsn>) {
        let one = |r| (r, None);
        match *self {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let (code, off) = alu_code(op);
                let (x, s, imm) = src_fields(src);
                one(RawInsn::new(
                    alu_class(width) | code | x,
                    dst.index(),
                    s,
                    off,
                    imm,
                ))
            }
            Insn::Neg { width, dst } => one(RawInsn::new(
                alu_class(width) | OP_NEG,
                dst.index(),
                0,
                0,
                0,
            )),
            Insn::MovSx {
                width,
                bits,
                dst,
                src,
            } => one(RawInsn::new(
                alu_class(width) | OP_MOV | SRC_X,
                dst.index(),
                src.index(),
                bits as i16,
                0,
            )),
            Insn::Endian { op, bits, dst } => {
                let code = match op {
                    EndianOp::ToLe => CLASS_ALU | OP_END | SRC_K,
                    EndianOp::ToBe => CLASS_ALU | OP_END | SRC_X,
                    EndianOp::Bswap => CLASS_ALU64 | OP_END | SRC_K,
                };
                one(RawInsn::new(code, dst.index(), 0, 0, bits as i32))
            }
            Insn::AddrSpaceCast {
                dst,
                src,
                dst_as,
                src_as,
            } => one(RawInsn::new(
                CLASS_ALU64 | OP_MOV | SRC_X,
                dst.index(),
                src.index(),
                OFF_ADDR_SPACE_CAST,
                ((dst_as as u32) << 16 | src_as as u32) as i32,
            )),
            Insn::Ja { off } => one(RawInsn::new(CLASS_JMP | OP_JA, 0, 0, off, 0)),
            Insn::Gotol { imm } => one(RawInsn::new(CLASS_JMP32 | OP_JA, 0, 0, 0, imm)),
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let (x, s, imm) = src_fields(src);
                one(RawInsn::new(
                    jmp_class(width) | cond_code(cond) | x,
                    dst.index(),
                    s,
                    off,
                    imm,
                ))
            }
            Insn::Call(kind) => {
                let (src, off, imm) = match kind {
                    CallKind::Helper(id) => (0, 0, id),
                    CallKind::Local(rel) => (1, 0, rel),
                    CallKind::Kfunc { btf_id, off } => (2, off, btf_id),
                };
                one(RawInsn::new(CLASS_JMP | OP_CALL, 0, src, off, imm))
            }
            Insn::Callx { reg } => one(RawInsn::new(
                CLASS_JMP | OP_CALL | SRC_X,
                reg.index(),
                0,
                0,
                0,
            )),
            Insn::MayGoto { off } => one(RawInsn::new(CLASS_JMP | OP_JCOND, 0, 0, off, 0)),
            Insn::Exit => one(RawInsn::new(CLASS_JMP | OP_EXIT, 0, 0, 0, 0)),
            Insn::Load {
                size,
                sign,
                dst,
                src,
                off,
            } => {
                let mode = if sign { MODE_MEMSX } else { MODE_MEM };
                one(RawInsn::new(
                    CLASS_LDX | mode | size.code(),
                    dst.index(),
                    src.index(),
                    off,
                    0,
                ))
            }
            Insn::Store {
                size,
                dst,
                off,
                imm,
            } => one(RawInsn::new(
                CLASS_ST | MODE_MEM | size.code(),
                dst.index(),
                0,
                off,
                imm,
            )),
            Insn::StoreReg {
                size,
                dst,
                src,
                off,
            } => one(RawInsn::new(
                CLASS_STX | MODE_MEM | size.code(),
                dst.index(),
                src.index(),
                off,
                0,
            )),
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => one(RawInsn::new(
                CLASS_STX | MODE_ATOMIC | size.code(),
                dst.index(),
                src.index(),
                off,
                op.imm(),
            )),
            Insn::LdImm64 {
                dst,
                kind,
                imm,
                next_imm,
            } => (
                RawInsn::new(LD_IMM64, dst.index(), kind.src(), 0, imm),
                Some(RawInsn::new(0, 0, 0, 0, next_imm)),
            ),
            Insn::LdAbs { size, imm } => one(RawInsn::new(
                CLASS_LD | MODE_ABS | size.code(),
                0,
                0,
                0,
                imm,
            )),
            Insn::LdInd { size, src, imm } => one(RawInsn::new(
                CLASS_LD | MODE_IND | size.code(),
                0,
                src.index(),
                0,
                imm,
            )),
        }
    }

    /// Appends the little-endian bytes of this instruction to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (a, b) = self.to_raw();
        out.extend_from_slice(&a.to_bytes());
        if let Some(b) = b {
            out.extend_from_slice(&b.to_bytes());
        }
    }

    /// The little-endian bytes of this instruction (8 or 16).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        self.encode_into(&mut v);
        v
    }

    /// Checks that this value is a valid instruction: its encoding decodes back to it.
    /// (Invalid values are, e.g., a byte swap of 12 bits or an atomic on a byte.)
    pub fn validate(&self) -> Result<(), DecodeErrorKind> {
        let (a, b) = self.to_raw();
        let slots: Vec<RawInsn> = std::iter::once(a).chain(b).collect();
        let back = decode_one(&slots)?;
        if back == *self {
            Ok(())
        } else {
            // A value that encodes to a different valid instruction: e.g. Alu Mov with an
            // out-of-range field. Report the field that did not survive.
            Err(DecodeErrorKind::BadField {
                field: "instruction",
                value: a.code as i64,
                expected: "a value that survives encoding",
            })
        }
    }
}

/// Encodes a sequence of instructions to bytecode.
pub fn encode_program(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * 8);
    for i in insns {
        i.encode_into(&mut out);
    }
    out
}
