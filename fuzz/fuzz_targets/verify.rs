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
    // The top bits of the type byte turn on BTF function info: callbacks are then accepted
    // and every other subprogram is a global function with a context argument, so the
    // callback and global-function paths are fuzzed too.
    if data[0] & 0x40 != 0 {
        env.has_func_info = true;
    }
    if data[0] & 0x80 != 0 {
        env.funcs = (1..code.len())
            .filter(|&pc| {
                code.slots.iter().enumerate().any(|(at, s)| match s {
                    bpfvet_verifier::prog::Slot::Insn(bpfvet_isa::insn::Insn::Call(
                        bpfvet_isa::insn::CallKind::Local(imm),
                    )) => at as i64 + 1 + i64::from(*imm) == pc as i64,
                    _ => false,
                })
            })
            .map(|start| bpfvet_loader::funcs::FuncSig {
                start,
                name: format!("f{start}"),
                global: true,
                returns_scalar: true,
                args: vec![bpfvet_loader::funcs::FuncArg::Scalar],
                tags: vec![Vec::new()],
            })
            .collect();
    }
    let _ = bpfvet_verifier::verify(&code, &env);
});
