//! The text of an instruction in the verifier log, exactly as the kernel prints it
//! (`(b7) r0 = 0`, `(79) r1 = *(u64 *)(r10 -8)`), through `bpfvet_isa::kernel_fmt`. Map
//! addresses (which the kernel prints as kernel pointers) use the printer's stand-ins.

use bpfvet_isa::kernel_fmt::{StandInCtx, format_insn_kernel};

use crate::env::VerifyEnv;
use crate::prog::{Code, Slot};

/// `(b7) r0 = 0` for the instruction at `pc`.
pub fn insn_text(code: &Code, pc: usize, env: &VerifyEnv) -> String {
    let ctx = StandInCtx {
        allow_ptr_leaks: env.privileged,
    };
    match &code.slots[pc] {
        Slot::Insn(i) => format_insn_kernel(i, pc, &ctx),
        _ => format!("({:02x})", code.raw[pc].code),
    }
}
