//! `bpfvet-jit`: compiles BPF programs to x86-64 machine code with the semantics of the
//! `bpfvet-vm` interpreter, and [`Engine`], which runs a program on either.
//!
//! - [`JitProgram::new`] compiles in *checked* mode: registers hold the interpreter's virtual
//!   addresses, every load, store and atomic is checked against the same regions as the
//!   interpreter's, atomics must be aligned and the instruction budget applies, so results,
//!   memory and errors match the interpreter's, even for programs no verifier has seen.
//! - [`JitProgram::new_unchecked`] (unsafe) compiles like the kernel's JIT after its verifier:
//!   host pointers in registers, no checks. That is the fast mode.
//!
//! Both modes share the kernel's arithmetic (division by zero, `INT_MIN / -1`, masked shifts,
//! zero-extension), helpers called through the C ABI (R1–R5 kept across the call, as the
//! interpreter keeps them), bpf-to-bpf calls with a 512-byte stack per frame and at most eight
//! frames, and `may_goto`. Code is mapped W^X and unmapped on drop. The x86-64 backend sits
//! behind the [`Backend`] trait; other hosts get [`JitError::Unavailable`] (the arm64 section of
//! the repository's `ARCHITECTURE.md` describes an arm64 backend).
//!
//! Code generation: BPF registers live in the kernel's fixed x86-64 registers; register
//! liveness lets register-only instructions whose result is never read emit nothing; idioms
//! spanning instructions get one sequence (multiplication by small constants, rotates, a copy
//! plus a constant as one `lea`, a shifted index added to a base as one `lea`, a sum used
//! only as the base of the accesses that follow folded into their addressing, a range check
//! `x < A || x > B` as one compare, an `==` chain on small constants as one bit test); a
//! `goto` to a conditional jump takes a copy of it; loop heads are 64-byte aligned. A
//! program with no calls, no `may_goto`, no map references and nothing that can fail runs
//! unchecked through a *direct* entry: no run context, only the callee-saved registers it
//! uses are saved, and `exit` returns R0 to the caller. Checked mode keeps the budget in a
//! register and checks each access with a short subroutine that tries the last region first.
//! [`JitProgram::dump`] lists the x86-64 under each BPF instruction.
//!
//! Program sets and tail calls: like the interpreter's `Vm`, a [`JitProgram`] holds program
//! 0 and the programs added with [`JitProgram::add_program`], each compiled to its own code,
//! and a map set ([`JitProgram::set_maps`]) that LD_IMM64 map references resolve against.
//! With [`JitProgram::enable_kernel_helpers`], helper 12 is `bpf_tail_call` with the
//! interpreter's semantics: the next program starts in the same frame with every register
//! and the stack as they are; an out-of-range index, an empty entry or the 33rd call falls
//! through with R0 unchanged. In checked mode every other kernel helper is the interpreter's
//! own implementation, run on the same memory (map values, packets, the stack), and
//! [`JitProgram::run_context`] runs program contexts (XDP, socket buffers, tracing) as
//! [`Vm::run_context`](bpfvet_vm::Vm::run_context) does; `kernel.rs` says how.
//!
//! Differences from the interpreter: unchecked mode runs on host addresses (a program that
//! returns a pointer returns a host address), does not count instructions (`executed` is 0)
//! and does not clear the stack between runs (verified programs never read uninitialised
//! stack). Helpers that need the program's memory implement their access through
//! [`HelperMemory`], which both engines provide ([`Engine::register_helper_with_memory`]).
//!
//! ```
//! use bpfvet_isa::{asm, Dialect, Program};
//! use bpfvet_jit::{Engine, EngineKind};
//!
//! let text = "
//!     mov %r0, 0
//! loop:
//!     jeq %r2, 0, done
//!     ldxb %r3, [%r1]
//!     add %r0, %r3
//!     add %r1, 1
//!     sub %r2, 1
//!     ja loop
//! done:
//!     mov %r1, %r0
//!     call 5
//!     exit
//! ";
//! let prog = Program::from_insns(asm::assemble(text, Dialect::Ubpf).unwrap());
//! for kind in [EngineKind::Interpreter, EngineKind::Jit] {
//!     let mut engine = match Engine::new(&prog, kind) {
//!         Ok(e) => e,
//!         Err(e) => { assert!(!bpfvet_jit::available()); continue; } // not an x86-64 host
//!     };
//!     engine.register_helper(5, |args: [u64; 5]| Ok(args[0] * 10));
//!     assert_eq!(engine.run(&mut [1, 2, 3]).unwrap(), 60);
//! }
//! ```

// Without an x86-64 backend the code generation and trampolines are never reached.
#![cfg_attr(
    not(all(target_arch = "x86_64", unix)),
    allow(dead_code, unused_imports)
)]

mod backend;
mod dump;
mod engine;
mod error;
mod kernel;
mod liveness;
mod lower;
mod memory;
mod program;
mod regions;
mod runtime;

#[cfg(all(target_arch = "x86_64", unix))]
mod exec_mem;
pub mod x64;

pub use backend::{AsmLine, Backend, CodeEnv, CodegenOptions, MachineCode};
pub use engine::{Engine, EngineKind};
pub use error::JitError;
pub use lower::{Lowered, lower};
pub use memory::{HelperMemory, JitMemory};
pub use program::{JitProgram, available};
pub use runtime::ExternHelper;

impl JitProgram {
    /// The generated code as a listing: each BPF instruction followed by its x86-64.
    pub fn dump(&self) -> String {
        dump::listing::<x64::X64>(self)
    }
}
