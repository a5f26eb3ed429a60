//! `bpfvet run` with a program context: builds a [`Runner`] from an ELF object (or raw
//! bytecode / assembly with `--type`), preloads maps (`--map`), verifies with bpfvet's
//! verifier (unless `--no-verify`), moves to the checked JIT with `--jit`, then runs as
//! `BPF_PROG_TEST_RUN` does — `--data-in`,
//! `--ctx-in`, `--repeat` (the same context again and again, as the kernel does) — printing
//! the return value, the output data and the mean time per run, or `--json`:
//! `{"retval": <u32>, "data_out_hex": "...", "ns_per_run": <float or null>}` (a stable
//! contract). `--pcap` hands over to `pcap_run.rs`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use bpfvet_isa::uapi;
use bpfvet_vm::Context;

use super::RunArgs;
use crate::commands::inspect::load_object;
use crate::error::CliError;
use crate::input::read_input;
use crate::map_json;
use crate::runner::{Runner, prog_type_id};

/// Return values and their names.
type Names = &'static [(u32, &'static str)];

/// Names of return values by program type (uapi number), for summaries.
const ACTIONS: &[(&[u32], Names)] = &[
    (
        &[6],
        &[
            (0, "XDP_ABORTED"),
            (1, "XDP_DROP"),
            (2, "XDP_PASS"),
            (3, "XDP_TX"),
            (4, "XDP_REDIRECT"),
        ],
    ),
    (
        &[3, 4],
        &[
            (u32::MAX, "TC_ACT_UNSPEC"),
            (0, "TC_ACT_OK"),
            (1, "TC_ACT_RECLASSIFY"),
            (2, "TC_ACT_SHOT"),
            (3, "TC_ACT_PIPE"),
            (4, "TC_ACT_STOLEN"),
            (5, "TC_ACT_QUEUED"),
            (6, "TC_ACT_REPEAT"),
            (7, "TC_ACT_REDIRECT"),
            (8, "TC_ACT_TRAP"),
        ],
    ),
    (&[8], &[(0, "drop"), (1, "allow")]),
    (&[1], &[(0, "drop")]),
];

/// The name of return value `r` for program type `t`, if it has one.
pub(super) fn action_name(t: u32, r: u32) -> Option<&'static str> {
    let (_, names) = ACTIONS.iter().find(|(types, _)| types.contains(&t))?;
    names.iter().find(|(v, _)| *v == r).map(|(_, n)| *n)
}

/// A label for a return value in summaries: the action name, or "keep N bytes" for socket
/// filters, or the number.
pub(super) fn action_label(t: u32, r: u32) -> String {
    match action_name(t, r) {
        Some(n) => n.to_string(),
        None if t == 1 => format!("keep {r} bytes"),
        None => format!("{r} ({r:#x})"),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::io(path, &e))
}

