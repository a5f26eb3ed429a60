//! The [`Vm`]: a pre-decoded program plus its helpers, and the entry points that set up
//! memory and registers for a run.

use bpfvet_isa::Program;

use crate::MAX_CALL_FRAMES;
use crate::error::VmError;
use crate::exec::execute;
use crate::helpers::{HelperContext, HelperError, HelperFn, Helpers};
use crate::memory::{INPUT_BASE, MemRegion, Memory, RegionKind, STACK_SIZE};
use crate::predecode::{Decoded, predecode};

/// Default instruction budget of a run.
pub const DEFAULT_BUDGET: u64 = 10_000_000;
/// Default `may_goto` budget of a run: the kernel's `BPF_MAX_LOOPS` (8 Mi = 8,388,608).
pub const DEFAULT_MAY_GOTO_BUDGET: u64 = 8 * 1024 * 1024;

/// Limits of one run.
///
/// `budget` bounds the number of executed instructions (each `may_goto`, call and exit
/// counts as one); see the crate documentation for how it is charged. `may_goto_budget` is the
/// number of times `may_goto` falls through: like the kernel's per-invocation loop counter,
/// each execution decrements it, and once it is zero every `may_goto` jumps to its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    pub budget: u64,
    pub may_goto_budget: u64,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            budget: DEFAULT_BUDGET,
            may_goto_budget: DEFAULT_MAY_GOTO_BUDGET,
        }
    }
}

impl RunOptions {
    /// The same options with another instruction budget.
    pub fn budget(mut self, budget: u64) -> RunOptions {
        self.budget = budget;
        self
    }

    /// The same options with another `may_goto` budget.
    pub fn may_goto_budget(mut self, n: u64) -> RunOptions {
        self.may_goto_budget = n;
        self
    }
}

/// The outcome of a successful run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunResult {
    /// R0 at the final `exit`.
    pub r0: u64,
    /// Number of instructions executed, the final `exit` included.
    pub executed: u64,
}

/// A program ready to run, with its helpers.
pub struct Vm {
    prog: Decoded,
    helpers: Helpers,
    options: RunOptions,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("insns", &(self.prog.ops.len() - 1))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// Pre-decodes `prog`. Fails if a jump or call does not land on an instruction (possible
    /// for programs built with [`Program::from_insns`]) or an instruction writes R10.
    pub fn new(prog: &Program) -> Result<Vm, VmError> {
        Ok(Vm {
            prog: predecode(prog)?,
            helpers: Helpers::default(),
            options: RunOptions::default(),
        })
    }

    /// Registers helper `id` (replacing any earlier one): it gets R1–R5 and returns R0.
    pub fn register_helper<F>(&mut self, id: u32, mut f: F)
    where
        F: FnMut([u64; 5]) -> Result<u64, HelperError> + 'static,
    {
        self.helpers.insert(
            id,
            Box::new(move |ctx: &mut HelperContext<'_, '_>| f(ctx.args)),
        );
    }

    /// Registers helper `id` with access to the program's memory through [`HelperContext`].
    pub fn register_helper_with_context<F>(&mut self, id: u32, f: F)
    where
        F: FnMut(&mut HelperContext<'_, '_>) -> Result<u64, HelperError> + 'static,
    {
        let f: HelperFn = Box::new(f);
        self.helpers.insert(id, f);
    }

    /// Whether helper `id` is registered.
    pub fn has_helper(&self, id: u32) -> bool {
        self.helpers.contains(id)
    }

    /// The options [`Vm::run`] uses.
    pub fn options(&self) -> RunOptions {
        self.options
    }

    /// Sets the options [`Vm::run`] uses.
    pub fn set_options(&mut self, options: RunOptions) {
        self.options = options;
    }

    /// Runs the program on `mem`, placed at [`INPUT_BASE`] as a writable region named
    /// `input`: R1 = its address, R2 = its length (as uBPF and rbpf do). Returns R0.
    pub fn run(&mut self, mem: &mut [u8]) -> Result<u64, VmError> {
        let options = self.options;
        self.run_with_options(mem, &options)
    }

    /// [`Vm::run`] with explicit options.
    pub fn run_with_options(
        &mut self,
        mem: &mut [u8],
        options: &RunOptions,
    ) -> Result<u64, VmError> {
        let len = mem.len() as u64;
        let region = MemRegion::new(RegionKind::Input, INPUT_BASE, mem);
        let mut regs = [0u64; 10];
        regs[1] = INPUT_BASE;
        regs[2] = len;
        Ok(self.run_with_regions(vec![region], regs, options)?.r0)
    }

    /// The low-level entry point: runs with the given memory regions (besides the stack) and
    /// initial R0–R9 (R10 is always frame 0's frame pointer). Regions must not overlap each
    /// other or the stack area.
    pub fn run_with_regions<'m>(
        &mut self,
        regions: Vec<MemRegion<'m>>,
        regs: [u64; 10],
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        let mut stack = vec![0u8; MAX_CALL_FRAMES * STACK_SIZE];
        let mut mem = Memory::new(regions, &mut stack)?;
        let mut all = [0u64; 11];
        all[..10].copy_from_slice(&regs);
        execute(&self.prog, &mut mem, &mut self.helpers, all, options)
    }
}
