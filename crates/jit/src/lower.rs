//! Target-independent analysis a backend needs before emitting code: the jump and call target
//! of every instruction (as instruction indices), which instructions start a straight-line
//! block (and how long each block is, for the instruction budget of checked mode), and the
//! static helper ids the program calls, each given a slot in the helper table.
//!
//! The program is validated first with [`bpfvet_vm::Vm::new`], so the JIT accepts exactly the
//! programs the interpreter accepts and fails with the same errors.

use std::collections::BTreeMap;

use bpfvet_isa::{CallKind, Imm64Kind, Insn, Program};
use bpfvet_vm::{Vm, VmError};

/// Blocks longer than this are split, so a block length always fits an `imm32`.
const MAX_BLOCK: usize = 1 << 16;

/// `bpf_tail_call`.
pub const TAIL_CALL_ID: u32 = 12;

/// A program ready for a backend.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The instructions, in order.
    pub insns: Vec<Insn>,
    /// Slot address of each instruction, plus one entry for the end of the program
    /// (`pcs[insns.len()]` = number of slots), as the interpreter numbers them.
    pub pcs: Vec<usize>,
    /// Jump or call target of each instruction (an instruction index), if it has one.
    pub targets: Vec<Option<usize>>,
    /// For each instruction that starts a block: the number of instructions in the block.
    /// Index `insns.len()` stands for "control ran off the end", which counts as an
    /// instruction in the interpreter's budget and so belongs to the last block.
    pub block_len: Vec<Option<u32>>,
    /// Whether each instruction is the target of a jump or call (index `len` never is).
    pub targeted: Vec<bool>,
    /// Static helper ids the program calls, in slot order.
    pub helper_ids: Vec<u32>,
    /// Slot of each static helper id.
    pub helper_slot: BTreeMap<u32, usize>,
    /// Registers the program may read or write (R0 always; R1–R5 when it calls helpers, which
    /// read them; R10 when it makes bpf-to-bpf calls, which move it). Code for the others need
    /// not set them up.
    pub used: [bool; 11],
    /// Registers live after each instruction (see `liveness.rs`).
    pub live_out: Vec<crate::liveness::RegSet>,
    /// Registers the program may read before writing them: the only ones the entry code
    /// needs to load.
    pub entry_live: crate::liveness::RegSet,
    /// Whether some call may be a tail call (helper 12 or `callx`).
    pub tail_sites: bool,
    /// Whether the program makes bpf-to-bpf calls.
    pub local_calls: bool,
    /// The LD_IMM64 instructions of map references, in slot order (each has a slot in the
    /// program's map table, filled for each run from the run's maps).
    pub map_refs: Vec<usize>,
    /// LD_IMM64 of a function address: instruction index → the function's first instruction.
    pub ld_func: BTreeMap<usize, usize>,
    /// Whether the program needs nothing from the run context when it runs unchecked: no
    /// calls of any kind, no `may_goto`, no map references, and nothing that can fail (no
    /// instruction that always fails; control never runs off the end). Its unchecked code
    /// can then be entered directly and return R0.
    pub self_contained: bool,
}

impl Lowered {
    /// Number of instructions (LD_IMM64 counts once).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// True for a program without instructions.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
}

/// True if the instruction may fail at run time in checked mode (a memory access, or an
/// instruction that always fails), so the budget accounting must end its block there.
fn may_fault(insn: &Insn) -> bool {
    match insn {
        Insn::Load { .. }
        | Insn::Store { .. }
        | Insn::StoreReg { .. }
        | Insn::Atomic { .. }
        | Insn::LdAbs { .. }
        | Insn::LdInd { .. }
        | Insn::AddrSpaceCast { .. } => true,
        Insn::LdImm64 { kind, .. } => *kind != Imm64Kind::Imm,
        Insn::Call(CallKind::Kfunc { .. }) => true,
        _ => false,
    }
}

/// True if control never simply falls through to the next instruction after `insn` without
/// the interpreter charging the budget (jumps, calls, exit, `may_goto`).
fn ends_block(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Ja { .. }
            | Insn::Gotol { .. }
            | Insn::Jmp { .. }
            | Insn::Call(_)
            | Insn::Callx { .. }
            | Insn::MayGoto { .. }
            | Insn::Exit
    )
}

/// See [`Lowered::self_contained`].
fn self_contained(insns: &[Insn]) -> bool {
    let fine = |insn: &Insn| match insn {
        Insn::LdImm64 { kind, .. } => matches!(kind, Imm64Kind::Imm | Imm64Kind::Func),
        Insn::Call(_)
        | Insn::Callx { .. }
        | Insn::MayGoto { .. }
        | Insn::LdAbs { .. }
        | Insn::LdInd { .. }
        | Insn::AddrSpaceCast { .. } => false,
        _ => true,
    };
    let ends = matches!(
        insns.last(),
        Some(Insn::Exit | Insn::Ja { .. } | Insn::Gotol { .. })
    );
    ends && insns.iter().all(fine)
}

