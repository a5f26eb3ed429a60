//! Every case's expectation is the running kernel's truth: each case is loaded with its maps
//! into the kernel, and the verdict, message line, errno, `log` lines and (for cases with
//! `retval`) the result of one test run must match. Skips with a message when bpf() is
//! unavailable.

#[test]
fn kernel_agrees_with_every_case() {
    if let Err(why) = bpfvet_kernel::available() {
        eprintln!("skipping: {why}");
        return;
    }
    let cases = bpfvet_cases::all_cases().unwrap();
    assert!(!cases.is_empty());
    let mut bad = Vec::new();
    let (mut errnos, mut logs, mut runs, mut skipped) = (0, 0, 0, 0);
    for c in &cases {
        if c.needs_missing_btf() {
            skipped += 1;
            continue;
        }
        let k = bpfvet_cases::kernel_verdict(c).unwrap_or_else(|e| panic!("{e}"));
        let d = bpfvet_cases::disagreements(c, &k);
        if c.retval.is_some() && k.accepted {
            assert!(
                k.retval.is_some(),
                "{}: the test run gave no retval",
                c.name
            );
            runs += 1;
        }
        errnos += usize::from(c.errno.is_some() && !k.accepted);
        logs += c.log.len();
        if !d.is_empty() {
            bad.push(format!(
                "{}:{} {}: {}\n    kernel log tail: {:?}",
                c.file,
                c.line,
                c.name,
                d.join("; "),
                k.log.lines().rev().take(4).collect::<Vec<_>>()
            ));
        }
    }
    eprintln!(
        "{} cases, {} agree with the kernel ({errnos} errnos, {logs} log lines, {runs} test runs checked, {skipped} skipped: no kernel BTF)",
        cases.len(),
        cases.len() - bad.len() - skipped
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
