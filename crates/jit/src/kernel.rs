//! The interpreter's kernel helpers, maps and packets under the checked JIT.
//!
//! Checked code holds the interpreter's virtual addresses, so the JIT and the VM can share
//! memory as it is: for each run, [`KernelRun`] points at the buffers the interpreter would
//! use (the caller's regions, the stack area, the maps, the packet, the environment).
//!
//! - Helpers: every kernel helper id goes through [`kernel_trampoline`], which lends these
//!   buffers to the VM as a [`ForeignMemory`] and runs the VM's own implementation. The
//!   callback helpers (`bpf_loop`, `bpf_for_each_map_elem`) run the VM's loop through
//!   [`CallbackHost`], whose `call` enters the JIT's code again through the callback entry of
//!   the unit holding the function (one frame deeper, as in the interpreter).
//! - Memory: packet and map memory are not in the fixed region table. An access that misses
//!   every live region calls [`resolve`], which asks the packet window and the maps (the same
//!   checks as the interpreter's) and caches the whole packet window or map element in one
//!   of the table's first [`DYN_ENTRIES`] entries, so the next accesses to it stay inline.
//!   Helpers may move the packet or grow a map's storage, so every kernel helper call empties
//!   those entries; a program re-reads `data`/`data_end` from the context after such
//!   helpers (the verifier makes it), and the helpers keep the context's fields current.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bpfvet_vm::foreign::{
    CallbackHost, ForeignMemory, KernelHelper, bpf_loop, for_each_map_elem, kernel_helper,
};
use bpfvet_vm::{
    Env, FUNC_BASE, MAX_CALL_FRAMES, Maps, MemRegion, Packet, RegionKind, STACK_SIZE, VmError,
    stack_base,
};

use crate::regions;
use crate::runtime::{ErrState, Exit, REGION_ENTRY_SIZE, RegionEntry, RunCtx, failed};

/// Table entries (at the start of the checked-mode table) that cache packet windows and map
/// elements.
pub(crate) const DYN_ENTRIES: usize = 4;

/// Bytes of the stack area.
const STACK_AREA: usize = MAX_CALL_FRAMES * STACK_SIZE;

/// A caller region of the current run, as the VM's helpers see it.
#[derive(Debug)]
pub(crate) struct RegionMeta {
    pub base: u64,
    pub host: *mut u8,
    pub len: usize,
    pub writable: bool,
    pub kind: RegionKind,
    pub name: Cow<'static, str>,
}

/// Where a function of the set lives in native code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnitFuncs {
    /// Address of the unit's code.
    pub code: u64,
    /// Address of the unit's callback entry, `fn(*mut RunCtx, target) -> Exit`.
    pub callback_entry: u64,
    /// The unit's instruction offsets (`MachineCode::insn_offsets`) and their number.
    pub offsets: *const usize,
    pub len: usize,
}

/// What kernel helpers and the memory resolver work on during one checked run. Owned by the
/// `JitProgram` (boxed, so its address is stable); the pointers are set before each run and
/// are valid until it ends.
pub(crate) struct KernelRun {
    pub env: *mut Env,
    /// Null without maps.
    pub maps: *mut Maps,
    /// Null without a packet.
    pub packet: *mut Packet,
    /// The stack area (`MAX_CALL_FRAMES * STACK_SIZE` bytes).
    pub stack: *mut u8,
    /// The caller's regions (their entries follow the dynamic ones in the table).
    pub regions: Vec<RegionMeta>,
    /// The units of the set, by program index.
    pub units: Vec<UnitFuncs>,
    /// Whether the kernel helpers are enabled (else only memory is resolved).
    pub helpers: bool,
    /// The dynamic entry the next resolution fills.
    next_dyn: usize,
    /// The dynamic entries filled since they were last emptied, one bit each.
    pub dyn_filled: u8,
    /// The run's memory as the VM sees it, made from the pointers above on first use and
    /// dropped by `JitProgram::run_checked` as soon as the generated code returns (its
    /// `'static` is a lie the run's end makes true: nothing keeps it past the run).
    pub mem: Option<ForeignMemory<'static>>,
}

