//! The abstract state at one program point: the call frames (registers and stack of each) and
//! the bookkeeping that travels with a path (acquired references, id counter).

use crate::reg::{RegState, RegType};
use crate::stack::Stack;

/// `MAX_CALL_FRAMES`.
pub const MAX_CALL_FRAMES: usize = 8;

/// One call frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub regs: [RegState; 11],
    pub stack: Stack,
    /// The call instruction that created this frame (`None` for the main program).
    pub callsite: Option<usize>,
    pub frameno: u8,
    /// Index of the subprogram this frame runs.
    pub subprog: usize,
    /// For callbacks: the range R0 must be in at exit.
    pub callback_ret: Option<(i64, i64)>,
    /// `bpf_loop` iterations simulated in this callback frame.
    pub callback_depth: u32,
    /// Stack liveness, one bit per 8-byte slot: slots wholly written since the state's
    /// last checkpoint (a later read does not depend on older values)...
    pub written: u64,
    /// ... and, in a checkpoint, slots some continuation read before writing them. Pruning
    /// against a finished checkpoint ignores the slots it never read.
    pub read: u64,
}

impl Frame {
    /// A fresh frame: R10 = its frame pointer, everything else not initialised.
    pub fn new(frameno: u8, subprog: usize, callsite: Option<usize>) -> Frame {
        let mut regs = [RegState::not_init(); 11];
        regs[10] = RegState::frame_pointer(frameno);
        Frame {
            regs,
            stack: Stack::default(),
            callsite,
            frameno,
            subprog,
            callback_ret: None,
            callback_depth: 0,
            written: 0,
            read: 0,
        }
    }
}

/// An acquired reference (socket, ring buffer reservation, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    pub id: u32,
    /// The instruction that acquired it.
    pub insn: usize,
    /// The callback frame that acquired it (0 outside callbacks): a callback must release
    /// what it acquired before it returns.
    pub cb_frame: u8,
}

/// The whole state of one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub frames: Vec<Frame>,
    pub refs: Vec<Reference>,
    /// Next id to hand out (ids are per path, as the kernel's `id_gen` is per verification but
    /// only compared through id maps).
    pub next_id: u32,
    /// `may_goto` nesting depth on this path.
    pub may_goto_depth: u32,
    /// Callback bodies entered on this path (`callback_unroll_depth`): two visits of one
    /// instruction in different callback iterations are not an infinite loop.
    pub callback_unroll_depth: u32,
    /// Instructions executed since the last checkpoint (for precision backtracking).
    pub hist: Vec<crate::precision::Hist>,
    /// The history since the last checkpoint outgrew [`crate::precision::HIST_MAX`].
    pub hist_overflow: bool,
}

impl State {
    /// Appends one executed instruction to the history (or notes that it overflowed).
    pub fn record(&mut self, h: crate::precision::Hist) {
        if self.hist.len() >= crate::precision::HIST_MAX {
            self.hist = Vec::new();
            self.hist_overflow = true;
        }
        if !self.hist_overflow {
            self.hist.push(h);
        }
    }

    /// The entry state of the main program: R1 = ctx, R10 = fp.
    pub fn entry() -> State {
        let mut f = Frame::new(0, 0, None);
        f.regs[1] = RegState::pointer(RegType::Ctx);
        State {
            frames: vec![f],
            refs: Vec::new(),
            next_id: 1,
            may_goto_depth: 0,
            callback_unroll_depth: 0,
            hist: Vec::new(),
            hist_overflow: false,
        }
    }

    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("at least one frame")
    }

    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("at least one frame")
    }

    pub fn frameno(&self) -> usize {
        self.frames.len() - 1
    }

    pub fn reg(&self, r: u8) -> &RegState {
        &self.cur().regs[r as usize]
    }

    pub fn reg_mut(&mut self, r: u8) -> &mut RegState {
        &mut self.cur_mut().regs[r as usize]
    }

    pub fn new_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Applies `f` to every register and spilled register of every frame.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut RegState)) {
        for fr in &mut self.frames {
            for r in &mut fr.regs {
                f(r);
            }
            for s in &mut fr.stack.slots {
                if s.is_spill() {
                    f(&mut s.spilled);
                }
            }
        }
    }
}
