//! Register liveness: which registers may still be read after each instruction, by the usual
//! backward data-flow over the control-flow graph. Code generation skips register-only
//! instructions whose result nobody reads (such code is common in compiled BPF and in
//! idioms like a rotate whose spill register dies).
//!
//! Conservative where calls are involved: a bpf-to-bpf call reads every register (the callee
//! may use any), and when the program has such calls an `exit` reads R0–R5 (the caller may
//! read them after the return; R6–R9 are restored by the caller, so the callee's are dead).
//! A call that may be a tail call (helper 12, or `callx`) reads every register and writes
//! none: the next program starts with them all, and R0 stays as it was when the tail call
//! falls through. Instructions that end the run with an error read nothing: no register is
//! observable then. LD_ABS/LD_IND either give R0 or return from the function, so they read
//! what `exit` reads.

use bpfvet_isa::{AtomicOp, CallKind, Imm64Kind, Insn, Reg, Src};

/// A set of registers R0–R10, one bit each.
pub type RegSet = u16;

fn bit(r: Reg) -> RegSet {
    1 << r.index()
}

/// R1–R5.
const ARGS: RegSet = 0b11_1110;
/// R0–R10 (a call also moves the frame pointer).
const ALL: RegSet = 0x7ff;

/// (registers read, registers certainly written) by `insn`.
pub(crate) fn use_def(insn: &Insn, exit_reads: RegSet) -> (RegSet, RegSet) {
    let src_bit = |s: Src| match s {
        Src::Reg(r) => bit(r),
        Src::Imm(_) => 0,
    };
    match *insn {
        Insn::Alu {
            op: bpfvet_isa::AluOp::Mov,
            dst,
            src,
            ..
        } => (src_bit(src), bit(dst)),
        Insn::Alu { dst, src, .. } => (bit(dst) | src_bit(src), bit(dst)),
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => (bit(dst), bit(dst)),
        Insn::MovSx { dst, src, .. } => (bit(src), bit(dst)),
        // Other kinds either give a value or stop the run.
        Insn::LdImm64 { dst, .. } => (0, bit(dst)),
        Insn::Load { dst, src, .. } => (bit(src), bit(dst)),
        Insn::Store { dst, .. } => (bit(dst), 0),
        Insn::StoreReg { dst, src, .. } => (bit(dst) | bit(src), 0),
        Insn::Atomic { dst, src, op, .. } => {
            let r0 = if op == AtomicOp::Cmpxchg { 1 } else { 0 };
            (bit(dst) | bit(src) | r0, 0)
        }
        Insn::Jmp { dst, src, .. } => (bit(dst) | src_bit(src), 0),
        Insn::Call(CallKind::Helper(id)) if id as u32 == crate::lower::TAIL_CALL_ID => (ALL, 0),
        Insn::Call(CallKind::Helper(_)) => (ARGS, 1),
        // Gives R0 or returns 0 from the function (reading what `exit` reads, but R0).
        Insn::LdAbs { .. } => (exit_reads & !1, 1),
        Insn::LdInd { src, .. } => ((exit_reads & !1) | bit(src), 1),
        Insn::Callx { .. } => (ALL, 0),
        Insn::Call(CallKind::Local(_)) => (ALL, 0),
        Insn::Exit => (exit_reads, 0),
        _ => (0, 0),
    }
}

/// Whether control may continue at the next instruction after `insn`.
fn falls_through(insn: &Insn) -> bool {
    // (An LD_IMM64 other than a constant either continues or stops the run.)
    !matches!(
        insn,
        Insn::Ja { .. }
            | Insn::Gotol { .. }
            | Insn::Exit
            | Insn::Call(CallKind::Kfunc { .. })
            | Insn::AddrSpaceCast { .. }
    )
}

