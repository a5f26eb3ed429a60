//! Every accepted corpus case runs on the checked interpreter with random inputs and real
//! maps, without tripping a memory check: what the verifier proves safe is safe when run.
//! Cases whose context holds only scalars run on random context bytes; packet program types
//! (XDP, TC, cgroup_skb, lwt, sk_skb) on the VM's program contexts over random packets of
//! many lengths; the types whose contexts point at other objects (sk_msg, sk_reuseport,
//! cgroup_sock_addr, flow_dissector) on the VM's contexts with random scalar fields, random
//! sockets and flow keys, over random messages and packets. The cases that cannot run are
//! named in [`NOT_RUN`] with the reason, and no other case may be left out.
//!
//! A case with `retval` (the kernel's R0 after one test run) is checked here too when its
//! result does not depend on the context: every run, on different random contexts, must give
//! the same R0, and that R0 must be the kernel's. Cases whose R0 varies with the context, and
//! cases of other program types, are skipped with a count.

use bpfvet_cases::{Case, Expect};
use bpfvet_vm::maps::{MapSpec, MapType, Maps};
use bpfvet_vm::{CONTEXT_BASE, Context, MemRegion, RegionKind, RunOptions, Vm, VmError};

/// socket_filter, kprobe, tracepoint, perf_event, raw_tracepoint, cgroup_sock, sock_ops,
/// cgroup_sysctl: context reads give scalars.
const SCALAR_CTX: &[(u32, usize)] = &[
    (1, 192),
    (2, 168),
    (5, 8192),
    (7, 184),
    (17, 96),
    (9, 80),
    (13, 224),
    (23, 8),
];

/// Packet program types, run on the VM's contexts over random packets.
const PACKET_TYPES: &[u32] = &[3, 4, 6, 8, 10, 11, 12, 14];

/// sk_msg, cgroup_sock_addr, sk_reuseport, flow_dissector: contexts with pointers to a
/// message or packet and to sockets or flow keys.
const OBJECT_TYPES: &[u32] = &[16, 18, 21, 22];

/// Accepted cases that do not run here, by name, with the reason.
const NOT_RUN: &[(&str, &str)] = &[(
    "an atomic fetch from the stack after the join: Linux 6.18 prunes it unsoundly",
    "bpfvet rejects it (`differs`): only the kernel accepts it, and it is unsafe \
     (`faults_where_the_kernel_is_unsound` runs it)",
)];

/// How a case runs, if it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Runner {
    /// Random bytes of this size as the context.
    Scalar(usize),
    Packet,
    Objects,
}

/// How `c` runs: None if it is not an accepted case bpfvet agrees on with a program, or if
/// no runner serves its program type or maps.
fn runner(c: &Case) -> Option<Runner> {
    if c.expect != Expect::Accept || c.differs.is_some() || c.program.is_empty() {
        return None;
    }
    let r = if let Some(&(_, size)) = SCALAR_CTX.iter().find(|(t, _)| *t == c.prog_type) {
        Runner::Scalar(size)
    } else if PACKET_TYPES.contains(&c.prog_type) {
        Runner::Packet
    } else if OBJECT_TYPES.contains(&c.prog_type) {
        Runner::Objects
    } else {
        return None;
    };
    build_maps(c).map(|_| r)
}

/// A xorshift generator for random inputs, seeded per case.
struct Rng(u64);

