//! The x86-64 backend: BPF registers live in fixed host registers (the kernel's mapping), each
//! BPF instruction becomes a short sequence emitted through iced-x86's code assembler (labels
//! and branch sizes are the assembler's business), and rare paths go out of line.
//!
//! Register map (as the kernel's x86-64 JIT):
//!
//! | BPF | R0  | R1  | R2  | R3  | R4  | R5 | R6  | R7  | R8  | R9  | R10 |
//! |-----|-----|-----|-----|-----|-----|----|-----|-----|-----|-----|-----|
//! | x86 | rax | rdi | rsi | rdx | rcx | r8 | rbx | r13 | r14 | r15 | rbp |
//!
//! R1–R5 are the System V argument registers, so a helper call needs no shuffling; R6–R9 and
//! R10 are callee-saved. `r12` holds the run context (`RunCtx` in `runtime.rs`);
//! `r9`, `r10`, `r11` are scratch, except that checked code keeps the instruction budget in
//! `r9` (saved around the few sequences that need a third scratch register).
//!
//! Code layout: the entry functions (save callee-saved registers, set up R0–R10, call the BPF
//! main function, return R0), then the code of every BPF instruction in order (`exit` is
//! `ret`: the entry and bpf-to-bpf calls both use `call`), then the out-of-line error stubs
//! and, in checked mode, the bounds-check subroutines. A tail call jumps to the first
//! instruction of the next program's code with the native stack as it is, so that program's
//! `exit` returns where the caller's would have; its error exit continues at program 0's
//! epilogue (`RunCtx::exit_pops`), which restores what program 0's entry saved (a program
//! that may tail-call saves every callee-saved register). A direct-entry program (see
//! `CodegenOptions::direct`) has entries that jump (or fall) into its code, and `exit` is
//! the entry's epilogue itself. `idioms.rs` holds the multi-instruction idioms that share
//! x86-64 addressing.
//!
//! The budget (checked mode) is charged where blocks start (`sub r9, len`). When it runs out
//! the interpreter does not stop at once: it runs on to its next transfer of control (taken
//! jump, call, `exit`), and only then (or at an error on the way) reports the first
//! instruction beyond the budget; the stores on the way happen. The JIT does the same with an
//! *overdraft*: a block whose charge fails records that instruction (`RunCtx::over_index`),
//! sets the sign bit of r9 and runs on. Block starts reached by a jump compare signed
//! (`jl`), so arriving by a transfer in overdraft fails; block starts reached by falling
//! through test the borrow (`jb`), so the overdraft runs on; a block start reached both ways
//! gets both entries. Calls and `exit` test the sign before they go; any error in overdraft is
//! the budget's.
//!
//! Stack alignment: inside BPF code `rsp % 16 == 8`, as at a function's first instruction;
//! helper calls push R1–R5 (40 bytes) and so call with an aligned stack; bpf-to-bpf calls push
//! R6–R9 and 8 bytes of padding.

mod alu;
mod ctrl;
mod idioms;
mod mem;

use iced_x86::code_asm::*;
use iced_x86::{
    BlockEncoderOptions, Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter,
};

use crate::backend::{AsmLine, Backend, CodeEnv, CodegenOptions, MachineCode};
use crate::error::JitError;
use crate::lower::Lowered;
use crate::runtime::{REGION_ENTRY_SIZE, kind, off, region_off};
use bpfvet_isa::{Insn, Reg};

/// The x86-64 backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct X64;

/// Host register of each BPF register, 64-bit view.
const R64: [AsmRegister64; 11] = [rax, rdi, rsi, rdx, rcx, r8, rbx, r13, r14, r15, rbp];
/// 32-bit views.
const R32: [AsmRegister32; 11] = [eax, edi, esi, edx, ecx, r8d, ebx, r13d, r14d, r15d, ebp];
/// 16-bit views.
const R16: [AsmRegister16; 11] = [ax, di, si, dx, cx, r8w, bx, r13w, r14w, r15w, bp];
/// 8-bit views.
const R8: [AsmRegister8; 11] = [al, dil, sil, dl, cl, r8b, bl, r13b, r14b, r15b, bpl];