impl KernelRun {
    pub fn new() -> KernelRun {
        KernelRun {
            env: std::ptr::null_mut(),
            maps: std::ptr::null_mut(),
            packet: std::ptr::null_mut(),
            stack: std::ptr::null_mut(),
            regions: Vec::new(),
            units: Vec::new(),
            helpers: false,
            next_dyn: 0,
            dyn_filled: 0,
            mem: None,
        }
    }
}

/// An entry no access fits.
pub(crate) fn empty_entry() -> RegionEntry {
    RegionEntry {
        lo: [u64::MAX; 4],
        lim: [0; 4],
        writable: 0,
        delta: 0,
    }
}

/// Empties the dynamic entries of the table at `ctx.regions` that the resolver filled.
fn forget_dynamic(ctx: &mut RunCtx) {
    // SAFETY: `kernel_call` checked the pointer: the run's kernel state, referenced nowhere
    // else while Rust code runs for the call.
    let k = unsafe { &mut *ctx.kernel };
    let table = ctx.regions as *mut RegionEntry;
    for i in (0..DYN_ENTRIES).filter(|i| k.dyn_filled & (1 << i) != 0) {
        // SAFETY: in a checked run with kernel state the table at `ctx.regions` starts with
        // `DYN_ENTRIES` dynamic entries (`JitProgram::run_checked` builds it so); the
        // generated code is suspended in a call, so nothing reads them meanwhile.
        unsafe { table.add(i).write(empty_entry()) };
    }
    k.dyn_filled = 0;
}

/// Stack frames live in the run (from the table's live end).
fn live_frames(ctx: &RunCtx, k: &KernelRun) -> usize {
    let entries = (ctx.live_end - ctx.regions) as usize / REGION_ENTRY_SIZE as usize;
    entries.saturating_sub(DYN_ENTRIES + k.regions.len())
}

/// Checked mode: the host address for an access of `size` bytes at `addr` that no live
/// region of the table holds, found in the packet window or the maps as the interpreter
/// finds it (0 if neither holds it). Caches what it found in a dynamic entry and makes that
/// entry the checker's first guess.
pub(crate) extern "sysv64" fn resolve(ctx: *mut RunCtx, addr: u64, size: u64, write: u64) -> u64 {
    // SAFETY: generated code passes the context of the run in progress, which no Rust code
    // holds a reference to while the code runs.
    let ctx = unsafe { &mut *ctx };
    catch_unwind(AssertUnwindSafe(|| resolve_in(ctx, addr, size, write != 0))).unwrap_or(0)
}

fn resolve_in(ctx: &mut RunCtx, addr: u64, size: u64, write: bool) -> u64 {
    // SAFETY: `kernel` is null or points at the program's `KernelRun`, set up for this run;
    // nothing else references it while the generated code runs.
    let Some(k) = (unsafe { ctx.kernel.as_mut() }) else {
        return 0;
    };
    let fits = |base: u64, len: usize| {
        addr.checked_sub(base)
            .and_then(|off| off.checked_add(size))
            .is_some_and(|end| end <= len as u64)
    };
    let Ok(mem) = memory(k) else {
        return 0;
    };
    let mut found = None;
    if let Some(p) = mem.packet_mut() {
        let (base, bytes) = p.window_mut();
        if fits(base, bytes.len()) {
            found = Some((base, bytes.as_mut_ptr(), bytes.len(), true));
        }
    }
    if found.is_none()
        && let Some(m) = mem.maps_mut()
        && let Some((base, bytes, writable)) = m.element_span(addr)
        && fits(base, bytes.len())
        && (writable || !write)
    {
        found = Some((base, bytes.as_mut_ptr(), bytes.len(), writable));
    }
    match found {
        Some((base, host, len, writable)) => cache(ctx, k, base, host, len, writable, addr),
        None => 0,
    }
}

