//! `bpfvet run`: runs a program on the interpreter with R1 pointing at the input memory and
//! R2 holding its length (as uBPF and rbpf do), and prints R0.

use std::path::PathBuf;
use std::time::Instant;

use bpfvet_vm::{Vm, conformance_helpers};
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
    let mut vm =
        Vm::new(&unit.program).map_err(|e| CliError::input(&a.input.file, e.to_string()))?;
    conformance_helpers(&mut vm);
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
