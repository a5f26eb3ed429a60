//! Decoding raw slots into [`Insn`]s. Every encoding the kernel would refuse as malformed is
//! refused here with a precise reason: unknown opcodes, non-zero reserved fields, registers
//! above R10, truncated or malformed LD_IMM64. Jump-target checks live in `program.rs`.

use std::fmt;

use crate::insn::{AtomicOp, CallKind, EndianOp, Imm64Kind, Insn, Reg, Size, Src, Width};
use crate::opcode::*;
use crate::raw::RawInsn;

/// Why an instruction (or a program) could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The program has no instructions.
    Empty,
    /// The byte length is not a multiple of 8.
    BadLength(usize),
    UnknownOpcode(u8),
    /// A register field holds a value above 10.
    BadRegister {
        field: &'static str,
        value: u8,
    },
    /// A field the instruction does not use is not zero.
    Reserved {
        field: &'static str,
        value: i64,
    },
    /// A field holds a value outside the instruction's allowed set.
    BadField {
        field: &'static str,
        value: i64,
        expected: &'static str,
    },
    /// LD_IMM64 in the last slot: its second half is missing.
    TruncatedLdImm64,
    /// The second slot of LD_IMM64 is not `00 00 0000 imm`.
    MalformedLdImm64,
    /// A jump or call leaves the program.
    JumpOutOfRange {
        target: i64,
        len: usize,
    },
    /// A jump or call lands on the second slot of the LD_IMM64 at `ld_imm64`.
    JumpIntoLdImm64 {
        target: usize,
        ld_imm64: usize,
    },
}

/// A decode error at slot `pc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub pc: usize,
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match self {
            Empty => write!(f, "program is empty"),
            BadLength(n) => write!(f, "length {n} bytes is not a multiple of 8"),
            UnknownOpcode(c) => write!(f, "unknown opcode {c:#04x}"),
            BadRegister { field, value } => {
                write!(f, "invalid register r{value} in {field} field (max r10)")
            }
            Reserved { field, value } => {
                write!(f, "reserved field {field} must be 0, found {value}")
            }
            BadField {
                field,
                value,
                expected,
            } => write!(f, "invalid {field} {value}: expected {expected}"),
            TruncatedLdImm64 => write!(f, "LD_IMM64 is truncated: its second slot is missing"),
            MalformedLdImm64 => write!(
                f,
                "invalid second slot of LD_IMM64: opcode, registers and offset must be 0"
            ),
            JumpOutOfRange { target, len } => {
                write!(f, "jump out of range to {target} (program has {len} slots)")
            }
            JumpIntoLdImm64 { target, ld_imm64 } => write!(
                f,
                "jump to {target}, the middle of the LD_IMM64 at {ld_imm64}"
            ),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insn {}: {}", self.pc, self.kind)
    }
}

impl std::error::Error for DecodeError {}

type R<T> = Result<T, DecodeErrorKind>;

fn reg(field: &'static str, value: u8) -> R<Reg> {
    Reg::new(value).ok_or(DecodeErrorKind::BadRegister { field, value })
}

fn zero(field: &'static str, value: i64) -> R<()> {
    if value == 0 {
        Ok(())
    } else {
        Err(DecodeErrorKind::Reserved { field, value })
    }
}

fn size_of(code: u8) -> Size {
    Size::from_code(code)
}

/// Decodes the instruction starting at `slots[0]`; `slots[1]` is needed for LD_IMM64.
/// Errors are relative to that first slot.
pub fn decode_one(slots: &[RawInsn]) -> Result<Insn, DecodeErrorKind> {
    let r = *slots.first().ok_or(DecodeErrorKind::Empty)?;
    let class = r.code & 0x07;
    match class {
        CLASS_ALU | CLASS_ALU64 => decode_alu(r),
        CLASS_JMP | CLASS_JMP32 => decode_jmp(r),
        CLASS_LD => decode_ld(r, slots.get(1).copied()),
        CLASS_LDX => {
            let mode = r.code & 0xe0;
            let sign = match mode {
                MODE_MEM => false,
                MODE_MEMSX if size_of(r.code) != Size::DW => true,
                _ => return Err(DecodeErrorKind::UnknownOpcode(r.code)),
            };
            let dst = reg("dst", r.dst)?;
            let src = reg("src", r.src)?;
            zero("imm", r.imm as i64)?;
            Ok(Insn::Load {
                size: size_of(r.code),
                sign,
                dst,
                src,
                off: r.off,
            })
        }
        CLASS_ST => {
            if r.code & 0xe0 != MODE_MEM {
                return Err(DecodeErrorKind::UnknownOpcode(r.code));
            }
            let dst = reg("dst", r.dst)?;
            zero("src", r.src as i64)?;
            Ok(Insn::Store {
                size: size_of(r.code),
                dst,
                off: r.off,
                imm: r.imm,
            })
        }
        _ => {
            // CLASS_STX
            let mode = r.code & 0xe0;
            let size = size_of(r.code);
            let dst = reg("dst", r.dst)?;
            let src = reg("src", r.src)?;
            match mode {
                MODE_MEM => {
                    zero("imm", r.imm as i64)?;
                    Ok(Insn::StoreReg {
                        size,
                        dst,
                        src,
                        off: r.off,
                    })
                }
                MODE_ATOMIC if matches!(size, Size::W | Size::DW) => {
                    let op = AtomicOp::from_imm(r.imm).ok_or(DecodeErrorKind::BadField {
                        field: "atomic operation (imm)",
                        value: r.imm as i64,
                        expected: "add/or/and/xor (with 0x01 fetch), 0xe1 xchg or 0xf1 cmpxchg",
                    })?;
                    Ok(Insn::Atomic {
                        size,
                        op,
                        dst,
                        src,
                        off: r.off,
                    })
                }
                _ => Err(DecodeErrorKind::UnknownOpcode(r.code)),
            }
        }
    }
}