/// The runner the arguments describe, with maps preloaded.
fn runner(a: &RunArgs) -> Result<Runner, CliError> {
    let file = &a.input.file;
    let prog_type = a
        .prog_type
        .as_deref()
        .map(prog_type_id)
        .transpose()
        .map_err(|e| CliError::usage(e.0))?;
    let bytes = read(file)?;
    let mut r = if !a.input.raw && !a.input.asm && bpfvet_loader::is_elf(&bytes) {
        let obj = load_object(file, None)?;
        let name = match &a.prog {
            Some(n) => n.clone(),
            None if obj.programs.len() == 1 => obj.programs[0].name.clone(),
            None => {
                return Err(CliError::usage(format!(
                    "{}: {} programs; choose one with --prog ({})",
                    file.display(),
                    obj.programs.len(),
                    obj.programs
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        Runner::from_object(&obj, &name, prog_type).map_err(|e| CliError::input(file, e.0))?
    } else {
        let t = prog_type.ok_or_else(|| {
            CliError::usage(format!(
                "{}: raw bytecode and assembly need --type (xdp, sched_cls, socket_filter, ...)",
                file.display()
            ))
        })?;
        let input = read_input(file, a.input.opts())?;
        let unit = input
            .units
            .first()
            .ok_or_else(|| CliError::input(file, "no instructions"))?;
        Runner::from_program(&unit.program, t).map_err(|e| CliError::input(file, e.0))?
    };
    if a.cpus != 1 {
        let mut maps =
            bpfvet_vm::Maps::with_cpus(a.cpus).map_err(|e| CliError::usage(e.to_string()))?;
        for d in r.maps().dump_all() {
            maps.create(d.spec)
                .map_err(|e| CliError::input(file, e.to_string()))?;
        }
        // Global data and prog array slots are carried over from the first set.
        for (i, d) in r.maps().dump_all().into_iter().enumerate() {
            if !matches!(
                d.spec.map_type,
                bpfvet_vm::MapType::Ringbuf | bpfvet_vm::MapType::PerfEventArray
            ) && !d.spec.frozen
            {
                let _ = maps.load(i, &d.entries);
            }
        }
        *r.maps_mut() = maps;
    }
    let programs = r.program_names().to_vec();
    for m in &a.maps {
        let (name, path) = m
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--map {m}: expected NAME=FILE")))?;
        let index = r.maps().index_of(name).ok_or_else(|| {
            CliError::usage(format!(
                "--map {m}: no map named {name} (maps: {})",
                r.maps()
                    .dump_all()
                    .iter()
                    .map(|d| d.spec.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let path = Path::new(path);
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, &e))?;
        map_json::load(r.maps_mut(), index, &text, &programs)
            .map_err(|e| CliError::input(path, e))?;
    }
    Ok(r)
}

/// Verifies the entry program; a rejection is an error naming the instruction.
fn verify(a: &RunArgs, r: &Runner) -> Result<(), CliError> {
    if a.no_verify {
        return Ok(());
    }
    let o = r.verify();
    match &o.result {
        Ok(()) => Ok(()),
        Err(e) => Err(CliError::failed(
            &a.input.file,
            format!(
                "the verifier rejects the program{}: {} (run `bpfvet verify` for the log, or \
                 pass --no-verify)",
                e.insn.map(|i| format!(" at insn {i}")).unwrap_or_default(),
                e.message
            ),
        )),
    }
}

/// Prints the `trace_printk` output collected so far (and clears it).
pub(super) fn print_trace(r: &mut Runner, out: &mut impl Write, prefix: &str) {
    for t in r.env_mut().take_trace() {
        let _ = writeln!(out, "{prefix}{}", t.message.trim_end_matches('\n'));
    }
}

/// Writes the maps as JSON to stdout or to the `--dump-maps` file.
pub(super) fn dump_maps(a: &RunArgs, r: &Runner) -> Result<(), CliError> {
    let Some(path) = &a.dump_maps else {
        return Ok(());
    };
    let text = map_json::dump(r.maps()).to_string();
    if path.as_os_str() == "-" {
        println!("{text}");
        Ok(())
    } else {
        std::fs::write(path, text + "\n").map_err(|e| CliError::io(path, &e))
    }
}

pub fn run(a: &RunArgs) -> Result<u8, CliError> {
    if a.unchecked {
        return Err(CliError::usage(
            "--unchecked runs plain memory only: program contexts hold the interpreter's \
             packet addresses, which the unchecked JIT cannot use (drop --unchecked: the \
             checked JIT runs contexts)",
        ));
    }
    let mut r = runner(a)?;
    verify(a, &r)?;
    if a.jit {
        r.use_jit()
            .map_err(|e| CliError::failed(&a.input.file, e.0))?;
    }
    if a.pcap.is_some() {
        return super::pcap_run::run(a, &mut r);
    }
    let file = &a.input.file;
    let data = match &a.data_in {
        Some(p) => read(p)?,
        None => Vec::new(),
    };
    let ctx_in = a.ctx_in.as_deref().map(read).transpose()?;
    let mut ctx: Context = r
        .context(&data, ctx_in.as_deref())
        .map_err(|e| CliError::input(file, format!("cannot build the context: {e}")))?;
    let fail = |e: bpfvet_vm::VmError| CliError::failed(file, e.to_string());
    let n = a.repeat.unwrap_or(1).max(1);
    let start = Instant::now();
    let mut retval = 0;
    for _ in 0..n {
        retval = r.run(&mut ctx).map_err(fail)?.r0 as u32;
    }
    let elapsed = start.elapsed();
    let ns_per_run = a
        .repeat
        .filter(|&n| n > 0)
        .map(|n| elapsed.as_nanos() as f64 / n as f64);
    let data_out = ctx.data_out();
    let mut stdout = std::io::stdout().lock();
    if a.json {
        let ns = ns_per_run.map_or("null".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            stdout,
            "{{\"retval\": {retval}, \"data_out_hex\": \"{}\", \"ns_per_run\": {ns}}}",
            map_json::hex(&data_out)
        );
    } else {
        print_trace(&mut r, &mut stdout, "trace: ");
        let name = action_name(r.prog_type(), retval)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = writeln!(stdout, "retval: {retval} ({retval:#x}){name}");
        let _ = writeln!(
            stdout,
            "data out ({} bytes): {}",
            data_out.len(),
            map_json::hex(&data_out)
        );
        if let Some(c) = ctx.ctx_out() {
            let _ = writeln!(stdout, "ctx out ({} bytes): {}", c.len(), map_json::hex(&c));
        }
        if let Some(ns) = ns_per_run {
            let _ = writeln!(stdout, "mean {ns:.3} ns/run over {n} runs");
        }
        let _ = writeln!(
            stdout,
            "type {}",
            uapi::name_of(uapi::PROG_TYPES, r.prog_type()).unwrap_or("?")
        );
    }
    drop(stdout);
    dump_maps(a, &r)?;
    Ok(0)
}