/// The maps of a checked run with kernel state, through the VM's view of its memory.
///
/// # Safety
///
/// `kernel` is null or the run's kernel state, referenced nowhere else while the returned
/// borrow lives (Rust code running for a call from the generated code).
pub(crate) unsafe fn run_maps<'a>(kernel: *mut KernelRun) -> Option<&'a Maps> {
    // SAFETY: the caller's promise.
    let k = unsafe { kernel.as_mut() }?;
    memory(k).ok()?.maps_mut().map(|m| &*m)
}

/// The run's memory as the VM sees it (made on first use, see [`KernelRun::mem`]).
fn memory(k: &mut KernelRun) -> Result<&mut ForeignMemory<'static>, VmError> {
    let mem = match k.mem.take() {
        Some(m) => m,
        None => {
            let regions = k.regions.iter().map(|m| MemRegion {
                base: m.base,
                // SAFETY: `host` and `len` describe a slice the caller of the run lent
                // mutably for the run (`RegionMeta` is made from it at the start), and
                // `run_checked` drops this memory before that loan ends. Rust code touches the
                // slice only through this memory, and only while the generated code is
                // suspended in a call; the generated code's own accesses go through pointers
                // Rust handed to opaque native code, never at the same time.
                data: unsafe { std::slice::from_raw_parts_mut(m.host, m.len) },
                writable: m.writable,
                kind: m.kind,
                name: m.name.clone(),
            });
            // SAFETY: the program's stack area of `STACK_AREA` bytes, under the same rules as
            // the regions above.
            let stack = unsafe { std::slice::from_raw_parts_mut(k.stack, STACK_AREA) };
            // SAFETY: null or the run's maps and packet (owned by the program or lent by the
            // caller for the run), under the same rules as the regions above.
            let (maps, packet) = unsafe { (k.maps.as_mut(), k.packet.as_mut()) };
            ForeignMemory::new(regions, stack, 1, maps, packet)?
        }
    };
    Ok(k.mem.insert(mem))
}

/// LD_ABS/LD_IND for generated code: `size` big-endian bytes at `offset` of the run's
/// packet, by the interpreter's rules. Returns (0, value), (1, 0) out of bounds, or (2, 0)
/// when the run has no packet.
pub(crate) extern "sysv64" fn ld_abs(ctx: *mut RunCtx, offset: u64, size: u64) -> Exit {
    // SAFETY: generated code passes the context of the run in progress; `kernel` is null or
    // the run's kernel state, which nothing else references while the generated code runs.
    let k = unsafe { ctx.as_ref().and_then(|c| c.kernel.as_mut()) };
    let packet = k.and_then(|k| memory(k).ok()).and_then(|m| m.packet_mut());
    match packet.map(|p| p.ld_abs(offset as u32 as i32, size as usize)) {
        Some(Some(v)) => Exit { status: 0, r0: v },
        Some(None) => Exit { status: 1, r0: 0 },
        None => Exit { status: 2, r0: 0 },
    }
}

/// Fills the next dynamic entry with `len` bytes at virtual `base`, host `host`; returns the
/// host address of `addr`.
fn cache(
    ctx: &mut RunCtx,
    k: &mut KernelRun,
    base: u64,
    host: *mut u8,
    len: usize,
    writable: bool,
    addr: u64,
) -> u64 {
    let i = k.next_dyn;
    k.next_dyn = (i + 1) % DYN_ENTRIES;
    k.dyn_filled |= 1 << i;
    let entry = regions::entry(base, len as u64, writable, host as u64);
    let slot = ctx.regions + (i * REGION_ENTRY_SIZE as usize) as u64;
    // SAFETY: as in `forget_dynamic`: entry `i < DYN_ENTRIES` of the run's table.
    unsafe { (slot as *mut RegionEntry).write(entry) };
    ctx.cache = slot;
    addr.wrapping_add(entry.delta)
}