/// The registers live after each instruction (`targets` as in `Lowered`), and those live at
/// the start of the program (read before being written). With `args_at_exit`, `exit` reads
/// R0–R5 even without bpf-to-bpf calls in the program (it may have been entered by a tail
/// call from a function another program called).
pub fn live_out(
    insns: &[Insn],
    targets: &[Option<usize>],
    args_at_exit: bool,
) -> (Vec<RegSet>, RegSet) {
    let n = insns.len();
    let has_calls = insns
        .iter()
        .any(|i| matches!(i, Insn::Call(CallKind::Local(_))));
    let exit_reads = if has_calls || args_at_exit {
        0b11_1111
    } else {
        1
    };
    let ud: Vec<_> = insns.iter().map(|i| use_def(i, exit_reads)).collect();
    // live_in[n] (running off the end) is empty.
    let mut live_in = vec![0 as RegSet; n + 1];
    let mut out = vec![0 as RegSet; n];
    let mut changed = true;
    while changed {
        changed = false;
        for i in (0..n).rev() {
            let insn = &insns[i];
            let mut o = 0;
            if falls_through(insn) {
                o |= live_in[i + 1];
            }
            // A local call's target is the callee, not a successor of the call.
            if !matches!(insn, Insn::Call(CallKind::Local(_)))
                && let Some(t) = targets[i]
            {
                o |= live_in[t];
            }
            let (u, d) = ud[i];
            let inn = u | (o & !d);
            if o != out[i] || inn != live_in[i] {
                out[i] = o;
                live_in[i] = inn;
                changed = true;
            }
        }
    }
    (out, live_in[0])
}

/// Whether `insn` only computes a register (no memory, no control flow, cannot fail), and so
/// may be skipped when that register is dead afterwards. Returns the register.
pub fn pure_dst(insn: &Insn) -> Option<Reg> {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::MovSx { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Imm,
            ..
        } => Some(dst),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::lower;
    use bpfvet_isa::{Dialect, Program, asm};

    fn live(text: &str) -> Vec<RegSet> {
        let p = Program::from_insns(asm::assemble(text, Dialect::Ubpf).unwrap());
        let l = lower(&p, false).unwrap();
        live_out(&l.insns, &l.targets, false).0
    }

    #[test]
    fn dead_values_and_loops() {
        // r2 is overwritten before being read; r0 is read by exit.
        let l = live("mov %r2, 1\nmov %r2, 2\nmov %r0, %r2\nexit");
        assert_eq!(l[0] & bit(Reg::R2), 0);
        assert_ne!(l[1] & bit(Reg::R2), 0);
        assert_eq!(l[2], 1);
        // Around a loop, r1 stays live; r5 written at the top of the body is dead at its end.
        let l = live(
            "mov %r0, 0\nmov %r1, 9\nloop:\nmov %r5, %r1\nadd %r0, %r5\nsub %r1, 1\njne %r1, 0, loop\nexit",
        );
        assert_ne!(l[5] & bit(Reg::R1), 0);
        assert_eq!(l[5] & bit(Reg::R5), 0);
        assert_ne!(l[2] & bit(Reg::R5), 0);
        assert_eq!(l[3] & bit(Reg::R5), 0);
    }

    #[test]
    fn live_at_entry() {
        let p = |t: &str| Program::from_insns(asm::assemble(t, Dialect::Ubpf).unwrap());
        let lower_ = |p: &Program| lower(p, false);
        let l = lower_(&p("mov %r0, %r2\nadd %r0, %r1\nmov %r3, 1\nexit")).unwrap();
        assert_eq!(l.entry_live, bit(Reg::R1) | bit(Reg::R2));
        let l = lower_(&p("mov %r0, 0\nexit")).unwrap();
        assert_eq!(l.entry_live, 0);
    }

    #[test]
    fn calls_are_conservative() {
        // Before a local call everything is live, R10 included; a helper reads R1–R5.
        let l = live("mov %r7, 1\ncall local f\nexit\nf:\nmov %r0, 0\nexit");
        assert_ne!(l[0] & bit(Reg::R7), 0);
        assert_ne!(l[0] & bit(Reg::R10), 0);
        let l = live("mov %r3, 1\ncall 1\nexit");
        assert_ne!(l[0] & bit(Reg::R3), 0);
    }

    #[test]
    fn tail_calls_keep_every_register() {
        // R0 and R7 set before a possible tail call are live (the next program may read
        // them, and R0 survives a tail call that falls through); after a plain helper call
        // R0 is the helper's.
        let l = live("mov %r0, 1\nmov %r7, 2\ncall 12\nexit");
        assert_ne!(l[0] & bit(Reg::R0), 0);
        assert_ne!(l[1] & bit(Reg::R7), 0);
        let l = live("mov %r0, 1\ncall 7\nexit");
        assert_eq!(l[0] & bit(Reg::R0), 0);
        let l = live("mov %r0, 1\nmov %r2, 12\ncallx %r2\nexit");
        assert_ne!(l[0] & bit(Reg::R0), 0);
    }
}
