//! The llvm-dialect assembler: any text assembles or fails with a line and column; whatever
//! assembles encodes to a program that decodes back to the same instructions.
#![no_main]

use bpfvet_isa::{Dialect, Program, asm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(insns) = asm::assemble(text, Dialect::Llvm) {
        let bytes = Program::from_insns(insns.clone()).encode();
        if let Ok(p) = Program::decode_unchecked(&bytes) {
            assert_eq!(p.insns(), &insns[..]);
        }
    }
});
