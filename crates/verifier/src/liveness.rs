//! Static register liveness: for every instruction, the registers that may be read before
//! being written on some path from there within the same function (the kernel's
//! `compute_live_registers`). Pruning ignores registers that are dead at a checkpoint: no
//! continuation can observe them, so any value there is as good as any other.
//!
//! The sets over-approximate reads: a helper call reads the argument registers its
//! prototype declares, function and kfunc calls read R1–R5, `exit` reads R0,
//! an instruction that cannot be decoded reads everything. Calls are not followed into the
//! callee (callee-saved registers cannot be read there, and the callee's own frame has its
//! own sets); a callback's address is not a control-flow edge.

use bpfvet_isa::insn::{AluOp, AtomicOp, CallKind, Insn, Src};

use crate::prog::{Code, Slot};

/// All eleven registers.
pub const ALL: u16 = 0x7ff;
/// R0–R5: what calls clobber.
const CALLER_SAVED: u16 = 0x3f;
/// R1–R5: call arguments.
const ARGS: u16 = 0x3e;
const FP: u16 = 1 << 10;

fn bit(r: u8) -> u16 {
    1 << (r as u16 & 15)
}

/// (uses, defs) of one slot; `helper_args` gives the argument registers a helper reads.
fn use_def(slot: &Slot, helper_args: &dyn Fn(i32) -> u16) -> (u16, u16) {
    let insn = match slot {
        Slot::Insn(i) => i,
        Slot::Second => return (0, 0),
        Slot::Bad(_) => return (ALL, 0),
    };
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            let s = match src {
                Src::Reg(r) => bit(r.index()),
                Src::Imm(_) => 0,
            };
            let d = bit(dst.index());
            if op == AluOp::Mov { (s, d) } else { (s | d, d) }
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => (bit(dst.index()), bit(dst.index())),
        Insn::MovSx { dst, src, .. } | Insn::AddrSpaceCast { dst, src, .. } => {
            (bit(src.index()), bit(dst.index()))
        }
        Insn::Ja { .. } | Insn::Gotol { .. } | Insn::MayGoto { .. } => (0, 0),
        Insn::Jmp { dst, src, .. } => {
            let s = match src {
                Src::Reg(r) => bit(r.index()),
                Src::Imm(_) => 0,
            };
            (bit(dst.index()) | s, 0)
        }
        // A helper reads the arguments its prototype declares (the kernel's rule).
        Insn::Call(CallKind::Helper(id)) => (helper_args(id) & ARGS, CALLER_SAVED),
        Insn::Call(CallKind::Local(_)) | Insn::Call(CallKind::Kfunc { .. }) => (ARGS, CALLER_SAVED),
        Insn::Callx { reg } => (ARGS | bit(reg.index()), CALLER_SAVED),
        Insn::Exit => (1, 0),
        Insn::Load { dst, src, .. } => (bit(src.index()), bit(dst.index())),
        Insn::Store { dst, .. } => (bit(dst.index()), 0),
        Insn::StoreReg { dst, src, .. } => (bit(dst.index()) | bit(src.index()), 0),
        Insn::Atomic { op, dst, src, .. } => {
            let used = bit(dst.index()) | bit(src.index());
            match op {
                AtomicOp::Cmpxchg => (used | 1, 1),
                op if op.fetches() => (used, bit(src.index())),
                _ => (used, 0),
            }
        }
        Insn::LdImm64 { dst, .. } => (0, bit(dst.index())),
        // LD_ABS/LD_IND read the context from R6 and clobber R0–R5.
        Insn::LdAbs { .. } => (1 << 6, CALLER_SAVED),
        Insn::LdInd { src, .. } => ((1 << 6) | bit(src.index()), CALLER_SAVED),
    }
}

/// The registers a prototype's arguments occupy (R1 up to its last real argument).
pub fn arg_regs(args: &[crate::sig::Arg]) -> u16 {
    let n = args
        .iter()
        .rposition(|a| !matches!(a, crate::sig::Arg::DontCare))
        .map_or(0, |i| i + 1)
        .min(5);
    (((1u16 << n) - 1) << 1) & ARGS
}

