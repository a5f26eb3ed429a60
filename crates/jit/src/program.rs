//! [`JitProgram`]: a program compiled to native code (with the other programs of its set,
//! the targets of its tail calls), with its helpers, maps, stack area and the entry points
//! that mirror the interpreter's (`run`, `run_with_options`, `run_with_regions`).

use bpfvet_isa::helpers::helper_name;
use bpfvet_isa::{CallKind, Imm64Kind, Insn, Program};
use bpfvet_vm::foreign::ForeignMemory;
use bpfvet_vm::maps::{map_ptr, map_window};
use bpfvet_vm::{
    Access, CONTEXT_BASE, Context, Env, HelperError, INPUT_BASE, MAX_CALL_FRAMES, MapType, Maps,
    MemRegion, Packet, RegionKind, RunOptions, RunResult, STACK_SIZE, VmError, stack_base,
};

use crate::backend::{Backend, CodeEnv, CodegenOptions, MachineCode};
use crate::error::JitError;
use crate::kernel::{DYN_ENTRIES, KernelRun, RegionMeta, UnitFuncs};
use crate::lower::{Lowered, lower};
use crate::regions;
use crate::runtime::{
    Exit, ExternHelper, Helpers, REGION_ENTRY_SIZE, RegionEntry, RunCtx, callx_trampoline_addr,
    failed, kind,
};

#[cfg(all(target_arch = "x86_64", unix))]
use crate::exec_mem::ExecMemory;
#[cfg(all(target_arch = "x86_64", unix))]
type Native = crate::x64::X64;

/// Whether this host can run JIT-compiled code.
pub const fn available() -> bool {
    cfg!(all(target_arch = "x86_64", unix))
}

/// Bytes of the stack area: one 512-byte stack per frame.
const STACK_AREA: usize = MAX_CALL_FRAMES * STACK_SIZE;

/// One compiled program of a set.
struct Unit {
    /// The program as given (kept for recompilation).
    source: Program,
    lowered: Lowered,
    machine: MachineCode,
    #[cfg(all(target_arch = "x86_64", unix))]
    code: ExecMemory,
    /// The value of each map reference for the current run (0: the LD_IMM64 fails); the
    /// code reads it at a fixed address.
    map_table: Box<[u64]>,
}

impl Unit {
    fn code_addr(&self) -> u64 {
        #[cfg(all(target_arch = "x86_64", unix))]
        return self.code.addr();
        #[cfg(not(all(target_arch = "x86_64", unix)))]
        return 0;
    }

    /// Address of the code of the first instruction (where a tail call lands).
    fn main(&self) -> u64 {
        self.code_addr() + self.machine.insn_offsets[0] as u64
    }
}

/// A BPF program compiled to x86-64, ready to run.
///
/// In checked mode ([`JitProgram::new`]) registers hold the interpreter's virtual addresses,
/// every access is checked against the live regions, atomics must be aligned and the
/// instruction budget applies: results, memory and errors are those of the interpreter. In
/// unchecked mode ([`JitProgram::new_unchecked`]) registers hold host addresses and nothing is
/// checked, like the kernel's JIT after its verifier.
///
/// Like the interpreter's [`Vm`](bpfvet_vm::Vm), a `JitProgram` is a set of programs
/// (program 0 runs; [`JitProgram::add_program`] adds tail-call targets) with maps
/// ([`JitProgram::set_maps`]): LD_IMM64 map references give map pointers (or value
/// addresses), and with [`JitProgram::enable_kernel_helpers`] helper 12 is `bpf_tail_call`
/// with the interpreter's semantics (at most 33 per run). In checked mode map values and
/// packets are memory and every kernel helper is the interpreter's, as under
/// [`Vm`](bpfvet_vm::Vm); the unchecked mode has only `bpf_tail_call`.
pub struct JitProgram {
    /// Program 0 and the tail-call targets.
    units: Vec<Unit>,
    /// `Unit::main` of each unit, read by the tail-call trampoline.
    mains: Vec<u64>,
    /// Whether the units were compiled for tail calls made from bpf-to-bpf callees.
    args_at_exit: bool,
    maps: Option<Maps>,
    helpers: Box<Helpers>,
    /// The stacks of the eight frames (8-byte aligned).
    stack: Box<[u64; STACK_AREA / 8]>,
    checked: bool,
    options: RunOptions,
    /// The run context, kept between runs so a run only sets what changes.
    ctx: Box<RunCtx>,
    /// Address of the general entry function.
    entry: u64,
    /// Address of the fast entry function.
    fast_entry: u64,
    /// Checked mode: the region table, reused between runs.
    table: Vec<RegionEntry>,
    /// Checked mode: how many frames' stacks the last run may have written.
    dirty_frames: usize,
    /// Checked mode: the table holds this many caller regions followed by the stack frames'
    /// entries (`None`: not built, or built for an unchecked run).
    table_fixed: Option<usize>,
    /// Program 0 has direct entries (see `CodegenOptions::direct`).
    direct: bool,
    /// Cached [`JitProgram::needs_set_state`].
    set_state: bool,
    /// The units' map tables may not match the maps (set, taken or lent mutably since the
    /// last run, or programs added).
    map_tables_stale: bool,
    /// The environment the kernel helpers see (clock, CPU, task, trace output).
    env: Env,
    /// Checked mode: what kernel helpers and the memory resolver work on during a run.
    kernel: Box<KernelRun>,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("insns", &self.units[0].lowered.len())
            .field("programs", &self.units.len())
            .field("code_bytes", &self.units[0].machine.bytes.len())
            .field("checked", &self.checked)
            .finish_non_exhaustive()
    }
}

