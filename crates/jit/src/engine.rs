//! [`Engine`]: one API over the interpreter and the JIT, chosen by one setting
//! ([`EngineKind`]).

use bpfvet_isa::Program;
use bpfvet_vm::{
    CONFORMANCE_HELPER_ID, Context, Env, HelperError, Maps, MemRegion, RunOptions, RunResult, Vm,
    VmError,
};

use crate::error::JitError;
use crate::memory::HelperMemory;
use crate::program::JitProgram;

/// Which engine runs programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// The checked interpreter of `bpfvet-vm`.
    #[default]
    Interpreter,
    /// The JIT in checked mode: native code with the interpreter's results and errors.
    Jit,
    /// The JIT without checks (only through [`Engine::new_unchecked`]).
    JitUnchecked,
}

enum Inner {
    Interpreter(Box<Vm>),
    Jit(Box<JitProgram>),
}

/// A program ready to run on the interpreter or the JIT.
pub struct Engine {
    inner: Inner,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Interpreter(vm) => vm.fmt(f),
            Inner::Jit(j) => j.fmt(f),
        }
    }
}

impl From<Vm> for Engine {
    /// The interpreter `vm` (with its programs, maps, helpers and environment) as an engine.
    fn from(vm: Vm) -> Engine {
        Engine {
            inner: Inner::Interpreter(Box::new(vm)),
        }
    }
}

impl Engine {
    /// Prepares `prog` for `kind`. [`EngineKind::JitUnchecked`] falls back to the checked
    /// JIT here; use [`Engine::new_unchecked`] for it.
    pub fn new(prog: &Program, kind: EngineKind) -> Result<Engine, JitError> {
        let inner = match kind {
            EngineKind::Interpreter => Inner::Interpreter(Box::new(Vm::new(prog)?)),
            EngineKind::Jit | EngineKind::JitUnchecked => {
                Inner::Jit(Box::new(JitProgram::new(prog)?))
            }
        };
        Ok(Engine { inner })
    }

    /// Prepares `prog` for `kind`, with the JIT unchecked when `kind` says so.
    ///
    /// # Safety
    ///
    /// For [`EngineKind::JitUnchecked`], as [`JitProgram::new_unchecked`]: the program must
    /// stay inside the memory it is given and terminate.
    pub unsafe fn new_unchecked(prog: &Program, kind: EngineKind) -> Result<Engine, JitError> {
        match kind {
            // SAFETY: the caller's promise is the one `new_unchecked` needs.
            EngineKind::JitUnchecked => Ok(Engine {
                inner: Inner::Jit(Box::new(unsafe { JitProgram::new_unchecked(prog)? })),
            }),
            kind => Engine::new(prog, kind),
        }
    }

    /// The engine in use.
    pub fn kind(&self) -> EngineKind {
        match &self.inner {
            Inner::Interpreter(_) => EngineKind::Interpreter,
            Inner::Jit(j) if j.is_checked() => EngineKind::Jit,
            Inner::Jit(_) => EngineKind::JitUnchecked,
        }
    }

    /// Adds a program to the set (a tail-call target; prog array values are these indices)
    /// and returns its index; program 0 is the one the engine was created with.
    pub fn add_program(&mut self, prog: &Program) -> Result<usize, JitError> {
        match &mut self.inner {
            Inner::Interpreter(vm) => Ok(vm.add_program(prog)?),
            Inner::Jit(j) => j.add_program(prog),
        }
    }

    /// Number of programs in the set.
    pub fn program_count(&self) -> usize {
        match &self.inner {
            Inner::Interpreter(vm) => vm.program_count(),
            Inner::Jit(j) => j.program_count(),
        }
    }

