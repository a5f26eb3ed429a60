//! The typed instruction model: one enum variant per instruction family of RFC 9669 (v1–v4)
//! plus the kernel's extensions (kfunc calls, `may_goto`, `addr_space_cast`, pseudo LD_IMM64).
//!
//! Raw 8-byte slots exist only at the edge (`raw.rs`); everything after decoding works on
//! [`Insn`]. Every value of [`Insn`] that [`Insn::validate`] accepts encodes to exactly one
//! byte sequence, and decoding that sequence gives the same value back.

use std::fmt;

/// A BPF register, R0..=R10. R10 is the read-only frame pointer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// The frame pointer.
    pub const R10: Reg = Reg(10);
    /// Number of registers.
    pub const COUNT: usize = 11;

    /// The register with this number, if it is one of R0..=R10.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 { Some(Reg(n)) } else { None }
    }

    /// The register's number, 0..=10.
    pub const fn index(self) -> u8 {
        self.0
    }
}

impl fmt::Debug for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operation width of ALU and conditional-jump instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32-bit: class ALU or JMP32; results zero-extended to 64 bits.
    W32,
    /// 64-bit: class ALU64 or JMP.
    W64,
}

/// Access size of loads, stores and atomics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

    /// Width in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The BPF_SIZE field value (bits 3..=4 of the opcode).
    pub const fn code(self) -> u8 {
        match self {
            Size::W => 0x00,
            Size::H => 0x08,
            Size::B => 0x10,
            Size::DW => 0x18,
        }
    }

    pub const fn from_code(code: u8) -> Size {
        match code & 0x18 {
            0x00 => Size::W,
            0x08 => Size::H,
            0x10 => Size::B,
            _ => Size::DW,
        }
    }
}

/// Source operand of ALU and jump instructions: a register (BPF_X) or a 32-bit immediate (BPF_K).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Src {
    Reg(Reg),
    Imm(i32),
}

/// Binary ALU operations (`dst = dst op src`, or `dst = src` for `Mov`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    /// Unsigned division; division by zero gives 0.
    Div,
    /// Signed division (off = 1); division by zero gives 0.
    Sdiv,
    /// Unsigned modulo; modulo by zero leaves dst unchanged.
    Mod,
    /// Signed modulo (off = 1).
    Smod,
    Or,
    And,
    Xor,
    Lsh,
    Rsh,
    Arsh,
    Mov,
}

impl AluOp {
    pub const ALL: [AluOp; 14] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::Sdiv,
        AluOp::Mod,
        AluOp::Smod,
        AluOp::Or,
        AluOp::And,
        AluOp::Xor,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Arsh,
        AluOp::Mov,
    ];
}

/// The byte-order family (class ALU/ALU64, op END).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndianOp {
    /// `le16/le32/le64`: convert to little endian (ALU, END, K); a truncation on little-endian hosts.
    ToLe,
    /// `be16/be32/be64`: convert to big endian (ALU, END, X).
    ToBe,
    /// `bswap16/32/64`: unconditional swap (ALU64, END, K), v4.
    Bswap,
}

/// Conditions of conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    Eq,
    Ne,
    /// Unsigned >.
    Gt,
    Ge,
    Lt,
    Le,
    /// Signed >.
    Sgt,
    Sge,
    Slt,
    Sle,
    /// `dst & src != 0`.
    Set,
}

impl Cond {
    pub const ALL: [Cond; 11] = [
        Cond::Eq,
        Cond::Ne,
        Cond::Gt,
        Cond::Ge,
        Cond::Lt,
        Cond::Le,
        Cond::Sgt,
        Cond::Sge,
        Cond::Slt,
        Cond::Sle,
        Cond::Set,
    ];
}

/// Read-modify-write operations of `STX | ATOMIC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `*(dst + off) op= src`; with `fetch`, src receives the old value.
    Add {
        fetch: bool,
    },
    Or {
        fetch: bool,
    },
    And {
        fetch: bool,
    },
    Xor {
        fetch: bool,
    },
    /// src = xchg(*(dst + off), src).
    Xchg,
    /// R0 = cmpxchg(*(dst + off), R0, src).
    Cmpxchg,
}

impl AtomicOp {
    pub const ALL: [AtomicOp; 10] = [
        AtomicOp::Add { fetch: false },
        AtomicOp::Or { fetch: false },
        AtomicOp::And { fetch: false },
        AtomicOp::Xor { fetch: false },
        AtomicOp::Add { fetch: true },
        AtomicOp::Or { fetch: true },
        AtomicOp::And { fetch: true },
        AtomicOp::Xor { fetch: true },
        AtomicOp::Xchg,
        AtomicOp::Cmpxchg,
    ];

