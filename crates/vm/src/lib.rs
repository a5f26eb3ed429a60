//! `bpfvet-vm`: a checked BPF interpreter with the Linux kernel's semantics (RFC 9669, v1–v4).
//!
//! A [`Vm`] pre-decodes a [`bpfvet_isa::Program`] into a compact array of specialised
//! operations with resolved jump targets, then runs it over a register file and a set of
//! memory regions. Registers hold virtual addresses (the stack of frame `n` at
//! [`stack_base`]`(n)`, the input memory at [`INPUT_BASE`]); every load, store and atomic is
//! checked against the live regions, and a violation stops the run with an error naming the
//! instruction, the address, the access size and the nearest region. No `unsafe` code.
//!
//! What the VM does, in short:
//! - ALU, jumps, loads (also sign-extending), stores and atomics as the kernel does them:
//!   division by zero gives 0, modulo by zero leaves dst, `INT_MIN / -1` wraps, shift amounts
//!   are masked, 32-bit results are zero-extended, atomics must be naturally aligned
//!   (other accesses need not be, as on x86).
//! - Helpers by id ([`Vm::register_helper`]): R1–R5 in, R0 out; R1–R5 are left unchanged
//!   after the call, as the kernel's interpreter does (the verifier forbids reading them).
//!   `callx reg` calls the helper whose id is in `reg`, as the conformance suite expects.
//! - bpf-to-bpf calls: up to [`MAX_CALL_FRAMES`] frames, each with its own 512-byte stack;
//!   R6–R9 are restored on return.
//! - An instruction budget ([`RunOptions::budget`], default 10,000,000 executed
//!   instructions; exceeding it stops the run with "instruction budget of N exhausted"). It is
//!   charged at control transfers, so the error names exactly the first instruction beyond
//!   the budget, but straight-line instructions after it (never a helper call) may already
//!   have run.
//! - `may_goto` falls through until it has done so [`RunOptions::may_goto_budget`] times in
//!   a run (default 8,388,608 = 8 Mi, the kernel's `BPF_MAX_LOOPS`), then always jumps.
//! - Maps ([`maps`]): a [`Maps`] set given to the VM ([`Vm::set_maps`] or
//!   [`Vm::run_with_maps`]) resolves `LD_IMM64 map_fd/map_idx/map_value/map_idx_value`;
//!   map values, keys and reserved ring buffer records are memory at stable addresses in
//!   each map's window above [`MAP_VALUE_BASE`], bounds-checked like everything else.
//! - Kernel helpers ([`Vm::enable_kernel_helpers`]): map operations, tail calls through
//!   prog arrays (at most [`MAX_TAIL_CALLS`], across a set of programs added with
//!   [`Vm::add_program`]), `bpf_loop` and `bpf_for_each_map_elem` callbacks
//!   (`LD_IMM64 func(...)` gives a function address at [`FUNC_BASE`]), clocks, random
//!   numbers, the current task, `trace_printk`/`snprintf`, ring buffers, perf events, probe
//!   reads, `csum_diff`, redirects — configured and collected through the [`Env`]. A kernel
//!   helper the VM cannot provide fails with [`VmError::UnavailableHelper`], naming it.
//! - Program contexts ([`context`], [`Vm::run_context`]): `struct xdp_md` and
//!   `struct __sk_buff` over packet buffers (below 4 GiB at [`PACKET_BASE`], so the 32-bit
//!   `data`/`data_end` fields hold real pointers), kprobe `pt_regs`, tracepoint records, raw
//!   tracepoint arguments and perf events, built as `BPF_PROG_TEST_RUN` builds them; the
//!   packet helpers (`skb_load/store_bytes`, `l3/l4_csum_replace`, `xdp_adjust_*`,
//!   `skb_change_*`, ...) and LD_ABS/LD_IND work on them. [`pcap`] reads and writes captures.
//! - Not yet: BTF-id LD_IMM64, kfuncs and `addr_space_cast` decode but fail with a clear
//!   error when executed.
//!
//! ```
//! use bpfvet_isa::{asm, Dialect, Program};
//! use bpfvet_vm::Vm;
//!
//! // Sum the input bytes, then pass the sum through helper 5.
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
//! let bytes = Program::from_insns(asm::assemble(text, Dialect::Ubpf).unwrap()).encode();
//! let prog = Program::decode(&bytes).unwrap();
//!
//! let mut vm = Vm::new(&prog).unwrap();
//! vm.register_helper(5, |args: [u64; 5]| Ok(args[0] * 10));
//! let mut mem = vec![1u8, 2, 3];
//! assert_eq!(vm.run(&mut mem).unwrap(), 60);
//!
//! // Out-of-bounds accesses are caught and explained.
//! let bad = asm::assemble("ldxdw %r0, [%r1+8]\nexit", Dialect::Ubpf).unwrap();
//! let mut vm = Vm::new(&Program::from_insns(bad)).unwrap();
//! let err = vm.run(&mut [0u8; 12]).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "insn 0: out-of-bounds read of 8 bytes at 0x200000008: \
//!      input region is 0x200000000..0x20000000c (12 bytes)"
//! );
//! ```