/// Alignment of loop heads: a 64-byte cache line. Branchy loops are sensitive to where they
/// land (the parser benchmark varied by about 20% unchecked and 50% checked with the loop's
/// place inside a line); line-aligned heads measured among the good placements in both modes.
const LOOP_ALIGN: usize = 64;

/// The context register.
const CTX: AsmRegister64 = r12;
/// Checked mode: the instruction budget left (`RunCtx::remaining` while the code runs).
const BUDGET: AsmRegister64 = r9;
/// The budget register in overdraft: the sign bit set, with room below for any number of
/// charges a run can make.
const OVERDRAFT: u64 = 0xc000_0000_0000_0000;

fn q(r: Reg) -> AsmRegister64 {
    R64[r.index() as usize]
}
fn d(r: Reg) -> AsmRegister32 {
    R32[r.index() as usize]
}
fn w(r: Reg) -> AsmRegister16 {
    R16[r.index() as usize]
}
fn b(r: Reg) -> AsmRegister8 {
    R8[r.index() as usize]
}

/// A context field as a qword memory operand.
fn ctx(offset: i32) -> AsmMemoryOperand {
    qword_ptr(CTX + offset)
}

type Res = Result<(), IcedError>;

/// Out-of-line code emitted after the program.
enum Stub {
    /// Set `err_kind`/`err_index` and take the error exit.
    Fail {
        label: CodeLabel,
        kind: u64,
        index: usize,
    },
    /// The charge of the block at `index` failed: give it back, then start the overdraft and
    /// continue at `back` or, for an entry reached by a transfer already in overdraft, fail.
    Budget {
        label: CodeLabel,
        index: usize,
        len: u32,
        transfer: bool,
        back: CodeLabel,
    },
    /// A misaligned atomic: the virtual address is in r11.
    Misaligned { label: CodeLabel, index: usize },
    /// A tail call: continue at `RunCtx::tail_target` (and clear it).
    Tail { label: CodeLabel },
}

/// Code generation state for one program.
pub(crate) struct Gen<'p> {
    a: CodeAssembler,
    prog: &'p Lowered,
    opts: CodegenOptions,
    env: CodeEnv,
    /// One label per instruction, plus one for the end of the program.
    labels: Vec<CodeLabel>,
    /// The error exit: restores the entry stack pointer and returns 1.
    err_exit: CodeLabel,
    stubs: Vec<Stub>,
    /// Checked mode: bounds-check subroutines by (log2 of size, write).
    checkers: [[Option<CodeLabel>; 2]; 4],
    /// Checked mode: the label after each bounds-check call, with its instruction.
    check_sites: Vec<(CodeLabel, usize)>,
    /// Bytes of padding before each instruction (loop heads are aligned).
    pads: Vec<usize>,
    /// The epilogue of the entry functions.
    pops: CodeLabel,
    /// Checked mode: fails with the budget error (a transfer in overdraft).
    over_fail: CodeLabel,
    /// Checked mode: the subroutine that starts the overdraft.
    over_start: CodeLabel,
    /// Adds folded into the addresses of later accesses.
    addr: idioms::AddrPlan,
}