    /// The imm field that encodes this operation.
    pub const fn imm(self) -> i32 {
        match self {
            AtomicOp::Add { fetch } => {
                if fetch {
                    1
                } else {
                    0
                }
            }
            AtomicOp::Or { fetch } => 0x40 | if fetch { 1 } else { 0 },
            AtomicOp::And { fetch } => 0x50 | if fetch { 1 } else { 0 },
            AtomicOp::Xor { fetch } => 0xa0 | if fetch { 1 } else { 0 },
            AtomicOp::Xchg => 0xe1,
            AtomicOp::Cmpxchg => 0xf1,
        }
    }

    pub fn from_imm(imm: i32) -> Option<AtomicOp> {
        AtomicOp::ALL.into_iter().find(|op| op.imm() == imm)
    }

    /// True when the old value is written back to a register (src, or R0 for cmpxchg).
    pub const fn fetches(self) -> bool {
        match self {
            AtomicOp::Add { fetch }
            | AtomicOp::Or { fetch }
            | AtomicOp::And { fetch }
            | AtomicOp::Xor { fetch } => fetch,
            AtomicOp::Xchg | AtomicOp::Cmpxchg => true,
        }
    }
}

/// What a `call` instruction calls (the src field of `JMP | CALL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// src = 0: a helper by its static id.
    Helper(i32),
    /// src = 1 (BPF_PSEUDO_CALL): a BPF function at `pc + 1 + imm`.
    Local(i32),
    /// src = 2 (BPF_PSEUDO_KFUNC_CALL): a kernel function by BTF id; `off` selects the BTF
    /// object (0 = vmlinux, otherwise an index into the fd array).
    Kfunc { btf_id: i32, off: i16 },
}

/// The src field of LD_IMM64: how the 64-bit immediate is to be interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Imm64Kind {
    /// src = 0: a plain 64-bit constant.
    Imm,
    /// src = 1 (BPF_PSEUDO_MAP_FD): imm = map fd.
    MapFd,
    /// src = 2 (BPF_PSEUDO_MAP_VALUE): imm = map fd, next imm = offset into the value.
    MapValue,
    /// src = 3 (BPF_PSEUDO_BTF_ID): imm = BTF type id, next imm = BTF object fd (0 = vmlinux).
    BtfId,
    /// src = 4 (BPF_PSEUDO_FUNC): imm = pc-relative offset of a BPF function.
    Func,
    /// src = 5 (BPF_PSEUDO_MAP_IDX): imm = index into the fd array.
    MapIdx,
    /// src = 6 (BPF_PSEUDO_MAP_IDX_VALUE): imm = index, next imm = offset into the value.
    MapIdxValue,
}

impl Imm64Kind {
    pub const ALL: [Imm64Kind; 7] = [
        Imm64Kind::Imm,
        Imm64Kind::MapFd,
        Imm64Kind::MapValue,
        Imm64Kind::BtfId,
        Imm64Kind::Func,
        Imm64Kind::MapIdx,
        Imm64Kind::MapIdxValue,
    ];

    /// The src field value.
    pub const fn src(self) -> u8 {
        match self {
            Imm64Kind::Imm => 0,
            Imm64Kind::MapFd => 1,
            Imm64Kind::MapValue => 2,
            Imm64Kind::BtfId => 3,
            Imm64Kind::Func => 4,
            Imm64Kind::MapIdx => 5,
            Imm64Kind::MapIdxValue => 6,
        }
    }

    pub fn from_src(src: u8) -> Option<Imm64Kind> {
        Imm64Kind::ALL.into_iter().find(|k| k.src() == src)
    }

    /// Whether the second slot's imm carries information (and so may be non-zero).
    pub const fn uses_next_imm(self) -> bool {
        matches!(
            self,
            Imm64Kind::Imm | Imm64Kind::MapValue | Imm64Kind::BtfId | Imm64Kind::MapIdxValue
        )
    }
}

