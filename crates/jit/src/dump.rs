//! A listing of generated code: the x86-64 of each BPF instruction under that instruction,
//! between the entry function and the out-of-line code.

use std::fmt::Write;

use bpfvet_isa::{Dialect, disasm};

use crate::backend::{AsmLine, Backend};
use crate::program::JitProgram;

/// Formats one line of machine code.
fn line(out: &mut String, l: &AsmLine) {
    let hex: Vec<String> = l.bytes.iter().map(|b| format!("{b:02x}")).collect();
    let _ = writeln!(out, "  {:05x}  {:<30} {}", l.offset, hex.join(" "), l.text);
}

/// The listing of `prog`'s code, decoded with `B`'s disassembler.
pub(crate) fn listing<B: Backend>(prog: &JitProgram) -> String {
    let l = prog.lowered();
    let m = prog.machine();
    let lines = B::disassemble(&m.bytes, 0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; {} BPF instructions, {} bytes of {} code ({})",
        l.len(),
        m.bytes.len(),
        B::NAME,
        if prog.is_checked() {
            "checked"
        } else {
            "unchecked"
        }
    );
    let mut next = 0;
    // (start offset, heading) of each section, in address order.
    let mut sections: Vec<(usize, String)> = vec![(m.entry, "entry".to_string())];
    for (i, insn) in l.insns.iter().enumerate() {
        let text = disasm::format_insn(insn, Dialect::Llvm);
        sections.push((m.insn_offsets[i], format!("{}: {text}", l.pcs[i])));
    }
    sections.push((
        m.insn_offsets[l.len()],
        "end of program: control fell off".into(),
    ));
    sections.push((m.out_of_line, "out-of-line code".into()));
    sections.sort_by_key(|(o, _)| *o);
    for (k, (start, heading)) in sections.iter().enumerate() {
        let end = sections.get(k + 1).map_or(usize::MAX, |s| s.0);
        let _ = writeln!(out, "; {heading}");
        while next < lines.len() && lines[next].offset < end {
            if lines[next].offset >= *start {
                line(&mut out, &lines[next]);
            }
            next += 1;
        }
    }
    out
}