impl JitProgram {
    /// Compiles `prog` in checked mode: safe for any program, with the interpreter's results
    /// and errors.
    pub fn new(prog: &Program) -> Result<JitProgram, JitError> {
        JitProgram::compile(prog, true)
    }

    /// Compiles `prog` without bounds checks, budget or alignment checks: registers hold
    /// host addresses (R1 = the input's address in [`JitProgram::run`]), as in the kernel.
    ///
    /// # Safety
    ///
    /// Running the program must not access memory outside the regions it is given and its
    /// own stack (512 bytes per frame), nor loop forever: the caller guarantees this, e.g.
    /// because the verifier accepted the program for an equivalent memory layout. A program
    /// that breaks it can corrupt or crash the process.
    pub unsafe fn new_unchecked(prog: &Program) -> Result<JitProgram, JitError> {
        JitProgram::compile(prog, false)
    }

    fn compile(prog: &Program, checked: bool) -> Result<JitProgram, JitError> {
        if !available() {
            return Err(JitError::Unavailable {
                arch: std::env::consts::ARCH,
            });
        }
        let mut helpers = Box::new(Helpers::new());
        let unit = Self::compile_unit(prog, 0, checked, false, &mut helpers, None)?;
        let mut j = JitProgram {
            mains: vec![unit.main()],
            units: vec![unit],
            args_at_exit: false,
            maps: None,
            helpers,
            stack: Box::new([0; STACK_AREA / 8]),
            checked,
            options: RunOptions::default(),
            ctx: Box::new(RunCtx::new([0; 11], std::ptr::null_mut())),
            entry: 0,
            fast_entry: 0,
            table: Vec::new(),
            dirty_frames: 0,
            table_fixed: None,
            direct: false,
            set_state: false,
            map_tables_stale: true,
            env: Env::new(),
            kernel: Box::new(KernelRun::new()),
        };
        j.set_entries();
        j.set_state = j.needs_set_state();
        Ok(j)
    }

    /// Compiles program `index` of the set; `table`: the index of the helper table to
    /// replace (a recompilation), else a new one is added.
    #[cfg(all(target_arch = "x86_64", unix))]
    fn compile_unit(
        prog: &Program,
        index: usize,
        checked: bool,
        args_at_exit: bool,
        helpers: &mut Helpers,
        table: Option<usize>,
    ) -> Result<Unit, JitError> {
        let lowered = lower(prog, args_at_exit)?;
        let program =
            u32::try_from(index).map_err(|_| JitError::Codegen("too many programs".into()))?;
        let map_table = vec![0u64; lowered.map_refs.len()].into_boxed_slice();
        // Only program 0 is entered from Rust; the others are entered by tail calls.
        let direct = !checked && index == 0 && lowered.self_contained;
        let helper_table = match table {
            Some(t) => helpers.replace_table(t, &lowered.helper_ids),
            None => helpers.add_table(&lowered.helper_ids),
        };
        let env = CodeEnv {
            helper_table,
            callx: callx_trampoline_addr(),
            program,
            map_table: map_table.as_ptr() as u64,
            resolve: crate::kernel::resolve as *const () as u64,
            ld_abs: crate::kernel::ld_abs as *const () as u64,
        };
        let machine = Native::compile(&lowered, &CodegenOptions { checked, direct }, &env)?;
        let code = ExecMemory::new(&machine.bytes).map_err(|e| JitError::Memory(e.to_string()))?;
        Ok(Unit {
            source: prog.clone(),
            lowered,
            machine,
            code,
            map_table,
        })
    }

    #[cfg(not(all(target_arch = "x86_64", unix)))]
    fn compile_unit(
        _: &Program,
        _: usize,
        _: bool,
        _: bool,
        _: &mut Helpers,
        _: Option<usize>,
    ) -> Result<Unit, JitError> {
        Err(JitError::Unavailable {
            arch: std::env::consts::ARCH,
        })
    }

    /// Takes the entry addresses from unit 0.
    fn set_entries(&mut self) {
        let u = &self.units[0];
        self.entry = u.code_addr() + u.machine.entry as u64;
        self.fast_entry = u.code_addr() + u.machine.fast_entry as u64;
        self.direct = u.machine.direct;
        // Error exits continue at program 0's epilogue (callbacks change it while they run).
        self.ctx.exit_pops = u.code_addr() + u.machine.exit_pops as u64;
    }

    /// Adds another program to the set (a tail-call target: prog array values are these
    /// indices) and returns its index; program 0 is the one the set was created with. It is
    /// compiled in the set's mode. Fails as [`JitProgram::new`] does.
    pub fn add_program(&mut self, prog: &Program) -> Result<usize, JitError> {
        let index = self.units.len();
        let probe = lower(prog, false)?;
        let deep = self.args_at_exit
            || (probe.local_calls && probe.tail_sites)
            || self
                .units
                .iter()
                .any(|u| u.lowered.local_calls && u.lowered.tail_sites);
        let unit = Self::compile_unit(prog, index, self.checked, deep, &mut self.helpers, None)?;
        if deep && !self.args_at_exit {
            // A function called with bpf-to-bpf calls may now tail-call: every program's
            // `exit` may return to such a caller, which may read R1–R5.
            for i in 0..self.units.len() {
                let source = self.units[i].source.clone();
                let u =
                    Self::compile_unit(&source, i, self.checked, true, &mut self.helpers, Some(i))?;
                self.mains[i] = u.main();
                self.units[i] = u;
            }
            self.args_at_exit = true;
            self.set_entries();
        }
        self.mains.push(unit.main());
        self.units.push(unit);
        self.set_state = self.needs_set_state();
        self.map_tables_stale = true;
        Ok(index)
    }

