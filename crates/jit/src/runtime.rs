//! The run-time contract between generated code and Rust: the [`RunCtx`] block the code
//! reads and writes (its field offsets are what the backend embeds), the helper table and the
//! `extern "C"` trampolines through which generated code calls Rust closures, and the region
//! table of checked mode.
//!
//! Helper calling convention (any backend): the BPF arguments R1–R5 are the first five integer
//! arguments of the platform C ABI and the result comes back as the C return value. The sixth
//! argument is the [`RunCtx`] pointer; plain C helpers ignore it, trampolines use it to find
//! their closure ([`RunCtx::helper_data`]) and to report failures ([`RunCtx::helper_failed`]).

use std::collections::HashMap;
use std::mem::offset_of;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bpfvet_vm::HelperError;

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
    /// The instruction budget ran out entering the block at `err_index` (checked mode).
    pub const BUDGET: u64 = 3;
    /// A bpf-to-bpf call at `err_index` would make a ninth frame.
    pub const CALL_DEPTH: u64 = 4;
    /// The helper called at `err_index` failed (`helper_failed`, `helper_id`).
    pub const HELPER: u64 = 5;
    /// The instruction at `err_index` always fails (it needs the loader, a kfunc, ...), or
    /// `err_index` is the end of the program (control fell off it).
    pub const INSN: u64 = 6;
}

/// Values of `RunCtx::helper_failed`.
pub(crate) mod failed {
    /// The helper returned an error, stored in `RunCtx::helper_error`.
    pub const ERROR: u64 = 1;
    /// No helper has the id in `RunCtx::helper_id`.
    pub const UNKNOWN: u64 = 2;
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
    /// The error of a failed helper (Rust only; generated code never touches it).
    pub helper_error: Option<HelperError>,
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
            helper_error: None,
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

/// The registered helpers, and the table of the static helper ids a program calls (one slot
/// per id, at a fixed address generated code embeds).
pub(crate) struct Helpers {
    by_id: HashMap<u32, Helper>,
    /// Whether some registered helper is a memory helper.
    memory: bool,
    ids: Vec<u32>,
    table: Box<[TableEntry]>,
}

impl Helpers {
    /// Helpers for a program whose static calls use `ids` (slot `i` = `ids[i]`).
    pub fn new(ids: &[u32]) -> Helpers {
        let unknown = TableEntry {
            func: unknown_trampoline as *const () as u64,
            data: 0,
        };
        Helpers {
            by_id: HashMap::new(),
            memory: false,
            ids: ids.to_vec(),
            table: vec![unknown; ids.len()].into_boxed_slice(),
        }
    }

    /// Address of the table (stable for the life of `self`).
    pub fn table_addr(&self) -> u64 {
        self.table.as_ptr() as u64
    }

    fn entry(h: &mut Helper) -> TableEntry {
        match h {
            Helper::Extern(f) => TableEntry {
                func: *f as *const () as u64,
                data: 0,
            },
            Helper::Boxed(b) => TableEntry {
                func: boxed_trampoline as *const () as u64,
                data: &mut **b as *mut BoxedHelper as u64,
            },
            Helper::Memory(b) => TableEntry {
                func: memory_trampoline as *const () as u64,
                data: &mut **b as *mut MemoryHelper as u64,
            },
        }
    }

    fn insert(&mut self, id: u32, mut h: Helper) {
        let entry = Helpers::entry(&mut h);
        if let Some(slot) = self.ids.iter().position(|&i| i == id) {
            self.table[slot] = entry;
        }
        // The old helper (if any) is dropped only after the table no longer points at it.
        self.by_id.insert(id, h);
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

/// R0 for a helper's outcome; a failure or panic is recorded in `ctx` for the error exit.
fn finish_call(outcome: std::thread::Result<Result<u64, HelperError>>, ctx: &mut RunCtx) -> u64 {
    let outcome = outcome.unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(HelperError(format!("helper panicked: {what}")))
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
    // stores in `helper_data` the `data` word of a table entry made by `Helpers::entry` from
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
    let helper = u32::try_from(ctx.helper_id)
        .ok()
        .and_then(|id| helpers.by_id.get_mut(&id));
    match helper {
        Some(Helper::Extern(f)) => f(a, b, c, d, e),
        Some(Helper::Boxed(f)) => call_boxed(f, [a, b, c, d, e], ctx),
        Some(Helper::Memory(f)) => call_memory(f, [a, b, c, d, e], ctx),
        None => {
            ctx.helper_failed = failed::UNKNOWN;
            0
        }
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
