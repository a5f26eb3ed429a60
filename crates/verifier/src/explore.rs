//! The exploration loop (the kernel's `do_check`): walk the program depth first from the
//! entry state, one instruction at a time, pushing the other outcome of every undecided branch
//! on a stack of pending paths; at prune points, store checkpoints and end a path whose state
//! is included in a fully explored checkpoint at the same instruction. Also enforces the
//! complexity limits and detects infinite loops.

use std::time::Instant;

use crate::cfg::{self, Cfg};
use crate::env::VerifyEnv;
use crate::error::{Errno, VerifyError};
use crate::log::Log;
use crate::prog::{Code, Slot};
use crate::prune::{self, Checkpoints};
use crate::state::State;

/// Figures the kernel prints in its last log line, plus our timing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub processed_insns: u64,
    pub total_states: u64,
    pub peak_states: u64,
    pub max_states_per_insn: u64,
    pub mark_read: u64,
    pub time_us: u64,
    /// Deepest stack used by the main program (bytes).
    pub stack_depth: i64,
}

/// The verdict on a program.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub result: Result<(), VerifyError>,
    pub log: String,
    pub stats: Stats,
    /// Per slot: reached by the analysis (the kernel's `seen`; the rest is dead code).
    pub seen: Vec<bool>,
}

/// History entries after which the next prune point stores a checkpoint.
const LONG_HIST: usize = 256;
impl Outcome {
    pub fn accepted(&self) -> bool {
        self.result.is_ok()
    }
}

/// What an instruction does to control flow.
pub enum Next {
    /// Continue at this instruction.
    Goto(usize),
    /// Both outcomes possible: continue at `fall`, push `other` (with its own state).
    Branch {
        fall: usize,
        other: usize,
        other_state: Box<State>,
    },
    /// A callback returned: continue at its call instruction (`pc`), which schedules the
    /// next iteration; imprecise scalars are first widened against the iteration's
    /// checkpoint there so the loop converges.
    CallbackReturn(usize),
    /// The path ended (exit from the main frame).
    Done,
}

fn is_jmp_class(code: &Code, pc: usize) -> bool {
    match code.slots.get(pc) {
        Some(Slot::Insn(i)) => matches!(
            i,
            bpfvet_isa::insn::Insn::Ja { .. }
                | bpfvet_isa::insn::Insn::Gotol { .. }
                | bpfvet_isa::insn::Insn::Jmp { .. }
                | bpfvet_isa::insn::Insn::Call(_)
                | bpfvet_isa::insn::Insn::Callx { .. }
                | bpfvet_isa::insn::Insn::MayGoto { .. }
                | bpfvet_isa::insn::Insn::Exit
        ),
        _ => false,
    }
}

/// A path waiting to be explored.
struct Pending {
    state: State,
    pc: usize,
    from: usize,
    parent: Option<usize>,
    log_mark: usize,
}

/// The verifier of one program.
pub struct Verifier<'a> {
    pub code: &'a Code,
    pub env: &'a VerifyEnv,
    pub cfg: Cfg,
    pub log: Log,
    pub stats: Stats,
    /// Deepest stack seen per subprogram.
    pub stack_depth: Vec<i64>,
    /// Slots the analysis reached.
    pub seen: Vec<bool>,
    /// Per load/store: the pointer type it was first verified with.
    pub aux_ptr_type: Vec<Option<crate::reg::RegType>>,
    /// The kfuncs the program calls, resolved against the kernel BTF.
    pub kfuncs: crate::kfunc::Kfuncs,
    pub(crate) checkpoints: Checkpoints,
    /// Precision and read marks added so far (back-edge propagation runs to a fixpoint).
    pub(crate) marks_added: u64,
    /// The checkpoint the current path descends from (for precision backtracking).
    pub(crate) cur_parent: Option<usize>,
    /// What the instruction being stepped did, for the state's history: a constant-offset
    /// stack access, a move between frames, a refinement of linked scalars.
    pub(crate) hist_stack: Option<(u8, u8)>,
    pub(crate) hist_frame_change: crate::precision::FrameMove,
    pub(crate) hist_linked: Option<Box<crate::precision::Linked>>,
    /// Figures of checkpoints retired between functions: (total, peak, max per insn).
    prior_states: (u64, u64, u64),
    /// Per subprogram: a global function that was called / that was verified on its own.
    pub global_called: Vec<bool>,
    global_done: Vec<bool>,
    pending: Vec<Pending>,
    jmps_processed: u64,
    prev_jmps: u64,
    prev_insns: u64,
}

