//! The [`Vm`]: a set of pre-decoded programs (program 0 is the one it was created with;
//! more can be added for tail calls), its helpers, the maps and environment it runs with, and
//! the entry points that set up memory and registers for a run.

use bpfvet_isa::Program;

use crate::MAX_CALL_FRAMES;
use crate::context::{Context, Packet};
use crate::env::Env;
use crate::error::VmError;
use crate::exec::{Machine, execute};
use crate::helpers::{HelperContext, HelperError, HelperFn, Helpers};
use crate::maps::Maps;
use crate::memory::{CONTEXT_BASE, INPUT_BASE, MemRegion, Memory, RegionKind, STACK_SIZE};
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

/// Programs ready to run, with their helpers, maps and environment.
pub struct Vm {
    progs: Vec<Decoded>,
    helpers: Helpers,
    options: RunOptions,
    maps: Option<Maps>,
    env: Env,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("insns", &(self.progs[0].ops.len() - 1))
            .field("programs", &self.progs.len())
            .field("options", &self.options)
            .field("maps", &self.maps.as_ref().map(Maps::len))
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// Pre-decodes `prog`. Fails if a jump or call does not land on an instruction (possible
    /// for programs built with [`Program::from_insns`]) or an instruction writes R10.
    pub fn new(prog: &Program) -> Result<Vm, VmError> {
        Ok(Vm {
            progs: vec![predecode(prog)?],
            helpers: Helpers::default(),
            options: RunOptions::default(),
            maps: None,
            env: Env::new(),
        })
    }

    /// Adds another program (a tail call target; prog array values are these indices);
    /// returns its index. Program 0 is the one the VM was created with.
    pub fn add_program(&mut self, prog: &Program) -> Result<usize, VmError> {
        self.progs.push(predecode(prog)?);
        Ok(self.progs.len() - 1)
    }

    /// Number of programs.
    pub fn program_count(&self) -> usize {
        self.progs.len()
    }

    /// Serves every helper id nobody registered with the VM's implementation of the kernel
    /// helper (map operations, time, printk, ring buffers, tail calls, callbacks, ...); a
    /// kernel helper the VM cannot provide stops the run with
    /// [`VmError::UnavailableHelper`], naming it.
    pub fn enable_kernel_helpers(&mut self) {
        self.helpers.builtins = true;
    }

    /// Whether [`Vm::enable_kernel_helpers`] was called.
    pub fn kernel_helpers_enabled(&self) -> bool {
        self.helpers.builtins
    }

    /// The names (`bpf_...`) of the kernel helpers the VM implements.
    pub fn kernel_helper_names() -> Vec<&'static str> {
        crate::helpers::builtin_names()
    }

    /// Gives the VM a map set: LD_IMM64 map references resolve against it, map values are
    /// memory, and helpers work on it. Returns the previous set.
    pub fn set_maps(&mut self, maps: Maps) -> Option<Maps> {
        self.maps.replace(maps)
    }

    /// The VM's maps.
    pub fn maps(&self) -> Option<&Maps> {
        self.maps.as_ref()
    }

    /// The VM's maps, to read or fill between runs.
    pub fn maps_mut(&mut self) -> Option<&mut Maps> {
        self.maps.as_mut()
    }

    /// Takes the VM's maps away.
    pub fn take_maps(&mut self) -> Option<Maps> {
        self.maps.take()
    }

    /// The environment helpers see (clock, CPU, task, trace output).
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The environment, to configure or to collect output from.
    pub fn env_mut(&mut self) -> &mut Env {
        &mut self.env
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
    ///
    /// The run uses the VM's own maps ([`Vm::set_maps`]), if it has any.
    pub fn run_with_regions<'m>(
        &mut self,
        regions: Vec<MemRegion<'m>>,
        regs: [u64; 10],
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        let mut maps = self.maps.take();
        let r = self.run_program(0, regions, regs, maps.as_mut(), options);
        self.maps = maps;
        r
    }

    /// [`Vm::run_with_regions`] with a map set the caller keeps.
    pub fn run_with_maps<'m>(
        &mut self,
        regions: Vec<MemRegion<'m>>,
        regs: [u64; 10],
        maps: &'m mut Maps,
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        self.run_program(0, regions, regs, Some(maps), options)
    }

    /// Runs the program on a program context (R1 = the context at [`CONTEXT_BASE`]; packet
    /// contexts bring their packet buffer), with the VM's own maps and options. The context
    /// holds the program's changes afterwards (packet bytes, `mark`, adjusted heads, ...);
    /// `redirect` helpers return the action of the context's kind, and the environment's
    /// last redirect is cleared first.
    pub fn run_context(&mut self, ctx: &mut Context) -> Result<RunResult, VmError> {
        let options = self.options;
        let mut maps = self.maps.take();
        let r = self.run_context_with(ctx, maps.as_mut(), &options);
        self.maps = maps;
        r
    }

    /// [`Vm::run_context`] with a map set the caller keeps and explicit options.
    pub fn run_context_with(
        &mut self,
        ctx: &mut Context,
        maps: Option<&mut Maps>,
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        self.env.redirect = None;
        let parts = ctx.run_parts();
        if let Some(flavor) = parts.redirect_flavor {
            self.env.redirect_flavor = flavor;
        }
        let mut regs = [0u64; 10];
        regs[1] = CONTEXT_BASE;
        let mut regions = vec![parts.region];
        regions.extend(parts.objects);
        self.run_inner(0, regions, regs, maps, parts.packet, options)
    }

    /// Runs program `index` of the set (see [`Vm::add_program`]) with the given regions,
    /// registers and maps.
    pub fn run_program<'m>(
        &mut self,
        index: usize,
        regions: Vec<MemRegion<'m>>,
        regs: [u64; 10],
        maps: Option<&'m mut Maps>,
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        self.run_inner(index, regions, regs, maps, None, options)
    }

    fn run_inner<'m>(
        &mut self,
        index: usize,
        regions: Vec<MemRegion<'m>>,
        regs: [u64; 10],
        maps: Option<&'m mut Maps>,
        packet: Option<&'m mut Packet>,
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        if index >= self.progs.len() {
            return Err(VmError::Setup {
                message: format!("no program {index}: the VM has {}", self.progs.len()),
            });
        }
        if let Some(maps) = &maps {
            self.env.check_cpu(maps)?;
        }
        let mut stack = vec![0u8; MAX_CALL_FRAMES * STACK_SIZE];
        let mut mem = Memory::new(regions, &mut stack)?;
        if let Some(maps) = maps {
            mem.attach_maps(maps)?;
        }
        if let Some(packet) = packet {
            mem.attach_packet(packet)?;
        }
        let mut all = [0u64; 11];
        all[..10].copy_from_slice(&regs);
        let mut machine = Machine {
            progs: &self.progs,
            helpers: &mut self.helpers,
            env: &mut self.env,
            budget: options.budget,
            remaining: options.budget,
            may_goto_left: options.may_goto_budget,
            tail_calls: 0,
        };
        execute(&mut machine, &mut mem, index, all, options)
    }
}
