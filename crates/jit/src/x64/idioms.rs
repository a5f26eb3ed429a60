//! Idioms spanning several BPF instructions that x86-64 addressing does in one: a copy plus
//! a constant (`a = b; a += k`) is one `lea`, and a sum used only as the base of the memory
//! accesses that follow (`a += b` or `a += b << k`, then `*(a + off)`) is not computed at
//! all: the accesses address `[a + b * scale + off]`. Neither crosses a jump target.

use bpfvet_isa::{AluOp, Insn, Reg, Src, Width};
use iced_x86::code_asm::*;

use super::{Gen, Res, q};
use crate::liveness::use_def;

/// A register sum the accesses of a window use instead of their base register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct AddrFold {
    /// The register the skipped add would have changed (the accesses' base).
    pub base: Reg,
    pub index: Reg,
    /// 1, 2, 4 or 8.
    pub scale: u32,
}

/// Which adds fold into addresses, and the fold each memory access uses.
#[derive(Default)]
pub(super) struct AddrPlan {
    /// The add at this index emits nothing.
    pub skip: Vec<bool>,
    /// The memory access at this index addresses through the fold.
    pub uses: Vec<Option<AddrFold>>,
}

fn bit(r: Reg) -> u16 {
    1 << r.index()
}

/// The base register of a load or store `insn` and whether it also reads or writes `regs`
/// otherwise (a store's value, a load's destination): `(base, reads_regs, writes_regs)`.
fn access(insn: &Insn, regs: u16) -> Option<(Reg, bool, bool)> {
    match *insn {
        Insn::Load { dst, src, .. } => Some((src, false, bit(dst) & regs != 0)),
        Insn::Store { dst, .. } => Some((dst, false, false)),
        Insn::StoreReg { dst, src, .. } => Some((dst, bit(src) & regs != 0, false)),
        _ => None,
    }
}

impl Gen<'_> {
    /// `a = b; a += k` (or `-= k`) at `i`, 64-bit, with `a` read afterwards: `(a, b, k)`.
    pub(super) fn copy_add_at(&self, i: usize) -> Option<(Reg, Reg, i32)> {
        let p = self.prog;
        if i + 1 >= p.len() || self.joins(i + 1) {
            return None;
        }
        let Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: a,
            src: Src::Reg(b),
        } = p.insns[i]
        else {
            return None;
        };
        let Insn::Alu {
            width: Width::W64,
            op: op @ (AluOp::Add | AluOp::Sub),
            dst,
            src: Src::Imm(k),
        } = p.insns[i + 1]
        else {
            return None;
        };
        let k = if op == AluOp::Sub {
            k.checked_neg()?
        } else {
            k
        };
        (dst == a && a != b && p.live_out[i + 1] & bit(a) != 0).then_some((a, b, k))
    }

    /// Emits [`Gen::copy_add_at`]'s idiom.
    pub(super) fn copy_add(&mut self, (a, b, k): (Reg, Reg, i32)) -> Res {
        self.a.lea(q(a), ptr(q(b) + k))
    }

    /// Finds the adds whose sum only addresses memory (see the module documentation).
    /// `scaled[j]`: the add at `j` adds `index << k` (a shift folded into it).
    pub(super) fn address_plan(&self, scaled: &[Option<(Reg, u32)>]) -> AddrPlan {
        let p = self.prog;
        let n = p.len();
        let mut plan = AddrPlan {
            skip: vec![false; n],
            uses: vec![None; n],
        };
        for (j, scaled) in scaled.iter().enumerate().take(n) {
            let Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: base,
                src: Src::Reg(index),
            } = p.insns[j]
            else {
                continue;
            };
            if base == index {
                continue;
            }
            let scale = scaled.map_or(1, |(_, k)| 1 << k);
            let regs = bit(base) | bit(index);
            let mut uses = Vec::new();
            // Whether the last use writes `base` (so its old value dies there).
            let mut redefined = false;
            for t in j + 1..n {
                if p.targeted[t] {
                    break;
                }
                let insn = &p.insns[t];
                if let Some((b, reads, writes)) = access(insn, regs)
                    && b == base
                    && !reads
                {
                    uses.push(t);
                    if writes {
                        // A load into the base or the index ends the window.
                        redefined = matches!(*insn, Insn::Load { dst, .. } if dst == base);
                        break;
                    }
                    continue;
                }
                let (u, d) = use_def(insn, 0x7ff);
                let control = matches!(
                    insn,
                    Insn::Ja { .. }
                        | Insn::Gotol { .. }
                        | Insn::Jmp { .. }
                        | Insn::MayGoto { .. }
                        | Insn::Call(_)
                        | Insn::Callx { .. }
                        | Insn::Exit
                        | Insn::Atomic { .. }
                );
                if control || (u | d) & regs != 0 {
                    break;
                }
            }
            let Some(&last) = uses.last() else {
                continue;
            };
            if redefined || p.live_out[last] & bit(base) == 0 {
                plan.skip[j] = true;
                let fold = AddrFold { base, index, scale };
                for t in uses {
                    plan.uses[t] = Some(fold);
                }
            }
        }
        plan
    }

    /// The address `base + off` of memory instruction `i`, as an operand (through the fold
    /// the plan gives `i`, if any).
    pub(super) fn operand(&self, i: usize, base: Reg, off: i16) -> AsmMemoryOperand {
        match self.addr.uses.get(i).copied().flatten() {
            Some(f) if f.base == base => ptr(q(base) + q(f.index) * f.scale + off as i32),
            _ => ptr(q(base) + off as i32),
        }
    }
}
