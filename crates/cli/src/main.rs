//! `bpfvet`: check, run and inspect BPF programs offline.

use std::process::ExitCode;

use bpfvet_cli::commands;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bpfvet",
    version,
    about = "Decode, verify and run BPF programs in user space",
    long_about = "bpfvet does in user space what the Linux kernel does when a BPF program is \
                  loaded: decode it, verify it, and run it.\n\nInputs are ELF objects built by \
                  clang, raw little-endian bytecode (--raw, or any file that is not ELF), or \
                  assembly text (.s/.asm files, or --asm)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble text into raw bytecode or a relocatable ELF object
    #[command(
        after_help = "Example:\n  bpfvet asm prog.s -o prog.o --format elf\n  \
                            bpfvet asm --dialect ubpf prog.asm -o prog.bin"
    )]
    Asm(commands::asm::AsmArgs),
    /// Disassemble an ELF object or raw bytecode
    #[command(after_help = "Example:\n  bpfvet disasm prog.o\n  \
                            bpfvet disasm --raw --dialect ubpf prog.bin")]
    Disasm(commands::disasm::DisasmArgs),
    /// Verify programs as the kernel's verifier would (exit 1 if any is rejected)
    #[command(after_help = "Example:\n  bpfvet verify prog.o\n  \
                            bpfvet verify prog.o --prog xdp_main --log-level 1\n  \
                            bpfvet verify prog.s --type xdp --json")]
    Verify(commands::verify::VerifyArgs),
    /// List an object's programs (type, attach target, size) and maps
    #[command(after_help = "Example:\n  bpfvet inspect prog.o\n  bpfvet inspect prog.o --json")]
    Inspect(commands::inspect::InspectArgs),
    /// Run a program on the interpreter: on plain memory (R1 = input, R2 = its length), on a
    /// context as BPF_PROG_TEST_RUN builds it, or over every packet of a pcap capture
    #[command(
        after_help = "Example:\n  bpfvet run --dialect ubpf prog.asm --mem 'aa bb 11 22'\n  \
                            bpfvet run prog.bin --raw --mem-file input.bin --repeat 100000\n  \
                            bpfvet run fw.o --prog xdp_fw --pcap in.pcap --out out.pcap --dump-maps\n  \
                            bpfvet run tc.o --type sched_cls --data-in frame.bin --json\n  \
                            bpfvet run fw.o --map blocked=rules.json --data-in frame.bin"
    )]
    Run(Box<commands::run::RunArgs>),
    /// Run the BPF conformance suite's .data files on the interpreter
    #[command(after_help = "Example:\n  bpfvet conformance ../shared/conformance/tests")]
    Conformance(commands::conformance::ConformanceArgs),
    /// Compile a program with the JIT; --dump prints the x86-64 under each BPF instruction
    #[command(after_help = "Example:\n  bpfvet jit prog.s --dump\n  \
                            bpfvet jit --raw prog.bin --dump --unchecked")]
    Jit(commands::jit::JitArgs),
    /// Verifier statistics per program, veristat-compatible (-C compares two CSV runs)
    #[command(after_help = "Example:\n  bpfvet stats fixtures/*.o --kernel\n  \
                            bpfvet stats -o csv a.o > a.csv; bpfvet stats -C a.csv b.csv\n  \
                            bpfvet stats x.o -e prog,insns,states -s insns -f 'insns>1000'")]
    Stats(commands::stats::StatsArgs),
}

fn main() -> ExitCode {
    // A closed pipe (`bpfvet ... | head`) ends the program quietly, as SIGPIPE would.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Asm(a) => commands::asm::run(&a),
        Command::Disasm(a) => commands::disasm::run(&a),
        Command::Inspect(a) => commands::inspect::run(&a),
        Command::Verify(a) => commands::verify::run(&a),
        Command::Run(a) => commands::run::run(&a),
        Command::Conformance(a) => commands::conformance::run(&a),
        Command::Jit(a) => commands::jit::run(&a),
        Command::Stats(a) => commands::stats::run(&a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("bpfvet: {e}");
            ExitCode::from(e.code as u8)
        }
    }
}
