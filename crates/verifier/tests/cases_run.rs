//! Every accepted corpus case whose context holds only scalars runs on the checked
//! interpreter, with random context bytes and real maps, without tripping a memory check:
//! what the verifier proves safe is safe when run. (Types whose context yields packet pointers
//! need the VM's program contexts, which come with the runtime issue.)
//!
//! A case with `retval` (the kernel's R0 after one test run) is checked here too when its
//! result does not depend on the context: every run, on different random contexts, must give
//! the same R0, and that R0 must be the kernel's. Cases whose R0 varies with the context, and
//! cases of other program types, are skipped with a count.

use bpfvet_cases::Expect;
use bpfvet_vm::maps::{MapSpec, MapType, Maps};
use bpfvet_vm::{CONTEXT_BASE, MemRegion, RegionKind, RunOptions, Vm, VmError};

/// socket_filter, kprobe, tracepoint, perf_event, raw_tracepoint, cgroup_sock, sock_ops:
/// context reads give scalars.
const SCALAR_CTX: &[(u32, usize)] = &[
    (1, 192),
    (2, 168),
    (5, 8192),
    (7, 184),
    (17, 96),
    (9, 80),
    (13, 224),
];

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
        let mut maps = Maps::new();
        let mut specs: Vec<MapSpec> = Vec::new();
        let mut ok = true;
        for (i, m) in c.maps.iter().enumerate() {
            let Some(ty) = MapType::from_id(m.map_type) else {
                ok = false;
                break;
            };
            let mut spec =
                MapSpec::new(format!("m{i}"), ty, m.key_size, m.value_size, m.max_entries)
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
        if !ok {
            continue;
        }
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
                Ok(_)
                | Err(VmError::UnknownHelper { .. })
                | Err(VmError::UnavailableHelper { .. })
                | Err(VmError::Helper { .. })
                | Err(VmError::BudgetExhausted { .. })
                | Err(VmError::LegacyPacketLoad { .. }) => {}
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
