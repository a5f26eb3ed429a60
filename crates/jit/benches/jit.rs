//! JIT benchmark: the same workloads natively (equivalent Rust), on the bpfvet JIT (unchecked
//! and checked), on the bpfvet interpreter and on rbpf's JIT, in one process and one run:
//! a tight arithmetic loop, a 1,500-byte checksum, a byte parser over 64 and 1,500 bytes, a
//! hash over a table kept on the BPF stack, and the empty program (call overhead).
//!
//! Every engine must agree with the Rust model before anything is timed. Criterion measures
//! each engine; with `--bench`, a summary table follows (ns per run: the fastest of 40
//! interleaved batches per engine, see `time_interleaved`; the ratio of the unchecked JIT to
//! native and of rbpf's JIT to ours; geometric means), then the JIT's compile time per
//! instruction on a 64 Ki-instruction program.
//!
//! `cargo bench -p bpfvet-jit --bench jit` (add `-- zzz` to skip criterion and print only the
//! table).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_jit::JitProgram;
use criterion::Criterion;

const ARITH_LOOP: &str = "
    mov %r0, 0
    mov %r1, 0
    mov %r2, 1
loop:
    add %r0, %r1
    mul %r2, 3
    xor %r0, %r2
    add %r1, 1
    jlt %r1, 10000, loop
    exit
";

const CHECKSUM: &str = "
    mov %r0, 0
    mov %r3, %r1
    add %r3, 1500
loop:
    ldxb %r4, [%r1]
    add32 %r0, %r4
    mov32 %r5, %r0
    lsh32 %r0, 1
    rsh32 %r5, 31
    or32 %r0, %r5
    add %r1, 1
    jlt %r1, %r3, loop
    exit
";

/// Counts digits, letters, whitespace and other bytes; `LEN` is replaced by the length.
const PARSE: &str = "
    mov %r6, 0
    mov %r7, 0
    mov %r8, 0
    mov %r9, 0
    mov %r3, %r1
    add %r3, LEN
loop:
    ldxb %r4, [%r1]
    add %r1, 1
    jlt %r4, 0x30, not_digit
    jgt %r4, 0x39, not_digit
    add %r6, 1
    ja next
not_digit:
    mov %r5, %r4
    or %r5, 0x20
    jlt %r5, 0x61, not_letter
    jgt %r5, 0x7a, not_letter
    add %r7, 1
    ja next
not_letter:
    jeq %r4, 0x20, space
    jeq %r4, 0x0a, space
    jeq %r4, 0x09, space
    add %r9, 1
    ja next
space:
    add %r8, 1
next:
    jlt %r1, %r3, loop
    mov %r0, %r9
    lsh %r0, 16
    or %r0, %r8
    lsh %r0, 16
    or %r0, %r7
    lsh %r0, 16
    or %r0, %r6
    exit
";

/// A 32-entry table of u64 on the stack, mixed with every input byte.
const STACK_HASH: &str = "
    mov %r2, 0
    lddw %r3, 0x9e3779b97f4a7c15
    mov %r4, 0
    mov %r5, %r10
    sub %r5, 256
init:
    stxdw [%r5], %r4
    add %r4, %r3
    add %r5, 8
    add %r2, 1
    jlt %r2, 32, init
    mov %r0, 0
    mov %r2, %r1
    add %r2, 1500
loop:
    ldxb %r3, [%r1]
    xor %r3, %r0
    and %r3, 31
    lsh %r3, 3
    mov %r5, %r10
    sub %r5, 256
    add %r5, %r3
    ldxdw %r4, [%r5]
    mul %r0, 31
    add %r0, %r4
    add %r4, %r0
    stxdw [%r5], %r4
    add %r1, 1
    jlt %r1, %r2, loop
    exit
";

const EMPTY: &str = "mov %r0, 0\nexit";

#[inline(never)]
fn native_arith(_: &[u8]) -> u64 {
    let (mut r0, mut x) = (0u64, 1u64);
    let mut i = 0u64;
    while black_box(i) < 10_000 {
        r0 = r0.wrapping_add(i);
        x = x.wrapping_mul(3);
        r0 ^= x;
        i += 1;
    }
    r0
}

#[inline(never)]
fn native_checksum(input: &[u8]) -> u64 {
    input[..1500]
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_add(b as u32).rotate_left(1)) as u64
}

#[inline(never)]
fn native_parse(input: &[u8]) -> u64 {
    let mut c = [0u64; 4];
    for &b in input {
        let i = match b {
            b'0'..=b'9' => 0,
            _ if (b | 0x20).is_ascii_lowercase() => 1,
            b' ' | b'\n' | b'\t' => 2,
            _ => 3,
        };
        c[i] += 1;
    }
    c[0] | c[1] << 16 | c[2] << 32 | c[3] << 48
}

