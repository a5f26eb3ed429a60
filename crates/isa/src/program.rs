//! A decoded program: instructions with their slot addresses, and the whole-program checks
//! that need more than one instruction (jump and call targets).

use crate::decode::{DecodeError, DecodeErrorKind, decode_one};
use crate::encode::encode_program;
use crate::insn::Insn;
use crate::raw::RawInsn;

/// A sequence of instructions. `pc` values are slot indices (LD_IMM64 counts twice), as in the
/// kernel; `index` values are positions in [`Program::insns`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Program {
    insns: Vec<Insn>,
    pcs: Vec<usize>,
    slots: usize,
}

impl Program {
    /// Builds a program from instructions, without checking targets.
    pub fn from_insns(insns: Vec<Insn>) -> Program {
        let mut pcs = Vec::with_capacity(insns.len());
        let mut pc = 0;
        for i in &insns {
            pcs.push(pc);
            pc += i.slots();
        }
        Program {
            insns,
            pcs,
            slots: pc,
        }
    }

    /// Decodes bytecode: every instruction, then every jump and call target.
    pub fn decode(bytes: &[u8]) -> Result<Program, DecodeError> {
        let p = Program::decode_unchecked(bytes)?;
        p.check_targets()?;
        Ok(p)
    }

    /// Decodes every instruction but does not check where jumps land (for tools that report
    /// those errors themselves, like the verifier).
    pub fn decode_unchecked(bytes: &[u8]) -> Result<Program, DecodeError> {
        let err = |pc, kind| DecodeError { pc, kind };
        let slots = RawInsn::slots(bytes)
            .ok_or_else(|| err(bytes.len() / 8, DecodeErrorKind::BadLength(bytes.len())))?;
        if slots.is_empty() {
            return Err(err(0, DecodeErrorKind::Empty));
        }
        let mut insns = Vec::with_capacity(slots.len());
        let mut pc = 0;
        while pc < slots.len() {
            let insn = decode_one(&slots[pc..]).map_err(|k| err(pc, k))?;
            pc += insn.slots();
            insns.push(insn);
        }
        Ok(Program::from_insns(insns))
    }

    /// Checks that every jump, local call and function reference lands on an instruction
    /// inside the program, not on the second slot of an LD_IMM64.
    pub fn check_targets(&self) -> Result<(), DecodeError> {
        self.check_targets_except(|_| false)
    }

    /// As [`Program::check_targets`], skipping the instructions at the slots `skip` names
    /// (e.g. calls whose target a relocation gives).
    pub fn check_targets_except(&self, skip: impl Fn(usize) -> bool) -> Result<(), DecodeError> {
        for (pc, insn) in self.iter() {
            if skip(pc) {
                continue;
            }
            if let Some(off) = insn.branch_offset() {
                let target = pc as i64 + 1 + off;
                if target < 0 || target >= self.slots as i64 {
                    return Err(DecodeError {
                        pc,
                        kind: DecodeErrorKind::JumpOutOfRange {
                            target,
                            len: self.slots,
                        },
                    });
                }
                let t = target as usize;
                if self.index_of(t).is_none() {
                    return Err(DecodeError {
                        pc,
                        kind: DecodeErrorKind::JumpIntoLdImm64 {
                            target: t,
                            ld_imm64: t - 1,
                        },
                    });
                }
            }
        }
        Ok(())
    }

    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    pub fn into_insns(self) -> Vec<Insn> {
        self.insns
    }

    /// Number of instructions (LD_IMM64 counts once).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Number of 8-byte slots (LD_IMM64 counts twice).
    pub fn slot_count(&self) -> usize {
        self.slots
    }

    /// The slot address of instruction `index`.
    pub fn pc_of(&self, index: usize) -> usize {
        self.pcs[index]
    }

    /// The instruction index at slot `pc`, if an instruction starts there.
    pub fn index_of(&self, pc: usize) -> Option<usize> {
        self.pcs.binary_search(&pc).ok()
    }

    /// The instruction starting at slot `pc`.
    pub fn at(&self, pc: usize) -> Option<&Insn> {
        self.index_of(pc).map(|i| &self.insns[i])
    }

    /// `(pc, insn)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Insn)> + '_ {
        self.pcs.iter().copied().zip(self.insns.iter())
    }

    /// The bytecode of this program.
    pub fn encode(&self) -> Vec<u8> {
        encode_program(&self.insns)
    }
}
