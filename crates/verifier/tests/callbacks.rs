//! Callbacks (`bpf_loop`, `bpf_for_each_map_elem`): cases in the corpus format that need BTF
//! function info, which this harness synthesises (one static `FUNC` per subprogram, the main
//! one global). bpfvet must give each case's verdict and message; when bpf() works the
//! running kernel, loaded with the same function info, must too.

use bpfvet_btf::BtfBuilder;
use bpfvet_cases::{Case, Expect};
use bpfvet_isa::insn::{CallKind, Imm64Kind, Insn};
use bpfvet_isa::program::Program;
use bpfvet_verifier::{Code, MapInfo, VerifyEnv, verify};

const CASES: &str = r#"
case bpf_loop with a callback that returns 0
accept
code
    r1 = 4
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r0 = 0
    exit

case bpf_loop callback returns 2
reject
error At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]
code
    r1 = 4
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r0 = 2
    exit

case bpf_loop callback leaves R0 unset
reject
error R0 not a scalar value
code
    r1 = 4
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    exit

case bpf_loop callback returns an unknown value
reject
error At callback return the register R0 has unknown scalar value should have been in [0, 1]
code
    r1 = 4
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r0 = r1
    exit

case bpf_loop counts in the caller's stack
accept
code
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    r1 = 100
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call 181
    r0 = *(u64 *)(r10 - 8)
    exit
cb:
    r1 = *(u64 *)(r2 + 0)
    r1 += 1
    *(u64 *)(r2 + 0) = r1
    r0 = 0
    exit

case bpf_loop callback reads beyond the caller's context
reject
error invalid read from stack R2 off=0 size=8
code
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    r1 = 3
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r1 = *(u64 *)(r2 + 8)
    r0 = 0
    exit

case bpf_loop callback dereferences a NULL context
reject
error R2 invalid mem access 'scalar'
code
    r1 = 3
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r1 = *(u64 *)(r2 + 0)
    r0 = 0
    exit

case bpf_loop index bounds a stack access only through a check
reject
error math between fp pointer and register with unbounded min value is not allowed
code
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    *(u64 *)(r10 - 16) = r1
    r1 = 2
    r2 = func(cb) ll
    r3 = r10
    r3 += -16
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r1 &= 0xffffffff
    r2 += r1
    r3 = 0
    *(u8 *)(r2 + 0) = r3
    r0 = 0
    exit

case bpf_loop callback argument must be a function
reject
error R2 type=scalar expected=func
code
    r1 = 4
    r2 = 0
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit

case for_each_map_elem over an array reads the value
map 0 array key=4 value=8 max=4
accept
code
    r1 = map_fd(0) ll
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 164
    r0 = 0
    exit
cb:
    r0 = *(u64 *)(r3 + 0)
    r0 = *(u32 *)(r2 + 0)
    r0 = 0
    exit

case for_each_map_elem value read past its end
map 0 array key=4 value=8 max=4
reject
error R3 min value is outside of the allowed memory range
code
    r1 = map_fd(0) ll
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 164
    r0 = 0
    exit
cb:
    r0 = *(u64 *)(r3 + 8)
    r0 = 0
    exit

case for_each_map_elem key is read-only
map 0 hash key=4 value=8 max=4
reject
error write to change key R2 not allowed
code
    r1 = map_fd(0) ll
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 164
    r0 = 0
    exit
cb:
    r0 = 0
    *(u32 *)(r2 + 0) = r0
    exit

case for_each_map_elem counter in the caller's stack converges
map 0 hash key=4 value=8 max=16
accept
code
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    r1 = map_fd(0) ll
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call 164
    r0 = 0
    exit
cb:
    r1 = *(u64 *)(r4 + 0)
    r1 += 1
    *(u64 *)(r4 + 0) = r1
    r0 = 0
    exit

case for_each_map_elem on a ring buffer
map 0 ringbuf key=0 value=0 max=4096
reject
error callback function not allowed for map
code
    r1 = map_fd(0) ll
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 164
    r0 = 0
    exit
cb:
    r0 = 0
    exit

case bpf_loop with an unknown count and a counter converges
accept
code
    r6 = r1
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    r1 = *(u32 *)(r6 + 0)
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call 181
    r0 = *(u64 *)(r10 - 8)
    exit
cb:
    r1 = *(u64 *)(r2 + 0)
    r1 += 3
    *(u64 *)(r2 + 0) = r1
    r0 = 1
    exit

case nested bpf_loop inside a callback
accept
code
    r1 = 3
    r2 = func(outer) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
outer:
    r1 = 2
    r2 = func(inner) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
inner:
    r0 = 1
    exit

case callback leaks a ring buffer reservation
map 0 ringbuf key=0 value=0 max=4096
reject
error BPF_EXIT instruction in main prog would lead to reference leak
code
    r1 = 2
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r1 = map_fd(0) ll
    r2 = 8
    r3 = 0
    call 131
    r0 = 0
    exit

case callback releases its ring buffer reservation
map 0 ringbuf key=0 value=0 max=4096
accept
code
    r1 = 2
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    r1 = map_fd(0) ll
    r2 = 8
    r3 = 0
    call 131
    if r0 == 0 goto out
    r1 = r0
    r2 = 0
    call 133
