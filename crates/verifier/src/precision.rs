//! Precision tracking (the kernel's `mark_chain_precision`). A scalar needs its exact range
//! only where it decides something: a branch whose outcome is known, pointer arithmetic, a
//! helper's size or constant argument, a return value. There the verifier walks the path
//! backwards through the instructions executed since each checkpoint (the history every
//! state carries) and marks, in each checkpoint, the registers and stack slots that value
//! came from. Pruning then treats an unmarked scalar of a finished checkpoint as matching any
//! scalar: no continuation of that checkpoint looked at its value.
//!
//! Whatever the walk cannot follow exactly (calls and exits between frames, linked scalars,
//! LD_ABS, atomics into a tracked register) falls back to marking every scalar of the path
//! precise, which is always sound.

use bpfvet_isa::insn::{AluOp, AtomicOp, CallKind, Insn, Src};

use crate::explore::Verifier;
use crate::prog::Code;
use crate::state::State;

/// One executed instruction in a state's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hist {
    pub pc: u32,
    /// A load or store at a constant stack offset: (frame number, slot index).
    pub stack: Option<(u8, u8)>,
    /// The instruction moved between frames (call into a function or callback, exit).
    pub frame: FrameMove,
    /// A branch that refined scalars linked to its operands by id: those scalars.
    pub linked: Option<Box<Linked>>,
}

/// How an instruction moved between frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameMove {
    None,
    /// A call into a static function: a new frame with R1-R5 from the caller.
    Enter,
    /// A helper entered its callback: a new frame with R1-R5 set by the helper.
    EnterCallback,
    /// `exit` from a static function: R0 goes to the caller.
    Leave,
    /// `exit` from a callback: back to the helper's call, the caller's registers untouched.
    LeaveCallback,
}

/// Scalars sharing an id with a branch's operands, in the branch's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linked {
    pub regs: u16,
    pub slots: u64,
    /// Some linked scalar lives in another frame (not followed: the walk falls back).
    pub other_frames: bool,
}

/// The scalars of `st` that share a (non-zero) id with `a` or `b`.
pub fn linked_set(st: &State, a: u32, b: u32) -> Linked {
    let hit = |r: &crate::reg::RegState| r.is_scalar() && r.id != 0 && (r.id == a || r.id == b);
    let cur = st.frameno();
    let mut l = Linked {
        regs: 0,
        slots: 0,
        other_frames: false,
    };
    for (fi, f) in st.frames.iter().enumerate() {
        for (i, r) in f.regs.iter().enumerate() {
            if hit(r) {
                if fi == cur {
                    l.regs |= 1 << i;
                } else {
                    l.other_frames = true;
                }
            }
        }
        for (spi, sl) in f.stack.slots.iter().enumerate() {
            if sl.is_spill() && hit(&sl.spilled) {
                if fi == cur && spi < 64 {
                    l.slots |= 1 << spi;
                } else {
                    l.other_frames = true;
                }
            }
        }
    }
    l
}

/// History entries kept per state; a longer stretch without a checkpoint (a loop whose
/// checkpoints are capped) is forgotten and backtracking through it falls back to marking
/// everything precise, so its cost stays linear.
pub const HIST_MAX: usize = 1024;

/// Registers and stack slots whose values are needed, per frame.
#[derive(Clone, Debug, Default)]
pub struct Masks {
    pub regs: [u16; 8],
    pub slots: [u64; 8],
}

impl Masks {
    pub fn is_empty(&self) -> bool {
        self.regs.iter().all(|r| *r == 0) && self.slots.iter().all(|s| *s == 0)
    }
}

/// The walk met something it cannot follow exactly.
pub struct Fallback;

