//! Control-flow code: jumps, `may_goto`, helper calls (through the C ABI, R1–R5 kept as the
//! interpreter keeps them), `callx`, tail calls (a call that may be one saves R0 for the
//! trampoline and afterwards jumps where it says), and bpf-to-bpf calls (R6–R9 saved on the
//! native stack, R10 moved to the next frame, at most eight frames).

use bpfvet_isa::{Cond, Insn, Reg, Size, Src, Width};
use iced_x86::code_asm::*;

use super::{BUDGET, CTX, Gen, Res, Stub, ctx, d, q};
use crate::runtime::{REGION_ENTRY_SIZE, TABLE_ENTRY_SIZE, frame_step, kind, off};

/// Where a helper call goes.
enum Callee {
    /// A helper-table entry's function.
    Table(AsmMemoryOperand),
    /// An address in a register.
    Reg(AsmRegister64),
}

/// The argument registers R1–R5, saved around helper calls.
const ARGS: [AsmRegister64; 5] = [rdi, rsi, rdx, rcx, r8];

impl Gen<'_> {
    fn target(&self, i: usize) -> CodeLabel {
        // `lower` gives every jump and call a target.
        self.labels[self.prog.targets[i].unwrap_or(i)]
    }

    /// `goto`. In unchecked code, a `goto` to a conditional jump takes a copy of that jump
    /// (then goes to the instruction after it): one taken branch instead of two on the
    /// common path, as in loops whose branches all meet at the loop test. Checked code keeps
    /// the plain jump, since the budget is charged where blocks start.
    pub(super) fn jump(&mut self, i: usize) -> Res {
        let label = self.target(i);
        if let Some(t) = self.prog.targets[i]
            && !self.opts.checked
            && let Some(&Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            }) = self.prog.insns.get(t)
        {
            let n = match self.fused_branch(t)? {
                Some(n) => n,
                None => {
                    self.cond_jump(t, width, cond, dst, src)?;
                    1
                }
            };
            let after = self.labels[t + n];
            return self.a.jmp(after);
        }
        self.a.jmp(label)
    }

    pub(super) fn cond_jump(
        &mut self,
        i: usize,
        width: Width,
        cond: Cond,
        dst: Reg,
        src: Src,
    ) -> Res {
        let t = self.target(i);
        let w64 = width == Width::W64;
        let a = &mut self.a;
        match (cond, src, w64) {
            (Cond::Set, Src::Reg(s), true) => a.test(q(dst), q(s))?,
            (Cond::Set, Src::Reg(s), false) => a.test(d(dst), d(s))?,
            (Cond::Set, Src::Imm(k), true) => a.test(q(dst), k)?,
            (Cond::Set, Src::Imm(k), false) => a.test(d(dst), k)?,
            (_, Src::Reg(s), true) => a.cmp(q(dst), q(s))?,
            (_, Src::Reg(s), false) => a.cmp(d(dst), d(s))?,
            // `test r, r` sets the flags as `cmp r, 0` does (CF = OF = 0).
            (_, Src::Imm(0), true) => a.test(q(dst), q(dst))?,
            (_, Src::Imm(0), false) => a.test(d(dst), d(dst))?,
            (_, Src::Imm(k), true) => a.cmp(q(dst), k)?,
            (_, Src::Imm(k), false) => a.cmp(d(dst), k)?,
        }
        match cond {
            Cond::Eq => a.je(t),
            Cond::Ne | Cond::Set => a.jne(t),
            Cond::Gt => a.ja(t),
            Cond::Ge => a.jae(t),
            Cond::Lt => a.jb(t),
            Cond::Le => a.jbe(t),
            Cond::Sgt => a.jg(t),
            Cond::Sge => a.jge(t),
            Cond::Slt => a.jl(t),
            Cond::Sle => a.jle(t),
        }
    }

    /// The conditional jump at `i` as `(width, cond, dst, imm, target)` if it compares with an
    /// immediate.
    fn imm_jump(&self, i: usize) -> Option<(Width, Cond, Reg, i32, usize)> {
        match self.prog.insns.get(i)? {
            Insn::Jmp {
                width,
                cond,
                dst,
                src: Src::Imm(k),
                ..
            } => Some((*width, *cond, *dst, *k, self.prog.targets[i]?)),
            _ => None,
        }
    }

    /// Unchecked mode: emits one branch for a run of jumps starting at `i` that test one
    /// register against constants and go to one place, and returns how many instructions it
    /// covers. Two idioms:
    /// - `x < A` or `x > B` (a range check, A <= B): `lea t, [x - A]; cmp t, B - A; ja`.
    /// - `x == k1` or `x == k2` or ... (all < 64): a bit test on a constant mask.
    pub(super) fn fused_branch(&mut self, i: usize) -> Result<Option<usize>, IcedError> {
        if self.opts.checked {
            // Each jump ends a block of the budget; keep them apart.
            return Ok(None);
        }
        let Some((width, cond, x, k, t)) = self.imm_jump(i) else {
            return Ok(None);
        };
        let w64 = width == Width::W64;
        let val = |k: i32| {
            if w64 {
                k as i64 as u64
            } else {
                k as u32 as u64
            }
        };
        let same = |g: &Self, j: usize| {
            g.imm_jump(j)
                .filter(|&(w, _, d, _, tt)| !g.joins(j) && w == width && d == x && tt == t)
        };
        // Range check.
        if let Some((_, c2, _, second, _)) = same(self, i + 1) {
            let (lo, hi) = match (cond, c2) {
                (Cond::Lt, Cond::Gt) => (val(k), val(second)),
                (Cond::Gt, Cond::Lt) => (val(second), val(k)),
                _ => (1, 0),
            };
            // The displacement -lo, as the lea of each width sees it.
            let disp = if w64 {
                i32::try_from((lo as i64).wrapping_neg()).ok()
            } else {
                Some((lo as u32).wrapping_neg() as i32)
            };
            if let Some(disp) = disp
                && lo <= hi
                && (hi - lo) <= i32::MAX as u64
            {
                let label = self.labels[t];
                let span = (hi - lo) as i32;
                if w64 {
                    self.a.lea(r11, ptr(q(x) + disp))?;
                    self.a.cmp(r11, span)?;
                } else {
                    self.a.lea(r11d, ptr(q(x) + disp))?;
                    self.a.cmp(r11d, span)?;
                }
                self.a.ja(label)?;
                return Ok(Some(2));
            }
        }
        // Set membership.
        let small = |k: i32| val(k) < 64;
        if cond != Cond::Eq || !small(k) {
            return Ok(None);
        }
        let mut mask = 1u64 << val(k);
        let mut n = 1;
        while let Some((_, Cond::Eq, _, kj, _)) = same(self, i + n) {
            if !small(kj) {
                break;
            }
            mask |= 1 << val(kj);
            n += 1;
        }
        if n < 2 {
            return Ok(None);
        }
        let label = self.labels[t];
        // Without a branch on the range: the mask is cleared when x >= 64 (`bt` would take the
        // bit number modulo 64).
        let v = if w64 {
            q(x)
        } else {
            self.a.mov(r9d, d(x))?;
            r9
        };
        self.a.mov(r11, mask)?;
        self.a.cmp(v, 64)?;
        self.a.sbb(r10, r10)?;
        self.a.and(r11, r10)?;
        self.a.bt(r11, v)?;
        self.a.jb(label)?;
        Ok(Some(n))
    }

    /// Falls through while the run's `may_goto` budget lasts (and counts it down), then jumps.
    pub(super) fn may_goto(&mut self, i: usize) -> Res {
        let t = self.target(i);
        self.a.cmp(ctx(off::MAY_GOTO), 0)?;
        self.a.je(t)?;
        self.a.sub(ctx(off::MAY_GOTO), 1)
    }

    /// Calls the function at `func` (a memory operand or register) with R1–R5 as arguments
    /// and the context as the sixth; R0 gets the result, R1–R5 are restored, and a failure the
    /// callee reports stops the run.
    fn helper_call(&mut self, i: usize, func: Callee) -> Res {
        let tail = match self.prog.insns[i] {
            Insn::Callx { .. } => true,
            Insn::Call(bpfvet_isa::CallKind::Helper(id)) => id as u32 == crate::lower::TAIL_CALL_ID,
            _ => false,
        };
        self.transfer_check()?;
        if tail {
            // A tail call that falls through leaves R0 as it was: the trampoline returns it.
            self.a.mov(ctx(off::REGS), rax)?;
        }
        for r in ARGS {
            self.a.push(r)?;
        }
        if self.opts.checked {
            self.a.mov(ctx(off::REMAINING), BUDGET)?;
        }
        self.a.mov(r9, CTX)?;
        match func {
            Callee::Table(m) => self.a.call(m)?,
            Callee::Reg(r) => self.a.call(r)?,
        }
        if self.opts.checked {
            self.a.mov(BUDGET, ctx(off::REMAINING))?;
        }
        for r in ARGS.iter().rev() {
            self.a.pop(*r)?;
        }
        let stub = self.fail_stub(kind::HELPER, i);
        self.a.cmp(ctx(off::HELPER_FAILED), 0)?;
        self.a.jne(stub)?;
        if tail {
            let label = self.a.create_label();
            self.stubs.push(Stub::Tail { label });
            self.a.cmp(ctx(off::TAIL_TARGET), 0)?;
            self.a.jne(label)?;
        }
        Ok(())
    }

    pub(super) fn call_helper(&mut self, i: usize, id: u32) -> Res {
        let slot = self.prog.helper_slot.get(&id).copied().unwrap_or(0) as i32;
        let entry = slot * TABLE_ENTRY_SIZE;
        self.a.mov(r11, self.env.helper_table)?;
        self.a.mov(r10, qword_ptr(r11 + (entry + 8)))?;
        self.a.mov(ctx(off::HELPER_DATA), r10)?;
        self.helper_call(i, Callee::Table(qword_ptr(r11 + entry)))
    }

    pub(super) fn callx(&mut self, i: usize, reg: Reg) -> Res {
        self.a.mov(ctx(off::HELPER_ID), q(reg))?;
        self.a.mov(r11, self.env.callx)?;
        self.helper_call(i, Callee::Reg(r11))
    }

    pub(super) fn call_local(&mut self, i: usize) -> Res {
        let t = self.target(i);
        let step = frame_step(self.opts.checked) as i32;
        self.transfer_check()?;
        let deep = self.fail_stub(kind::CALL_DEPTH, i);
        self.a.cmp(rbp, ctx(off::FP_LIMIT))?;
        self.a.jae(deep)?;
        for r in [rbx, r13, r14, r15] {
            self.a.push(r)?;
        }
        self.a.sub(rsp, 8)?;
        self.a.add(rbp, step)?;
        if self.opts.checked {
            // One more live stack; remember the deepest for zeroing before the next run.
            let mut known = self.a.create_label();
            self.a.add(ctx(off::LIVE_END), REGION_ENTRY_SIZE)?;
            self.a.mov(r10, ctx(off::LIVE_END))?;
            self.a.cmp(r10, ctx(off::MAX_LIVE))?;
            self.a.jbe(known)?;
            self.a.mov(ctx(off::MAX_LIVE), r10)?;
            self.bind(&mut known)?;
        }
        self.a.call(t)?;
        self.a.sub(rbp, step)?;
        if self.opts.checked {
            self.a.sub(ctx(off::LIVE_END), REGION_ENTRY_SIZE)?;
            // The cached region may have been the callee's stack; entry 0 is always live.
            self.a.mov(r11, ctx(off::REGIONS))?;
            self.a.mov(ctx(off::CACHE), r11)?;
        }
        self.a.add(rsp, 8)?;
        for r in [r15, r14, r13, rbx] {
            self.a.pop(r)?;
        }
        Ok(())
    }

    /// The callback entry (see `MachineCode::callback_entry`): `fn(ctx, target) -> Exit`.
    /// It saves every callee-saved register, then the context's entry stack pointer and
    /// error epilogue, and points them at its own frame and epilogue, so an error inside
    /// the callback returns here (status 1) instead of unwinding the helper that called it.
    pub(super) fn callback_entry(&mut self) -> Result<CodeLabel, IcedError> {
        let mut entry = self.a.create_label();
        let mut pops = self.a.create_label();
        const SAVED: [AsmRegister64; 6] = [rbp, rbx, r12, r13, r14, r15];
        self.bind(&mut entry)?;
        for r in SAVED {
            self.a.push(r)?;
        }
        self.a.mov(CTX, rdi)?;
        self.a.push(ctx(off::ENTRY_RSP))?;
        self.a.push(ctx(off::EXIT_POPS))?;
        // Eight pushes: the stack is as at entry (16n + 8); one more slot aligns the call.
        self.a.sub(rsp, 8)?;
        self.a.mov(ctx(off::ENTRY_RSP), rsp)?;
        self.a.lea(r11, ptr(pops))?;
        self.a.mov(ctx(off::EXIT_POPS), r11)?;
        self.a.mov(r11, rsi)?;
        if self.opts.checked {
            self.a.mov(BUDGET, ctx(off::REMAINING))?;
        }
        for (i, r) in ARGS.iter().enumerate() {
            self.a.mov(*r, ctx(off::REGS + 8 * (i as i32 + 1)))?;
        }
        self.a.mov(rbp, ctx(off::REGS + 80))?;
        for r in [eax, ebx, r13d, r14d, r15d] {
            self.a.xor(r, r)?;
        }
        self.a.call(r11)?;
        if self.opts.checked {
            self.a.mov(ctx(off::REMAINING), BUDGET)?;
        }
        self.a.mov(rdx, rax)?;
        self.a.xor(eax, eax)?;
        // The error exit arrives here with rsp = the saved entry stack pointer, eax = 1.
        self.bind(&mut pops)?;
        self.a.add(rsp, 8)?;
        self.a.pop(ctx(off::EXIT_POPS))?;
        self.a.pop(ctx(off::ENTRY_RSP))?;
        for r in SAVED.iter().rev() {
            self.a.pop(*r)?;
        }
        self.a.ret()?;
        Ok(entry)
    }

    /// LD_ABS (`src` None) and LD_IND: R0 = the big-endian `size` bytes at the offset of the
    /// run's packet, read by the interpreter's code through `CodeEnv::ld_abs`; out of
    /// bounds, the function returns 0 (as the kernel's rewrite does); without a packet the
    /// run fails. R1–R5 are kept, as the interpreter keeps them.
    pub(super) fn ld_abs(&mut self, i: usize, size: Size, src: Option<Reg>, imm: i32) -> Res {
        let bytes: u32 = match size {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        };
        // The offset is the low 32 bits of src + imm.
        match src {
            Some(s) => {
                self.a.mov(r11d, d(s))?;
                self.a.add(r11d, imm)?;
            }
            None => self.a.mov(r11d, imm as u32)?,
        }
        for r in ARGS {
            self.a.push(r)?;
        }
        if self.opts.checked {
            self.a.mov(ctx(off::REMAINING), BUDGET)?;
        }
        self.a.mov(rdi, CTX)?;
        self.a.mov(esi, r11d)?;
        self.a.mov(edx, bytes)?;
        self.a.mov(rax, self.env.ld_abs)?;
        self.a.call(rax)?;
        if self.opts.checked {
            self.a.mov(BUDGET, ctx(off::REMAINING))?;
        }
        self.a.mov(r10, rdx)?;
        self.a.mov(r11, rax)?;
        for r in ARGS.iter().rev() {
            self.a.pop(*r)?;
        }
        let mut ok = self.a.create_label();
        let fail = self.fail_stub(kind::INSN, i);
        self.a.test(r11, r11)?;
        self.a.je(ok)?;
        self.a.cmp(r11, 1)?;
        self.a.jne(fail)?;
        // Out of bounds: return 0 from the function, as `exit` does.
        self.a.xor(eax, eax)?;
        self.transfer_check()?;
        self.a.ret()?;
        self.bind(&mut ok)?;
        self.a.mov(rax, r10)
    }
}