/// One BPF instruction. LD_IMM64 is one value here although it fills two 8-byte slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// ALU/ALU64 binary operation: `dst op= src`.
    Alu {
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Src,
    },
    /// `dst = -dst`.
    Neg {
        width: Width,
        dst: Reg,
    },
    /// Sign-extending move (v4): `dst = (s<bits>)src`; bits is 8 or 16, or 32 for 64-bit width.
    MovSx {
        width: Width,
        bits: u8,
        dst: Reg,
        src: Reg,
    },
    /// Byte-order conversion of the low `bits` (16, 32 or 64) of dst.
    Endian {
        op: EndianOp,
        bits: u8,
        dst: Reg,
    },
    /// Arena pointer cast (ALU64 MOV X with off = 1): `dst = addr_space_cast(src, dst_as, src_as)`.
    AddrSpaceCast {
        dst: Reg,
        src: Reg,
        dst_as: u16,
        src_as: u16,
    },
    /// Unconditional jump by a 16-bit offset (JMP | JA).
    Ja {
        off: i16,
    },
    /// Unconditional jump by a 32-bit offset held in imm (JMP32 | JA, `gotol`), v4.
    Gotol {
        imm: i32,
    },
    /// Conditional jump: `if dst cond src goto pc + 1 + off`.
    Jmp {
        width: Width,
        cond: Cond,
        dst: Reg,
        src: Src,
        off: i16,
    },
    /// `call`: helper, BPF function or kfunc.
    Call(CallKind),
    /// `callx reg`: indirect call through a register holding a helper id (JMP | CALL | X).
    Callx {
        reg: Reg,
    },
    /// `may_goto` (JMP | JCOND, src = 0): jumps once the loop budget is exhausted.
    MayGoto {
        off: i16,
    },
    Exit,
    /// `dst = *(size *)(src + off)`, sign-extending with `sign` (LDX | MEMSX, v4).
    Load {
        size: Size,
        sign: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = imm` (ST | MEM).
    Store {
        size: Size,
        dst: Reg,
        off: i16,
        imm: i32,
    },
    /// `*(size *)(dst + off) = src` (STX | MEM).
    StoreReg {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// Atomic read-modify-write on `*(size *)(dst + off)` (STX | ATOMIC); size is W or DW.
    Atomic {
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `dst = imm64` (two slots); `imm` is the first slot's imm, `next_imm` the second's.
    LdImm64 {
        dst: Reg,
        kind: Imm64Kind,
        imm: i32,
        next_imm: i32,
    },
    /// Legacy packet load `R0 = ntoh(*(size *)(skb->data + imm))` (LD | ABS).
    LdAbs {
        size: Size,
        imm: i32,
    },
    /// Legacy packet load `R0 = ntoh(*(size *)(skb->data + src + imm))` (LD | IND).
    LdInd {
        size: Size,
        src: Reg,
        imm: i32,
    },
}

impl Insn {
    /// Number of 8-byte slots this instruction fills (2 for LD_IMM64, else 1).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The 64-bit value of a plain LD_IMM64.
    pub const fn imm64(imm: i32, next_imm: i32) -> u64 {
        ((next_imm as u32 as u64) << 32) | (imm as u32 as u64)
    }

    /// Builds a plain `dst = value ll`.
    pub const fn ld_imm64(dst: Reg, value: u64) -> Insn {
        Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Imm,
            imm: value as u32 as i32,
            next_imm: (value >> 32) as u32 as i32,
        }
    }

    /// The pc-relative offset (in slots, from the next slot) of a jump or local call, if any.
    /// The target slot is `pc + 1 + offset`.
    pub const fn branch_offset(&self) -> Option<i64> {
        match *self {
            Insn::Ja { off } | Insn::Jmp { off, .. } | Insn::MayGoto { off } => Some(off as i64),
            Insn::Gotol { imm } => Some(imm as i64),
            Insn::Call(CallKind::Local(imm)) => Some(imm as i64),
            Insn::LdImm64 {
                kind: Imm64Kind::Func,
                imm,
                ..
            } => Some(imm as i64),
            _ => None,
        }
    }

    /// The same instruction with its pc-relative offset replaced, for jumps and local calls.
    /// Returns `None` if the instruction has no offset or `offset` does not fit its field.
    pub fn with_branch_offset(&self, offset: i64) -> Option<Insn> {
        let off16 = i16::try_from(offset).ok();
        let imm32 = i32::try_from(offset).ok();
        Some(match *self {
            Insn::Ja { .. } => Insn::Ja { off: off16? },
            Insn::MayGoto { .. } => Insn::MayGoto { off: off16? },
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off: off16?,
            },
            Insn::Gotol { .. } => Insn::Gotol { imm: imm32? },
            Insn::Call(CallKind::Local(_)) => Insn::Call(CallKind::Local(imm32?)),
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::Func,
                next_imm,
                ..
            } => Insn::LdImm64 {
                dst,
                kind: Imm64Kind::Func,
                imm: imm32?,
                next_imm,
            },
            _ => return None,
        })
    }

    /// True if control never falls through to the next instruction.
    pub const fn is_terminator(&self) -> bool {
        matches!(self, Insn::Ja { .. } | Insn::Gotol { .. } | Insn::Exit)
    }
}
