//! `bpfvet verify`: run the verifier on every program of an ELF object (or one, with `--prog`),
//! or on raw bytecode / assembly; print the verdicts (and the kernel-format log with
//! `--log-level`), or JSON (a stable contract). Exit 0 if all are accepted, 1 if any is
//! rejected, 2 on bad input.

use std::path::PathBuf;

use bpfvet_isa::uapi;
use bpfvet_loader::maps::MapOrigin;
use bpfvet_loader::{BpfObject, MapDef};
use bpfvet_verifier::{Code, MapInfo, Outcome, VerifyEnv, verify};
use clap::Args;
use serde::Serialize;

use crate::DialectArg;
use crate::commands::inspect::load_object_with_options;
use crate::commands::stats::collect::{Job as StatsJob, KernelInput, kernel_input};
use crate::commands::stats::kernel_btf;
use crate::error::CliError;
use crate::input::{InputOpts, read_input};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// ELF object, raw bytecode (--raw) or assembly text
    pub file: PathBuf,
    /// Verify only this program (ELF objects)
    #[arg(long)]
    pub prog: Option<String>,
    /// Program type (kernel name without prefix: socket_filter, xdp, kprobe, sched_cls, ...);
    /// for ELF objects it overrides the type taken from the section
    #[arg(long = "type")]
    pub prog_type: Option<String>,
    /// Read the input as raw little-endian bytecode
    #[arg(long, conflicts_with = "asm")]
    pub raw: bool,
    /// Read the input as assembly text (default for .s and .asm files)
    #[arg(long)]
    pub asm: bool,
    /// Assembly dialect
    #[arg(long, value_enum, default_value_t = DialectArg::Llvm)]
    pub dialect: DialectArg,
    /// Verifier log: 0 none, 1 the failing path, 2 every state
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=2))]
    pub log_level: u32,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// Target BTF for CO-RE relocations (default: /sys/kernel/btf/vmlinux when present)
    #[arg(long)]
    pub btf: Option<PathBuf>,
    /// Also load each program into the running kernel (needs bpf(), usually root) and show
    /// both verdicts side by side (with --log-level, the kernel's log after ours); bpfvet's
    /// verdict and exit code stay its own
    #[arg(long)]
    pub kernel: bool,
}

/// One program to verify.
struct Job {
    name: String,
    section: String,
    prog_type: u32,
    code: Code,
    env: VerifyEnv,
    /// What `--kernel` needs to load it (BTF, func_info, attach target, license).
    kernel: KernelInput,
}

#[derive(Serialize)]
struct JsonReport {
    programs: Vec<JsonProgram>,
}

#[derive(Serialize)]
struct JsonProgram {
    name: String,
    section: String,
    #[serde(rename = "type")]
    prog_type: String,
    verdict: &'static str,
    error: Option<JsonError>,
    stats: JsonStats,
}

#[derive(Serialize)]
struct JsonError {
    insn: Option<usize>,
    message: String,
    errno: &'static str,
    explanation: Option<String>,
    /// `file:line:col` of the instruction, when the object has line info.
    source: Option<String>,
}

#[derive(Serialize)]
struct JsonStats {
    processed_insns: u64,
    total_states: u64,
    peak_states: u64,
    max_states_per_insn: u64,
    time_us: u64,
}

fn type_id(path: &std::path::Path, name: &str) -> Result<u32, CliError> {
    uapi::id_of(uapi::PROG_TYPES, name).ok_or_else(|| {
        CliError::usage(format!(
            "{}: unknown program type {name:?} (expected a kernel name like socket_filter, \
             xdp, kprobe, sched_cls)",
            path.display()
        ))
    })
}

/// Map definitions of an object as the verifier sees them: inner maps are appended after the
/// object's own maps.
pub fn map_infos(maps: &[MapDef]) -> Vec<MapInfo> {
    let mut out: Vec<MapInfo> = maps.iter().map(map_info).collect();
    for (i, m) in maps.iter().enumerate() {
        if let Some(inner) = &m.inner {
            out.push(map_info(inner));
            out[i].inner = Some(out.len() - 1);
        }
    }
    out
}

fn map_info(m: &MapDef) -> MapInfo {
    MapInfo {
        name: m.name.clone(),
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        flags: m.map_flags,
        inner: None,
        frozen: m.frozen || matches!(m.origin, MapOrigin::Kconfig),
        initial_value: m.initial_value.clone(),
    }
}

