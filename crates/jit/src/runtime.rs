//! The run-time contract between generated code and Rust: the [`RunCtx`] block the code
//! reads and writes (its field offsets are what the backend embeds), the helper table and the
//! `extern "C"` trampolines through which generated code calls Rust closures, and the region
//! table of checked mode.
//!
//! Helper calling convention (any backend): the BPF arguments R1–R5 are the first five integer
//! arguments of the platform C ABI and the result comes back as the C return value. The sixth
//! argument is the [`RunCtx`] pointer; plain C helpers ignore it, trampolines use it to find
//! their closure ([`RunCtx::helper_data`]) and to report failures ([`RunCtx::helper_failed`]).
//!
//! Tail calls: at a call that may be a tail call (helper 12, `callx`) generated code first
//! stores R0 in `regs[0]`; the tail-call trampoline returns it (R0 is unchanged) and, when the
//! call goes ahead, leaves the address of the next program's first instruction in
//! [`RunCtx::tail_target`], where the code looks after the call and jumps.

use std::collections::HashMap;
use std::mem::offset_of;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bpfvet_isa::helpers::helper_name;
use bpfvet_vm::{HelperError, MAX_TAIL_CALLS, MapType, Maps};

use crate::lower::TAIL_CALL_ID;

use crate::memory::JitMemory;

/// A helper called directly through the platform C ABI: R1–R5 in, R0 out. It cannot fail.
pub type ExternHelper = extern "C" fn(u64, u64, u64, u64, u64) -> u64;

/// A helper closure, as [`bpfvet_vm::Vm::register_helper`] takes them.
pub(crate) type BoxedHelper = Box<dyn FnMut([u64; 5]) -> Result<u64, HelperError>>;

/// A helper closure with access to the program's memory.
pub(crate) type MemoryHelper =
    Box<dyn FnMut(&mut JitMemory<'_>, [u64; 5]) -> Result<u64, HelperError>>;

/// What the entry functions return (in rax:rdx): 0 for a normal exit with R0 in `r0`, 1 for
/// the error exit.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exit {
    pub status: u64,
    pub r0: u64,
}

/// Why generated code left through the error exit (`RunCtx::err_kind`).
pub(crate) mod kind {
    /// A memory access outside every live region (checked mode): `err_addr`, `err_ret`.
    pub const MEMORY: u64 = 1;
    /// A misaligned atomic (checked mode): `err_addr`, `err_index`.
    pub const MISALIGNED: u64 = 2;
    /// The instruction budget ran out (checked mode): `over_index` of program `over_prog`
    /// is the first instruction beyond it.
    pub const BUDGET: u64 = 3;
    /// A bpf-to-bpf call at `err_index` would make a ninth frame.
    pub const CALL_DEPTH: u64 = 4;
    /// The helper called at `err_index` failed (`helper_failed`, `helper_id`).
    pub const HELPER: u64 = 5;
    /// The instruction at `err_index` always fails (it needs the loader, a kfunc, ...), or
    /// `err_index` is the end of the program (control fell off it).
    pub const INSN: u64 = 6;
    /// The map reference (LD_IMM64) at `err_index` has no value for this run.
    pub const MAP: u64 = 7;
}

/// Values of `RunCtx::helper_failed`.
pub(crate) mod failed {
    /// The helper returned an error, stored in `RunCtx::helper_error`.
    pub const ERROR: u64 = 1;
    /// No helper has the id in `RunCtx::helper_id`.
    pub const UNKNOWN: u64 = 2;
    /// A kernel helper the JIT does not implement (id in `RunCtx::helper_id`).
    pub const UNAVAILABLE: u64 = 3;
    /// A VM helper failed with the error in `RunCtx::vm_error` (its pc is fixed up later).
    pub const VM: u64 = 4;
    /// A callback (`bpf_loop`, `for_each_map_elem`) took the error exit; its error state is
    /// in `RunCtx::nested`.
    pub const NESTED: u64 = 5;
}

