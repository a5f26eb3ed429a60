//! `bpfvet conformance DIR...`: runs every `.data` file of the BPF conformance suite on the
//! interpreter (or the checked JIT with `--jit`), prints a line per failing file and
//! `N passed, M failed`.

use std::path::{Path, PathBuf};

use bpfvet_jit::{Engine, EngineKind};
use clap::Args;

use crate::error::CliError;
use bpfvet_isa::conformance::{self, Case};

#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// Directories (or single files) of .data files
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Run on the checked JIT instead of the interpreter
    #[arg(long)]
    pub jit: bool,
}

/// Why a case failed on the interpreter, or `None` if it passed.
pub fn check(case: &Case) -> Option<String> {
    check_on(case, EngineKind::Interpreter)
}

/// Why a case failed on engine `kind`, or `None` if it passed.
pub fn check_on(case: &Case, kind: EngineKind) -> Option<String> {
    let outcome = case.program().and_then(|p| {
        let mut vm = Engine::new(&p, kind).map_err(|e| e.to_string())?;
        vm.register_conformance_helpers();
        let mut mem = case.mem.clone();
        vm.run(&mut mem).map_err(|e| e.to_string())
    });
    match (&case.error, case.result, outcome) {
        (Some(_), _, Err(_)) => None,
        (Some(_), _, Ok(v)) => Some(format!("expected a failure, got {v:#x}")),
        (None, Some(want), Ok(got)) if got == want => None,
        (None, Some(want), Ok(got)) => Some(format!("expected {want:#x}, got {got:#x}")),
        (None, _, Err(e)) => Some(e),
        (None, None, Ok(_)) => Some("the file states neither a result nor an error".into()),
    }
}

fn data_files(p: &Path) -> Result<Vec<PathBuf>, CliError> {
    if p.is_file() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(|e| CliError::io(p, &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("data"))
        .collect();
    v.sort();
    Ok(v)
}

pub fn run(a: &ConformanceArgs) -> Result<u8, CliError> {
    let kind = if a.jit {
        EngineKind::Jit
    } else {
        EngineKind::Interpreter
    };
    if a.jit && !bpfvet_jit::available() {
        return Err(CliError::usage(format!(
            "--jit: the JIT is not available on {} hosts",
            std::env::consts::ARCH
        )));
    }
    let (mut passed, mut failed) = (0, 0);
    for dir in &a.paths {
        for f in data_files(dir)? {
            let text = std::fs::read_to_string(&f).map_err(|e| CliError::io(&f, &e))?;
            let why = match conformance::parse(&text) {
                Ok(case) => check_on(&case, kind),
                Err(e) => Some(format!("cannot parse: {e}")),
            };
            match why {
                None => passed += 1,
                Some(why) => {
                    failed += 1;
                    println!("FAIL {}: {why}", f.display());
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 { 0 } else { 1 })
}
