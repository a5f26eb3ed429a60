//! The interface between the target-independent parts of the JIT (analysis, run-time
//! context, regions, errors) and a code generator for one architecture.
//!
//! A backend turns a [`Lowered`] program into position-independent machine code that follows
//! the contract of `runtime.rs`: entry functions `fn(*mut RunCtx) -> Exit` (registers from the
//! context) and `fn(r1, r2, *mut RunCtx) -> Exit` (R1, R2 as arguments, R3–R9 zero), where
//! `Exit` is `(status, R0)` (status 0 = exit, 1 = error exit with `RunCtx::err_kind` set),
//! helpers called through the platform C ABI with the context as sixth argument, one label per
//! BPF instruction (a direct-entry program has simpler entries, see
//! [`CodegenOptions::direct`]). x86-64 is the only backend so
//! far; `ARCHITECTURE.md` (the arm64 section) describes how an arm64 one maps onto the same contract.

use crate::error::JitError;
use crate::lower::Lowered;

/// What code generation depends on besides the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodegenOptions {
    /// Emit bounds checks, alignment checks for atomics and budget metering; registers hold the
    /// interpreter's virtual addresses.
    pub checked: bool,
    /// Direct entry (unchecked, self-contained programs only, see
    /// [`Lowered::self_contained`]): the entry functions are `fn(regs: *const [u64; 11]) ->
    /// u64` and `fn(r1, r2, r10) -> u64`, returning R0; they save only the callee-saved
    /// registers the program uses, set up no run context, and `exit` returns straight to
    /// the caller.
    pub direct: bool,
}

/// Absolute addresses generated code may embed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeEnv {
    /// The helper table (one 16-byte entry per static helper slot).
    pub helper_table: u64,
    /// The trampoline `callx` calls.
    pub callx: u64,
    /// The program's index in its set (error stubs record it).
    pub program: u32,
    /// The program's map table: one u64 per map reference (`Lowered::map_refs`), the value
    /// the LD_IMM64 gives, or 0 if it fails in this run.
    pub map_table: u64,
    /// Checked mode: the function a bounds check calls when no live region holds an access,
    /// `extern "sysv64" fn(ctx, addr, size, write) -> host address or 0` (it finds packet
    /// and map memory; see `kernel.rs`).
    pub resolve: u64,
    /// The function LD_ABS/LD_IND call, `extern "sysv64" fn(ctx, offset, size) -> (status,
    /// value)`: status 0 with the value, 1 out of bounds, 2 without a packet.
    pub ld_abs: u64,
}

/// Generated machine code and the maps the run time and the disassembly need.
#[derive(Clone, Debug, Default)]
pub struct MachineCode {
    /// The code, position independent.
    pub bytes: Vec<u8>,
    /// Offset of the general entry function, `fn(*mut RunCtx) -> Exit`.
    pub entry: usize,
    /// Offset of the fast entry function, `fn(r1, r2, *mut RunCtx) -> Exit`.
    pub fast_entry: usize,
    /// Offset of the code of each BPF instruction; entry `len` is the code for control
    /// running off the end, after which only out-of-line code follows.
    pub insn_offsets: Vec<usize>,
    /// Offset of the out-of-line code (error stubs, check subroutines).
    pub out_of_line: usize,
    /// Offset of the entry functions' epilogue that the error exit takes (it pops what the
    /// entry pushed and returns); the error exits of the other programs of a set continue
    /// at program 0's.
    pub exit_pops: usize,
    /// Whether the entries are direct (see [`CodegenOptions::direct`]).
    pub direct: bool,
    /// Offset of the callback entry, `fn(*mut RunCtx, target) -> Exit` (not for direct
    /// entries): runs the function whose code starts at address `target` with R1–R5 and R10
    /// from `RunCtx::regs` (R0, R6–R9 zero), saving and restoring the context's entry stack
    /// pointer and error epilogue, so the callback's error exit returns here.
    pub callback_entry: usize,
    /// Checked mode: return offsets of the bounds-check calls, sorted, with the index of the
    /// instruction that made each.
    pub check_sites: Vec<(usize, usize)>,
}

impl MachineCode {
    /// The instruction whose bounds check returns to code offset `ret`.
    pub fn check_site(&self, ret: usize) -> Option<usize> {
        self.check_sites
            .binary_search_by_key(&ret, |&(o, _)| o)
            .ok()
            .map(|i| self.check_sites[i].1)
    }
}

/// One line of a disassembly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmLine {
    /// Offset in the code.
    pub offset: usize,
    /// The instruction's bytes.
    pub bytes: Vec<u8>,
    /// The instruction in Intel syntax.
    pub text: String,
}

/// A code generator for one architecture.
pub trait Backend {
    /// The architecture's name, as messages show it.
    const NAME: &'static str;

    /// Compiles `prog`, which `crate::lower::lower` accepted.
    fn compile(
        prog: &Lowered,
        opts: &CodegenOptions,
        env: &CodeEnv,
    ) -> Result<MachineCode, JitError>;

    /// Disassembles `code`, numbering offsets from 0 and showing addresses as if the code
    /// started at `ip`.
    fn disassemble(code: &[u8], ip: u64) -> Vec<AsmLine>;
}
