//! The verifier never panics and always ends: random instruction slots (biased towards real
//! opcodes and small registers, offsets and immediates) of every program type give a verdict.

mod common;

use bpfvet_verifier::{Code, MapInfo, VerifyEnv, verify};
use common::program;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_programs_get_a_verdict(slots in program(), ty in prop::sample::select(vec![1u32, 2, 3, 5, 6, 7, 8])) {
        let mut env = VerifyEnv::new(ty);
        env.maps = vec![MapInfo::new(2, 4, 16, 1), MapInfo::new(1, 8, 8, 32)];
        env.limits.insns = 20_000;
        env.log_level = 2;
        let out = verify(&Code::new(slots), &env);
        // Every rejection has a message.
        if let Err(e) = &out.result {
            prop_assert!(!e.message.is_empty());
        }
        prop_assert!(out.stats.processed_insns <= 20_001);
    }
}

#[test]
#[ignore]
fn verdict_histogram() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut hist = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..3000 {
        let slots = program().new_tree(&mut runner).unwrap().current();
        let mut env = VerifyEnv::new(1);
        env.maps = vec![MapInfo::new(2, 4, 16, 1)];
        env.limits.insns = 20_000;
        let out = verify(&Code::new(slots), &env);
        let key = match &out.result {
            Ok(()) => "accept".to_string(),
            Err(e) => e
                .message
                .split(|c: char| c.is_ascii_digit())
                .next()
                .unwrap()
                .to_string(),
        };
        *hist.entry(key).or_default() += 1;
    }
    for (k, v) in hist {
        eprintln!("{v:5} {k}");
    }
}
