//! The verifier: any bytes, as a program of any type, get a verdict — never a panic, never a
//! hang (a small processed-instruction limit bounds each run).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let ty = u32::from(data[0] % 32) + 1;
    let body = &data[1..];
    let Ok(code) = bpfvet_verifier::Code::from_bytes(&body[..body.len() / 8 * 8]) else {
        return;
    };
    let mut env = bpfvet_verifier::VerifyEnv::new(ty);
    env.maps = vec![
        bpfvet_verifier::MapInfo::new(2, 4, 16, 1),
        bpfvet_verifier::MapInfo::new(1, 8, 8, 64),
    ];
    env.limits.insns = 50_000;
    env.log_level = 1;
    let _ = bpfvet_verifier::verify(&code, &env);
});