    /// Number of programs in the set.
    pub fn program_count(&self) -> usize {
        self.units.len()
    }

    /// Gives the set a map set (LD_IMM64 map references resolve against it, `bpf_tail_call`
    /// looks programs up in its prog arrays); returns the previous one.
    pub fn set_maps(&mut self, maps: Maps) -> Option<Maps> {
        let old = self.maps.replace(maps);
        self.set_state = self.needs_set_state();
        self.map_tables_stale = true;
        old
    }

    /// The set's maps.
    pub fn maps(&self) -> Option<&Maps> {
        self.maps.as_ref()
    }

    /// The set's maps, to read or fill between runs.
    pub fn maps_mut(&mut self) -> Option<&mut Maps> {
        self.map_tables_stale = true;
        self.maps.as_mut()
    }

    /// Takes the set's maps away.
    pub fn take_maps(&mut self) -> Option<Maps> {
        let maps = self.maps.take();
        self.set_state = self.needs_set_state();
        self.map_tables_stale = true;
        maps
    }

    /// Serves helper ids nobody registered as the interpreter's
    /// [`Vm::enable_kernel_helpers`](bpfvet_vm::Vm::enable_kernel_helpers) does. In checked
    /// mode every helper is the interpreter's own implementation, run on the same memory
    /// (see [`JitProgram::run_context`]); `bpf_loop` and `bpf_for_each_map_elem` call back
    /// into the compiled code. In unchecked mode only helper 12 (`bpf_tail_call`) works;
    /// another kernel helper stops the run with [`VmError::UnavailableHelper`].
    pub fn enable_kernel_helpers(&mut self) {
        self.helpers.enable_kernel();
    }

    /// Whether [`JitProgram::enable_kernel_helpers`] was called.
    pub fn kernel_helpers_enabled(&self) -> bool {
        self.helpers.kernel_enabled()
    }

    /// Whether runs need the set's state (maps, tail calls) in the context.
    #[inline]
    fn needs_set_state(&self) -> bool {
        self.units.len() > 1 || self.maps.is_some() || self.units[0].lowered.tail_sites
    }

    /// Sets up the context and map tables for tail calls and map references.
    fn prepare_set(&mut self) {
        let maps = self.maps.as_ref();
        if self.map_tables_stale {
            for u in &mut self.units {
                for (slot, &i) in u.map_table.iter_mut().zip(&u.lowered.map_refs) {
                    *slot = map_value(maps, &u.lowered.insns[i]).unwrap_or(0);
                }
            }
            self.map_tables_stale = false;
        }
        let ctx = &mut *self.ctx;
        ctx.maps = maps.map_or(std::ptr::null(), |m| m as *const Maps);
        ctx.mains = self.mains.as_ptr();
        ctx.n_progs = self.mains.len() as u64;
        ctx.tail_calls = 0;
        ctx.tail_target = 0;
        let u = &self.units[0];
        ctx.exit_pops = u.code_addr() + u.machine.exit_pops as u64;
    }

    /// Whether the program was compiled in checked mode.
    pub fn is_checked(&self) -> bool {
        self.checked
    }

    /// Bytes of machine code of program 0.
    pub fn code_size(&self) -> usize {
        self.units[0].machine.bytes.len()
    }

    pub(crate) fn lowered(&self) -> &Lowered {
        &self.units[0].lowered
    }

    pub(crate) fn machine(&self) -> &MachineCode {
        &self.units[0].machine
    }

    /// Registers helper `id` (replacing any earlier one): it gets R1–R5 and returns R0, or an
    /// error that stops the run.
    pub fn register_helper<F>(&mut self, id: u32, f: F)
    where
        F: FnMut([u64; 5]) -> Result<u64, HelperError> + 'static,
    {
        self.helpers.insert_boxed(id, Box::new(f));
    }

