//! `bpfvet-cases`: the data-driven verifier corpus. Each `data/*.case` file holds many cases:
//!
//! ```text
//! # comment
//! case stack store below the frame
//! type socket_filter              # kernel program type name (default socket_filter)
//! attach cgroup_inet_egress       # optional expected_attach_type (uapi::ATTACH_TYPES name)
//! flags strict_alignment          # optional BPF_F_* program flags: names joined by `|`, or a number
//! map 0 hash key=4 value=8 max=16 # maps by index, in order: type name, sizes, options
//! reject                          # or: accept
//! error invalid write to stack R10 off=-520 size=8
//! errno EACCES                    # optional: the errno of the refusal
//! log some earlier message line   # optional, repeatable: lines the log holds, in this order
//! code
//!     r0 = 0
//!     *(u64 *)(r10 - 520) = r0
//!     exit
//! ```
//!
//! **Header lines.** `#` starts a comment, except in `error`, `log` and `differs` (helper names
//! print as `name#id`). `case NAME` at column 0 starts a case; names are unique within a file.
//!
//! - `type NAME`: the program type (`bpfvet_isa::uapi::PROG_TYPES`), default `socket_filter`.
//! - `attach NAME`: the `expected_attach_type` (`uapi::ATTACH_TYPES`).
//! - `flags A|B`: program flags by name (see [`names::PROG_FLAGS`], e.g. `strict_alignment`,
//!   `sleepable`) or a number.
//! - `map N TYPE [key=K] [value=V] [max=M] [flags=F] [inner=I] [freeze]`: map N (0, 1, ... in
//!   order); sizes default to a 4-byte key, an 8-byte value and 1 entry; `flags=` takes names
//!   joined by `|` ([`names::MAP_FLAGS`], e.g. `rdonly_prog`) or a number; `inner=I` makes a
//!   map-in-map whose inner template is the earlier map I; `freeze` freezes the map
//!   (`BPF_MAP_FREEZE`) after creating it.
//! - `license TEXT`: default `GPL`.
//! - `accept` / `reject`: the kernel's verdict.
//! - `error LINE`: the kernel's message line (below); implies `reject`.
//! - `errno NAME`: the errno of the refusal (`EACCES`, `EINVAL`, `E2BIG`, ...; see
//!   [`names::ERRNOS`]); implies `reject`, may be combined with `error`. A case the kernel
//!   refuses before the verifier runs (empty log) gives only `errno`.
//! - `log LINE` (repeatable): message lines (see [`message_lines`]) that must appear in the
//!   log, in the given order — for the lines before the last, e.g. `invalid access to map
//!   value, ...` before `R1 min value is outside of the allowed memory range`.
//! - `retval N` (accepted cases): R0 after one `BPF_PROG_TEST_RUN`.
//! - `data HEX` (accepted cases): the input packet of that run (blanks between digits are
//!   allowed); default 64 zero bytes.
//! - `differs REASON`: bpfvet knowingly decides otherwise (the reason is reported).
//! - `code`: every following line up to the next `case` is code.
//!
//! **Code** is the llvm assembly dialect of `bpfvet_isa::asm` (labels allowed). `r1 =
//! map_fd(N) ll` / `map_value(N, OFF)` name the case's map N (the harness substitutes real
//! fds for the kernel). `.raw CODE DST SRC OFF IMM` writes one literal 8-byte slot (numbers in
//! decimal or `0x` hex) for encodings the assembler refuses, such as unknown opcodes or
//! reserved fields; a case with such slots is loaded from [`Case::bytes`]. `call
//! kfunc(NAME)` calls a kernel function by name: the harness puts its BTF id in the running
//! kernel's BTF into the call (cases naming kfuncs are skipped when that BTF is missing).
//!
//! **The message line** (`error`) is the last line of the kernel's level-1 log that is not a
//! statistics line (`processed`, `verification time`, `stack depth`) or a state dump (`cur
//! state:`, `old state:`); a message logged without its newline has the statistics glued on,
//! and that tail is cut off.
//!
//! [`kernel_verdict`] loads a case into the running kernel (see `bpfvet-kernel`) and test-runs
//! it when it gives `retval`; [`disagreements`] compares any [`Verdict`] with a case.

mod case;
mod code;
pub mod funcs;
mod kfuncs;
pub mod names;
mod parse;
mod verdict;

use std::path::{Path, PathBuf};

pub use case::{Case, CaseError, Expect, MapDef};
pub use kfuncs::{VMLINUX, kernel_btf};
pub use parse::parse;
pub use verdict::{
    KernelVerdict, Verdict, disagreements, error_line, kernel_verdict, message_lines,
};

/// The corpus directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Every case of every data file, files in name order, cases in file order.
pub fn all_cases() -> Result<Vec<Case>, CaseError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .map_err(|e| CaseError(format!("{}: {e}", data_dir().display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| CaseError(format!("{}: {e}", f.display())))?;
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        out.extend(parse(&name, &text)?);
    }
    Ok(out)
}
