//! Interpreter benchmark: the same three programs on bpfvet-vm and on rbpf's interpreter, in
//! the same run: (a) a tight arithmetic loop of 10,000 iterations, (b) a rotating checksum
//! over 1,500 input bytes, (c) a branchy byte classifier over 1,500 input bytes.
//!
//! Both VMs must agree (and match a Rust model) before anything is timed. Criterion measures
//! each pair; with `--bench`, a summary table of ns per run and the ratio follows, from a
//! separate simple timing loop (median of batches).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bpfvet_isa::{Dialect, Program, asm};
use criterion::Criterion;

const INPUT_LEN: usize = 1500;

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

const CLASSIFY: &str = "
    mov %r6, 0
    mov %r7, 0
    mov %r8, 0
    mov %r9, 0
    mov %r3, %r1
    add %r3, 1500
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

fn model_arith() -> u64 {
    let (mut r0, mut x) = (0u64, 1u64);
    for i in 0..10_000u64 {
        r0 = r0.wrapping_add(i);
        x = x.wrapping_mul(3);
        r0 ^= x;
    }
    r0
}

fn model_checksum(input: &[u8]) -> u64 {
    input
        .iter()
        .fold(0u32, |acc, &b| acc.wrapping_add(b as u32).rotate_left(1)) as u64
}

fn model_classify(input: &[u8]) -> u64 {
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

/// Deterministic text-like input: letters, digits, whitespace and punctuation.
fn input() -> Vec<u8> {
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789    \n\t.,;:-+=()[]{}\"'";
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..INPUT_LEN)
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
    expected: u64,
}

fn cases(input: &[u8]) -> Vec<Case> {
    let enc =
        |text: &str| Program::from_insns(asm::assemble(text, Dialect::Ubpf).unwrap()).encode();
    vec![
        Case {
            name: "arith_loop_10k",
            bytes: enc(ARITH_LOOP),
            expected: model_arith(),
        },
        Case {
            name: "checksum_1500",
            bytes: enc(CHECKSUM),
            expected: model_checksum(input),
        },
        Case {
            name: "classify_1500",
            bytes: enc(CLASSIFY),
            expected: model_classify(input),
        },
    ]
}

/// Both VMs, ready to run one case.
struct Pair<'p> {
    ours: bpfvet_vm::Vm,
    theirs: rbpf::EbpfVmRaw<'p>,
}

impl<'p> Pair<'p> {
    fn new(bytes: &'p [u8]) -> Pair<'p> {
        let prog = Program::decode(bytes).unwrap();
        Pair {
            ours: bpfvet_vm::Vm::new(&prog).unwrap(),
            theirs: rbpf::EbpfVmRaw::new(Some(bytes)).unwrap(),
        }
    }

    fn run_ours(&mut self, mem: &mut [u8]) -> u64 {
        self.ours.run(mem).unwrap()
    }

    fn run_theirs(&self, mem: &mut [u8]) -> u64 {
        self.theirs.execute_program(mem).unwrap()
    }
}

/// Median ns per run of `f` over batches filling about `total`.
fn time_ns(total: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calib = 0u32;
    while start.elapsed() < Duration::from_millis(50) {
        f();
        calib += 1;
    }
    let per_batch = (calib as f64 * (total.as_secs_f64() / 15.0) / 0.05).max(1.0) as u32;
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t.elapsed().as_nanos() as f64 / per_batch as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn main() {
    let input = input();
    let cases = cases(&input);

    // Correctness first: both VMs agree with the model.
    for case in &cases {
        let mut pair = Pair::new(&case.bytes);
        let mut mem = input.clone();
        let ours = pair.run_ours(&mut mem);
        let theirs = pair.run_theirs(&mut mem);
        assert_eq!(
            ours, case.expected,
            "{}: bpfvet-vm disagrees with the model",
            case.name
        );
        assert_eq!(
            theirs, case.expected,
            "{}: rbpf disagrees with the model",
            case.name
        );
    }

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .configure_from_args();
    for case in &cases {
        let mut pair = Pair::new(&case.bytes);
        let mut mem = input.clone();
        let mut group = c.benchmark_group(case.name);
        group.bench_function("bpfvet-vm", |b| {
            b.iter(|| black_box(pair.run_ours(black_box(&mut mem))))
        });
        group.bench_function("rbpf", |b| {
            b.iter(|| black_box(pair.run_theirs(black_box(&mut mem))))
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
        "{:<16} {:>14} {:>14} {:>12}",
        "program", "bpfvet-vm ns", "rbpf ns", "rbpf/ours"
    );
    for case in &cases {
        let mut pair = Pair::new(&case.bytes);
        let mut mem = input.clone();
        let ours = time_ns(Duration::from_millis(750), || {
            black_box(pair.run_ours(black_box(&mut mem)));
        });
        let theirs = time_ns(Duration::from_millis(750), || {
            black_box(pair.run_theirs(black_box(&mut mem)));
        });
        println!(
            "{:<16} {:>14.0} {:>14.0} {:>11.2}x",
            case.name,
            ours,
            theirs,
            theirs / ours
        );
    }
}
