//! `bpfvet stats`: verifier statistics per program, compatible with the kernel's `veristat`
//! (same column names, `-e`/`-s`/`-f` spec syntax, CSV layout, comparison and replay modes).
//!
//! * `bpfvet stats A.o B.o ...` verifies every program of the objects in parallel and prints a
//!   table (or `-o csv`/`-o json`); `--kernel` adds the running kernel's own figures.
//! * `bpfvet stats -C A.csv B.csv` compares two CSV runs (A, B, DIFF and %).
//! * `bpfvet stats -R A.csv` prints a CSV run again, filtered and sorted.
//!
//! Modules: [`columns`] (the column table and specs), [`filter`], [`collect`] (loading and the
//! parallel run), [`kernel`] and [`kernel_btf`] (the live kernel's figures), [`output`]
//! (table, CSV, JSON), [`compare`], [`progress`].

pub mod collect;
pub mod columns;
pub mod compare;
pub mod filter;
pub mod kernel;
pub mod kernel_btf;
pub mod output;
pub mod progress;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::error::CliError;
use columns::{Col, DEFAULT_TABLE, DEFAULT_TABLE_KERNEL, Record, Spec, parse_specs};
use filter::Filters;

/// Output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug, Default)]
pub struct StatsArgs {
    /// ELF objects (or, with -C, two CSV files; with -R, one)
    pub files: Vec<PathBuf>,
    /// Output format
    #[arg(short = 'o', long = "output-format", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Columns to print, comma-separated (file_name, prog_name, verdict, duration,
    /// total_insns, total_states, peak_states, max_states_per_insn, mark_read, prog_size,
    /// stack_depth, prog_type, error, kernel_verdict, kernel_insns, kernel_states, ...)
    #[arg(short = 'e', long = "emit", value_name = "SPEC")]
    pub emit: Vec<String>,
    /// Sort order, comma-separated column names; suffix ^ ascending, v descending; in
    /// comparison mode _a, _b, _diff or _pct picks the value, |name| sorts by absolute value
    #[arg(short = 's', long = "sort", value_name = "SPEC")]
    pub sort: Vec<String>,
    /// Filters: GLOB, FILE_GLOB/PROG_GLOB, or STAT OP VALUE (e.g. insns>1000,
    /// verdict=failure); !FILTER denies; @FILE reads one filter per line
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Print at most N rows
    #[arg(short = 'n', long = "top-n", value_name = "N")]
    pub top_n: Option<usize>,
    /// Comparison mode: compare two CSV files written by `stats -o csv` (or veristat)
    #[arg(short = 'C', long = "compare", conflicts_with_all = ["replay", "kernel"])]
    pub compare: bool,
    /// Replay mode: print one CSV file again with the given columns, filters and order
    #[arg(short = 'R', long = "replay", conflicts_with = "kernel")]
    pub replay: bool,
    /// Also load each program into the running kernel and show its figures beside ours
    /// (skipped with a message where bpf() does not work)
    #[arg(long)]
    pub kernel: bool,
    /// Worker threads (default: one per core)
    #[arg(short = 'j', long = "jobs", default_value_t = 0)]
    pub jobs: usize,
    /// Target BTF for CO-RE relocations (default: /sys/kernel/btf/vmlinux when present)
    #[arg(long)]
    pub btf: Option<PathBuf>,
    /// No progress bar and no closing summary line
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("stats: {e}"))
}

/// The columns to print: the `-e` list, or the defaults among those `available`.
fn output_columns(
    emit: &[Spec],
    format: Format,
    kernel: bool,
    available: Option<&[Col]>,
) -> Result<Vec<Col>, CliError> {
    if !emit.is_empty() {
        let cols: Vec<Col> = emit.iter().map(|s| s.col).collect();
        if let Some(av) = available
            && let Some(c) = cols.iter().find(|c| !av.contains(c))
        {
            return Err(usage(format!(
                "column {} is not in the CSV input",
                c.csv_name()
            )));
        }
        return Ok(cols);
    }
    let defaults: Vec<Col> = match (format, available) {
        (Format::Table, _) => DEFAULT_TABLE
            .iter()
            .chain(if kernel { DEFAULT_TABLE_KERNEL } else { &[] })
            .copied()
            .collect(),
        (_, Some(av)) => av.to_vec(),
        (_, None) => columns::default_csv(kernel),
    };
    Ok(match available {
        Some(av) => defaults.into_iter().filter(|c| av.contains(c)).collect(),
        None => defaults,
    })
}

