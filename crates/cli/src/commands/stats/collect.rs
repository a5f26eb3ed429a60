//! Gathering the statistics: every object loaded as `verify` loads it, one job per program
//! (kept by the name filters), the jobs verified in parallel on all cores (std threads, one
//! work queue), each giving a [`Record`] — our figures, and the kernel's with `--kernel`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bpfvet_btf::{Btf, Kind};
use bpfvet_isa::uapi;
use bpfvet_loader::sections::SectionType;
use bpfvet_loader::{BpfObject, LoadOptions};
use bpfvet_verifier::{Code, VerifyEnv, verify};

use super::columns::{Col, Record, Value};
use super::filter::Filters;
use super::kernel;
use super::kernel_btf;
use super::progress::Progress;
use crate::commands::inspect::load_options;
use crate::commands::verify::map_infos;
use crate::error::CliError;

/// What the kernel load of a job needs besides the code and the environment.
#[derive(Clone, Debug, Default)]
pub struct KernelInput {
    /// The object's sanitized BTF (shared by its programs).
    pub btf: Option<Arc<Vec<u8>>>,
    /// func_info records for the linked program.
    pub func_info: Option<Vec<u8>>,
    pub license: String,
    pub kern_version: u32,
    /// The kernel BTF id a tracing or LSM program attaches to.
    pub attach_btf_id: u32,
}

/// One program to measure.
#[derive(Clone, Debug)]
pub struct Job {
    /// The object's file name (without directories, as veristat shows it).
    pub file: String,
    pub prog: String,
    pub prog_type: u32,
    pub code: Code,
    pub env: VerifyEnv,
    pub kernel: KernelInput,
}

/// How to gather.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Also load every program into the running kernel.
    pub kernel: bool,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Target BTF for CO-RE (default: the running kernel's).
    pub btf: Option<PathBuf>,
    /// Draw a progress bar (when stderr is a terminal).
    pub progress: bool,
}

/// The outcome of a run.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub records: Vec<Record>,
    pub files_processed: usize,
    pub files_skipped: usize,
    pub progs_skipped: usize,
    /// Files that could not be loaded and programs that could not be measured, one line
    /// each (the caller prints them on stderr).
    pub problems: Vec<String>,
    /// Whether the kernel's figures are in the records; `Some(why)` when `--kernel` was
    /// asked for and bpf() does not work here.
    pub kernel_unavailable: Option<String>,
}

