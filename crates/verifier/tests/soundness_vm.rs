//! Soundness against the interpreter: every random program the verifier accepts runs on the
//! checked interpreter, with random context contents, without tripping a memory check (out of
//! bounds, read-only, misaligned atomic), falling off the end, or exceeding the call depth.

mod common;

use bpfvet_isa::Program;
use bpfvet_verifier::{Code, VerifyEnv, verify};
use bpfvet_vm::{CONTEXT_BASE, MemRegion, RegionKind, RunOptions, Vm, VmError};
use common::program;
use proptest::prelude::*;

/// `struct __sk_buff` is 192 bytes.
const CTX_SIZE: usize = 192;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn accepted_programs_run_safely(slots in program(), ctx_seed in any::<u64>()) {
        let code = Code::new(slots);
        let env = VerifyEnv::new(1);
        let out = verify(&code, &env);
        if !out.accepted() {
            return Ok(());
        }
        // Slots the analysis never reached are dead code (the kernel removes them, and they
        // may not even decode); they become calls to helper 9999, which must never run.
        let mut raw = code.raw.clone();
        for (pc, slot) in code.slots.iter().enumerate() {
            let second = matches!(slot, bpfvet_verifier::prog::Slot::Second);
            if !out.seen[pc] && !second {
                raw[pc] = bpfvet_isa::raw::RawInsn::new(0x85, 0, 0, 0, 9999);
                if code.slots.get(pc + 1) == Some(&bpfvet_verifier::prog::Slot::Second) {
                    raw[pc + 1] = bpfvet_isa::raw::RawInsn::new(0x85, 0, 0, 0, 9999);
                }
            }
        }
        let bytes: Vec<u8> = raw.iter().flat_map(|s| s.to_bytes()).collect();
        let prog = Program::decode(&bytes).expect("accepted programs decode");
        let mut vm = Vm::new(&prog).expect("accepted programs pre-decode");
        vm.register_helper(5, |_| Ok(123_456_789));
        vm.register_helper(7, |_| Ok(0x1234_5678));
        for round in 0..4u64 {
            let mut x = ctx_seed ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let mut ctx: Vec<u8> = (0..CTX_SIZE)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let region = MemRegion::new(RegionKind::Context, CONTEXT_BASE, &mut ctx);
            let mut regs = [0u64; 10];
            regs[1] = CONTEXT_BASE;
            let r = vm.run_with_regions(vec![region], regs, &RunOptions { budget: 100_000, ..RunOptions::default() });
            match r {
                Ok(_) => {}
                Err(VmError::UnknownHelper { id, .. }) if id != 9999 => {}
                Err(VmError::Helper { .. } | VmError::BudgetExhausted { .. }
                    | VmError::NeedsLoader { .. } | VmError::LegacyPacketLoad { .. }) => {}
                Err(e) => prop_assert!(false, "verifier accepted a program that faults: {e}\n{}", out.log),
            }
        }
    }
}