/// The error state of a run, saved when a callback fails so the calling code's own error
/// exit does not overwrite it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ErrState {
    pub err_kind: u64,
    pub err_index: u64,
    pub err_addr: u64,
    pub err_ret: u64,
    pub err_prog: u64,
    pub helper_id: u64,
    pub helper_failed: u64,
    pub live_end: u64,
}

/// The per-run state shared with generated code. Generated code keeps a pointer to it in a
/// callee-saved register for the whole run.
#[repr(C)]
pub(crate) struct RunCtx {
    /// R0–R10 on entry; R0 on a normal exit.
    pub regs: [u64; 11],
    /// The native stack pointer after the entry prologue, restored by the error exit.
    pub entry_rsp: u64,
    /// R10 of the eighth frame: a call made with R10 at or above it fails.
    pub fp_limit: u64,
    /// Instruction budget left (checked mode).
    pub remaining: u64,
    /// `may_goto` fall-throughs left.
    pub may_goto_left: u64,
    /// Id of the helper being called.
    pub helper_id: u64,
    /// The helper table's `data` word of the helper being called.
    pub helper_data: u64,
    /// Set by trampolines when a helper fails (see [`failed`]).
    pub helper_failed: u64,
    /// See [`kind`].
    pub err_kind: u64,
    pub err_index: u64,
    pub err_addr: u64,
    /// Return address of the failed memory-check call.
    pub err_ret: u64,
    /// Checked mode: one past the last live [`RegionEntry`].
    pub live_end: u64,
    /// Checked mode: the first [`RegionEntry`].
    pub regions: u64,
    /// Checked mode: the entry that served the last access.
    pub cache: u64,
    /// Checked mode: the highest `live_end` of the run (how many stacks it used).
    pub max_live: u64,
    /// The helpers, for trampolines.
    pub helpers: *mut Helpers,
    /// The program of the set whose code took the error exit (except memory faults, found
    /// from `err_ret`).
    pub err_prog: u64,
    /// Checked mode, once the budget has run out: the first instruction beyond it and its
    /// program (see `x64` on the budget's overdraft).
    pub over_index: u64,
    pub over_prog: u64,
    /// Tail calls made so far in this run.
    pub tail_calls: u64,
    /// Set by the tail-call trampoline: where the code continues (0: no tail call).
    pub tail_target: u64,
    /// The run's maps (null without maps).
    pub maps: *const Maps,
    /// The first instruction's address of each program of the set.
    pub mains: *const u64,
    /// Number of programs in the set.
    pub n_progs: u64,
    /// Where the error exit of a program entered by a tail call continues: program 0's
    /// epilogue, which restores what its entry saved.
    pub exit_pops: u64,
    /// The error of a failed helper (Rust only; generated code never touches it).
    pub helper_error: Option<HelperError>,
    /// Checked mode: the state kernel helpers and the memory resolver work on (null in
    /// unchecked runs).
    pub kernel: *mut crate::kernel::KernelRun,
    /// The error of a failed VM helper, with pc 0 (Rust only).
    pub vm_error: Option<bpfvet_vm::VmError>,
    /// The error state of the innermost failed callback (Rust only).
    pub nested: Option<ErrState>,
}