    /// Gives the engine a map set; returns the previous one.
    pub fn set_maps(&mut self, maps: Maps) -> Option<Maps> {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.set_maps(maps),
            Inner::Jit(j) => j.set_maps(maps),
        }
    }

    /// The engine's maps.
    pub fn maps(&self) -> Option<&Maps> {
        match &self.inner {
            Inner::Interpreter(vm) => vm.maps(),
            Inner::Jit(j) => j.maps(),
        }
    }

    /// The engine's maps, to read or fill between runs.
    pub fn maps_mut(&mut self) -> Option<&mut Maps> {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.maps_mut(),
            Inner::Jit(j) => j.maps_mut(),
        }
    }

    /// Takes the engine's maps away.
    pub fn take_maps(&mut self) -> Option<Maps> {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.take_maps(),
            Inner::Jit(j) => j.take_maps(),
        }
    }

    /// Serves helper ids nobody registered with the kernel's helpers: every helper the
    /// interpreter implements, on the interpreter and on the checked JIT (the unchecked JIT
    /// has only `bpf_tail_call`; see [`JitProgram::enable_kernel_helpers`]).
    pub fn enable_kernel_helpers(&mut self) {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.enable_kernel_helpers(),
            Inner::Jit(j) => j.enable_kernel_helpers(),
        }
    }

    /// Registers helper `id`: it gets R1–R5 and returns R0.
    pub fn register_helper<F>(&mut self, id: u32, f: F)
    where
        F: FnMut([u64; 5]) -> Result<u64, HelperError> + 'static,
    {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.register_helper(id, f),
            Inner::Jit(j) => j.register_helper(id, f),
        }
    }

    /// Registers helper `id` with access to the program's memory: the same closure runs on
    /// the interpreter (through its `HelperContext`) and on the JIT (through `JitMemory`).
    pub fn register_helper_with_memory<F>(&mut self, id: u32, mut f: F)
    where
        F: FnMut(&mut dyn HelperMemory, [u64; 5]) -> Result<u64, HelperError> + 'static,
    {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.register_helper_with_context(id, move |ctx| {
                let args = ctx.args;
                f(ctx, args)
            }),
            Inner::Jit(j) => j.register_helper_with_memory(id, move |m, args| f(m, args)),
        }
    }

    /// Registers the helper the BPF conformance suite calls (helper 5 returns R1).
    pub fn register_conformance_helpers(&mut self) {
        self.register_helper(CONFORMANCE_HELPER_ID, |args: [u64; 5]| Ok(args[0]));
    }

    /// Whether helper `id` is registered.
    pub fn has_helper(&self, id: u32) -> bool {
        match &self.inner {
            Inner::Interpreter(vm) => vm.has_helper(id),
            Inner::Jit(j) => j.has_helper(id),
        }
    }

    /// The options [`Engine::run`] uses.
    pub fn options(&self) -> RunOptions {
        match &self.inner {
            Inner::Interpreter(vm) => vm.options(),
            Inner::Jit(j) => j.options(),
        }
    }

    /// Sets the options [`Engine::run`] uses.
    pub fn set_options(&mut self, options: RunOptions) {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.set_options(options),
            Inner::Jit(j) => j.set_options(options),
        }
    }

    /// Runs the program on `mem` (R1 = its address, R2 = its length); returns R0.
    pub fn run(&mut self, mem: &mut [u8]) -> Result<u64, VmError> {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.run(mem),
            Inner::Jit(j) => j.run(mem),
        }
    }

    /// Runs with the given regions and initial R0–R9.
    pub fn run_with_regions(
        &mut self,
        regions: Vec<MemRegion<'_>>,
        regs: [u64; 10],
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.run_with_regions(regions, regs, options),
            Inner::Jit(j) => j.run_with_regions(regions, regs, options),
        }
    }

    /// Runs program 0 on a program context (R1 = the context; packet contexts bring their
    /// packet), as [`Vm::run_context`] does, with the engine's maps, helpers and options.
    /// The unchecked JIT refuses: contexts hold the interpreter's packet addresses.
    pub fn run_context(&mut self, ctx: &mut Context) -> Result<RunResult, VmError> {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.run_context(ctx),
            Inner::Jit(j) => j.run_context(ctx),
        }
    }

    /// The environment kernel helpers see (clock, CPU, task, trace output).
    pub fn env(&self) -> &Env {
        match &self.inner {
            Inner::Interpreter(vm) => vm.env(),
            Inner::Jit(j) => j.env(),
        }
    }

    /// The environment, to configure or to collect output from.
    pub fn env_mut(&mut self) -> &mut Env {
        match &mut self.inner {
            Inner::Interpreter(vm) => vm.env_mut(),
            Inner::Jit(j) => j.env_mut(),
        }
    }

    /// The interpreter, when the engine is the interpreter.
    pub fn vm_mut(&mut self) -> Option<&mut Vm> {
        match &mut self.inner {
            Inner::Interpreter(vm) => Some(&mut **vm),
            Inner::Jit(_) => None,
        }
    }

    /// The compiled program, when the engine is the JIT.
    pub fn jit(&self) -> Option<&JitProgram> {
        match &self.inner {
            Inner::Jit(j) => Some(&**j),
            Inner::Interpreter(_) => None,
        }
    }
}