/// The table entry of every kernel helper id nobody registered (except `bpf_tail_call`):
/// the helper id is the entry's data word.
pub(crate) extern "C" fn kernel_trampoline(
    a: u64,
    b: u64,
    c: u64,
    d: u64,
    e: u64,
    ctx: *mut RunCtx,
) -> u64 {
    // SAFETY: generated code passes the context of the run in progress (created by
    // `JitProgram`, which holds no other reference to it during the call).
    let ctx = unsafe { &mut *ctx };
    let id = ctx.helper_data;
    kernel_call(ctx, id, [a, b, c, d, e])
}

/// Runs kernel helper `id` for the generated code; a failure is recorded in `ctx` for the
/// error exit.
pub(crate) fn kernel_call(ctx: &mut RunCtx, id: u64, args: [u64; 5]) -> u64 {
    if ctx.kernel.is_null() {
        // Unchecked code holds host addresses, which the VM's helpers cannot work on.
        ctx.helper_failed = failed::UNAVAILABLE;
        return 0;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| dispatch(ctx, id, args)));
    forget_dynamic(ctx);
    let outcome = outcome.unwrap_or_else(|p| {
        let what = crate::runtime::panic_message(p.as_ref());
        Err(VmError::Helper {
            pc: 0,
            id: id as u32,
            message: format!("helper panicked: {what}"),
        })
    });
    match outcome {
        Ok(v) => v,
        Err(_) if ctx.nested.is_some() => {
            ctx.helper_failed = failed::NESTED;
            0
        }
        Err(e) => {
            ctx.helper_failed = failed::VM;
            ctx.vm_error = Some(e);
            0
        }
    }
}

fn dispatch(ctx: &mut RunCtx, id: u64, args: [u64; 5]) -> Result<u64, VmError> {
    match kernel_helper(id) {
        KernelHelper::Loop => bpf_loop(&mut Host { ctx }, args, 0),
        KernelHelper::ForEachMapElem => for_each_map_elem(&mut Host { ctx }, args, 0),
        _ => {
            // SAFETY: checked by `kernel_call`: the run's kernel state.
            let k = unsafe { &mut *ctx.kernel };
            let frames = live_frames(ctx, k);
            with_memory(k, frames, |mem, env| mem.call_helper(env, id, args, 0))?
        }
    }
}

/// The run's memory as the VM sees it, with `frames` live stack frames, and the environment.
fn with_memory<R>(
    k: &mut KernelRun,
    frames: usize,
    f: impl FnOnce(&mut ForeignMemory<'_>, &mut Env) -> R,
) -> Result<R, VmError> {
    // SAFETY: the run's environment, owned by the program and referenced nowhere else while
    // Rust code runs for the helper call.
    let env = unsafe { &mut *k.env };
    let mem = memory(k)?;
    mem.set_frames(frames);
    Ok(f(mem, env))
}

/// The JIT as the VM's [`CallbackHost`]: callbacks run the generated code of the function.
struct Host<'a> {
    ctx: &'a mut RunCtx,
}

impl Host<'_> {
    fn kernel(&mut self) -> &mut KernelRun {
        // SAFETY: `kernel_call` checked the pointer: the run's kernel state, referenced
        // nowhere else while Rust code runs for the helper call.
        unsafe { &mut *self.ctx.kernel }
    }

    /// The native address of function `func` and the callback entry of its unit.
    fn native(&mut self, func: u64) -> Option<(u64, u64)> {
        let off = func.checked_sub(FUNC_BASE)?;
        let (prog, low) = ((off >> 32) as usize, off & 0xffff_ffff);
        let u = *self.kernel().units.get(prog)?;
        let t = (low / 8) as usize;
        if !low.is_multiple_of(8) || t >= u.len.saturating_sub(1) {
            return None;
        }
        // SAFETY: `offsets` points at the unit's `len` instruction offsets, owned by the
        // program and unchanged during the run.
        let at = unsafe { *u.offsets.add(t) };
        Some((u.code + at as u64, u.callback_entry))
    }
}