fn decode_alu(r: RawInsn) -> R<Insn> {
    let width = if r.code & 0x07 == CLASS_ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let op = r.code & 0xf0;
    let x = r.code & 0x08 == SRC_X;
    match op {
        OP_END => {
            let endian = match (width, x) {
                (Width::W32, false) => EndianOp::ToLe,
                (Width::W32, true) => EndianOp::ToBe,
                (Width::W64, false) => EndianOp::Bswap,
                (Width::W64, true) => return Err(DecodeErrorKind::UnknownOpcode(r.code)),
            };
            let dst = reg("dst", r.dst)?;
            zero("src", r.src as i64)?;
            zero("off", r.off as i64)?;
            if !matches!(r.imm, 16 | 32 | 64) {
                return Err(DecodeErrorKind::BadField {
                    field: "byte swap size (imm)",
                    value: r.imm as i64,
                    expected: "16, 32 or 64",
                });
            }
            Ok(Insn::Endian {
                op: endian,
                bits: r.imm as u8,
                dst,
            })
        }
        OP_NEG => {
            if x {
                return Err(DecodeErrorKind::UnknownOpcode(r.code));
            }
            let dst = reg("dst", r.dst)?;
            zero("src", r.src as i64)?;
            zero("off", r.off as i64)?;
            zero("imm", r.imm as i64)?;
            Ok(Insn::Neg { width, dst })
        }
        0xe0 | 0xf0 => Err(DecodeErrorKind::UnknownOpcode(r.code)),
        _ => {
            let dst = reg("dst", r.dst)?;
            if x {
                let src = reg("src", r.src)?;
                if op == OP_MOV && r.off != 0 {
                    return decode_mov_x_with_off(width, dst, src, r);
                }
                zero("imm", r.imm as i64)?;
                let alu = alu_op_checked(op, r.off)?;
                Ok(Insn::Alu {
                    width,
                    op: alu,
                    dst,
                    src: Src::Reg(src),
                })
            } else {
                zero("src", r.src as i64)?;
                let alu = alu_op_checked(op, r.off)?;
                Ok(Insn::Alu {
                    width,
                    op: alu,
                    dst,
                    src: Src::Imm(r.imm),
                })
            }
        }
    }
}

fn alu_op_checked(op: u8, off: i16) -> R<crate::insn::AluOp> {
    alu_op(op, off).ok_or(
        if alu_op(op, 0).is_some() && alu_op(op, OFF_SIGNED).is_some() {
            DecodeErrorKind::BadField {
                field: "off",
                value: off as i64,
                expected: "0 (unsigned) or 1 (signed)",
            }
        } else {
            DecodeErrorKind::Reserved {
                field: "off",
                value: off as i64,
            }
        },
    )
}

fn decode_mov_x_with_off(width: Width, dst: Reg, src: Reg, r: RawInsn) -> R<Insn> {
    match (width, r.off) {
        // The kernel only converts between address spaces 0 and 1 (arena pointers).
        (Width::W64, OFF_ADDR_SPACE_CAST) if r.imm == 1 || r.imm == 1 << 16 => {
            Ok(Insn::AddrSpaceCast {
                dst,
                src,
                dst_as: (r.imm as u32 >> 16) as u16,
                src_as: r.imm as u32 as u16,
            })
        }
        (Width::W64, OFF_ADDR_SPACE_CAST) => Err(DecodeErrorKind::BadField {
            field: "addr_space_cast address spaces (imm)",
            value: r.imm as i64,
            expected: "1 (from 1 to 0) or 0x10000 (from 0 to 1)",
        }),
        (_, 8 | 16) | (Width::W64, 32) => {
            zero("imm", r.imm as i64)?;
            Ok(Insn::MovSx {
                width,
                bits: r.off as u8,
                dst,
                src,
            })
        }
        _ => Err(DecodeErrorKind::BadField {
            field: "mov offset",
            value: r.off as i64,
            expected: match width {
                Width::W64 => "0, 8, 16, 32 (movsx) or 1 (addr_space_cast)",
                Width::W32 => "0, 8 or 16 (movsx)",
            },
        }),
    }
}