impl Rng {
    fn byte(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as u8
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// The case's maps, created in the interpreter and bound to their indices; None when one
/// has a type the interpreter lacks.
fn build_maps(c: &Case) -> Option<Maps> {
    let mut maps = Maps::new();
    let mut specs: Vec<MapSpec> = Vec::new();
    for (i, m) in c.maps.iter().enumerate() {
        let ty = MapType::from_id(m.map_type)?;
        let mut spec = MapSpec::new(format!("m{i}"), ty, m.key_size, m.value_size, m.max_entries)
            .with_flags(m.flags);
        if let Some(inner) = m.inner {
            spec = spec.with_inner(specs[inner].clone());
        }
        specs.push(spec.clone());
        let idx = maps.create(spec).unwrap();
        maps.bind_fd(i as i32, idx).unwrap();
        if m.freeze {
            maps.freeze(idx).unwrap();
        }
    }
    Some(maps)
}

/// Errors that are not memory faults: helpers the interpreter lacks or refuses, the budget.
fn benign(e: &VmError) -> bool {
    matches!(
        e,
        VmError::UnknownHelper { .. }
            | VmError::UnavailableHelper { .. }
            | VmError::Helper { .. }
            | VmError::BudgetExhausted { .. }
            | VmError::LegacyPacketLoad { .. }
            // Kernel functions (kfuncs) do not run on the interpreter.
            | VmError::Kfunc { .. }
    )
}

/// Accepted cases of the packet program types (XDP, TC, cgroup_skb, lwt) run on the VM's
/// program contexts over random packets of many lengths (the packet pointers the verifier
/// proved in range must be in range), and a case with `retval` gives the kernel's R0 on its
/// test-run packet.
#[test]
fn accepted_packet_cases_run_without_faults() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let (mut ran, mut retvals) = (0, 0);
    for c in &cases {
        if runner(c) != Some(Runner::Packet) {
            continue;
        }
        // sk_skb programs see the same `struct __sk_buff` over a packet as TC ones (the kernel
        // has no test run for them; the TC context serves every field they may read).
        let ctx_type = if c.prog_type == 14 { 3 } else { c.prog_type };
        let Some(mut maps) = build_maps(c) else {
            continue;
        };
        let mut vm = Vm::new(&c.program).unwrap();
        vm.enable_kernel_helpers();
        let opts = RunOptions {
            budget: 1_000_000,
            ..RunOptions::default()
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ c.line as u64;
        for len in [14usize, 15, 20, 34, 42, 54, 60, 64, 100, 1500] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let Ok(mut ctx) = Context::for_test_run(ctx_type, &data, None) else {
                continue;
            };
            if let Err(e) = vm.run_context_with(&mut ctx, Some(&mut maps), &opts)
                && !benign(&e)
            {
                panic!(
                    "{}:{} {}: accepted, but faults on a {len}-byte packet: {e}",
                    c.file, c.line, c.name
                );
            }
        }
        ran += 1;
        if let Some(want) = c.retval {
            let mut maps = build_maps(c).expect("maps built above");
            let mut ctx = Context::for_test_run(c.prog_type, &c.run_data(), None).unwrap();
            if let Ok(r) = vm.run_context_with(&mut ctx, Some(&mut maps), &opts) {
                assert_eq!(
                    r.r0 as u32, want,
                    "{}:{} {}: R0 on the interpreter differs from the kernel's test run",
                    c.file, c.line, c.name
                );
                retvals += 1;
            }
        }
    }
    eprintln!(
        "{ran} accepted packet-program cases ran on the VM's contexts without a fault; \
         {retvals} retvals equal the kernel's test run"
    );
    assert!(ran >= 50, "only {ran} packet cases ran");
}

#[test]
fn accepted_cases_run_without_faults() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let mut ran = 0;
    let (mut retvals, mut ctx_dependent, mut other_types) = (0, Vec::new(), Vec::new());
    for c in &cases {
        let Some(Runner::Scalar(ctx_size)) = runner(c) else {
            if c.retval.is_some() && c.expect == Expect::Accept {
                other_types.push(format!("{} ({})", c.name, c.prog_type_name));
            }
            continue;
        };
        let Some(mut maps) = build_maps(c) else {
            continue;
        };
        let mut vm = Vm::new(&c.program).unwrap();
        vm.enable_kernel_helpers();
        let mut r0s = Vec::new();
        for seed in 0..8u64 {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut ctx: Vec<u8> = (0..ctx_size)
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
            let r = vm.run_with_maps(
                vec![region],
                regs,
                &mut maps,
                &RunOptions {
                    budget: 1_000_000,
                    ..RunOptions::default()
                },
            );
            r0s.push(r.as_ref().ok().map(|r| r.r0 as u32));
            match r {
                Ok(_) => {}
                Err(e) if benign(&e) => {}
                Err(e) => panic!(
                    "{}:{} {}: accepted, but faults when run: {e}",
                    c.file, c.line, c.name
                ),
            }
        }
        ran += 1;
        if let Some(want) = c.retval {
            match r0s[0] {
                Some(got) if r0s.iter().all(|r| *r == Some(got)) => {
                    assert_eq!(
                        got, want,
                        "{}:{} {}: R0 {got} on the interpreter, the kernel's test run gives {want}",
                        c.file, c.line, c.name
                    );
                    retvals += 1;
                }
                _ => ctx_dependent.push(c.name.clone()),
            }
        }
    }
    eprintln!("{ran} accepted cases ran on the checked interpreter without a fault");
    eprintln!(
        "retval: {retvals} checked against the kernel's test run; skipped {} whose R0 depends on the \
         context (or a helper the interpreter lacks), {} of program types run elsewhere",
        ctx_dependent.len(),
        other_types.len()
    );
    for n in ctx_dependent.iter().chain(&other_types) {
        eprintln!("  retval skipped: {n}");
    }
    assert!(ran >= 100, "only {ran} cases ran");
}

/// The context of an object-type case over `data`, with random scalar fields (from
/// `ctx_in`), random socket fields, random flow keys and, for sk_reuseport, a migrating
/// socket or none.
fn object_context(c: &Case, data: &[u8], rng: &mut Rng) -> Option<Context> {
    let data = if c.prog_type == 18 { &[][..] } else { data };
    let plain = Context::for_test_run(c.prog_type, data, None).ok()?;
    let ctx_in = if c.prog_type == 22 {
        // Only `flags` of the flow keys may be set; the keys are randomised below.
        let mut keys = vec![0u8; bpfvet_vm::context::FLOW_KEYS_SIZE];
        keys[48..52].copy_from_slice(&rng.bytes(4));
        keys
    } else {
        let mut raw = rng.bytes(plain.as_bytes().len());
        let layout = plain.kind().layout().expect("object contexts have layouts");
        for name in plain.kind().derived_fields() {
            let f = bpfvet_vm::context::field(layout, name).expect("derived fields exist");
            raw[f.offset..f.offset + f.size].fill(0);
        }
        if c.prog_type == 21 && rng.byte() & 1 == 1 {
            raw[48] = 1; // a migrating socket
        }
        raw
    };
    let mut ctx = Context::for_test_run(c.prog_type, data, Some(&ctx_in)).unwrap_or_else(|e| {
        panic!(
            "{}:{} {}: random context refused: {e}",
            c.file, c.line, c.name
        )
    });
    for o in ctx.objects_mut() {
        let b = rng.bytes(o.bytes().len());
        o.bytes_mut().copy_from_slice(&b);
    }
    Some(ctx)
}