impl CallbackHost for Host<'_> {
    fn maps(&mut self) -> Option<&mut Maps> {
        // The returned borrow ends before any callback runs (both take `&mut self`).
        memory(self.kernel()).ok()?.maps_mut()
    }

    fn cpu(&self) -> usize {
        // SAFETY: the run's environment (see `kernel`), only read here.
        unsafe { (*(*self.ctx.kernel).env).cpu as usize }
    }

    fn depth(&self) -> usize {
        // SAFETY: the run's kernel state, only read here.
        let k = unsafe { &*self.ctx.kernel };
        live_frames(self.ctx, k).saturating_sub(1)
    }

    fn is_function(&self, func: u64) -> bool {
        let off = func.wrapping_sub(FUNC_BASE);
        // SAFETY: the run's kernel state, only read here.
        let units = unsafe { &(*self.ctx.kernel).units };
        func >= FUNC_BASE
            && off.is_multiple_of(8)
            && units
                .get((off >> 32) as usize)
                .is_some_and(|u| (((off & 0xffff_ffff) / 8) as usize) < u.len.saturating_sub(1))
    }

    fn call(&mut self, func: u64, args: [u64; 5]) -> Result<u64, VmError> {
        let (target, entry) = self.native(func).ok_or_else(|| VmError::Helper {
            pc: 0,
            id: 0,
            message: format!("{func:#x} is not the address of a function of the program"),
        })?;
        let depth = self.depth() + 1;
        let ctx = &mut *self.ctx;
        let saved_regs = ctx.regs;
        ctx.regs = [0; 11];
        ctx.regs[1..6].copy_from_slice(&args);
        ctx.regs[10] = stack_base(depth) + STACK_SIZE as u64;
        // One more live stack frame, as a bpf-to-bpf call makes.
        ctx.live_end += REGION_ENTRY_SIZE as u64;
        ctx.max_live = ctx.max_live.max(ctx.live_end);
        let exit = enter_callback(entry, ctx, target);
        if exit.status != 0 && ctx.nested.is_none() {
            ctx.nested = Some(ErrState {
                err_kind: ctx.err_kind,
                err_index: ctx.err_index,
                err_addr: ctx.err_addr,
                err_ret: ctx.err_ret,
                err_prog: ctx.err_prog,
                helper_id: ctx.helper_id,
                helper_failed: ctx.helper_failed,
                live_end: ctx.live_end,
            });
        }
        ctx.live_end -= REGION_ENTRY_SIZE as u64;
        ctx.cache = ctx.regions;
        ctx.regs = saved_regs;
        ctx.err_kind = 0;
        ctx.helper_failed = 0;
        if exit.status == 0 {
            Ok(exit.r0)
        } else {
            // The real error waits in `ctx.nested`; this one only stops the VM's loop.
            Err(VmError::Setup {
                message: "a callback failed".into(),
            })
        }
    }
}

/// Runs the callback entry `entry` of a unit: the function at `target` with R1–R5 and R10
/// from `ctx.regs`.
#[cfg(all(target_arch = "x86_64", unix))]
fn enter_callback(entry: u64, ctx: &mut RunCtx, target: u64) -> Exit {
    // SAFETY: `entry` is the callback entry the backend generated for a unit of this
    // program, in a live executable mapping the program owns, with the signature
    // `fn(*mut RunCtx, target) -> Exit` (System V), and `target` the start of a function's
    // code in that unit. Like the main entry, it saves and restores the callee-saved
    // registers and the context fields it changes, and the code touches only memory the
    // checked region table allows (see `JitProgram::enter`).
    unsafe {
        let f: extern "sysv64" fn(*mut RunCtx, u64) -> Exit = std::mem::transmute(entry as usize);
        f(ctx, target)
    }
}

#[cfg(not(all(target_arch = "x86_64", unix)))]
fn enter_callback(_: u64, _: &mut RunCtx, _: u64) -> Exit {
    unreachable!("a JitProgram cannot be built on this host")
}