/// Steps `masks` back over the instruction in `h` (`backtrack_insn`).
fn backtrack_insn(code: &Code, h: &Hist, fr: &mut usize, m: &mut Masks) -> Result<(), Fallback> {
    const ARGS: u16 = 0b11_1110;
    match h.frame {
        FrameMove::None => {}
        FrameMove::Leave | FrameMove::LeaveCallback => {
            // Backwards over `exit`: from the caller's frame into the callee's.
            let caller = *fr;
            if caller + 1 >= 8 {
                return Err(Fallback);
            }
            if h.frame == FrameMove::Leave {
                // R1-R5 are clobbered by the call; R0 is the callee's.
                if m.regs[caller] & ARGS != 0 {
                    return Err(Fallback);
                }
                if m.regs[caller] & 1 != 0 {
                    m.regs[caller] &= !1;
                    m.regs[caller + 1] |= 1;
                }
            }
            *fr = caller + 1;
            return Ok(());
        }
        FrameMove::Enter | FrameMove::EnterCallback => {
            // Backwards over the call: from the callee's frame into the caller's. Only the
            // arguments can be needed at the callee's entry.
            let callee = *fr;
            if callee == 0 || callee >= 8 {
                return Err(Fallback);
            }
            if m.regs[callee] & !ARGS != 0 || m.slots[callee] != 0 {
                return Err(Fallback);
            }
            if h.frame == FrameMove::Enter {
                m.regs[callee - 1] |= m.regs[callee];
            }
            // A callback's arguments come from the helper.
            m.regs[callee] = 0;
            *fr = callee - 1;
            return Ok(());
        }
    }
    let fr = *fr;
    if let Some(l) = &h.linked {
        // A refinement of linked scalars: if any of them is needed, all are (each one's
        // new range came from the others').
        if fr >= 8 {
            return Err(Fallback);
        }
        let l = &**l;
        if m.regs[fr] & l.regs != 0 || m.slots[fr] & l.slots != 0 {
            if l.other_frames {
                return Err(Fallback);
            }
            m.regs[fr] |= l.regs;
            m.slots[fr] |= l.slots;
        }
    }
    let Some(insn) = code.insn(h.pc as usize) else {
        return Err(Fallback);
    };
    let bit = |r: u8| 1u16 << r;
    let regs = &mut m.regs[fr];
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            if *regs & bit(dst.index()) == 0 {
                return Ok(());
            }
            match (op, src) {
                (AluOp::Mov, Src::Reg(s)) => {
                    *regs &= !bit(dst.index());
                    *regs |= bit(s.index());
                }
                (AluOp::Mov, Src::Imm(_)) => *regs &= !bit(dst.index()),
                (_, Src::Reg(s)) => *regs |= bit(s.index()),
                (_, Src::Imm(_)) => {}
            }
        }
        Insn::MovSx { dst, src, .. } | Insn::AddrSpaceCast { dst, src, .. } => {
            if *regs & bit(dst.index()) != 0 {
                *regs &= !bit(dst.index());
                *regs |= bit(src.index());
            }
        }
        Insn::Neg { .. } | Insn::Endian { .. } => {}
        Insn::LdImm64 { dst, .. } => *regs &= !bit(dst.index()),
        Insn::Load { dst, .. } => {
            if *regs & bit(dst.index()) == 0 {
                return Ok(());
            }
            *regs &= !bit(dst.index());
            if let Some((f, spi)) = h.stack {
                let f = f as usize;
                if f >= 8 || spi >= 64 {
                    return Err(Fallback);
                }
                m.slots[f] |= 1 << spi;
            }
        }
        Insn::StoreReg { src, .. } => {
            if let Some((f, spi)) = h.stack {
                let f = f as usize;
                if f >= 8 || spi >= 64 {
                    return Err(Fallback);
                }
                if m.slots[f] & (1 << spi) != 0 {
                    m.slots[f] &= !(1 << spi);
                    m.regs[fr] |= bit(src.index());
                }
            }
        }
        Insn::Store { .. } => {
            if let Some((f, spi)) = h.stack
                && (f as usize) < 8
                && spi < 64
            {
                m.slots[f as usize] &= !(1 << spi);
            }
        }
        Insn::Atomic { op, src, .. } => {
            // A fetch writes the old memory value into a register; following it into memory
            // is not modelled.
            let written = if op == AtomicOp::Cmpxchg {
                bit(0)
            } else if op.fetches() {
                bit(src.index())
            } else {
                0
            };
            if *regs & written != 0
                || h.stack
                    .is_some_and(|(f, s)| m.slots[f as usize % 8] & (1u64 << (s % 64)) != 0)
            {
                return Err(Fallback);
            }
        }
        Insn::Jmp { dst, src, .. } => {
            if let Src::Reg(s) = src
                && *regs & (bit(dst.index()) | bit(s.index())) != 0
            {
                *regs |= bit(dst.index()) | bit(s.index());
            }
        }
        Insn::Call(CallKind::Helper(_)) | Insn::Call(CallKind::Kfunc { .. }) => {
            if *regs & 0x3e != 0 {
                return Err(Fallback);
            }
            *regs &= !1;
        }
        Insn::Call(CallKind::Local(_)) => {
            // A global function (verified on its own): R0 is new, R1-R5 clobbered.
            if *regs & ARGS != 0 {
                return Err(Fallback);
            }
            *regs &= !1;
        }
        Insn::Callx { .. } => return Err(Fallback),
        Insn::Ja { .. } | Insn::Gotol { .. } | Insn::MayGoto { .. } | Insn::Exit => {}
        Insn::LdAbs { .. } | Insn::LdInd { .. } => {
            if *regs != 0 {
                return Err(Fallback);
            }
        }
    }
    Ok(())
}