/// Byte offsets of [`RunCtx`] fields, for code generation.
pub(crate) mod off {
    use super::*;
    pub const REGS: i32 = offset_of!(RunCtx, regs) as i32;
    pub const ENTRY_RSP: i32 = offset_of!(RunCtx, entry_rsp) as i32;
    pub const FP_LIMIT: i32 = offset_of!(RunCtx, fp_limit) as i32;
    pub const REMAINING: i32 = offset_of!(RunCtx, remaining) as i32;
    pub const MAY_GOTO: i32 = offset_of!(RunCtx, may_goto_left) as i32;
    pub const HELPER_ID: i32 = offset_of!(RunCtx, helper_id) as i32;
    pub const HELPER_DATA: i32 = offset_of!(RunCtx, helper_data) as i32;
    pub const HELPER_FAILED: i32 = offset_of!(RunCtx, helper_failed) as i32;
    pub const ERR_KIND: i32 = offset_of!(RunCtx, err_kind) as i32;
    pub const ERR_INDEX: i32 = offset_of!(RunCtx, err_index) as i32;
    pub const ERR_ADDR: i32 = offset_of!(RunCtx, err_addr) as i32;
    pub const ERR_RET: i32 = offset_of!(RunCtx, err_ret) as i32;
    pub const LIVE_END: i32 = offset_of!(RunCtx, live_end) as i32;
    pub const REGIONS: i32 = offset_of!(RunCtx, regions) as i32;
    pub const CACHE: i32 = offset_of!(RunCtx, cache) as i32;
    pub const MAX_LIVE: i32 = offset_of!(RunCtx, max_live) as i32;
    pub const ERR_PROG: i32 = offset_of!(RunCtx, err_prog) as i32;
    pub const TAIL_TARGET: i32 = offset_of!(RunCtx, tail_target) as i32;
    pub const EXIT_POPS: i32 = offset_of!(RunCtx, exit_pops) as i32;
    pub const OVER_INDEX: i32 = offset_of!(RunCtx, over_index) as i32;
    pub const OVER_PROG: i32 = offset_of!(RunCtx, over_prog) as i32;
}

impl RunCtx {
    pub fn new(regs: [u64; 11], helpers: *mut Helpers) -> RunCtx {
        RunCtx {
            regs,
            entry_rsp: 0,
            fp_limit: 0,
            remaining: 0,
            may_goto_left: 0,
            helper_id: 0,
            helper_data: 0,
            helper_failed: 0,
            err_kind: 0,
            err_index: 0,
            err_addr: 0,
            err_ret: 0,
            live_end: 0,
            regions: 0,
            cache: 0,
            max_live: 0,
            helpers,
            err_prog: 0,
            over_index: 0,
            over_prog: 0,
            tail_calls: 0,
            tail_target: 0,
            maps: std::ptr::null(),
            mains: std::ptr::null(),
            n_progs: 0,
            exit_pops: 0,
            helper_error: None,
            kernel: std::ptr::null_mut(),
            vm_error: None,
            nested: None,
        }
    }
}

/// One memory region as checked-mode code sees it: an access of `1 << k` bytes at virtual
/// address `a` is allowed when `lo[k] <= a <= lim[k]` (and `writable` for stores); the host
/// address is then `a + delta`. Sizes that do not fit the region have `lo > lim`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RegionEntry {
    pub lo: [u64; 4],
    pub lim: [u64; 4],
    pub writable: u64,
    pub delta: u64,
}

/// Byte offsets of [`RegionEntry`] fields, for code generation.
pub(crate) mod region_off {
    use super::*;
    pub const LO: i32 = offset_of!(RegionEntry, lo) as i32;
    pub const LIM: i32 = offset_of!(RegionEntry, lim) as i32;
    pub const WRITABLE: i32 = offset_of!(RegionEntry, writable) as i32;
    pub const DELTA: i32 = offset_of!(RegionEntry, delta) as i32;
}

/// Size of a [`RegionEntry`] in bytes.
pub(crate) const REGION_ENTRY_SIZE: i32 = std::mem::size_of::<RegionEntry>() as i32;

/// One entry of the helper table: the function generated code calls and the word it stores
/// into [`RunCtx::helper_data`] first.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableEntry {
    pub func: u64,
    pub data: u64,
}

/// Size of a [`TableEntry`] in bytes.
pub(crate) const TABLE_ENTRY_SIZE: i32 = std::mem::size_of::<TableEntry>() as i32;

enum Helper {
    Extern(ExternHelper),
    Boxed(Box<BoxedHelper>),
    Memory(Box<MemoryHelper>),
}

/// The registered helpers, and for each program of the set the table of the static helper
/// ids it calls (one slot per id, at a fixed address its code embeds).
pub(crate) struct Helpers {
    by_id: HashMap<u32, Helper>,
    /// Whether some registered helper is a memory helper.
    memory: bool,
    /// Whether ids nobody registered get the kernel's helper (`bpf_tail_call`; the other
    /// kernel helpers are unavailable under the JIT).
    kernel: bool,
    tables: Vec<(Vec<u32>, Box<[TableEntry]>)>,
}