impl<'p> Gen<'p> {
    fn new(
        prog: &'p Lowered,
        opts: CodegenOptions,
        env: CodeEnv,
        pads: Vec<usize>,
    ) -> Result<Gen<'p>, IcedError> {
        let mut a = CodeAssembler::new(64)?;
        let labels = (0..=prog.len()).map(|_| a.create_label()).collect();
        let err_exit = a.create_label();
        let pops = a.create_label();
        let over_fail = a.create_label();
        let over_start = a.create_label();
        Ok(Gen {
            over_fail,
            over_start,
            addr: idioms::AddrPlan::default(),
            pops,
            a,
            prog,
            opts,
            env,
            labels,
            err_exit,
            stubs: Vec::new(),
            checkers: [[None; 2]; 4],
            check_sites: Vec::new(),
            pads,
        })
    }

    /// Whether control can arrive at instruction `j` other than from `j - 1` (or, in checked
    /// mode, a block starts there): idioms spanning several instructions must not cross it.
    fn joins(&self, j: usize) -> bool {
        if self.opts.checked {
            self.prog.block_len[j].is_some()
        } else {
            self.prog.targeted[j]
        }
    }

    /// Binds `label` here (a zero-byte instruction carries it, so labels never collide).
    fn bind(&mut self, label: &mut CodeLabel) -> Res {
        self.a.set_label(label)?;
        self.a.zero_bytes()
    }

    /// A label for an out-of-line failure of instruction `index`.
    fn fail_stub(&mut self, kind: u64, index: usize) -> CodeLabel {
        let label = self.a.create_label();
        self.stubs.push(Stub::Fail { label, kind, index });
        label
    }

    /// `dst = value`, in the shortest form. Clobbers flags when `value` is 0.
    fn mov_imm(&mut self, dst: AsmRegister64, value: u64) -> Res {
        let d32 = R32[R64.iter().position(|&r| r == dst).unwrap_or(0)];
        if value == 0 && R64.contains(&dst) {
            self.a.xor(d32, d32)
        } else if let Ok(v) = u32::try_from(value)
            && R64.contains(&dst)
        {
            self.a.mov(d32, v)
        } else if let Ok(v) = i32::try_from(value as i64) {
            let reg: iced_x86::Register = dst.into();
            self.a
                .add_instruction(Instruction::with2(iced_x86::Code::Mov_rm64_imm32, reg, v)?)
        } else {
            self.a.mov(dst, value)
        }
    }

    /// The two entry functions. Both save the callee-saved registers the program uses (and
    /// r12), set up the registers the program reads before writing them, call the BPF main
    /// function and return `(status, R0)` in rax:rdx (status 0 = exit, 1 = error exit).
    /// - general, `fn(ctx)`: every register from `RunCtx::regs`;
    /// - fast, `fn(r1, r2, ctx)`: R1 and R2 arrive in rdi and rsi (their homes), R10 comes
    ///   from the context, every other register starts at 0.
    fn entries(&mut self, main: CodeLabel) -> Result<(CodeLabel, CodeLabel), IcedError> {
        // Only registers read before being written need their initial value.
        let needed: Vec<bool> = (0..11).map(|i| self.needed_at_entry(i)).collect();
        let needed = |i: usize| needed[i];
        let saved = self.saved();
        let mut general = self.a.create_label();
        let mut fast = self.a.create_label();
        let mut start = self.a.create_label();
        let mut pops = self.a.create_label();

        self.bind(&mut general)?;
        for r in &saved {
            self.a.push(*r)?;
        }
        self.a.mov(CTX, rdi)?;
        for (i, r) in R64.iter().enumerate() {
            if needed(i) {
                self.a.mov(*r, ctx(off::REGS + 8 * i as i32))?;
            }
        }
        self.a.jmp(start)?;

        self.bind(&mut fast)?;
        for r in &saved {
            self.a.push(*r)?;
        }
        self.a.mov(CTX, rdx)?;
        for i in (0..11).filter(|&i| needed(i)) {
            match i {
                1 | 2 => {}
                10 => self.a.mov(rbp, ctx(off::REGS + 80))?,
                _ => self.a.xor(R32[i], R32[i])?,
            }
        }

        self.bind(&mut start)?;
        let a = &mut self.a;
        a.mov(ctx(off::ENTRY_RSP), rsp)?;
        if self.opts.checked {
            a.mov(BUDGET, ctx(off::REMAINING))?;
        }
        // BPF code runs with rsp % 16 == 8, as at the start of a function.
        let pad = saved.len().is_multiple_of(2);
        if pad {
            a.sub(rsp, 8)?;
        }
        a.call(main)?;
        if pad {
            a.add(rsp, 8)?;
        }
        if self.opts.checked {
            a.mov(ctx(off::REMAINING), BUDGET)?;
        }
        a.mov(rdx, rax)?;
        a.xor(eax, eax)?;
        a.set_label(&mut pops)?;
        for r in saved.iter().rev() {
            a.pop(*r)?;
        }
        a.ret()?;
        let mut err_exit = self.err_exit;
        self.a.set_label(&mut err_exit)?;
        self.err_exit = err_exit;
        self.a.mov(rsp, ctx(off::ENTRY_RSP))?;
        if self.opts.checked {
            self.a.mov(ctx(off::REMAINING), BUDGET)?;
        }
        // Every program of a set has its own error exit. It continues at the epilogue of
        // whatever entry made the frame: program 0's (also for programs entered by a tail
        // call) or, inside a callback, the callback entry's.
        self.a.mov(ctx(off::ERR_PROG), self.env.program as i32)?;
        self.a.mov(eax, 1u32)?;
        self.a.jmp(ctx(off::EXIT_POPS))?;
        self.pops = pops;
        Ok((general, fast))
    }

    /// The callee-saved host registers the program's code uses, in push order.
    fn saved(&self) -> Vec<AsmRegister64> {
        let used = self.prog.used;
        let own = [(rbp, 10), (rbx, 6), (r13, 7), (r14, 8), (r15, 9)]
            .into_iter()
            .filter(|&(_, b)| used[b])
            .map(|(r, _)| r);
        if self.opts.direct {
            own.collect()
        } else {
            own.chain([r12]).collect()
        }
    }

    /// Whether instruction `i` is needed at entry (read before being written, and mentioned
    /// by the program: liveness is conservative around calls).
    fn needed_at_entry(&self, i: usize) -> bool {
        self.prog.used[i] && self.prog.entry_live & (1 << i) != 0
    }

    /// The entry functions of a direct-entry program (see `CodegenOptions::direct`); the fast
    /// one falls into the program's first instruction, so it must come right before it.
    fn direct_entries(&mut self, main: CodeLabel) -> Result<(CodeLabel, CodeLabel), IcedError> {
        let saved = self.saved();
        let mut general = self.a.create_label();
        let mut fast = self.a.create_label();
        // General: `fn(regs: *const [u64; 11]) -> u64`; rdi (R1's home) is loaded last.
        self.bind(&mut general)?;
        for r in &saved {
            self.a.push(*r)?;
        }
        let needed: Vec<usize> = (0..11).filter(|&i| self.needed_at_entry(i)).collect();
        for &i in needed.iter().rev() {
            self.a.mov(R64[i], qword_ptr(rdi + 8 * i as i32))?;
        }
        self.a.jmp(main)?;
        // Fast: `fn(r1, r2, r10) -> u64`; R10 arrives in rdx, R3's home.
        self.bind(&mut fast)?;
        for r in &saved {
            self.a.push(*r)?;
        }
        if needed.contains(&10) {
            // Before R3's home (rdx) is cleared.
            self.a.mov(rbp, rdx)?;
        }
        for &i in needed.iter().filter(|&&i| !matches!(i, 1 | 2 | 10)) {
            self.a.xor(R32[i], R32[i])?;
        }
        Ok((general, fast))
    }

    /// `exit` of a direct-entry program: the entry's epilogue.
    fn direct_exit(&mut self) -> Res {
        for r in self.saved().iter().rev() {
            self.a.pop(*r)?;
        }
        self.a.ret()
    }

    /// Checked mode: charges the block starting at `index` to the budget.
    /// An entry reached by a transfer (`transfer`) tests the sign: in overdraft it fails; an
    /// entry reached by falling through tests the borrow. `back` is where the block's code
    /// continues.
    fn charge(&mut self, index: usize, len: u32, transfer: bool, back: CodeLabel) -> Res {
        let label = self.a.create_label();
        self.stubs.push(Stub::Budget {
            label,
            index,
            len,
            transfer,
            back,
        });
        self.a.sub(BUDGET, len as i32)?;
        if transfer {
            // Signed: an overdrawn budget is negative (and `sub` + `jl` fuse, `js` would not).
            self.a.jl(label)
        } else {
            self.a.jb(label)
        }
    }

    /// Checked mode: a transfer of control (call, `exit`) fails if the budget is overdrawn.
    pub(super) fn transfer_check(&mut self) -> Res {
        if self.opts.checked {
            self.a.test(BUDGET, BUDGET)?;
            self.a.js(self.over_fail)?;
        }
        Ok(())
    }

    /// Whether control can fall from instruction `i - 1` into `i`.
    fn falls_into(&self, i: usize) -> bool {
        i > 0
            && !matches!(
                self.prog.insns[i - 1],
                Insn::Ja { .. } | Insn::Gotol { .. } | Insn::Exit
            )
    }

    fn body(&mut self) -> Res {
        let n = self.prog.len();
        // Instructions already emitted as part of a group (a recognised idiom).
        let mut covered = 0;
        let (fold, skip) = self.scaled_index_plan();
        self.addr = self.address_plan(&fold);
        for i in 0..=n {
            let block = self.prog.block_len[i].filter(|_| self.opts.checked);
            let jumped_to = i == 0 || self.prog.targeted[i];
            // Where the block's code starts, after its charge.
            let mut back = block.map(|_| self.a.create_label());
            if let (Some(len), Some(back)) = (block, back)
                && jumped_to
                && self.falls_into(i)
            {
                // The entry for falling through, before the one jumps land on.
                self.charge(i, len, false, back)?;
                self.a.jmp(back)?;
            }
            if let Some(&pad) = self.pads.get(i)
                && pad > 0
            {
                self.a.nops_with_size(pad)?;
            }
            let mut label = self.labels[i];
            self.bind(&mut label)?;
            self.labels[i] = label;
            if let (Some(len), Some(back)) = (block, back.as_mut()) {
                self.charge(i, len, jumped_to, *back)?;
                self.bind(back)?;
            }
            if i < covered {
                continue;
            }
            if i == n && self.opts.direct {
                // Unreachable: a direct-entry program does not fall off its end.
                self.a.ud2()?;
            } else if i == n {
                let stub = self.fail_stub(kind::INSN, n);
                self.a.jmp(stub)?;
            } else if skip[i] || self.addr.skip[i] {
                // A shift folded into a later add, or an add into later addresses.
            } else if let (Some((b, k)), Insn::Alu { dst: a, .. }) = (fold[i], self.prog.insns[i]) {
                self.scaled_add(a, b, k)?;
            } else if let Some(rot) = self.rotate_at(i) {
                let spill_dead = self.prog.live_out[i + 3] & (1 << rot.0.index()) == 0;
                self.rotate(rot, spill_dead)?;
                covered = i + 4;
            } else if let Some(n) = self.fused_branch(i)? {
                covered = i + n;
            } else if let Some(idiom) = self.copy_add_at(i) {
                self.copy_add(idiom)?;
                covered = i + 2;
            } else if crate::liveness::pure_dst(&self.prog.insns[i])
                .is_some_and(|d| self.prog.live_out[i] & (1 << d.index()) == 0)
            {
                // Its result is never read.
            } else {
                let insn = self.prog.insns[i];
                self.insn(i, &insn)?;
            }
        }
        Ok(())
    }

    fn insn(&mut self, i: usize, insn: &Insn) -> Res {
        match *insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(width, op, dst, src),
            Insn::Neg { width, dst } => self.neg(width, dst),
            Insn::MovSx {
                width,
                bits,
                dst,
                src,
            } => self.movsx(width, bits, dst, src),
            Insn::Endian { op, bits, dst } => self.endian(op, bits, dst),
            Insn::LdImm64 {
                dst,
                kind: bpfvet_isa::Imm64Kind::Imm,
                imm,
                next_imm,
            } => self.mov_imm(q(dst), Insn::imm64(imm, next_imm)),
            Insn::LdImm64 {
                dst,
                kind: bpfvet_isa::Imm64Kind::Func,
                ..
            } if self.prog.ld_func.contains_key(&i) => {
                let t = self.prog.ld_func[&i] as u64;
                let addr = bpfvet_vm::FUNC_BASE + ((self.env.program as u64) << 32) + 8 * t;
                self.mov_imm(q(dst), addr)
            }
            Insn::LdImm64 { dst, .. } if self.prog.map_refs.contains(&i) => self.ld_map(i, dst),
            Insn::Load {
                size,
                sign,
                dst,
                src,
                off,
            } => self.load(i, size, sign, dst, src, off),
            Insn::Store {
                size,
                dst,
                off,
                imm,
            } => self.store_imm(i, size, dst, off, imm),
            Insn::StoreReg {
                size,
                dst,
                src,
                off,
            } => self.store_reg(i, size, dst, src, off),
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.atomic(i, size, op, dst, src, off),
            Insn::Ja { .. } | Insn::Gotol { .. } => self.jump(i),
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => self.cond_jump(i, width, cond, dst, src),
            Insn::MayGoto { .. } => self.may_goto(i),
            Insn::Call(bpfvet_isa::CallKind::Helper(id)) => self.call_helper(i, id as u32),
            Insn::Call(bpfvet_isa::CallKind::Local(_)) => self.call_local(i),
            Insn::Callx { reg } => self.callx(i, reg),
            Insn::Exit if self.opts.direct => self.direct_exit(),
            Insn::Exit => {
                self.transfer_check()?;
                self.a.ret()
            }
            Insn::LdAbs { size, imm } => self.ld_abs(i, size, None, imm),
            Insn::LdInd { size, src, imm } => self.ld_abs(i, size, Some(src), imm),
            Insn::LdImm64 { .. }
            | Insn::Call(bpfvet_isa::CallKind::Kfunc { .. })
            | Insn::AddrSpaceCast { .. } => {
                let stub = self.fail_stub(kind::INSN, i);
                self.a.jmp(stub)
            }
        }
    }

    /// LD_IMM64 of a map reference: the value from the program's map table, or a failure
    /// when the run's maps do not give one.
    fn ld_map(&mut self, i: usize, dst: Reg) -> Res {
        let slot = self.prog.map_refs.iter().position(|&r| r == i).unwrap_or(0);
        let stub = self.fail_stub(kind::MAP, i);
        self.a.mov(r11, self.env.map_table + 8 * slot as u64)?;
        self.a.mov(q(dst), qword_ptr(r11))?;
        self.a.test(q(dst), q(dst))?;
        self.a.je(stub)
    }

    fn stubs(&mut self) -> Res {
        let stubs = std::mem::take(&mut self.stubs);
        for stub in stubs {
            if let Stub::Tail { mut label } = stub {
                self.bind(&mut label)?;
                self.a.mov(r11, ctx(off::TAIL_TARGET))?;
                self.a.mov(ctx(off::TAIL_TARGET), 0)?;
                self.a.jmp(r11)?;
                continue;
            }
            match stub {
                Stub::Tail { .. } => {}
                Stub::Fail {
                    mut label,
                    kind,
                    index,
                } => {
                    self.bind(&mut label)?;
                    self.a.mov(ctx(off::ERR_KIND), kind as i32)?;
                    self.a.mov(ctx(off::ERR_INDEX), index as i32)?;
                }
                Stub::Budget {
                    mut label,
                    index,
                    len,
                    transfer,
                    back,
                } => {
                    self.bind(&mut label)?;
                    self.a.add(BUDGET, len as i32)?;
                    if transfer {
                        self.a.test(BUDGET, BUDGET)?;
                        self.a.js(self.over_fail)?;
                    }
                    self.a.mov(r11d, index as u32)?;
                    self.a.call(self.over_start)?;
                    self.a.jmp(back)?;
                    continue;
                }
                Stub::Misaligned { mut label, index } => {
                    self.bind(&mut label)?;
                    self.a.mov(ctx(off::ERR_ADDR), r11)?;
                    self.a.mov(ctx(off::ERR_KIND), kind::MISALIGNED as i32)?;
                    self.a.mov(ctx(off::ERR_INDEX), index as i32)?;
                }
            }
            self.a.jmp(self.err_exit)?;
        }
        let mut over_fail = self.over_fail;
        self.bind(&mut over_fail)?;
        self.over_fail = over_fail;
        self.a.mov(ctx(off::ERR_KIND), kind::BUDGET as i32)?;
        self.a.jmp(self.err_exit)?;
        // Starts the overdraft for a block at instruction r11 that the budget left in r9
        // reaches into: that many instructions in is the first beyond the budget.
        let mut over_start = self.over_start;
        self.bind(&mut over_start)?;
        self.over_start = over_start;
        self.a.add(r11, BUDGET)?;
        self.a.mov(ctx(off::OVER_INDEX), r11)?;
        self.a.mov(ctx(off::OVER_PROG), self.env.program as i32)?;
        self.a.mov(BUDGET, OVERDRAFT)?;
        self.a.ret()
    }

    /// Checked mode: the subroutine that checks an access of `size` bytes at the virtual
    /// address in r11 against the live regions and turns r11 into the host address, or takes
    /// the error exit. Clobbers r10 and flags (r9 holds the budget and is left alone).
    fn checker(&mut self, size: u32, write: bool, mut label: CodeLabel) -> Res {
        let e = REGION_ENTRY_SIZE;
        let k = size.trailing_zeros() as i32;
        // Whether the entry r10 points at holds the access; jumps to `miss` if not.
        let fits = |g: &mut Gen, miss: CodeLabel| -> Res {
            g.a.cmp(r11, qword_ptr(r10 + (region_off::LO + 8 * k)))?;
            g.a.jb(miss)?;
            g.a.cmp(r11, qword_ptr(r10 + (region_off::LIM + 8 * k)))?;
            g.a.ja(miss)?;
            if write {
                g.a.cmp(qword_ptr(r10 + region_off::WRITABLE), 0)?;
                g.a.je(miss)?;
            }
            Ok(())
        };
        let mut scan = self.a.create_label();
        let mut scan_loop = self.a.create_label();
        let mut fail = self.a.create_label();
        self.bind(&mut label)?;
        // The region that served the last access first.
        self.a.mov(r10, ctx(off::CACHE))?;
        fits(self, scan)?;
        self.a.add(r11, qword_ptr(r10 + region_off::DELTA))?;
        self.a.ret()?;
        // Then every live region, the innermost stack frame first.
        self.bind(&mut scan)?;
        self.a.mov(r10, ctx(off::LIVE_END))?;
        self.bind(&mut scan_loop)?;
        self.a.sub(r10, e)?;
        self.a.cmp(r10, ctx(off::REGIONS))?;
        self.a.jb(fail)?;
        fits(self, scan_loop)?;
        self.a.mov(ctx(off::CACHE), r10)?;
        self.a.add(r11, qword_ptr(r10 + region_off::DELTA))?;
        self.a.ret()?;
        // Then the packet and the maps, in Rust; it caches what it finds in the table.
        self.bind(&mut fail)?;
        let mut hard = self.a.create_label();
        const SAVED: [AsmRegister64; 8] = [r11, rax, rdi, rsi, rdx, rcx, r8, r9];
        for r in SAVED {
            self.a.push(r)?;
        }
        // Align the stack for the call whatever the caller's alignment.
        self.a.mov(r10, rsp)?;
        self.a.and(rsp, -16)?;
        self.a.push(r10)?;
        self.a.sub(rsp, 8)?;
        self.a.mov(rdi, CTX)?;
        self.a.mov(rsi, r11)?;
        self.a.mov(edx, size)?;
        self.a.mov(ecx, write as u32)?;
        self.a.mov(rax, self.env.resolve)?;
        self.a.call(rax)?;
        self.a.add(rsp, 8)?;
        self.a.pop(rsp)?;
        self.a.mov(r10, rax)?;
        for r in SAVED.iter().rev() {
            self.a.pop(*r)?;
        }
        self.a.test(r10, r10)?;
        self.a.je(hard)?;
        self.a.mov(r11, r10)?;
        self.a.ret()?;
        self.bind(&mut hard)?;
        self.a.mov(ctx(off::ERR_ADDR), r11)?;
        self.a.pop(r10)?;
        self.a.mov(ctx(off::ERR_RET), r10)?;
        self.a.mov(ctx(off::ERR_KIND), kind::MEMORY as i32)?;
        self.a.jmp(self.err_exit)
    }

    fn checkers(&mut self) -> Res {
        for (log, row) in self.checkers.into_iter().enumerate() {
            for (write, label) in row.into_iter().enumerate() {
                if let Some(label) = label {
                    self.checker(1 << log, write == 1, label)?;
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<MachineCode, IcedError> {
        let main = self.labels[0];
        let (entry, fast_entry) = if self.opts.direct {
            self.direct_entries(main)?
        } else {
            self.entries(main)?
        };
        self.body()?;
        if self.opts.direct {
            // Nothing takes the error exit; keep the labels bound.
            let (mut err_exit, mut pops) = (self.err_exit, self.pops);
            self.bind(&mut err_exit)?;
            self.bind(&mut pops)?;
            self.a.ud2()?;
            (self.err_exit, self.pops) = (err_exit, pops);
        }
        let callback_entry = if self.opts.direct {
            None
        } else {
            Some(self.callback_entry()?)
        };
        let mut ool = self.a.create_label();
        self.bind(&mut ool)?;
        self.stubs()?;
        self.checkers()?;
        let result = self
            .a
            .assemble_options(0, BlockEncoderOptions::RETURN_NEW_INSTRUCTION_OFFSETS)?;
        let at = |l: &CodeLabel| result.label_ip(l).map(|ip| ip as usize);
        let insn_offsets = self.labels.iter().map(at).collect::<Result<Vec<_>, _>>()?;
        let mut check_sites = self
            .check_sites
            .iter()
            .map(|(l, i)| at(l).map(|o| (o, *i)))
            .collect::<Result<Vec<_>, _>>()?;
        check_sites.sort_unstable();
        Ok(MachineCode {
            entry: at(&entry)?,
            fast_entry: at(&fast_entry)?,
            out_of_line: at(&ool)?,
            exit_pops: at(&self.pops)?,
            direct: self.opts.direct,
            callback_entry: match &callback_entry {
                Some(l) => at(l)?,
                None => 0,
            },
            insn_offsets,
            check_sites,
            bytes: result.inner.code_buffer,
        })
    }
}

impl Backend for X64 {
    const NAME: &'static str = "x86-64";

    fn compile(
        prog: &Lowered,
        opts: &CodegenOptions,
        env: &CodeEnv,
    ) -> Result<MachineCode, JitError> {
        let codegen = |e: IcedError| JitError::Codegen(e.to_string());
        let run = |pads: Vec<usize>| {
            Gen::new(prog, *opts, *env, pads)
                .and_then(Gen::finish)
                .map_err(codegen)
        };
        // Loop heads (targets of backward jumps) start on a 64-byte boundary, as compilers
        // align loops: without it the speed of a loop varies with where it happens to land.
        // The padding moves later code, and branches may change size, so adjust a few times.
        let mut heads: Vec<usize> = (0..prog.len())
            .filter_map(|j| prog.targets[j].filter(|&t| t <= j))
            .collect();
        heads.sort_unstable();
        heads.dedup();
        let mut pads = vec![0; prog.len() + 1];
        let mut code = run(pads.clone())?;
        for _ in 0..3 {
            if heads
                .iter()
                .all(|&h| code.insn_offsets[h] % LOOP_ALIGN == 0)
            {
                break;
            }
            for &h in &heads {
                let misalign = code.insn_offsets[h] % LOOP_ALIGN;
                pads[h] = (pads[h] + LOOP_ALIGN - misalign) % LOOP_ALIGN;
            }
            code = run(pads.clone())?;
        }
        Ok(code)
    }

    fn disassemble(code: &[u8], ip: u64) -> Vec<AsmLine> {
        let mut decoder = Decoder::with_ip(64, code, ip, DecoderOptions::NONE);
        let mut formatter = IntelFormatter::new();
        formatter.options_mut().set_first_operand_char_index(8);
        formatter
            .options_mut()
            .set_space_after_operand_separator(true);
        let mut out = Vec::new();
        let mut insn = Instruction::default();
        while decoder.can_decode() {
            decoder.decode_out(&mut insn);
            let mut text = String::new();
            formatter.format(&insn, &mut text);
            let start = (insn.ip() - ip) as usize;
            out.push(AsmLine {
                offset: start,
                bytes: code[start..start + insn.len()].to_vec(),
                text,
            });
        }
        out
    }
}
