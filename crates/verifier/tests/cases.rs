//! bpfvet against the corpus (`crates/cases/data`): every case's verdict, message line, errno
//! and `log` lines (from bpfvet's level-1 log), which the kernel-agreement test keeps equal to
//! the running kernel's. Cases marked `differs` are known gaps: they are counted and listed,
//! and must still differ (a fixed gap must drop its marker).

use bpfvet_cases::{Case, Verdict, disagreements};
use bpfvet_verifier::{Code, MapInfo, VerifyEnv, verify};

/// `BPF_MAP_TYPE_ARRAY`.
const ARRAY: u32 = 2;
/// `BPF_F_SLEEPABLE`.
const SLEEPABLE: u32 = 1 << 4;

fn ours(c: &Case) -> Verdict {
    ours_with(c, |_| {})
}

/// [`ours`] with the environment adjusted by `tweak` before verifying.
fn ours_with(c: &Case, tweak: impl Fn(&mut VerifyEnv)) -> Verdict {
    let mut env = VerifyEnv::new(c.prog_type);
    env.gpl_compatible = bpfvet_loader::license_is_gpl_compatible(&c.license);
    env.expected_attach_type = c.expected_attach_type;
    env.sleepable = c.prog_flags & SLEEPABLE != 0;
    env.strict_alignment = c.prog_flags & 1 != 0;
    env.test_state_freq = c.prog_flags & (1 << 3) != 0;
    env.log_level = 1;
    env.kernel_btf = bpfvet_cases::kernel_btf().map(bpfvet_verifier::KernelBtf);
    if !c.funcs.is_empty() {
        // The same BTF the kernel gets, read back as the loader reads an object's.
        let (blob, recs) = bpfvet_cases::funcs::build(&c.program, c.prog_type, &c.funcs).unwrap();
        let btf = bpfvet_btf::Btf::parse(&blob).unwrap();
        env.has_func_info = true;
        env.funcs = recs
            .iter()
            .filter_map(|(slot, id)| {
                bpfvet_loader::funcs::signature_of(&btf, bpfvet_btf::TypeId(*id), *slot)
            })
            .collect();
    }
    env.maps = c
        .maps
        .iter()
        .map(|m| {
            let mut i = MapInfo::new(m.map_type, m.key_size, m.value_size, m.max_entries);
            i.flags = m.flags;
            i.inner = m.inner;
            i.frozen = m.freeze;
            // A frozen array as created holds zeros (the harness writes no values).
            if m.freeze && m.map_type == ARRAY {
                i.initial_value = Some(vec![0; m.value_size as usize]);
            }
            i
        })
        .collect();
    let code = match Code::from_bytes(&c.bytes) {
        Ok(code) => code,
        Err(e) => {
            return Verdict {
                accepted: false,
                errno: Some(e.errno.code()),
                error_line: e.message,
                ..Verdict::default()
            };
        }
    };
    tweak(&mut env);
    let out = verify(&code, &env);
    match out.result {
        Ok(()) => Verdict {
            accepted: true,
            log: out.log,
            ..Verdict::default()
        },
        Err(e) => Verdict {
            accepted: false,
            errno: Some(e.errno.code()),
            error_line: e.message,
            log: out.log,
            retval: None,
        },
    }
}

#[test]
fn bpfvet_agrees_with_the_corpus() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let mut bad = Vec::new();
    let mut known = Vec::new();
    let (mut errnos, mut logs) = (0, 0);
    let mut skipped = 0;
    for c in &cases {
        if c.needs_missing_btf() {
            skipped += 1;
            continue;
        }
        let v = ours(c);
        let d = disagreements(c, &v);
        if d.is_empty() {
            errnos += usize::from(c.errno.is_some());
            logs += c.log.len();
        }
        match (&c.differs, d.is_empty()) {
            (None, true) => {}
            (None, false) => bad.push(format!(
                "{}:{} {}: {}\n    bpfvet log tail: {:?}",
                c.file,
                c.line,
                c.name,
                d.join("; "),
                v.log.lines().rev().take(4).collect::<Vec<_>>()
            )),
            (Some(why), false) => known.push(format!("{}:{} {}: {why}", c.file, c.line, c.name)),
            (Some(_), true) => bad.push(format!(
                "{}:{} {}: marked `differs` but bpfvet now agrees; drop the marker",
                c.file, c.line, c.name
            )),
        }
    }
    eprintln!(
        "{} cases: {} agree ({errnos} errnos, {logs} log lines checked), {} differ (marked `differs`), {} unexpected, {skipped} skipped (no kernel BTF)",
        cases.len(),
        cases.len() - bad.len() - known.len() - skipped,
        known.len(),
        bad.len()
    );
    for k in &known {
        eprintln!("  differs: {k}");
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// With no back-edge allowed to wait for its loop's final marks, every path pruned against
/// a loop pins its chain instead: the coarser fallback must give the same verdicts.
#[test]
fn the_back_edge_fallback_gives_the_same_verdicts() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let mut changed = Vec::new();
    for c in &cases {
        let a = ours(c);
        let b = ours_with(c, |env| env.limits.backedges = 0);
        if a.accepted != b.accepted || a.error_line != b.error_line {
            changed.push(format!(
                "{}:{} {}: {:?} / {:?}",
                c.file, c.line, c.name, a.error_line, b.error_line
            ));
        }
    }
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}