//!
//! Maps and kernel helpers: a program counting its runs in an array map.
//!
//! ```
//! use bpfvet_isa::{asm, Dialect, Program};
//! use bpfvet_vm::{MapSpec, MapType, Maps, RunOptions, Vm};
//!
//! let text = "
//!     r1 = 0
//!     *(u32 *)(r10 - 4) = r1
//!     r2 = r10
//!     r2 += -4
//!     r1 = map_idx(0) ll
//!     call bpf_map_lookup_elem
//!     if r0 == 0 goto out
//!     r1 = 1
//!     lock *(u64 *)(r0 + 0) += r1
//! out:
//!     r0 = 0
//!     exit
//! ";
//! let prog = Program::from_insns(asm::assemble(text, Dialect::Llvm).unwrap());
//! let mut maps = Maps::new();
//! let counts = maps.create(MapSpec::new("counts", MapType::Array, 4, 8, 1)).unwrap();
//!
//! let mut vm = Vm::new(&prog).unwrap();
//! vm.enable_kernel_helpers();
//! for _ in 0..3 {
//!     vm.run_with_maps(vec![], [0; 10], &mut maps, &RunOptions::default()).unwrap();
//! }
//! assert_eq!(maps.lookup(counts, &0u32.to_le_bytes()).unwrap(), 3u64.to_le_bytes());
//! ```

#![forbid(unsafe_code)]

mod alu;
mod calls;
pub mod context;
mod env;
mod error;
mod exec;
pub mod foreign;
mod helpers;
pub mod maps;
mod memory;
pub mod pcap;
mod predecode;
mod vm;

pub use calls::MAX_TAIL_CALLS;
pub use context::{Context, ContextError, ContextKind, ContextObject, ContextRun, Packet, SkbKind};
pub use env::{Clock, Env, Redirect, RedirectFlavor, RedirectKind, Task, TraceRecord};
pub use error::{Access, RegionInfo, VmError};
pub use helpers::{
    ArgMemory, CONFORMANCE_HELPER_ID, HelperContext, HelperError, HelperFn, conformance_helpers,
    format_printk,
};
pub use maps::{MapDump, MapEntry, MapError, MapSpec, MapType, Maps};
pub use memory::{
    CONTEXT_BASE, FUNC_BASE, INPUT_BASE, MAP_VALUE_BASE, MemRegion, PACKET_BASE, RegionKind,
    STACK_BASE, STACK_FRAME_SPACING, STACK_SIZE, stack_base,
};
pub use vm::{DEFAULT_BUDGET, DEFAULT_MAY_GOTO_BUDGET, RunOptions, RunResult, Vm};

/// Maximum number of call frames (the entry function counts as one), as in the kernel.
pub const MAX_CALL_FRAMES: usize = 8;
