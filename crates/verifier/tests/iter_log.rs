//! The level-1 log of an iterator program prints kfunc calls by name and iterator slots as
//! the kernel does (`fp-8=iter_num(ref_id=1,state=drained,depth=0)`). Skips without the
//! kernel's BTF.

use bpfvet_verifier::{Code, KernelBtf, VerifyEnv, verify};

#[test]
fn iterator_slots_and_kfunc_names_in_the_log() {
    let Some(btf) = bpfvet_cases::kernel_btf() else {
        eprintln!("skipping: no kernel BTF at {}", bpfvet_cases::VMLINUX);
        return;
    };
    let case = bpfvet_cases::all_cases()
        .unwrap()
        .into_iter()
        .find(|c| c.name == "element dereferenced without a NULL check")
        .expect("the case is in iterators.case");
    let mut env = VerifyEnv::new(case.prog_type);
    env.log_level = 1;
    env.kernel_btf = Some(KernelBtf(btf));
    let out = verify(&Code::from_bytes(&case.bytes).unwrap(), &env);
    assert!(!out.accepted());
    let next = out
        .log
        .lines()
        .find(|l| l.starts_with("7: (85) call bpf_iter_num_next#"))
        .unwrap_or_else(|| panic!("no named kfunc call in:\n{}", out.log));
    assert!(
        next.ends_with("; R0=0 fp-8=iter_num(ref_id=1,state=drained,depth=0) refs=1"),
        "{next}"
    );
}
