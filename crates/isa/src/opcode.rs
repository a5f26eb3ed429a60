//! The opcode table: how classes, operations, sources, sizes and modes are laid out in the
//! 8-bit opcode, and the per-operation codes the decoder and the encoder share.

use crate::insn::{AluOp, Cond};

// Instruction classes (bits 0..=2).
pub const CLASS_LD: u8 = 0x00;
pub const CLASS_LDX: u8 = 0x01;
pub const CLASS_ST: u8 = 0x02;
pub const CLASS_STX: u8 = 0x03;
pub const CLASS_ALU: u8 = 0x04;
pub const CLASS_JMP: u8 = 0x05;
pub const CLASS_JMP32: u8 = 0x06;
pub const CLASS_ALU64: u8 = 0x07;

// Source bit of ALU and JMP classes.
pub const SRC_K: u8 = 0x00;
pub const SRC_X: u8 = 0x08;

// Load/store modes (bits 5..=7).
pub const MODE_IMM: u8 = 0x00;
pub const MODE_ABS: u8 = 0x20;
pub const MODE_IND: u8 = 0x40;
pub const MODE_MEM: u8 = 0x60;
pub const MODE_MEMSX: u8 = 0x80;
pub const MODE_ATOMIC: u8 = 0xc0;

// ALU operations that are not in [`ALU_OPS`].
pub const OP_NEG: u8 = 0x80;
pub const OP_END: u8 = 0xd0;
pub const OP_MOV: u8 = 0xb0;

// JMP operations that are not in [`JMP_CONDS`].
pub const OP_JA: u8 = 0x00;
pub const OP_CALL: u8 = 0x80;
pub const OP_EXIT: u8 = 0x90;
pub const OP_JCOND: u8 = 0xe0;

/// `LD | IMM | DW`, the first slot of LD_IMM64.
pub const LD_IMM64: u8 = 0x18;

/// Offset value of signed division/modulo.
pub const OFF_SIGNED: i16 = 1;
/// Offset value of `addr_space_cast` (ALU64 MOV X).
pub const OFF_ADDR_SPACE_CAST: i16 = 1;

/// Binary ALU operations: (operation, op code, required off).
pub const ALU_OPS: [(AluOp, u8, i16); 14] = [
    (AluOp::Add, 0x00, 0),
    (AluOp::Sub, 0x10, 0),
    (AluOp::Mul, 0x20, 0),
    (AluOp::Div, 0x30, 0),
    (AluOp::Sdiv, 0x30, OFF_SIGNED),
    (AluOp::Or, 0x40, 0),
    (AluOp::And, 0x50, 0),
    (AluOp::Lsh, 0x60, 0),
    (AluOp::Rsh, 0x70, 0),
    (AluOp::Mod, 0x90, 0),
    (AluOp::Smod, 0x90, OFF_SIGNED),
    (AluOp::Xor, 0xa0, 0),
    (AluOp::Mov, 0xb0, 0),
    (AluOp::Arsh, 0xc0, 0),
];

/// Conditional jumps: (condition, op code).
pub const JMP_CONDS: [(Cond, u8); 11] = [
    (Cond::Eq, 0x10),
    (Cond::Gt, 0x20),
    (Cond::Ge, 0x30),
    (Cond::Set, 0x40),
    (Cond::Ne, 0x50),
    (Cond::Sgt, 0x60),
    (Cond::Sge, 0x70),
    (Cond::Lt, 0xa0),
    (Cond::Le, 0xb0),
    (Cond::Slt, 0xc0),
    (Cond::Sle, 0xd0),
];

pub fn alu_code(op: AluOp) -> (u8, i16) {
    let &(_, code, off) = ALU_OPS
        .iter()
        .find(|e| e.0 == op)
        .expect("every AluOp is in ALU_OPS");
    (code, off)
}

pub fn alu_op(code: u8, off: i16) -> Option<AluOp> {
    ALU_OPS
        .iter()
        .find(|e| e.1 == code && e.2 == off)
        .map(|e| e.0)
}

pub fn cond_code(cond: Cond) -> u8 {
    JMP_CONDS
        .iter()
        .find(|e| e.0 == cond)
        .expect("every Cond is in JMP_CONDS")
        .1
}

pub fn cond(code: u8) -> Option<Cond> {
    JMP_CONDS.iter().find(|e| e.1 == code).map(|e| e.0)
}