/// Marks the masked registers and slots of `st` precise; clears from `m` what is not a
/// scalar there or was precise already (its history was marked before).
fn mark_state(st: &mut State, m: &mut Masks) -> u64 {
    let mut added = 0;
    for (fi, f) in st.frames.iter_mut().enumerate().take(8) {
        for r in 0..11u8 {
            if m.regs[fi] & (1 << r) == 0 {
                continue;
            }
            let reg = &mut f.regs[r as usize];
            if !reg.is_scalar() || reg.precise {
                m.regs[fi] &= !(1 << r);
            } else {
                reg.precise = true;
                added += 1;
            }
        }
        for spi in 0..64usize {
            if m.slots[fi] & (1 << spi) == 0 {
                continue;
            }
            match f.stack.slots.get_mut(spi) {
                Some(s) if s.is_spill() && s.spilled.is_scalar() && !s.spilled.precise => {
                    s.spilled.precise = true;
                    added += 1;
                }
                _ => m.slots[fi] &= !(1 << spi),
            }
        }
    }
    added
}

/// Every scalar of `st` precise.
pub fn mark_all(st: &mut State) {
    st.for_each_reg(|r| {
        if r.is_scalar() {
            r.precise = true;
        }
    });
}

impl Verifier<'_> {
    /// `mark_chain_precision` for register `regno` of the current frame.
    pub fn mark_precise(&mut self, st: &mut State, parent: Option<usize>, regno: u8) {
        if !st.reg(regno).is_scalar() {
            return;
        }
        let mut m = Masks::default();
        let fr = st.frameno();
        if fr >= 8 {
            return;
        }
        m.regs[fr] = 1 << regno;
        self.backtrack(st, parent, m);
    }

    /// `mark_chain_precision` for a stack slot of frame `frame`.
    pub fn mark_slot_precise(
        &mut self,
        st: &mut State,
        parent: Option<usize>,
        frame: usize,
        spi: usize,
    ) {
        if frame >= 8 || spi >= 64 {
            return;
        }
        let mut m = Masks::default();
        m.slots[frame] = 1 << spi;
        self.backtrack(st, parent, m);
    }

    /// Walks back from the current state through its checkpoints, marking what `m` needs.
    pub fn backtrack(&mut self, st: &mut State, parent: Option<usize>, mut m: Masks) {
        let mut fr = st.frameno();
        let code = self.code;
        if st.hist_overflow {
            self.mark_all_chain(st, parent);
            return;
        }
        // The current state's own history, newest first; `fr` follows the frame each
        // instruction ran in.
        for h in st.hist.iter().rev() {
            if m.is_empty() {
                return;
            }
            if backtrack_insn(code, h, &mut fr, &mut m).is_err() {
                self.mark_all_chain(st, parent);
                return;
            }
        }
        let mut p = parent;
        while let Some(id) = p {
            if m.is_empty() {
                return;
            }
            let Some(cp) = self.checkpoints.state_mut(id) else {
                self.mark_all_chain(st, parent);
                return;
            };
            if cp.frameno() != fr || cp.hist_overflow {
                self.mark_all_chain(st, parent);
                return;
            }
            self.marks_added += mark_state(cp, &mut m);
            if m.is_empty() {
                return;
            }
            let hist = cp.hist.clone();
            for h in hist.iter().rev() {
                if m.is_empty() {
                    return;
                }
                if backtrack_insn(code, h, &mut fr, &mut m).is_err() {
                    self.mark_all_chain(st, parent);
                    return;
                }
            }
            p = self.checkpoints.parent_of(id);
        }
    }

    /// The fallback: every scalar of the current state and of every checkpoint it descends
    /// from is precise.
    pub fn mark_all_chain(&mut self, st: &mut State, parent: Option<usize>) {
        mark_all(st);
        if self.checkpoints.mark_all_up(parent) {
            self.marks_added += 1;
        }
    }

    /// `propagate_precision`: `cur` was pruned against checkpoint state `old`; what `old`'s
    /// continuations needed precise, `cur`'s ancestors need too.
    pub fn propagate_precision(&mut self, old: &State, cur: &mut State, parent: Option<usize>) {
        let mut m = Masks::default();
        for (fi, f) in old.frames.iter().enumerate().take(8) {
            for (r, reg) in f.regs.iter().enumerate() {
                if reg.is_scalar() && reg.precise {
                    m.regs[fi] |= 1 << r;
                }
            }
            for (spi, s) in f.stack.slots.iter().enumerate().take(64) {
                if s.is_spill() && s.spilled.is_scalar() && s.spilled.precise {
                    m.slots[fi] |= 1 << spi;
                }
            }
        }
        if !m.is_empty() {
            self.backtrack(cur, parent, m);
        }
    }
}
