//! Every case's expectation is the running kernel's truth: each case is loaded with its maps
//! into the kernel, and the verdict and message must match. Skips with a message when bpf()
//! is unavailable.

#[test]
fn kernel_agrees_with_every_case() {
    if let Err(why) = bpfvet_kernel::available() {
        eprintln!("skipping: {why}");
        return;
    }
    let cases = bpfvet_cases::all_cases().unwrap();
    assert!(!cases.is_empty());
    let mut bad = Vec::new();
    for c in &cases {
        let k = bpfvet_cases::kernel_verdict(c).unwrap_or_else(|e| panic!("{e}"));
        let ok = match &c.expect {
            bpfvet_cases::Expect::Accept => k.accepted,
            bpfvet_cases::Expect::Reject { error } => {
                !k.accepted && error.as_ref().is_none_or(|e| *e == k.error_line)
            }
        };
        if !ok {
            bad.push(format!(
                "{}:{} {}: expected {:?}, kernel {} {:?}",
                c.file,
                c.line,
                c.name,
                c.expect,
                if k.accepted { "accepts" } else { "rejects:" },
                k.error_line
            ));
        }
    }
    eprintln!(
        "{} cases, {} agree with the kernel",
        cases.len(),
        cases.len() - bad.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
