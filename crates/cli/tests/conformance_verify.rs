//! The BPF conformance suite through the verifier: as socket filters, bpfvet refuses exactly the
//! programs the running kernel refuses, with the same message (the interpreter still runs all
//! of them). Skips without ../shared/conformance; the kernel half skips without bpf().

mod common;

use bpfvet_verifier::{Code, VerifyEnv, verify};

#[test]
fn verifier_refuses_what_the_kernel_refuses() {
    let Some(dir) = common::shared_conformance("tests") else {
        return;
    };
    let kernel = bpfvet_kernel::available();
    if let Err(why) = &kernel {
        eprintln!("note: comparing without the kernel: {why}");
    }
    let mut refused = Vec::new();
    let mut differ = Vec::new();
    let files = common::files(&dir, "data");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let case = bpfvet_isa::conformance::parse(&text).unwrap();
        let bytes = case.program_bytes().unwrap();
        let out = verify(&Code::from_bytes(&bytes).unwrap(), &VerifyEnv::new(1));
        let ours = match &out.result {
            Ok(()) => None,
            Err(e) => Some(e.message.clone()),
        };
        if let Some(m) = &ours {
            refused.push(format!("{}: {m}", f.file_name().unwrap().to_string_lossy()));
        }
        if kernel.is_ok() {
            let o = bpfvet_kernel::load_program(&bpfvet_kernel::ProgLoad {
                prog_type: 1,
                insns: &bytes,
                license: "GPL",
                log_level: 1,
                ..Default::default()
            })
            .unwrap();
            let theirs = if o.fd.is_some() {
                None
            } else {
                Some(bpfvet_cases::error_line(&o.log))
            };
            if theirs != ours {
                differ.push(format!(
                    "{}: bpfvet {:?}, kernel {:?}",
                    f.file_name().unwrap().to_string_lossy(),
                    ours,
                    theirs
                ));
            }
        }
    }
    eprintln!(
        "{} programs, bpfvet refuses {}:",
        files.len(),
        refused.len()
    );
    for r in &refused {
        eprintln!("  {r}");
    }
    assert!(
        differ.is_empty(),
        "{} differ from the kernel:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
