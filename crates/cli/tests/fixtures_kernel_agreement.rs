//! Every program of every committed fixture gets the running kernel's verdict from our
//! verifier, except the programs in [`KNOWN_GAPS`], each naming the verifier feature it
//! needs. A gap that closes fails the test too, so the list only shrinks as the verifier
//! grows. Programs the kernel does not verify here (a load refused with an empty log, e.g.
//! fentry where the sandbox forbids trampolines) are listed and skipped. Skips entirely, with
//! a message, where bpf() does not work.

mod common;

use bpfvet_cli::commands::stats::collect::{Options, collect};
use bpfvet_cli::commands::stats::columns::{Col, Value};
use bpfvet_cli::commands::stats::filter::Filters;

/// (file, program, the missing verifier feature): programs the kernel accepts and we reject.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[];

#[test]
fn our_verdicts_match_the_kernels() {
    if let Err(why) = bpfvet_kernel::available() {
        eprintln!("skipping: {why}");
        return;
    }
    let files = common::files(&common::fixtures(), "o");
    let run = collect(
        &files,
        &Filters::default(),
        &Options {
            kernel: true,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(run.kernel_unavailable, None);
    assert_eq!(run.files_skipped, 0, "{:?}", run.problems);
    let mut disagreements = Vec::new();
    let mut closed = Vec::new();
    let mut compared = 0;
    for r in &run.records {
        let (file, prog) = (r.file(), r.prog());
        let ours = r.get(Col::Verdict) == Some(&Value::Flag(true));
        let Some(Value::Flag(theirs)) = r.get(Col::KernelVerdict) else {
            eprintln!(
                "{file}/{prog}: not verified by the kernel here: {}",
                r.show(Col::KernelError)
            );
            continue;
        };
        compared += 1;
        let gap = KNOWN_GAPS.iter().find(|(f, p, _)| *f == file && *p == prog);
        match (ours == *theirs, gap) {
            (true, None) => {}
            (true, Some((_, _, feature))) => closed.push(format!(
                "{file}/{prog}: now agrees with the kernel; remove it from KNOWN_GAPS ({feature})"
            )),
            (false, Some(_)) => {}
            (false, None) => disagreements.push(format!(
                "{file}/{prog}: bpfvet {} ({}), kernel {} ({})",
                if ours { "accepts" } else { "rejects" },
                r.show(Col::Error),
                if *theirs { "accepts" } else { "rejects" },
                r.show(Col::KernelError),
            )),
        }
    }
    for (f, p, _) in KNOWN_GAPS {
        assert!(
            run.records.iter().any(|r| r.file() == *f && r.prog() == *p),
            "KNOWN_GAPS names {f}/{p}, which no fixture has"
        );
    }
    assert!(compared >= 40, "only {compared} programs compared");
    assert!(
        disagreements.is_empty() && closed.is_empty(),
        "{}",
        disagreements
            .iter()
            .chain(&closed)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
