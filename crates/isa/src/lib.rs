//! `bpfvet-isa`: the BPF instruction set of RFC 9669 (v1–v4) and the kernel's extensions, as a
//! typed model ([`Insn`]) with an exact decoder and encoder, an assembler and a disassembler in
//! two dialects (`llvm`, the syntax of llvm-objdump and the kernel log; `ubpf`, the syntax of
//! uBPF, rbpf and the conformance suite), and the table of helper names.
//!
//! This crate depends on nothing and does no IO.
//!
//! ```
//! use bpfvet_isa::{asm, Dialect, Program};
//! let insns = asm::assemble("r0 = 42\nexit\n", Dialect::Llvm).unwrap();
//! let bytes = Program::from_insns(insns).encode();
//! let prog = Program::decode(&bytes).unwrap();
//! assert_eq!(bpfvet_isa::disasm::format_insn(&prog.insns()[0], Dialect::Llvm), "r0 = 42");
//! ```

pub mod asm;
pub mod conformance;
pub mod decode;
pub mod disasm;
pub mod encode;
pub mod helpers;
pub mod insn;
pub mod kernel_fmt;
pub mod opcode;
pub mod program;
pub mod raw;
pub mod uapi;

pub use decode::{DecodeError, DecodeErrorKind, decode_one};
pub use encode::encode_program;
pub use insn::{AluOp, AtomicOp, CallKind, Cond, EndianOp, Imm64Kind, Insn, Reg, Size, Src, Width};
pub use program::Program;
pub use raw::RawInsn;

/// The two assembly dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// `r0 = 42`, `if r1 s> 3 goto +5`: llvm-objdump, llvm-mc and the kernel verifier log.
    #[default]
    Llvm,
    /// `mov %r0, 42`, `jsgt %r1, 3, +5`: uBPF, rbpf and the conformance suite.
    Ubpf,
}