/// A table entry calling `f` with no closure.
fn plain(f: usize) -> TableEntry {
    TableEntry {
        func: f as u64,
        data: 0,
    }
}

impl Helpers {
    pub fn new() -> Helpers {
        Helpers {
            by_id: HashMap::new(),
            memory: false,
            kernel: false,
            tables: Vec::new(),
        }
    }

    /// Adds the table of a program whose static calls use `ids` (slot `i` = `ids[i]`);
    /// returns its address (stable for the life of `self`).
    pub fn add_table(&mut self, ids: &[u32]) -> u64 {
        let unknown = plain(unknown_trampoline as *const () as usize);
        let table = vec![unknown; ids.len()].into_boxed_slice();
        let addr = table.as_ptr() as u64;
        self.tables.push((ids.to_vec(), table));
        self.refresh();
        addr
    }

    /// Replaces the table of program `index` (after a recompilation).
    pub fn replace_table(&mut self, index: usize, ids: &[u32]) -> u64 {
        let unknown = plain(unknown_trampoline as *const () as usize);
        let table = vec![unknown; ids.len()].into_boxed_slice();
        let addr = table.as_ptr() as u64;
        self.tables[index] = (ids.to_vec(), table);
        self.refresh();
        addr
    }

    /// The table entry generated code calls for helper `id`.
    fn entry_for(&mut self, id: u32) -> TableEntry {
        match self.by_id.get_mut(&id) {
            Some(Helper::Extern(f)) => plain(*f as usize),
            Some(Helper::Boxed(b)) => TableEntry {
                func: boxed_trampoline as *const () as u64,
                data: &mut **b as *mut BoxedHelper as u64,
            },
            Some(Helper::Memory(b)) => TableEntry {
                func: memory_trampoline as *const () as u64,
                data: &mut **b as *mut MemoryHelper as u64,
            },
            None if self.kernel && id == TAIL_CALL_ID => {
                plain(tail_trampoline as *const () as usize)
            }
            None if self.kernel && helper_name(id as i32).is_some() => TableEntry {
                func: crate::kernel::kernel_trampoline as *const () as u64,
                data: id as u64,
            },
            None => plain(unknown_trampoline as *const () as usize),
        }
    }

    /// Recomputes every table entry.
    fn refresh(&mut self) {
        for t in 0..self.tables.len() {
            for k in 0..self.tables[t].0.len() {
                let entry = self.entry_for(self.tables[t].0[k]);
                self.tables[t].1[k] = entry;
            }
        }
    }

    fn insert(&mut self, id: u32, h: Helper) {
        // The old helper (if any) is dropped only after the tables no longer point at it.
        let old = self.by_id.insert(id, h);
        self.refresh();
        drop(old);
        self.memory = self.by_id.values().any(|h| matches!(h, Helper::Memory(_)));
    }

    pub fn insert_boxed(&mut self, id: u32, f: BoxedHelper) {
        self.insert(id, Helper::Boxed(Box::new(f)));
    }

    pub fn insert_memory(&mut self, id: u32, f: MemoryHelper) {
        self.insert(id, Helper::Memory(Box::new(f)));
    }

    /// Whether some helper needs the region table (in unchecked mode it is built only then).
    #[inline]
    pub fn wants_memory(&self) -> bool {
        self.memory
    }

    pub fn insert_extern(&mut self, id: u32, f: ExternHelper) {
        self.insert(id, Helper::Extern(f));
    }

    pub fn contains(&self, id: u32) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Serves ids nobody registered with the kernel's helpers (see [`Helpers::kernel`]).
    pub fn enable_kernel(&mut self) {
        self.kernel = true;
        self.refresh();
    }

    pub fn kernel_enabled(&self) -> bool {
        self.kernel
    }
}

/// Address of the trampoline `callx` goes through (it looks the id up at run time).
pub(crate) fn callx_trampoline_addr() -> u64 {
    callx_trampoline as *const () as u64
}

fn call_boxed(f: &mut BoxedHelper, args: [u64; 5], ctx: &mut RunCtx) -> u64 {
    let outcome = catch_unwind(AssertUnwindSafe(|| f(args)));
    finish_call(outcome, ctx)
}

