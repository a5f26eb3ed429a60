//! The text of an instruction in the verifier log, exactly as the kernel prints it
//! (`(b7) r0 = 0`, `(79) r1 = *(u64 *)(r10 -8)`), through `bpfvet_isa::kernel_fmt`. Map
//! addresses (which the kernel prints as kernel pointers) use the printer's stand-ins; kfunc
//! calls are named from the kernel BTF (`call bpf_iter_num_next#64245`).

use bpfvet_isa::kernel_fmt::{KernelFmtCtx, StandInCtx, format_insn_kernel};

use crate::env::VerifyEnv;
use crate::prog::{Code, Slot};

/// The printer's context: stand-ins, plus kfunc names from the kernel BTF.
struct Ctx<'a> {
    env: &'a VerifyEnv,
}

impl KernelFmtCtx for Ctx<'_> {
    fn kfunc_name(&self, _pc: usize, btf_id: i32, off: i16) -> Option<&str> {
        let btf = &self.env.kernel_btf.as_ref()?.0;
        if off != 0 || btf_id <= 0 {
            return None;
        }
        let name = btf.name(bpfvet_btf::TypeId(btf_id as u32));
        (!name.is_empty()).then_some(name)
    }

    fn allow_ptr_leaks(&self) -> bool {
        self.env.privileged
    }
}

/// `(b7) r0 = 0` for the instruction at `pc`.
pub fn insn_text(code: &Code, pc: usize, env: &VerifyEnv) -> String {
    match &code.slots[pc] {
        Slot::Insn(i) if env.kernel_btf.is_some() => format_insn_kernel(i, pc, &Ctx { env }),
        Slot::Insn(i) => format_insn_kernel(
            i,
            pc,
            &StandInCtx {
                allow_ptr_leaks: env.privileged,
            },
        ),
        _ => format!("({:02x})", code.raw[pc].code),
    }
}