fn decode_jmp(r: RawInsn) -> R<Insn> {
    let jmp64 = r.code & 0x07 == CLASS_JMP;
    let width = if jmp64 { Width::W64 } else { Width::W32 };
    let op = r.code & 0xf0;
    let x = r.code & 0x08 == SRC_X;
    let unknown = Err(DecodeErrorKind::UnknownOpcode(r.code));
    match op {
        OP_JA => {
            if x {
                return unknown;
            }
            zero("dst", r.dst as i64)?;
            zero("src", r.src as i64)?;
            if jmp64 {
                zero("imm", r.imm as i64)?;
                Ok(Insn::Ja { off: r.off })
            } else {
                zero("off", r.off as i64)?;
                Ok(Insn::Gotol { imm: r.imm })
            }
        }
        OP_CALL => {
            if !jmp64 {
                return unknown;
            }
            if x {
                let reg = reg("dst", r.dst)?;
                zero("src", r.src as i64)?;
                zero("off", r.off as i64)?;
                zero("imm", r.imm as i64)?;
                return Ok(Insn::Callx { reg });
            }
            zero("dst", r.dst as i64)?;
            let kind = match r.src {
                0 => CallKind::Helper(r.imm),
                1 => CallKind::Local(r.imm),
                2 => CallKind::Kfunc {
                    btf_id: r.imm,
                    off: r.off,
                },
                v => {
                    return Err(DecodeErrorKind::BadField {
                        field: "call kind (src)",
                        value: v as i64,
                        expected: "0 (helper), 1 (BPF function) or 2 (kfunc)",
                    });
                }
            };
            if r.src != 2 {
                zero("off", r.off as i64)?;
            }
            Ok(Insn::Call(kind))
        }
        OP_EXIT => {
            if !jmp64 || x {
                return unknown;
            }
            zero("dst", r.dst as i64)?;
            zero("src", r.src as i64)?;
            zero("off", r.off as i64)?;
            zero("imm", r.imm as i64)?;
            Ok(Insn::Exit)
        }
        OP_JCOND => {
            if !jmp64 || x {
                return unknown;
            }
            zero("dst", r.dst as i64)?;
            if r.src != 0 {
                return Err(DecodeErrorKind::BadField {
                    field: "jcond kind (src)",
                    value: r.src as i64,
                    expected: "0 (may_goto)",
                });
            }
            zero("imm", r.imm as i64)?;
            Ok(Insn::MayGoto { off: r.off })
        }
        _ => {
            let Some(c) = cond(op) else {
                return unknown;
            };
            let dst = reg("dst", r.dst)?;
            let src = if x {
                let s = reg("src", r.src)?;
                zero("imm", r.imm as i64)?;
                Src::Reg(s)
            } else {
                zero("src", r.src as i64)?;
                Src::Imm(r.imm)
            };
            Ok(Insn::Jmp {
                width,
                cond: c,
                dst,
                src,
                off: r.off,
            })
        }
    }
}

fn decode_ld(r: RawInsn, next: Option<RawInsn>) -> R<Insn> {
    let mode = r.code & 0xe0;
    let size = size_of(r.code);
    match mode {
        MODE_IMM if size == Size::DW => {
            let dst = reg("dst", r.dst)?;
            zero("off", r.off as i64)?;
            let kind = Imm64Kind::from_src(r.src).ok_or(DecodeErrorKind::BadField {
                field: "LD_IMM64 kind (src)",
                value: r.src as i64,
                expected: "0..=6",
            })?;
            let n = next.ok_or(DecodeErrorKind::TruncatedLdImm64)?;
            if n.code != 0 || n.dst != 0 || n.src != 0 || n.off != 0 {
                return Err(DecodeErrorKind::MalformedLdImm64);
            }
            if !kind.uses_next_imm() && n.imm != 0 {
                return Err(DecodeErrorKind::Reserved {
                    field: "imm of the second LD_IMM64 slot",
                    value: n.imm as i64,
                });
            }
            Ok(Insn::LdImm64 {
                dst,
                kind,
                imm: r.imm,
                next_imm: n.imm,
            })
        }
        MODE_ABS | MODE_IND if size != Size::DW => {
            zero("dst", r.dst as i64)?;
            zero("off", r.off as i64)?;
            if mode == MODE_ABS {
                zero("src", r.src as i64)?;
                Ok(Insn::LdAbs { size, imm: r.imm })
            } else {
                let src = reg("src", r.src)?;
                Ok(Insn::LdInd {
                    size,
                    src,
                    imm: r.imm,
                })
            }
        }
        _ => Err(DecodeErrorKind::UnknownOpcode(r.code)),
    }
}
