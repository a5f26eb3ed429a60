//! The program as the verifier sees it: raw slots decoded one by one, where a slot that does
//! not decode keeps the kernel's message for it. The kernel reports some malformed encodings
//! before analysis (unknown opcodes, bad LDX fields, bad LD_IMM64) and the rest only when the
//! analysis reaches the instruction; [`BadInsn::early`] says which.

use bpfvet_isa::Program;
use bpfvet_isa::decode::{DecodeErrorKind, decode_one};
use bpfvet_isa::insn::Insn;
use bpfvet_isa::opcode::*;
use bpfvet_isa::raw::RawInsn;

use crate::error::{Errno, VerifyError};

/// An instruction the kernel refuses, with its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadInsn {
    pub message: String,
    /// Reported by the static passes (before analysis) rather than when reached.
    pub early: bool,
}

/// One slot of the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    Insn(Insn),
    Bad(BadInsn),
    /// The second half of an LD_IMM64.
    Second,
}

/// The decoded program.
#[derive(Clone, Debug)]
pub struct Code {
    pub raw: Vec<RawInsn>,
    pub slots: Vec<Slot>,
}

impl Code {
    /// Decodes raw slots. Never fails: bad slots carry their message.
    pub fn new(raw: Vec<RawInsn>) -> Code {
        let mut slots = Vec::with_capacity(raw.len());
        let mut pc = 0;
        while pc < raw.len() {
            let r = raw[pc];
            match decode_one(&raw[pc..]) {
                // The kernel's opcode table has no `callx` (0x8d): refused before analysis.
                Ok(Insn::Callx { .. }) => slots.push(Slot::Bad(BadInsn {
                    message: format!("unknown opcode {:02x}", r.code),
                    early: true,
                })),
                Ok(insn) => {
                    let wide = insn.slots() == 2;
                    slots.push(Slot::Insn(insn));
                    if wide {
                        slots.push(Slot::Second);
                        pc += 1;
                    }
                }
                Err(kind) => {
                    let bad = kernel_message(r, &kind);
                    // A malformed LD_IMM64 still occupies two slots when it can.
                    let wide = r.code == LD_IMM64 && pc + 1 < raw.len();
                    slots.push(Slot::Bad(bad));
                    if wide {
                        slots.push(Slot::Second);
                        pc += 1;
                    }
                }
            }
            pc += 1;
        }
        Code { raw, slots }
    }

    /// From an already decoded program.
    pub fn from_program(p: &Program) -> Code {
        let bytes = p.encode();
        Code::new(RawInsn::slots(&bytes).unwrap_or_default())
    }

    /// From little-endian bytecode.
    pub fn from_bytes(bytes: &[u8]) -> Result<Code, VerifyError> {
        match RawInsn::slots(bytes) {
            Some(s) => Ok(Code::new(s)),
            None => Err(VerifyError::new(
                None,
                Errno::EINVAL,
                format!("program size {} is not a multiple of 8", bytes.len()),
            )),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The decoded instruction at `pc`, if it decoded.
    pub fn insn(&self, pc: usize) -> Option<&Insn> {
        match self.slots.get(pc) {
            Some(Slot::Insn(i)) => Some(i),
            _ => None,
        }
    }
}

/// The kernel's message for a slot that does not decode.
fn kernel_message(r: RawInsn, kind: &DecodeErrorKind) -> BadInsn {
    let late = |m: &str| BadInsn {
        message: m.to_string(),
        early: false,
    };
    let early = |m: String| BadInsn {
        message: m,
        early: true,
    };
    // Byte and half-word atomics are in the 6.18 opcode table (for load-acquire and
    // store-release); read-modify-write operations refuse them when reached.
    if let DecodeErrorKind::UnknownOpcode(c) = kind
        && (*c == 0xd3 || *c == 0xcb)
    {
        return match r.imm {
            0x00 | 0x01 | 0x40 | 0x41 | 0x50 | 0x51 | 0xa0 | 0xa1 | 0xe1 | 0xf1 => {
                late("invalid atomic operand size")
            }
            0x100 | 0x110 => {
                late("load-acquire and store-release atomics are not modelled by bpfvet yet")
            }
            imm => late(&format!("BPF_ATOMIC uses invalid atomic opcode {imm:02x}")),
        };
    }
    if let DecodeErrorKind::UnknownOpcode(c) = kind {
        return early(format!("unknown opcode {c:02x}"));
    }
    // Every other field is fine but a register number is above 10 (`check_reg_arg`).
    if let DecodeErrorKind::BadRegister { value, .. } = kind
        && r.code != LD_IMM64
        && (r.code & 0x07) != CLASS_LD
    {
        return late(&format!("R{value} is invalid"));
    }
    let class = r.code & 0x07;
    let op = r.code & 0xf0;
    match class {
        CLASS_LDX => early("BPF_LDX uses reserved fields".into()),
        CLASS_LD if r.code == LD_IMM64 => match kind {
            DecodeErrorKind::TruncatedLdImm64 | DecodeErrorKind::MalformedLdImm64 => {
                early("invalid bpf_ld_imm64 insn".into())
            }
            DecodeErrorKind::BadField { field, .. } if field.contains("src") => {
                early("unrecognized bpf_ld_imm64 insn".into())
            }
            DecodeErrorKind::BadRegister { value, .. } => late(&format!("R{value} is invalid")),
            // A map reference whose second half carries a value.
            DecodeErrorKind::Reserved { .. } if r.src == 1 || r.src == 5 => {
                early("unrecognized bpf_ld_imm64 insn".into())
            }
            _ => late("BPF_LD_IMM64 uses reserved fields"),
        },
        CLASS_LD => late("BPF_LD_[ABS|IND] uses reserved fields"),
        CLASS_ST => late("BPF_ST uses reserved fields"),
        CLASS_STX if r.code & 0xe0 == MODE_ATOMIC => match kind {
            DecodeErrorKind::BadField { .. } => late(&format!(
                "BPF_ATOMIC uses invalid atomic opcode {:02x}",
                r.imm
            )),
            DecodeErrorKind::BadRegister { value, .. } => late(&format!("R{value} is invalid")),
            _ => late("BPF_STX uses reserved fields"),
        },
        CLASS_STX => late("BPF_STX uses reserved fields"),
        CLASS_ALU | CLASS_ALU64 => match op {
            OP_NEG => late("BPF_NEG uses reserved fields"),
            OP_END => late("BPF_END uses reserved fields"),
            OP_MOV => late("BPF_MOV uses reserved fields"),
            _ => late("BPF_ALU uses reserved fields"),
        },
        _ => match op {
            OP_JA => late("BPF_JA uses reserved fields"),
            OP_CALL => late("BPF_CALL uses reserved fields"),
            OP_EXIT => late("BPF_EXIT uses reserved fields"),
            OP_JCOND => late(&format!("invalid may_goto off {} imm {}", r.off, r.imm)),
            _ => late("BPF_JMP/JMP32 uses reserved fields"),
        },
    }
}
