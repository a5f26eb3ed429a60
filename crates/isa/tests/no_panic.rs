//! Bad input never panics: arbitrary bytes through the decoder and arbitrary text through
//! both assemblers give a value or an error. (The fuzz targets in /fuzz run the same for
//! longer.)

use bpfvet_isa::disasm::{DisasmOptions, disassemble};
use bpfvet_isa::{Dialect, Program, asm};
use proptest::prelude::*;

/// Text built from the assemblers' own vocabulary, so the parsers get deep.
fn asm_text() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "r0",
        "w1",
        "r10",
        "r11",
        "%r3",
        "%r99",
        "=",
        "+=",
        "s>>=",
        "-",
        "+",
        "*",
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        "u8",
        "u64",
        "s16",
        "goto",
        "gotol",
        "if",
        "call",
        "callx",
        "exit",
        "ll",
        "lock",
        "fetch",
        "add32",
        "mov",
        "lddw",
        "ldxdw",
        "stw",
        "jne32",
        "ja",
        "skb",
        "0x7fffffff",
        "4294967296",
        "99999999999999999999999",
        "-32769",
        "label",
        "label:",
        "local",
        "\n",
        "map_fd",
        "func",
        "atomic_fetch_add",
        "cmpxchg_64",
        "xchg32_32",
        "be16",
        "bswap64",
        ".section",
        ".text",
        "kfunc",
        "pc",
        "#",
        "//",
        "\t",
        "é",
        "\"",
        "may_goto",
        "addr_space_cast",
    ]);
    prop::collection::vec(words, 0..40).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(p) = Program::decode(&bytes) {
            // Whatever decodes also disassembles and re-assembles to the same bytes.
            for d in [Dialect::Llvm, Dialect::Ubpf] {
                let text = disassemble(&p, d, &DisasmOptions::default());
                let back = asm::assemble(&text, d).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                prop_assert_eq!(Program::from_insns(back).encode(), bytes.clone());
            }
        }
    }

    #[test]
    fn assemblers_never_panic(text in asm_text()) {
        let _ = asm::assemble(&text, Dialect::Llvm);
        let _ = asm::assemble(&text, Dialect::Ubpf);
    }

    #[test]
    fn assemblers_never_panic_on_any_string(text in ".{0,200}") {
        let _ = asm::assemble_sections(&text, Dialect::Llvm);
        let _ = asm::assemble_sections(&text, Dialect::Ubpf);
    }
}
