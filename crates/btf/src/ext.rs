//! Parsing `.BTF.ext`: per-section function info (which BTF FUNC starts at which
//! instruction), line info (which source file, line and column each instruction came from,
//! with the line's text), and CO-RE relocation records. Offsets in the records are byte
//! offsets into the ELF section, as clang writes them.

use std::collections::BTreeMap;

use crate::parse::read_u32;
use crate::types::TypeId;
use crate::{Btf, BtfError};

/// A function starting at an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset in the section.
    pub insn_off: u32,
    pub type_id: TypeId,
}

/// The source position of an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset in the section.
    pub insn_off: u32,
    pub file: String,
    /// The source line's text.
    pub text: String,
    pub line: u32,
    pub col: u32,
}

/// A CO-RE relocation record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset in the section of the instruction to patch.
    pub insn_off: u32,
    /// The local (program's) type the access string starts from.
    pub type_id: TypeId,
    /// `0:1:2`-style access string.
    pub access: String,
    /// Relocation kind (`bpf_core_relo_kind`, 0..=12).
    pub kind: u32,
}

/// Parsed `.BTF.ext`, by section name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfExt {
    pub func_info: BTreeMap<String, Vec<FuncInfo>>,
    pub line_info: BTreeMap<String, Vec<LineInfo>>,
    pub core_relos: BTreeMap<String, Vec<CoreRelo>>,
}

impl BtfExt {
    /// Parses `.BTF.ext` bytes; strings and type ids refer to `btf`.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfError> {
        let err = |m: String| BtfError::new(format!(".BTF.ext: {m}"));
        if data.len() < 24 {
            return Err(err(format!(
                "{} bytes is shorter than the header",
                data.len()
            )));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic != crate::parse::MAGIC {
            return Err(err(format!("bad magic {magic:#06x}")));
        }
        let hdr_len = read_u32(data, 4).unwrap_or(0) as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(err(format!("bad header length {hdr_len}")));
        }
        let field = |at: usize| -> u32 {
            if at + 4 <= hdr_len {
                read_u32(data, at).unwrap_or(0)
            } else {
                0
            }
        };
        let body = &data[hdr_len..];
        let sub = |off: u32, len: u32, what: &str| -> Result<&[u8], BtfError> {
            let (off, len) = (off as usize, len as usize);
            off.checked_add(len)
                .filter(|&e| e <= body.len())
                .map(|e| &body[off..e])
                .ok_or_else(|| {
                    err(format!(
                        "{what} subsection (offset {off}, {len} bytes) runs past the end"
                    ))
                })
        };
        let mut ext = BtfExt::default();
        let fi = sub(field(8), field(12), "func_info")?;
        for (sec, recs) in records(fi, 8, "func_info", btf)? {
            let v = recs
                .iter()
                .map(|r| FuncInfo {
                    insn_off: rd(r, 0),
                    type_id: TypeId(rd(r, 4)),
                })
                .collect::<Vec<_>>();
            for f in &v {
                if f.type_id.0 as usize >= btf.len() {
                    return Err(err(format!(
                        "func_info of section {sec} names type {} (BTF has {} types)",
                        f.type_id.0,
                        btf.len()
                    )));
                }
            }
            ext.func_info.insert(sec, v);
        }
        let li = sub(field(16), field(20), "line_info")?;
        for (sec, recs) in records(li, 16, "line_info", btf)? {
            let mut v = Vec::with_capacity(recs.len());
            for r in recs {
                let file = btf
                    .string_at(rd(r, 4))
                    .map_err(|e| err(format!("line_info of section {sec}: file name: {e}")))?;
                let text = btf
                    .string_at(rd(r, 8))
                    .map_err(|e| err(format!("line_info of section {sec}: line text: {e}")))?;
                let lc = rd(r, 12);
                v.push(LineInfo {
                    insn_off: rd(r, 0),
                    file,
                    text,
                    line: lc >> 10,
                    col: lc & 0x3ff,
                });
            }
            ext.line_info.insert(sec, v);
        }
        if hdr_len >= 32 {
            let cr = sub(field(24), field(28), "core_relo")?;
            for (sec, recs) in records(cr, 16, "core_relo", btf)? {
                let mut v = Vec::with_capacity(recs.len());
                for r in recs {
                    let access = btf
                        .string_at(rd(r, 8))
                        .map_err(|e| err(format!("core_relo of section {sec}: {e}")))?;
                    let rel = CoreRelo {
                        insn_off: rd(r, 0),
                        type_id: TypeId(rd(r, 4)),
                        access,
                        kind: rd(r, 12),
                    };
                    if rel.type_id.0 as usize >= btf.len() {
                        return Err(err(format!(
                            "core_relo of section {sec} names type {} (BTF has {} types)",
                            rel.type_id.0,
                            btf.len()
                        )));
                    }
                    v.push(rel);
                }
                ext.core_relos.insert(sec, v);
            }
        }
        Ok(ext)
    }

    /// The line info covering instruction `pc` of section `sec` (the last record at or
    /// before it).
    pub fn line_at(&self, sec: &str, pc: usize) -> Option<&LineInfo> {
        let v = self.line_info.get(sec)?;
        let off = (pc as u64 * 8).min(u64::from(u32::MAX)) as u32;
        let i = v.partition_point(|l| l.insn_off <= off);
        if i == 0 { None } else { v.get(i - 1) }
    }
}

fn rd(r: &[u8], at: usize) -> u32 {
    read_u32(r, at).unwrap_or(0)
}

/// The records of one info subsection, by section name: `record_size`, then blocks of
/// (section name offset, count, records). Records larger than `min` keep their prefix.
/// Records of one subsection, grouped by section name.
type Records<'a> = Vec<(String, Vec<&'a [u8]>)>;

fn records<'a>(data: &'a [u8], min: usize, what: &str, btf: &Btf) -> Result<Records<'a>, BtfError> {
    let err = |m: String| BtfError::new(format!(".BTF.ext: {what}: {m}"));
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let rec = read_u32(data, 0).ok_or_else(|| err("truncated record size".into()))? as usize;
    if rec < min || !rec.is_multiple_of(4) {
        return Err(err(format!(
            "record size {rec} (at least {min}, a multiple of 4)"
        )));
    }
    let mut out = Vec::new();
    let mut at = 4;
    while at < data.len() {
        let name_off = read_u32(data, at).ok_or_else(|| err(format!("truncated at {at}")))?;
        let n = read_u32(data, at + 4).ok_or_else(|| err(format!("truncated at {at}")))? as usize;
        at += 8;
        let sec = btf
            .string_at(name_off)
            .map_err(|e| err(format!("section name: {e}")))?;
        let bytes = n
            .checked_mul(rec)
            .filter(|&b| at + b <= data.len())
            .ok_or_else(|| {
                err(format!(
                    "section {sec}: {n} records of {rec} bytes run past the end"
                ))
            })?;
        let recs = (0..n)
            .map(|i| &data[at + i * rec..at + (i + 1) * rec])
            .collect();
        at += bytes;
        out.push((sec, recs));
    }
    Ok(out)
}