/// Accepted sk_msg, sk_reuseport, cgroup_sock_addr and flow_dissector cases run on the VM's
/// contexts: the message or packet pointers the verifier proved in range must be in range,
/// and socket and flow-key accesses must stay inside their structures.
#[test]
fn accepted_object_cases_run_without_faults() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let mut ran = std::collections::BTreeMap::<&str, usize>::new();
    for c in &cases {
        if runner(c) != Some(Runner::Objects) {
            continue;
        }
        let mut maps = build_maps(c).expect("runner checked the maps");
        let mut vm = Vm::new(&c.program).unwrap();
        vm.enable_kernel_helpers();
        let opts = RunOptions {
            budget: 1_000_000,
            ..RunOptions::default()
        };
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15u64 ^ c.line as u64);
        let mut runs = 0;
        for len in [0usize, 1, 8, 14, 15, 20, 34, 42, 54, 60, 64, 100, 1500] {
            for _ in 0..4 {
                let data = rng.bytes(len);
                let Some(mut ctx) = object_context(c, &data, &mut rng) else {
                    continue;
                };
                if let Err(e) = vm.run_context_with(&mut ctx, Some(&mut maps), &opts)
                    && !benign(&e)
                {
                    panic!(
                        "{}:{} {}: accepted, but faults on a {len}-byte input: {e}",
                        c.file, c.line, c.name
                    );
                }
                runs += 1;
            }
        }
        assert!(
            runs > 0,
            "{}:{} {}: no context could be built",
            c.file,
            c.line,
            c.name
        );
        *ran.entry(c.prog_type_name.as_str()).or_default() += 1;
    }
    eprintln!("accepted object-context cases run without a fault: {ran:?}");
    for t in [
        "sk_msg",
        "sk_reuseport",
        "cgroup_sock_addr",
        "flow_dissector",
    ] {
        assert!(ran.get(t).is_some_and(|&n| n > 0), "no {t} case ran");
    }
}

/// Every accepted case runs under one of the tests above, except the ones [`NOT_RUN`]
/// names; the list holds no case that does run, so the skips cannot grow unnoticed.
#[test]
fn every_accepted_case_runs_or_is_named() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let mut skipped = Vec::new();
    let mut accepted = 0;
    for c in cases.iter().filter(|c| c.expect == Expect::Accept) {
        accepted += 1;
        if runner(c).is_none() {
            skipped.push(c);
        }
    }
    for c in &skipped {
        assert!(
            NOT_RUN.iter().any(|(name, _)| *name == c.name),
            "{}:{} {} ({}): accepted but run by no test, and not in NOT_RUN",
            c.file,
            c.line,
            c.name,
            c.prog_type_name
        );
    }
    for (name, why) in NOT_RUN {
        assert!(
            skipped.iter().any(|c| c.name == *name),
            "NOT_RUN names `{name}`, which runs (or is gone); listed because: {why}"
        );
    }
    assert!(skipped.len() <= NOT_RUN.len());
    eprintln!(
        "{} of {accepted} accepted cases run on the checked interpreter; {} named in NOT_RUN",
        accepted - skipped.len(),
        skipped.len()
    );
}

/// The one case in [`NOT_RUN`]: Linux 6.18 accepts it, bpfvet rejects it. Run, it does
/// read past its 8-byte map value whenever `bpf_get_prandom_u32` exceeds 100 (nearly
/// always), which is why bpfvet refuses it.
#[test]
fn faults_where_the_kernel_is_unsound() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let c = cases
        .iter()
        .find(|c| c.name == NOT_RUN[0].0)
        .expect("the NOT_RUN case is in the corpus");
    assert!(c.differs.is_some() && c.expect == Expect::Accept);
    let mut vm = Vm::new(&c.program).unwrap();
    vm.enable_kernel_helpers();
    let mut faults = 0;
    for seed in 1..=64u64 {
        vm.env_mut().seed(seed);
        let mut maps = build_maps(c).expect("array maps");
        let mut ctx = vec![0u8; 192];
        let region = MemRegion::new(RegionKind::Context, CONTEXT_BASE, &mut ctx);
        let mut regs = [0u64; 10];
        regs[1] = CONTEXT_BASE;
        match vm.run_with_maps(vec![region], regs, &mut maps, &RunOptions::default()) {
            Ok(_) => {}
            Err(e @ VmError::OutOfBounds { .. }) => {
                assert!(e.to_string().contains("map"), "{e}");
                faults += 1;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert!(faults > 0, "no run read past the map value");
}
