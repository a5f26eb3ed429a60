//! Decoder: any bytes decode or fail with a reason; whatever decodes re-encodes exactly and
//! survives disassembly and re-assembly in both dialects.
#![no_main]

use bpfvet_isa::disasm::{DisasmOptions, disassemble};
use bpfvet_isa::{Dialect, Program, asm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Program::decode(data) {
        assert_eq!(p.encode(), data);
        for d in [Dialect::Llvm, Dialect::Ubpf] {
            let text = disassemble(&p, d, &DisasmOptions::default());
            let back = asm::assemble(&text, d).expect("our own listing assembles");
            assert_eq!(Program::from_insns(back).encode(), data);
        }
    }
});
