//! One instruction's effect on the state (the body of the kernel's `do_check` loop): operand
//! checks (`R%d !read_ok`, `frame pointer is read only`), then dispatch to the ALU, memory,
//! jump and call checkers.

use bpfvet_isa::insn::{Insn, Reg, Src};

use crate::error::VerifyError;
use crate::explore::{Next, Verifier};
use crate::prog::Slot;
use crate::state::State;

impl Verifier<'_> {
    /// Marks register `r` as touched by the current instruction (for the log).
    pub fn scratch(&mut self, r: u8) {
        self.log.scratched_regs |= 1 << r;
    }

    /// Marks the stack slot holding byte `off` of the current frame as touched.
    pub fn scratch_slot(&mut self, off: i64) {
        if off < 0 {
            let spi = ((-off - 1) / 8) as usize;
            if !self.log.scratched_slots.contains(&spi) {
                self.log.scratched_slots.push(spi);
            }
        }
    }

    /// `check_reg_arg(SRC_OP)`: the register must be initialised.
    pub fn read_reg(&mut self, st: &State, pc: usize, r: Reg) -> Result<(), VerifyError> {
        self.scratch(r.index());
        if !st.reg(r.index()).is_init() {
            return Err(VerifyError::access(pc, format!("R{} !read_ok", r.index()))
                .with_explanation(format!(
                    "R{} is read here but no value was written to it on this path{}",
                    r.index(),
                    if (1..=5).contains(&r.index()) {
                        " (R1-R5 are clobbered by every call)"
                    } else {
                        ""
                    }
                )));
        }
        Ok(())
    }

    /// `check_reg_arg(DST_OP)`: the register may be written (not R10).
    pub fn write_reg(&mut self, pc: usize, r: Reg) -> Result<(), VerifyError> {
        self.scratch(r.index());
        if r.index() == 10 {
            return Err(VerifyError::access(pc, "frame pointer is read only"));
        }
        Ok(())
    }

    /// Executes the instruction at `pc` on `st`.
    pub fn step(&mut self, st: &mut State, pc: usize) -> Result<Next, VerifyError> {
        self.seen[pc] = true;
        let insn = match &self.code.slots[pc] {
            Slot::Insn(i) => *i,
            Slot::Bad(b) => return Err(VerifyError::invalid(Some(pc), b.message.clone())),
            Slot::Second => {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!("jump into the middle of ldimm64 insn {}", pc - 1),
                ));
            }
        };
        let next = pc + insn.slots();
        let before = st.cur().regs;
        let depth = st.frames.len();
        let r = match insn {
            Insn::Alu { .. } | Insn::Neg { .. } | Insn::MovSx { .. } | Insn::Endian { .. } => {
                self.check_alu(st, pc, &insn)?;
                Next::Goto(next)
            }
            Insn::AddrSpaceCast { .. } => {
                return Err(VerifyError::invalid(
                    Some(pc),
                    "addr_space_cast insn can only be used in a program that has an associated arena",
                ));
            }
            Insn::LdImm64 { .. } => {
                self.check_ld_imm64(st, pc, &insn)?;
                Next::Goto(next)
            }
            Insn::Load { .. }
            | Insn::Store { .. }
            | Insn::StoreReg { .. }
            | Insn::Atomic { .. } => {
                self.check_mem_insn(st, pc, &insn)?;
                Next::Goto(next)
            }
            Insn::LdAbs { .. } | Insn::LdInd { .. } => {
                self.check_ld_abs(st, pc, &insn)?;
                Next::Goto(next)
            }
            Insn::Ja { off } => Next::Goto((pc as i64 + 1 + i64::from(off)) as usize),
            Insn::Gotol { imm } => Next::Goto((pc as i64 + 1 + i64::from(imm)) as usize),
            Insn::Jmp { .. } => self.check_cond_jmp(st, pc, &insn)?,
            Insn::MayGoto { off } => {
                // Each pass may leave the loop: explore the exit first, then the body with a
                // deeper count.
                let mut other = st.clone();
                other.may_goto_depth += 1;
                let target = (pc as i64 + 1 + i64::from(off)) as usize;
                Next::Branch {
                    fall: target,
                    other: next,
                    other_state: Box::new(other),
                }
            }
            Insn::Call(kind) => self.check_call(st, pc, kind)?,
            Insn::Callx { .. } => {
                return Err(VerifyError::invalid(
                    Some(pc),
                    "BPF_CALL uses reserved fields",
                ));
            }
            Insn::Exit => self.check_exit(st, pc)?,
        };
        // Remember which instruction last changed each register (for explanations).
        if st.frames.len() == depth {
            for (i, b) in before.iter().enumerate() {
                let r = &mut st.cur_mut().regs[i];
                if r != b || r.def_pc != b.def_pc {
                    r.def_pc = pc as u32 + 1;
                }
            }
        }
        self.note_stack_depth(st);
        if !matches!(r, Next::Done) {
            let env = self.env;
            self.log.insn_state(pc, st, &env.maps);
        }
        Ok(r)
    }
}

impl Verifier<'_> {
    /// "R2 was last set at insn 7 (`r2 -= r3`)", for explanations.
    pub fn origin(&self, r: &crate::reg::RegState, regno: u8) -> String {
        if r.def_pc == 0 {
            return format!("R{regno} has held this value since the program started");
        }
        let pc = r.def_pc as usize - 1;
        let text = match self.code.insn(pc) {
            Some(i) => bpfvet_isa::disasm::format_insn(i, bpfvet_isa::Dialect::Llvm),
            None => String::from("?"),
        };
        format!("R{regno} was last set at insn {pc} (`{text}`)")
    }
}

/// Registers an instruction reads, for the log (the ones not read through `read_reg`).
pub fn src_reg(src: Src) -> Option<Reg> {
    match src {
        Src::Reg(r) => Some(r),
        Src::Imm(_) => None,
    }
}

/// Register `n` (0..=10).
pub fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register number 0..=10")
}
