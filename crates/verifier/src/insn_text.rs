//! The text of an instruction in the verifier log: `(op) disassembly`.

use bpfvet_isa::Dialect;
use bpfvet_isa::disasm::format_insn;

use crate::env::VerifyEnv;
use crate::prog::{Code, Slot};

/// `(b7) r0 = 0` for the instruction at `pc`.
pub fn insn_text(code: &Code, pc: usize, _env: &VerifyEnv) -> String {
    let op = code.raw[pc].code;
    match &code.slots[pc] {
        Slot::Insn(i) => format!("({op:02x}) {}", format_insn(i, Dialect::Llvm)),
        _ => format!("({op:02x})"),
    }
}
