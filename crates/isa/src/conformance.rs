//! The BPF conformance suite's `.data` format: sections introduced by `-- name` lines
//! (`asm`, `raw`, `mem`, `result`, `error`, `c`, `no register offset`); `#` starts a comment.
//! This module reads a case and produces its program bytes; running it is the VM's job.
//! (Used by `bpfvet conformance` and by the VM's own conformance test.)

use crate::{Dialect, Program, asm};

/// One conformance case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Case {
    /// The program in the ubpf dialect.
    pub asm: Option<String>,
    /// The program as bytes.
    pub raw: Option<Vec<u8>>,
    /// Input memory (R1 points at it, R2 holds its length).
    pub mem: Vec<u8>,
    /// Expected R0.
    pub result: Option<u64>,
    /// `Some` when the program must be refused or fail; the text is informative.
    pub error: Option<String>,
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix("0x") {
            // one 64-bit instruction as a little-endian u64
            let v = u64::from_str_radix(h, 16).map_err(|_| format!("bad raw line `{line}`"))?;
            out.extend_from_slice(&v.to_le_bytes());
            continue;
        }
        for b in line.split_whitespace() {
            out.push(u8::from_str_radix(b, 16).map_err(|_| format!("bad hex byte `{b}`"))?);
        }
    }
    Ok(out)
}

/// Parses a `.data` file.
pub fn parse(text: &str) -> Result<Case, String> {
    let mut case = Case::default();
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("-- ") {
            sections.push((name.trim().to_string(), String::new()));
        } else if line.trim() == "--" {
            sections.push((String::new(), String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    for (name, body) in sections {
        match name.as_str() {
            "asm" => case.asm = Some(body),
            "raw" => case.raw = Some(hex_bytes(&body)?),
            "mem" => case.mem = hex_bytes(&body)?,
            "result" => {
                let t = body
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim())
                    .find(|l| !l.is_empty())
                    .ok_or("empty result section")?;
                let v = match t.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => t.parse::<u64>(),
                }
                .map_err(|_| format!("bad result `{t}`"))?;
                case.result = Some(v);
            }
            "error" => case.error = Some(body.trim().to_string()),
            _ => {}
        }
    }
    Ok(case)
}

impl Case {
    /// The program's bytecode: the raw section if present, else the assembled asm section.
    /// Either must decode as a valid program. Errors say why the program is refused.
    pub fn program_bytes(&self) -> Result<Vec<u8>, String> {
        let bytes = match (&self.raw, &self.asm) {
            (Some(raw), _) => raw.clone(),
            (None, Some(text)) => {
                let insns = asm::assemble(text, Dialect::Ubpf).map_err(|e| format!("line {e}"))?;
                Program::from_insns(insns).encode()
            }
            (None, None) => return Err("no program: the file has neither asm nor raw".into()),
        };
        Program::decode(&bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    /// The decoded program.
    pub fn program(&self) -> Result<Program, String> {
        Program::decode(&self.program_bytes()?).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_both_raw_forms() {
        let c = parse(
            "# comment\n-- asm\nmov %r0, 1\nexit\n-- raw\n0x00000001000000b7\n95 00 00 00 00 00 00 00\n-- mem\naa bb\ncc\n-- result\n0x1\n",
        )
        .unwrap();
        assert_eq!(c.mem, vec![0xaa, 0xbb, 0xcc]);
        assert_eq!(c.result, Some(1));
        let raw = c.raw.clone().unwrap();
        assert_eq!(raw.len(), 16);
        assert_eq!(raw[0], 0xb7);
        assert_eq!(raw[4], 1);
        let asm_only = Case {
            raw: None,
            ..c.clone()
        };
        assert_eq!(asm_only.program_bytes().unwrap(), raw);
    }

    #[test]
    fn empty_error_section_means_refused() {
        let c =
            parse("-- raw\n85 00 01 00 00 00 00 00\n95 00 00 00 00 00 00 00\n-- error\n").unwrap();
        assert_eq!(c.error.as_deref(), Some(""));
        assert!(c.program_bytes().unwrap_err().contains("off"));
    }
}