#[inline(never)]
fn native_stack_hash(input: &[u8]) -> u64 {
    let mut table = [0u64; 32];
    let mut v = 0u64;
    for t in table.iter_mut() {
        *t = v;
        v = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
    }
    let mut h = 0u64;
    for &b in &input[..1500] {
        let i = ((b as u64 ^ h) & 31) as usize;
        let e = table[i];
        h = h.wrapping_mul(31).wrapping_add(e);
        table[i] = e.wrapping_add(h);
    }
    h
}

#[inline(never)]
fn native_empty(_: &[u8]) -> u64 {
    0
}

/// Deterministic text-like input: letters, digits, whitespace and punctuation.
fn input() -> Vec<u8> {
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789    \n\t.,;:-+=()[]{}\"'";
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..1500)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ALPHABET[(s % ALPHABET.len() as u64) as usize]
        })
        .collect()
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// Input bytes the program reads.
    len: usize,
    native: fn(&[u8]) -> u64,
}

fn cases() -> Vec<Case> {
    let enc =
        |text: &str| Program::from_insns(asm::assemble(text, Dialect::Ubpf).unwrap()).encode();
    vec![
        Case {
            name: "arith_loop_10k",
            bytes: enc(ARITH_LOOP),
            len: 1500,
            native: native_arith,
        },
        Case {
            name: "checksum_1500",
            bytes: enc(CHECKSUM),
            len: 1500,
            native: native_checksum,
        },
        Case {
            name: "parse_64",
            bytes: enc(&PARSE.replace("LEN", "64")),
            len: 64,
            native: native_parse,
        },
        Case {
            name: "parse_1500",
            bytes: enc(&PARSE.replace("LEN", "1500")),
            len: 1500,
            native: native_parse,
        },
        Case {
            name: "stack_hash_1500",
            bytes: enc(STACK_HASH),
            len: 1500,
            native: native_stack_hash,
        },
        Case {
            name: "empty",
            bytes: enc(EMPTY),
            len: 1500,
            native: native_empty,
        },
    ]
}

/// Every engine, ready to run one case.
struct Engines<'p> {
    jit: JitProgram,
    checked: JitProgram,
    interp: bpfvet_vm::Vm,
    rbpf: rbpf::EbpfVmRaw<'p>,
}