fn elf_jobs(
    a: &VerifyArgs,
    obj: &BpfObject,
    opts: &bpfvet_loader::LoadOptions,
) -> Result<Vec<Job>, CliError> {
    let maps = map_infos(&obj.maps);
    let btf = if a.kernel {
        kernel_btf::object_btf(obj)
            .and_then(Result::ok)
            .map(std::sync::Arc::new)
    } else {
        None
    };
    let mut jobs = Vec::new();
    for p in &obj.programs {
        if a.prog.as_ref().is_some_and(|n| *n != p.name) {
            continue;
        }
        let prog_type = match &a.prog_type {
            Some(t) => type_id(&a.file, t)?,
            None => p.prog_type().ok_or_else(|| {
                CliError::input(
                    &a.file,
                    format!(
                        "program {} in section {}: the section name gives no program type; \
                         pass --type",
                        p.name, p.section
                    ),
                )
            })?,
        };
        let mut env = VerifyEnv::new(prog_type);
        env.maps = maps.clone();
        env.gpl_compatible = obj.gpl_compatible();
        env.expected_attach_type = p.section_type.as_ref().and_then(|t| t.expected_attach_type);
        env.sleepable = p.section_type.as_ref().is_some_and(|t| t.sleepable());
        env.log_level = a.log_level;
        env.has_func_info = obj
            .btf_ext
            .as_ref()
            .is_some_and(|e| !e.funcs(&p.section).is_empty());
        env.funcs = bpfvet_loader::funcs::signatures(obj, p);
        // Kfunc calls name functions of the BTF the loader resolved them against.
        env.kernel_btf = opts.target_btf.clone().map(bpfvet_verifier::KernelBtf);
        env.lines = p
            .lines
            .iter()
            .map(|l| {
                l.as_ref().map(|l| bpfvet_verifier::env::SourceLine {
                    file: l.file.clone(),
                    line: l.line,
                    col: l.col,
                    text: l.text.clone(),
                })
            })
            .collect();
        jobs.push(Job {
            name: p.name.clone(),
            section: p.section.clone(),
            prog_type,
            code: Code::from_program(&p.program),
            env,
            kernel: if a.kernel {
                kernel_input(obj, p, btf.clone(), opts)
            } else {
                KernelInput::default()
            },
        });
    }
    if let Some(n) = &a.prog
        && jobs.is_empty()
    {
        return Err(CliError::usage(format!(
            "{}: no program named {n} (programs: {})",
            a.file.display(),
            obj.programs
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(jobs)
}

fn jobs(a: &VerifyArgs) -> Result<Vec<Job>, CliError> {
    let bytes = std::fs::read(&a.file).map_err(|e| CliError::io(&a.file, &e))?;
    if !a.raw && !a.asm && bpfvet_loader::is_elf(&bytes) {
        let (obj, opts) = load_object_with_options(&a.file, a.btf.as_deref())?;
        return elf_jobs(a, &obj, &opts);
    }
    let prog_type = type_id(&a.file, a.prog_type.as_deref().unwrap_or("socket_filter"))?;
    let code = if a.raw || !(a.asm || crate::input::is_asm_path(&a.file)) {
        Code::from_bytes(&bytes).map_err(|e| CliError::input(&a.file, e.message))?
    } else {
        let input = read_input(
            &a.file,
            InputOpts {
                raw: false,
                asm: true,
                dialect: a.dialect.into(),
            },
        )?;
        let unit = input
            .units
            .first()
            .ok_or_else(|| CliError::input(&a.file, "no instructions"))?;
        Code::from_program(&unit.program)
    };
    let mut env = VerifyEnv::new(prog_type);
    env.log_level = a.log_level;
    Ok(vec![Job {
        name: a
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("prog")
            .to_string(),
        section: String::new(),
        prog_type,
        code,
        env,
        kernel: KernelInput {
            license: "GPL".into(),
            ..KernelInput::default()
        },
    }])
}

/// The running kernel's verdict on a job: (accepted, message line), loaded as `stats
/// --kernel` loads it (maps, BTF with func_info, attach target).
fn kernel_verdict(j: &Job) -> Result<(bool, String), String> {
    bpfvet_kernel::available()?;
    let k = crate::commands::stats::kernel::load(&stats_job(j))?;
    Ok((k.accepted, k.error.unwrap_or_default()))
}

/// The running kernel's log for a job at `level`, to read beside ours.
fn kernel_log(j: &Job, level: u32) -> Result<String, String> {
    bpfvet_kernel::available()?;
    crate::commands::stats::kernel::log(&stats_job(j), level)
}

fn stats_job(j: &Job) -> StatsJob {
    StatsJob {
        file: String::new(),
        prog: j.name.clone(),
        prog_type: j.prog_type,
        code: j.code.clone(),
        env: j.env.clone(),
        kernel: j.kernel.clone(),
    }
}

pub fn run(a: &VerifyArgs) -> Result<u8, CliError> {
    let jobs = jobs(a)?;
    let results: Vec<(Job, Outcome)> = jobs
        .into_iter()
        .map(|j| {
            let o = verify(&j.code, &j.env);
            (j, o)
        })
        .collect();
    let rejected = results.iter().any(|(_, o)| !o.accepted());
    if a.json {
        let report = JsonReport {
            programs: results
                .iter()
                .map(|(j, o)| JsonProgram {
                    name: j.name.clone(),
                    section: j.section.clone(),
                    prog_type: uapi::name_of(uapi::PROG_TYPES, j.prog_type)
                        .unwrap_or("unknown")
                        .to_string(),
                    verdict: if o.accepted() { "accept" } else { "reject" },
                    error: o.result.as_ref().err().map(|e| JsonError {
                        insn: e.insn,
                        message: e.message.clone(),
                        errno: e.errno.name(),
                        explanation: e.explanation.clone(),
                        source: e.insn.and_then(|i| j.env.lines.get(i)).and_then(|l| {
                            l.as_ref()
                                .map(|l| format!("{}:{}:{}", l.file, l.line, l.col))
                        }),
                    }),
                    stats: JsonStats {
                        processed_insns: o.stats.processed_insns,
                        total_states: o.stats.total_states,
                        peak_states: o.stats.peak_states,
                        max_states_per_insn: o.stats.max_states_per_insn,
                        time_us: o.stats.time_us,
                    },
                })
                .collect(),
        };
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::usage(e.to_string()))?;
        println!("{text}");
    } else {
        for (j, o) in &results {
            if a.log_level > 0 {
                print!("{}", o.log);
            }
            let what = if j.section.is_empty() {
                j.name.clone()
            } else {
                format!("{} ({})", j.name, j.section)
            };
            if a.kernel {
                let ours = match &o.result {
                    Ok(()) => "accept".to_string(),
                    Err(e) => format!("reject: {}", e.message),
                };
                let theirs = match kernel_verdict(j) {
                    Ok((true, _)) => "accept".to_string(),
                    Ok((false, m)) => format!("reject: {m}"),
                    Err(e) => format!("unavailable ({e})"),
                };
                let mark = if theirs.starts_with("unavailable") {
                    ""
                } else if ours == theirs {
                    "  [agree]"
                } else {
                    "  [DIFFER]"
                };
                println!("{what}:{mark}\n  bpfvet: {ours}\n  kernel: {theirs}");
                if a.log_level > 0
                    && let Ok(log) = kernel_log(j, a.log_level)
                {
                    println!("--- the kernel's log (level {}) ---", a.log_level.min(2));
                    print!("{log}");
                    println!("--- end of the kernel's log ---");
                }
                continue;
            }
            match &o.result {
                Ok(()) => println!(
                    "{what}: accepted ({} insns processed, {} states)",
                    o.stats.processed_insns, o.stats.total_states
                ),
                Err(e) => {
                    println!("{what}: rejected");
                    for d in &e.detail {
                        println!("  {d}");
                    }
                    match e.insn {
                        Some(i) => println!("  insn {i}: {}", e.message),
                        None => println!("  {}", e.message),
                    }
                    if let Some(Some(src)) = e.insn.and_then(|i| j.env.lines.get(i)) {
                        let file = src.file.rsplit('/').next().unwrap_or(&src.file);
                        println!("  at {file}:{}:{}: {}", src.line, src.col, src.text.trim());
                    }
                    if let Some(x) = &e.explanation {
                        println!("  note: {x}");
                    }
                }
            }
        }
    }
    Ok(if rejected { 1 } else { 0 })
}
