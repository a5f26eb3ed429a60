//! `bpfvet jit FILE`: compiles a program with the JIT and reports its size; `--dump` prints
//! the generated x86-64 under each BPF instruction.

use clap::Args;

use crate::InputArgs;
use crate::commands::run::engine;
use crate::error::CliError;
use crate::input::read_input;

#[derive(Args, Debug)]
pub struct JitArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Section to compile when the input has several (default: the first)
    #[arg(long)]
    pub section: Option<String>,
    /// Print the generated code, each BPF instruction followed by its x86-64
    #[arg(long)]
    pub dump: bool,
    /// Compile without bounds checks (the code `run --jit --unchecked` runs)
    #[arg(long)]
    pub unchecked: bool,
}

pub fn run(a: &JitArgs) -> Result<u8, CliError> {
    let input = read_input(&a.input.file, a.input.opts())?;
    let unit = match &a.section {
        Some(s) => input
            .units
            .iter()
            .find(|u| u.section == *s)
            .ok_or_else(|| CliError::input(&a.input.file, format!("no section `{s}`")))?,
        None => &input.units[0],
    };
    let engine = engine(&unit.program, true, a.unchecked, &a.input.file)?;
    let Some(prog) = engine.jit() else {
        return Err(CliError::failed(&a.input.file, "the JIT did not compile"));
    };
    if a.dump {
        print!("{}", prog.dump());
    } else {
        println!(
            "{}: {} BPF instructions -> {} bytes of x86-64 ({})",
            unit.section,
            unit.program.len(),
            prog.code_size(),
            if prog.is_checked() {
                "checked"
            } else {
                "unchecked"
            }
        );
    }
    Ok(0)
}