impl<'p> Engines<'p> {
    fn new(bytes: &'p [u8]) -> Engines<'p> {
        let prog = Program::decode(bytes).unwrap();
        let mut rbpf = rbpf::EbpfVmRaw::new(Some(bytes)).unwrap();
        rbpf.jit_compile().unwrap();
        Engines {
            // SAFETY: the workloads read only the first `len` input bytes (the input has at
            // least that many) and their own stack, and terminate.
            jit: unsafe { JitProgram::new_unchecked(&prog).unwrap() },
            checked: JitProgram::new(&prog).unwrap(),
            interp: bpfvet_vm::Vm::new(&prog).unwrap(),
            rbpf,
        }
    }

    fn rbpf_jit(&self, mem: &mut [u8]) -> u64 {
        // SAFETY: as above; rbpf's JIT runs the same verified-by-construction programs.
        unsafe { self.rbpf.execute_program_jit(mem).unwrap() }
    }
}

/// ns per run of each of `n` engines (`f(k)` runs engine `k` once): batches of about
/// `batch` each, interleaved round-robin for 40 rounds, and the fastest batch of each engine
/// kept. The machine is shared: other processes only ever make a batch slower, and
/// interleaving exposes every engine to the same conditions.
fn time_interleaved(n: usize, batch: Duration, mut f: impl FnMut(usize)) -> Vec<f64> {
    let per_batch: Vec<u32> = (0..n)
        .map(|k| {
            let start = Instant::now();
            let mut calib = 0u32;
            while start.elapsed() < Duration::from_millis(20) {
                f(k);
                calib += 1;
            }
            (calib as f64 * batch.as_secs_f64() / 0.02).max(1.0) as u32
        })
        .collect();
    let mut best = vec![f64::MAX; n];
    for _ in 0..40 {
        for k in 0..n {
            let t = Instant::now();
            for _ in 0..per_batch[k] {
                f(k);
            }
            best[k] = best[k].min(t.elapsed().as_nanos() as f64 / per_batch[k] as f64);
        }
    }
    best
}

/// A large straight-line-and-branches program for the compile-time measurement.
fn large_program(n: usize) -> Program {
    let mut text = String::from("mov %r0, 0\nmov %r2, 7\n");
    for i in 0..n / 8 {
        text.push_str(&format!(
            "add %r0, {i}\nmul %r2, 3\nxor %r0, %r2\nstxdw [%r10-8], %r0\nldxdw %r3, [%r10-8]\n\
             jgt %r3, {i}, +1\nadd32 %r3, 1\ndiv %r0, %r2\n"
        ));
    }
    text.push_str("exit\n");
    Program::from_insns(asm::assemble(&text, Dialect::Ubpf).unwrap())
}

fn main() {
    let input = input();
    let cases = cases();

    // Correctness first: every engine agrees with the Rust model.
    for case in &cases {
        let mut e = Engines::new(&case.bytes);
        let mut mem = input.clone();
        let want = (case.native)(&input[..case.len]);
        assert_eq!(e.jit.run(&mut mem).unwrap(), want, "{}: JIT", case.name);
        assert_eq!(
            e.checked.run(&mut mem).unwrap(),
            want,
            "{}: checked JIT",
            case.name
        );
        assert_eq!(
            e.interp.run(&mut mem).unwrap(),
            want,
            "{}: interpreter",
            case.name
        );
        assert_eq!(e.rbpf_jit(&mut mem), want, "{}: rbpf JIT", case.name);
    }

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
        .configure_from_args();
    for case in &cases {
        let mut e = Engines::new(&case.bytes);
        let mut mem = input.clone();
        let mut group = c.benchmark_group(case.name);
        group.bench_function("native", |b| {
            b.iter(|| black_box((case.native)(black_box(&input[..case.len]))))
        });
        group.bench_function("bpfvet-jit", |b| {
            b.iter(|| black_box(e.jit.run(black_box(&mut mem)).unwrap()))
        });
        group.bench_function("bpfvet-jit-checked", |b| {
            b.iter(|| black_box(e.checked.run(black_box(&mut mem)).unwrap()))
        });
        group.bench_function("bpfvet-vm", |b| {
            b.iter(|| black_box(e.interp.run(black_box(&mut mem)).unwrap()))
        });
        group.bench_function("rbpf-jit", |b| {
            b.iter(|| black_box(e.rbpf_jit(black_box(&mut mem))))
        });
        group.finish();
    }
    c.final_summary();

    // The summary table, only when benchmarking (not under `cargo test --benches`).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!();
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "ns/run", "native", "jit", "checked", "interp", "rbpf-jit", "jit/native", "rbpf/jit"
    );
    let (mut log_native, mut log_rbpf) = (0.0f64, 0.0f64);
    for case in &cases {
        let mut e = Engines::new(&case.bytes);
        let mut mem = input.clone();
        let t = time_interleaved(5, Duration::from_millis(10), |k| match k {
            0 => {
                black_box((case.native)(black_box(&input[..case.len])));
            }
            1 => {
                black_box(e.jit.run(black_box(&mut mem)).unwrap());
            }
            2 => {
                black_box(e.checked.run(black_box(&mut mem)).unwrap());
            }
            3 => {
                black_box(e.interp.run(black_box(&mut mem)).unwrap());
            }
            _ => {
                black_box(e.rbpf_jit(black_box(&mut mem)));
            }
        });
        let (native, jit, checked, interp, rbpf) = (t[0], t[1], t[2], t[3], t[4]);
        log_native += (jit / native).ln();
        log_rbpf += (rbpf / jit).ln();
        println!(
            "{:<16} {native:>9.1} {jit:>9.1} {checked:>9.1} {interp:>9.1} {rbpf:>9.1} {:>9.2}x {:>9.2}x",
            case.name,
            jit / native,
            rbpf / jit
        );
    }
    let n = cases.len() as f64;
    println!(
        "geometric mean: JIT / native = {:.2}x, rbpf JIT / our JIT = {:.2}x",
        (log_native / n).exp(),
        (log_rbpf / n).exp()
    );

    // Compile time per instruction.
    let big = large_program(64 * 1024);
    for (what, checked) in [("unchecked", false), ("checked", true)] {
        let t = Instant::now();
        let reps = 5;
        let mut size = 0;
        for _ in 0..reps {
            let p = if checked {
                JitProgram::new(&big).unwrap()
            } else {
                // SAFETY: compiled only, never run.
                unsafe { JitProgram::new_unchecked(&big).unwrap() }
            };
            size = p.code_size();
        }
        let ns = t.elapsed().as_nanos() as f64 / reps as f64;
        println!(
            "compile ({what}): {} insns -> {size} bytes in {:.2} ms, {:.0} ns/insn",
            big.len(),
            ns / 1e6,
            ns / big.len() as f64
        );
    }
}
