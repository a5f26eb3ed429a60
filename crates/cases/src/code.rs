//! A case's code block to bytecode: llvm-dialect assembly (labels allowed) plus `.raw CODE DST
//! SRC OFF IMM` lines, each one literal 8-byte slot for encodings the assembler refuses to
//! write (unknown opcodes, reserved fields set, broken LD_IMM64s).
//!
//! A `.raw` line is assembled as a one-slot stand-in (a call of a helper id far above any real
//! one), so labels count it as one slot; after encoding its bytes replace the stand-in.

use bpfvet_isa::insn::{CallKind, Imm64Kind, Insn};
use bpfvet_isa::raw::RawInsn;
use bpfvet_isa::{Dialect, Program, asm};

use crate::names::parse_int;

/// Helper ids from here on stand for `.raw` slots.
const STAND_IN_BASE: i32 = 0x7fff_0000;

/// Assembled code.
pub(crate) struct Code {
    pub bytes: Vec<u8>,
    /// `(slot, map index)` for `map_fd(N)` and `map_value(N, OFF)`.
    pub map_refs: Vec<(usize, usize)>,
    /// The program, when every slot decodes.
    pub program: Option<Program>,
    pub has_raw: bool,
    /// Kernel functions named by `kfunc(NAME)`, in order.
    pub kfuncs: Vec<String>,
}

/// Assembles `lines` (file line number, text). An error gives the file line it is about (0 when
/// none) and what is wrong.
pub(crate) fn assemble(lines: &[(usize, String)]) -> Result<Code, (usize, String)> {
    let mut text = String::new();
    let mut raws: Vec<RawInsn> = Vec::new();
    let mut kfuncs = Vec::new();
    let btf = if lines.iter().any(|(_, l)| l.contains("kfunc(")) {
        crate::kfuncs::kernel_btf()
    } else {
        None
    };
    for (line_no, line) in lines {
        let line = crate::kfuncs::substitute(line, btf.as_deref(), &mut kfuncs)
            .map_err(|m| (*line_no, m))?;
        let t = line.trim();
        let word = t.split_whitespace().next().unwrap_or("");
        if word == ".raw" {
            let fields = t[4..].split('#').next().unwrap_or("");
            raws.push(parse_raw(fields).map_err(|m| (*line_no, m))?);
            text.push_str(&format!("call {}\n", STAND_IN_BASE + raws.len() as i32 - 1));
        } else {
            text.push_str(t);
            text.push('\n');
        }
    }
    let insns = asm::assemble(&text, Dialect::Llvm).map_err(|e| {
        let line_no = lines.get(e.line.wrapping_sub(1)).map_or(0, |l| l.0);
        (line_no, format!("code: {e}"))
    })?;
    if insns.is_empty() {
        return Err((lines.first().map_or(0, |l| l.0), "the code is empty".into()));
    }
    let program = Program::from_insns(insns);
    let mut bytes = program.encode();
    let mut map_refs = Vec::new();
    for (pc, insn) in program.iter() {
        match *insn {
            Insn::Call(CallKind::Helper(id)) if id >= STAND_IN_BASE => {
                let raw = raws[(id - STAND_IN_BASE) as usize];
                bytes[pc * 8..pc * 8 + 8].copy_from_slice(&raw.to_bytes());
            }
            Insn::LdImm64 {
                kind: Imm64Kind::MapFd | Imm64Kind::MapValue,
                imm,
                ..
            } => map_refs.push((pc, imm as u32 as usize)),
            _ => {}
        }
    }
    let has_raw = !raws.is_empty();
    let program = if has_raw {
        Program::decode_unchecked(&bytes).ok()
    } else {
        Some(program)
    };
    Ok(Code {
        bytes,
        map_refs,
        program,
        has_raw,
        kfuncs,
    })
}

/// `CODE DST SRC OFF IMM`: five integers (decimal or `0x` hex, negative allowed).
fn parse_raw(rest: &str) -> Result<RawInsn, String> {
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "`.raw` needs 5 fields (CODE DST SRC OFF IMM), found {}",
            fields.len()
        ));
    }
    let num = |i: usize, name: &str, min: i64, max: i64| -> Result<i64, String> {
        let v = parse_int(fields[i])
            .ok_or_else(|| format!("`.raw` {name}: `{}` is not a number", fields[i]))?;
        if v < min || v > max {
            return Err(format!("`.raw` {name}: {v} is outside [{min}, {max}]"));
        }
        Ok(v)
    };
    Ok(RawInsn::new(
        num(0, "CODE", 0, 0xff)? as u8,
        num(1, "DST", 0, 15)? as u8,
        num(2, "SRC", 0, 15)? as u8,
        num(3, "OFF", -0x8000, 0xffff)? as u16 as i16,
        num(4, "IMM", -0x8000_0000, 0xffff_ffff)? as u32 as i32,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[(usize, &str)]) -> Vec<(usize, String)> {
        v.iter().map(|&(n, s)| (n, s.to_string())).collect()
    }

    #[test]
    fn raw_slots_keep_label_arithmetic() {
        let code = assemble(&lines(&[
            (10, "if r1 == 0 goto out"),
            (11, ".raw 0xff 1 2 -3 0x12345678  # unknown opcode"),
            (12, "out:"),
            (13, "r0 = map_fd(2) ll"),
            (14, "exit"),
        ]))
        .unwrap();
        assert_eq!(code.bytes.len(), 5 * 8);
        // The jump skips exactly the raw slot.
        assert_eq!(i16::from_le_bytes([code.bytes[2], code.bytes[3]]), 1);
        assert_eq!(
            &code.bytes[8..16],
            &RawInsn::new(0xff, 1, 2, -3, 0x12345678).to_bytes()
        );
        assert_eq!(code.map_refs, vec![(2, 2)]);
        assert!(code.has_raw);
        assert!(code.program.is_none(), "0xff does not decode");
    }

    #[test]
    fn a_decodable_raw_slot_gives_a_program() {
        let code = assemble(&lines(&[(1, ".raw 0xb7 0 0 0 7"), (2, "exit")])).unwrap();
        let p = code.program.expect("decodes");
        assert_eq!(p.encode(), code.bytes);
    }

    #[test]
    fn errors_name_the_file_line() {
        let (line, msg) = assemble(&lines(&[(7, "r0 = 0"), (8, "r0 = = 1"), (9, "exit")]))
            .err()
            .unwrap();
        assert_eq!(line, 8, "{msg}");
        let (line, msg) = assemble(&lines(&[(3, ".raw 1 2 3")])).err().unwrap();
        assert_eq!(line, 3);
        assert!(msg.contains("5 fields"), "{msg}");
        let (_, msg) = assemble(&lines(&[(3, ".raw 0x100 0 0 0 0")]))
            .err()
            .unwrap();
        assert!(msg.contains("outside"), "{msg}");
        let (_, msg) = assemble(&lines(&[(3, "# nothing")])).err().unwrap();
        assert!(msg.contains("empty"), "{msg}");
    }
}
