//! Every program of the conformance suite assembles (or decodes, for `-- raw`), and every
//! negative case is refused by the assembler or decoder, but for the two that need a later
//! stage (`error.data`: the verifier; `incorrect_return_value_high_bits.data`: the interpreter).

mod common;

use bpfvet_isa::conformance;

#[test]
fn every_conformance_program_assembles_or_decodes() {
    let Some(dir) = common::shared_conformance("tests") else {
        return;
    };
    let mut passed = 0;
    let mut failed = Vec::new();
    for f in common::files(&dir, "data") {
        let case = conformance::parse(&std::fs::read_to_string(&f).unwrap()).unwrap();
        match case.program_bytes() {
            Ok(bytes) => {
                // Where a file has both forms they must agree.
                if let (Some(raw), Some(text)) = (&case.raw, &case.asm) {
                    let insns = bpfvet_isa::asm::assemble(text, bpfvet_isa::Dialect::Ubpf)
                        .expect("asm of a file with raw");
                    assert_eq!(&bpfvet_isa::encode_program(&insns), raw, "{}", f.display());
                }
                assert!(!bytes.is_empty());
                passed += 1;
            }
            Err(e) => failed.push(format!("{}: {e}", f.display())),
        }
    }
    println!("{passed} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(passed, 313);
}

const LATER_STAGE: [&str; 2] = ["error.data", "incorrect_return_value_high_bits.data"];

#[test]
fn every_negative_program_is_refused_with_a_reason() {
    let Some(dir) = common::shared_conformance("negative") else {
        return;
    };
    let mut refused = 0;
    let mut accepted = Vec::new();
    for f in common::files(&dir, "data") {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let case = conformance::parse(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let r = case.program_bytes();
        if LATER_STAGE.contains(&name.as_str()) {
            assert!(r.is_ok(), "{name} should assemble: {r:?}");
            continue;
        }
        match r {
            Err(reason) => {
                assert!(!reason.is_empty());
                refused += 1;
            }
            Ok(_) => accepted.push(name),
        }
    }
    println!("{refused} refused, {} accepted", accepted.len());
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
    assert_eq!(refused, 58);
}