fn call_memory(f: &mut MemoryHelper, args: [u64; 5], ctx: &mut RunCtx) -> u64 {
    let live: &[RegionEntry] = if ctx.regions == 0 {
        &[]
    } else {
        let n = (ctx.live_end - ctx.regions) as usize / std::mem::size_of::<RegionEntry>();
        // SAFETY: `regions..live_end` are the live entries of the table the run set up
        // (`JitProgram`'s `table`, not touched while the generated code runs); generated code
        // only moves `live_end` within it.
        unsafe { std::slice::from_raw_parts(ctx.regions as *const RegionEntry, n) }
    };
    let mut mem = JitMemory::new(live);
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut mem, args)));
    finish_call(outcome, ctx)
}

/// The text a caught panic carries (empty when it is not a string).
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// R0 for a helper's outcome; a failure or panic is recorded in `ctx` for the error exit.
fn finish_call(outcome: std::thread::Result<Result<u64, HelperError>>, ctx: &mut RunCtx) -> u64 {
    let outcome = outcome.unwrap_or_else(|p| {
        Err(HelperError(format!(
            "helper panicked: {}",
            panic_message(p.as_ref())
        )))
    });
    match outcome {
        Ok(v) => v,
        Err(e) => {
            ctx.helper_failed = failed::ERROR;
            ctx.helper_error = Some(e);
            0
        }
    }
}

/// Calls the closure `ctx.helper_data` points at.
extern "C" fn boxed_trampoline(a: u64, b: u64, c: u64, d: u64, e: u64, ctx: *mut RunCtx) -> u64 {
    // SAFETY: generated code passes the context of the run in progress (created by
    // `JitProgram::run_raw`, which holds no other reference to it during the call), and
    // stores in `helper_data` the `data` word of a table entry made by `Helpers::entry_for` from
    // a boxed helper that `Helpers` keeps alive while the program (and so this run) exists.
    let (ctx, f) = unsafe {
        let ctx = &mut *ctx;
        let f = &mut *(ctx.helper_data as *mut BoxedHelper);
        (ctx, f)
    };
    call_boxed(f, [a, b, c, d, e], ctx)
}

/// Calls the memory helper `ctx.helper_data` points at.
extern "C" fn memory_trampoline(a: u64, b: u64, c: u64, d: u64, e: u64, ctx: *mut RunCtx) -> u64 {
    // SAFETY: as in `boxed_trampoline`, for an entry made from a boxed memory helper.
    let (ctx, f) = unsafe {
        let ctx = &mut *ctx;
        let f = &mut *(ctx.helper_data as *mut MemoryHelper);
        (ctx, f)
    };
    call_memory(f, [a, b, c, d, e], ctx)
}

/// The table entry of a static helper id nobody registered.
extern "C" fn unknown_trampoline(_: u64, _: u64, _: u64, _: u64, _: u64, ctx: *mut RunCtx) -> u64 {
    // SAFETY: as in `boxed_trampoline`, `ctx` is the context of the run in progress.
    let ctx = unsafe { &mut *ctx };
    ctx.helper_failed = failed::UNKNOWN;
    0
}

/// `callx`: calls the helper whose id generated code stored in `ctx.helper_id`.
extern "C" fn callx_trampoline(a: u64, b: u64, c: u64, d: u64, e: u64, ctx: *mut RunCtx) -> u64 {
    // SAFETY: as in `boxed_trampoline`; `ctx.helpers` points at the program's `Helpers`,
    // which `run_raw` holds through `&mut self` and does not touch during the call.
    let (ctx, helpers) = unsafe {
        let ctx = &mut *ctx;
        let helpers = &mut *ctx.helpers;
        (ctx, helpers)
    };
    let id = u32::try_from(ctx.helper_id).ok();
    let kernel = helpers.kernel;
    match id.and_then(|id| helpers.by_id.get_mut(&id)) {
        Some(Helper::Extern(f)) => f(a, b, c, d, e),
        Some(Helper::Boxed(f)) => call_boxed(f, [a, b, c, d, e], ctx),
        Some(Helper::Memory(f)) => call_memory(f, [a, b, c, d, e], ctx),
        None if kernel && id == Some(TAIL_CALL_ID) => tail_call(ctx, b, c),
        None if kernel && id.is_some_and(|id| helper_name(id as i32).is_some()) => {
            crate::kernel::kernel_call(ctx, ctx.helper_id, [a, b, c, d, e])
        }
        None => {
            ctx.helper_failed = failed::UNKNOWN;
            0
        }
    }
}