fn default_sort(specs: Vec<Spec>) -> Result<Vec<Spec>, CliError> {
    if specs.is_empty() {
        return parse_specs(&["file_name,prog_name".to_string()]).map_err(usage);
    }
    Ok(specs)
}

fn print_records(rows: &[Record], cols: &[Col], format: Format) -> Result<(), CliError> {
    match format {
        Format::Table => print!("{}", output::records_table(rows, cols)),
        Format::Csv => print!("{}", output::records_csv(rows, cols)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&output::records_json(rows, cols))
                .map_err(|e| CliError::usage(e.to_string()))?
        ),
    }
    Ok(())
}

/// Keeps the rows the stat filters allow, then the first `top_n`.
fn select(
    mut rows: Vec<Record>,
    filters: &Filters,
    sort: &[Spec],
    top: Option<usize>,
) -> Vec<Record> {
    rows.retain(|r| filters.keep_stats(|c, _| r.num(c).map(|n| n as f64)));
    output::sort_records(&mut rows, sort);
    if let Some(n) = top {
        rows.truncate(n);
    }
    rows
}

pub fn run(a: &StatsArgs) -> Result<u8, CliError> {
    let emit = parse_specs(&a.emit).map_err(usage)?;
    let sort = default_sort(parse_specs(&a.sort).map_err(usage)?)?;
    let mut filters = Filters::default();
    for f in &a.filter {
        filters.add(f).map_err(usage)?;
    }
    if a.compare {
        return run_compare(a, &emit, &sort, &filters);
    }
    if a.replay {
        let [file] = a.files.as_slice() else {
            return Err(usage("replay mode (-R) takes exactly one CSV file"));
        };
        let (cols, rows) = output::read_csv(file).map_err(CliError::usage)?;
        let rows: Vec<Record> = rows
            .into_iter()
            .filter(|r| filters.keep_name(r.file(), r.prog()))
            .collect();
        let rows = select(rows, &filters, &sort, a.top_n);
        let kernel = cols.iter().any(|c| c.def().kernel);
        let cols = output_columns(&emit, a.format, kernel, Some(&cols))?;
        print_records(&rows, &cols, a.format)?;
        return Ok(0);
    }
    if a.files.is_empty() {
        return Err(usage("no object files given (see bpfvet stats --help)"));
    }
    let run = collect::collect(
        &a.files,
        &filters,
        &collect::Options {
            kernel: a.kernel,
            threads: a.jobs,
            btf: a.btf.clone(),
            progress: !a.quiet,
        },
    )?;
    if let Some(why) = &run.kernel_unavailable {
        eprintln!("bpfvet: stats --kernel: the kernel's figures are skipped: {why}");
    }
    for p in &run.problems {
        eprintln!("bpfvet: {p}");
    }
    let kernel = a.kernel && run.kernel_unavailable.is_none();
    let programs = run.records.len();
    let rows = select(run.records, &filters, &sort, a.top_n);
    let cols = output_columns(&emit, a.format, kernel, None)?;
    print_records(&rows, &cols, a.format)?;
    if a.format == Format::Table && !a.quiet {
        println!(
            "Done. Processed {} files, {programs} programs. Skipped {} files, {} programs.",
            run.files_processed, run.files_skipped, run.progs_skipped
        );
    }
    Ok(if run.files_skipped > 0 { 2 } else { 0 })
}

fn run_compare(
    a: &StatsArgs,
    emit: &[Spec],
    sort: &[Spec],
    filters: &Filters,
) -> Result<u8, CliError> {
    let [fa, fb] = a.files.as_slice() else {
        return Err(usage("comparison mode (-C) takes exactly two CSV files"));
    };
    let (ca, ra) = output::read_csv(fa).map_err(CliError::usage)?;
    let (cb, rb) = output::read_csv(fb).map_err(CliError::usage)?;
    let common: Vec<Col> = ca.iter().filter(|c| cb.contains(c)).copied().collect();
    let kernel = common.iter().any(|c| c.def().kernel);
    let cols = output_columns(emit, a.format, kernel, Some(&common))?;
    let mut rows = compare::filter_joined(compare::join(ra, rb), filters);
    compare::sort_joined(&mut rows, sort);
    if let Some(n) = a.top_n {
        rows.truncate(n);
    }
    match a.format {
        Format::Table => print!("{}", compare::joined_table(&rows, &cols)),
        Format::Csv => print!("{}", compare::joined_csv(&rows, &cols)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&compare::joined_json(&rows, &cols))
                .map_err(|e| CliError::usage(e.to_string()))?
        ),
    }
    Ok(0)
}
