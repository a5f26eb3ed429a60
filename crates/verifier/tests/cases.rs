//! bpfvet against the corpus (`crates/cases/data`): every case's verdict and message, which
//! the kernel-agreement test keeps equal to the running kernel's. Cases marked `differs` are
//! known gaps: they are reported, and must still differ (a fixed gap must drop its marker).

use bpfvet_cases::{Case, Expect};
use bpfvet_verifier::{Code, MapInfo, VerifyEnv, verify};

fn ours(c: &Case) -> (bool, String) {
    let mut env = VerifyEnv::new(c.prog_type);
    env.gpl_compatible = bpfvet_loader::license_is_gpl_compatible(&c.license);
    env.maps = c
        .maps
        .iter()
        .map(|m| {
            let mut i = MapInfo::new(m.map_type, m.key_size, m.value_size, m.max_entries);
            i.flags = m.flags;
            i
        })
        .collect();
    let out = verify(&Code::from_program(&c.program), &env);
    match out.result {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e.message),
    }
}

#[test]
fn bpfvet_agrees_with_the_corpus() {
    let cases = bpfvet_cases::all_cases().unwrap();
    let mut bad = Vec::new();
    let mut known = Vec::new();
    for c in &cases {
        let (accepted, msg) = ours(c);
        let agree = match &c.expect {
            Expect::Accept => accepted,
            Expect::Reject { error } => !accepted && error.as_ref().is_none_or(|e| *e == msg),
        };
        match (&c.differs, agree) {
            (None, true) => {}
            (None, false) => bad.push(format!(
                "{}:{} {}: expected {:?}, bpfvet {}",
                c.file,
                c.line,
                c.name,
                c.expect,
                if accepted {
                    "accepts".into()
                } else {
                    format!("rejects: {msg}")
                }
            )),
            (Some(why), false) => known.push(format!("{}:{} {}: {why}", c.file, c.line, c.name)),
            (Some(_), true) => bad.push(format!(
                "{}:{} {}: marked `differs` but bpfvet now agrees; drop the marker",
                c.file, c.line, c.name
            )),
        }
    }
    eprintln!(
        "{} cases: {} agree, {} known differences",
        cases.len(),
        cases.len() - bad.len() - known.len(),
        known.len()
    );
    for k in &known {
        eprintln!("  known: {k}");
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
