//! `bpfvet run`: runs a program on the interpreter (or, with `--jit`, on the JIT).
//!
//! Two modes. Plain memory (this file): R1 points at the input memory and R2 holds its
//! length (as uBPF and rbpf do); R0 is printed. Program contexts (`context.rs`, chosen by
//! `--prog`, `--type`, `--pcap`, `--data-in`, `--ctx-in`, `--map` or `--dump-maps`): the
//! program is verified, then run as `BPF_PROG_TEST_RUN` runs it (`--data-in`) or on every
//! packet of a capture (`--pcap`, `pcap_run.rs`), with its maps and the kernel helpers.

mod context;
mod pcap_run;

use std::path::PathBuf;
use std::time::Instant;

use bpfvet_jit::{Engine, EngineKind, JitError};
use clap::Args;

use crate::InputArgs;
use crate::error::CliError;
use crate::input::read_input;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Input memory as hex bytes (spaces allowed), e.g. "aa bb 11 22"
    #[arg(long, conflicts_with = "mem_file")]
    pub mem: Option<String>,
    /// Input memory from a file
    #[arg(long)]
    pub mem_file: Option<PathBuf>,
    /// Section to run when the input has several (default: the first)
    #[arg(long)]
    pub section: Option<String>,
    /// Run N times in one process and print the mean time per run
    #[arg(long, value_name = "N")]
    pub repeat: Option<u64>,
    /// Print {"retval": ..., "ns_per_run": ...}
    #[arg(long)]
    pub json: bool,
    /// Run on the JIT (checked: the interpreter's results and errors, at native speed)
    #[arg(long)]
    pub jit: bool,
    /// With --jit: no bounds checks, R1 holds a host address. Only for trusted programs: one
    /// that strays outside its memory can crash bpfvet
    #[arg(long, requires = "jit")]
    pub unchecked: bool,
    /// Program to run (ELF objects; default: the only one). Selects the context mode
    #[arg(long)]
    pub prog: Option<String>,
    /// Program type (xdp, sched_cls, socket_filter, cgroup_skb, kprobe, raw_tracepoint, ...);
    /// for ELF objects it overrides the section's type. Selects the context mode
    #[arg(long = "type")]
    pub prog_type: Option<String>,
    /// Packet data as BPF_PROG_TEST_RUN's data_in (an Ethernet frame for packet programs)
    #[arg(long, value_name = "FILE")]
    pub data_in: Option<PathBuf>,
    /// Context as BPF_PROG_TEST_RUN's ctx_in (struct __sk_buff, struct xdp_md, pt_regs, raw
    /// tracepoint arguments, ...)
    #[arg(long, value_name = "FILE")]
    pub ctx_in: Option<PathBuf>,
    /// Run on every packet of a pcap capture (Ethernet) and summarise the actions
    #[arg(long, value_name = "FILE", conflicts_with_all = ["data_in", "mem", "mem_file"])]
    pub pcap: Option<PathBuf>,
    /// With --pcap: write every packet as the program left it to this pcap file
    #[arg(long, value_name = "FILE", requires = "pcap")]
    pub out: Option<PathBuf>,
    /// Preload map NAME from a JSON file: [{"key": K, "value": V}, ...] with numbers
    /// (little-endian), hex strings (bytes in memory order) or, for prog arrays, program names
    #[arg(long = "map", value_name = "NAME=FILE")]
    pub maps: Vec<String>,
    /// Print every map as JSON at the end (to FILE if given)
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub dump_maps: Option<PathBuf>,
    /// Run without verifying first
    #[arg(long)]
    pub no_verify: bool,
    /// Simulated CPUs for per-CPU maps (programs run on CPU 0)
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub cpus: usize,
}

impl RunArgs {
    /// Whether the arguments ask for a program context rather than plain memory.
    fn context_mode(&self) -> bool {
        self.prog.is_some()
            || self.prog_type.is_some()
            || self.data_in.is_some()
            || self.ctx_in.is_some()
            || self.pcap.is_some()
            || !self.maps.is_empty()
            || self.dump_maps.is_some()
    }
}

/// The engine `run` and `jit` use for `prog`.
pub fn engine(
    prog: &bpfvet_isa::Program,
    jit: bool,
    unchecked: bool,
    file: &std::path::Path,
) -> Result<Engine, CliError> {
    let built = match (jit, unchecked) {
        (false, _) => Engine::new(prog, EngineKind::Interpreter),
        (true, false) => Engine::new(prog, EngineKind::Jit),
        // SAFETY: `--unchecked` is the user's explicit statement that the program stays
        // inside its memory and terminates; its help text says what happens otherwise.
        (true, true) => unsafe { Engine::new_unchecked(prog, EngineKind::JitUnchecked) },
    };
    built.map_err(|e| match e {
        JitError::Invalid(e) => CliError::input(file, e.to_string()),
        e => CliError::failed(file, e.to_string()),
    })
}

fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if !digits.len().is_multiple_of(2) {
        return Err("--mem needs an even number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("--mem: `{}` is not a hex byte", &digits[i..i + 2]))
        })
        .collect()
}

pub fn run(a: &RunArgs) -> Result<u8, CliError> {
    if a.context_mode() {
        return context::run(a);
    }
    let input = read_input(&a.input.file, a.input.opts())?;
    let unit = match &a.section {
        Some(s) => input
            .units
            .iter()
            .find(|u| u.section == *s)
            .ok_or_else(|| CliError::input(&a.input.file, format!("no section `{s}`")))?,
        None => &input.units[0],
    };
    let mem = match (&a.mem, &a.mem_file) {
        (Some(h), _) => parse_hex(h).map_err(CliError::usage)?,
        (None, Some(f)) => std::fs::read(f).map_err(|e| CliError::io(f, &e))?,
        (None, None) => Vec::new(),
    };
    let mut vm = engine(&unit.program, a.jit, a.unchecked, &a.input.file)?;
    vm.register_conformance_helpers();
    let fail = |e: bpfvet_vm::VmError| CliError::failed(&a.input.file, e.to_string());
    let mut work = mem.clone();
    let retval = vm.run(&mut work).map_err(fail)?;
    let ns_per_run = match a.repeat {
        Some(n) if n > 0 => {
            let start = Instant::now();
            for _ in 0..n {
                work.copy_from_slice(&mem);
                std::hint::black_box(vm.run(std::hint::black_box(&mut work)).map_err(fail)?);
            }
            Some(start.elapsed().as_nanos() as f64 / n as f64)
        }
        _ => None,
    };
    if a.json {
        let ns = ns_per_run.map_or("null".to_string(), |v| format!("{v:.3}"));
        println!("{{\"retval\": {retval}, \"ns_per_run\": {ns}}}");
    } else {
        println!("{retval:#x}");
        if let Some(ns) = ns_per_run {
            println!("mean {ns:.3} ns/run");
        }
    }
    Ok(0)
}