/// Successors within the same function.
fn successors(code: &Code, pc: usize) -> ([usize; 2], usize) {
    let len = code.len();
    let next = pc
        + if matches!(code.slots.get(pc + 1), Some(Slot::Second)) {
            2
        } else {
            1
        };
    let target = |off: i64| {
        let t = pc as i64 + 1 + off;
        (t >= 0 && (t as usize) < len).then_some(t as usize)
    };
    let mut out = [0usize; 2];
    let mut n = 0;
    let mut push = |t: Option<usize>| {
        if let Some(t) = t
            && t < len
        {
            out[n] = t;
            n += 1;
        }
    };
    match &code.slots[pc] {
        Slot::Insn(Insn::Exit) => {}
        Slot::Insn(Insn::Ja { off }) => push(target(i64::from(*off))),
        Slot::Insn(Insn::Gotol { imm }) => push(target(i64::from(*imm))),
        Slot::Insn(Insn::Jmp { off, .. }) | Slot::Insn(Insn::MayGoto { off }) => {
            push(Some(next));
            push(target(i64::from(*off)));
        }
        Slot::Bad(_) => {}
        _ => push(Some(next)),
    }
    (out, n)
}

/// Per slot: the registers live before it executes (bit i = Ri). R10 is always live.
pub fn live_registers(code: &Code, helper_args: &dyn Fn(i32) -> u16) -> Vec<u16> {
    let n = code.len();
    let ud: Vec<(u16, u16)> = code.slots.iter().map(|s| use_def(s, helper_args)).collect();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for pc in 0..n {
        let (s, k) = successors(code, pc);
        for &t in &s[..k] {
            preds[t].push(pc);
        }
    }
    let mut live_in = vec![0u16; n];
    let mut queued = vec![true; n];
    let mut work: Vec<usize> = (0..n).collect();
    while let Some(pc) = work.pop() {
        queued[pc] = false;
        let (s, k) = successors(code, pc);
        let out = s[..k].iter().fold(0u16, |acc, &t| acc | live_in[t]);
        let (uses, defs) = ud[pc];
        let new = (out & !defs) | uses | FP;
        if new != live_in[pc] {
            live_in[pc] = new;
            for &p in &preds[pc] {
                if !queued[p] {
                    queued[p] = true;
                    work.push(p);
                }
            }
        }
    }
    live_in
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfvet_isa::Dialect;
    use bpfvet_isa::asm::assemble;

    fn live(text: &str) -> Vec<u16> {
        let insns = assemble(text, Dialect::Llvm).unwrap();
        live_registers(
            &Code::from_program(&bpfvet_isa::Program::from_insns(insns)),
            &|_| ARGS,
        )
    }

    #[test]
    fn reads_before_writes() {
        let l = live("r2 = 1\nr0 = r1\nif r2 > 3 goto +1\nr0 = r3\nexit\n");
        // insn 0: r1 read later, r3 read on one path, r2 written here.
        assert_eq!(l[0] & 0x3ff, (1 << 1) | (1 << 3));
        // insn 3: r3 read; r0 written.
        assert_eq!(l[3] & 0x3ff, 1 << 3);
        // exit reads r0.
        assert_eq!(l[4] & 0x3ff, 1);
    }

    #[test]
    fn calls_read_arguments_and_clobber() {
        let l = live("r6 = r1\nr1 = 0\ncall 5\nr0 = r6\nexit\n");
        assert_eq!(l[2] & 0x3ff, ARGS | (1 << 6));
        assert_eq!(l[1] & 0x3ff, ARGS & !(1 << 1) | (1 << 6));
    }

    #[test]
    fn loops_reach_a_fixpoint() {
        let l = live("r1 = 0\nr2 = 10\nr1 += 1\nif r1 < r2 goto -2\nr0 = 0\nexit\n");
        assert_eq!(l[2] & 0x3ff, (1 << 1) | (1 << 2));
        assert_eq!(l[0] & 0x3ff, 0);
    }
}