/// `bpf_tail_call(ctx, prog_array, index)`, the static helper-table entry.
extern "C" fn tail_trampoline(
    _: u64,
    map: u64,
    index: u64,
    _: u64,
    _: u64,
    ctx: *mut RunCtx,
) -> u64 {
    // SAFETY: as in `boxed_trampoline`, `ctx` is the context of the run in progress.
    let ctx = unsafe { &mut *ctx };
    tail_call(ctx, map, index)
}

/// `bpf_tail_call` with the interpreter's semantics: falls through (R0 unchanged) when the
/// index is out of range, the run already made [`MAX_TAIL_CALLS`] tail calls or the entry is
/// empty (an attempt on an empty entry still counts); otherwise sets `tail_target`. Returns
/// R0 as the code stored it before the call.
fn tail_call(ctx: &mut RunCtx, map: u64, index: u64) -> u64 {
    let r0 = ctx.regs[0];
    match tail_target(ctx, map, index as u32) {
        Ok(Some(target)) => ctx.tail_target = target,
        Ok(None) => {}
        Err(message) => {
            ctx.helper_failed = failed::ERROR;
            ctx.helper_error = Some(HelperError(message));
        }
    }
    r0
}

fn tail_target(ctx: &mut RunCtx, map: u64, index: u32) -> Result<Option<u64>, String> {
    // In a checked run the maps are reached through the VM's view of the run's memory (the
    // one owner of them while the run lasts).
    // SAFETY: `ctx.kernel` is null or the run's kernel state; this tail-call lookup is the
    // only Rust code using it until it returns.
    let maps = match unsafe { crate::kernel::run_maps(ctx.kernel) } {
        Some(m) => m,
        // SAFETY: `maps` is null or points at the program's maps, which the run borrows and
        // does not touch while generated code (suspended in this call) runs.
        None => unsafe { ctx.maps.as_ref() }.ok_or("the run has no maps")?,
    };
    let m = maps
        .index_from_ptr(map)
        .ok_or_else(|| format!("{map:#x} is not a map pointer"))?;
    let spec = maps.spec(m).ok_or("bad map index")?;
    if spec.map_type != MapType::ProgArray {
        return Err(format!(
            "bpf_tail_call on map '{}', which is not a prog array",
            spec.name
        ));
    }
    if index >= spec.max_entries || ctx.tail_calls >= MAX_TAIL_CALLS as u64 {
        return Ok(None);
    }
    ctx.tail_calls += 1;
    let Ok(value) = maps.lookup(m, &index.to_le_bytes()) else {
        return Ok(None);
    };
    let p = value.get(..4).map_or(u32::MAX, |v| {
        u32::from_le_bytes(v.try_into().expect("4 bytes"))
    });
    if (p as u64) < ctx.n_progs {
        // SAFETY: `mains` points at `n_progs` addresses owned by the program set, unchanged
        // during the run.
        Ok(Some(unsafe { *ctx.mains.add(p as usize) }))
    } else {
        Err(format!(
            "prog array entry {index} holds program {p}, but the VM has {} programs",
            ctx.n_progs
        ))
    }
}

/// How far R10 moves on a bpf-to-bpf call: to the next frame's virtual stack in checked mode
/// (as in the interpreter), to the next 512 bytes of the host stack area otherwise.
pub(crate) const fn frame_step(checked: bool) -> u64 {
    if checked {
        bpfvet_vm::STACK_FRAME_SPACING
    } else {
        bpfvet_vm::STACK_SIZE as u64
    }
}