/// The registers `insns` mention, see [`Lowered::used`].
fn used_registers(insns: &[Insn]) -> [bool; 11] {
    use bpfvet_isa::Src;
    let mut used = [false; 11];
    used[0] = true;
    let mut mark = |r: bpfvet_isa::Reg| used[r.index() as usize] = true;
    let mut helpers = false;
    let mut calls = false;
    let mut tail = false;
    for insn in insns {
        match *insn {
            Insn::Alu { dst, src, .. } | Insn::Jmp { dst, src, .. } => {
                mark(dst);
                if let Src::Reg(s) = src {
                    mark(s);
                }
            }
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } | Insn::LdImm64 { dst, .. } => {
                mark(dst)
            }
            Insn::Store { dst, .. } => mark(dst),
            Insn::MovSx { dst, src, .. }
            | Insn::AddrSpaceCast { dst, src, .. }
            | Insn::Load { dst, src, .. }
            | Insn::StoreReg { dst, src, .. }
            | Insn::Atomic { dst, src, .. } => {
                mark(dst);
                mark(src);
            }
            Insn::LdInd { src, .. } => mark(src),
            Insn::Callx { .. } => tail = true,
            Insn::Call(CallKind::Helper(id)) if id as u32 == TAIL_CALL_ID => tail = true,
            Insn::Call(CallKind::Local(_)) => calls = true,
            Insn::Call(_) => helpers = true,
            Insn::Ja { .. }
            | Insn::Gotol { .. }
            | Insn::MayGoto { .. }
            | Insn::Exit
            | Insn::LdAbs { .. } => {}
        }
    }
    if helpers {
        used[1..=5].fill(true);
    }
    if calls {
        used[10] = true;
    }
    if tail {
        // The next program may use any register.
        used.fill(true);
    }
    used
}

/// Validates `prog` as the interpreter does and analyses it. With `args_at_exit`, liveness
/// takes `exit` to read R0–R5 even without bpf-to-bpf calls in `prog` (needed when another
/// program of the set makes tail calls from a function it called: this program's `exit` then
/// returns to that caller).
pub fn lower(prog: &Program, args_at_exit: bool) -> Result<Lowered, VmError> {
    Vm::new(prog)?;
    let insns: Vec<Insn> = prog.insns().to_vec();
    let n = insns.len();
    let mut pcs: Vec<usize> = (0..n).map(|i| prog.pc_of(i)).collect();
    pcs.push(prog.slot_count());

    let mut targets = Vec::with_capacity(n);
    let mut leader = vec![false; n + 1];
    leader[0] = true;
    let mut targeted = vec![false; n + 1];
    let mut helper_slot = BTreeMap::new();
    let mut helper_ids = Vec::new();
    let mut map_refs = Vec::new();
    let mut ld_func = BTreeMap::new();
    for (i, insn) in insns.iter().enumerate() {
        let target = insn.branch_offset().and_then(|off| {
            let t = pcs[i] as i64 + 1 + off;
            usize::try_from(t).ok().and_then(|t| prog.index_of(t))
        });
        // LD_IMM64 of a function address has a target but is not a jump.
        let target = match insn {
            Insn::LdImm64 { kind, .. } => {
                match kind {
                    Imm64Kind::Func => {
                        if let Some(t) = target {
                            ld_func.insert(i, t);
                        }
                    }
                    Imm64Kind::MapFd
                    | Imm64Kind::MapIdx
                    | Imm64Kind::MapValue
                    | Imm64Kind::MapIdxValue => map_refs.push(i),
                    Imm64Kind::Imm | Imm64Kind::BtfId => {}
                }
                None
            }
            _ => target,
        };
        if let Some(t) = target {
            leader[t] = true;
            targeted[t] = true;
        }
        if ends_block(insn) || may_fault(insn) {
            leader[i + 1] = true;
        }
        if let Insn::Call(CallKind::Helper(id)) = insn {
            let id = *id as u32;
            helper_slot.entry(id).or_insert_with(|| {
                helper_ids.push(id);
                helper_ids.len() - 1
            });
        }
        targets.push(target);
    }
    let mut block_len = vec![None; n + 1];
    let mut start = 0;
    for (i, &lead) in leader.iter().enumerate().skip(1).chain([(n + 1, &true)]) {
        if lead || i - start >= MAX_BLOCK {
            block_len[start] = Some((i - start) as u32);
            start = i;
        }
    }
    let used = used_registers(&insns);
    let (live_out, entry_live) = crate::liveness::live_out(&insns, &targets, args_at_exit);
    let tail_sites = insns.iter().any(|i| match i {
        Insn::Callx { .. } => true,
        Insn::Call(CallKind::Helper(id)) => *id as u32 == TAIL_CALL_ID,
        _ => false,
    });
    let local_calls = insns
        .iter()
        .any(|i| matches!(i, Insn::Call(CallKind::Local(_))));
    Ok(Lowered {
        self_contained: self_contained(&insns),
        tail_sites,
        local_calls,
        map_refs,
        ld_func,
        used,
        live_out,
        entry_live,
        targeted,
        insns,
        pcs,
        targets,
        block_len,
        helper_ids,
        helper_slot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfvet_isa::{Dialect, asm};

    fn low(text: &str) -> Lowered {
        lower(
            &Program::from_insns(asm::assemble(text, Dialect::Ubpf).unwrap()),
            false,
        )
        .unwrap()
    }

    #[test]
    fn blocks_cover_every_instruction_once() {
        let l = low("mov %r0, 0\njeq %r1, 0, +2\nadd %r0, 1\ncall 7\nldxb %r2, [%r1]\nexit");
        // Blocks: [0,1] [2,3] [4] [5] [end].
        let lens: Vec<_> = l.block_len.iter().map(|b| b.unwrap_or(0)).collect();
        assert_eq!(lens, vec![2, 0, 2, 0, 1, 1, 1]);
        assert_eq!(lens.iter().sum::<u32>() as usize, l.len() + 1);
        assert_eq!(l.targets[1], Some(4));
        assert_eq!(l.helper_ids, vec![7]);
    }

    #[test]
    fn rejects_what_the_interpreter_rejects() {
        let bad = Program::from_insns(asm::assemble("mov %r10, 1\nexit", Dialect::Ubpf).unwrap());
        assert!(matches!(
            lower(&bad, false),
            Err(VmError::FramePointerWrite { pc: 0 })
        ));
    }
}