/// Verifies a program.
pub fn verify(code: &Code, env: &VerifyEnv) -> Outcome {
    let start = Instant::now();
    let mut log = Log::new(env.log_level);
    let resolved = crate::kfunc::resolve_all(code, env).and_then(|k| {
        cfg::check(code, env).map(|mut c| {
            // An iterator's `next` call is always a prune point and a checkpoint.
            for (pc, &n) in k.iter_next.iter().enumerate() {
                if n {
                    c.prune_point[pc] = true;
                }
            }
            (c, k)
        })
    });
    let (cfg, kfuncs) = match resolved {
        Ok(c) => c,
        Err(e) => {
            log.line(&e.message);
            let stats = Stats::default();
            log.stats_line(&stats);
            return Outcome {
                result: Err(e),
                log: log.finish(),
                stats,
                seen: vec![false; code.len()],
            };
        }
    };
    if env.log_level >= 2 {
        for (i, sp) in cfg.subprogs.iter().enumerate() {
            log.line(&format!("func#{i} @{}", sp.start));
        }
    }
    let nsub = cfg.subprogs.len();
    let mut v = Verifier {
        code,
        env,
        cfg,
        log,
        stats: Stats::default(),
        stack_depth: vec![0; nsub],
        seen: vec![false; code.len()],
        aux_ptr_type: vec![None; code.len()],
        kfuncs,
        checkpoints: Checkpoints::new(code.len(), env.limits.backedges),
        marks_added: 0,
        cur_parent: None,
        hist_stack: None,
        hist_frame_change: crate::precision::FrameMove::None,
        hist_linked: None,
        prior_states: (0, 0, 0),
        global_called: vec![false; nsub],
        global_done: vec![false; nsub],
        pending: Vec::new(),
        jmps_processed: 0,
        prev_jmps: 0,
        prev_insns: 0,
    };
    let mut result = v.run();
    if result.is_ok() {
        result = v.check_stack_depth();
    }
    if let Err(e) = &result {
        for d in &e.detail {
            v.log.error(d);
        }
        v.log.error(&e.message);
    } else {
        v.log.success();
    }
    v.stats.time_us = start.elapsed().as_micros() as u64;
    v.stats.stack_depth = v.stack_depth.first().copied().unwrap_or(0);
    v.stats.total_states = v.checkpoints.total + v.prior_states.0;
    v.stats.peak_states = v.checkpoints.peak.max(v.prior_states.1);
    v.stats.max_states_per_insn = v.checkpoints.max_per_insn.max(v.prior_states.2);
    let stats = v.stats;
    v.log.stats_line(&stats);
    Outcome {
        result,
        log: v.log.finish(),
        stats,
        seen: v.seen,
    }
}