/// The file name shown for `path`.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Runs `f` on every item on `threads` threads (0: one per core), keeping the order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    progress: Option<&Progress>,
    name: impl Fn(&T) -> String + Sync,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        let drawer = progress.map(|p| s.spawn(|| p.draw_until(&stop)));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        if let Some(p) = progress {
                            p.start(&name(item));
                        }
                        let r = f(item);
                        if let Some(p) = progress {
                            p.finish_one();
                        }
                        if let Ok(mut v) = results.lock() {
                            v[i] = Some(r);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            // A worker that panicked leaves its slot empty; the panic is re-raised below.
            if let Err(e) = w.join() {
                stop.store(true, Ordering::Relaxed);
                std::panic::resume_unwind(e);
            }
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(d) = drawer {
            let _ = d.join();
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// The kernel type a tracing (fentry, fexit, tp_btf, iter) or LSM program names, found as
/// libbpf finds it: `btf_trace_<tp>` typedefs, `bpf_lsm_<hook>` and `bpf_iter_<name>`
/// functions, other targets by function name.
fn attach_btf_id(vmlinux: &Btf, t: &SectionType) -> Option<u32> {
    const TRACING: u32 = 26;
    const LSM: u32 = 29;
    const TRACE_RAW_TP: u32 = 23;
    const LSM_MAC: u32 = 27;
    const TRACE_ITER: u32 = 28;
    if t.prog_type != TRACING && t.prog_type != LSM {
        return None;
    }
    let target = t.attach_target.as_deref()?;
    let (kind, name) = match t.expected_attach_type {
        Some(TRACE_RAW_TP) => (Kind::Typedef, format!("btf_trace_{target}")),
        Some(LSM_MAC) => (Kind::Func, format!("bpf_lsm_{target}")),
        Some(TRACE_ITER) => (Kind::Func, format!("bpf_iter_{target}")),
        _ => (Kind::Func, target.to_string()),
    };
    vmlinux.find(kind, &name).map(|id| id.0)
}

/// What loading program `p` of `obj` into the kernel needs: the object's sanitized BTF
/// (`btf`, shared by its programs), the linked program's func_info, license, version and
/// the attach target's BTF id (from the target BTF in `opts`).
pub fn kernel_input(
    obj: &BpfObject,
    p: &bpfvet_loader::ProgramInfo,
    btf: Option<Arc<Vec<u8>>>,
    opts: &LoadOptions,
) -> KernelInput {
    KernelInput {
        btf,
        func_info: kernel_btf::func_info(obj, p),
        license: obj.license.clone(),
        kern_version: obj.kern_version.or(opts.kernel_version).unwrap_or(0),
        attach_btf_id: p
            .section_type
            .as_ref()
            .and_then(|t| attach_btf_id(opts.target_btf.as_deref()?, t))
            .unwrap_or(0),
    }
}

/// One object's jobs, or why the file was skipped.
fn object_jobs(
    path: &Path,
    base: &LoadOptions,
    filters: &Filters,
    kernel: bool,
) -> Result<(Vec<Job>, usize, Vec<String>), String> {
    let file = display_name(path);
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !bpfvet_loader::is_elf(&bytes) {
        return Err(format!("{}: not an ELF object, skipped", path.display()));
    }
    let mut opts = base.clone();
    opts.name = file
        .strip_suffix(".o")
        .map(|n| n.strip_suffix(".bpf").unwrap_or(n))
        .unwrap_or(&file)
        .to_string();
    let obj =
        BpfObject::load(&bytes, &opts).map_err(|e| format!("{}: {}", path.display(), e.msg))?;
    let maps = map_infos(&obj.maps);
    let btf = if kernel {
        kernel_btf::object_btf(&obj)
            .and_then(Result::ok)
            .map(Arc::new)
    } else {
        None
    };
    let mut jobs = Vec::new();
    let mut skipped = 0;
    let mut notes = Vec::new();
    for p in &obj.programs {
        if !filters.keep_name(&file, &p.name) {
            skipped += 1;
            continue;
        }
        let Some(prog_type) = p.prog_type() else {
            skipped += 1;
            notes.push(format!(
                "{file}/{}: section {} gives no program type, skipped",
                p.name, p.section
            ));
            continue;
        };
        let mut env = VerifyEnv::new(prog_type);
        env.maps = maps.clone();
        env.gpl_compatible = obj.gpl_compatible();
        env.expected_attach_type = p.section_type.as_ref().and_then(|t| t.expected_attach_type);
        env.sleepable = p.section_type.as_ref().is_some_and(|t| t.sleepable());
        env.has_func_info = obj
            .btf_ext
            .as_ref()
            .is_some_and(|e| !e.funcs(&p.section).is_empty());
        env.funcs = bpfvet_loader::funcs::signatures(&obj, p);
        // Kfunc calls name functions of the BTF the loader resolved them against.
        env.kernel_btf = base.target_btf.clone().map(bpfvet_verifier::KernelBtf);
        let kernel = if kernel {
            kernel_input(&obj, p, btf.clone(), base)
        } else {
            KernelInput::default()
        };
        jobs.push(Job {
            file: file.clone(),
            prog: p.name.clone(),
            prog_type,
            code: Code::from_program(&p.program),
            env,
            kernel,
        });
    }
    Ok((jobs, skipped, notes))
}

/// Verifies one job (and loads it into the kernel with `kernel`): its row.
pub fn measure(job: &Job, kernel: bool) -> Record {
    let mut r = Record::new(&job.file, &job.prog);
    let o = verify(&job.code, &job.env);
    let s = &o.stats;
    let num = |v: u64| Value::Num(i64::try_from(v).unwrap_or(i64::MAX));
    r.set(Col::Verdict, Value::Flag(o.accepted()));
    r.set(Col::Duration, num(s.time_us));
    r.set(Col::Insns, num(s.processed_insns));
    r.set(Col::States, num(s.total_states));
    r.set(Col::PeakStates, num(s.peak_states));
    r.set(Col::MaxStatesPerInsn, num(s.max_states_per_insn));
    r.set(Col::MarkRead, num(s.mark_read));
    r.set(Col::ProgSize, Value::Num(job.code.raw.len() as i64));
    r.set(Col::StackDepth, Value::Num(s.stack_depth));
    r.set(
        Col::ProgType,
        Value::Text(
            uapi::name_of(uapi::PROG_TYPES, job.prog_type)
                .unwrap_or("unknown")
                .to_string(),
        ),
    );
    if let Err(e) = &o.result {
        r.set(Col::Error, Value::Text(e.message.clone()));
    }
    if kernel {
        match kernel::load(job) {
            Ok(k) => {
                let f = &k.figures;
                r.set(Col::KernelVerdict, Value::Flag(k.accepted));
                r.set(Col::Agree, Value::Flag(k.accepted == o.accepted()));
                for (col, v) in [
                    (Col::KernelDuration, f.duration_us),
                    (Col::KernelInsns, f.insns),
                    (Col::KernelStates, f.states),
                    (Col::KernelPeakStates, f.peak_states),
                    (Col::KernelMaxStatesPerInsn, f.max_states_per_insn),
                    (Col::KernelMarkRead, f.mark_read),
                    (Col::KernelStackDepth, f.stack_depth),
                    (Col::VerifiedInsns, k.verified_insns),
                ] {
                    if let Some(v) = v {
                        r.set(col, num(v));
                    }
                }
                if let Some(e) = k.error {
                    r.set(Col::KernelError, Value::Text(e));
                }
            }
            Err(e) => r.set(Col::KernelError, Value::Text(format!("not loaded: {e}"))),
        }
    }
    r
}

/// Loads `files`, verifies every program the filters keep, and returns the rows (unsorted,
/// before stat filters).
pub fn collect(files: &[PathBuf], filters: &Filters, opts: &Options) -> Result<Run, CliError> {
    let mut run = Run::default();
    let kernel = opts.kernel
        && match bpfvet_kernel::available() {
            Ok(()) => true,
            Err(why) => {
                run.kernel_unavailable = Some(why);
                false
            }
        };
    let base = load_options(String::new(), opts.btf.as_deref())?;
    let loaded = parallel_map(
        files,
        opts.threads,
        None,
        |p| p.display().to_string(),
        |p| object_jobs(p, &base, filters, kernel),
    );
    let mut jobs = Vec::new();
    for l in loaded {
        match l {
            Ok((j, skipped, notes)) => {
                run.files_processed += 1;
                run.progs_skipped += skipped;
                run.problems.extend(notes);
                jobs.extend(j);
            }
            Err(why) => {
                run.files_skipped += 1;
                run.problems.push(why);
            }
        }
    }
    let progress = Progress::new(jobs.len(), "programs", opts.progress);
    run.records = parallel_map(
        &jobs,
        opts.threads,
        Some(&progress),
        |j| format!("{}/{}", j.file, j.prog),
        |j| measure(j, kernel),
    );
    Ok(run)
}