    /// Registers helper `id` with access to the program's memory through [`JitMemory`]
    /// (checked against the run's live regions, as the interpreter's helpers are).
    ///
    /// [`JitMemory`]: crate::JitMemory
    pub fn register_helper_with_memory<F>(&mut self, id: u32, f: F)
    where
        F: FnMut(&mut crate::JitMemory<'_>, [u64; 5]) -> Result<u64, HelperError> + 'static,
    {
        self.helpers.insert_memory(id, Box::new(f));
    }

    /// Registers a helper that generated code calls directly through the C ABI (the fastest
    /// kind: no trampoline).
    pub fn register_extern_helper(&mut self, id: u32, f: ExternHelper) {
        self.helpers.insert_extern(id, f);
    }

    /// Whether helper `id` is registered.
    pub fn has_helper(&self, id: u32) -> bool {
        self.helpers.contains(id)
    }

    /// The options [`JitProgram::run`] uses.
    pub fn options(&self) -> RunOptions {
        self.options
    }

    /// Sets the options [`JitProgram::run`] uses.
    pub fn set_options(&mut self, options: RunOptions) {
        self.options = options;
    }

    /// Runs the program on `mem` (R1 = its address, R2 = its length) and returns R0.
    #[inline]
    pub fn run(&mut self, mem: &mut [u8]) -> Result<u64, VmError> {
        let options = self.options;
        self.run_with_options(mem, &options)
    }

    /// [`JitProgram::run`] with explicit options.
    #[inline]
    pub fn run_with_options(
        &mut self,
        mem: &mut [u8],
        options: &RunOptions,
    ) -> Result<u64, VmError> {
        let (r1, r2) = (mem.as_mut_ptr() as u64, mem.len() as u64);
        if self.direct {
            let fp = self.stack.as_mut_ptr() as u64 + STACK_SIZE as u64;
            return Ok(Self::enter_direct_fast(self.fast_entry, r1, r2, fp));
        }
        if self.checked {
            return self.run_input_checked(mem, options);
        }
        self.run_input_unchecked(r1, r2, options)
    }

    /// [`JitProgram::run_with_options`] in unchecked mode through the run context (out of
    /// line, so the direct path stays small enough to inline).
    #[inline(never)]
    fn run_input_unchecked(
        &mut self,
        r1: u64,
        r2: u64,
        options: &RunOptions,
    ) -> Result<u64, VmError> {
        if self.helpers.wants_memory() {
            self.unchecked_table(&[(r1, r2, true)]);
        }
        if self.set_state {
            self.prepare_set();
        }
        let entry = self.fast_entry;
        let stack = self.stack.as_mut_ptr() as u64;
        let ctx = &mut *self.ctx;
        ctx.regs[10] = stack + STACK_SIZE as u64;
        ctx.fp_limit = stack + STACK_AREA as u64;
        ctx.may_goto_left = options.may_goto_budget;
        ctx.helpers = &mut *self.helpers;
        let exit = Self::enter_fast(entry, r1, r2, ctx);
        ctx.regions = 0;
        if exit.status == 0 {
            return Ok(exit.r0);
        }
        Err(self.error_cold(options))
    }

    /// [`JitProgram::run_with_options`] in checked mode (out of line, so the unchecked path
    /// stays small).
    #[inline(never)]
    fn run_input_checked(&mut self, mem: &mut [u8], options: &RunOptions) -> Result<u64, VmError> {
        if self.set_state {
            self.prepare_set();
        }
        let len = mem.len() as u64;
        let mut regions = [MemRegion::new(RegionKind::Input, INPUT_BASE, mem)];
        let mut regs = [0u64; 11];
        regs[1] = INPUT_BASE;
        regs[2] = len;
        Ok(self.run_checked(&mut regions, None, regs, options)?.r0)
    }

    /// Runs with the given memory regions and initial R0–R9, as
    /// [`Vm::run_with_regions`](bpfvet_vm::Vm::run_with_regions) does. In unchecked mode,
    /// register values pointing into (or just past) a region become host addresses, and
    /// `executed` is 0 (nothing is counted).
    pub fn run_with_regions(
        &mut self,
        mut regions: Vec<MemRegion<'_>>,
        regs: [u64; 10],
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        regions::validate(&regions)?;
        if self.set_state {
            self.prepare_set();
        }
        let mut all = [0u64; 11];
        all[..10].copy_from_slice(&regs);
        if !self.checked {
            for r in &mut all[..10] {
                *r = regions::to_host(&mut regions, *r);
            }
            if self.helpers.wants_memory() {
                let spans: Vec<_> = regions
                    .iter_mut()
                    .map(|r| (r.data.as_mut_ptr() as u64, r.data.len() as u64, r.writable))
                    .collect();
                self.unchecked_table(&spans);
            }
            return self.run_unchecked(all, options);
        }
        if self.maps.is_some() {
            // The regions must leave the maps' addresses free, as in the interpreter.
            let check = reborrow(&mut regions);
            let mut stack = [0u8; STACK_AREA];
            ForeignMemory::new(check, &mut stack, 1, self.maps.as_mut(), None)?;
        }
        self.run_checked(&mut regions, None, all, options)
    }

    /// A checked run over validated `regions` (and the packet of a context run).
    fn run_checked(
        &mut self,
        regions: &mut [MemRegion<'_>],
        mut packet: Option<&mut Packet>,
        mut regs: [u64; 11],
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        if let Some(maps) = &self.maps {
            self.env.check_cpu(maps)?;
        }
        // Every frame is zero at the start of a run, as in the interpreter; only the frames
        // the last run had live can have been written (checked code writes nowhere else).
        self.stack[..self.dirty_frames * STACK_SIZE / 8].fill(0);
        let stack = self.stack.as_mut_ptr().cast::<u8>();
        let fixed = regions.len();
        if self.table_fixed == Some(fixed) {
            // The stack entries (after the regions') stay valid: the stack area never moves.
            regions::update(&mut self.table[..DYN_ENTRIES + fixed], regions);
        } else {
            regions::table(&mut self.table, regions, stack);
            self.table_fixed = Some(fixed);
        }
        let packet_ptr = packet
            .as_deref_mut()
            .map_or(std::ptr::null_mut(), |p| p as *mut Packet);
        self.set_kernel(regions, packet_ptr, stack);
        let base = self.table.as_mut_ptr() as u64;
        let entry_size = REGION_ENTRY_SIZE as u64;
        let first = base + (DYN_ENTRIES as u64) * entry_size;
        regs[10] = stack_base(0) + STACK_SIZE as u64;
        let entry = self.entry_addr();
        let ctx = &mut *self.ctx;
        ctx.regs = regs;
        ctx.helpers = &mut *self.helpers;
        ctx.kernel = &mut *self.kernel;
        ctx.maps = self
            .maps
            .as_ref()
            .map_or(std::ptr::null(), |m| m as *const Maps);
        ctx.fp_limit = stack_base(MAX_CALL_FRAMES - 1) + STACK_SIZE as u64;
        ctx.remaining = options.budget;
        ctx.may_goto_left = options.may_goto_budget;
        ctx.regions = base;
        ctx.cache = first;
        ctx.live_end = first + (fixed as u64 + 1) * entry_size;
        ctx.max_live = ctx.live_end;
        let exit = Self::enter(entry, ctx);
        ctx.kernel = std::ptr::null_mut();
        // The VM's view of the run's buffers must not outlive the run.
        self.kernel.mem = None;
        self.kernel.packet = std::ptr::null_mut();
        let frames_of = |end: u64| ((end - base) / entry_size) as usize - DYN_ENTRIES - fixed;
        self.dirty_frames = frames_of(ctx.max_live);
        if exit.status == 0 {
            return Ok(RunResult {
                r0: exit.r0,
                executed: options.budget - ctx.remaining,
            });
        }
        // A failed callback's state is the error, not the helper call that ran it.
        if ctx.err_kind == kind::HELPER
            && ctx.helper_failed == failed::NESTED
            && let Some(n) = ctx.nested
        {
            ctx.err_kind = n.err_kind;
            ctx.err_index = n.err_index;
            ctx.err_addr = n.err_addr;
            ctx.err_ret = n.err_ret;
            ctx.err_prog = n.err_prog;
            ctx.helper_id = n.helper_id;
            ctx.helper_failed = n.helper_failed;
            ctx.live_end = n.live_end;
        }
        ctx.nested = None;
        let frames = frames_of(ctx.live_end);
        match self.describe_error(options) {
            Described::Error(e) => {
                self.reset_error();
                Err(e)
            }
            Described::Fault {
                pc,
                addr,
                size,
                access,
            } => {
                self.reset_error();
                Err(self.fault(regions, packet, frames, pc, addr, size, access))
            }
        }
    }

    /// Points the kernel state at this run's buffers.
    fn set_kernel(&mut self, regions: &mut [MemRegion<'_>], packet: *mut Packet, stack: *mut u8) {
        let k = &mut *self.kernel;
        k.mem = None;
        // `regions::table`/`update` emptied the dynamic entries.
        k.dyn_filled = 0;
        k.env = &mut self.env;
        k.maps = self
            .maps
            .as_mut()
            .map_or(std::ptr::null_mut(), |m| m as *mut Maps);
        k.packet = packet;
        k.stack = stack;
        k.helpers = self.helpers.kernel_enabled();
        k.regions.clear();
        k.regions.extend(regions.iter_mut().map(|r| RegionMeta {
            base: r.base,
            host: r.data.as_mut_ptr(),
            len: r.data.len(),
            writable: r.writable,
            kind: r.kind,
            name: r.name.clone(),
        }));
        k.units.clear();
        k.units.extend(self.units.iter().map(|u| UnitFuncs {
            code: u.code_addr(),
            callback_entry: u.code_addr() + u.machine.callback_entry as u64,
            offsets: u.machine.insn_offsets.as_ptr(),
            len: u.machine.insn_offsets.len(),
        }));
    }

    /// The interpreter's error for a failed access, made by the interpreter's memory over
    /// the buffers of the run that just ended.
    #[allow(clippy::too_many_arguments)]
    fn fault(
        &mut self,
        regions: &mut [MemRegion<'_>],
        packet: Option<&mut Packet>,
        frames: usize,
        pc: usize,
        addr: u64,
        size: u32,
        access: Access,
    ) -> VmError {
        let regions = reborrow(regions);
        let words: &mut [u64] = &mut self.stack[..];
        // SAFETY: the stack area's `u64`s seen as bytes: same memory, every bit pattern is a
        // valid `u8`, and `words` is not used while the byte view lives.
        let stack =
            unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), STACK_AREA) };
        match ForeignMemory::new(regions, stack, frames, self.maps.as_mut(), packet) {
            Ok(mem) => mem.fault(pc, addr, size, access),
            Err(e) => e,
        }
    }

    /// Runs the program on a program context as the interpreter's
    /// [`Vm::run_context`](bpfvet_vm::Vm::run_context) does (R1 = the context at
    /// [`CONTEXT_BASE`]; packet contexts bring their packet), with the set's maps, kernel
    /// helpers and environment. Checked mode only: the unchecked JIT runs on host addresses,
    /// and contexts hold the interpreter's packet addresses.
    pub fn run_context(&mut self, ctx: &mut Context) -> Result<RunResult, VmError> {
        let options = self.options;
        self.run_context_with(ctx, &options)
    }

    /// [`JitProgram::run_context`] with explicit options.
    pub fn run_context_with(
        &mut self,
        ctx: &mut Context,
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        if !self.checked {
            return Err(VmError::Setup {
                message: "the unchecked JIT cannot run program contexts (their packet \
                          pointers are virtual addresses); use the checked JIT"
                    .into(),
            });
        }
        self.env.redirect = None;
        let parts = ctx.run_parts();
        if let Some(flavor) = parts.redirect_flavor {
            self.env.redirect_flavor = flavor;
        }
        if self.set_state {
            self.prepare_set();
        }
        let mut regions = vec![parts.region];
        regions.extend(parts.objects);
        let mut regs = [0u64; 11];
        regs[1] = CONTEXT_BASE;
        self.run_checked(&mut regions, parts.packet, regs, options)
    }

    /// The environment the kernel helpers see.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The environment, to configure or to collect output from.
    pub fn env_mut(&mut self) -> &mut Env {
        &mut self.env
    }

    /// Unchecked mode with memory helpers: a region table of host ranges (`spans`: address,
    /// length, writable) and the whole stack area, for [`JitMemory`](crate::JitMemory).
    /// Cleared again by the run.
    fn unchecked_table(&mut self, spans: &[(u64, u64, bool)]) {
        let stack = self.stack.as_mut_ptr() as u64;
        self.table_fixed = None;
        self.table.clear();
        self.table.extend(
            spans
                .iter()
                .map(|&(host, len, w)| regions::entry(host, len, w, host)),
        );
        self.table
            .push(regions::entry(stack, STACK_AREA as u64, true, stack));
        let base = self.table.as_mut_ptr() as u64;
        self.ctx.regions = base;
        self.ctx.live_end = base + (self.table.len() * REGION_ENTRY_SIZE as usize) as u64;
    }

    #[inline]
    fn run_unchecked(
        &mut self,
        mut regs: [u64; 11],
        options: &RunOptions,
    ) -> Result<RunResult, VmError> {
        let entry = self.entry_addr();
        let stack = self.stack.as_mut_ptr() as u64;
        if self.direct {
            regs[10] = stack + STACK_SIZE as u64;
            return Ok(RunResult {
                r0: Self::enter_direct(entry, &regs),
                executed: 0,
            });
        }
        let ctx = &mut *self.ctx;
        ctx.regs = regs;
        ctx.regs[10] = stack + STACK_SIZE as u64;
        ctx.fp_limit = stack + STACK_AREA as u64;
        ctx.may_goto_left = options.may_goto_budget;
        ctx.helpers = &mut *self.helpers;
        let exit = Self::enter(entry, ctx);
        // The table (if any) belongs to this run only.
        ctx.regions = 0;
        if exit.status == 0 {
            return Ok(RunResult {
                r0: exit.r0,
                executed: 0,
            });
        }
        Err(self.error_cold(options))
    }

    #[inline]
    fn entry_addr(&self) -> u64 {
        self.entry
    }

    /// Runs the generated code's general entry at `entry` on `ctx`.
    #[cfg(all(target_arch = "x86_64", unix))]
    #[inline]
    fn enter(entry: u64, ctx: &mut RunCtx) -> Exit {
        // SAFETY: `entry` is the general entry function the backend generated for this
        // program, in a live read+execute mapping owned by the program, with the signature
        // the backend contract gives it. The code follows the System V ABI (callee-saved
        // registers restored, stack balanced, 16-byte aligned at calls). It reads and writes
        // only `ctx`, the helper table and helpers (owned by the program, which the caller
        // borrows mutably and does not use during the call), the stack area (likewise) and,
        // in checked mode, the regions of the table in `ctx`, each access bounds-checked
        // against a region borrowed mutably by the caller for this run. In unchecked mode the
        // caller of `new_unchecked` promised the program stays inside its regions and stack.
        unsafe {
            let f: extern "sysv64" fn(*mut RunCtx) -> Exit = std::mem::transmute(entry as usize);
            f(ctx)
        }
    }

    /// Runs the generated code's fast entry at `entry` with R1 = `r1`, R2 = `r2`.
    #[cfg(all(target_arch = "x86_64", unix))]
    #[inline]
    fn enter_fast(entry: u64, r1: u64, r2: u64, ctx: &mut RunCtx) -> Exit {
        // SAFETY: as in `enter`, for the fast entry function, whose signature the backend
        // contract gives as `fn(r1, r2, *mut RunCtx) -> Exit`.
        unsafe {
            let f: extern "sysv64" fn(u64, u64, *mut RunCtx) -> Exit =
                std::mem::transmute(entry as usize);
            f(r1, r2, ctx)
        }
    }

    /// Runs a direct-entry program's general entry at `entry` with registers `regs`.
    #[cfg(all(target_arch = "x86_64", unix))]
    #[inline]
    fn enter_direct(entry: u64, regs: &[u64; 11]) -> u64 {
        // SAFETY: as in `enter`, for the general entry of a direct-entry program, whose
        // signature the backend contract gives as `fn(*const [u64; 11]) -> u64`; such code
        // touches no run context, helper or table, only the stack area and the regions of
        // an unchecked run (as the caller of `new_unchecked` promised).
        unsafe {
            let f: extern "sysv64" fn(*const [u64; 11]) -> u64 =
                std::mem::transmute(entry as usize);
            f(regs)
        }
    }

    /// Runs a direct-entry program's fast entry at `entry` with R1, R2 and R10.
    #[cfg(all(target_arch = "x86_64", unix))]
    #[inline]
    fn enter_direct_fast(entry: u64, r1: u64, r2: u64, r10: u64) -> u64 {
        // SAFETY: as in `enter_direct`, for the fast entry, `fn(r1, r2, r10) -> u64`.
        unsafe {
            let f: extern "sysv64" fn(u64, u64, u64) -> u64 = std::mem::transmute(entry as usize);
            f(r1, r2, r10)
        }
    }

    #[cfg(not(all(target_arch = "x86_64", unix)))]
    fn enter_direct(_: u64, _: &[u64; 11]) -> u64 {
        unreachable!("a JitProgram cannot be built on this host")
    }

    #[cfg(not(all(target_arch = "x86_64", unix)))]
    fn enter_direct_fast(_: u64, _: u64, _: u64, _: u64) -> u64 {
        unreachable!("a JitProgram cannot be built on this host")
    }

    #[cfg(not(all(target_arch = "x86_64", unix)))]
    fn enter(_: u64, _: &mut RunCtx) -> Exit {
        unreachable!("a JitProgram cannot be built on this host")
    }

    #[cfg(not(all(target_arch = "x86_64", unix)))]
    fn enter_fast(_: u64, _: u64, _: u64, _: &mut RunCtx) -> Exit {
        unreachable!("a JitProgram cannot be built on this host")
    }

    /// Clears the context's error fields for the next run.
    fn reset_error(&mut self) {
        let ctx = &mut *self.ctx;
        ctx.err_kind = 0;
        ctx.helper_failed = 0;
        ctx.helper_error = None;
        ctx.vm_error = None;
        ctx.nested = None;
    }

    /// The error of an unchecked run that left through the error exit.
    #[cold]
    #[inline(never)]
    fn error_cold(&mut self, options: &RunOptions) -> VmError {
        let e = match self.describe_error(options) {
            Described::Error(e) => e,
            // Unchecked code checks no access.
            Described::Fault {
                pc,
                addr,
                size,
                access,
            } => regions::fault(&[], pc, addr, size, access),
        };
        self.reset_error();
        e
    }

    /// What went wrong in a run that left through the error exit.
    fn describe_error(&mut self, options: &RunOptions) -> Described {
        let ctx = &mut *self.ctx;
        if self.checked && (ctx.remaining as i64) < 0 {
            // The budget ran out earlier in this straight-line run: any error on the way (and
            // the transfer that ended it) is the budget's, as in the interpreter.
            let unit = &self.units[(ctx.over_prog as usize).min(self.units.len() - 1)];
            let l = &unit.lowered;
            return Described::Error(VmError::BudgetExhausted {
                pc: l.pcs[(ctx.over_index as usize).min(l.len())],
                budget: options.budget,
            });
        }
        let unit = &self.units[(ctx.err_prog as usize).min(self.units.len() - 1)];
        let code_addr = unit.code_addr();
        let l = &unit.lowered;
        let index = ctx.err_index as usize;
        let pc = |i: usize| l.pcs[i.min(l.len())];
        Described::Error(match ctx.err_kind {
            kind::MEMORY => {
                let ret = ctx.err_ret.wrapping_sub(code_addr) as usize;
                let i = unit.machine.check_site(ret).unwrap_or(0);
                let (size, access) = access_of(&l.insns[i]);
                return Described::Fault {
                    pc: pc(i),
                    addr: ctx.err_addr,
                    size,
                    access,
                };
            }
            kind::MISALIGNED => VmError::MisalignedAtomic {
                pc: pc(index),
                addr: ctx.err_addr,
                size: access_of(&l.insns[index]).0,
            },
            kind::CALL_DEPTH => VmError::CallDepth { pc: pc(index) },
            kind::HELPER => {
                let id = match l.insns[index] {
                    Insn::Call(CallKind::Helper(id)) => id as u32 as u64,
                    _ => ctx.helper_id,
                };
                match (ctx.helper_failed, ctx.helper_error.take()) {
                    (failed::ERROR, Some(e)) => VmError::Helper {
                        pc: pc(index),
                        id: id as u32,
                        message: e.0,
                    },
                    (failed::UNAVAILABLE, _) => VmError::UnavailableHelper {
                        pc: pc(index),
                        id: id as u32,
                        name: helper_name(id as i32).unwrap_or("?"),
                        needs: "the checked JIT or the interpreter (the unchecked JIT runs on \
                                host addresses and has only bpf_tail_call)",
                    },
                    (failed::VM, _) => match ctx.vm_error.take() {
                        Some(e) => at_pc(e, pc(index)),
                        None => VmError::UnknownHelper { pc: pc(index), id },
                    },
                    _ => VmError::UnknownHelper { pc: pc(index), id },
                }
            }
            kind::MAP => map_error(self.maps.as_ref(), &l.insns[index], pc(index)),
            _ => insn_error(l, index),
        })
    }
}

/// What [`JitProgram::describe_error`] found.
enum Described {
    Error(VmError),
    /// A failed access, whose error the interpreter's memory describes.
    Fault {
        pc: usize,
        addr: u64,
        size: u32,
        access: Access,
    },
}

/// A VM helper's error (made with pc 0) at the call's `pc`.
/// The same regions, borrowed again for a shorter while.
fn reborrow<'b>(regions: &'b mut [MemRegion<'_>]) -> Vec<MemRegion<'b>> {
    regions
        .iter_mut()
        .map(|r| MemRegion {
            base: r.base,
            data: &mut *r.data,
            writable: r.writable,
            kind: r.kind,
            name: r.name.clone(),
        })
        .collect()
}

fn at_pc(e: VmError, at: usize) -> VmError {
    match e {
        VmError::Helper { id, message, .. } => VmError::Helper {
            pc: at,
            id,
            message,
        },
        VmError::UnavailableHelper {
            id, name, needs, ..
        } => VmError::UnavailableHelper {
            pc: at,
            id,
            name,
            needs,
        },
        VmError::UnknownHelper { id, .. } => VmError::UnknownHelper { pc: at, id },
        VmError::CallDepth { .. } => VmError::CallDepth { pc: at },
        e => e,
    }
}

/// Size and direction of the memory instruction `insn`.
fn access_of(insn: &Insn) -> (u32, Access) {
    let bytes = |s: bpfvet_isa::Size| match s {
        bpfvet_isa::Size::B => 1,
        bpfvet_isa::Size::H => 2,
        bpfvet_isa::Size::W => 4,
        bpfvet_isa::Size::DW => 8,
    };
    match *insn {
        Insn::Load { size, .. } => (bytes(size), Access::Read),
        Insn::Store { size, .. } | Insn::StoreReg { size, .. } | Insn::Atomic { size, .. } => {
            (bytes(size), Access::Write)
        }
        _ => (0, Access::Read),
    }
}

/// The error of an instruction that always fails, or of control running off the end.
fn insn_error(l: &Lowered, index: usize) -> VmError {
    let pc = l.pcs[index.min(l.len())];
    match l.insns.get(index) {
        Some(Insn::LdImm64 { kind, .. }) => VmError::NeedsLoader {
            pc,
            src: kind.src(),
        },
        Some(Insn::LdAbs { .. } | Insn::LdInd { .. }) => VmError::LegacyPacketLoad { pc },
        Some(Insn::AddrSpaceCast { .. }) => VmError::AddrSpaceCast { pc },
        Some(Insn::Call(CallKind::Kfunc { btf_id, off })) => VmError::Kfunc {
            pc,
            btf_id: *btf_id,
            off: *off,
        },
        _ => VmError::FellOffEnd { pc },
    }
}

/// The LD_IMM64 instruction's map index and, for a value reference, byte offset: `None` if
/// `maps` has no such map.
fn map_ref(maps: &Maps, insn: &Insn) -> Option<(usize, Option<u64>)> {
    let Insn::LdImm64 {
        kind,
        imm,
        next_imm,
        ..
    } = *insn
    else {
        return None;
    };
    let by_fd = matches!(kind, Imm64Kind::MapFd | Imm64Kind::MapValue);
    let index = if by_fd {
        maps.resolve_fd(imm)?
    } else {
        Some(imm as u32 as usize).filter(|&i| i < maps.len())?
    };
    let off = matches!(kind, Imm64Kind::MapValue | Imm64Kind::MapIdxValue)
        .then_some(next_imm as u32 as u64);
    Some((index, off))
}

/// The value an LD_IMM64 map reference gives with `maps`, as in the interpreter: a map
/// pointer, or the address of byte `off` of the value of a single-element array (`None`
/// otherwise: the reference fails, see [`map_error`]).
fn map_value(maps: Option<&Maps>, insn: &Insn) -> Option<u64> {
    let maps = maps?;
    match map_ref(maps, insn)? {
        (index, None) => Some(map_ptr(index)),
        (index, Some(off)) => {
            let spec = maps.spec(index)?;
            (spec.map_type == MapType::Array
                && spec.max_entries == 1
                && off < spec.value_size as u64)
                .then(|| map_window(index) + off)
        }
    }
}

/// Why the LD_IMM64 map reference `insn` at `pc` failed, in the interpreter's words.
fn map_error(maps: Option<&Maps>, insn: &Insn, pc: usize) -> VmError {
    let Insn::LdImm64 { kind, imm, .. } = *insn else {
        return VmError::FellOffEnd { pc };
    };
    let Some(maps) = maps else {
        return VmError::NeedsLoader {
            pc,
            src: kind.src(),
        };
    };
    let by_fd = matches!(kind, Imm64Kind::MapFd | Imm64Kind::MapValue);
    let Some((index, off)) = map_ref(maps, insn) else {
        return VmError::Map {
            pc,
            message: format!(
                "LD_IMM64 refers to map {} {}, but the run has {} maps",
                if by_fd { "fd" } else { "index" },
                imm,
                maps.len()
            ),
        };
    };
    let spec = maps.spec(index).expect("map_ref checked the index");
    let off = off.unwrap_or(0);
    if spec.map_type != MapType::Array || spec.max_entries != 1 || off >= spec.value_size as u64 {
        return VmError::Map {
            pc,
            message: format!(
                "LD_IMM64 of byte {off} of map '{}': direct value access needs a single-element \
                 array and an offset below its value size {}",
                spec.name, spec.value_size
            ),
        };
    }
    VmError::Setup {
        message: format!(
            "insn {pc}: LD_IMM64 of map '{}' has no value in this run",
            spec.name
        ),
    }
}