impl Verifier<'_> {
    /// The main program, then every global function it (transitively) calls, each on its
    /// own (`do_check_main`, `do_check_subprogs`).
    fn run(&mut self) -> Result<(), VerifyError> {
        self.explore_from(State::entry(), 0)?;
        loop {
            let mut verified = 0;
            for sub in 1..self.cfg.subprogs.len() {
                if !self.global_called[sub] || self.global_done[sub] {
                    continue;
                }
                let name = self
                    .global_sig(sub)
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                self.log.line(&format!("Validating {name}() func#{sub}..."));
                let st = self.global_entry(sub)?;
                // Each function is explored from scratch: no checkpoints carry over.
                self.retire_checkpoints();
                let start = self.cfg.subprogs[sub].start;
                self.explore_from(st, start)?;
                self.log.line(&format!(
                    "Func#{sub} ('{name}') is safe for any args that match its prototype"
                ));
                self.global_done[sub] = true;
                verified += 1;
            }
            if verified == 0 {
                return Ok(());
            }
        }
    }

    /// Folds the current checkpoints' figures into the totals and starts afresh.
    fn retire_checkpoints(&mut self) {
        self.prior_states.0 += self.checkpoints.total;
        self.prior_states.1 = self.prior_states.1.max(self.checkpoints.peak);
        self.prior_states.2 = self.prior_states.2.max(self.checkpoints.max_per_insn);
        self.checkpoints = Checkpoints::new(self.code.len(), self.env.limits.backedges);
        self.pending.clear();
        self.prev_jmps = self.jmps_processed;
        self.prev_insns = self.stats.processed_insns;
    }

    fn explore_from(&mut self, start: State, start_pc: usize) -> Result<(), VerifyError> {
        let mut state = start;
        let mut pc = start_pc;
        let mut parent: Option<usize> = None;
        let mut from: Option<usize> = None;
        let env = self.env;
        self.log.state_line(pc, &state, &env.maps);
        loop {
            self.stats.processed_insns += 1;
            if self.stats.processed_insns > self.env.limits.insns {
                return Err(VerifyError::new(
                    Some(pc),
                    Errno::E2BIG,
                    format!(
                        "BPF program is too large. Processed {} insn",
                        self.stats.processed_insns
                    ),
                ));
            }
            let mut path_done = false;
            if self.cfg.prune_point[pc] {
                match self.visit_prune_point(pc, &mut state, &mut parent)? {
                    prune::Visit::Pruned => {
                        self.log.safe(pc, from.take());
                        path_done = true;
                    }
                    prune::Visit::Continue => {}
                }
            }
            if !path_done {
                from = None;
                self.log.insn_line(pc, self.code, env);
                // Every JMP/JMP32-class instruction counts (calls and exits too), as the
                // kernel's `jmps_processed` does; it paces checkpoints.
                if is_jmp_class(self.code, pc) {
                    self.jmps_processed += 1;
                }
                self.cur_parent = parent;
                self.hist_stack = None;
                self.hist_frame_change = crate::precision::FrameMove::None;
                self.hist_linked = None;
                let next = self.step(&mut state, pc)?;
                let h = crate::precision::Hist {
                    pc: pc as u32,
                    stack: self.hist_stack.take(),
                    frame: self.hist_frame_change,
                    linked: self.hist_linked.take(),
                };
                state.record(h.clone());
                match next {
                    Next::Goto(n) => {
                        pc = n;
                        continue;
                    }
                    Next::Branch {
                        fall,
                        other,
                        other_state,
                    } => {
                        if self.pending.len() >= self.env.limits.jmp_seq {
                            return Err(VerifyError::new(
                                Some(pc),
                                Errno::E2BIG,
                                format!(
                                    "The sequence of {} jumps is too complex.",
                                    self.pending.len()
                                ),
                            ));
                        }
                        self.checkpoints.add_branch(parent);
                        let mut other_state = other_state;
                        other_state.record(h);
                        self.pending.push(Pending {
                            state: *other_state,
                            pc: other,
                            from: pc,
                            parent,
                            log_mark: self.log.mark(),
                        });
                        pc = fall;
                        continue;
                    }
                    Next::CallbackReturn(callsite) => {
                        if let Some(id) = self.checkpoints.prev_entry(callsite, parent, &state) {
                            self.checkpoints.widen(id, &mut state, false);
                        }
                        pc = callsite;
                        continue;
                    }
                    Next::Done => {}
                }
            }
            // The path ended: close it and take the next pending one.
            let done = self.checkpoints.end_path(parent);
            if !done.is_empty() {
                self.settle_loops(done);
            }
            let Some(p) = self.pending.pop() else {
                return Ok(());
            };
            self.log.rewind(p.log_mark);
            state = p.state;
            pc = p.pc;
            parent = p.parent;
            from = Some(p.from);
            self.log.branch_start(p.from, pc, &state, &env.maps);
        }
    }

    /// At a prune point: prune if an explored checkpoint covers `state`, detect infinite loops,
    /// and maybe store a new checkpoint.
    fn visit_prune_point(
        &mut self,
        pc: usize,
        state: &mut State,
        parent: &mut Option<usize>,
    ) -> Result<prune::Visit, VerifyError> {
        let add = self.env.test_state_freq
            || self.jmps_processed - self.prev_jmps >= 2
                && self.stats.processed_insns - self.prev_insns >= 8;
        let may_goto = matches!(
            self.code.insn(pc),
            Some(bpfvet_isa::insn::Insn::MayGoto { .. })
        );
        let calls_callback = self.cfg.calls_callback[pc];
        // A long history since the last checkpoint forces one (the kernel does so past 40
        // history entries): backtracking stays short and histories stay small.
        let long_hist = state.hist_overflow || state.hist.len() >= LONG_HIST;
        let loop_paced = long_hist
            || self.jmps_processed - self.prev_jmps >= 20
            || self.stats.processed_insns - self.prev_insns >= 100;
        let iter_next = self.kfuncs.iter_next[pc];
        let force = self.env.test_state_freq || may_goto || calls_callback || iter_next;
        let v = self.checkpoints.visit(
            pc,
            state,
            *parent,
            add || force || long_hist,
            false,
            may_goto,
            calls_callback,
            iter_next,
            self.cfg.live_regs[pc],
            &self.cfg.live_regs,
            force,
            loop_paced,
        );
        match v {
            prune::Outcome::Pruned { id, provisional } => {
                if let Some(old) = self.checkpoints.state(id).cloned() {
                    self.cur_parent = *parent;
                    self.propagate_stack_reads(&old, state);
                    self.propagate_precision(&old, state, *parent);
                }
                if provisional {
                    // The checkpoint's marks are not final (a loop is still explored):
                    // propagate them again once they are.
                    self.note_backedge(id, state, *parent);
                }
                Ok(prune::Visit::Pruned)
            }
            prune::Outcome::InfiniteLoop => Err(VerifyError::invalid(
                Some(pc),
                format!("infinite loop detected at insn {pc}"),
            )),
            prune::Outcome::Added(id) => {
                self.start_segment(id, state);
                *parent = Some(id);
                self.prev_jmps = self.jmps_processed;
                self.prev_insns = self.stats.processed_insns;
                Ok(prune::Visit::Continue)
            }
            prune::Outcome::Miss => Ok(prune::Visit::Continue),
            prune::Outcome::Widen(id) => {
                self.checkpoints.widen(id, state, false);
                // Store the widened state so the next pass converges against it.
                if let prune::Outcome::Added(n) = self.checkpoints.visit(
                    pc,
                    state,
                    *parent,
                    true,
                    false,
                    false,
                    false,
                    false,
                    crate::liveness::ALL,
                    &[],
                    true,
                    true,
                ) {
                    self.start_segment(n, state);
                    *parent = Some(n);
                }
                Ok(prune::Visit::Continue)
            }
        }
    }

    /// A new checkpoint `id` was stored from `state`: both start without precision marks
    /// (backtracking from its continuations adds them), and the path's history restarts.
    fn start_segment(&mut self, id: usize, state: &mut State) {
        if let Some(cp) = self.checkpoints.state_mut(id) {
            cp.for_each_reg(|r| r.precise = false);
        }
        state.for_each_reg(|r| r.precise = false);
        state.hist.clear();
        state.hist_overflow = false;
        for f in &mut state.frames {
            f.written = 0;
            f.read = 0;
        }
        if let Some(cp) = self.checkpoints.state_mut(id) {
            for f in &mut cp.frames {
                f.read = 0;
            }
        }
    }

    /// Records the stack depth used by the current frame.
    pub fn note_stack_depth(&mut self, state: &State) {
        let f = state.cur();
        let d = f.stack.allocated();
        let sp = f.subprog;
        if d > self.stack_depth[sp] {
            self.stack_depth[sp] = d;
        }
    }

    /// The combined stack depth along static call chains (`check_max_stack_depth`).
    fn check_stack_depth(&self) -> Result<(), VerifyError> {
        crate::calls::check_max_stack_depth(self)
    }
}
