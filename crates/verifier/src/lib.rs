//! `bpfvet-verifier`: the BPF verifier. Abstract interpretation of a program over register
//! and stack states (tnums, bounds, pointer types) that proves memory and type safety before
//! anything runs, with the kernel's verdicts and messages.
//!
//! Entry point: [`verify`] on a [`Code`] (raw instruction slots) and a [`VerifyEnv`] (program
//! type, maps, license, log level). The static passes (`cfg`) run first, then the exploration
//! (`explore`) steps instructions (`step`, `alu`, `mem`, `jmp`, `calls`) over states (`state`,
//! `reg`, `stack`) with scalar values from the domains (`tnum`, `scalar`), pruning with
//! checkpoints (`prune`) and writing the kernel-format log (`log`).

pub mod alu;
mod backedge;
pub mod calls;
pub mod cfg;
pub mod data;
pub mod env;
pub mod error;
pub mod explore;
pub mod global;
pub mod insn_text;
pub mod iter;
pub mod jmp;
pub mod kfunc;
pub mod kfunc_table;
pub mod liveness;
pub mod log;
pub mod mem;
pub mod precision;
pub mod prog;
pub mod prune;
pub mod ptype;
pub mod reg;
pub mod scalar;
pub mod sig;
pub mod sigtable;
pub mod stack;
mod stack_live;
pub mod state;
pub mod step;
pub mod tnum;

pub use env::{KernelBtf, MapInfo, VerifyEnv};
pub use error::{Errno, VerifyError};
pub use explore::{Outcome, Stats, verify};
pub use prog::Code;