out:
    r0 = 0
    exit

case for_each_map_elem callback may stop the walk with 1
map 0 percpu_array key=4 value=16 max=8
accept
code
    r1 = map_fd(0) ll
    r2 = func(cb) ll
    r3 = 0
    r4 = 0
    call 164
    r0 = 0
    exit
cb:
    r1 = *(u64 *)(r3 + 8)
    r0 = 1
    if r1 > 10 goto out
    r0 = 0
out:
    exit

case bpf_loop callback writes a pointer into the caller's stack
reject
error cannot spill pointers to stack into stack frame of the caller
code
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    r1 = 5
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call 181
    r0 = 0
    exit
cb:
    *(u64 *)(r2 + 0) = r10
    r0 = 0
    exit
"#;

/// Subprogram starts: 0 and every target of a local call or a function address.
fn subprog_starts(p: &Program) -> Vec<u32> {
    let mut starts = vec![0u32];
    let mut pc = 0i64;
    for i in p.insns() {
        let target = match i {
            Insn::Call(CallKind::Local(imm)) => Some(pc + 1 + i64::from(*imm)),
            Insn::LdImm64 {
                kind: Imm64Kind::Func,
                imm,
                ..
            } => Some(pc + 1 + i64::from(*imm)),
            _ => None,
        };
        if let Some(t) = target {
            starts.push(t as u32);
        }
        pc += if matches!(i, Insn::LdImm64 { .. }) {
            2
        } else {
            1
        };
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

fn ours(c: &Case) -> (bool, String) {
    let mut env = VerifyEnv::new(c.prog_type);
    env.has_func_info = true;
    env.maps = c
        .maps
        .iter()
        .map(|m| MapInfo::new(m.map_type, m.key_size, m.value_size, m.max_entries))
        .collect();
    let out = verify(&Code::from_program(&c.program), &env);
    match out.result {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e.message),
    }
}

fn kernel(c: &Case) -> Result<(bool, String), String> {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let proto = b.add_func_proto(int, &[]);
    let starts = subprog_starts(&c.program);
    let mut func_info = Vec::new();
    for (i, s) in starts.iter().enumerate() {
        let f = b.add_func(&format!("f{i}"), proto, u16::from(i == 0));
        func_info.push([*s, f.0]);
    }
    let btf = bpfvet_kernel::load_btf(&b.build())
        .map_err(|(e, log)| format!("BTF refused ({e}): {log}"))?;
    let func_info: Vec<u8> = func_info
        .iter()
        .flat_map(|r: &[u32; 2]| r.iter().flat_map(|w| w.to_le_bytes()))
        .collect();
    let mut fds = Vec::new();
    for m in &c.maps {
        fds.push(
            bpfvet_kernel::create_map(&bpfvet_kernel::MapSpec {
                map_type: m.map_type,
                key_size: m.key_size,
                value_size: m.value_size,
                max_entries: m.max_entries,
                flags: m.flags,
                ..Default::default()
            })
            .map_err(|e| e.to_string())?,
        );
    }
    let insns: Vec<Insn> = c
        .program
        .insns()
        .iter()
        .map(|i| match *i {
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapFd,
                imm,
                next_imm,
            } => Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapFd,
                imm: fds.get(imm as usize).map_or(imm, |f| f.0),
                next_imm,
            },
            other => other,
        })
        .collect();
    let bytes = Program::from_insns(insns).encode();
    let o = bpfvet_kernel::load_program(&bpfvet_kernel::ProgLoad {
        prog_type: c.prog_type,
        insns: &bytes,
        license: &c.license,
        log_level: 1,
        prog_btf_fd: Some(btf.0),
        func_info: &func_info,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    Ok(match o.fd {
        Some(_) => (true, String::new()),
        None => (false, bpfvet_cases::error_line(&o.log)),
    })
}

fn agrees(expect: &Expect, got: &(bool, String)) -> bool {
    match expect {
        Expect::Accept => got.0,
        Expect::Reject { error } => !got.0 && error.as_ref().is_none_or(|e| *e == got.1),
    }
}

#[test]
fn callbacks_match_the_expectations() {
    let cases = bpfvet_cases::parse("callbacks.rs", CASES).unwrap();
    assert!(cases.len() >= 20);
    let live = bpfvet_kernel::available();
    if let Err(why) = &live {
        eprintln!("kernel comparison skipped: {why}");
    }
    let mut bad = Vec::new();
    for c in &cases {
        let got = ours(c);
        if !agrees(&c.expect, &got) {
            bad.push(format!(
                "{}: bpfvet {:?}, expected {:?}",
                c.name, got, c.expect
            ));
        }
        if live.is_ok() {
            match kernel(c) {
                Ok(k) if agrees(&c.expect, &k) => {}
                Ok(k) => bad.push(format!(
                    "{}: kernel {:?}, expected {:?}",
                    c.name, k, c.expect
                )),
                Err(e) => bad.push(format!("{}: kernel load failed: {e}", c.name)),
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
