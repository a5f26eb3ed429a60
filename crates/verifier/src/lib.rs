//! `bpfvet-verifier`: the BPF verifier. Abstract interpretation of a program over register
//! and stack states (tnums, bounds, pointer types) that proves memory and type safety before
//! anything runs, with the kernel's verdicts and messages.

pub mod cfg;
pub mod env;
pub mod error;
pub mod helpers;
pub mod prog;
pub mod progtypes;
pub mod scalar;
pub mod tnum;
