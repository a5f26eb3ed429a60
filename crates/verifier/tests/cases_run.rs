//! Every accepted corpus case whose context holds only scalars runs on the checked
//! interpreter, with random context bytes and real maps, without tripping a memory check:
//! what the verifier proves safe is safe when run. Packet program types (XDP, TC, cgroup_skb,
//! lwt) run on the VM's program contexts over random packets of many lengths.
//!
//! A case with `retval` (the kernel's R0 after one test run) is checked here too when its
//! result does not depend on the context: every run, on different random contexts, must give
//! the same R0, and that R0 must be the kernel's. Cases whose R0 varies with the context, and
//! cases of other program types, are skipped with a count.

use bpfvet_cases::Expect;
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

/// The case's maps, created in the interpreter and bound to their indices; None when one
/// has a type the interpreter lacks.
fn build_maps(c: &bpfvet_cases::Case) -> Option<Maps> {
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
        if c.expect != Expect::Accept || c.differs.is_some() || c.program.is_empty() {
            continue;
        }
        if !matches!(c.prog_type, 3 | 4 | 6 | 8 | 10..=12 | 14) {
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
        // A program with `.raw` slots that do not decode has no `program` to run.
        if c.expect != Expect::Accept || c.differs.is_some() || c.program.is_empty() {
            continue;
        }
        let Some(&(_, ctx_size)) = SCALAR_CTX.iter().find(|(t, _)| *t == c.prog_type) else {
            if c.retval.is_some() {
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
         context (or a helper the interpreter lacks), {} of program types without a VM context yet",
        ctx_dependent.len(),
        other_types.len()
    );
    for n in ctx_dependent.iter().chain(&other_types) {
        eprintln!("  retval skipped: {n}");
    }
    assert!(ran >= 100, "only {ran} cases ran");
}
